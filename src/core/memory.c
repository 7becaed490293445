// SPDX-License-Identifier: MIT
/* Guest RAM: one memfd, one mapping, one KVM slot per region; checked access. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/memory.h"
#include "mvm/sys.h"

static int memory_add_slot(int vm_fd, struct mem_region *r)
{
	struct kvm_userspace_memory_region kr = {
		.slot = r->slot,
		.guest_phys_addr = r->gpa,
		.memory_size = r->size,
		.userspace_addr = (uintptr_t)r->hva,
	};

	if (mvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
		int err = errno;

		pr_err("KVM_SET_USER_MEMORY_REGION slot %u at 0x%llx: %s", r->slot,
		       (unsigned long long)r->gpa, strerror(err));
		return -err;
	}
	return 0;
}

int vm_memory_create(struct vm_memory *mem, int vm_fd, uint64_t size,
		     const struct mem_range *ranges, unsigned int nr)
{
	uint64_t off = 0;
	unsigned int i;
	int err;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (nr == 0 || nr > MVM_MAX_MEM_REGIONS)
		return -EINVAL;

	mem->fd = mvm_memfd_create("mvm-ram", 0);
	if (mem->fd < 0) {
		err = -errno;
		pr_err("memfd_create for guest RAM: %s", strerror(-err));
		goto out;
	}
	if (mvm_ftruncate(mem->fd, (off_t)size) < 0) {
		err = -errno;
		pr_err("sizing guest RAM to %llu MiB: %s", (unsigned long long)(size >> 20),
		       strerror(-err));
		goto err_close;
	}
	/* MAP_NORESERVE: RAM the guest never touches costs nothing. */
	mem->base = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
			     mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		err = -errno;
		mem->base = NULL;
		pr_err("mapping %llu MiB of guest RAM: %s", (unsigned long long)(size >> 20),
		       strerror(-err));
		goto err_close;
	}
	mem->size = size;

	for (i = 0; i < nr; i++) {
		struct mem_region *r = &mem->regions[i];

		if (ranges[i].size > size - off) {
			err = -EINVAL;
			goto err_unmap;
		}
		r->gpa = ranges[i].gpa;
		r->size = ranges[i].size;
		r->hva = mem->base + off;
		r->slot = i;
		off += r->size;
		err = memory_add_slot(vm_fd, r);
		if (err)
			goto err_unmap;
		mem->nr_regions = i + 1;
	}
	return 0;

err_unmap:
	/* Slots go away with the VM fd; the VM is destroyed by our caller. */
	munmap(mem->base, size);
	mem->base = NULL;
	mem->nr_regions = 0;
err_close:
	close(mem->fd);
	mem->fd = -1;
out:
	return err;
}

void vm_memory_destroy(struct vm_memory *mem)
{
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
}

void *mem_ptr(const struct vm_memory *mem, uint64_t gpa, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		/* Written so that no sum can overflow. */
		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return NULL;
		return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

uint64_t mem_avail(const struct vm_memory *mem, uint64_t gpa)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size)
			return r->size - (gpa - r->gpa);
	}
	return 0;
}

int mem_read(const struct vm_memory *mem, uint64_t gpa, void *buf, uint64_t len)
{
	const void *p = mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int mem_write(const struct vm_memory *mem, uint64_t gpa, const void *buf, uint64_t len)
{
	void *p = mem_ptr(mem, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	return 0;
}
