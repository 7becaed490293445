// SPDX-License-Identifier: MIT
/*
 * Guest RAM: one memfd (4 KiB pages, hugetlbfs 2 MiB pages, or shmem with
 * MADV_HUGEPAGE), one mapping, one KVM slot per region; checked access;
 * giving pages back to the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <linux/memfd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/compiler.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/memory.h"
#include "mvm/snapshot_mem.h"
#include "mvm/sys.h"

static int memory_add_slot(int vm_fd, struct mem_region *r, bool log_dirty)
{
	struct kvm_userspace_memory_region kr = {
		.slot = r->slot,
		.flags = log_dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
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

/* Creates and sizes the memfd as `huge` asks. 0 or -errno. */
static int memory_open(struct vm_memory *mem, uint64_t size, enum mvm_huge_pages huge)
{
	bool hugetlb = huge == MVM_HUGE_2M;
	int err;

	mem->fd = mvm_memfd_create("mvm-ram", hugetlb ? MFD_HUGETLB | MFD_HUGE_2MB : 0);
	if (mem->fd < 0) {
		err = -errno;
		if (hugetlb)
			pr_err("memfd_create for guest RAM in 2 MiB huge pages: %s (does the host "
			       "kernel have hugetlbfs?)",
			       strerror(-err));
		else
			pr_err("memfd_create for guest RAM: %s", strerror(-err));
		return err;
	}
	mem->page_size = hugetlb ? SZ_2M : SZ_4K;
	if (mvm_ftruncate(mem->fd, (off_t)size) < 0) {
		err = -errno;
		pr_err("sizing guest RAM to %llu MiB: %s", (unsigned long long)(size >> 20),
		       strerror(-err));
		close(mem->fd);
		mem->fd = -1;
		return err;
	}
	return 0;
}

/* Maps the memfd. 0 or -errno. */
static int memory_map(struct vm_memory *mem, uint64_t size, enum mvm_huge_pages huge)
{
	/*
	 * MAP_NORESERVE: RAM the guest never touches costs nothing. Not for
	 * hugetlbfs: there the mapping reserves the huge pages, so that too
	 * few is an error now rather than a SIGBUS when the guest touches one.
	 */
	int flags = MAP_SHARED | (huge == MVM_HUGE_2M ? 0 : MAP_NORESERVE);
	int err;

	mem->base = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE, flags, mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		err = -errno;
		mem->base = NULL;
		if (huge == MVM_HUGE_2M && err == -ENOMEM)
			pr_err("guest RAM: %llu MiB of 2 MiB huge pages asked for, the host has "
			       "too "
			       "few free (see HugePages_Free in /proc/meminfo; raise "
			       "/proc/sys/vm/nr_hugepages to at least %llu free)",
			       (unsigned long long)(size >> 20),
			       (unsigned long long)(size / SZ_2M));
		else
			pr_err("mapping %llu MiB of guest RAM: %s",
			       (unsigned long long)(size >> 20), strerror(-err));
		return err;
	}
	/* Advice only: what the host gives depends on its shmem_enabled setting. */
	if (huge == MVM_HUGE_THP && madvise(mem->base, size, MADV_HUGEPAGE))
		pr_warn("guest RAM: no transparent huge pages (MADV_HUGEPAGE: %s); 4 KiB pages",
			strerror(errno));
	else if (huge == MVM_HUGE_THP)
		pr_info("guest RAM: transparent huge pages asked for; the host backs it with them "
			"where /sys/kernel/mm/transparent_hugepage/shmem_enabled allows "
			"(advise, within_size or always)");
	return 0;
}

/* The VMM's own dirty bitmap: a bit per 4 KiB of RAM. 0 or -ENOMEM. */
static int memory_track_dirty(struct vm_memory *mem, uint64_t size)
{
	mem->vmm_dirty = mvm_calloc((size / SZ_4K + 63) / 64, sizeof(uint64_t));
	if (!mem->vmm_dirty)
		return -ENOMEM;
	mem->log_dirty = true;
	return 0;
}

int vm_memory_create(struct vm_memory *mem, int vm_fd, uint64_t size,
		     const struct mem_range *ranges, unsigned int nr, enum mvm_huge_pages huge,
		     bool track_dirty)
{
	uint64_t off = 0;
	unsigned int i;
	int err;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (nr == 0 || nr > MVM_MAX_MEM_REGIONS)
		return -EINVAL;
	if (huge == MVM_HUGE_2M && size % SZ_2M)
		return -EINVAL;
	if (track_dirty && memory_track_dirty(mem, size))
		return -ENOMEM;

	err = memory_open(mem, size, huge);
	if (err)
		goto out;
	err = memory_map(mem, size, huge);
	if (err)
		goto err_close;
	mem->size = size;

	for (i = 0; i < nr; i++) {
		struct mem_region *r = &mem->regions[i];

		if (ranges[i].size > size - off ||
		    (huge == MVM_HUGE_2M && ranges[i].size % SZ_2M)) {
			err = -EINVAL;
			goto err_unmap;
		}
		r->gpa = ranges[i].gpa;
		r->size = ranges[i].size;
		r->hva = mem->base + off;
		r->slot = i;
		off += r->size;
		err = memory_add_slot(vm_fd, r, mem->log_dirty);
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
	free(mem->vmm_dirty);
	mem->vmm_dirty = NULL;
	mem->log_dirty = false;
	mem->page_size = 0;
	return err;
}

/* A snapshot's memory file, mapped privately: the guest's writes never reach it. */
static int memory_map_backend_file(struct vm_memory *mem, uint64_t need, const char *path)
{
	off_t fsize;
	int err;

	mem->fd = mvm_open(path, O_RDONLY | O_NONBLOCK);
	if (mem->fd < 0) {
		err = -errno;
		pr_err("snapshot memory file '%s': %s", path, strerror(-err));
		return err;
	}
	if (mvm_fstat_size(mem->fd, &fsize) < 0) {
		err = -errno;
		pr_err("snapshot memory file '%s': %s", path, strerror(-err));
		goto err_close;
	}
	if ((uint64_t)fsize < need) {
		pr_err("snapshot memory file '%s' holds %llu bytes, the snapshot's RAM needs %llu",
		       path, (unsigned long long)fsize, (unsigned long long)need);
		err = -EINVAL;
		goto err_close;
	}
	mem->base = mvm_mmap(NULL, need, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE,
			     mem->fd, 0);
	if (mem->base == MAP_FAILED) {
		err = -errno;
		mem->base = NULL;
		pr_err("mapping snapshot memory file '%s': %s", path, strerror(-err));
		goto err_close;
	}
	mem->private_file = true;
	return 0;

err_close:
	close(mem->fd);
	mem->fd = -1;
	return err;
}

/* How long the page-fault handler may take to connect and take the message. */
#define UFFD_HANDSHAKE_MS 5000

/*
 * Anonymous memory whose missing pages the handler listening on `path`
 * serves from the snapshot's memory file (Firecracker's Uffd protocol).
 */
static int memory_map_backend_uffd(struct vm_memory *mem, uint64_t size,
				   const struct mem_layout *layout, unsigned int nr,
				   const char *path)
{
	struct snapshot_mem_region regions[MVM_MAX_MEM_REGIONS];
	struct uffd_backend *b;
	unsigned int i;

	mem->base = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (mem->base == MAP_FAILED) {
		int err = -errno;

		mem->base = NULL;
		pr_err("snapshot memory: %s", strerror(-err));
		return err;
	}
	for (i = 0; i < nr; i++)
		regions[i] =
			(struct snapshot_mem_region){ mem->base + layout[i].offset, layout[i].size,
						      layout[i].offset, SZ_4K };
	b = uffd_backend_create(regions, nr, path, UFFD_HANDSHAKE_MS);
	if (IS_ERR(b)) {
		pr_err("snapshot memory: the page-fault handler at '%s': %s", path,
		       strerror((int)-PTR_ERR(b)));
		munmap(mem->base, size);
		mem->base = NULL;
		return (int)PTR_ERR(b);
	}
	mem->uffd = b;
	mem->private_file = true;
	return 0;
}

void vm_memory_release_handler(struct vm_memory *mem)
{
	uffd_backend_destroy(mem->uffd);
	mem->uffd = NULL;
}

int vm_memory_create_from(struct vm_memory *mem, int vm_fd, uint64_t size,
			  const struct mem_layout *layout, unsigned int nr,
			  const struct mem_backend *backend, bool track_dirty)
{
	unsigned int i;
	int err;

	memset(mem, 0, sizeof(*mem));
	mem->fd = -1;
	if (nr == 0 || nr > MVM_MAX_MEM_REGIONS || size % SZ_4K)
		return -EINVAL;
	/* The pieces must lie in RAM, page-aligned, without overlapping one another. */
	for (i = 0; i < nr; i++) {
		const struct mem_layout *l = &layout[i];
		unsigned int j;

		if (!l->size || (l->gpa | l->size | l->offset) % SZ_4K || l->offset > size ||
		    l->size > size - l->offset || l->gpa + l->size < l->gpa)
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (l->offset < layout[j].offset + layout[j].size &&
			    layout[j].offset < l->offset + l->size)
				return -EINVAL;
	}
	if (backend->kind != MEM_BACKEND_FILE && backend->kind != MEM_BACKEND_UFFD)
		return -EOPNOTSUPP;
	if (track_dirty && memory_track_dirty(mem, size))
		return -ENOMEM;
	if (backend->kind == MEM_BACKEND_UFFD)
		err = memory_map_backend_uffd(mem, size, layout, nr, backend->path);
	else
		err = memory_map_backend_file(mem, size, backend->path);
	if (err)
		goto out;
	mem->size = size;
	mem->page_size = SZ_4K;
	for (i = 0; i < nr; i++) {
		struct mem_region *r = &mem->regions[i];

		r->gpa = layout[i].gpa;
		r->size = layout[i].size;
		r->hva = mem->base + layout[i].offset;
		r->slot = i;
		err = memory_add_slot(vm_fd, r, mem->log_dirty);
		if (err)
			goto err_unmap;
		mem->nr_regions = i + 1;
	}
	return 0;

err_unmap:
	vm_memory_release_handler(mem);
	munmap(mem->base, size);
	mem->base = NULL;
	mem->nr_regions = 0;
	if (mem->fd >= 0)
		close(mem->fd);
	mem->fd = -1;
out:
	free(mem->vmm_dirty);
	mem->vmm_dirty = NULL;
	mem->log_dirty = false;
	mem->page_size = 0;
	mem->private_file = false;
	return err;
}

void mem_mark_dirty(const struct vm_memory *mem, uint64_t off, uint64_t len)
{
	uint64_t p, last;

	if (!mem->vmm_dirty || !len || off >= mem->size)
		return;
	last = (MIN(off + len, mem->size) - 1) / SZ_4K;
	for (p = off / SZ_4K; p <= last; p++)
		atomic_fetch_or_explicit(&mem->vmm_dirty[p / 64], 1ULL << (p % 64),
					 memory_order_relaxed);
}

/* Guest-physical placement of files: 1 GiB-aligned, from 4 GiB or the top of RAM up. */
#define MEM_FILE_ALIGN (1ULL << 30)

static uint64_t files_next_gpa(const struct vm_memory *mem)
{
	uint64_t top = 1ULL << 32;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		top = MAX(top, mem->regions[i].gpa + mem->regions[i].size);
	for (i = 0; i < mem->nr_files; i++)
		top = MAX(top, mem->files[i].gpa + mem->files[i].size);
	return ALIGN_UP(top, MEM_FILE_ALIGN);
}

const struct mem_file *vm_memory_map_file(struct vm_memory *mem, int vm_fd, int fd, uint64_t size,
					  bool read_only, bool reserved, const char *owner)
{
	struct mem_file *f;
	struct kvm_userspace_memory_region kr;
	int err;

	if (mem->nr_files == MVM_MAX_MEM_FILES || !size || size % SZ_2M ||
	    strlen(owner) >= MVM_MEM_OWNER_SIZE) {
		err = -EINVAL;
		goto err_close;
	}
	f = &mem->files[mem->nr_files];
	memset(f, 0, sizeof(*f));
	/* Private for read-only: the guest cannot write, and the file never changes. */
	f->hva = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE,
			  (read_only ? MAP_PRIVATE : MAP_SHARED) | MAP_NORESERVE, fd, 0);
	if (f->hva == MAP_FAILED) {
		err = -errno;
		pr_err("%s: mapping %llu MiB of its file: %s", owner,
		       (unsigned long long)(size >> 20), strerror(-err));
		goto err_close;
	}
	f->gpa = files_next_gpa(mem);
	f->size = size;
	f->fd = fd;
	f->read_only = read_only;
	f->reserved = reserved;
	f->slot = MVM_MAX_MEM_REGIONS + mem->nr_files;
	snprintf(f->owner, sizeof(f->owner), "%s", owner);
	kr = (struct kvm_userspace_memory_region){
		.slot = f->slot,
		.flags = read_only ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = f->gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)f->hva,
	};
	if (mvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
		err = -errno;
		pr_err("%s: KVM_SET_USER_MEMORY_REGION slot %u at 0x%llx: %s", owner, f->slot,
		       (unsigned long long)f->gpa, strerror(-err));
		munmap(f->hva, size);
		goto err_close;
	}
	mem->nr_files++;
	return f;

err_close:
	close(fd);
	return ERR_PTR(err);
}

const struct mem_file *vm_memory_map_rom(struct vm_memory *mem, int vm_fd, uint64_t gpa,
					 uint64_t size, const char *owner)
{
	struct kvm_userspace_memory_region kr;
	struct mem_file *f;
	int err;

	if (mem->nr_files == MVM_MAX_MEM_FILES || !size || size % SZ_4K || gpa % SZ_4K ||
	    gpa + size < gpa || strlen(owner) >= MVM_MEM_OWNER_SIZE)
		return ERR_PTR(-EINVAL);
	f = &mem->files[mem->nr_files];
	memset(f, 0, sizeof(*f));
	f->hva = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f->hva == MAP_FAILED) {
		err = -errno;
		pr_err("%s: %llu KiB for its contents: %s", owner, (unsigned long long)(size >> 10),
		       strerror(-err));
		return ERR_PTR(err);
	}
	f->gpa = gpa;
	f->size = size;
	f->fd = -1;
	f->read_only = true;
	f->slot = MVM_MAX_MEM_REGIONS + mem->nr_files;
	snprintf(f->owner, sizeof(f->owner), "%s", owner);
	kr = (struct kvm_userspace_memory_region){
		.slot = f->slot,
		.flags = KVM_MEM_READONLY,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)f->hva,
	};
	if (mvm_ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0) {
		err = -errno;
		pr_err("%s: KVM_SET_USER_MEMORY_REGION slot %u at 0x%llx: %s", owner, f->slot,
		       (unsigned long long)gpa, strerror(-err));
		munmap(f->hva, size);
		return ERR_PTR(err);
	}
	mem->nr_files++;
	return f;
}

const struct mem_file *vm_memory_file(const struct vm_memory *mem, const char *owner)
{
	unsigned int i;

	for (i = 0; i < mem->nr_files; i++)
		if (!strcmp(mem->files[i].owner, owner))
			return &mem->files[i];
	return NULL;
}

void vm_memory_destroy(struct vm_memory *mem)
{
	unsigned int i;

	vm_memory_release_handler(mem);
	/* Their slots go away with the VM fd, as RAM's. */
	for (i = 0; i < mem->nr_files; i++) {
		munmap(mem->files[i].hva, mem->files[i].size);
		if (mem->files[i].fd >= 0)
			close(mem->files[i].fd);
	}
	if (mem->base)
		munmap(mem->base, mem->size);
	if (mem->fd >= 0)
		close(mem->fd);
	free(mem->vmm_dirty);
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
		if (mem->vmm_dirty)
			mem_mark_dirty(mem, (uint64_t)(r->hva - mem->base) + (gpa - r->gpa), len);
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

uint64_t mem_offset(const struct vm_memory *mem, const void *p, uint64_t len)
{
	uintptr_t a = (uintptr_t)p, b = (uintptr_t)mem->base;

	if (!mem->base || a < b || a - b > mem->size || len > mem->size - (a - b))
		return UINT64_MAX;
	return (uint64_t)(a - b);
}

int mem_discard(const struct vm_memory *mem, uint64_t off, uint64_t len, uint64_t *freed)
{
	uint64_t ps = mem_page_size(mem), start, end;

	if (freed)
		*freed = 0;
	if ((mem->fd < 0 && !mem->private_file) || !mem->base || off > mem->size ||
	    len > mem->size - off)
		return -EINVAL;
	/* Whole host pages only: a partial one still holds guest data. */
	start = ALIGN_UP(off, ps);
	end = (off + len) & ~(ps - 1);
	if (end <= start)
		return 0;
	/*
	 * A private file mapping: dropping the pages brings back the file's.
	 * Uffd memory: the handler is told (UFFD_EVENT_REMOVE) and serves zeroes.
	 */
	if (mem->private_file) {
		if (madvise(mem->base + start, end - start, MADV_DONTNEED))
			return -errno;
		if (freed)
			*freed = end - start;
		return 0;
	}
	/*
	 * A hole in the memfd frees the pages (and unmaps them from every
	 * mapping, KVM's included); MADV_REMOVE does the same through the
	 * mapping. The guest finds zeroes there next.
	 */
	if (fallocate(mem->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)start,
		      (off_t)(end - start)) &&
	    madvise(mem->base + start, end - start, MADV_REMOVE))
		return -errno;
	if (freed)
		*freed = end - start;
	return 0;
}
