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
#include <sys/ioctl.h>
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
	int fd;

	FAIL_IF_INJECTED(s, EMFILE, -1);
	if (!strcmp(path, "/dev/kvm"))
		return fake_fd(FD_KVM);
	fd = open(path, flags | O_CLOEXEC, mode);
	/* The number may have been a fake KVM fd's, closed since. */
	if (fd >= 0 && fd < 4096)
		fd_kind[fd] = FD_NONE;
	return fd;
}

static int fake_supported_cpuid(struct kvm_cpuid2 *c)
{
	unsigned int i;

	if (c->nent < fake_kvm.nr_cpuid) {
		errno = E2BIG;
		return -1;
	}
	for (i = 0; i < fake_kvm.nr_cpuid; i++) {
		const struct fake_cpuid *f = &fake_kvm.cpuid[i];

		c->entries[i] = (struct kvm_cpuid_entry2){ .function = f->function,
							   .index = f->index,
							   .flags = f->flags,
							   .eax = f->eax,
							   .ebx = f->ebx,
							   .ecx = f->ecx,
							   .edx = f->edx };
	}
	c->nent = fake_kvm.nr_cpuid;
	return 0;
}

static bool fake_has_cap(unsigned long cap)
{
	unsigned int i;

	for (i = 0; i < 8; i++)
		if (cap && fake_kvm.caps[i] == cap)
			return true;
	return false;
}

/* The x86 vCPU set-up calls (fake.h). */
static int fake_ioctl_vcpu_x86(unsigned long req, void *arg)
{
	unsigned int i, k;

	switch (req) {
	case KVM_SET_CPUID2: {
		const struct kvm_cpuid2 *c = arg;

		fake_kvm.nr_set_cpuid = 0;
		for (i = 0; i < c->nent && i < 80; i++) {
			const struct kvm_cpuid_entry2 *e = &c->entries[i];

			fake_kvm.set_cpuid[fake_kvm.nr_set_cpuid++] =
				(struct fake_cpuid){ e->function, e->index, e->flags, e->eax,
						     e->ebx,	  e->ecx,   e->edx };
		}
		return 0;
	}
	case KVM_SET_MSRS: {
		const struct kvm_msrs *m = arg;

		fake_kvm.nr_set_msrs = 0;
		for (i = 0; i < m->nmsrs && i < 300; i++)
			fake_kvm.set_msrs[fake_kvm.nr_set_msrs++] =
				(struct fake_msr){ m->entries[i].index, m->entries[i].data };
		return (int)m->nmsrs;
	}
	case KVM_GET_MSRS: {
		struct kvm_msrs *m = arg;

		for (i = 0; i < m->nmsrs; i++) {
			for (k = 0; k < 8 && (!fake_kvm.msrs[k].index ||
					      fake_kvm.msrs[k].index != m->entries[i].index);
			     k++)
				;
			if (k == 8)
				break;
			m->entries[i].data = fake_kvm.msrs[k].data;
		}
		return (int)i;
	}
	}
	errno = ENOTTY;
	return -1;
}

static int fake_ioctl_kvm(unsigned long req, void *arg)
{
	switch (req) {
	case KVM_GET_SUPPORTED_CPUID:
		return fake_supported_cpuid(arg);
	case KVM_GET_API_VERSION:
		return KVM_API_VERSION;
	case KVM_GET_VCPU_MMAP_SIZE:
		return 4096;
	case KVM_CREATE_VM:
		return fake_fd(FD_VM);
	case KVM_CHECK_EXTENSION:
		return fake_has_cap((unsigned long)arg);
	case KVM_GET_MSR_INDEX_LIST:
		if (fake_kvm.x86_state)
			return fake_state_ioctl(-1, req, arg);
		break;
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

int fake_ioeventfd_at(uint64_t addr)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_IOEVENTFDS; i++)
		if (fake_kvm.ioeventfds[i].used && fake_kvm.ioeventfds[i].addr == addr)
			return fake_kvm.ioeventfds[i].fd;
	return -1;
}

int fake_ioeventfd_write(uint64_t addr, unsigned int len, uint64_t data)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_IOEVENTFDS; i++) {
		const __typeof__(fake_kvm.ioeventfds[0]) *e = &fake_kvm.ioeventfds[i];

		if (!e->used || e->pio || e->addr != addr || (e->len && e->len != len))
			continue;
		if (!e->match || e->data == data)
			return e->fd;
	}
	return -1;
}

int fake_irqfd_gsi(int efd)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_IRQFDS; i++)
		if (fake_kvm.irqfds[i].used && fake_kvm.irqfds[i].fd == efd)
			return (int)fake_kvm.irqfds[i].gsi;
	return -1;
}

/* Do two registrations at the same place overlap (virt/kvm/eventfd.c's collision rule)? */
static bool fake_ioeventfd_collides(unsigned int i, int vm_fd, const struct kvm_ioeventfd *io,
				    bool pio, bool match)
{
	const __typeof__(fake_kvm.ioeventfds[0]) *e = &fake_kvm.ioeventfds[i];

	if (!e->used || e->vm_fd != vm_fd || e->addr != io->addr || e->pio != pio)
		return false;
	if (!e->len || !io->len)
		return true;
	return e->len == io->len && (!e->match || !match || e->data == io->datamatch);
}

static int fake_ioeventfd(int vm_fd, const struct kvm_ioeventfd *io)
{
	bool pio = io->flags & KVM_IOEVENTFD_FLAG_PIO;
	bool match = io->flags & KVM_IOEVENTFD_FLAG_DATAMATCH;
	unsigned int i;

	if (match && io->len != 1 && io->len != 2 && io->len != 4 && io->len != 8) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < FAKE_MAX_IOEVENTFDS; i++) {
		if (io->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
			if (fake_kvm.ioeventfds[i].used && fake_kvm.ioeventfds[i].fd == io->fd &&
			    fake_kvm.ioeventfds[i].vm_fd == vm_fd &&
			    fake_kvm.ioeventfds[i].addr == io->addr &&
			    fake_kvm.ioeventfds[i].pio == pio &&
			    fake_kvm.ioeventfds[i].match == match &&
			    (!match || fake_kvm.ioeventfds[i].data == io->datamatch)) {
				fake_kvm.ioeventfds[i].used = false;
				return 0;
			}
		} else if (fake_ioeventfd_collides(i, vm_fd, io, pio, match)) {
			errno = EEXIST; /* KVM refuses a second one at the same place */
			return -1;
		}
	}
	if (io->flags & KVM_IOEVENTFD_FLAG_DEASSIGN) {
		errno = ENOENT;
		return -1;
	}
	for (i = 0; i < FAKE_MAX_IOEVENTFDS; i++) {
		if (!fake_kvm.ioeventfds[i].used) {
			fake_kvm.ioeventfds[i].used = true;
			fake_kvm.ioeventfds[i].fd = io->fd;
			fake_kvm.ioeventfds[i].vm_fd = vm_fd;
			fake_kvm.ioeventfds[i].addr = io->addr;
			fake_kvm.ioeventfds[i].len = io->len;
			fake_kvm.ioeventfds[i].pio = pio;
			fake_kvm.ioeventfds[i].match = match;
			fake_kvm.ioeventfds[i].data = io->datamatch;
			return 0;
		}
	}
	errno = ENOSPC;
	return -1;
}

static int fake_irqfd(const struct kvm_irqfd *irqfd)
{
	unsigned int i;

	for (i = 0; i < FAKE_MAX_IRQFDS; i++) {
		if (irqfd->flags & KVM_IRQFD_FLAG_DEASSIGN) {
			if (fake_kvm.irqfds[i].used && fake_kvm.irqfds[i].fd == (int)irqfd->fd &&
			    fake_kvm.irqfds[i].gsi == irqfd->gsi) {
				fake_kvm.irqfds[i].used = false;
				return 0;
			}
		} else if (!fake_kvm.irqfds[i].used) {
			fake_kvm.irqfds[i].used = true;
			fake_kvm.irqfds[i].fd = (int)irqfd->fd;
			fake_kvm.irqfds[i].gsi = irqfd->gsi;
			return 0;
		}
	}
	errno = (irqfd->flags & KVM_IRQFD_FLAG_DEASSIGN) ? ENOENT : ENOSPC;
	return -1;
}

static int fake_routing(const struct kvm_irq_routing *r)
{
	unsigned int i;

	fake_kvm.routing_commits++;
	fake_kvm.routing_nr = r->nr;
	memset(fake_kvm.msi_routed, 0, sizeof(fake_kvm.msi_routed));
	for (i = 0; i < r->nr; i++) {
		const struct kvm_irq_routing_entry *e = &r->entries[i];

		if (e->type != KVM_IRQ_ROUTING_MSI || e->gsi >= FAKE_MAX_GSIS)
			continue;
		fake_kvm.msi_routed[e->gsi] = true;
		fake_kvm.msi_addr[e->gsi] =
			(uint64_t)e->u.msi.address_hi << 32 | e->u.msi.address_lo;
		fake_kvm.msi_data[e->gsi] = e->u.msi.data;
	}
	return 0;
}

static int fake_ioctl_vm(int fd, unsigned long req, void *arg)
{
	switch (req) {
	case KVM_IOEVENTFD:
		return fake_ioeventfd(fd, arg);
	case KVM_IRQFD:
		return fake_irqfd(arg);
	case KVM_SET_GSI_ROUTING:
		return fake_routing(arg);
	case KVM_SIGNAL_MSI: {
		const struct kvm_msi *msi = arg;

		fake_kvm.signal_msi++;
		fake_kvm.last_msi_addr = (uint64_t)msi->address_hi << 32 | msi->address_lo;
		fake_kvm.last_msi_data = msi->data;
		return 1;
	}
	case KVM_IRQ_LINE: {
		const struct kvm_irq_level *l = arg;

		if (l->irq < FAKE_MAX_GSIS)
			fake_kvm.irq_level[l->irq] = (int)l->level;
		return 0;
	}
	case KVM_CHECK_EXTENSION:
		if (fake_kvm.x86_state && ((long)arg == KVM_CAP_XSAVE || (long)arg == KVM_CAP_XCRS))
			return 1;
		if ((long)arg == KVM_CAP_MAX_VCPUS)
			return fake_kvm.max_vcpus;
		if ((long)arg == KVM_CAP_MAX_VCPU_ID)
			return fake_kvm.max_vcpu_id;
		return 0;
	case KVM_CREATE_VCPU:
		fake_kvm.vcpus_created++;
		return fake_fd(FD_VCPU);
	case KVM_SET_USER_MEMORY_REGION: {
		const struct kvm_userspace_memory_region *r = arg;

		if (r->slot < 16)
			fake_kvm.slot_flags[r->slot] = r->flags;
		return 0;
	}
	case KVM_GET_DIRTY_LOG: {
		struct kvm_dirty_log *log = arg;

		/* Only slots made with KVM_MEM_LOG_DIRTY_PAGES have a log, as in KVM. */
		if (log->slot >= 16 ||
		    !(fake_kvm.slot_flags[log->slot] & KVM_MEM_LOG_DIRTY_PAGES)) {
			errno = ENOENT;
			return -1;
		}
		if (log->slot == 0) {
			memcpy(log->dirty_bitmap, fake_kvm.dirty_log, 8);
			memset(fake_kvm.dirty_log, 0, sizeof(fake_kvm.dirty_log));
		}
		return 0;
	}
	case KVM_GET_STATS_FD:
		if (fake_kvm.binary_stats)
			return fake_stats_fd("kvm-fake", 0);
		break;
	default:
		if (fake_kvm.x86_state)
			return fake_state_ioctl(fd, req, arg);
	}
	/* KVM_GET_STATS_FD without binary_stats: an old kernel. */
	errno = ENOTTY;
	return -1;
}

int __mvm_ioctl(struct fault_site *s, int fd, unsigned long req, void *arg)
{
	FAIL_IF_INJECTED(s, ENOMEM, -1);
	return mvm_ioctl_nofault(fd, req, arg);
}

int mvm_ioctl_nofault(int fd, unsigned long req, void *arg)
{
	switch (kind_of(fd)) {
	case FD_KVM:
		return fake_ioctl_kvm(req, arg);
	case FD_VM:
		return fake_ioctl_vm(fd, req, arg);
	case FD_VCPU:
		if (req == KVM_GET_STATS_FD && fake_kvm.binary_stats)
			return fake_stats_fd("kvm-fake/vcpu", 1);
		if (fake_kvm.x86_state)
			return fake_state_ioctl(fd, req, arg);
		return fake_ioctl_vcpu_x86(req, arg);
	default:
		/* Not KVM (a tap, say): the real call. */
		return ioctl(fd, req, arg);
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
