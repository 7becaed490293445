// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: everything a guest driver can do to PCI and virtio-pci,
 * in any order. A VM on the unit tests' fake KVM (tests/unit/fake_sys.c,
 * fake_arch.c: no /dev/kvm) gets the PCI host bridge, virtio-rng,
 * virtio-console and a virtio-blk disk (synchronous engine on a 64 KiB
 * file); the input is a program of guest actions:
 *
 *   conf1 address/data accesses, ECAM accesses, BAR-window accesses (MMIO
 *   and I/O, any width), writes of guest RAM (rings, descriptors, buffers),
 *   and "the event loop runs" (every queue's kick handler).
 *
 * ASan/UBSan check that nothing reads or writes outside what it owns; the
 * VM is torn down after each input (LeakSanitizer checks the teardown).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "input.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "virtio/blk.h"

#define RAM_SIZE (2ULL << 20)
#define MAX_OPS	 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_fd = -1;
static char disk_path[] = "/tmp/mvm-fuzz-pci-XXXXXX";

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static void unlink_disk(void)
{
	unlink(disk_path);
}

static struct vm *fuzz_vm(void)
{
	struct mvm_disk_config disk = { .io = MVM_DISK_IO_SYNC };
	struct mvm_config cfg;
	struct vm *vm;

	snprintf(disk.path, sizeof(disk.path), "%s", disk_path);
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = RAM_SIZE;
	cfg.cpus = 1;
	cfg.console_out = null_fd;
	vm = vm_create(&cfg);
	if (IS_ERR(vm))
		abort();
	if (IS_ERR(pci_host_create(vm, &host_desc)) || IS_ERR(virtio_rng_create(vm)) ||
	    IS_ERR(virtio_console_create(vm)) || IS_ERR(virtio_blk_create(vm, &disk, 0)))
		abort();
	return vm;
}

/* The event loop's turn: every virtio queue's kick handler. */
static void run_loop(struct vm *vm)
{
	struct mvm_device *dev, *devs[8];
	unsigned int n = 0;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (n < 8 && dev->ops->type && !strcmp(dev->ops->type, "virtio-pci"))
			devs[n++] = dev;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_dev *vdev = to_virtio_dev(devs[i]);

		for (unsigned int q = 0; q < vdev->num_queues; q++) {
			struct virtqueue *vq = &vdev->vqs[q];

			virtq_kick(vq);
			vq->kick.fn(&vq->kick, EPOLLIN);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vm *vm;
	unsigned int ops = 0;

	if (null_fd < 0) {
		int fd = mkstemp(disk_path);

		mvm_log_set_level(-1);
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, 64 << 10))
			abort();
		close(fd);
		atexit(unlink_disk);
	}
	vm = fuzz_vm();
	while (in.left && ops++ < MAX_OPS) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned int len = 1u << ((op >> 3) & 3); /* 1, 2, 4, 8 */
		bool write = op & 0x20;
		uint64_t v;

		switch (op & 7) {
		case 0: { /* conf1 address register */
			uint32_t a = (uint32_t)take(&in, 4);

			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &a, 4, true);
			break;
		}
		case 1: /* conf1 data port */
			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4 + (op >> 6), &v,
				   len > 4 ? 4 : len, write);
			break;
		case 2: { /* ECAM: slots 0-3 */
			uint64_t off = take(&in, 2) & 0x3ffff;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_ECAM_BASE + off, &v, len,
				   write);
			break;
		}
		case 3: { /* MMIO window: the first MiB, where the BARs are */
			uint64_t off = take(&in, 3) & 0xfffff;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_MMIO32_BASE + off, &v, len,
				   write);
			break;
		}
		case 4: { /* I/O window */
			uint64_t off = take(&in, 2) % ARCH_PCI_IO_SIZE;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_IO_BASE + off, &v,
				   len > 4 ? 4 : len, write);
			break;
		}
		case 5: { /* guest RAM: rings, descriptors, buffers in the first 256 KiB */
			uint64_t gpa = (take(&in, 2) << 2) & 0x3ffff;

			v = take(&in, 8);
			mem_write(&vm->mem, gpa, &v, 8);
			break;
		}
		case 6: /* the event loop runs */
			run_loop(vm);
			break;
		case 7: { /* a descriptor, whole: addr near the rings, any len/flags/next */
			struct virtq_desc d;
			uint64_t gpa = (take(&in, 2) << 4) & 0x3ffff;

			d.addr = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3) & 0x3ffff;
			d.len = (uint32_t)take(&in, 4);
			d.flags = (uint16_t)take(&in, 2);
			d.next = (uint16_t)take(&in, 2);
			mem_write(&vm->mem, gpa, &d, sizeof(d));
			break;
		}
		}
	}
	run_loop(vm);
	vm_destroy(vm);
	return 0;
}
