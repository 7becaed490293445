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
#include <sys/syscall.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/sys.h"
#include "vfio/kernel_uapi.h"

struct fake_kvm fake_kvm;
struct fake_vfio fake_vfio;
const struct fake_kvm_ops *fake_kvm_ops;
static enum fake_fd_kind fd_kind[4096];

/*
 * Only open() resets a number's kind: a memfd or socket that took a closed
 * fake fd's number would pass for it. With a fuller kernel plugged in (a whole
 * VMM, VMs made again), fake fds live from FAKE_FD_BASE up, where the lowest
 * free numbers the VMM's own fds get do not reach.
 */
#define FAKE_FD_BASE 512

static int fake_fd(enum fake_fd_kind kind)
{
	int fd = eventfd(0, EFD_CLOEXEC);

	if (fd >= 0 && fake_kvm_ops) {
		int high = fcntl(fd, F_DUPFD_CLOEXEC, FAKE_FD_BASE);

		if (high >= 0) {
			close(fd);
			fd = high;
		}
	}
	if (fd >= 0 && fd < 4096)
		fd_kind[fd] = kind;
	return fd;
}

static enum fake_fd_kind kind_of(int fd)
{
	char path[32], link[64];
	ssize_t n;

	if (fd < 0 || fd >= 4096 || fd_kind[fd] == FD_NONE)
		return FD_NONE;
	/* The number may be a fake fd's closed since and reused (a received fd, say). */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0 ||
	    (!memmem(link, (size_t)n, "eventfd", 7) && !memmem(link, (size_t)n, "fake-vfio", 9))) {
		fd_kind[fd] = FD_NONE;
		return FD_NONE;
	}
	return fd_kind[fd];
}

static int fake_vfio_device_fd(void);

int __mvm_open(struct fault_site *s, const char *path, int flags, mode_t mode)
{
	int fd;

	FAIL_IF_INJECTED(s, EMFILE, -1);
	if (!strcmp(path, "/dev/kvm"))
		return fake_fd(FD_KVM);
	if (!strcmp(path, "/dev/iommu")) {
		if (fake_vfio.no_iommufd) {
			errno = ENOENT;
			return -1;
		}
		return fake_fd(FD_IOMMU);
	}
	if (!strcmp(path, "/dev/vfio/vfio"))
		return fake_fd(FD_VFIO_CONTAINER);
	if (!strncmp(path, "/dev/vfio/devices/vfio", 22))
		return fake_vfio_device_fd();
	if (!strncmp(path, "/dev/vfio/", 10))
		return fake_fd(FD_VFIO_GROUP);
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
		if (fake_kvm_ops && fake_kvm_ops->irq_line)
			fake_kvm_ops->irq_line(l->irq, (int)l->level);
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
	case KVM_CREATE_VCPU: {
		int vfd = fake_fd(FD_VCPU);

		if (vfd < 0)
			return -1;
		fake_kvm.vcpus_created++;
		if (fake_kvm_ops && fake_kvm_ops->vcpu_created)
			fake_kvm_ops->vcpu_created(vfd, (unsigned int)(unsigned long)arg);
		return vfd;
	}
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

/* ---- the fake host VFIO ---- */

#define FV_CFG_MSIX 0x40

static int fake_vfio_device_fd(void)
{
	uint8_t cfg[256] = { 0 };
	int fd = memfd_create("fake-vfio-dev", MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)FAKE_VFIO_REGION(9))) {
		close(fd);
		return -1;
	}
	cfg[0x00] = 0x86; /* 8086:1234, an Ethernet controller */
	cfg[0x01] = 0x80;
	cfg[0x02] = 0x34;
	cfg[0x03] = 0x12;
	cfg[0x06] = 0x10; /* capability list */
	cfg[0x0a] = 0x00;
	cfg[0x0b] = 0x02;
	cfg[0x14] = 0x0c; /* BAR1: 64-bit prefetchable */
	cfg[0x34] = FV_CFG_MSIX;
	cfg[0x3d] = 1;
	cfg[FV_CFG_MSIX] = 0x11;
	cfg[FV_CFG_MSIX + 2] = 3; /* 4 vectors */
	cfg[FV_CFG_MSIX + 4] = 3; /* table: BAR3 at 0 */
	cfg[FV_CFG_MSIX + 8] = 3; /* PBA: BAR3 at 0x800 */
	cfg[FV_CFG_MSIX + 9] = 0x08;
	if (pwrite(fd, cfg, sizeof(cfg), (off_t)FAKE_VFIO_REGION(7)) != sizeof(cfg)) {
		close(fd);
		return -1;
	}
	fd_kind[fd] = FD_VFIO_DEVICE;
	fake_vfio.last_dev_fd = fd;
	return fd;
}

unsigned int fake_vfio_maps(void)
{
	unsigned int i, n = 0;

	for (i = 0; i < FAKE_VFIO_MAX_MAPS; i++)
		n += fake_vfio.maps[i].used;
	return n;
}

int fake_vfio_call_index(unsigned long req, unsigned int from)
{
	unsigned int i;

	for (i = from; i < fake_vfio.nr_calls; i++)
		if (fake_vfio.calls[i] == req)
			return (int)i;
	return -1;
}

static int fake_vfio_map(uint64_t iova, uint64_t size, uint64_t va)
{
	unsigned int i;

	for (i = 0; i < FAKE_VFIO_MAX_MAPS; i++) {
		if (!fake_vfio.maps[i].used) {
			fake_vfio.maps[i].used = true;
			fake_vfio.maps[i].iova = iova;
			fake_vfio.maps[i].size = size;
			fake_vfio.maps[i].va = va;
			fake_vfio.maps_made++;
			return 0;
		}
	}
	errno = ENOSPC;
	return -1;
}

static int fake_vfio_unmap(uint64_t iova, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < FAKE_VFIO_MAX_MAPS; i++) {
		if (fake_vfio.maps[i].used && fake_vfio.maps[i].iova == iova &&
		    fake_vfio.maps[i].size == size) {
			fake_vfio.maps[i].used = false;
			return 0;
		}
	}
	errno = ENOENT;
	return -1;
}

static uint64_t fake_region_size(unsigned int i)
{
	return i == 0 || i == 3 ? 4096 : i == 1 ? 65536 : i == 7 ? 256 : 0;
}

static int fake_vfio_region_info(struct vfio_region_info *info)
{
	const uint32_t need = sizeof(*info) + 32; /* with the sparse mmap capability */
	uint32_t argsz = info->argsz;

	if (info->index >= 9) {
		errno = EINVAL;
		return -1;
	}
	info->size = fake_region_size(info->index);
	info->offset = FAKE_VFIO_REGION(info->index);
	info->flags = info->size ? VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE : 0;
	info->cap_offset = 0;
	if (info->index != 1)
		return 0;
	info->flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	info->argsz = need;
	if (argsz >= need) {
		uint8_t *cap = (uint8_t *)info + sizeof(*info);
		uint64_t area[2] = { 0, 65536 };
		uint32_t nr = 1;

		info->cap_offset = sizeof(*info);
		memset(cap, 0, 32);
		cap[0] = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
		cap[2] = 1;
		memcpy(cap + 8, &nr, 4);
		memcpy(cap + 16, area, 16);
	}
	return 0;
}

static int fake_ioctl_vfio(enum fake_fd_kind kind, unsigned long req, void *arg)
{
	if (fake_vfio.nr_calls < FAKE_VFIO_MAX_CALLS)
		fake_vfio.calls[fake_vfio.nr_calls++] = req;
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return (long)arg == VFIO_TYPE1v2_IOMMU;
	case VFIO_SET_IOMMU:
	case VFIO_GROUP_SET_CONTAINER:
	case VFIO_DEVICE_BIND_IOMMUFD:
	case VFIO_DEVICE_RESET:
	case IOMMU_DESTROY:
		return 0;
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *st = arg;

		st->flags = fake_vfio.group_not_viable ? 0 : VFIO_GROUP_FLAGS_VIABLE;
		return 0;
	}
	case VFIO_GROUP_GET_DEVICE_FD:
		return fake_vfio_device_fd();
	case IOMMU_IOAS_ALLOC:
		((struct iommu_ioas_alloc *)arg)->out_ioas_id = 5;
		return 0;
	case VFIO_DEVICE_ATTACH_IOMMUFD_PT:
		if (((struct vfio_device_attach_iommufd_pt *)arg)->pt_id == 5)
			return 0;
		errno = ENOENT;
		return -1;
	case IOMMU_IOAS_MAP: {
		const struct iommu_ioas_map *m = arg;

		return fake_vfio_map(m->iova, m->length, m->user_va);
	}
	case IOMMU_IOAS_UNMAP: {
		const struct iommu_ioas_unmap *u = arg;

		return fake_vfio_unmap(u->iova, u->length);
	}
	case VFIO_IOMMU_MAP_DMA: {
		const struct vfio_iommu_type1_dma_map *m = arg;

		return fake_vfio_map(m->iova, m->size, m->vaddr);
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		const struct vfio_iommu_type1_dma_unmap *u = arg;

		return fake_vfio_unmap(u->iova, u->size);
	}
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		i->flags = VFIO_DEVICE_FLAGS_PCI | VFIO_DEVICE_FLAGS_RESET;
		i->num_regions = 9;
		i->num_irqs = 5;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return fake_vfio_region_info(arg);
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *i = arg;

		i->flags = VFIO_IRQ_INFO_EVENTFD;
		i->count = i->index == 0 ? 1 : i->index == 2 ? 4 : 0;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS: {
		const struct vfio_irq_set *set = arg;

		if (set->index > 2 || set->start + set->count > 32) {
			errno = EINVAL;
			return -1;
		}
		if (set->flags & VFIO_IRQ_SET_ACTION_UNMASK) {
			/* INTx's unmask eventfd: only while INTx is on. */
			if (set->index || !fake_vfio.irq_count[0] || set->count != 1) {
				errno = EINVAL;
				return -1;
			}
			memcpy(&fake_vfio.intx_unmask_fd, set->data, sizeof(int));
			return 0;
		}
		/* vfio-pci: one interrupt type at a time (INTx off before MSI-X on). */
		if (set->count && fake_vfio.irq_count[set->index ? 0 : 2] +
					  fake_vfio.irq_count[set->index ? 2 : 0]) {
			errno = EINVAL;
			return -1;
		}
		fake_vfio.irq_count[set->index] = set->count;
		if (!set->index && !set->count)
			fake_vfio.intx_unmask_fd = -1; /* goes with the trigger */
		if (set->count)
			memcpy(&fake_vfio.irq_fds[set->index][set->start], set->data,
			       sizeof(int) * set->count);
		return 0;
	}
	}
	(void)kind;
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
	enum fake_fd_kind kind = kind_of(fd);

	if (kind == FD_NONE) /* Not KVM (a tap, say): the real call. */
		return ioctl(fd, req, arg);
	if (fake_kvm_ops && fake_kvm_ops->syscall_probe)
		(void)syscall(SYS_ioctl, fd, req, arg);
	/* A fuller kernel answers first; what it does not know, this one does. */
	if (fake_kvm_ops && fake_kvm_ops->ioctl) {
		int r = fake_kvm_ops->ioctl(kind, fd, req, arg);

		if (r >= 0 || errno != ENOTTY)
			return r;
	}
	switch (kind) {
	case FD_KVM:
		return fake_ioctl_kvm(req, arg);
	case FD_VM:
		return fake_ioctl_vm(fd, req, arg);
	case FD_IOMMU:
	case FD_VFIO_CONTAINER:
	case FD_VFIO_GROUP:
	case FD_VFIO_DEVICE:
		return fake_ioctl_vfio(kind, req, arg);
	default:
		if (req == KVM_GET_STATS_FD && fake_kvm.binary_stats)
			return fake_stats_fd("kvm-fake/vcpu", 1);
		if (fake_kvm.x86_state)
			return fake_state_ioctl(fd, req, arg);
		return fake_ioctl_vcpu_x86(req, arg);
	}
}

void *__mvm_mmap(struct fault_site *s, void *addr, size_t len, int prot, int flags, int fd,
		 off_t off)
{
	FAIL_IF_INJECTED(s, ENOMEM, MAP_FAILED);
	/* A vCPU's kvm_run page: plain anonymous memory here. */
	if (kind_of(fd) == FD_VCPU) {
		void *run = mmap(addr, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (run != MAP_FAILED && fake_kvm_ops && fake_kvm_ops->vcpu_mapped)
			fake_kvm_ops->vcpu_mapped(fd, run);
		return run;
	}
	return mmap(addr, len, prot, flags, fd, off);
}
