// SPDX-License-Identifier: MIT
/*
 * The faultable wrappers that reach devices and the kernel's objects: open,
 * ioctl and mmap. They live apart from sys.c so that the unit tests can put a
 * fake KVM in their place (tests/unit/fake_sys.c) and keep everything else.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "mvm/sys.h"

int __mvm_open(struct fault_site *s, const char *path, int flags, mode_t mode)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	return open(path, flags | O_CLOEXEC, mode);
}

int __mvm_ioctl(struct fault_site *s, int fd, unsigned long req, void *arg)
{
	/* KVM's own failures on create paths are mostly ENOMEM. */
	FAIL_IF_INJECTED(s, ENOMEM, -1);
	return ioctl(fd, req, arg);
}

void *__mvm_mmap(struct fault_site *s, void *addr, size_t len, int prot, int flags, int fd,
		 off_t off)
{
	FAIL_IF_INJECTED(s, ENOMEM, MAP_FAILED);
	return mmap(addr, len, prot, flags, fd, off);
}

int mvm_ioctl_nofault(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}
