# mvm — a virtual machine monitor on KVM.
#
#   make deps          install the build and test dependencies (Debian 12; sudo when not root)
#   make               build mvm, libmvm and the guest test kit      (build/)
#   make demo          build, then boot the hello guest
#   make check         unit, integration and fault-injection tests; the API after boot
#                      on mvm-fakekvm, a test double of KVM (make check-fakekvm)
#   make check SAN=1   the same, built with ASan + UBSan            (build-san/)
#   make check-linux   slow tier: boot real Linux (builds a test kernel once, ~6 min)
#   make bench         benchmarks (print figures; assert nothing)
#   make bench-startup tiny-guest start-up/teardown and life cycles/s vs the floor and QEMU
#   make bench-linux   Linux boot time, mvm against qemu -M microvm
#   make bench-snapshot restore latency, clone rate, memory per clone vs a cold boot (KVM)
#   make bench-vsock   virtio-vsock's host-side path (fake KVM, no /dev/kvm) vs a socket pair
#   make bench-vfio    vfio-user: BAR latency trapped vs mapped, DMA-copy throughput (fake KVM)
#   make check-vfio    vfio-user end to end from a test guest (needs KVM)
#   make bench-blk     virtio-blk from a test guest vs fio on the host and QEMU (needs
#                      fio; also part of make bench, which says so when fio is missing)
#   make fuzz-virtio   libFuzzer harnesses of the virtqueue walker, the blk parser, the
#                      virtio-pci and virtio-mmio transports, virtio-vsock's TX path,
#                      virtio-net's frame paths, the MMDS's HTTP handling, and the
#                      balloon, pmem and virtio-mem request parsers, the snapshot
#                      state file reader, a snapshot's working-set list decoder, the
#                      vfio-user codec
#                      (clang; FUZZ_TIME seconds each, default 30)
#   make check-snapshot-mem  lazy snapshot memory on real userfaultfd, no KVM (part of check)
#   make bench-uffd    touching 128 MiB restored lazily: anonymous, File, prefetch, Uffd
#   make format        clang-format the sources
#   make check-style   clang-format clean, no issue references in comments (part of check)

SAN ?= 0
ifeq ($(SAN),1)
BUILD ?= build-san
SANFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
else
BUILD ?= build
SANFLAGS :=
endif

CC ?= gcc
ARCH := x86
CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	  -Wno-unused-parameter -Wno-format-truncation -D_GNU_SOURCE -pthread -MMD -MP $(SANFLAGS)
# include/: libmvm's public headers, what the front ends (src/cli/) use;
# src/include/: libmvm's internal ones (devices, buses, the arch interface).
PUBLIC_INCLUDES := -Iinclude -Isrc/arch/$(ARCH)/include
INCLUDES := -Iinclude -Isrc/include -Isrc -Isrc/arch/$(ARCH)/include
LDFLAGS += -pthread $(SANFLAGS)
LDLIBS := -luring -lseccomp -ljansson # io_uring; src/sandbox/; the MMDS and the filter file: jansson (libslirp: dlopen()ed by src/net/mmds_stack.c)

CORE_SRCS := $(wildcard src/core/*.c)
HW_SRCS := $(wildcard src/hw/*.c src/pci/*.c)
ARCH_SRCS := $(wildcard src/arch/$(ARCH)/*.c src/arch/$(ARCH)/boot/*.c)
VIRTIO_SRCS := $(wildcard src/virtio/*.c src/block/*.c src/vsock/*.c src/net/*.c src/vfio/*.c)
SANDBOX_SRCS := $(wildcard src/sandbox/*.c)
# Snapshots: the state file, the VM's state, RAM to its memory file, restore; and a
# snapshot's guest memory loaded lazily (the Uffd backend, the working-set prefetch).
SNAPSHOT_SRCS := $(wildcard src/snapshot/*.c)
LIB_SRCS := $(CORE_SRCS) $(HW_SRCS) $(ARCH_SRCS) $(VIRTIO_SRCS) $(SANDBOX_SRCS) $(SNAPSHOT_SRCS)
# The control plane (API server, stats rendering, metrics, runtime registry).
API_SRCS := $(wildcard src/api/*.c)
CLI_SRCS := $(wildcard src/cli/*.c)
# Debian packages: libjansson-dev, libmicrohttpd-dev, libcurl4-openssl-dev (.ci/packages).
API_LIBS := -ljansson -ldl # libmicrohttpd: dlopen()ed by src/api/server.c
CLI_LIBS := $(API_LIBS) -ldl -lm # libcurl: dlopen()ed by src/cli/client.c

LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
API_OBJS := $(API_SRCS:%.c=$(BUILD)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(BUILD)/obj/%.o)

LIBMVM := $(BUILD)/libmvm.a
LIBMVM_API := $(BUILD)/libmvm-api.a
MVM := $(BUILD)/mvm
GUEST_DIR := $(BUILD)/guest

# Unit tests: the core and devices against a fake KVM (tests/unit/fake_sys.c)
# and a fake architecture (tests/unit/fake_arch.c): no /dev/kvm needed.
UNIT_CORE_SRCS := $(filter-out src/core/sys_dev.c,$(CORE_SRCS)) $(HW_SRCS) $(VIRTIO_SRCS) $(SANDBOX_SRCS) \
		  $(SNAPSHOT_SRCS) \
		  $(addprefix src/api/,stats_json.c prometheus.c metrics.c fc_metrics.c runtime.c logger.c) \
		  $(addprefix src/api/,router.c handlers.c json_check.c vmm.c config_file.c devtype_json.c \
		  root_device.c mmds.c balloon.c hotplug.c cpu_config.c snapshot.c)
UNIT_SRCS := $(wildcard tests/unit/*.c)
UNIT_OBJS := $(UNIT_CORE_SRCS:%.c=$(BUILD)/unit-obj/%.o) $(UNIT_SRCS:%.c=$(BUILD)/unit-obj/%.o)
UNIT := $(BUILD)/tests/unit-tests

FAULT := $(BUILD)/tests/fault-test
# The x86 snapshot code against the fake KVM's state ioctls (no /dev/kvm needed).
X86_SNAP_TEST := $(BUILD)/tests/x86-snapshot-test
X86_SNAP_SRCS := tests/arch/x86_snapshot_test.c src/arch/x86/snapshot.c src/snapshot/codec.c \
	tests/unit/fake_sys.c tests/unit/fake_state.c src/core/sys.c src/core/fault.c src/core/log.c \
	src/core/ratelimit.c
LOADER := $(BUILD)/tests/loader-test
BENCH_BINS := $(BUILD)/bench/kvm-floor $(BUILD)/bench/srcu-order $(BUILD)/bench/boot-bench

.PHONY: all deps demo check check-style check-sandbox check-unit check-loader check-integration check-fault check-api check-linux \
	check-vsock check-linux-vsock bench-vsock bench-vfio check-vfio bench-snapshot \
	check-linux-virtio fuzz-api fuzz-virtio bench bench-startup bench-linux bench-blk format guests clean \
	check-snapshot-mem bench-uffd

all: $(MVM) $(LIBMVM) guests

# V=1 shows the commands.
Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

# The front end sees the public headers only.
$(BUILD)/obj/src/cli/%.o: src/cli/%.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(PUBLIC_INCLUDES) -c $< -o $@

$(BUILD)/unit-obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) -Iinclude -Isrc/include -Isrc -Itests/unit/include -c $< -o $@

$(LIBMVM): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(LIBMVM_API): $(API_OBJS)
	@rm -f $@
	ar rcs $@ $^

# Device types register themselves in a section (mvm/devtype.h): nothing
# refers to their files, so the whole library is linked.
WHOLE_LIBMVM = -Wl,--whole-archive $(LIBMVM) -Wl,--no-whole-archive

$(MVM): $(CLI_OBJS) $(LIBMVM_API) $(LIBMVM)
	$(CC) $(CLI_OBJS) $(LIBMVM_API) $(WHOLE_LIBMVM) $(LDFLAGS) $(CLI_LIBS) $(LDLIBS) -o $@

guests:
	$(Q)$(MAKE) -s -C guest O=$(abspath $(GUEST_DIR))

$(UNIT): $(UNIT_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $^ $(LDFLAGS) $(LDLIBS) -lcmocka -ljansson -o $@

$(X86_SNAP_TEST): $(X86_SNAP_SRCS:%.c=$(BUILD)/x86snap-obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $^ $(LDFLAGS) -lcmocka -luring -o $@

$(BUILD)/x86snap-obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit -c $< -o $@

$(LOADER): $(BUILD)/obj/tests/loader/loader_test.o $(LIBMVM)
	@mkdir -p $(dir $@)
	$(CC) $< $(WHOLE_LIBMVM) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

$(FAULT): $(BUILD)/obj/tests/fault/fault_test.o $(BUILD)/obj/tests/fault/vfio_server.o $(LIBMVM_API) \
		$(LIBMVM)
	@mkdir -p $(dir $@)
	$(CC) $(filter %.o,$^) $(LIBMVM_API) $(WHOLE_LIBMVM) $(LDFLAGS) -lcmocka $(API_LIBS) $(LDLIBS) -lm -o $@

$(BUILD)/bench/api-bench: bench/api-bench.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $< -lcurl -o $@

$(BUILD)/bench/%: bench/%.c
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -Wall -Wextra -Werror $< -o $@

# Root installs directly (a fresh Debian has no sudo); anyone else through sudo.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
deps:
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$$(cat .ci/packages)

demo: all
	$(MVM) run --kernel $(GUEST_DIR)/hello.elf --cmdline "demo"

check: check-style check-unit check-loader check-integration check-fault check-api check-sandbox \
	check-snapshot-mem check-fakekvm

check-style:
	tests/check-style.sh

# The x86 arch's CPUID/MSR set-up (CPU templates, SMT) on the unit tests' fake KVM.
X86_CPU_TEST := $(BUILD)/tests/x86-cpu-test
X86_CPU_SRCS := tests/arch/x86_cpu_test.c tests/unit/fake_sys.c tests/unit/fake_state.c src/core/sys.c src/core/fault.c \
	src/core/log.c src/core/ratelimit.c src/core/config.c $(addprefix src/arch/x86/,cpuid.c msr.c cpu_template.c)
$(X86_CPU_TEST): $(X86_CPU_SRCS:%.c=$(BUILD)/x86-obj/%.o)
	@mkdir -p $(dir $@)
	$(CC) $^ $(LDFLAGS) $(LDLIBS) -lcmocka -o $@
$(BUILD)/x86-obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

check-unit: $(UNIT) $(X86_CPU_TEST) $(X86_SNAP_TEST) $(UFFD_HANDLER)
	UFFD_HANDLER=$(abspath $(UFFD_HANDLER)) $(UNIT)
	$(X86_CPU_TEST)
	$(X86_SNAP_TEST)

# Boot loaders against Debian's stock cloud kernel (fetched once, cached).
check-loader: $(LOADER) guests
	MVM_TEST_VMLINUZ=$$(tests/loader/fetch-kernel.sh) GUESTS=$(abspath $(GUEST_DIR)) $(LOADER)

check-integration: all
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/integration/run.sh
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) IRQCHIP=split tests/integration/run.sh
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/integration/manage.sh
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/integration/virtio.sh
	MVM=$(abspath $(MVM)) tests/integration/net.sh
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/integration/snapshot.sh

# virtio-vsock end to end (guest/tests/vsock.c and host peers); needs KVM. Not yet in
# `make check`: written where there is no /dev/kvm, it has not run against a guest.
check-vsock: all
	python3 tests/integration/vsock.py $(abspath $(MVM)) $(abspath $(GUEST_DIR))

# Slow tier: Linux's virtio-vsock driver against host peers (64 MiB each way, 16 at
# once); KERNEL= as for check-linux-virtio. Not yet run where it was written (no KVM).
check-linux-vsock: all
	MVM=$(abspath $(MVM)) tests/integration/linux-vsock.py

# Slow tier (not in `make check`): the Linux test kernel with its root on
# virtio-blk, virtio-rng, hvc0 on virtio-console; KERNEL= overrides the path.
check-linux-virtio: all
	MVM=$(abspath $(MVM)) tests/integration/linux-virtio.sh

check-fault: $(FAULT) guests
	tests/fault/raw-calls.sh
	GUESTS=$(abspath $(GUEST_DIR)) $(FAULT)

check-linux: $(MVM) $(BUILD)/tests/vfio-user-server
	MVM=$(abspath $(MVM)) SERVER=$(abspath $(BUILD)/tests/vfio-user-server) tests/linux/run.sh

# Seccomp (each list minimal and sufficient), host-side hardening, the jailer.
check-sandbox: all
	SAN=$(SAN) MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/sandbox/run.sh

# The API: conformance to Firecracker's spec, a curl-driven boot, robustness.
check-api: all
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/api/run.sh

# libFuzzer over the API router and JSON validation (clang), FUZZ_TIME seconds.
FUZZ_CC ?= clang
FUZZ_TIME ?= 30
FUZZ_API := $(BUILD)/fuzz/api_router
$(FUZZ_API): fuzz/api_router.c $(LIB_SRCS) $(API_SRCS) $(wildcard include/mvm/*.h src/api/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) -std=gnu11 -g -O1 -D_GNU_SOURCE -pthread -fsanitize=fuzzer,address,undefined \
		$(INCLUDES) -Isrc/api fuzz/api_router.c $(LIB_SRCS) $(API_SRCS) $(API_LIBS) $(LDLIBS) -lm \
		-o $@

fuzz-api: $(FUZZ_API)
	@mkdir -p $(BUILD)/fuzz/corpus-api
	$(FUZZ_API) -max_total_time=$(FUZZ_TIME) -max_len=4096 -timeout=10 $(BUILD)/fuzz/corpus-api fuzz/corpus/api

bench: all $(BENCH_BINS) $(BUILD)/bench/api-bench
	$(BUILD)/bench/srcu-order -n 10
	$(BUILD)/bench/boot-bench $(abspath $(MVM)) $(BUILD)/bench/kvm-floor $(abspath $(GUEST_DIR))/hello.elf
	$(BUILD)/bench/api-bench $(abspath $(MVM)) $(abspath $(BUILD)/bench/kvm-floor) $(abspath $(GUEST_DIR))/hello.elf
	bench/blk-bench.py $(abspath $(MVM)) $(abspath $(GUEST_DIR))/vblk.elf
	bench/seccomp-startup.sh $(abspath $(MVM))

# Start-up and teardown of a tiny guest against the raw-KVM floor and QEMU microvm, in
# one interleaved run (../shared/bench/startup.sh: CI has shared/ beside the clone), then
# whole life cycles 8 in parallel. Needs /dev/kvm: prints SKIP without. Not in make check.
STARTUP_SH ?= ../shared/bench/startup.sh
STARTUP_OUT := $(abspath $(BUILD)/bench/startup)
bench-startup: all
	@if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then \
		echo "SKIP: bench-startup: /dev/kvm is missing or not accessible"; exit 0; fi; \
	if [ ! -x $(STARTUP_SH) ]; then \
		echo "SKIP: bench-startup: no $(STARTUP_SH) (shared/ beside the clone)"; exit 0; fi; \
	set -e; \
	$(STARTUP_SH) --no-extra --out $(STARTUP_OUT) -n $(or $(RUNS),30) \
		--vmm 'mvm-no-api=$(abspath $(MVM)) run --no-api -m 128 --kernel {guest-pvh}' \
		--vmm 'mvm=$(abspath $(MVM)) run -m 128 --kernel {guest-pvh}' \
		--vmm 'mvm-split-no-api=$(abspath $(MVM)) run --no-api --irqchip split -m 128 --kernel {guest-pvh}' \
		--vmm 'mvm-fw-no-api=$(abspath $(MVM)) run --no-api -m 128 --firmware {guest}'; \
	bench/lifecycle-rate.sh -j 8 \
		'floor=$(STARTUP_OUT)/kvm_floor -m 128 $(STARTUP_OUT)/guest.bin' \
		'mvm-no-api=$(abspath $(MVM)) run --no-api -m 128 --kernel $(STARTUP_OUT)/guest-pvh.elf' \
		'mvm=$(abspath $(MVM)) run -m 128 --kernel $(STARTUP_OUT)/guest-pvh.elf' \
		'mvm-split-no-api=$(abspath $(MVM)) run --no-api --irqchip split -m 128 --kernel $(STARTUP_OUT)/guest-pvh.elf'

# Linux to userspace, mvm against qemu -M microvm (needs make check-linux's kernels).
bench-linux: $(MVM)
	bench/linux-boot.sh $(abspath $(MVM)) $(or $(RUNS),3)

# virtio-blk: a test guest vs fio on the host (and QEMU), as ratios. Needs fio.
bench-blk: all
	bench/blk-bench.py $(abspath $(MVM)) $(abspath $(GUEST_DIR))/vblk.elf

# Snapshots: restore latency, clone rate and memory per clone beside a cold boot (needs KVM).
bench-snapshot: all
	bench/snapshot-bench.sh $(abspath $(MVM)) $(abspath $(GUEST_DIR)) $(or $(CLONES),20)

# libFuzzer + ASan/UBSan harnesses (clang); each runs FUZZ_TIME seconds on a
# copy of its seed corpus (fuzz/corpus/NAME). CI runs `make fuzz-virtio`.
FUZZ_CC ?= clang
FUZZ_TIME ?= 30
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_FLAGS := -g -O1 -std=gnu11 -D_GNU_SOURCE -pthread -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined $(INCLUDES)
FUZZ_SUPPORT := src/core/memory.c src/core/sys.c src/core/sys_dev.c src/core/fault.c src/core/log.c \
	src/core/ratelimit.c src/snapshot/uffd.c src/snapshot/regions.c
FUZZ_VIRTIO := virtq_walk blk_req balloon_req pmem_req mem_req

$(FUZZ_DIR)/virtq_walk: fuzz/virtq_walk.c src/virtio/virtqueue.c src/virtio/blk_req.c $(FUZZ_SUPPORT)
$(FUZZ_DIR)/blk_req: fuzz/blk_req.c src/virtio/blk_req.c src/block/disk.c $(FUZZ_SUPPORT)
$(FUZZ_DIR)/balloon_req: fuzz/balloon_req.c src/virtio/balloon_req.c src/virtio/virtqueue.c $(FUZZ_SUPPORT)
$(FUZZ_DIR)/pmem_req: fuzz/pmem_req.c src/virtio/pmem_req.c src/virtio/virtqueue.c $(FUZZ_SUPPORT)
$(FUZZ_DIR)/mem_req: fuzz/mem_req.c src/virtio/mem_req.c src/virtio/virtqueue.c $(FUZZ_SUPPORT)
$(FUZZ_VIRTIO:%=$(FUZZ_DIR)/%):
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -luring -ljansson -o $@

# pci_virtio: a whole VM (PCI host, virtio rng/console/blk) on the unit tests'
# fake KVM and fake arch, driven by guest-like accesses.
FUZZ_PCI_SRCS := $(filter-out src/core/sys_dev.c,$(CORE_SRCS)) $(HW_SRCS) $(VIRTIO_SRCS) $(SANDBOX_SRCS) \
	$(SNAPSHOT_SRCS) tests/unit/fake_sys.c tests/unit/fake_arch.c tests/unit/fake_state.c
$(FUZZ_DIR)/pci_virtio: fuzz/pci_virtio.c $(FUZZ_PCI_SRCS) fuzz/virtio_vm.h fuzz/input.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Isrc/arch/%,$(FUZZ_FLAGS)) -Itests/unit/include -Itests/unit \
		$(filter %.c,$^) \
		$(LDLIBS) -o $@

# virtio-net's frame paths and the MMDS's HTTP handling.
$(FUZZ_DIR)/net_tx: fuzz/net_tx.c src/virtio/virtqueue.c src/virtio/net_frame.c $(FUZZ_SUPPORT)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -luring -ljansson -o $@
$(FUZZ_DIR)/mmds_http: fuzz/mmds_http.c src/net/mmds_http.c src/net/mmds_store.c $(FUZZ_SUPPORT)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -luring -ljansson -o $@


# mmio_virtio: the same devices on virtio-mmio, driven through their windows.
$(FUZZ_DIR)/mmio_virtio: fuzz/mmio_virtio.c $(FUZZ_PCI_SRCS) fuzz/virtio_vm.h fuzz/input.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Isrc/arch/%,$(FUZZ_FLAGS)) -Itests/unit/include -Itests/unit \
		$(filter %.c,$^) \
		$(LDLIBS) -o $@

# vsock_tx: virtio-vsock's TX path and connections, a guest and host peers (same fakes).
$(FUZZ_DIR)/vsock_tx: fuzz/vsock_tx.c $(FUZZ_PCI_SRCS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(filter-out -Isrc/arch/%,$(FUZZ_FLAGS)) -Itests/unit/include -Itests/unit $^ \
		$(LDLIBS) -o $@

# vfio_user_msg: the vfio-user codec on what a server sends.
$(FUZZ_DIR)/vfio_user_msg: fuzz/vfio_user_msg.c src/vfio/user_msg.c src/vfio/region_caps.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -ljansson -o $@

FUZZ_ALL := $(FUZZ_VIRTIO) pci_virtio mmio_virtio vsock_tx net_tx mmds_http vfio_user_msg

# snapshot_read: the snapshot state file reader (a file is untrusted input).
$(FUZZ_DIR)/snapshot_read: fuzz/snapshot_read.c src/snapshot/format.c src/snapshot/codec.c \
		$(FUZZ_SUPPORT)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -luring -ljansson -o $@
FUZZ_ALL += snapshot_read

# The working-set list decoder (libFuzzer; run by fuzz-virtio too).
$(FUZZ_DIR)/prefetch_list: fuzz/prefetch_list.c src/snapshot/prefetch_list.c $(FUZZ_SUPPORT)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) $^ -luring -ljansson -o $@
FUZZ_ALL += prefetch_list

# vsock-path: virtio-vsock's host-side path on the fake KVM against a socket pair (no KVM).
$(BUILD)/bench/vsock-path: bench/vsock-path.c $(FUZZ_PCI_SRCS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Wall -Wextra -Werror -Wno-unused-parameter \
		-Wno-format-truncation -Iinclude -Isrc/include -Isrc \
		-Itests/unit/include -Itests/unit $^ $(LDLIBS) -o $@

bench-vsock: $(BUILD)/bench/vsock-path
	$(BUILD)/bench/vsock-path

# vfio-user from the host side: BAR latency trapped vs mapped, DMA-copy throughput (fake KVM).
$(BUILD)/bench/vfio-user: bench/vfio-user.c bench/vfio-server-lib.c $(FUZZ_PCI_SRCS)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -pthread -Wall -Wextra -Werror -Wno-unused-parameter \
		-Wno-format-truncation -Iinclude -Isrc/include -Isrc \
		-Itests/unit/include -Itests/unit $^ $(LDLIBS) -o $@

# The test vfio-user server on its own (tests/vfio/server.c), for guests and by hand.
$(BUILD)/tests/vfio-user-server: tests/vfio/server.c tests/vfio/server.h
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -D_GNU_SOURCE -Wall -Wextra -Werror $< -o $@

# vfio-user end to end from a guest (guest/tests/vfio_user.c); needs KVM. Not yet in
# `make check`: written where there is no /dev/kvm, it has not run against a guest.
check-vfio: all $(BUILD)/tests/vfio-user-server
	MVM=$(abspath $(MVM)) GUESTS=$(abspath $(GUEST_DIR)) \
		SERVER=$(abspath $(BUILD)/tests/vfio-user-server) tests/integration/vfio-user.sh

bench-vfio: $(BUILD)/bench/vfio-user
	$(BUILD)/bench/vfio-user

fuzz-virtio: $(FUZZ_ALL:%=$(FUZZ_DIR)/%)
	$(Q)for f in $(FUZZ_ALL); do \
		mkdir -p $(FUZZ_DIR)/corpus-$$f; \
		echo "fuzz $$f: $(FUZZ_TIME) s"; \
		if ! $(FUZZ_DIR)/$$f -max_total_time=$(FUZZ_TIME) -timeout=10 -rss_limit_mb=2048 \
			-print_final_stats=1 $(FUZZ_DIR)/corpus-$$f fuzz/corpus/$$f \
			>$(FUZZ_DIR)/$$f.log 2>&1; then \
			tail -40 $(FUZZ_DIR)/$$f.log; echo "fuzz $$f: FAILED"; exit 1; \
		fi; \
		grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss)' $(FUZZ_DIR)/$$f.log; \
		echo "fuzz $$f: ok"; \
	done

# Lazy snapshot memory on real userfaultfd (no KVM): the Uffd backend against the test
# page-fault handler, the working-set prefetch on file mappings.
SNAPSHOT_MEM_TEST := $(BUILD)/tests/snapshot-mem-test
UFFD_HANDLER := $(BUILD)/tests/uffd-handler
$(UFFD_HANDLER): tests/snapshot/uffd_handler.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $< $(LDFLAGS) -ljansson -o $@
$(SNAPSHOT_MEM_TEST): $(BUILD)/obj/tests/snapshot/snapshot_mem_test.o $(LIBMVM)
	@mkdir -p $(dir $@)
	$(CC) $< $(LIBMVM) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@
check-snapshot-mem: $(SNAPSHOT_MEM_TEST) $(UFFD_HANDLER)
	UFFD_HANDLER=$(abspath $(UFFD_HANDLER)) $(SNAPSHOT_MEM_TEST)

# Touching every page of 128 MiB: anonymous, File backend (lazy, prefetched), Uffd.
$(BUILD)/bench/uffd-bench: $(BUILD)/obj/bench/uffd_bench.o $(LIBMVM)
	@mkdir -p $(dir $@)
	$(CC) $< $(LIBMVM) $(LDFLAGS) $(LDLIBS) -o $@
bench-uffd: $(BUILD)/bench/uffd-bench $(UFFD_HANDLER)
	$(BUILD)/bench/uffd-bench $(abspath $(UFFD_HANDLER))

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-san
	$(MAKE) -C guest O=$(abspath guest/out) clean

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# mvm-fakekvm: the real mvm program (CLI, API, x86 arch and loader, devices) on a test
# double of KVM (tests/fakekvm/, over tests/unit/fake_sys.c) whose KVM_RUN is a scripted
# guest. Runs only with MVM_FAKE_KVM=1; never installed, not part of `all`.
FAKEKVM := $(BUILD)/tests/mvm-fakekvm
FAKEKVM_OBJS := $(CLI_OBJS) $(API_OBJS) $(filter-out %/src/core/sys_dev.o,$(LIB_OBJS)) \
	$(addprefix $(BUILD)/obj/tests/,unit/fake_sys.o unit/fake_state.o fakekvm/fake_kvm.o fakekvm/fake_guest.o)
$(FAKEKVM): $(FAKEKVM_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $^ $(LDFLAGS) $(CLI_LIBS) $(LDLIBS) -o $@

# The fault test on the same double: every create path's failure points, where no
# /dev/kvm exists (the scripted guest ends each boot through the debug-exit port).
FAULT_FAKEKVM := $(BUILD)/tests/fault-test-fakekvm
$(BUILD)/obj/tests/fault/fault_test_fakekvm.o: tests/fault/fault_test.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -DFAULT_ON_FAKE_KVM -c $< -o $@
$(FAULT_FAKEKVM): $(BUILD)/obj/tests/fault/fault_test_fakekvm.o $(BUILD)/obj/tests/fault/vfio_server.o \
		$(API_OBJS) $(filter-out %/src/core/sys_dev.o,$(LIB_OBJS)) \
		$(addprefix $(BUILD)/obj/tests/,unit/fake_sys.o unit/fake_state.o fakekvm/fake_kvm.o \
		fakekvm/fake_guest.o)
	@mkdir -p $(dir $@)
	$(CC) $^ $(LDFLAGS) -lcmocka $(API_LIBS) $(LDLIBS) -lm -o $@

.PHONY: check-fault-fakekvm
check-fault-fakekvm: $(FAULT_FAKEKVM) guests
	MVM_FAKE_KVM=1 MVM_FAKE_GUEST_ACTION=exit:0 MVM_FAKE_GUEST_OUTPUT=. \
		GUESTS=$(abspath $(GUEST_DIR)) $(FAULT_FAKEKVM)

# The API after InstanceStart on mvm-fakekvm, seccomp filters on (no /dev/kvm needed):
# tests/fakekvm (boot, pause/resume, post-boot updates, metrics, stop paths), then the
# API tests' post-boot checks with a guest that prints busy.elf's line and has no keyboard.
.PHONY: check-fakekvm
check-fakekvm: $(FAKEKVM) guests $(UFFD_HANDLER)
	MVM_FAKEKVM=$(abspath $(FAKEKVM)) GUESTS=$(abspath $(GUEST_DIR)) SAN=$(SAN) \
		UFFD_HANDLER=$(abspath $(UFFD_HANDLER)) \
		MVM_TEST_VMLINUZ=$$(tests/loader/fetch-kernel.sh || true) python3 tests/fakekvm/run.py
	MVM_FAKE_KVM=1 MVM_FAKE_GUEST_KEYBOARD=0 MVM_FAKE_GUEST_OUTPUT="$$(printf 'busy: spinning\n')" \
		MVM=$(abspath $(FAKEKVM)) GUESTS=$(abspath $(GUEST_DIR)) tests/api/run.sh
