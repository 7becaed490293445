// SPDX-License-Identifier: MIT
/*
 * api-bench - what the API costs on the way to a running guest, beside
 * `mvm run` and the raw-KVM floor, in one run.
 *
 * Each run fork+execs the program with stdout on a pipe and stdin on
 * /dev/null, stamping CLOCK_MONOTONIC in the parent just before fork() (the
 * same for all three programs, so fork costs cancel out), and takes:
 *
 *   mvm --api-sock S
 *     (1) socket        exec -> the socket accepts a connection
 *     (2) start->byte   PUT /actions InstanceStart sent -> first byte of guest
 *                       output (vm_boot on the API thread, hand-over, vm_run);
 *                       boot-source and machine-config were PUT before
 *     (3) exec->byte    exec -> first byte, all of the above included
 *   mvm run --kernel G
 *     (3) exec->byte    exec -> first byte
 *   kvm-floor G
 *     (3) exec->byte    exec -> first byte (one VM, one slot, one vCPU, nothing else)
 *   mvm --version
 *     (4) exec->exit    what starting the mvm binary costs before any VM work
 *                       (the dynamic loader mapping mvm's shared libraries: on
 *                       this nested host every mapping and page fault is dear)
 *
 * Every guest must print "Hello from an mvm guest" and exit 0, else the run is
 * reported and the bench exits 1 (a broken boot is not a figure). Runs are
 * interleaved (api, run, floor, ...) after one untimed warm-up of each, so
 * machine noise hits all alike. Figures are printed, never asserted on.
 * HTTP goes through libcurl (CURLOPT_UNIX_SOCKET_PATH), as mvm's own clients.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o api-bench api-bench.c -lcurl
 * Run:   ./api-bench [-n RUNS] MVM KVM_FLOOR GUEST.elf   (needs /dev/kvm)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#define DEFAULT_RUNS 20
#define TIMEOUT_MS   20000
#define HELLO	     "Hello from an mvm guest"

enum fig {
	F_SOCKET,
	F_START_BYTE,
	F_API_EXEC_BYTE,
	F_RUN_EXEC_BYTE,
	F_FLOOR_EXEC_BYTE,
	F_VERSION,
	NR_FIGS
};

static const char *const fig_names[NR_FIGS] = {
	[F_SOCKET] = "mvm --api-sock: exec -> socket accepts",
	[F_START_BYTE] = "mvm --api-sock: InstanceStart -> 1st byte",
	[F_API_EXEC_BYTE] = "mvm --api-sock: exec -> 1st byte (all API calls)",
	[F_RUN_EXEC_BYTE] = "mvm run: exec -> 1st byte",
	[F_FLOOR_EXEC_BYTE] = "kvm-floor: exec -> 1st byte",
	[F_VERSION] = "mvm --version: exec -> exit (no VM: loading)",
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct child {
	pid_t pid;
	int out; /* read end of its stdout */
	char buf[4096];
	size_t len;
};

static int spawn(struct child *c, char *const argv[])
{
	int p[2];

	if (pipe2(p, O_CLOEXEC))
		return -1;
	c->len = 0;
	c->pid = fork();
	if (c->pid < 0)
		return -1;
	if (c->pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(p[1], 1);
		dup2(null, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	c->out = p[0];
	return 0;
}

/* Reads until the first byte (stamped), then to EOF; returns the exit status or -1. */
static int finish(struct child *c, double *first_byte)
{
	double end = now_ms() + TIMEOUT_MS;
	int status = -1;

	*first_byte = -1;
	for (;;) {
		struct pollfd pf = { .fd = c->out, .events = POLLIN };
		ssize_t n;

		if (poll(&pf, 1, 100) < 0 && errno != EINTR)
			break;
		if (now_ms() > end) {
			kill(c->pid, SIGKILL);
			break;
		}
		if (!(pf.revents & (POLLIN | POLLHUP)))
			continue;
		n = read(c->out, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0)
			break;
		if (*first_byte < 0)
			*first_byte = now_ms();
		c->len += (size_t)n;
		if (c->len == sizeof(c->buf) - 1)
			c->len = 0; /* keep reading; the greeting comes first */
	}
	c->buf[c->len] = '\0';
	close(c->out);
	if (waitpid(c->pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static size_t discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

/* One request; the HTTP status or -1. */
static long api(const char *sock, const char *method, const char *path, const char *json)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/json");
	char url[256];
	long code = -1;

	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, json);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return code;
}

static bool accepts(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

static bool check(const char *what, int rc, struct child *c)
{
	if (rc == 0 && strstr(c->buf, HELLO))
		return true;
	fprintf(stderr, "api-bench: %s: broken run (exit %d), output: %.200s\n", what, rc, c->buf);
	return false;
}

static bool run_api(const char *mvm, const char *guest, const char *dir, double fig[NR_FIGS])
{
	char sock[100], body[512];
	char *argv[] = { (char *)mvm, "--api-sock", sock, NULL };
	struct child c;
	double t0, t1, fb;
	int rc;

	snprintf(sock, sizeof(sock), "%s/bench.sock", dir);
	t0 = now_ms();
	if (spawn(&c, argv))
		return false;
	while (!accepts(sock)) {
		if (now_ms() - t0 > TIMEOUT_MS || waitpid(c.pid, NULL, WNOHANG)) {
			kill(c.pid, SIGKILL);
			finish(&c, &fb);
			fprintf(stderr, "api-bench: the API socket never accepted\n");
			return false;
		}
		usleep(50);
	}
	fig[F_SOCKET] = now_ms() - t0;
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", guest);
	if (api(sock, "PUT", "/boot-source", body) != 204 ||
	    api(sock, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 128}") !=
		    204) {
		kill(c.pid, SIGKILL);
		finish(&c, &fb);
		fprintf(stderr, "api-bench: configuring failed\n");
		return false;
	}
	t1 = now_ms();
	if (api(sock, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}") != 204) {
		kill(c.pid, SIGKILL);
		finish(&c, &fb);
		fprintf(stderr, "api-bench: InstanceStart failed\n");
		return false;
	}
	rc = finish(&c, &fb);
	fig[F_START_BYTE] = fb - t1;
	fig[F_API_EXEC_BYTE] = fb - t0;
	return check("mvm --api-sock", rc, &c);
}

static bool run_plain(char *const argv[], const char *what, double *fig)
{
	struct child c;
	double t0 = now_ms(), fb;
	int rc;

	if (spawn(&c, argv))
		return false;
	rc = finish(&c, &fb);
	*fig = fb - t0;
	return check(what, rc, &c);
}

/* exec -> exit of `mvm --version`. */
static bool run_version(const char *mvm, double *fig)
{
	char *argv[] = { (char *)mvm, "--version", NULL };
	struct child c;
	double t0 = now_ms(), fb;
	int rc;

	if (spawn(&c, argv))
		return false;
	rc = finish(&c, &fb);
	*fig = now_ms() - t0;
	return rc == 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = DEFAULT_RUNS, i, f, argi = 1;
	char dir[] = "/tmp/mvm-api-bench-XXXXXX", rundir[64];
	double *figs[NR_FIGS], one[NR_FIGS];

	if (argc > 2 && !strcmp(argv[1], "-n")) {
		runs = atoi(argv[2]);
		argi = 3;
	}
	if (argc - argi != 3 || runs < 1 || runs > 10000) {
		fprintf(stderr, "usage: api-bench [-n RUNS] MVM KVM_FLOOR GUEST.elf\n");
		return 2;
	}
	if (access("/dev/kvm", R_OK | W_OK)) {
		printf("api-bench: SKIP: /dev/kvm is not accessible\n");
		return 0;
	}
	const char *mvm = argv[argi], *floor = argv[argi + 1], *guest = argv[argi + 2];
	char *run_argv[] = { (char *)mvm, "run", "--kernel", (char *)guest, NULL };
	char *floor_argv[] = { (char *)floor, (char *)guest, NULL };

	if (!mkdtemp(dir))
		return 1;
	/* The VMMs register in a runtime directory of the bench's own. */
	snprintf(rundir, sizeof(rundir), "%s/run", dir);
	mkdir(rundir, 0700);
	setenv("XDG_RUNTIME_DIR", rundir, 1);
	signal(SIGPIPE, SIG_IGN);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	for (f = 0; f < NR_FIGS; f++)
		figs[f] = calloc((size_t)runs, sizeof(double));

	/* Warm-up: page cache, first-exec costs. */
	if (!run_api(mvm, guest, dir, one) || !run_plain(run_argv, "mvm run", &one[0]) ||
	    !run_plain(floor_argv, "kvm-floor", &one[0]))
		return 1;
	for (i = 0; i < runs; i++) {
		if (!run_api(mvm, guest, dir, one) ||
		    !run_plain(run_argv, "mvm run", &one[F_RUN_EXEC_BYTE]) ||
		    !run_plain(floor_argv, "kvm-floor", &one[F_FLOOR_EXEC_BYTE]) ||
		    !run_version(mvm, &one[F_VERSION]))
			return 1;
		for (f = 0; f < NR_FIGS; f++)
			figs[f][i] = one[f];
	}
	printf("api-bench: %d interleaved runs of %s (128 MiB, 1 vCPU), ms\n", runs, guest);
	printf("  %-50s %9s %9s %9s\n", "", "min", "median", "max");
	for (f = 0; f < NR_FIGS; f++) {
		qsort(figs[f], (size_t)runs, sizeof(double), cmp);
		printf("  %-50s %9.2f %9.2f %9.2f\n", fig_names[f], figs[f][0], figs[f][runs / 2],
		       figs[f][runs - 1]);
	}
	printf("  ratios of medians: API exec->byte / mvm run %.2f, mvm run / kvm-floor %.2f, "
	       "API exec->byte / kvm-floor %.2f\n",
	       figs[F_API_EXEC_BYTE][runs / 2] / figs[F_RUN_EXEC_BYTE][runs / 2],
	       figs[F_RUN_EXEC_BYTE][runs / 2] / figs[F_FLOOR_EXEC_BYTE][runs / 2],
	       figs[F_API_EXEC_BYTE][runs / 2] / figs[F_FLOOR_EXEC_BYTE][runs / 2]);
	rmdir(rundir);
	rmdir(dir);
	curl_global_cleanup();
	return 0;
}
