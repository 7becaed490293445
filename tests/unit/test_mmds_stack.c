// SPDX-License-Identifier: MIT
/*
 * The MMDS's guest-facing TCP/IP, with Linux as the guest: the test moves
 * into a network namespace of its own, opens a tap there and plays the
 * device: frames the namespace's kernel sends out of the tap go through
 * mmds_stack_claims()/mmds_stack_input(), the stack's frames are written
 * back into the tap. curl, run in the namespace, is the guest's client:
 * V1 and V2 (token) requests, IMDS and JSON answers, several connections in
 * a row. Skips without namespaces, /dev/net/tun, ip or curl.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvm/loop.h"
#include "mvm/mmds.h"
#include "net/mmds_stack.h"
#include "unit.h"
#include "vdrv.h"

#define TAP "mvmm0"

struct senv {
	int orig_ns, tap;
	struct mvm_loop loop;
	struct mmds *m;
	struct mmds_stack *s;
	unsigned int to_tap, claimed, passed;
};

static void to_guest(void *opaque, const uint8_t *frame, size_t len)
{
	struct senv *e = opaque;

	if (write(e->tap, frame, len) == (ssize_t)len)
		e->to_tap++;
}

static bool senv_up(struct senv *e, enum mmds_version version)
{
	struct ifreq ifr = { 0 };
	struct mmds_config c = { .version = version, .nr_ifaces = 1 };
	json_t *j;
	char msg[128];

	e->tap = -1;
	e->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (e->orig_ns < 0 || system("command -v ip >/dev/null && command -v curl >/dev/null") ||
	    unshare(CLONE_NEWNET))
		return false;
	e->tap = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (e->tap < 0 || ioctl(e->tap, TUNSETIFF, &ifr) < 0)
		return false;
	if (system("echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6; "
		   "ip addr add 10.9.0.2/24 dev " TAP " && ip link set " TAP " up && "
		   "ip route add 169.254.169.254 dev " TAP))
		return false;
	assert_int_equal(loop_init(&e->loop), 0);
	e->m = mmds_create(MMDS_DEFAULT_LIMIT);
	j = json_loads("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\", "
		       "\"reservation-id\": \"r-79054aef\"}}}",
		       0, NULL);
	assert_int_equal(mmds_put(e->m, j, msg, sizeof(msg)), 0);
	json_decref(j);
	c.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	strcpy(c.ifaces[0], "eth0");
	mmds_set_config(e->m, &c);
	e->s = mmds_stack_create(e->m, c.ipv4, &e->loop, to_guest, e);
	assert_non_null(e->s);
	return true;
}

static void senv_down(struct senv *e)
{
	mmds_stack_destroy(e->s);
	mmds_destroy(e->m);
	if (e->s)
		loop_fini(&e->loop);
	if (e->tap >= 0)
		close(e->tap);
	if (e->orig_ns >= 0) {
		assert_int_equal(setns(e->orig_ns, CLONE_NEWNET), 0);
		close(e->orig_ns);
	}
}

/* Runs a shell command in the namespace while serving the tap; its stdout (free it). */
static char *guest_run(struct senv *e, const char *cmd, int *status)
{
	static char out[8192];
	size_t olen = 0;
	int p[2], st = -1;
	time_t end = time(NULL) + 20;
	pid_t pid;

	assert_int_equal(pipe(p), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	while (time(NULL) < end) {
		struct pollfd fds[3] = { { e->tap, POLLIN, 0 },
					 { e->loop.epfd, POLLIN, 0 },
					 { p[0], POLLIN, 0 } };
		uint8_t frame[2048];
		ssize_t n;

		poll(fds, 3, 100);
		if (fds[0].revents & POLLIN) {
			n = read(e->tap, frame, sizeof(frame));
			if (n > 0 && mmds_stack_claims(e->s, frame, (size_t)n)) {
				e->claimed++;
				mmds_stack_input(e->s, frame, (size_t)n);
			} else if (n > 0) {
				e->passed++;
			}
		}
		if (fds[1].revents & POLLIN) {
			struct epoll_event ev;

			if (epoll_wait(e->loop.epfd, &ev, 1, 0) == 1)
				vdrv_loop_dispatch(ev.data.ptr, ev.events);
		}
		while ((n = read(p[0], out + olen, sizeof(out) - 1 - olen)) > 0)
			olen += (size_t)n;
		if (n == 0 && waitpid(pid, &st, WNOHANG) == pid)
			break;
	}
	if (st == -1) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	close(p[0]);
	out[olen] = '\0';
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
	return strdup(out);
}

static void test_mmds_guest_v1(void **state)
{
	struct senv e = { 0 };
	char *out;
	int st;

	(void)state;
	if (!senv_up(&e, MMDS_V1)) {
		senv_down(&e);
		print_message("SKIP: no network namespace, /dev/net/tun, ip or curl here\n");
		skip();
	}
	out = guest_run(&e, "curl -s -m 5 http://169.254.169.254/latest/meta-data/ami-id", &st);
	assert_int_equal(st, 0);
	assert_string_equal(out, "ami-87654321");
	free(out);
	/* A second connection, and the listing in IMDS form. */
	out = guest_run(&e, "curl -s -m 5 http://169.254.169.254/latest/meta-data/", &st);
	assert_int_equal(st, 0);
	assert_string_equal(out, "ami-id\nreservation-id");
	free(out);
	out = guest_run(&e,
			"curl -s -m 5 -H 'Accept: application/json' "
			"http://169.254.169.254/latest/meta-data",
			&st);
	assert_string_equal(out, "{\"ami-id\":\"ami-87654321\",\"reservation-id\":\"r-79054aef\"}");
	free(out);
	/* Two requests on one connection (keep-alive), then a 404. */
	out = guest_run(&e,
			"curl -s -m 5 http://169.254.169.254/latest/meta-data/ami-id "
			"http://169.254.169.254/latest/meta-data/reservation-id; "
			"curl -s -m 5 -o /dev/null -w ' %{http_code}' http://169.254.169.254/nope",
			&st);
	assert_string_equal(out, "ami-87654321r-79054aef 404");
	free(out);
	assert_true(e.claimed > 0);
	assert_true(e.to_tap > 0);
	/* The guest's other traffic is not the MMDS's. */
	out = guest_run(&e, "curl -s -m 1 http://10.9.0.1/ >/dev/null 2>&1; echo done", &st);
	assert_true(e.passed > 0);
	free(out);
	assert_true(counter_read(&mmds_stats(e.m)->requests) >= 6);
	senv_down(&e);
}

static void test_mmds_guest_v2(void **state)
{
	struct senv e = { 0 };
	char *out;
	int st;

	(void)state;
	if (!senv_up(&e, MMDS_V2)) {
		senv_down(&e);
		print_message("SKIP: no network namespace, /dev/net/tun, ip or curl here\n");
		skip();
	}
	out = guest_run(&e,
			"curl -s -m 5 -o /dev/null -w '%{http_code}' "
			"http://169.254.169.254/latest/meta-data/ami-id",
			&st);
	assert_string_equal(out, "401");
	free(out);
	out = guest_run(&e,
			"T=$(curl -s -m 5 -X PUT -H 'X-metadata-token-ttl-seconds: 60' "
			"http://169.254.169.254/latest/api/token) && "
			"curl -s -m 5 -H \"X-metadata-token: $T\" "
			"http://169.254.169.254/latest/meta-data/ami-id",
			&st);
	assert_int_equal(st, 0);
	assert_string_equal(out, "ami-87654321");
	free(out);
	senv_down(&e);
}

int run_mmds_stack_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmds_guest_v1),
		cmocka_unit_test(test_mmds_guest_v2),
	};

	return cmocka_run_group_tests_name("MMDS with Linux as the guest (own netns)", tests, NULL,
					   NULL);
}
