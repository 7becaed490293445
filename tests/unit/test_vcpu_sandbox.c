// SPDX-License-Identifier: MIT
/*
 * What a guest's driver makes a vCPU thread do, under the vCPU thread's
 * real seccomp filter: in a fork()ed child (a kill must not take the test
 * runner) the VM and its devices are built unfiltered, as the VMM's main
 * thread builds them; then a thread enters SANDBOX_VCPU, as vCPU threads
 * do before their first KVM_RUN, and performs the register accesses that
 * KVM would hand it as MMIO exits: feature negotiation, queue set-up,
 * DRIVER_OK (the device's activation), notifications that reach user
 * space, config reads and writes, and resets (the device's teardown of its
 * queues and back end), on both transports. A call missing from the list
 * kills the child with mvm's one-line SIGSYS message, which the test shows.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

#define QSZ	 8
#define RING(q)	 (0x10000ULL + (q)*0x3000ULL) /* desc; avail +0x1000; used +0x2000 */
#define CHILD_OK 0

struct guest_case {
	const char *type; /* device type */
	const char *opts; /* its options; %s: a scratch file or directory */
	uint16_t device_id;
	unsigned int queues;
	uint64_t features; /* besides VERSION_1 */
	bool file;	   /* %s is a 2 MiB file (else a directory's socket path) */
};

static const struct guest_case cases[] = {
	{ "virtio-rng", "", 4, 1, 0, false },
	{ "virtio-blk", "%s", 2, 1, 0, true },
	{ "virtio-balloon", "1,stats_polling_interval_s=1,deflate_on_oom", 5, 3,
	  1ULL << 1 | 1ULL << 2, false },
	{ "virtio-pmem", "%s", 27, 1, 0, true },
	{ "virtio-mem", "128", 24, 1, 0, false },
	{ "virtio-vsock", "cid=3,uds=%s", 19, 3, 1ULL << 0, false },
};

struct guest_job {
	struct vdrv *d;
	const struct guest_case *c;
	int result;
};

/* Driver set-up to DRIVER_OK, a notification on every queue, a config read. */
static void guest_bring_up(struct vdrv *d, const struct guest_case *c)
{
	vdrv_negotiate(d, c->features | 1ULL << VIRTIO_F_VERSION_1);
	for (unsigned int q = 0; q < c->queues; q++)
		vdrv_queue(d, q, QSZ, RING(q), RING(q) + 0x1000, RING(q) + 0x2000);
	vdrv_driver_ok(d);
	for (unsigned int q = 0; q < c->queues; q++)
		vdrv_wr(d, d->transport == MVM_TRANSPORT_PCI ? 0x3000 + 4 * q : 0x050, q, 4);
	(void)vdrv_config(d, 0, 4);
	(void)vdrv_isr(d);
}

/* The vCPU thread: its filter first, then only what a guest can make it do. */
static void *guest_vcpu(void *arg)
{
	struct guest_job *job = arg;
	struct vdrv *d = job->d;

	if (sandbox_enter(SANDBOX_VCPU)) {
		job->result = 2;
		return NULL;
	}
	guest_bring_up(d, job->c);
	/* A driver resets the device (module unload, kexec, reboot) and starts over. */
	vdrv_set_status(d, 0);
	guest_bring_up(d, job->c);
	/* A broken driver: DRIVER_OK cleared without a reset, then a reset. */
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_set_status(d, 0);
	job->result = vdrv_status(d) == 0 ? CHILD_OK : 3;
	return NULL;
}

/* A 2 MiB file, or a socket's path in a fresh directory. */
static void make_scratch(const struct guest_case *c, char *path, size_t len)
{
	int fd;

	if (c->file) {
		snprintf(path, len, "/tmp/mvm-vcpu-sb-XXXXXX");
		fd = mkstemp(path);
		if (fd < 0 || ftruncate(fd, 2 << 20))
			_exit(4);
		close(fd);
	} else {
		char dir[64];

		snprintf(dir, sizeof(dir), "/tmp/mvm-vcpu-sb-XXXXXX");
		if (!mkdtemp(dir))
			_exit(4);
		snprintf(path, len, "%s/v.sock", dir);
	}
}

/* The child: builds the VM unfiltered, runs the guest's side on a sandboxed thread. */
static int guest_child(const struct guest_case *c, enum mvm_transport transport)
{
	const struct mvm_device_type *t = mvm_device_type_find(c->type);
	struct guest_job job = { .result = 1 };
	struct virtio_dev *vdev = NULL;
	char path[128] = "", opts[256], msg[256];
	struct mvm_config cfg;
	struct mvm_device *dev;
	struct vdrv d;
	pthread_t th;

	if (!t || sandbox_configure(SANDBOX_ON, NULL))
		return 5;
	make_scratch(c, path, sizeof(path));
	snprintf(opts, sizeof(opts), c->opts, path);
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	if (mvm_config_parse_device(&cfg, t, opts, msg, sizeof(msg))) {
		fprintf(stderr, "%s: %s\n", c->type, msg);
		return 6;
	}
	vdrv_vm(&d, transport);
	if ((t->reserve_memory && t->reserve_memory(d.vm, cfg.devices[0].blob, 0)) ||
	    t->create(d.vm, cfg.devices[0].blob, 0))
		return 7;
	list_for_each_entry (dev, &d.vm->devices, node)
		if (!strcmp(dev->type, c->type))
			vdev = to_virtio_dev(dev);
	if (!vdev)
		return 8;
	vdrv_attach(&d, vdev, c->device_id);
	job.d = &d;
	job.c = c;
	if (pthread_create(&th, NULL, guest_vcpu, &job) || pthread_join(th, NULL))
		return 9;
	vdrv_fini(&d);
	if (c->file)
		unlink(path);
	else
		rmdir(dirname(path));
	return job.result;
}

/* Runs one case in a child: its wait status; what it printed in err. */
static int run_case(const struct guest_case *c, enum mvm_transport transport, char *err, size_t len)
{
	int pfd[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		mvm_log_set_level(0); /* the SIGSYS line, and only errors */
		_exit(guest_child(c, transport));
	}
	close(pfd[1]);
	while (got < (ssize_t)len - 1 && (n = read(pfd[0], err + got, len - 1 - got)) > 0)
		got += n;
	err[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_guest_device_paths_under_vcpu_filter(void **state)
{
	enum mvm_transport transport = vdrv_transport(state);
	char err[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int st = run_case(&cases[i], transport, err, sizeof(err));

		if (!WIFEXITED(st) || WEXITSTATUS(st) != CHILD_OK)
			fail_msg("%s: status %d, said: %s", cases[i].type, st, err);
		assert_null(strstr(err, "seccomp"));
	}
}

/* The test can fail: a vCPU thread that opens a network socket is killed, with its line. */
static void test_vcpu_filter_kills_and_says_so(void **state)
{
	char err[256] = "";
	int pfd[2], st;
	ssize_t n;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		if (sandbox_configure(SANDBOX_ON, NULL) || sandbox_enter(SANDBOX_VCPU))
			_exit(2);
		_exit(socket(AF_INET, SOCK_STREAM, 0) < 0 ? 1 : 0);
	}
	close(pfd[1]);
	n = read(pfd[0], err, sizeof(err) - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSYS);
	assert_non_null(strstr(err, "the vcpu thread made a forbidden system call: socket"));
}

int run_vcpu_sandbox_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_guest_device_paths_under_vcpu_filter),
		cmocka_unit_test(test_vcpu_filter_kills_and_says_so),
	};

	return cmocka_run_group_tests_name("vcpu filter: guest-driven device paths", tests, NULL,
					   NULL);
}
