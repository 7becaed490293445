// SPDX-License-Identifier: MIT
/*
 * Lazy snapshot memory without KVM: guest RAM is an anonymous mapping of this
 * process, as the VMM's would be. The Uffd backend registers it with a real
 * userfaultfd and hands it to the test page-fault handler (uffd-handler, a
 * child process; $UFFD_HANDLER) or to an in-process peer; the working-set
 * prefetch records and maps in pages of a file mapped MAP_PRIVATE.
 * Where userfaultfd is unavailable the Uffd tests print a SKIP: line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/memfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "mvm/err.h"
#include "mvm/fault.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/snapshot_mem.h"

#define PAGE	   4096UL
#define MEM_SIZE   (8UL << 20) /* two regions: 6 MiB and 2 MiB */
#define MEM_PAGES  (MEM_SIZE / PAGE)
#define REGION0	   (6UL << 20)
#define THREADS	   4
#define TIMEOUT_MS 5000

static char dir[] = "/var/tmp/mvm-snapmem-XXXXXX"; /* not tmpfs: the page cache can be dropped */
static char memfile[128], sock_path[108];
static const char *handler_bin;
static uint8_t *expected; /* the memory file's contents, holes as zeroes */

/* ---- the memory file, guest memory, the handler process ---- */

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Other threads (a peer) may still be closing theirs: wait a little for the count. */
static void assert_fds_settle(unsigned int want)
{
	uint64_t end = ms_now() + 2000;

	while (count_fds() != want && ms_now() < end)
		usleep(1000);
	assert_int_equal(count_fds(), want);
}

static bool uffd_available(void)
{
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);

	if (fd < 0 && access("/dev/userfaultfd", R_OK | W_OK)) {
		print_message("SKIP: userfaultfd is unavailable here (%s; "
			      "vm.unprivileged_userfaultfd=0 and no /dev/userfaultfd access)\n",
			      strerror(errno));
		return false;
	}
	if (fd >= 0)
		close(fd);
	return true;
}

#define REQUIRE_UFFD()                 \
	do {                           \
		if (!uffd_available()) \
			skip();        \
	} while (0)

/*
 * The memory file: page i holds its number and a byte pattern, except every
 * page with i % 5 == 3 (a hole) and page 7 (written, but all zeroes).
 */
static void make_memfile(void)
{
	uint8_t page[PAGE];
	uint64_t i;
	int fd;

	snprintf(memfile, sizeof(memfile), "%s/mem", dir);
	fd = open(memfile, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)MEM_SIZE), 0);
	expected = calloc(1, MEM_SIZE);
	assert_non_null(expected);
	for (i = 0; i < MEM_PAGES; i++) {
		if (i % 5 == 3)
			continue;
		memset(page, (int)(i * 7 + 1), sizeof(page));
		memcpy(page, &i, sizeof(i));
		if (i == 7)
			memset(page, 0, sizeof(page));
		assert_int_equal(pwrite(fd, page, PAGE, (off_t)(i * PAGE)), (ssize_t)PAGE);
		memcpy(expected + i * PAGE, page, PAGE);
	}
	assert_int_equal(fsync(fd), 0);
	close(fd);
}

/* Guest RAM: two anonymous mappings, as two regions of the memory file. */
struct guest_mem {
	struct snapshot_mem_region r[2];
};

static void guest_map_from(struct guest_mem *g, int memfd)
{
	int flags = memfd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED;
	void *a = mmap(NULL, REGION0, PROT_READ | PROT_WRITE, flags, memfd, 0);
	void *b = mmap(NULL, MEM_SIZE - REGION0, PROT_READ | PROT_WRITE, flags, memfd,
		       memfd < 0 ? 0 : (off_t)REGION0);

	assert_true(a != MAP_FAILED && b != MAP_FAILED);
	g->r[0] = (struct snapshot_mem_region){ a, REGION0, 0, PAGE };
	g->r[1] = (struct snapshot_mem_region){ b, MEM_SIZE - REGION0, REGION0, PAGE };
}

/* Anonymous memory, as Firecracker's Uffd backend maps it. */
static void guest_map(struct guest_mem *g)
{
	guest_map_from(g, -1);
}

static void guest_unmap(struct guest_mem *g)
{
	munmap(g->r[0].host_addr, g->r[0].size);
	munmap(g->r[1].host_addr, g->r[1].size);
}

static uint8_t *guest_page(struct guest_mem *g, uint64_t i)
{
	if (i * PAGE < REGION0)
		return (uint8_t *)g->r[0].host_addr + i * PAGE;
	return (uint8_t *)g->r[1].host_addr + i * PAGE - REGION0;
}

/* The handler as a child; its stdout (the stats line) goes to dir/handler.out. */
static pid_t handler_start(const char *extra_opt, const char *extra_val)
{
	char out[160];
	uint64_t end;
	struct stat st;
	pid_t pid;

	snprintf(sock_path, sizeof(sock_path), "%s/uffd.sock", dir);
	snprintf(out, sizeof(out), "%s/handler.out", dir);
	unlink(sock_path);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		execl(handler_bin, handler_bin, sock_path, memfile, "--timeout-ms", "10000",
		      extra_opt, extra_val, (char *)NULL);
		_exit(127);
	}
	for (end = ms_now() + 5000; stat(sock_path, &st) && ms_now() < end;)
		usleep(1000);
	assert_int_equal(stat(sock_path, &st), 0);
	return pid;
}

/* Its exit status (-1: killed by a signal); never waits more than 10 s. */
static int handler_wait(pid_t pid)
{
	uint64_t end = ms_now() + 10000;
	int status;

	while (waitpid(pid, &status, WNOHANG) == 0) {
		if (ms_now() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("the handler did not exit");
		}
		usleep(1000);
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void handler_stats(unsigned long *copies, unsigned long *zeros, unsigned long *removes)
{
	char path[160], line[256] = "";
	unsigned long faults;
	FILE *f;

	snprintf(path, sizeof(path), "%s/handler.out", dir);
	f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	assert_int_equal(sscanf(line,
				"uffd-handler: faults=%lu copies=%lu zeropages=%lu removes=%lu",
				&faults, copies, zeros, removes),
			 4);
}

/* ---- an in-process peer: takes every message, keeps nothing ---- */

struct sink {
	int lfd;
	pthread_t thread;
	atomic_bool stop;
	atomic_int busy;
	char last[4096];  /* the last message */
	int last_fd_kind; /* 1: it came with a userfaultfd */
};

static int listen_unix(const char *path, int backlog)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(a.sun_path, path);
	unlink(path);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (backlog >= 0)
		assert_int_equal(listen(fd, backlog), 0);
	return fd;
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;

	while (!atomic_load(&s->stop)) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		char link[64], target[64] = "";
		ssize_t n;
		int conn, fd = -1;

		atomic_store(&s->busy, 1);
		if (poll(&p, 1, 0) != 1) {
			atomic_store(&s->busy, 0);
			poll(&p, 1, 20);
			continue;
		}
		conn = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (conn >= 0) {
			union {
				char buf[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} ctl;
			struct iovec iov = { s->last, sizeof(s->last) - 1 };
			struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
			struct cmsghdr *c;

			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
			n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
			s->last[n > 0 ? n : 0] = '\0';
			c = n > 0 ? CMSG_FIRSTHDR(&mh) : NULL;
			if (c && c->cmsg_type == SCM_RIGHTS)
				memcpy(&fd, CMSG_DATA(c), sizeof(int));
			if (fd >= 0) {
				snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
				n = readlink(link, target, sizeof(target) - 1);
				target[n > 0 ? n : 0] = '\0';
				s->last_fd_kind = !!strstr(target, "userfaultfd");
				close(fd);
			}
			close(conn);
		}
		atomic_store(&s->busy, 0);
	}
	return NULL;
}

static void sink_start(struct sink *s, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->lfd = listen_unix(path, 16);
	assert_int_equal(pthread_create(&s->thread, NULL, sink_main, s), 0);
}

/* Nothing queued, nothing in hand: the peer holds no fd of ours any more. */
static void sink_drain(struct sink *s)
{
	struct pollfd p = { .fd = s->lfd, .events = POLLIN };
	int quiet = 0;

	while (quiet < 3) {
		quiet = !atomic_load(&s->busy) && poll(&p, 1, 0) == 0 ? quiet + 1 : 0;
		usleep(2000);
	}
}

static void sink_stop(struct sink *s)
{
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->lfd);
}

/* ---- the Uffd backend ---- */

static void test_bad_regions(void **state)
{
	struct guest_mem g;
	struct snapshot_mem_region bad[2];
	unsigned int fds = count_fds();

	(void)state;
	guest_map(&g);
	snprintf(sock_path, sizeof(sock_path), "%s/none.sock", dir);
	assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 0, sock_path, 100)), -EINVAL);
	assert_int_equal(PTR_ERR(uffd_backend_create(NULL, 1, sock_path, 100)), -EINVAL);
	assert_int_equal(
		PTR_ERR(uffd_backend_create(g.r, SNAPSHOT_MEM_MAX_REGIONS + 1, sock_path, 100)),
		-EINVAL);
	/* misaligned address, size, offset; no size; a page size that is no page size */
	memcpy(bad, g.r, sizeof(bad));
	bad[0].host_addr = (char *)bad[0].host_addr + 1;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[1].size = 100;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[1].offset = 12;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[0].size = 0;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[0].page_size = 3 * 4096;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[0].host_addr = NULL;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	/* overlapping host ranges, overlapping file ranges, a range that wraps */
	memcpy(bad, g.r, sizeof(bad));
	bad[1].host_addr = (char *)bad[0].host_addr + PAGE;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[1].offset = REGION0 - PAGE;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	memcpy(bad, g.r, sizeof(bad));
	bad[1].offset = UINT64_MAX - PAGE + 1;
	assert_int_equal(PTR_ERR(uffd_backend_create(bad, 2, sock_path, 100)), -EINVAL);
	/* memory that is not mapped: the registration fails */
	if (uffd_available()) {
		memcpy(bad, g.r, sizeof(bad));
		bad[0].host_addr = (void *)(uintptr_t)0x7ff000000000ULL;
		bad[0].size = PAGE;
		assert_true(IS_ERR(uffd_backend_create(bad, 2, sock_path, 100)));
	}
	/* socket paths: empty, too long */
	assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 2, "", 100)), -EINVAL);
	{
		char longpath[200];

		memset(longpath, 'a', sizeof(longpath) - 1);
		longpath[sizeof(longpath) - 1] = '\0';
		assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 2, longpath, 100)), -EINVAL);
	}
	assert_int_equal(count_fds(), fds);
	guest_unmap(&g);
}

/* No handler: nothing at the path, or a socket nobody listens on. A clear error at once. */
static void test_handler_missing(void **state)
{
	struct guest_mem g;
	unsigned int fds;
	uint64_t t0;
	int fd;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	fds = count_fds();
	snprintf(sock_path, sizeof(sock_path), "%s/none.sock", dir);
	unlink(sock_path);
	t0 = ms_now();
	assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS)), -ENOENT);
	fd = listen_unix(sock_path, -1); /* bound, not listening */
	assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS)),
			 -ECONNREFUSED);
	close(fd);
	assert_true(ms_now() - t0 < 1000);
	assert_int_equal(count_fds(), fds);
	/* The memory is not left registered: it reads as plain zeroes. */
	assert_int_equal(guest_page(&g, 9)[0], 0);
	guest_unmap(&g);
}

/* A handler that listens but never takes the message: a timeout, not a hang. */
static void test_handler_never_reads(void **state)
{
	struct guest_mem g;
	unsigned int fds;
	uint64_t t0, took;
	int lfd;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	snprintf(sock_path, sizeof(sock_path), "%s/stall.sock", dir);
	lfd = listen_unix(sock_path, 4);
	fds = count_fds();
	t0 = ms_now();
	assert_int_equal(PTR_ERR(uffd_backend_create(g.r, 2, sock_path, 300)), -ETIMEDOUT);
	took = ms_now() - t0;
	print_message("a handler that never reads: -ETIMEDOUT after %llu ms (timeout 300 ms)\n",
		      (unsigned long long)took);
	assert_true(took >= 290 && took < 3000);
	assert_int_equal(count_fds(), fds);
	close(lfd);
	guest_unmap(&g);
}

/* Firecracker's message, byte for byte in its shape, with a userfaultfd attached. */
static void test_message_format(void **state)
{
	static struct sink s;
	struct guest_mem g;
	struct uffd_backend *b;
	json_error_t jerr;
	json_t *arr, *o;
	size_t i;
	const char *keys[] = { "base_host_virt_addr", "size", "offset", "page_size",
			       "page_size_kib" };

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	snprintf(sock_path, sizeof(sock_path), "%s/sink.sock", dir);
	sink_start(&s, sock_path);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	sink_drain(&s);
	assert_int_equal(s.last_fd_kind, 1);
	arr = json_loads(s.last, 0, &jerr);
	assert_non_null(arr);
	assert_int_equal(json_array_size(arr), 2);
	json_array_foreach (arr, i, o) {
		void *iter = json_object_iter(o);
		unsigned int k;

		/* The fields in Firecracker's order (serde's), nothing else. */
		for (k = 0; k < 5; k++, iter = json_object_iter_next(o, iter)) {
			assert_non_null(iter);
			assert_string_equal(json_object_iter_key(iter), keys[k]);
		}
		assert_null(iter);
		assert_int_equal(json_integer_value(json_object_get(o, "base_host_virt_addr")),
				 (uintptr_t)g.r[i].host_addr);
		assert_int_equal(json_integer_value(json_object_get(o, "size")), g.r[i].size);
		assert_int_equal(json_integer_value(json_object_get(o, "offset")), g.r[i].offset);
		assert_int_equal(json_integer_value(json_object_get(o, "page_size")), 4096);
		assert_int_equal(json_integer_value(json_object_get(o, "page_size_kib")), 4096);
	}
	print_message("the handler got: %s\n", s.last);
	json_decref(arr);
	/* The sink closed its end but lives: the watch fd is the sink's pidfd, not readable. */
	{
		struct pollfd p = { .fd = uffd_backend_watch_fd(b), .events = POLLIN };

		assert_true(p.fd >= 0);
		assert_int_equal(poll(&p, 1, 0), 0);
		/* Asked anyway: the handler is there, nothing changes. */
		assert_int_equal(uffd_backend_handler_gone(b), -EAGAIN);
		assert_int_equal(uffd_backend_watch_fd(b), p.fd);
	}
	uffd_backend_destroy(b);
	sink_stop(&s);
	guest_unmap(&g);
}

struct toucher {
	struct guest_mem *g;
	unsigned int id;
	uint64_t first, count; /* pages */
	unsigned long mismatches;
	bool check;
};

static void *touch_main(void *arg)
{
	struct toucher *t = arg;
	uint64_t k;

	/* Each thread starts elsewhere and wraps: faults on one page from several threads. */
	for (k = 0; k < t->count; k++) {
		uint64_t i = t->first + (k + t->id * t->count / THREADS) % t->count;
		volatile uint8_t *p = guest_page(t->g, i);

		if (!t->check) {
			(void)p[0];
			continue;
		}
		if (memcmp((const void *)p, expected + i * PAGE, PAGE))
			t->mismatches++;
	}
	return NULL;
}

static unsigned long touch_all(struct guest_mem *g, bool check)
{
	struct toucher t[THREADS];
	pthread_t th[THREADS];
	unsigned long bad = 0;
	unsigned int i;

	for (i = 0; i < THREADS; i++) {
		t[i] = (struct toucher){
			.g = g, .id = i, .first = 0, .count = MEM_PAGES, .check = check
		};
		assert_int_equal(pthread_create(&th[i], NULL, touch_main, &t[i]), 0);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].mismatches;
	}
	return bad;
}

/* The handler serves every page: each equals the file's, holes read zero. */
static void test_serve_pages(void **state)
{
	unsigned long copies, zeros, removes;
	struct uffd_backend *b;
	struct guest_mem g;
	unsigned int fds;
	uint8_t *p;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	fds = count_fds();
	pid = handler_start(NULL, NULL);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	/* A write fault first: the page arrives, then the write lands on it. */
	p = guest_page(&g, 1601);
	p[100] = 0xee;
	assert_memory_equal(p, expected + 1601 * PAGE, 100);
	assert_memory_equal(p + 101, expected + 1601 * PAGE + 101, PAGE - 101);
	p[100] = expected[1601 * PAGE + 100];
	assert_int_equal(touch_all(&g, true), 0);
	/* A balloon gives pages back: UFFD_EVENT_REMOVE, then they read as zero. */
	assert_int_equal(madvise(guest_page(&g, 40), 4 * PAGE, MADV_DONTNEED), 0);
	assert_true(guest_page(&g, 41)[0] == 0 && guest_page(&g, 41)[8] == 0);
	assert_true(guest_page(&g, 39)[8] == expected[39 * PAGE + 8]);
	uffd_backend_destroy(b);
	assert_int_equal(handler_wait(pid), 0);
	handler_stats(&copies, &zeros, &removes);
	print_message("%u threads touched %lu pages: %lu copied, %lu zero pages, %lu removes\n",
		      THREADS, MEM_PAGES, copies, zeros, removes);
	assert_int_equal(copies + zeros, MEM_PAGES + 1); /* one page of the four again */
	assert_int_equal(zeros, MEM_PAGES / 5 + 1);	 /* the holes, and page 41 again */
	assert_int_equal(removes, 1);
	assert_int_equal(count_fds(), fds);
	guest_unmap(&g);
}

/* Guest RAM as mvm maps it (a memfd, MAP_SHARED): served the same way. */
static void test_serve_memfd(void **state)
{
	unsigned long copies, zeros, removes;
	struct uffd_backend *b;
	struct guest_mem g;
	int memfd;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	memfd = memfd_create("guest-ram", MFD_CLOEXEC);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, (off_t)MEM_SIZE), 0);
	guest_map_from(&g, memfd);
	pid = handler_start(NULL, NULL);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(touch_all(&g, true), 0);
	uffd_backend_destroy(b);
	assert_int_equal(handler_wait(pid), 0);
	handler_stats(&copies, &zeros, &removes);
	assert_int_equal(copies + zeros, MEM_PAGES);
	/* The pages landed in the memfd itself. */
	{
		uint8_t page[PAGE];

		assert_int_equal(pread(memfd, page, PAGE, (off_t)(1700 * PAGE)), (ssize_t)PAGE);
		assert_memory_equal(page, expected + 1700 * PAGE, PAGE);
	}
	guest_unmap(&g);
	close(memfd);
}

static long saved_nr_hugepages = -1;

static long nr_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool set_nr_hugepages(long n)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", n) > 0;
	ok = !fclose(f) && ok;
	return ok && nr_hugepages() == n;
}

/* The host's huge page pool as it was, whatever the test did. */
static int restore_hugepages(void **state)
{
	(void)state;
	if (saved_nr_hugepages >= 0 && !set_nr_hugepages(saved_nr_hugepages))
		return -1;
	saved_nr_hugepages = -1;
	return 0;
}

/*
 * Guest RAM in 2 MiB huge pages (a hugetlbfs memfd, as mvm maps it): the
 * regions say so (page_size), and each fault is served a whole huge page.
 */
static void test_serve_hugetlb(void **state)
{
	unsigned long copies, zeros, removes;
	struct uffd_backend *b;
	struct prefetch_list l;
	struct guest_mem g;
	long before = nr_hugepages();
	int memfd;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	if (before < 0 || !set_nr_hugepages(before + 4)) {
		print_message("SKIP: no 2 MiB huge pages can be reserved here\n");
		skip();
	}
	saved_nr_hugepages = before;
	memfd = memfd_create("guest-ram-2m", MFD_CLOEXEC | MFD_HUGETLB | MFD_HUGE_2MB);
	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, (off_t)MEM_SIZE), 0);
	guest_map_from(&g, memfd);
	g.r[0].page_size = g.r[1].page_size = 2UL << 20;
	pid = handler_start(NULL, NULL);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(touch_all(&g, true), 0);
	assert_int_equal(prefetch_record(g.r, 2, &l), 0);
	assert_int_equal(l.page_size, 2UL << 20);
	assert_int_equal(l.nr_runs, 1);
	assert_int_equal(l.runs[0].count, 4);
	prefetch_list_free(&l);
	uffd_backend_destroy(b);
	assert_int_equal(handler_wait(pid), 0);
	handler_stats(&copies, &zeros, &removes);
	assert_int_equal(copies, 4); /* one fault per huge page: the others found it there */
	assert_int_equal(zeros, 0);
	guest_unmap(&g);
	close(memfd);
}

static bool watch_readable(struct uffd_backend *b, int ms)
{
	struct pollfd p = { .fd = uffd_backend_watch_fd(b), .events = POLLIN };

	return poll(&p, 1, ms) == 1;
}

struct touch_job {
	struct guest_mem *g;
	atomic_bool done;
};

static void *touch_job_main(void *arg)
{
	struct touch_job *j = arg;

	touch_all(j->g, false);
	atomic_store(&j->done, true);
	return NULL;
}

/*
 * The handler crashes while pages are missing: threads touching them wait.
 * The watch fd says it is gone; uffd_backend_handler_gone() releases them and
 * says the VM must be failed.
 */
static void test_handler_dies_midway(void **state)
{
	struct touch_job job = { 0 };
	struct uffd_backend *b;
	struct guest_mem g;
	pthread_t th;
	uint64_t end;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	job.g = &g;
	pid = handler_start("--exit-after-faults", "16");
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(pthread_create(&th, NULL, touch_job_main, &job), 0);
	assert_true(watch_readable(b, 10000));
	assert_int_equal(handler_wait(pid), 3);
	usleep(50000);
	assert_false(atomic_load(&job.done)); /* stuck on missing pages */
	assert_int_equal(uffd_backend_handler_gone(b), -EPIPE);
	assert_true(watch_readable(b, 0));			/* still open, still readable */
	assert_int_equal(uffd_backend_handler_gone(b), -EPIPE); /* asked again: same answer */
	for (end = ms_now() + 10000; !atomic_load(&job.done) && ms_now() < end;)
		usleep(1000);
	assert_true(atomic_load(&job.done));
	pthread_join(th, NULL);
	print_message("handler died after 16 faults: detected, touching threads released\n");
	uffd_backend_destroy(b);
	guest_unmap(&g);
}

/*
 * The VMM in a PID namespace of its own (a jail) cannot name the handler's
 * process: the connection is watched instead, and its hangup says the same.
 */
static void test_handler_gone_socket_watch(void **state)
{
	pid_t handler, child;
	int status;

	(void)state;
	REQUIRE_UFFD();
	handler = handler_start("--exit-after-faults", "32");
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		pid_t inner;

		if (unshare(CLONE_NEWPID))
			_exit(77);
		inner = fork();
		if (inner < 0)
			_exit(20);
		if (!inner) {
			struct touch_job job = { 0 };
			struct uffd_backend *b;
			struct guest_mem g;
			struct pollfd p;
			pthread_t th;
			char link[64], target[64] = "";
			ssize_t n;

			guest_map(&g);
			b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
			if (IS_ERR(b))
				_exit(21);
			snprintf(link, sizeof(link), "/proc/self/fd/%d", uffd_backend_watch_fd(b));
			n = readlink(link, target, sizeof(target) - 1);
			target[n > 0 ? n : 0] = '\0';
			if (!strstr(target, "socket:"))
				_exit(22);
			if (uffd_backend_handler_gone(b) != -EAGAIN)
				_exit(23);
			/* Touching every page: the handler dies after 32, the rest wait. */
			job.g = &g;
			if (pthread_create(&th, NULL, touch_job_main, &job))
				_exit(24);
			p = (struct pollfd){ .fd = uffd_backend_watch_fd(b), .events = POLLIN };
			if (poll(&p, 1, 10000) != 1 || uffd_backend_handler_gone(b) != -EPIPE)
				_exit(25);
			pthread_join(th, NULL);
			uffd_backend_destroy(b);
			_exit(atomic_load(&job.done) ? 0 : 28);
		}
		if (waitpid(inner, &status, 0) != inner)
			_exit(26);
		_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 27);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		kill(handler, SIGKILL);
		handler_wait(handler);
		print_message("SKIP: no PID namespace can be made here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(handler_wait(handler), 3);
}

/*
 * A handler that takes the layout and then hangs, holding the uffd: threads
 * wait on their pages, and a teardown (uffd_backend_destroy()) releases them
 * although the registration lives on in the handler's uffd.
 */
static void test_handler_stalls(void **state)
{
	struct touch_job job = { 0 };
	struct uffd_backend *b;
	struct guest_mem g;
	pthread_t th;
	uint64_t end;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	job.g = &g;
	pid = handler_start("--no-serve", "1");
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(pthread_create(&th, NULL, touch_job_main, &job), 0);
	usleep(100000);
	assert_false(atomic_load(&job.done));
	assert_false(watch_readable(b, 0)); /* it is alive, only stalled */
	uffd_backend_destroy(b);
	for (end = ms_now() + 10000; !atomic_load(&job.done) && ms_now() < end;)
		usleep(1000);
	assert_true(atomic_load(&job.done));
	pthread_join(th, NULL);
	assert_int_equal(guest_page(&g, 100)[8], 0);
	kill(pid, SIGKILL);
	assert_int_equal(handler_wait(pid), -1);
	guest_unmap(&g);
}

/* The handler goes after every page was loaded: nothing is lost, the VM may go on. */
static void test_handler_gone_after_full_load(void **state)
{
	struct uffd_backend *b;
	struct guest_mem g;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	pid = handler_start(NULL, NULL);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(touch_all(&g, true), 0);
	assert_false(watch_readable(b, 0));
	kill(pid, SIGKILL);
	assert_true(watch_readable(b, 10000));
	assert_int_equal(handler_wait(pid), -1);
	assert_int_equal(uffd_backend_handler_gone(b), 0);
	assert_int_equal(touch_all(&g, true), 0);
	/* Unregistered: giving a page back no longer waits for anyone, it reads zero after. */
	assert_int_equal(madvise(guest_page(&g, 2), PAGE, MADV_DONTNEED), 0);
	assert_int_equal(guest_page(&g, 2)[0], 0);
	uffd_backend_destroy(b);
	guest_unmap(&g);
}

/* The named mappings (files, memfds, [stack]...): the allocator's heap comes and goes. */
static void read_named_maps(char *buf, size_t size)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0, out = 0;
	char *line, *next;
	ssize_t n;

	assert_true(fd >= 0);
	while (len < size - 1 && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (line = buf; *line; line = next) {
		next = strchr(line, '\n');
		next = next ? next + 1 : line + strlen(line);
		if ((memchr(line, '/', (size_t)(next - line)) ||
		     memchr(line, '[', (size_t)(next - line))) &&
		    !memmem(line, (size_t)(next - line), "[heap]", 6)) {
			memmove(buf + out, line, (size_t)(next - line));
			out += (size_t)(next - line);
		}
	}
	buf[out] = '\0';
}

/* Every failure point of uffd_backend_create(): an error, no fd or mapping left. */
static void test_create_faults(void **state)
{
	static char maps_before[1 << 16], maps_after[1 << 16];
	static struct sink s;
	struct guest_mem g;
	struct uffd_backend *b;
	unsigned long n, i;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	snprintf(sock_path, sizeof(sock_path), "%s/sink.sock", dir);
	sink_start(&s, sock_path);
	fault_begin(0);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	n = fault_end();
	assert_false(IS_ERR(b));
	uffd_backend_destroy(b);
	sink_drain(&s);
	assert_true(n >= 8);
	for (i = 1; i <= n; i++) {
		unsigned int fds = count_fds();

		read_named_maps(maps_before, sizeof(maps_before));
		fault_begin(i);
		b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
		fault_end();
		assert_true(fault_fired());
		assert_true(IS_ERR(b));
		sink_drain(&s);
		assert_fds_settle(fds);
		read_named_maps(maps_after, sizeof(maps_after));
		assert_string_equal(maps_before, maps_after);
		/* Not left registered either. */
		assert_int_equal(guest_page(&g, 3)[0], 0);
	}
	print_message("uffd_backend_create: %lu failure points, each unwound cleanly\n", n);
	sink_stop(&s);
	guest_unmap(&g);
}

/* ---- the working-set prefetch ---- */

static void drop_cache(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
	close(fd);
}

static uint8_t *map_memfile(void)
{
	int fd = open(memfile, O_RDONLY | O_CLOEXEC);
	uint8_t *p;

	assert_true(fd >= 0);
	p = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	close(fd);
	assert_true(p != MAP_FAILED);
	return p;
}

static unsigned long resident_pages(uint8_t *p, uint64_t first, uint64_t count)
{
	unsigned char vec[MEM_PAGES];
	unsigned long n = 0;
	uint64_t i;

	assert_int_equal(mincore(p + first * PAGE, count * PAGE, vec), 0);
	for (i = 0; i < count; i++)
		n += vec[i] & 1;
	return n;
}

static bool list_has(const struct prefetch_list *l, uint64_t page)
{
	uint64_t i;

	for (i = 0; i < l->nr_runs; i++)
		if (page >= l->runs[i].first && page < l->runs[i].first + l->runs[i].count)
			return true;
	return false;
}

/*
 * Written pages of a MAP_PRIVATE file mapping are recorded exactly (a write
 * fault copies one page; read faults also map their neighbours already in the
 * page cache, fault-around, so reads are only checked to be included).
 */
static void test_prefetch_record(void **state)
{
	struct snapshot_mem_region r[2];
	struct prefetch_list l;
	uint8_t *p = map_memfile();
	uint64_t i;

	(void)state;
	/* As two regions: the second's pages are numbered after the first's. */
	r[0] = (struct snapshot_mem_region){ p, REGION0, 0, PAGE };
	r[1] = (struct snapshot_mem_region){ p + REGION0, MEM_SIZE - REGION0, REGION0, PAGE };
	for (i = 0; i < 3; i++)
		p[i * PAGE] = 1;
	p[10 * PAGE] = 1;
	for (i = 100; i < 121; i++)
		p[i * PAGE + 5] = 1;
	p[(MEM_PAGES - 1) * PAGE] = 1;
	assert_int_equal(prefetch_record(r, 2, &l), 0);
	assert_int_equal(l.page_size, PAGE);
	assert_int_equal(l.nr_runs, 4);
	assert_int_equal(l.runs[0].first, 0);
	assert_int_equal(l.runs[0].count, 3);
	assert_int_equal(l.runs[1].first, 10);
	assert_int_equal(l.runs[1].count, 1);
	assert_int_equal(l.runs[2].first, 100);
	assert_int_equal(l.runs[2].count, 21);
	assert_int_equal(l.runs[3].first, MEM_PAGES - 1);
	assert_int_equal(l.runs[3].count, 1);
	assert_true(prefetch_list_valid(&l, MEM_PAGES));
	prefetch_list_free(&l);
	/* Reads: included. Regions given out of order: the list is still sorted. */
	(void)*(volatile uint8_t *)(p + 600 * PAGE);
	(void)*(volatile uint8_t *)(p + 1900 * PAGE);
	{
		struct snapshot_mem_region rev[2] = { r[1], r[0] };

		assert_int_equal(prefetch_record(rev, 2, &l), 0);
	}
	assert_true(list_has(&l, 600) && list_has(&l, 1900) && list_has(&l, 10));
	assert_true(prefetch_list_valid(&l, MEM_PAGES));
	prefetch_list_free(&l);
	munmap(p, MEM_SIZE);
}

/*
 * Without /proc/self/pagemap (no /proc in a jail): mincore(), which counts
 * pages that are in the page cache, mapped here or not (readahead's too: a
 * superset of the pages touched; exact here, read-around being off).
 */
static void test_prefetch_record_mincore(void **state)
{
	pid_t child;
	int status;

	(void)state;
	drop_cache(memfile);
	child = fork();
	assert_true(child >= 0);
	if (!child) {
		struct snapshot_mem_region r;
		struct prefetch_list l;
		uint64_t i, total = 0;
		uint8_t *p = map_memfile();

		if (unshare(CLONE_NEWNS) || mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) ||
		    mount("none", "/proc", "tmpfs", 0, NULL))
			_exit(77);
		if (!access("/proc/self/pagemap", F_OK))
			_exit(20);
		r = (struct snapshot_mem_region){ p, MEM_SIZE, 0, PAGE };
		/* No read-around: the page cache gets only the pages faulted. */
		if (madvise(p, MEM_SIZE, MADV_RANDOM))
			_exit(24);
		p[12 * PAGE] = 1;
		p[700 * PAGE] = 1;
		p[2047 * PAGE] = 1;
		if (prefetch_record(&r, 1, &l) || !prefetch_list_valid(&l, MEM_PAGES))
			_exit(21);
		if (!list_has(&l, 12) || !list_has(&l, 700) || !list_has(&l, 2047))
			_exit(22);
		for (i = 0; i < l.nr_runs; i++)
			total += l.runs[i].count;
		prefetch_list_free(&l);
		_exit(total == 3 ? 0 : 23);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		print_message("SKIP: no mount namespace can be made here\n");
		skip();
	}
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_prefetch_encode_decode(void **state)
{
	struct prefetch_run runs[] = {
		{ 0, 3 }, { 10, 1 }, { 100, 21 }, { 1000, 1000 }, { MEM_PAGES - 1, 1 }
	};
	struct prefetch_list l = { PAGE, 5, runs }, back;
	uint8_t buf[256];
	long n;

	(void)state;
	n = prefetch_encode(&l, NULL, 0);
	assert_true(n > 24 && n < 48);
	assert_int_equal(prefetch_encode(&l, buf, (size_t)n - 1), n); /* too small: nothing */
	assert_int_equal(prefetch_encode(&l, buf, sizeof(buf)), n);
	assert_int_equal(prefetch_decode(buf, (size_t)n, PAGE, MEM_PAGES, &back), 0);
	assert_int_equal(back.page_size, PAGE);
	assert_int_equal(back.nr_runs, 5);
	assert_memory_equal(back.runs, runs, sizeof(runs));
	prefetch_list_free(&back);
	print_message("5 runs, 2023 pages: %ld bytes\n", n);
	/* An empty list is a list. */
	l.nr_runs = 0;
	n = prefetch_encode(&l, buf, sizeof(buf));
	assert_int_equal(n, 24);
	assert_int_equal(prefetch_decode(buf, (size_t)n, PAGE, MEM_PAGES, &back), 0);
	assert_int_equal(back.nr_runs, 0);
	prefetch_list_free(&back);
}

/* Lists that break the rules are refused by encode, decode and apply alike. */
static void test_prefetch_malformed(void **state)
{
	struct prefetch_run ok_runs[] = { { 4, 2 }, { 9, 3 } };
	struct prefetch_list ok = { PAGE, 2, ok_runs }, out = { 0, 7, NULL };
	struct prefetch_run overlap[] = { { 4, 6 }, { 9, 3 } }, touch[] = { { 4, 5 }, { 9, 3 } },
			    unsorted[] = { { 9, 3 }, { 4, 2 } }, empty[] = { { 4, 0 } },
			    wrap[] = { { UINT64_MAX - 1, 4 } };
	struct prefetch_list bad[] = {
		{ PAGE, 2, overlap }, { PAGE, 2, touch }, { PAGE, 2, unsorted },
		{ PAGE, 1, empty },   { PAGE, 1, wrap },  { 3000, 2, ok_runs },
		{ PAGE, 2, NULL },
	};
	uint8_t buf[64], mut[64];
	struct guest_mem g;
	unsigned int i;
	long n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(prefetch_list_valid(&bad[i], MEM_PAGES));
		assert_int_equal(prefetch_encode(&bad[i], buf, sizeof(buf)), -EINVAL);
	}
	guest_map(&g);
	assert_int_equal(prefetch_apply(g.r, 2, &bad[0]), -EINVAL);
	{
		struct prefetch_run beyond[] = { { MEM_PAGES - 1, 2 } };
		struct prefetch_list l = { PAGE, 1, beyond };

		assert_int_equal(prefetch_apply(g.r, 2, &l), -EINVAL); /* no region there */
		assert_int_equal(PTR_ERR(prefetch_start(g.r, 2, &bad[1])), -EINVAL);
	}
	guest_unmap(&g);

	n = prefetch_encode(&ok, buf, sizeof(buf));
	assert_int_equal(n, 28);
	/* Every truncation, and a byte too many. */
	for (i = 0; i < (unsigned int)n; i++)
		assert_int_equal(prefetch_decode(buf, i, PAGE, MEM_PAGES, &out), -EINVAL);
	memcpy(mut, buf, (size_t)n);
	mut[n] = 0;
	assert_int_equal(prefetch_decode(mut, (size_t)n + 1, PAGE, MEM_PAGES, &out), -EINVAL);
	assert_int_equal(prefetch_decode(NULL, 0, PAGE, MEM_PAGES, &out), -EINVAL);
	/* header: magic, version, page size, a run count its bytes cannot hold */
	struct {
		unsigned int at;
		uint8_t val;
	} flips[] = { { 0, 'X' },
		      { 4, 2 },
		      { 9, 0x20 },
		      { 16, 3 },
		      { 23, 0x80 },
		      /* runs: gap 4, count 2, gap 3, count 3 at 24..27 */
		      { 26, 0 }, /* a run touching the previous one */
		      { 25, 0 }, /* an empty run */
		      { 24,
			0x84 } /* an unfinished LEB128: the next byte joins, the end is short */ };
	for (i = 0; i < sizeof(flips) / sizeof(flips[0]); i++) {
		memcpy(mut, buf, (size_t)n);
		mut[flips[i].at] = flips[i].val;
		assert_int_equal(prefetch_decode(mut, (size_t)n, PAGE, MEM_PAGES, &out), -EINVAL);
	}
	/* Another page size than the memory's; runs past the end of memory. */
	assert_int_equal(prefetch_decode(buf, (size_t)n, 2 << 20, MEM_PAGES, &out), -EINVAL);
	assert_int_equal(prefetch_decode(buf, (size_t)n, PAGE, 11, &out), -EINVAL);
	assert_int_equal(prefetch_decode(buf, (size_t)n, PAGE, 12, &out), 0);
	prefetch_list_free(&out);
	/* A padded LEB128 (0x84 0x00 for 4), an 11-byte one, one over 64 bits. */
	{
		uint8_t padded[] = { 'M', 'V', 'W', 'S', 1, 0, 0, 0, 0, 0x10, 0,    0, 0, 0,
				     0,	  0,   1,   0,	 0, 0, 0, 0, 0, 0,    0x84, 0, 1 };
		uint8_t huge[24 + 12] = { 'M', 'V', 'W', 'S', 1, 0, 0, 0, 0, 0x10, 0, 0,
					  0,   0,   0,	 0,   1, 0, 0, 0, 0, 0,	   0, 0 };

		out.nr_runs = 7;
		assert_int_equal(prefetch_decode(padded, sizeof(padded), PAGE, MEM_PAGES, &out),
				 -EINVAL);
		memset(huge + 24, 0xff, 10);
		huge[33] = 0x01; /* 10 bytes ending in 0x01: 2^63 + ..., fine as a value */
		huge[34] = 0x01;
		assert_int_equal(prefetch_decode(huge, 35, PAGE, UINT64_MAX, &out), -EINVAL);
		huge[33] = 0x02; /* over 64 bits */
		assert_int_equal(prefetch_decode(huge, 35, PAGE, UINT64_MAX, &out), -EINVAL);
		huge[33] = 0x81; /* 11 bytes */
		assert_int_equal(prefetch_decode(huge, 36, PAGE, UINT64_MAX, &out), -EINVAL);
	}
	/* Nothing was written to out by any refusal. */
	assert_int_equal(out.nr_runs, 7);
	assert_null(out.runs);
}

/* Applied to a file mapping whose pages left the page cache: the listed pages come back. */
static void test_prefetch_apply_file(void **state)
{
	struct prefetch_run runs[] = { { 0, 16 }, { 300, 64 }, { 1500, 1 }, { 2000, 48 } };
	struct prefetch_list l = { PAGE, 4, runs };
	struct snapshot_mem_region r[2];
	struct prefetch_thread *t;
	uint8_t *p;
	unsigned int i, pass;

	(void)state;
	for (pass = 0; pass < 2; pass++) {
		drop_cache(memfile);
		p = map_memfile();
		r[0] = (struct snapshot_mem_region){ p, REGION0, 0, PAGE };
		r[1] = (struct snapshot_mem_region){ p + REGION0, MEM_SIZE - REGION0, REGION0,
						     PAGE };
		/* Out of the page cache: what is resident after, the prefetch brought. */
		for (i = 0; i < 4; i++)
			assert_int_equal(resident_pages(p, runs[i].first, runs[i].count), 0);
		if (pass == 0) {
			assert_int_equal(prefetch_apply(r, 2, &l), 0);
		} else {
			t = prefetch_start(r, 2, &l);
			assert_false(IS_ERR(t));
			assert_int_equal(prefetch_join(t), 0);
		}
		for (i = 0; i < 4; i++)
			assert_int_equal(resident_pages(p, runs[i].first, runs[i].count),
					 runs[i].count);
		/* Mapped in this process too (MADV_POPULATE_READ), with the file's contents. */
		{
			struct prefetch_list got;

			assert_int_equal(prefetch_record(r, 2, &got), 0);
			for (i = 0; i < 4; i++)
				assert_true(list_has(&got, runs[i].first + runs[i].count - 1));
			prefetch_list_free(&got);
		}
		assert_memory_equal(p + 300 * PAGE, expected + 300 * PAGE, 64 * PAGE);
		munmap(p, MEM_SIZE);
	}
}

/* On Uffd memory the prefetch asks the handler for the pages up front. */
static void test_prefetch_apply_uffd(void **state)
{
	struct prefetch_run runs[] = { { 5, 100 }, { 1530, 40 } }; /* across both regions */
	struct prefetch_list l = { PAGE, 2, runs }, got;
	unsigned long copies, zeros, removes;
	struct uffd_backend *b;
	struct guest_mem g;
	pid_t pid;

	(void)state;
	REQUIRE_UFFD();
	guest_map(&g);
	pid = handler_start(NULL, NULL);
	b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
	assert_false(IS_ERR(b));
	assert_int_equal(prefetch_apply(g.r, 2, &l), 0);
	assert_int_equal(prefetch_record(g.r, 2, &got), 0);
	assert_int_equal(got.nr_runs, 2);
	assert_memory_equal(got.runs, runs, sizeof(runs));
	prefetch_list_free(&got);
	assert_memory_equal(guest_page(&g, 5), expected + 5 * PAGE, 100 * PAGE);
	uffd_backend_destroy(b);
	assert_int_equal(handler_wait(pid), 0);
	handler_stats(&copies, &zeros, &removes);
	assert_int_equal(copies + zeros, 140);
	guest_unmap(&g);
}

/* Failure points of record, decode and the prefetch thread: errors, nothing left. */
static void test_prefetch_faults(void **state)
{
	struct prefetch_run runs[] = { { 0, 1 }, { 2, 1 }, { 4, 1 } };
	struct prefetch_list l = { PAGE, 3, runs }, out;
	struct snapshot_mem_region r;
	uint8_t buf[64], *p = map_memfile();
	unsigned long n, i, k;
	long len = prefetch_encode(&l, buf, sizeof(buf));

	(void)state;
	r = (struct snapshot_mem_region){ p, MEM_SIZE, 0, PAGE };
	/* 200 separate runs: the run array grows twice. */
	for (i = 0; i < 200; i++)
		p[i * 2 * PAGE] = 1;
	for (k = 0; k < 3; k++) {
		struct prefetch_thread *t = NULL;
		int err = 0;

		fault_begin(0);
		if (k == 0)
			err = prefetch_record(&r, 1, &out);
		else if (k == 1)
			err = prefetch_decode(buf, (size_t)len, PAGE, MEM_PAGES, &out);
		else
			t = prefetch_start(&r, 1, &l);
		n = fault_end();
		assert_int_equal(err, 0);
		if (k < 2)
			prefetch_list_free(&out);
		else
			assert_int_equal(prefetch_join(t), 0);
		assert_true(n >= 1);
		for (i = 1; i <= n; i++) {
			unsigned int fds = count_fds();

			fault_begin(i);
			if (k == 0)
				err = prefetch_record(&r, 1, &out);
			else if (k == 1)
				err = prefetch_decode(buf, (size_t)len, PAGE, MEM_PAGES, &out);
			else
				err = PTR_ERR_OR_ZERO(prefetch_start(&r, 1, &l));
			fault_end();
			assert_true(fault_fired());
			assert_true(err < 0);
			assert_int_equal(count_fds(), fds);
		}
	}
	munmap(p, MEM_SIZE);
}

/*
 * Under the seccomp filters of the threads that will call them (the API
 * thread at PUT /snapshot/load, the main thread and its event loop): the
 * handshake, the handler watch, the prefetch thread and the recording.
 * A call missing from a list kills the child with SIGSYS.
 */
static void test_under_seccomp(void **state)
{
	const enum sandbox_thread types[] = { SANDBOX_API, SANDBOX_VMM };
	unsigned int k;

	(void)state;
	REQUIRE_UFFD();
	for (k = 0; k < 2; k++) {
		/* It exits after the prefetch's 140 pages: the watch and its aftermath too. */
		pid_t handler = handler_start("--exit-after-faults", "140"), child;
		int status;

		child = fork();
		assert_true(child >= 0);
		if (!child) {
			struct prefetch_run runs[] = { { 5, 100 }, { 1530, 40 } };
			struct prefetch_list l = { PAGE, 2, runs }, got;
			struct prefetch_thread *t;
			struct uffd_backend *b;
			struct guest_mem g;
			struct pollfd p;

			guest_map(&g);
			if (sandbox_configure(SANDBOX_ON, NULL) || sandbox_enter(types[k]))
				_exit(10);
			b = uffd_backend_create(g.r, 2, sock_path, TIMEOUT_MS);
			if (IS_ERR(b))
				_exit(11);
			p = (struct pollfd){ .fd = uffd_backend_watch_fd(b), .events = POLLIN };
			if (poll(&p, 1, 0) != 0)
				_exit(12);
			t = prefetch_start(g.r, 2, &l);
			if (IS_ERR(t) || prefetch_join(t))
				_exit(13);
			if (prefetch_record(g.r, 2, &got) || got.nr_runs != 2)
				_exit(14);
			prefetch_list_free(&got);
			if (memcmp(guest_page(&g, 1569), expected + 1569 * PAGE, PAGE))
				_exit(15);
			p = (struct pollfd){ .fd = uffd_backend_watch_fd(b), .events = POLLIN };
			if (poll(&p, 1, 10000) != 1 || uffd_backend_handler_gone(b) != -EPIPE)
				_exit(16);
			uffd_backend_destroy(b);
			_exit(0);
		}
		assert_int_equal(waitpid(child, &status, 0), child);
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			fail_msg("under the %s filter: %s %d", sandbox_thread_name(types[k]),
				 WIFEXITED(status) ? "exit status" : "killed by signal",
				 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		assert_int_equal(handler_wait(handler), 3);
	}
}

static int group_setup(void **state)
{
	(void)state;
	handler_bin = getenv("UFFD_HANDLER");
	if (!handler_bin)
		handler_bin = "build/tests/uffd-handler";
	if (!mkdtemp(dir))
		return -1;
	make_memfile();
	return 0;
}

static int group_teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(expected);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_regions),
		cmocka_unit_test(test_handler_missing),
		cmocka_unit_test(test_handler_never_reads),
		cmocka_unit_test(test_message_format),
		cmocka_unit_test(test_serve_pages),
		cmocka_unit_test(test_serve_memfd),
		cmocka_unit_test_teardown(test_serve_hugetlb, restore_hugepages),
		cmocka_unit_test(test_handler_dies_midway),
		cmocka_unit_test(test_handler_gone_socket_watch),
		cmocka_unit_test(test_handler_stalls),
		cmocka_unit_test(test_handler_gone_after_full_load),
		cmocka_unit_test(test_create_faults),
		cmocka_unit_test(test_prefetch_record),
		cmocka_unit_test(test_prefetch_record_mincore),
		cmocka_unit_test(test_prefetch_encode_decode),
		cmocka_unit_test(test_prefetch_malformed),
		cmocka_unit_test(test_prefetch_apply_file),
		cmocka_unit_test(test_prefetch_apply_uffd),
		cmocka_unit_test(test_prefetch_faults),
		cmocka_unit_test(test_under_seccomp),
	};

	/* Errors are provoked on purpose: their messages are noise here. */
	mvm_log_set_level(-1);
	/* A test that waits on memory nobody serves must fail, not hang the test run. */
	alarm(300);
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("snapshot memory (Uffd backend, working-set prefetch)",
					   tests, group_setup, group_teardown);
}
