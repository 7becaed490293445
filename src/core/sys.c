// SPDX-License-Identifier: MIT
/*
 * The faultable system-call wrappers of mvm/sys.h. Each first asks the
 * fault injector whether this call site should fail, and fails the way the
 * real call would (same return value, a plausible errno).
 */
#include <errno.h>
#include <liburing.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "mvm/sys.h"

void *__mvm_zalloc(struct fault_site *s, size_t size)
{
	FAIL_IF_INJECTED(s, ENOMEM, NULL);
	return calloc(1, size);
}

void *__mvm_calloc(struct fault_site *s, size_t n, size_t size)
{
	FAIL_IF_INJECTED(s, ENOMEM, NULL);
	return calloc(n, size);
}

void *__mvm_realloc(struct fault_site *s, void *p, size_t n, size_t size)
{
	FAIL_IF_INJECTED(s, ENOMEM, NULL);
	return reallocarray(p, n, size);
}

char *__mvm_strdup(struct fault_site *s, const char *str)
{
	FAIL_IF_INJECTED(s, ENOMEM, NULL);
	return strdup(str);
}

int __mvm_memfd_create(struct fault_site *s, const char *name, unsigned int flags)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return memfd_create(name, flags | MFD_CLOEXEC);
}

int __mvm_ftruncate(struct fault_site *s, int fd, off_t len)
{
	FAIL_IF_INJECTED(s, ENOSPC, -1);
	return ftruncate(fd, len);
}

int __mvm_eventfd(struct fault_site *s, unsigned int initval, int flags)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return eventfd(initval, flags | EFD_CLOEXEC);
}

int __mvm_socket(struct fault_site *s, int domain, int type, int protocol)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return socket(domain, type | SOCK_CLOEXEC, protocol);
}

int __mvm_epoll_create(struct fault_site *s)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return epoll_create1(EPOLL_CLOEXEC);
}

int __mvm_timerfd_create(struct fault_site *s)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

int __mvm_epoll_add(struct fault_site *s, int epfd, int fd, unsigned int events, void *data)
{
	struct epoll_event ev = { .events = events, .data.ptr = data };

	FAIL_IF_INJECTED(s, ENOMEM, -1);
	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
}

int __mvm_thread_create(struct fault_site *s, pthread_t *t, const pthread_attr_t *attr,
			void *(*fn)(void *), void *arg)
{
	if (fault_should_fail(s))
		return EAGAIN;
	return pthread_create(t, attr, fn, arg);
}

int __mvm_mprotect(struct fault_site *s, void *addr, size_t len, int prot)
{
	FAIL_IF_INJECTED(s, ENOMEM, -1);
	return mprotect(addr, len, prot);
}

int __mvm_fstat_size(struct fault_site *s, int fd, off_t *size)
{
	struct stat st;

	FAIL_IF_INJECTED(s, EIO, -1);
	if (fstat(fd, &st) < 0)
		return -1;
	*size = st.st_size;
	return 0;
}

ssize_t __mvm_pread_full(struct fault_site *s, int fd, void *buf, size_t len, off_t off)
{
	size_t done = 0;

	FAIL_IF_INJECTED(s, EIO, -1);
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, off + (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0) {
			errno = EIO;
			return -1;
		}
		done += (size_t)n;
	}
	return (ssize_t)done;
}

int __mvm_io_uring_init(struct fault_site *s, unsigned int entries, struct io_uring *ring,
			unsigned int flags)
{
	if (fault_should_fail(s))
		return -ENOMEM;
	return io_uring_queue_init(entries, ring, flags);
}
