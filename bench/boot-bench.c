// SPDX-License-Identifier: MIT
/*
 * boot-bench - time a whole guest life cycle under mvm against the raw-KVM
 * floor (kvm-floor), as a user sees it: a process is started, the guest
 * prints, the process is gone.
 *
 * For every run, each program is fork+exec'd with stdout on a pipe and
 * stdin on /dev/null (mvm leaves a non-terminal stdin alone, so neither
 * program touches the console), and three intervals are taken on
 * CLOCK_MONOTONIC:
 *
 *   (a) first byte     execve() -> first byte of guest output on the pipe
 *                       (VM creation, ELF load, boot to the first COM1 byte)
 *   (a') first line    execve() -> first newline on the pipe.  kvm-floor
 *                       line-buffers its stdout and mvm writes every byte
 *                       as the guest sends it, so (a) flatters mvm by a
 *                       line's worth of port exits; (a') is like for like.
 *   (b) exit           execve() -> child reaped by wait4()
 *                       (all of (a), the rest of the guest, VM teardown,
 *                       process exit)
 *
 * The start is stamped by the child itself right before execve(), and sent
 * to the parent on a close-on-exec pipe; CLOCK_MONOTONIC is system-wide, so
 * the stamp compares with the parent's.  This keeps fork() and the parent's
 * scheduling out of the figures.  Both programs give the guest 128 MiB.
 *
 * Runs are interleaved (floor, mvm, floor, mvm, ...) so that machine noise
 * hits both alike, after one untimed warm-up pair (page cache, first-exec
 * costs).  Every run must print "Hello from an mvm guest" and exit 0, else
 * the bench reports the run and exits 1: a broken boot is not a figure.
 * One more mvm run with --stats gives the VMM's memory, from the "process"
 * block of the stats tree.  Times are printed, never asserted on.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o boot-bench boot-bench.c
 * Run:   ./boot-bench [-n RUNS] MVM KVM_FLOOR GUEST.elf   (needs /dev/kvm)
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
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RUNS   30
#define MAX_RUNS       10000
#define RUN_TIMEOUT_MS 10000 /* a run that takes this long is broken */
#define OUT_KEEP       4096  /* guest output kept for the check */
#define HELLO	       "Hello from an mvm guest"

enum metric {
	FIRST_BYTE, /* (a) */
	FIRST_LINE, /* (a') */
	EXITED,	    /* (b) */
	NR_METRICS
};

static const char *const metric_names[NR_METRICS] = {
	[FIRST_BYTE] = "(a) 1st byte",
	[FIRST_LINE] = "(a') 1st line",
	[EXITED] = "(b) exit",
};

/* What one run of one program gave. */
struct run {
	double ms[NR_METRICS]; /* < 0: not reached */
	int status;	       /* from wait4() */
	long maxrss_kib;       /* ru_maxrss */
	long fork_rss_kib;     /* our forked copy's RSS at execve() */
	bool timed_out;
	char out[OUT_KEEP];
	size_t out_len;
};

/* One program under test and its samples. */
struct prog {
	const char *name;
	char **argv;
	double *ms[NR_METRICS]; /* one sample per timed run */
	long maxrss_kib;	/* largest over the timed runs */
	long fork_rss_kib;	/* ditto */
};

/* What the child sends before its execve(). */
struct exec_stamp {
	struct timespec t0;
	long rss_kib;
};

/* The "process" block of mvm's stats tree. */
struct vmm_mem {
	long rss_anon, rss_file, rss_shmem, vm_hwm;
};

static double ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e3 + (b->tv_nsec - a->tv_nsec) / 1e6;
}

/* Read up to @len bytes, stopping early only at EOF.  Returns bytes read. */
static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, (char *)buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		done += n;
	}
	return done;
}

/*
 * Our resident set in KiB from /proc/self/statm, -1 if unknown.  Runs in
 * the child between fork() and execve(): no stdio.
 */
static long statm_rss_kib(void)
{
	char buf[128], *p;
	long pages = 0;
	ssize_t n;
	int fd;

	fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strchr(buf, ' '); /* "size resident shared ..." */
	if (!p)
		return -1;
	for (p++; *p >= '0' && *p <= '9'; p++)
		pages = pages * 10 + (*p - '0');
	return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

/*
 * The child's side of spawn(): plumb the fds, stamp the time, exec.  On
 * failure, errno follows the stamp on @st_w so that the parent can tell a
 * failed exec from a guest that fails.
 *
 * The RSS goes along because execve() folds the peak RSS of the mm it
 * drops (this forked copy of boot-bench) into the process's ru_maxrss:
 * wait4() can never report less than it.
 */
static void __attribute__((noreturn))
child_exec(char *const argv[], int null_fd, int out_w, int err_fd, int st_w)
{
	struct exec_stamp st = { .rss_kib = -1 };
	int err = 0;

	if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
	    (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)) {
		err = errno;
	} else {
		st.rss_kib = statm_rss_kib();
		clock_gettime(CLOCK_MONOTONIC, &st.t0);
	}
	/* The stamp goes first whatever happens: the parent expects it. */
	if (write(st_w, &st, sizeof(st)) != sizeof(st))
		_exit(127);
	if (!err) {
		execv(argv[0], argv);
		err = errno;
	}
	/* Only a failure gets here; if errno cannot be sent, EOF says EPIPE. */
	if (write(st_w, &err, sizeof(err)) != sizeof(err))
		_exit(126);
	_exit(127);
}

/*
 * Start @argv with stdout on a pipe (*out_r) and stderr on @err_fd (or
 * inherited if < 0).  Waits until the execve() is done: on return, *st is
 * the child's stamp taken just before it.
 */
static int spawn(char *const argv[], int err_fd, pid_t *pid, int *out_r, struct exec_stamp *st_out)
{
	int out[2], st[2], null_fd, err = EPIPE, ret = -1;
	ssize_t n;

	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0) {
		perror("boot-bench: /dev/null");
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		perror("boot-bench: pipe");
		goto out_null;
	}
	if (pipe2(st, O_CLOEXEC) < 0) {
		perror("boot-bench: pipe");
		goto err_out;
	}

	*pid = fork();
	if (*pid < 0) {
		perror("boot-bench: fork");
		goto err_st;
	}
	if (*pid == 0)
		child_exec(argv, null_fd, out[1], err_fd, st[1]);

	close(st[1]);
	st[1] = -1;
	close(out[1]);
	out[1] = -1;

	/* The stamp, then EOF when execve() closes st[1], or its errno. */
	n = read_full(st[0], st_out, sizeof(*st_out));
	if (n == sizeof(*st_out))
		n = read_full(st[0], &err, sizeof(err));
	else
		n = -1; /* the child died before it could say: EPIPE */
	if (n != 0) {
		fprintf(stderr, "boot-bench: cannot run %s: %s\n", argv[0], strerror(err));
		waitpid(*pid, NULL, 0);
		goto err_st;
	}
	*out_r = out[0];
	out[0] = -1;
	ret = 0;

err_st:
	close(st[0]);
	if (st[1] >= 0)
		close(st[1]);
err_out:
	if (out[0] >= 0)
		close(out[0]);
	if (out[1] >= 0)
		close(out[1]);
out_null:
	close(null_fd);
	return ret;
}

/* Milliseconds left until @deadline, 0 if it has passed. */
static int ms_left(const struct timespec *deadline)
{
	struct timespec now;
	double left;

	clock_gettime(CLOCK_MONOTONIC, &now);
	left = ms_between(&now, deadline);
	return left > 0 ? (int)left + 1 : 0;
}

/*
 * Read the guest's output until EOF (the child has exited, or at least
 * closed stdout), stamping the first byte and the first newline.  Returns
 * 0 at EOF, 1 on timeout (r->timed_out), -1 on error.
 */
static int collect_output(int fd, const struct timespec *t0, struct run *r)
{
	struct timespec deadline = *t0, now;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];
	size_t keep;
	ssize_t n;
	int left;

	deadline.tv_sec += RUN_TIMEOUT_MS / 1000;
	for (;;) {
		left = ms_left(&deadline);
		if (!left) {
			r->timed_out = true;
			return 1;
		}
		if (poll(&p, 1, left) <= 0)
			continue; /* EINTR or timeout: the loop decides */
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			perror("boot-bench: read");
			return -1;
		}
		if (n == 0)
			return 0;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (r->ms[FIRST_BYTE] < 0)
			r->ms[FIRST_BYTE] = ms_between(t0, &now);
		if (r->ms[FIRST_LINE] < 0 && memchr(buf, '\n', n))
			r->ms[FIRST_LINE] = ms_between(t0, &now);
		keep = sizeof(r->out) - r->out_len;
		if (keep > (size_t)n)
			keep = n;
		memcpy(r->out + r->out_len, buf, keep);
		r->out_len += keep;
	}
}

/*
 * One run of @argv, start to reaped.  Returns -1 if it could not be run; a
 * run that timed out returns 0, for run_ok() to report.
 */
static int run_once(char *const argv[], int err_fd, struct run *r)
{
	struct exec_stamp st;
	struct timespec t1;
	struct rusage ru;
	pid_t pid;
	int fd, i, ret;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < NR_METRICS; i++)
		r->ms[i] = -1;
	if (spawn(argv, err_fd, &pid, &fd, &st))
		return -1;
	r->fork_rss_kib = st.rss_kib;

	ret = collect_output(fd, &st.t0, r);
	if (ret)
		kill(pid, SIGKILL); /* hung or unreadable: do not wait on it */
	if (ret > 0)
		ret = 0;
	while (wait4(pid, &r->status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("boot-bench: wait4");
			ret = -1;
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	r->ms[EXITED] = ms_between(&st.t0, &t1);
	r->maxrss_kib = ru.ru_maxrss; /* Linux: KiB */
out:
	close(fd);
	return ret;
}

/* Is @r a good boot?  If not, say why on stderr.  @i < 0: the warm-up. */
static bool run_ok(const char *name, int i, const struct run *r)
{
	const char *why = NULL;
	char buf[64];

	if (r->timed_out) {
		snprintf(buf, sizeof(buf), "no exit within %d ms, killed", RUN_TIMEOUT_MS);
		why = buf;
	} else if (!memmem(r->out, r->out_len, HELLO, strlen(HELLO)) || r->ms[FIRST_LINE] < 0) {
		why = "no \"" HELLO "\" line in its output";
	} else if (WIFSIGNALED(r->status)) {
		snprintf(buf, sizeof(buf), "killed by signal %d", WTERMSIG(r->status));
		why = buf;
	} else if (WEXITSTATUS(r->status)) {
		snprintf(buf, sizeof(buf), "exit status %d", WEXITSTATUS(r->status));
		why = buf;
	}
	if (!why)
		return true;
	if (i < 0)
		fprintf(stderr, "boot-bench: %s, warm-up run: %s\n", name, why);
	else
		fprintf(stderr, "boot-bench: %s, run %d: %s\n", name, i + 1, why);
	if (r->out_len)
		fprintf(stderr, "boot-bench: its output began:\n%.*s\n",
			(int)(r->out_len < 512 ? r->out_len : 512), r->out);
	return false;
}

/* ---- mvm's stats tree ---- */

/*
 * Pick the memory figures out of the "process" block: a line "process",
 * then indented "key value" lines up to the next unindented line.
 */
static int parse_process_block(FILE *f, struct vmm_mem *m)
{
	const struct {
		const char *key;
		long *val;
	} keys[] = {
		{ "RssAnon_kib", &m->rss_anon },
		{ "RssFile_kib", &m->rss_file },
		{ "RssShmem_kib", &m->rss_shmem },
		{ "VmHWM_kib", &m->vm_hwm },
	};
	const unsigned int nkeys = sizeof(keys) / sizeof(keys[0]);
	unsigned int i, found = 0;
	bool in_block = false;
	char line[256], key[64];
	long val;

	while (fgets(line, sizeof(line), f)) {
		if (!strcmp(line, "process\n")) {
			in_block = true;
			continue;
		}
		if (line[0] != ' ' && line[0] != '\t')
			in_block = false;
		if (!in_block || sscanf(line, " %63s %ld", key, &val) != 2)
			continue;
		for (i = 0; i < nkeys; i++) {
			if (!strcmp(key, keys[i].key)) {
				*keys[i].val = val;
				found |= 1u << i;
			}
		}
	}
	if (found == (1u << nkeys) - 1)
		return 0;
	fprintf(stderr, "boot-bench: mvm --stats: no complete process block "
			"(RssAnon_kib, RssFile_kib, RssShmem_kib, VmHWM_kib)\n");
	return -1;
}

static void copy_stream(FILE *from, FILE *to)
{
	char buf[512];
	size_t n;

	while ((n = fread(buf, 1, sizeof(buf), from)) > 0)
		fwrite(buf, 1, n, to);
}

/* One more, untimed, mvm run with --stats, its stderr kept in a file. */
static int measure_vmm_mem(const char *mvm, const char *guest, struct vmm_mem *m)
{
	char *argv[] = { (char *)mvm, "run", "--kernel", (char *)guest, "--stats", NULL };
	struct run *r;
	FILE *err;
	int ret = -1;

	r = malloc(sizeof(*r));
	err = tmpfile();
	if (!r || !err) {
		perror("boot-bench: mvm --stats");
		goto out;
	}
	if (run_once(argv, fileno(err), r) || !run_ok("mvm --stats", 0, r)) {
		rewind(err);
		copy_stream(err, stderr); /* mvm's own complaint */
		goto out;
	}
	rewind(err);
	ret = parse_process_block(err, m);
out:
	if (err)
		fclose(err);
	free(r);
	return ret;
}

/* ---- figures ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 {
	double min, med, max;
};

/* Sorts @v in place. */
static struct stat3 stat3(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return (struct stat3){
		.min = v[0],
		.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2,
		.max = v[n - 1],
	};
}

static void print_metric(enum metric k, struct prog *floor, struct prog *mvm, int n)
{
	struct stat3 f = stat3(floor->ms[k], n);
	struct stat3 m = stat3(mvm->ms[k], n);

	printf("%-14s %-10s %9.3f %9.3f %9.3f\n", metric_names[k], floor->name, f.min, f.med,
	       f.max);
	printf("%-14s %-10s %9.3f %9.3f %9.3f\n", "", mvm->name, m.min, m.med, m.max);
	printf("%-14s %-10s %9s %8.2fx\n", "", "mvm/floor", "", m.med / f.med);
}

static void print_header(const char *guest, int runs)
{
	struct utsname u;
	const char *base = strrchr(guest, '/');

	if (uname(&u) < 0)
		u = (struct utsname){ .release = "?", .machine = "?" };
	printf("boot-bench: %s, (a) exec -> first guest output byte, "
	       "(a') -> end of first line, (b) -> exit reaped;\n"
	       "  %d runs each, interleaved floor/mvm after 1 untimed warm-up "
	       "pair; Linux %s %s, nproc %ld\n\n",
	       base ? base + 1 : guest, runs, u.release, u.machine, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-14s %-10s %9s %9s %9s\n", "(ms)", "", "min", "median", "max");
}

static void print_mem(const struct prog *floor, const struct prog *mvm, const struct vmm_mem *m)
{
	printf("\nmemory (KiB)\n");
	printf("  mvm VMM RSS, guest RAM excluded (RssAnon+RssFile) %7ld  "
	       "(anon %ld + file %ld)\n",
	       m->rss_anon + m->rss_file, m->rss_anon, m->rss_file);
	printf("  mvm guest RAM touched (RssShmem, memfd)           %7ld\n", m->rss_shmem);
	printf("  mvm VmHWM, guest RAM included                     %7ld\n", m->vm_hwm);
	printf("  mvm max RSS (wait4 ru_maxrss, guest RAM incl.)    %7ld\n", mvm->maxrss_kib);
	printf("  floor max RSS (wait4 ru_maxrss, guest RAM incl.)  %7ld  "
	       "(its touched guest RAM is anonymous memory)\n",
	       floor->maxrss_kib);
	printf("  boot-bench's forked copy at execve, max           %7ld  "
	       "(ru_maxrss cannot be lower)\n",
	       floor->fork_rss_kib > mvm->fork_rss_kib ? floor->fork_rss_kib : mvm->fork_rss_kib);
}

/* ---- main ---- */

/* Run @p once; store the times at @i unless @i < 0 (warm-up). */
static int sample(struct prog *p, struct run *r, int i)
{
	int k;

	if (run_once(p->argv, -1, r) || !run_ok(p->name, i, r))
		return -1;
	if (i < 0)
		return 0;
	for (k = 0; k < NR_METRICS; k++)
		p->ms[k][i] = r->ms[k];
	if (r->maxrss_kib > p->maxrss_kib)
		p->maxrss_kib = r->maxrss_kib;
	if (r->fork_rss_kib > p->fork_rss_kib)
		p->fork_rss_kib = r->fork_rss_kib;
	return 0;
}

static int alloc_samples(struct prog *p, int n)
{
	int k;

	for (k = 0; k < NR_METRICS; k++) {
		p->ms[k] = calloc(n, sizeof(double));
		if (!p->ms[k])
			return -1;
	}
	return 0;
}

static void free_samples(struct prog *p)
{
	int k;

	for (k = 0; k < NR_METRICS; k++)
		free(p->ms[k]);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: boot-bench [-n RUNS] MVM KVM_FLOOR GUEST.elf\n"
		"  -n RUNS  timed runs of each program, 1..%d (default %d)\n",
		MAX_RUNS, DEFAULT_RUNS);
}

int main(int argc, char **argv)
{
	char *mvm_argv[] = { NULL, "run", "--kernel", NULL, NULL };
	char *floor_argv[] = { NULL, NULL, NULL };
	struct prog floor = { .name = "kvm-floor", .argv = floor_argv };
	struct prog mvm = { .name = "mvm", .argv = mvm_argv };
	struct vmm_mem mem;
	int runs = DEFAULT_RUNS, opt, i, k, ret = 1;
	struct run *r = NULL;
	char *end;
	long n;

	while ((opt = getopt(argc, argv, "+n:h")) != -1) {
		switch (opt) {
		case 'n':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > MAX_RUNS) {
				usage();
				return 2;
			}
			runs = n;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (argc - optind != 3) {
		usage();
		return 2;
	}
	mvm_argv[0] = argv[optind];
	floor_argv[0] = argv[optind + 1];
	mvm_argv[3] = floor_argv[1] = argv[optind + 2];

	/* Our own output goes through a pipe under make: keep it in order. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	r = malloc(sizeof(*r));
	if (!r || alloc_samples(&floor, runs) || alloc_samples(&mvm, runs)) {
		perror("boot-bench: malloc");
		goto out;
	}
	for (i = -1; i < runs; i++) {
		if (sample(&floor, r, i) || sample(&mvm, r, i))
			goto out;
	}
	if (measure_vmm_mem(argv[optind], argv[optind + 2], &mem))
		goto out;

	print_header(argv[optind + 2], runs);
	for (k = 0; k < NR_METRICS; k++)
		print_metric(k, &floor, &mvm, runs);
	print_mem(&floor, &mvm, &mem);
	ret = 0;
out:
	free_samples(&floor);
	free_samples(&mvm);
	free(r);
	return ret;
}
