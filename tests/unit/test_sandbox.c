// SPDX-License-Identifier: MIT
/*
 * The seccomp filters as data and as installed programs (in fork()ed
 * children: a kill must not take the test runner), and the log rate limit.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "unit.h"

/* What a sandboxed child tries; its exit status 0 means "allowed". */
enum probe {
	PROBE_KVM_RUN,	      /* vcpu: ioctl KVM_RUN (EBADF on fd -1: allowed) */
	PROBE_KVM_CREATE_VM,  /* vcpu: not on the list */
	PROBE_MMAP_EXEC,      /* any thread: PROT_EXEC */
	PROBE_MMAP_RW,	      /* api: plain anonymous memory */
	PROBE_SOCKET_UNIX,    /* api: AF_UNIX */
	PROBE_SOCKET_INET,    /* api: AF_INET */
	PROBE_FORK,	      /* vmm: clone without CLONE_THREAD */
	PROBE_OPENAT_METRICS, /* metrics: opening anything */
	PROBE_FILTERED,	      /* api, vmm: the thread knows it is filtered */
};

static int probe(enum probe p)
{
	void *m;
	int fd;

	switch (p) {
	case PROBE_KVM_RUN:
		return ioctl(-1, KVM_RUN, 0) < 0 && errno == EBADF ? 0 : 1;
	case PROBE_KVM_CREATE_VM:
		return ioctl(-1, KVM_CREATE_VM, 0) < 0 ? 0 : 1;
	case PROBE_MMAP_EXEC:
	case PROBE_MMAP_RW:
		m = mmap(NULL, 4096, PROT_READ | (p == PROBE_MMAP_EXEC ? PROT_EXEC : PROT_WRITE),
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		return m == MAP_FAILED;
	case PROBE_SOCKET_UNIX:
	case PROBE_SOCKET_INET:
		fd = socket(p == PROBE_SOCKET_UNIX ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
		return fd < 0;
	case PROBE_FORK:
		return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0) < 0;
	case PROBE_OPENAT_METRICS:
		return open("/dev/null", O_RDONLY) < 0;
	case PROBE_FILTERED:
		return !sandbox_thread_filtered();
	}
	return 1;
}

/* Runs probe p in a child under type's filter: its wait status; its stderr in err. */
static int sandboxed(enum sandbox_thread type, enum probe p, char *err, size_t len)
{
	int pfd[2], status = -1;
	ssize_t n;
	pid_t pid;

	assert_int_equal(pipe(pfd), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(pfd[1], STDERR_FILENO);
		/* cmocka took SIGSYS for itself: mvm's handler back (compiles again too). */
		if (sandbox_configure(sandbox_mode(), NULL) || sandbox_enter(type))
			_exit(2);
		_exit(probe(p));
	}
	close(pfd[1]);
	n = read(pfd[0], err, len - 1);
	err[n > 0 ? n : 0] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int setup_on(void **state)
{
	(void)state;
	return sandbox_configure(SANDBOX_ON, NULL);
}

static int teardown_off(void **state)
{
	(void)state;
	sandbox_reset();
	return 0;
}

static void expect_allowed(enum sandbox_thread t, enum probe p)
{
	char err[256];
	int st = sandboxed(t, p, err, sizeof(err));

	if (err[0])
		print_error("%s", err);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_string_equal(err, "");
}

static void expect_killed(enum sandbox_thread t, enum probe p, const char *call)
{
	char err[256], want[128];
	int st = sandboxed(t, p, err, sizeof(err));

	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 128 + SIGSYS);
	snprintf(want, sizeof(want),
		 "mvm: seccomp: the %s thread made a forbidden system call: %s (",
		 sandbox_thread_name(t), call);
	assert_non_null(strstr(err, want));
	/* One line. */
	assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);
}

static void test_vcpu_filter(void **state)
{
	(void)state;
	expect_allowed(SANDBOX_VCPU, PROBE_KVM_RUN);
	/* device code run by a guest's register write allocates on this thread */
	expect_allowed(SANDBOX_VCPU, PROBE_MMAP_RW);
	expect_killed(SANDBOX_VCPU, PROBE_KVM_CREATE_VM, "ioctl");
	expect_killed(SANDBOX_VCPU, PROBE_MMAP_EXEC, "mmap");
}

static void test_api_filter(void **state)
{
	(void)state;
	expect_allowed(SANDBOX_API, PROBE_MMAP_RW);
	/* AF_UNIX only (vsock's host side, a tap's name check); never the network. */
	expect_allowed(SANDBOX_API, PROBE_SOCKET_UNIX);
	expect_killed(SANDBOX_API, PROBE_SOCKET_INET, "socket");
	expect_killed(SANDBOX_API, PROBE_MMAP_EXEC, "mmap");
	/* Where a library may still be mapped: not under a filter. */
	assert_false(sandbox_thread_filtered());
	expect_allowed(SANDBOX_API, PROBE_FILTERED);
}

static void test_vmm_filter(void **state)
{
	(void)state;
#ifndef __SANITIZE_ADDRESS__ /* LSan's tracer needs a non-thread clone */
	expect_killed(SANDBOX_VMM, PROBE_FORK, "clone");
#endif
	expect_killed(SANDBOX_VMM, PROBE_MMAP_EXEC, "mmap");
	expect_allowed(SANDBOX_VMM, PROBE_FILTERED);
}

static void test_metrics_filter(void **state)
{
	(void)state;
#ifndef __SANITIZE_ADDRESS__ /* the sanitizer runtime opens /proc files */
	expect_killed(SANDBOX_METRICS, PROBE_OPENAT_METRICS, "openat");
#else
	expect_killed(SANDBOX_METRICS, PROBE_SOCKET_INET, "socket");
#endif
}

static void test_off_sets_nnp_only(void **state)
{
	char err[256];
	int st;

	(void)state;
	sandbox_reset(); /* SANDBOX_OFF */
	st = sandboxed(SANDBOX_VCPU, PROBE_SOCKET_INET, err, sizeof(err));
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_ratelimit(void **state)
{
	struct mvm_ratelimit rl = MVM_RATELIMIT_INIT(1000, 3);
	const uint64_t s = 1000000000ULL;
	unsigned int i, allowed = 0, sup = 99;

	(void)state;
	/* A guest loops an error 1000 times in 0.1 s: 3 lines. */
	for (i = 0; i < 1000; i++)
		allowed += mvm_ratelimit_allow(&rl, 5 * s + i * 100000ULL, &sup);
	assert_int_equal(allowed, 3);
	/* The next interval's first line reports the 997 suppressed, once. */
	assert_true(mvm_ratelimit_allow(&rl, 6 * s + 1, &sup));
	assert_int_equal(sup, 997);
	assert_true(mvm_ratelimit_allow(&rl, 6 * s + 2, &sup));
	assert_int_equal(sup, 0);
	/* 10 s of a loop at 1 kHz: at most burst * 10 (+ the one interval begun) lines. */
	for (allowed = 0, i = 0; i < 10000; i++)
		allowed += mvm_ratelimit_allow(&rl, 7 * s + i * 1000000ULL, &sup);
	assert_true(allowed <= 3 * 11);
	assert_true(allowed >= 3 * 10);
}

int run_sandbox_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vcpu_filter, setup_on, teardown_off),
		cmocka_unit_test_setup_teardown(test_api_filter, setup_on, teardown_off),
		cmocka_unit_test_setup_teardown(test_vmm_filter, setup_on, teardown_off),
		cmocka_unit_test_setup_teardown(test_metrics_filter, setup_on, teardown_off),
		cmocka_unit_test(test_off_sets_nnp_only),
		cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
