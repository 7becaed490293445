// SPDX-License-Identifier: MIT
/*
 * The cost of touching every page of a restored guest's memory, 128 MiB, by
 * how that memory was loaded (no KVM: host threads touch it as vCPUs would):
 *   (a) anonymous memory, pre-faulted: the floor (and, beside it, memory
 *       whose page tables MAP_POPULATE filled but that was never accessed)
 *   (b) the File backend: the memory file mapped MAP_PRIVATE, faulted lazily
 *       (cold: the file out of the page cache; warm: in it)
 *   (c) the same after the working-set prefetch (one MADV_POPULATE_READ pass
 *       over the recorded list), cold
 *   (d) the Uffd backend: anonymous memory registered with userfaultfd,
 *       faults served by the test handler (tests/snapshot/uffd_handler.c)
 * Each figure is the median of 3 runs, also as a ratio to (a). Prints,
 * asserts nothing.
 *
 *   uffd-bench UFFD_HANDLER
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/snapshot_mem.h"

#define SIZE  (128UL << 20)
#define PAGE  4096UL
#define PAGES (SIZE / PAGE)
#define RUNS  3

static char dir[] = "/var/tmp/mvm-uffd-bench-XXXXXX";
static char memfile[128], sock_path[108];
static const char *handler_bin;

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "uffd-bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Reads one byte of every page; returns the time it took. */
static double touch(const uint8_t *p)
{
	double t0 = now_ms();
	unsigned long i, sum = 0;

	for (i = 0; i < PAGES; i++)
		sum += ((const volatile uint8_t *)p)[i * PAGE];
	if (sum == 1) /* keeps the loads */
		fprintf(stderr, " ");
	return now_ms() - t0;
}

static void make_memfile(void)
{
	static uint8_t chunk[1 << 20];
	unsigned long i;
	int fd;

	snprintf(memfile, sizeof(memfile), "%s/mem", dir);
	fd = open(memfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		die(memfile);
	for (i = 0; i < sizeof(chunk); i++)
		chunk[i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < SIZE / sizeof(chunk); i++)
		if (write(fd, chunk, sizeof(chunk)) != (ssize_t)sizeof(chunk))
			die("write");
	if (fsync(fd))
		die("fsync");
	close(fd);
}

static void drop_cache(void)
{
	int fd = open(memfile, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED))
		die("posix_fadvise");
	close(fd);
}

static uint8_t *map_file(void)
{
	int fd = open(memfile, O_RDONLY | O_CLOEXEC);
	uint8_t *p;

	if (fd < 0)
		die(memfile);
	p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v)
{
	qsort(v, RUNS, sizeof(*v), cmp);
	return v[RUNS / 2];
}

/*
 * touched: written once before (the floor). Else only MAP_POPULATE'd: the page
 * tables are filled but no access went through them yet, which is the best a
 * prefetch can leave (on a shadow-paging host the first access still costs).
 */
static double bench_anon(bool touched)
{
	double t[RUNS];
	int r;

	for (r = 0; r < RUNS; r++) {
		uint8_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

		if (p == MAP_FAILED)
			die("mmap");
		if (touched)
			memset(p, 1, SIZE);
		t[r] = touch(p);
		munmap(p, SIZE);
	}
	return median(t);
}

static double bench_file(bool cold, struct prefetch_list *record)
{
	double t[RUNS];
	int r;

	for (r = 0; r < RUNS; r++) {
		uint8_t *p;

		if (cold)
			drop_cache();
		p = map_file();
		t[r] = touch(p);
		if (record && r == 0) {
			struct snapshot_mem_region reg = { p, SIZE, 0, PAGE };

			if (prefetch_record(&reg, 1, record))
				die("prefetch_record");
		}
		munmap(p, SIZE);
	}
	return median(t);
}

static double bench_prefetched(const struct prefetch_list *l, double *pass)
{
	double t[RUNS], tp[RUNS];
	int r;

	for (r = 0; r < RUNS; r++) {
		struct snapshot_mem_region reg;
		uint8_t *p;
		double t0;

		drop_cache();
		p = map_file();
		reg = (struct snapshot_mem_region){ p, SIZE, 0, PAGE };
		t0 = now_ms();
		if (prefetch_apply(&reg, 1, l))
			die("prefetch_apply");
		tp[r] = now_ms() - t0;
		t[r] = touch(p);
		munmap(p, SIZE);
	}
	*pass = median(tp);
	return median(t);
}

static pid_t handler_start(void)
{
	struct stat st;
	pid_t pid;
	int i;

	unlink(sock_path);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl(handler_bin, handler_bin, sock_path, memfile, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 5000 && stat(sock_path, &st); i++)
		usleep(1000);
	return pid;
}

static double bench_uffd(bool cold, double *load)
{
	double t[RUNS], tl[RUNS];
	int r;

	for (r = 0; r < RUNS; r++) {
		uint8_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				  -1, 0);
		struct snapshot_mem_region reg = { p, SIZE, 0, PAGE };
		struct uffd_backend *b;
		pid_t pid;
		double t0;

		if (p == MAP_FAILED)
			die("mmap");
		if (cold)
			drop_cache();
		pid = handler_start();
		t0 = now_ms();
		b = uffd_backend_create(&reg, 1, sock_path, 5000);
		tl[r] = now_ms() - t0;
		if (IS_ERR(b)) {
			errno = (int)-PTR_ERR(b);
			die("uffd_backend_create");
		}
		t[r] = touch(p);
		uffd_backend_destroy(b);
		waitpid(pid, NULL, 0);
		munmap(p, SIZE);
	}
	*load = median(tl);
	return median(t);
}

static void row(const char *what, double ms, double floor)
{
	printf("  %-52s %9.2f ms  %8.1fx\n", what, ms, ms / floor);
}

int main(int argc, char **argv)
{
	struct prefetch_list l = { 0 };
	double a, a_pop, b_cold, b_warm, c, c_pass, d_cold, d_warm, load;
	char cmd[160];

	if (argc < 2) {
		fprintf(stderr, "usage: %s UFFD_HANDLER\n", argv[0]);
		return 1;
	}
	handler_bin = argv[1];
	mvm_log_set_level(MVM_LOG_WARN);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(sock_path, sizeof(sock_path), "%s/uffd.sock", dir);
	make_memfile();

	a = bench_anon(true);
	a_pop = bench_anon(false);
	b_cold = bench_file(true, &l);
	b_warm = bench_file(false, NULL);
	c = bench_prefetched(&l, &c_pass);
	d_cold = bench_uffd(true, &load);
	d_warm = bench_uffd(false, &load);

	printf("uffd-bench: touching every page of %lu MiB once (%lu pages of 4 KiB, one read "
	       "each), median of %d; ratio to (a)\n",
	       SIZE >> 20, PAGES, RUNS);
	row("(a) anonymous, pre-faulted", a, a);
	row("    anonymous, MAP_POPULATE, never accessed before", a_pop, a);
	row("(b) File backend, MAP_PRIVATE, lazy, cold page cache", b_cold, a);
	row("(b) File backend, MAP_PRIVATE, lazy, warm page cache", b_warm, a);
	row("(c) File backend after the prefetch, cold page cache", c, a);
	row("    the prefetch pass itself (MADV_POPULATE_READ)", c_pass, a);
	row("    (c) prefetch pass + touch", c_pass + c, a);
	row("(d) Uffd backend, test handler, cold page cache", d_cold, a);
	row("(d) Uffd backend, test handler, warm page cache", d_warm, a);
	printf("  Uffd handshake (uffd_backend_create: register, connect, send, taken): %.3f ms\n",
	       load);
	printf("  working set recorded after (b): %llu run(s), %ld bytes encoded\n",
	       (unsigned long long)l.nr_runs, prefetch_encode(&l, NULL, 0));
	prefetch_list_free(&l);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? 1 : 0;
}
