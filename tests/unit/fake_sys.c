// SPDX-License-Identifier: MIT
/*
 * A fake KVM behind the open/ioctl/mmap wrappers of mvm/sys.h (it replaces
 * src/core/sys_dev.c in the unit tests; the other wrappers are the real ones). /dev/kvm, VM and
 * vCPU fds are real eventfds, so close() and leak checks work; the ioctls answer as KVM would for
 * the calls the core makes. Fault injection works as in the real wrappers.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/sys.h"

struct fake_kvm fake_kvm;

enum fake_fd_kind { FD_NONE, FD_KVM, FD_VM, FD_VCPU };
static enum fake_fd_kind fd_kind[4096];

static int fake_fd(enum fake_fd_kind kind)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd >= 0 && fd < 4096)
		fd_kind[fd] = kind;
	return fd;
}

static enum fake_fd_kind kind_of(int fd)
{
	return fd >= 0 && fd < 4096 ? fd_kind[fd] : FD_NONE;
}

int __mvm_open(struct fault_site *s, const char *path, int flags, mode_t mode)
{
	FAIL_IF_INJECTED(s, EMFILE, -1);
	if (!strcmp(path, "/dev/kvm"))
		return fake_fd(FD_KVM);
	return open(path, flags | O_CLOEXEC, mode);
}

static int fake_ioctl_kvm(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_GET_VCPU_MMAP_SIZE:
		return 4096;
	case KVM_CREATE_VM:
		return fake_fd(FD_VM);
	case KVM_CHECK_EXTENSION:
		return 0;
	}
	(void)arg;
	errno = ENOTTY;
	return -1;
}

/* A KVM binary stats file (Documentation/virt/kvm/api.rst, KVM_GET_STATS_FD). */
static int fake_stats_fd(const char *id, uint64_t base)
{
	enum { NAME_SIZE = 48, NDESC = 4 };
	static const struct {
		const char *name;
		uint32_t flags;
		uint16_t size;
		uint32_t bucket;
	} d[NDESC] = {
		{ "exits", KVM_STATS_TYPE_CUMULATIVE | KVM_STATS_UNIT_NONE, 1, 0 },
		{ "pages_4k", KVM_STATS_TYPE_INSTANT | KVM_STATS_UNIT_NONE, 1, 0 },
		{ "halt_wait_hist", KVM_STATS_TYPE_LOG_HIST | KVM_STATS_UNIT_SECONDS, 4, 0 },
		{ "wait_lin_hist", KVM_STATS_TYPE_LINEAR_HIST | KVM_STATS_UNIT_NONE, 3, 10 },
	};
	const uint64_t data[] = { 42 + base, 7, 1, 2, 0, 3, 5, 0, 1 };
	size_t dsz = sizeof(struct kvm_stats_desc) + NAME_SIZE;
	struct kvm_stats_header h = {
		.name_size = NAME_SIZE,
		.num_desc = NDESC,
		.id_offset = sizeof(h),
		.desc_offset = sizeof(h) + NAME_SIZE,
		.data_offset = (uint32_t)(sizeof(h) + NAME_SIZE + NDESC * dsz),
	};
	char buf[1024] = { 0 };
	uint32_t off = 0;
	unsigned int i;
	int fd;

	memcpy(buf, &h, sizeof(h));
	snprintf(buf + h.id_offset, NAME_SIZE, "%s", id);
	for (i = 0; i < NDESC; i++) {
		struct kvm_stats_desc *k = (void *)(buf + h.desc_offset + i * dsz);

		k->flags = d[i].flags;
		k->size = d[i].size;
		k->offset = off * sizeof(uint64_t);
		k->bucket_size = d[i].bucket;
		snprintf(k->name, NAME_SIZE, "%s", d[i].name);
		off += d[i].size;
	}
	memcpy(buf + h.data_offset, data, sizeof(data));
	fd = memfd_create("fake-kvm-stats", MFD_CLOEXEC);
	if (fd >= 0 && write(fd, buf, h.data_offset + sizeof(data)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int fake_ioctl_vm(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_CHECK_EXTENSION:
		if ((long)arg == KVM_CAP_MAX_VCPUS)
			return fake_kvm.max_vcpus;
		if ((long)arg == KVM_CAP_MAX_VCPU_ID)
			return fake_kvm.max_vcpu_id;
		return 0;
	case KVM_CREATE_VCPU:
		fake_kvm.vcpus_created++;
		return fake_fd(FD_VCPU);
	case KVM_SET_USER_MEMORY_REGION:
		return 0;
	case KVM_GET_STATS_FD:
		if (fake_kvm.binary_stats)
			return fake_stats_fd("kvm-fake", 0);
		break;
	}
	/* KVM_GET_STATS_FD without binary_stats: an old kernel. */
	errno = ENOTTY;
	return -1;
}

int __mvm_ioctl(struct fault_site *s, int fd, unsigned long req, void *arg)
{
	FAIL_IF_INJECTED(s, ENOMEM, -1);
	switch (kind_of(fd)) {
	case FD_KVM:
		return fake_ioctl_kvm(req, arg);
	case FD_VM:
		return fake_ioctl_vm(req, arg);
	case FD_VCPU:
		if (req == KVM_GET_STATS_FD && fake_kvm.binary_stats)
			return fake_stats_fd("kvm-fake/vcpu", 1);
		errno = ENOTTY;
		return -1;
	default:
		errno = ENOTTY;
		return -1;
	}
}

void *__mvm_mmap(struct fault_site *s, void *addr, size_t len, int prot, int flags, int fd,
		 off_t off)
{
	FAIL_IF_INJECTED(s, ENOMEM, MAP_FAILED);
	/* A vCPU's kvm_run page: plain anonymous memory here. */
	if (kind_of(fd) == FD_VCPU)
		return mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return mmap(addr, len, prot, flags, fd, off);
}
