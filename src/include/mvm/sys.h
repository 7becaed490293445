/* SPDX-License-Identifier: MIT */
/*
 * Faultable wrappers for everything a create path can fail on. Each use is a
 * fault-injection site (see mvm/fault.h); run-time paths (KVM_RUN, device
 * I/O) call the C library directly and are not faultable.
 *
 * The wrappers keep the C library's conventions (NULL / -1 / MAP_FAILED with
 * errno, or an error number for pthread_create) so code reads as usual.
 */
#ifndef MVM_SYS_H
#define MVM_SYS_H

#include <pthread.h>
#include <stddef.h>
#include <sys/types.h>

#include "mvm/fault.h"

void *__mvm_zalloc(struct fault_site *s, size_t size);
void *__mvm_calloc(struct fault_site *s, size_t n, size_t size);
void *__mvm_realloc(struct fault_site *s, void *p, size_t n, size_t size);
char *__mvm_strdup(struct fault_site *s, const char *str);
int __mvm_open(struct fault_site *s, const char *path, int flags, mode_t mode);
int __mvm_ioctl(struct fault_site *s, int fd, unsigned long req, void *arg);
void *__mvm_mmap(struct fault_site *s, void *addr, size_t len, int prot, int flags, int fd,
		 off_t off);
int __mvm_memfd_create(struct fault_site *s, const char *name, unsigned int flags);
int __mvm_ftruncate(struct fault_site *s, int fd, off_t len);
int __mvm_eventfd(struct fault_site *s, unsigned int initval, int flags);
int __mvm_timerfd_create(struct fault_site *s, int clockid, int flags);
int __mvm_socket(struct fault_site *s, int domain, int type, int protocol);
int __mvm_epoll_create(struct fault_site *s);
int __mvm_epoll_add(struct fault_site *s, int epfd, int fd, unsigned int events, void *data);
int __mvm_thread_create(struct fault_site *s, pthread_t *t, const pthread_attr_t *attr,
			void *(*fn)(void *), void *arg);
int __mvm_mprotect(struct fault_site *s, void *addr, size_t len, int prot);
int __mvm_fstat_size(struct fault_site *s, int fd, off_t *size);
ssize_t __mvm_pread_full(struct fault_site *s, int fd, void *buf, size_t len, off_t off);
struct io_uring;
int __mvm_io_uring_init(struct fault_site *s, unsigned int entries, struct io_uring *ring,
			unsigned int flags);

/*
 * An ioctl on a run-time path (interrupt routing, irqfd, ioeventfd moves):
 * not a fault site, but behind this function so that the unit tests' fake
 * KVM sees it too (sys_dev.c; tests/unit/fake_sys.c).
 */
int mvm_ioctl_nofault(int fd, unsigned long req, void *arg);

#define __MVM_FAULTABLE(what, call)     \
	({                              \
		FAULT_SITE(__fs, what); \
		call;                   \
	})

/* Zeroed allocation; free with free(). */
#define mvm_zalloc(size)    __MVM_FAULTABLE("zalloc", __mvm_zalloc(&__fs, (size)))
#define mvm_calloc(n, size) __MVM_FAULTABLE("calloc", __mvm_calloc(&__fs, (n), (size)))
/* Array growth with overflow check; the old block stays valid on failure. */
#define mvm_reallocarray(p, n, size) \
	__MVM_FAULTABLE("reallocarray", __mvm_realloc(&__fs, (p), (n), (size)))
#define mvm_strdup(str)	      __MVM_FAULTABLE("strdup", __mvm_strdup(&__fs, (str)))
#define mvm_open(path, flags) __MVM_FAULTABLE("open " #path, __mvm_open(&__fs, (path), (flags), 0))
/* open() with a mode for O_CREAT. */
#define mvm_open_mode(path, flags, mode) \
	__MVM_FAULTABLE("open " #path, __mvm_open(&__fs, (path), (flags), (mode)))
#define mvm_ioctl(fd, req, arg) \
	__MVM_FAULTABLE("ioctl " #req, __mvm_ioctl(&__fs, (fd), (req), (void *)(arg)))
#define mvm_mmap(addr, len, prot, flags, fd, off) \
	__MVM_FAULTABLE("mmap", __mvm_mmap(&__fs, (addr), (len), (prot), (flags), (fd), (off)))
#define mvm_memfd_create(name, flags) \
	__MVM_FAULTABLE("memfd_create", __mvm_memfd_create(&__fs, (name), (flags)))
#define mvm_ftruncate(fd, len) __MVM_FAULTABLE("ftruncate", __mvm_ftruncate(&__fs, (fd), (len)))
#define mvm_eventfd(v, flags)  __MVM_FAULTABLE("eventfd", __mvm_eventfd(&__fs, (v), (flags)))
/* A timerfd; TFD_CLOEXEC is added. */
#define mvm_timerfd_create(clock, flags) \
	__MVM_FAULTABLE("timerfd_create", __mvm_timerfd_create(&__fs, (clock), (flags)))
#define mvm_epoll_create() __MVM_FAULTABLE("epoll_create", __mvm_epoll_create(&__fs))
#define mvm_epoll_add(epfd, fd, ev, data) \
	__MVM_FAULTABLE("epoll_ctl ADD", __mvm_epoll_add(&__fs, (epfd), (fd), (ev), (data)))
#define mvm_thread_create(t, attr, fn, arg) \
	__MVM_FAULTABLE("pthread_create", __mvm_thread_create(&__fs, (t), (attr), (fn), (arg)))
#define mvm_mprotect(addr, len, prot) \
	__MVM_FAULTABLE("mprotect", __mvm_mprotect(&__fs, (addr), (len), (prot)))
#define mvm_fstat_size(fd, size) __MVM_FAULTABLE("fstat", __mvm_fstat_size(&__fs, (fd), (size)))
/* Reads exactly len bytes or fails (-1, errno; EIO on a short file). */
#define mvm_pread_full(fd, buf, len, off) \
	__MVM_FAULTABLE("pread", __mvm_pread_full(&__fs, (fd), (buf), (len), (off)))
/* liburing's io_uring_queue_init: 0 or -errno (not -1/errno: liburing's convention). */
#define mvm_io_uring_init(entries, ring, flags) \
	__MVM_FAULTABLE("io_uring_queue_init",  \
			__mvm_io_uring_init(&__fs, (entries), (ring), (flags)))

/* A socket; SOCK_CLOEXEC is added. */
#define mvm_socket(domain, type, proto) \
	__MVM_FAULTABLE("socket", __mvm_socket(&__fs, (domain), (type), (proto)))

#endif
