// SPDX-License-Identifier: MIT
/*
 * A page-fault handler for snapshot loads with the Uffd backend, speaking
 * Firecracker's protocol: it listens on a Unix socket, receives from the VMM
 * a JSON array of GuestRegionUffdMapping objects with the userfaultfd
 * attached, then serves each missing page from the memory file (UFFDIO_COPY;
 * UFFDIO_ZEROPAGE for holes and pages past its end), zeroes the pages a
 * UFFD_EVENT_REMOVE took away (a balloon's), and exits when the VMM closes its
 * end of the connection (the VMM is gone or done).
 *
 *   uffd-handler SOCKET MEMFILE [--exit-after-faults N] [--no-serve 1] [--timeout-ms MS]
 *
 * The socket appears only once it listens (bound under a temporary name,
 * then renamed). --exit-after-faults makes it die abruptly after serving N
 * faults, as a crashed handler would; --no-serve 1 takes the layout and the
 * uffd, then hangs: it serves nothing and holds the uffd until killed.
 * At exit it prints one line:
 *   uffd-handler: faults=F copies=C zeropages=Z removes=R
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_REGIONS 64
#define MSG_MAX	    65536
#define PENDING_MAX 4096

struct region {
	uint64_t base, size, offset, page_size;
	uint8_t *removed; /* one byte a page: taken by UFFD_EVENT_REMOVE, serve zeroes */
};

static struct region regions[MAX_REGIONS];
static unsigned int nr_regions;
static int mem_fd = -1;
static const uint8_t *mem; /* the memory file, mapped */
static uint64_t mem_size;
static uint8_t *zero_page; /* a page of zeroes for huge pages (no UFFDIO_ZEROPAGE there) */
static unsigned long faults, copies, zeropages, removes;

static void die(const char *what)
{
	fprintf(stderr, "uffd-handler: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *why)
{
	fprintf(stderr, "uffd-handler: %s\n", why);
	exit(1);
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char tmp[sizeof(addr.sun_path)];
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket");
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		fail("socket path too long");
	strcpy(addr.sun_path, tmp);
	unlink(tmp);
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) || listen(fd, 1))
		die("bind/listen");
	if (rename(tmp, path))
		die("rename");
	return fd;
}

/* The message (complete JSON) and the uffd that came with it. */
static json_t *receive_layout(int conn, int *uffd)
{
	static char buf[MSG_MAX];
	size_t len = 0;

	*uffd = -1;
	for (;;) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = buf + len, .iov_len = sizeof(buf) - len };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct cmsghdr *c;
		json_error_t jerr;
		json_t *j;
		ssize_t n;

		mh.msg_control = ctl.buf;
		mh.msg_controllen = sizeof(ctl.buf);
		n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			fail("the VMM closed the connection before sending the memory layout");
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
				memcpy(uffd, CMSG_DATA(c), sizeof(int));
		len += (size_t)n;
		j = json_loadb(buf, len, 0, &jerr);
		if (j)
			return j;
		if (len == sizeof(buf))
			fail("memory layout message too long");
	}
}

static uint64_t field(json_t *obj, const char *name, bool *ok)
{
	json_t *v = json_object_get(obj, name);

	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		*ok = false;
		return 0;
	}
	return (uint64_t)json_integer_value(v);
}

static void parse_layout(json_t *arr)
{
	size_t i;
	json_t *obj;

	if (!json_is_array(arr) || !json_array_size(arr) || json_array_size(arr) > MAX_REGIONS)
		fail("the memory layout is not an array of 1 to 64 regions");
	json_array_foreach (arr, i, obj) {
		struct region *r = &regions[i];
		bool ok = json_is_object(obj);

		r->base = field(obj, "base_host_virt_addr", &ok);
		r->size = field(obj, "size", &ok);
		r->offset = field(obj, "offset", &ok);
		/* page_size; older VMMs sent only page_size_kib (bytes, despite its name). */
		r->page_size = json_object_get(obj, "page_size") ? field(obj, "page_size", &ok)
								 : field(obj, "page_size_kib", &ok);
		if (!ok || r->page_size < 4096 || (r->page_size & (r->page_size - 1)) || !r->size ||
		    (r->base | r->size | r->offset) % r->page_size)
			fail("a region of the memory layout is malformed");
		r->removed = calloc(r->size / r->page_size, 1);
		if (!r->removed)
			die("calloc");
	}
	nr_regions = (unsigned int)json_array_size(arr);
}

static struct region *region_of(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < nr_regions; i++)
		if (addr >= regions[i].base && addr - regions[i].base < regions[i].size)
			return &regions[i];
	return NULL;
}

/* A hole (or past the end) of the memory file: no data in [off, off + len). */
static bool file_hole(uint64_t off, uint64_t len)
{
	off_t data;

	if (off >= mem_size)
		return true;
	data = lseek(mem_fd, (off_t)off, SEEK_DATA);
	return data < 0 || (uint64_t)data >= off + len;
}

/* 0 served, 1 to retry later (EAGAIN: an event is queued first). */
static int serve(int uffd, uint64_t fault_addr)
{
	struct region *r = region_of(fault_addr);
	uint64_t page, off;
	bool zero;
	int ret;

	if (!r)
		fail("a fault outside every region of the memory layout");
	page = fault_addr & ~(r->page_size - 1);
	off = r->offset + (page - r->base);
	zero = r->removed[(page - r->base) / r->page_size] || file_hole(off, r->page_size);
	if (zero && r->page_size == 4096) {
		struct uffdio_zeropage z = { .range = { .start = page, .len = r->page_size } };

		ret = ioctl(uffd, UFFDIO_ZEROPAGE, &z);
		if (!ret)
			zeropages++;
	} else {
		struct uffdio_copy cp = {
			.dst = page,
			.src = (uintptr_t)(zero ? zero_page : mem + off),
			.len = r->page_size,
		};

		if (!zero && off + r->page_size > mem_size)
			fail("a page straddles the end of the memory file");
		ret = ioctl(uffd, UFFDIO_COPY, &cp);
		if (!ret)
			zero ? zeropages++ : copies++;
	}
	if (ret && errno == EAGAIN)
		return 1;
	/*
	 * EEXIST: another thread's fault got it first; ENOENT: the range is no
	 * longer registered (the VMM let go of its memory while this fault was
	 * read), nobody waits for the page any more.
	 */
	if (ret && errno != EEXIST && errno != ENOENT)
		die("UFFDIO_COPY/ZEROPAGE");
	return 0;
}

static void mark_removed(uint64_t start, uint64_t end)
{
	uint64_t a;

	removes++;
	for (a = start; a < end;) {
		struct region *r = region_of(a);

		if (!r) {
			a += 4096;
			continue;
		}
		r->removed[(a - r->base) / r->page_size] = 1;
		a = (a & ~(r->page_size - 1)) + r->page_size;
	}
}

static void print_stats(void)
{
	printf("uffd-handler: faults=%lu copies=%lu zeropages=%lu removes=%lu\n", faults, copies,
	       zeropages, removes);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static uint64_t pending[PENDING_MAX];
	unsigned int nr_pending = 0;
	long exit_after = -1, timeout_ms = 30000;
	bool no_serve = false;
	int lfd, conn, uffd, i;
	json_t *layout;
	struct pollfd p;
	struct stat st;

	if (argc < 3) {
		fprintf(stderr,
			"usage: %s SOCKET MEMFILE [--exit-after-faults N] "
			"[--timeout-ms MS]\n",
			argv[0]);
		return 1;
	}
	for (i = 3; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--exit-after-faults"))
			exit_after = strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--no-serve"))
			no_serve = !!strtol(argv[i + 1], NULL, 0);
		else if (!strcmp(argv[i], "--timeout-ms"))
			timeout_ms = strtol(argv[i + 1], NULL, 0);
		else
			fail("unknown option");
	}
	mem_fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (mem_fd < 0 || fstat(mem_fd, &st))
		die(argv[2]);
	mem_size = (uint64_t)st.st_size;
	if (mem_size) {
		mem = mmap(NULL, mem_size, PROT_READ, MAP_PRIVATE, mem_fd, 0);
		if (mem == MAP_FAILED)
			die("mmap of the memory file");
	}
	zero_page =
		mmap(NULL, 1 << 30, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (zero_page == MAP_FAILED)
		die("mmap");

	lfd = listen_on(argv[1]);
	p = (struct pollfd){ .fd = lfd, .events = POLLIN };
	if (poll(&p, 1, (int)timeout_ms) != 1)
		fail("no VMM connected in time");
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		die("accept");
	close(lfd);
	layout = receive_layout(conn, &uffd);
	parse_layout(layout);
	json_decref(layout);
	if (uffd < 0)
		fail("the memory layout came without a userfaultfd");
	while (no_serve) /* hung: holds the uffd, heeds nothing, until killed */
		pause();

	while (!no_serve) {
		struct pollfd fds[2] = {
			{ .fd = uffd, .events = POLLIN },
			{ .fd = conn, .events = POLLIN | POLLRDHUP },
		};
		struct uffd_msg msgs[64];
		ssize_t n;
		int k;

		if (poll(fds, 2, nr_pending ? 1 : -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (fds[1].revents) {
			char c;
			ssize_t got = recv(conn, &c, 1, MSG_DONTWAIT);

			if (got == 0 || (got < 0 && errno != EAGAIN))
				break; /* the VMM is gone or done with us */
		}
		if (fds[0].revents & (POLLERR | POLLHUP))
			break;
		n = read(uffd, msgs, sizeof(msgs));
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			die("read of the userfaultfd");
		for (k = 0; n > 0 && k < n / (ssize_t)sizeof(msgs[0]); k++) {
			struct uffd_msg *m = &msgs[k];

			if (m->event == UFFD_EVENT_REMOVE) {
				mark_removed(m->arg.remove.start, m->arg.remove.end);
				continue;
			}
			if (m->event != UFFD_EVENT_PAGEFAULT)
				continue;
			faults++;
			if (serve(uffd, m->arg.pagefault.address) && nr_pending < PENDING_MAX)
				pending[nr_pending++] = m->arg.pagefault.address;
			if (exit_after >= 0 && (long)faults >= exit_after) {
				print_stats();
				_exit(3); /* a crash: no cleanup */
			}
		}
		/* Faults that met a pending event: the events are read now. */
		for (k = 0; k < (int)nr_pending;) {
			if (serve(uffd, pending[k]))
				k++;
			else
				pending[k] = pending[--nr_pending];
		}
	}
	print_stats();
	for (i = 0; i < (int)nr_regions; i++)
		free(regions[i].removed);
	return 0;
}
