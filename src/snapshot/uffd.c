// SPDX-License-Identifier: MIT
/*
 * The Uffd memory backend of a snapshot load, Firecracker's protocol
 * (docs/snapshotting/handling-page-faults-on-snapshot-resume.md): mvm makes
 * the userfaultfd and registers guest memory with it; a page-fault handler
 * process listening on backend_path receives the uffd and the memory layout,
 * then serves every missing page. See mvm/snapshot_mem.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/sockios.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/snapshot_mem.h"
#include "mvm/sys.h"

struct uffd_backend {
	int uffd;
	int sock;	 /* the connection to the handler, kept open as Firecracker does */
	int watch_fd;	 /* a pidfd of the handler, or sock */
	bool registered; /* guest memory is the handler's to fill (a handshake made) */
	bool gone;	 /* uffd_backend_handler_gone() found it gone: */
	int gone_err;	 /* its answer */
	unsigned int nr;
	struct snapshot_mem_region regions[];
};

static int64_t now_ms(void)
{
	return (int64_t)(mvm_clock_ns(CLOCK_MONOTONIC) / 1000000);
}

static int ms_left(int64_t deadline)
{
	int64_t left = deadline - now_ms();

	return left < 0 ? 0 : (int)left;
}

/*
 * The syscall, or /dev/userfaultfd where unprivileged userfaultfd is
 * restricted (vm.unprivileged_userfaultfd=0 and no CAP_SYS_PTRACE): guest
 * memory is touched by KVM in kernel mode, so UFFD_USER_MODE_ONLY will not do.
 */
static int uffd_open(void)
{
	FAULT_SITE(site, "userfaultfd");
	int fd, dev;

	if (fault_should_fail(&site)) {
		errno = EMFILE;
		return -1;
	}
	fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0 || (errno != EPERM && errno != ENOSYS))
		return fd;
	dev = openat(AT_FDCWD, "/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0) {
		errno = EPERM;
		return -1;
	}
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	close(dev);
	return fd;
}

static int uffd_setup(struct uffd_backend *b)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_EVENT_REMOVE };
	unsigned int i;

	b->uffd = uffd_open();
	if (b->uffd < 0) {
		int err = -errno;

		pr_err("snapshot load: cannot create a userfaultfd: %s%s", strerror(-err),
		       err == -EPERM ? " (vm.unprivileged_userfaultfd is 0 and /dev/userfaultfd "
				       "is not accessible)"
				     : "");
		return err;
	}
	if (mvm_ioctl(b->uffd, UFFDIO_API, &api)) {
		pr_err("snapshot load: UFFDIO_API: %s", strerror(errno));
		return -errno;
	}
	for (i = 0; i < b->nr; i++) {
		const struct snapshot_mem_region *r = &b->regions[i];
		struct uffdio_register reg = {
			.range = { .start = (uintptr_t)r->host_addr, .len = r->size },
			.mode = UFFDIO_REGISTER_MODE_MISSING,
		};

		if (mvm_ioctl(b->uffd, UFFDIO_REGISTER, &reg)) {
			pr_err("snapshot load: cannot register guest memory region %u with the "
			       "userfaultfd: %s",
			       i, strerror(errno));
			return -errno;
		}
		if (!(reg.ioctls & (1ULL << _UFFDIO_COPY))) {
			pr_err("snapshot load: region %u: the kernel offers no UFFDIO_COPY there",
			       i);
			return -EOPNOTSUPP;
		}
	}
	return 0;
}

/* Firecracker's message: [{"base_host_virt_addr":..,"size":..,"offset":..,"page_size":..,
 * "page_size_kib":..}], page_size_kib being the same number of bytes (its old, wrong name). */
static char *layout_json(const struct uffd_backend *b)
{
	FAULT_SITE(site, "uffd layout JSON");
	json_t *arr, *obj;
	char *s = NULL;
	unsigned int i;

	if (fault_should_fail(&site))
		return NULL;
	arr = json_array();
	if (!arr)
		return NULL;
	for (i = 0; i < b->nr; i++) {
		const struct snapshot_mem_region *r = &b->regions[i];

		obj = json_pack("{s:I, s:I, s:I, s:I, s:I}", "base_host_virt_addr",
				(json_int_t)(uintptr_t)r->host_addr, "size", (json_int_t)r->size,
				"offset", (json_int_t)r->offset, "page_size",
				(json_int_t)r->page_size, "page_size_kib",
				(json_int_t)r->page_size);
		if (!obj || json_array_append_new(arr, obj))
			goto out;
	}
	s = json_dumps(arr, JSON_COMPACT | JSON_PRESERVE_ORDER);
out:
	json_decref(arr);
	return s;
}

/* A connect that gives up at the deadline (a handler whose backlog stays full). */
static int handler_connect(int sock, const char *path, int64_t deadline)
{
	FAULT_SITE(site, "connect to the uffd handler");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };

	if (fault_should_fail(&site))
		return -ECONNREFUSED;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	for (;;) {
		if (!connect(sock, (struct sockaddr *)&addr, sizeof(addr)))
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN || !ms_left(deadline))
			return errno == EAGAIN ? -ETIMEDOUT : -errno;
		poll(NULL, 0, 1);
	}
}

/* The message with the uffd attached to its first byte; the rest if the socket took part. */
static int send_layout(int sock, int uffd, const char *msg, int64_t deadline)
{
	FAULT_SITE(site, "sendmsg to the uffd handler");
	size_t len = strlen(msg), sent = 0;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;

	if (fault_should_fail(&site))
		return -EPIPE;
	while (sent < len) {
		struct iovec iov = { .iov_base = (char *)msg + sent, .iov_len = len - sent };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct pollfd p = { .fd = sock, .events = POLLOUT };
		ssize_t n;

		if (!sent) {
			struct cmsghdr *c;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = sizeof(ctl.buf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &uffd, sizeof(int));
		}
		n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n > 0) {
			sent += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		if (poll(&p, 1, ms_left(deadline)) == 0)
			return -ETIMEDOUT;
	}
	return 0;
}

/* Until the handler has read the whole message: a handler that never does is an error. */
static int wait_taken(int sock, int64_t deadline)
{
	int delay_us = 20, queued = 0;

	for (;;) {
		/* Bytes the peer has not read yet (AF_UNIX: not yet consumed by its recvmsg). */
		if (ioctl(sock, SIOCOUTQ, &queued))
			return -errno;
		if (!queued)
			return 0;
		if (!ms_left(deadline))
			return -ETIMEDOUT;
		usleep((useconds_t)delay_us);
		delay_us = delay_us < 1000 ? delay_us * 2 : 1000;
	}
}

/* A pidfd of the listening process; the socket where there is none to be had. */
static int handler_watch_fd(int sock)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd;

	if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) || cred.pid <= 0)
		return sock;
	fd = (int)syscall(SYS_pidfd_open, cred.pid, 0); /* close-on-exec, always */
	return fd < 0 ? sock : fd;
}

static int handler_handshake(struct uffd_backend *b, const char *path, int timeout_ms)
{
	int64_t deadline = now_ms() + (timeout_ms < 0 ? 0 : timeout_ms);
	char *msg = layout_json(b);
	int err;

	if (!msg) {
		pr_err("snapshot load: cannot build the memory layout message");
		return -ENOMEM;
	}
	b->sock = mvm_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (b->sock < 0) {
		err = -errno;
		pr_err("snapshot load: socket: %s", strerror(-err));
		goto out;
	}
	err = handler_connect(b->sock, path, deadline);
	if (err) {
		pr_err("snapshot load: cannot connect to the page fault handler at '%s': %s", path,
		       err == -ETIMEDOUT ? "it accepts no connection" : strerror(-err));
		goto out;
	}
	err = send_layout(b->sock, b->uffd, msg, deadline);
	if (!err)
		err = wait_taken(b->sock, deadline);
	if (err == -ETIMEDOUT)
		pr_err("snapshot load: the page fault handler at '%s' did not take the memory "
		       "layout within %d ms",
		       path, timeout_ms);
	else if (err)
		pr_err("snapshot load: cannot send the memory layout to the page fault handler "
		       "at '%s': %s",
		       path, strerror(-err));
	else
		b->watch_fd = handler_watch_fd(b->sock);
	b->registered = !err;
out:
	free(msg);
	return err;
}

struct uffd_backend *uffd_backend_create(const struct snapshot_mem_region *regions, unsigned int nr,
					 const char *backend_path, int timeout_ms)
{
	struct uffd_backend *b;
	int err;

	if (snapshot_mem_regions_check(regions, nr))
		return ERR_PTR(-EINVAL);
	if (!backend_path || !*backend_path ||
	    strlen(backend_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		pr_err("snapshot load: backend_path must be a socket path of 1 to %zu bytes",
		       sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
		return ERR_PTR(-EINVAL);
	}
	b = mvm_zalloc(sizeof(*b) + nr * sizeof(*regions));
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->uffd = b->sock = b->watch_fd = -1;
	b->nr = nr;
	memcpy(b->regions, regions, nr * sizeof(*regions));
	err = uffd_setup(b);
	if (err)
		goto err_free;
	err = handler_handshake(b, backend_path, timeout_ms);
	if (err)
		goto err_free;
	return b;

err_free:
	uffd_backend_destroy(b);
	return ERR_PTR(err);
}

int uffd_backend_watch_fd(const struct uffd_backend *b)
{
	return b->watch_fd;
}

/* Every page of r is in memory (mincore, a chunk at a time: no allocation). */
static bool region_loaded(const struct snapshot_mem_region *r)
{
	const uint64_t base = 4096, chunk = 4096 * base;
	unsigned char vec[4096];
	uint64_t off, i;

	for (off = 0; off < r->size; off += chunk) {
		uint64_t len = r->size - off < chunk ? r->size - off : chunk;

		if (mincore((char *)r->host_addr + off, len, vec))
			return false;
		for (i = 0; i < len / base; i++)
			if (!(vec[i] & 1))
				return false;
	}
	return true;
}

/* Readable watch fd: a pidfd says the process ended; a socket may only have data. */
static bool handler_really_gone(struct uffd_backend *b)
{
	struct pollfd p = { .fd = b->watch_fd, .events = POLLIN };
	char scratch[256];
	ssize_t n;

	if (b->watch_fd != b->sock)
		return poll(&p, 1, 0) == 1;
	/* Firecracker's handlers send nothing; bytes from another one are no hangup. */
	while ((n = recv(b->sock, scratch, sizeof(scratch), MSG_DONTWAIT)) > 0)
		;
	return n == 0 || (errno != EAGAIN && errno != EINTR);
}

/*
 * Nobody will fill guest memory any more: every region unregistered, which
 * also wakes the threads waiting for a page there (they get zeroes).
 */
static void unregister_all(struct uffd_backend *b, bool quiet)
{
	unsigned int i;

	for (i = 0; b->registered && i < b->nr; i++) {
		struct uffdio_range range = {
			.start = (uintptr_t)b->regions[i].host_addr,
			.len = b->regions[i].size,
		};

		if (mvm_ioctl_nofault(b->uffd, UFFDIO_UNREGISTER, &range) && !quiet)
			pr_err("snapshot memory: UFFDIO_UNREGISTER of region %u: %s", i,
			       strerror(errno));
	}
	b->registered = false;
}

int uffd_backend_handler_gone(struct uffd_backend *b)
{
	bool loaded = true;
	unsigned int i;

	if (b->gone)
		return b->gone_err;
	if (!handler_really_gone(b))
		return -EAGAIN;
	for (i = 0; i < b->nr; i++)
		loaded = loaded && region_loaded(&b->regions[i]);
	unregister_all(b, false);
	b->gone = true;
	if (loaded) {
		pr_info("snapshot memory: the page fault handler is gone; all guest memory was "
			"loaded, the VM goes on");
		b->gone_err = 0;
	} else {
		pr_err("snapshot memory: the page fault handler is gone while guest memory was "
		       "still missing pages");
		b->gone_err = -EPIPE;
	}
	return b->gone_err;
}

void uffd_backend_destroy(struct uffd_backend *b)
{
	if (IS_ERR_OR_NULL(b))
		return;
	/*
	 * The handler keeps the userfaultfd (and the registration) alive after
	 * ours is closed: a thread waiting on a page it will never serve (a
	 * stalled handler) is released here. The memory may be unmapped already.
	 */
	unregister_all(b, true);
	if (b->watch_fd >= 0 && b->watch_fd != b->sock)
		close(b->watch_fd);
	if (b->sock >= 0)
		close(b->sock);
	if (b->uffd >= 0)
		close(b->uffd);
	free(b);
}
