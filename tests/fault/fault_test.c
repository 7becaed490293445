// SPDX-License-Identifier: MIT
/*
 * Fault injection on the real create paths (DESIGN.md §5), against /dev/kvm.
 *
 * For each scenario (a full boot-run-teardown of a test guest), count the
 * faultable calls it makes, then make the 1st, 2nd, ... Nth fail in turn.
 * After each, the scenario must have failed cleanly and the process must hold
 * exactly the fds, mappings and threads it held before, and no leaked heap
 * (mallinfo2 in a plain build, LeakSanitizer in an ASan build). At the end,
 * every fault site linked into the program must have been made to fail at
 * least once: a new failure point without coverage fails this test.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "../../src/api/api_internal.h"
#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/fault.h"
#include "mvm/log.h"
#include "mvm/mmds.h"
#include "mvm/snapshot.h"
#include "mvm/snapshot_mem.h"
#include "mvm/vm.h"
#include "../vfio/server.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_ASAN 1
#endif
#endif
#ifdef HAVE_ASAN
#include <sanitizer/lsan_interface.h>
#endif

static char hello[4096];
static char reset_vector[4096];
static int null_fd = -1;
static unsigned long total_points;

/* ---- what the process holds ---- */

/*
 * Snapshots live in static buffers: the checker itself must not allocate
 * or map anything between "before" and "after".
 */
#define SNAP_SIZE (1 << 20)

struct snapshot {
	char fds[SNAP_SIZE];  /* "fd -> target" lines */
	char maps[SNAP_SIZE]; /* /proc/self/maps, see read_maps() */
	int threads;
	size_t heap; /* bytes in use (plain build) */
};

static struct snapshot snap_before, snap_after;

static void read_maps(char *buf)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	char *line, *next;
	ssize_t n;

	assert_true(fd >= 0);
	while ((n = read(fd, buf + len, SNAP_SIZE - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	/*
	 * Drop lines the allocator owns: [heap] grows and shrinks with brk (the
	 * heap is checked on its own), and under ASan its allocator maps
	 * anonymous memory as it likes, so only named mappings are compared
	 * there (memfds, kvm-vcpu, files).
	 */
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		bool drop = strstr(line, "[heap]") && strstr(line, "[heap]") < next;
#ifdef HAVE_ASAN
		char *slash = memchr(line, '/', (size_t)(next - line));
		char *anon = memmem(line, (size_t)(next - line), "anon_inode", 10);

		drop = drop || (!slash && !anon);
#endif
		if (drop) {
			memmove(line, next, strlen(next) + 1);
			next = line;
		}
	}
}

static void list_fds(char *buf)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t len = 0;

	assert_non_null(d);
	buf[0] = '\0';
	while ((e = readdir(d))) {
		char path[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		target[n < 0 ? 0 : n] = '\0';
		len += (size_t)snprintf(buf + len, SNAP_SIZE - len, "%s -> %s\n", e->d_name,
					target);
		assert_true(len < SNAP_SIZE);
	}
	closedir(d);
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void snapshot_take(struct snapshot *s)
{
	read_maps(s->maps);
	list_fds(s->fds);
	s->threads = count_threads();
#ifndef HAVE_ASAN
	s->heap = mallinfo2().uordblks;
#else
	s->heap = 0;
#endif
}

/* Fails the test with the site's name if the process changed. */
static void snapshot_check(const struct snapshot *before, const char *site)
{
	struct snapshot *after = &snap_after;

	snapshot_take(after);
	if (strcmp(before->fds, after->fds))
		fail_msg("after failing %s: fds differ\nbefore:\n%s\nafter:\n%s", site, before->fds,
			 after->fds);
	if (strcmp(before->maps, after->maps))
		fail_msg("after failing %s: mappings differ\nbefore:\n%s\nafter:\n%s", site,
			 before->maps, after->maps);
	if (before->threads != after->threads)
		fail_msg("after failing %s: %d threads, %d before", site, after->threads,
			 before->threads);
#ifdef HAVE_ASAN
	if (__lsan_do_recoverable_leak_check())
		fail_msg("after failing %s: LeakSanitizer found leaks (above)", site);
#else
	if (after->heap != before->heap)
		fail_msg("after failing %s: %zu heap bytes in use, %zu before", site, after->heap,
			 before->heap);
#endif
}

/* ---- scenarios ---- */

#ifdef FAULT_ON_FAKE_KVM
void fake_state_reset(void);
/* The double keeps vCPU state by fd number past close(): that heap is not the VMM's. */
#define double_forget() fake_state_reset()
#else
#define double_forget() ((void)0)
#endif

/* Built against mvm-fakekvm's double of KVM (check-fault-fakekvm), every scenario runs. */
static bool kvm_here(void)
{
#ifdef FAULT_ON_FAKE_KVM
	return true;
#else
	return !access("/dev/kvm", R_OK | W_OK);
#endif
}

struct scenario {
	const char *name;
	unsigned int cpus;
	bool pit;
	bool console_in;
	bool initrd; /* loads a module too: the initrd's open, read and placement */
	int (*run)(const struct scenario *sc); /* NULL: scenario_run() */
	bool disks; /* two virtio-blk disks: io_uring + writeback, and io=sync, ro, O_DIRECT */
	bool rng_console; /* virtio-rng and virtio-console (with console_in: hvc0 input) */
	bool mmio;	  /* the virtio devices on virtio-mmio instead of virtio-pci */
	bool vsock;	  /* virtio-vsock: its listening socket at vsock_path */
	bool net;	  /* two virtio-net interfaces (taps in a namespace), MMDS on one */
	bool balloon;	  /* virtio-balloon (statistics, reporting), transparent huge pages */
	bool memdev;	  /* virtio-pmem on a 2 MiB file at disk_path, and virtio-mem */
	bool split;	  /* --irqchip split: the user-space IOAPIC */
	bool firmware;	  /* --firmware reset-vector.bin instead of a kernel */
	bool host_only;	  /* no VM: runs without /dev/kvm */
	bool vfio_user;	  /* a vfio-user device served by the test server at vfio_path */
};

static struct mmds *net_mmds; /* the store test_boot_virtio_net made, outliving each boot */

static char disk_path[] = "/var/tmp/mvm-fault-disk-XXXXXX";
static char vsock_path[108];
static char vfio_path[108];

/* Boots, runs and tears down; 0 only if the guest ran to its exit-port write. */
static int scenario_run(const struct scenario *sc)
{
	struct mvm_config cfg;
	int pipefd[2] = { -1, -1 };
	struct vm *vm;
	int err;

	mvm_config_init(&cfg);
	cfg.kernel = hello;
	cfg.cmdline = "fault injection";
	cfg.cpus = sc->cpus;
	cfg.pit = sc->pit;
	cfg.initrd = sc->initrd ? hello : NULL; /* any file will do */
	if (sc->split)
		cfg.irqchip = MVM_IRQCHIP_SPLIT;
	if (sc->firmware) {
		cfg.kernel = NULL;
		cfg.firmware = reset_vector;
	}
	cfg.console_out = null_fd;
	if (sc->console_in) {
		if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK))
			return -errno;
		cfg.console_in = pipefd[0];
	}
	if (sc->disks) {
		const struct mvm_device_type *blk = mvm_device_type_find("virtio-blk");
		char arg[512], msg[256];

		snprintf(arg, sizeof(arg), "%s,id=ro,ro,cache=none,io=sync", disk_path);
		if (!blk || mvm_config_parse_device(&cfg, blk, disk_path, msg, sizeof(msg)) ||
		    mvm_config_parse_device(&cfg, blk, arg, msg, sizeof(msg)))
			return -EINVAL;
	}
	if (sc->rng_console) {
		const struct mvm_device_type *rng = mvm_device_type_find("virtio-rng");
		char msg[256];

		if (!rng || mvm_config_parse_device(&cfg, rng, NULL, msg, sizeof(msg)))
			return -EINVAL;
		cfg.console = MVM_CONSOLE_VIRTIO;
	}
	if (sc->mmio)
		cfg.transport = MVM_TRANSPORT_MMIO;
	if (sc->vsock) {
		const struct mvm_device_type *vs = mvm_device_type_find("virtio-vsock");
		char arg[160], msg[256];

		snprintf(arg, sizeof(arg), "cid=3,uds=%s", vsock_path);
		if (!vs || mvm_config_parse_device(&cfg, vs, arg, msg, sizeof(msg)))
			return -EINVAL;
	}
	if (sc->net) {
		const struct mvm_device_type *net = mvm_device_type_find("virtio-net");
		char msg[256];

		if (!net ||
		    mvm_config_parse_device(&cfg, net, "tap=mvmf0,id=eth0,mac=06:00:00:00:00:01",
					    msg, sizeof(msg)) ||
		    mvm_config_parse_device(
			    &cfg, net,
			    "tap=mvmf1,id=eth1,mtu=1400,rx_rate_limiter.ops.size=10,"
			    "rx_rate_limiter.ops.refill_time=100",
			    msg, sizeof(msg)))
			return -EINVAL;
		cfg.mmds = net_mmds;
	}
	if (sc->balloon) {
		const struct mvm_device_type *b = mvm_device_type_find("virtio-balloon");
		char msg[256];

		if (!b || mvm_config_parse_device(
				  &cfg, b, "1,stats_polling_interval_s=1,free_page_reporting", msg,
				  sizeof(msg)))
			return -EINVAL;
		cfg.huge_pages = MVM_HUGE_THP;
	}
	if (sc->memdev) {
		const struct mvm_device_type *pmem = mvm_device_type_find("virtio-pmem");
		const struct mvm_device_type *vmem = mvm_device_type_find("virtio-mem");
		char msg[256] = "";

		if (!pmem || !vmem ||
		    mvm_config_parse_device(&cfg, pmem, disk_path, msg, sizeof(msg)) ||
		    mvm_config_parse_device(&cfg, vmem, "128", msg, sizeof(msg))) {
			print_error("memory devices: %s\n", msg);
			return -EINVAL;
		}
	}
	if (sc->vfio_user) {
		const struct mvm_device_type *vu = mvm_device_type_find("vfio-user");
		char msg[256];

		if (!vu || mvm_config_parse_device(&cfg, vu, vfio_path, msg, sizeof(msg)))
			return -EINVAL;
	}
	vm = vm_boot(&cfg);
	if (IS_ERR(vm)) {
		err = (int)PTR_ERR(vm);
		goto out;
	}
	err = vm_run(vm);
	if (!err && (vm_stop_reason(vm) != VM_STOP_EXIT_PORT || vm->stop_status != 0))
		err = -EIO;
	vm_destroy(vm);
out:
	if (pipefd[0] >= 0) {
		close(pipefd[0]);
		close(pipefd[1]);
	}
	/* The socket goes on every way out, a failed creation's too. */
	if (sc->vsock && !access(vsock_path, F_OK))
		fail_msg("the vsock socket '%s' was left behind", vsock_path);
	return err;
}

/*
 * The API's create path: a VMM, its server on a Unix socket (one request
 * served), then a boot through its handlers, as InstanceStart does, run on
 * this thread as mvm's main thread does, and the teardown.
 */
static int api_request_root(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	char buf[512];
	size_t len = 0;
	ssize_t n;
	int fd, err = -EIO;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa)) &&
	    write(fd, req, sizeof(req) - 1) == (ssize_t)sizeof(req) - 1) {
		while (len < sizeof(buf) - 1 &&
		       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
			len += (size_t)n;
		buf[len] = '\0';
		if (!strncmp(buf, "HTTP/1.1 200", 12) && strstr(buf, "Not started"))
			err = 0;
	}
	close(fd);
	return err;
}

static int api_scenario_run(const struct scenario *sc)
{
	char path[64], body[sizeof(hello) + 64];
	struct api_server *srv;
	struct api_response r;
	struct vmm *vmm;
	struct vm *vm;
	int err;

	snprintf(path, sizeof(path), "/tmp/mvm-fault-api-%d.sock", (int)getpid());
	vmm = vmm_create("fault-api");
	if (IS_ERR(vmm))
		return (int)PTR_ERR(vmm);
	vmm_set_console(vmm, -1, null_fd);
	srv = api_server_start(vmm, path, NULL);
	if (IS_ERR(srv)) {
		err = (int)PTR_ERR(srv);
		goto out_vmm;
	}
	err = api_request_root(path);
	if (err)
		goto out_srv;
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"api\"}",
		 hello);
	api_handle(vmm, "PUT", "/boot-source", body, strlen(body), &r);
	api_response_free(&r);
	pthread_mutex_lock(&vmm->lock);
	vmm_instance_start(vmm, &r, false);
	pthread_mutex_unlock(&vmm->lock);
	/* 400: the boot failed, nothing was handed over. */
	err = r.status == 204 ? vmm_wait_start(vmm, -1, &vm) : -EIO;
	api_response_free(&r);
	if (!err)
		err = vmm_run_vm(vmm, vm);
	vm = vmm_detach_vm(vmm);
	if (!err && (vm_stop_reason(vm) != VM_STOP_EXIT_PORT || vm->stop_status != 0))
		err = -EIO;
	vm_destroy(vm);
out_srv:
	api_server_stop(srv);
out_vmm:
	vmm_destroy(vmm);
	return err;
}

static int scenario_do(const struct scenario *sc)
{
	return sc->run ? sc->run(sc) : scenario_run(sc);
}

static void run_scenario(const struct scenario *sc)
{
	unsigned long n, i;

	if (!sc->host_only && !kvm_here()) {
		print_message("SKIP: /dev/kvm is not accessible; fault injection needs KVM\n");
		skip();
	}
	/* Warm up: allocator pools, first-use state of libc. */
	assert_int_equal(scenario_do(sc), 0);
	assert_int_equal(scenario_do(sc), 0);

	fault_begin(0);
	assert_int_equal(scenario_do(sc), 0);
	n = fault_end();
	assert_true(n > 0);

	for (i = 1; i <= n; i++) {
		const struct fault_site *site;
		char what[256];
		int err;

		double_forget();
		snapshot_take(&snap_before);
		fault_begin(i);
		err = scenario_do(sc);
		fault_end();
		double_forget();
		site = fault_fired_site();
		assert_non_null(site);
		snprintf(what, sizeof(what), "call %lu/%lu, %s at %s:%d", i, n, site->what,
			 site->file, site->line);
		if (err == 0)
			fail_msg("%s: the scenario succeeded anyway", what);
		snapshot_check(&snap_before, what);
	}
	total_points += n;
	print_message("%s: %lu failure points made to fail in turn, each unwound cleanly\n",
		      sc->name, n);
	/* And it still works afterwards. */
	assert_int_equal(scenario_do(sc), 0);
}

static void test_boot_one_vcpu(void **state)
{
	static const struct scenario sc = { .name = "boot, 1 vCPU", .cpus = 1 };

	(void)state;
	run_scenario(&sc);
}

static void test_boot_smp_pit_console(void **state)
{
	static const struct scenario sc = {
		.name = "boot, 3 vCPUs, PIT, console input, initrd",
		.cpus = 3,
		.pit = true,
		.console_in = true,
		.initrd = true,
	};

	(void)state;
	run_scenario(&sc);
}

static void test_api_server_boot(void **state)
{
	static const struct scenario sc = {
		.name = "API: VMM, server, a request, InstanceStart",
		.cpus = 1,
		.run = api_scenario_run,
	};

	(void)state;
	run_scenario(&sc);
}

static void test_boot_virtio_blk(void **state)
{
	static const struct scenario sc = {
		.name = "boot, 2 virtio-blk disks",
		.cpus = 1,
		.disks = true,
	};
	int fd = mkstemp(disk_path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	run_scenario(&sc);
	unlink(disk_path);
}

static void test_boot_virtio_rng_console(void **state)
{
	static const struct scenario sc = {
		.name = "boot, virtio-rng + virtio-console with input",
		.cpus = 1,
		.console_in = true,
		.rng_console = true,
	};

	(void)state;
	run_scenario(&sc);
}

static void test_boot_virtio_mmio(void **state)
{
	static const struct scenario sc = {
		.name = "boot, virtio-mmio: virtio-blk, virtio-rng, virtio-console",
		.cpus = 1,
		.disks = true,
		.rng_console = true,
		.mmio = true,
	};
	int fd;

	(void)state;
	/* The template again: an earlier test's mkstemp() filled it in. */
	memcpy(disk_path + sizeof(disk_path) - 7, "XXXXXX", 6);
	fd = mkstemp(disk_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	run_scenario(&sc);
	unlink(disk_path);
}

static void test_boot_virtio_vsock(void **state)
{
	static const struct scenario sc = {
		.name = "boot, virtio-vsock (its listener too)",
		.cpus = 1,
		.vsock = true,
	};

	(void)state;
	snprintf(vsock_path, sizeof(vsock_path), "/tmp/mvm-fault-vsock-%d.sock", (int)getpid());
	run_scenario(&sc);
}

/*
 * Two interfaces, MMDS on the first: taps in a namespace of the test's own
 * (created before the faults are armed; they go with the namespace).
 */
static void test_boot_virtio_net(void **state)
{
	static const struct scenario sc = {
		.name = "boot, 2 virtio-net interfaces, MMDS",
		.cpus = 1,
		.net = true,
	};
	struct mmds_config mc = { .version = MMDS_V2, .nr_ifaces = 1 };
	int orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	(void)state;
	if (!kvm_here() || orig < 0 || unshare(CLONE_NEWNET) ||
	    system("ip tuntap add mvmf0 mode tap && ip tuntap add mvmf1 mode tap")) {
		if (orig >= 0) {
			setns(orig, CLONE_NEWNET);
			close(orig);
		}
		skip();
	}
	net_mmds = mmds_create(MMDS_DEFAULT_LIMIT);
	assert_non_null(net_mmds);
	mc.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	strcpy(mc.ifaces[0], "eth0");
	mmds_set_config(net_mmds, &mc);
	run_scenario(&sc);
	mmds_destroy(net_mmds);
	net_mmds = NULL;
	assert_int_equal(setns(orig, CLONE_NEWNET), 0);
	close(orig);
}

static void test_boot_split_irqchip(void **state)
{
	static const struct scenario sc = {
		.name = "boot, 2 vCPUs, split irqchip (the IOAPIC in mvm)",
		.cpus = 2,
		.split = true,
	};

	(void)state;
	run_scenario(&sc);
}

static void test_boot_firmware(void **state)
{
	static const struct scenario sc = {
		.name = "boot, a firmware image from the reset vector",
		.cpus = 1,
		.firmware = true,
	};

	(void)state;
	run_scenario(&sc);
}

/* A fresh test server per boot (it serves one client), reaped whatever happened. */
static int vfio_user_scenario_run(const struct scenario *sc)
{
	int lfd = vts_listen(vfio_path), st, err;
	pid_t pid;

	if (lfd < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(lfd);
		return -errno;
	}
	if (pid == 0) {
		int s = accept(lfd, NULL, NULL);

		_exit(s < 0 ? 3 : vts_serve(s, 0));
	}
	close(lfd);
	err = scenario_run(sc);
	kill(pid, SIGKILL); /* still in accept() when the VM failed before connecting */
	waitpid(pid, &st, 0);
	unlink(vfio_path);
	return err;
}

static void test_boot_vfio_user(void **state)
{
	static const struct scenario sc = {
		.name = "boot, a vfio-user device (the test server in a child)",
		.cpus = 1,
		.vfio_user = true,
		.run = vfio_user_scenario_run,
	};

	(void)state;
	snprintf(vfio_path, sizeof(vfio_path), "/tmp/mvm-fault-vfio-%d.sock", (int)getpid());
	run_scenario(&sc);
}

static void test_boot_virtio_balloon(void **state)
{
	static const struct scenario sc = {
		.name = "boot, virtio-balloon (statistics, free page reporting), transparent huge "
			"pages",
		.cpus = 1,
		.balloon = true,
	};

	(void)state;
	run_scenario(&sc);
}

static void test_boot_memory_devices(void **state)
{
	static const struct scenario sc = {
		.name = "boot, virtio-pmem and virtio-mem",
		.cpus = 1,
		.memdev = true,
	};
	int fd;

	(void)state;
	memcpy(disk_path + sizeof(disk_path) - 7, "XXXXXX", 6); /* the disk test used it */
	fd = mkstemp(disk_path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 << 20), 0);
	close(fd);
	run_scenario(&sc);
	unlink(disk_path);
}

/*
 * A booted VM (virtio-rng on virtio-mmio, dirty tracking) snapshotted while
 * paused, then restored from the state and memory files, both torn down.
 */
static int snapshot_scenario_run(const struct scenario *sc)
{
	char state[64], mem[64], err[512], msg[256];
	struct mem_backend backend = { MEM_BACKEND_FILE, mem };
	struct mvm_snapshot *snap;
	struct mvm_config cfg;
	struct vm *vm, *back;
	int r;

	snprintf(state, sizeof(state), "/var/tmp/mvm-fault-%d.state", (int)getpid());
	snprintf(mem, sizeof(mem), "/var/tmp/mvm-fault-%d.mem", (int)getpid());
	mvm_config_init(&cfg);
	cfg.kernel = hello;
	cfg.cpus = sc->cpus;
	cfg.console_out = null_fd;
	cfg.transport = MVM_TRANSPORT_MMIO;
	cfg.track_dirty_pages = true;
	if (mvm_config_parse_device(&cfg, mvm_device_type_find("virtio-rng"), NULL, msg,
				    sizeof(msg)))
		return -EINVAL;
	vm = vm_boot(&cfg);
	if (IS_ERR(vm))
		return (int)PTR_ERR(vm);
	r = vm_pause_before_run(vm);
	if (!r)
		r = vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, state, mem, err, sizeof(err));
	vm_destroy(vm);
	if (!r)
		r = mvm_snapshot_open(state, &snap, err, sizeof(err));
	if (!r) {
		back = vm_restore(&cfg, snap, &backend, err, sizeof(err));
		r = IS_ERR(back) ? (int)PTR_ERR(back) : 0;
		if (!r)
			vm_destroy(back);
		mvm_snapshot_close(snap);
	}
	unlink(state);
	unlink(mem);
	return r;
}

static void test_snapshot_create_restore(void **state)
{
	static const struct scenario sc = {
		.name = "snapshot of a booted VM (virtio-mmio rng, dirty tracking), then restore",
		.cpus = 2,
		.run = snapshot_scenario_run,
	};

	(void)state;
	run_scenario(&sc);
}

/* ---- lazy snapshot memory: the Uffd backend and the working-set prefetch (no VM) ---- */

#define SNAPMEM_SIZE (1UL << 20)

static struct {
	struct snapshot_mem_region r; /* anonymous, as guest RAM */
	int lfd;		      /* the handler's socket: a peer thread takes each message */
	pthread_t peer;
	atomic_bool stop;
	atomic_int busy;
	char path[108];
} snapmem;

static void *snapmem_peer(void *arg)
{
	(void)arg;
	while (!atomic_load(&snapmem.stop)) {
		struct pollfd p = { .fd = snapmem.lfd, .events = POLLIN };
		int conn;

		atomic_store(&snapmem.busy, 1);
		if (poll(&p, 1, 0) != 1) {
			atomic_store(&snapmem.busy, 0);
			poll(&p, 1, 20);
			continue;
		}
		conn = accept4(snapmem.lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn >= 0) {
			char buf[4096];
			union {
				char b[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} ctl;
			struct iovec iov = { buf, sizeof(buf) };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			struct cmsghdr *c;
			int fd;

			mh.msg_control = ctl.b;
			mh.msg_controllen = sizeof(ctl.b);
			if (recvmsg(conn, &mh, MSG_CMSG_CLOEXEC) > 0 && (c = CMSG_FIRSTHDR(&mh))) {
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
				close(fd);
			}
			close(conn);
		}
		atomic_store(&snapmem.busy, 0);
	}
	return NULL;
}

/* Until the peer holds nothing of ours: the process is then what it was. */
static void snapmem_peer_drain(void)
{
	struct pollfd p = { .fd = snapmem.lfd, .events = POLLIN };
	int quiet = 0;

	while (quiet < 3) {
		quiet = !atomic_load(&snapmem.busy) && poll(&p, 1, 0) == 0 ? quiet + 1 : 0;
		usleep(2000);
	}
}

static int snapmem_run(const struct scenario *sc)
{
	struct prefetch_list l, back;
	struct prefetch_thread *t;
	struct uffd_backend *b;
	uint8_t buf[1024];
	long len;
	int err;

	(void)sc;
	b = uffd_backend_create(&snapmem.r, 1, snapmem.path, 5000);
	err = PTR_ERR_OR_ZERO(b);
	uffd_backend_destroy(b);
	snapmem_peer_drain();
	if (err)
		return err;
	/* The pages the handshake left behind are zero pages: record them, as a list. */
	err = prefetch_record(&snapmem.r, 1, &l);
	if (err)
		return err;
	len = prefetch_encode(&l, buf, sizeof(buf));
	if (len > (long)sizeof(buf))
		len = -ENOBUFS;
	err = len < 0 ? (int)len
		      : prefetch_decode(buf, (size_t)len, 4096, SNAPMEM_SIZE / 4096, &back);
	prefetch_list_free(&l);
	if (err)
		return err;
	t = prefetch_start(&snapmem.r, 1, &back);
	err = IS_ERR(t) ? (int)PTR_ERR(t) : prefetch_join(t);
	prefetch_list_free(&back);
	return err;
}

static void test_snapshot_mem(void **state)
{
	static const struct scenario sc = {
		.name = "snapshot memory: Uffd handshake, working-set record, decode and prefetch",
		.run = snapmem_run,
		.host_only = true,
	};
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	uint8_t *mem;
	unsigned int i;
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	(void)state;
	if (fd < 0 && access("/dev/userfaultfd", R_OK | W_OK)) {
		print_message("SKIP: userfaultfd is unavailable here\n");
		skip();
	}
	if (fd >= 0)
		close(fd);
	mem = mmap(NULL, SNAPMEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(mem != MAP_FAILED);
	/* Every other page in memory: 128 runs, so the run array grows. */
	for (i = 0; i < SNAPMEM_SIZE / 4096; i += 2)
		mem[i * 4096] = 1;
	snapmem.r = (struct snapshot_mem_region){ mem, SNAPMEM_SIZE, 0, 4096 };
	snprintf(snapmem.path, sizeof(snapmem.path), "/tmp/mvm-fault-uffd-%d.sock", (int)getpid());
	strcpy(a.sun_path, snapmem.path);
	unlink(snapmem.path);
	snapmem.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(snapmem.lfd >= 0);
	assert_int_equal(bind(snapmem.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(snapmem.lfd, 8), 0);
	assert_int_equal(pthread_create(&snapmem.peer, NULL, snapmem_peer, NULL), 0);
	run_scenario(&sc);
	atomic_store(&snapmem.stop, true);
	pthread_join(snapmem.peer, NULL);
	close(snapmem.lfd);
	unlink(snapmem.path);
	munmap(mem, SNAPMEM_SIZE);
}

/* Every site in the program was made to fail at least once. */
static void test_every_site_covered(void **state)
{
	struct fault_site **s;
	unsigned int sites = 0, uncovered = 0;

	(void)state;
	if (!kvm_here())
		skip();
	for (s = fault_sites_begin(); s < fault_sites_end(); s++) {
		if (!strcmp((*s)->what, "anchor"))
			continue;
		/*
		 * Kernel VFIO needs a host device bound to vfio-pci: its sites are made
		 * to fail against the fake host VFIO (tests/unit/test_vfio_kernel.c).
		 */
		if (strstr((*s)->file, "src/vfio/kernel.c"))
			continue;
		sites++;
		if ((*s)->injected == 0) {
			print_error("uncovered failure point: %s at %s:%d\n", (*s)->what,
				    (*s)->file, (*s)->line);
			uncovered++;
		}
	}
	print_message("fault injection: %lu failure points exercised over %u distinct sites\n",
		      total_points, sites);
#ifdef FAULT_ON_FAKE_KVM
	/* The double's run lists what no scenario reaches; the KVM run insists. */
	if (uncovered)
		print_message("%u failure points no scenario reaches (listed above)\n", uncovered);
#else
	assert_int_equal(uncovered, 0);
#endif
	assert_true(sites > 20);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_one_vcpu),
		cmocka_unit_test(test_boot_smp_pit_console),
		cmocka_unit_test(test_api_server_boot),
		cmocka_unit_test(test_boot_virtio_blk),
		cmocka_unit_test(test_boot_virtio_rng_console),
		cmocka_unit_test(test_boot_virtio_mmio),
		cmocka_unit_test(test_boot_virtio_vsock),
		cmocka_unit_test(test_boot_virtio_net),
		cmocka_unit_test(test_boot_virtio_balloon),
		cmocka_unit_test(test_boot_memory_devices),
		cmocka_unit_test(test_boot_split_irqchip),
		cmocka_unit_test(test_boot_firmware),
		cmocka_unit_test(test_snapshot_mem),
		cmocka_unit_test(test_boot_vfio_user),
		cmocka_unit_test(test_snapshot_create_restore),
		cmocka_unit_test(test_every_site_covered),
	};
	const char *dir = getenv("GUESTS");
	const char *tunables = getenv("GLIBC_TUNABLES");

	/*
	 * glibc's tcache keeps freed chunks counted as in use by mallinfo2():
	 * run without it so the heap comparison is exact.
	 */
	(void)argc;
	if (!tunables || !strstr(tunables, "tcache_count=0")) {
		setenv("GLIBC_TUNABLES", "glibc.malloc.tcache_count=0", 1);
		execv("/proc/self/exe", argv);
		perror("re-executing with glibc.malloc.tcache_count=0");
		return 1;
	}

	snprintf(hello, sizeof(hello), "%s/hello.elf", dir ? dir : "build/guest");
	snprintf(reset_vector, sizeof(reset_vector), "%s/reset-vector.bin",
		 dir ? dir : "build/guest");
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	/* Failures are injected on purpose: their messages are noise here. */
	mvm_log_set_level(-1);
	return cmocka_run_group_tests_name("fault injection", tests, NULL, NULL);
}
