/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM and the one checked way to reach it (DESIGN.md §4).
 *
 * RAM is a single memfd (so it can later be snapshotted or shared), mapped
 * once and cut into regions at guest-physical addresses chosen by the arch
 * (e.g. x86 leaves a hole below 4 GiB). Every guest-physical access goes
 * through mem_ptr()/mem_read()/mem_write(), which check range, overflow and
 * that the whole access lies inside one region.
 */
#ifndef MVM_MEMORY_H
#define MVM_MEMORY_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

#include "mvm/config.h"

#define MVM_MAX_MEM_REGIONS 4
#define MVM_MAX_MEM_FILES   8
#define MVM_MEM_OWNER_SIZE  32

struct mem_range {
	uint64_t gpa;
	uint64_t size;
};

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t slot;
};

/*
 * A host file mapped into guest-physical space above RAM, in a KVM slot of
 * its own (virtio-pmem). Not RAM: mem_ptr() does not reach it.
 */
struct mem_file {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
	uint32_t slot;
	int fd; /* owned: closed with the memory */
	bool read_only;
	bool reserved; /* in the firmware's memory map as reserved (pmem; not hot-plug memory) */
	char owner[MVM_MEM_OWNER_SIZE]; /* who asked for it: "pmem0" */
};

/* Where RAM comes from when it is not a fresh memfd (a snapshot's memory file). */
enum mem_backend_kind {
	MEM_BACKEND_FILE, /* the file mapped MAP_PRIVATE: pages fault in lazily, writes stay ours */
	MEM_BACKEND_UFFD, /* anonymous memory served by a page-fault handler (Firecracker's Uffd) */
};

struct mem_backend {
	enum mem_backend_kind kind;
	const char *path; /* the memory file, or the handler's socket */
};

/* One piece of RAM as a snapshot describes it. */
struct mem_layout {
	uint64_t gpa;
	uint64_t size;
	uint64_t offset; /* in the memory file */
};

struct uffd_backend;

struct vm_memory {
	int fd;		   /* the memfd (or the backend's file), -1 when none */
	bool private_file; /* base maps a file MAP_PRIVATE (or a Uffd backend's memory): no fd */
	/* Uffd backend: anonymous memory whose pages a handler serves; NULL otherwise. */
	struct uffd_backend *uffd;
	/* With dirty tracking: a bit per 4 KiB page the VMM itself may have written. */
	_Atomic uint64_t *vmm_dirty;
	bool log_dirty; /* the RAM slots have KVM_MEM_LOG_DIRTY_PAGES */
	uint8_t *base;	/* host mapping of the whole memfd */
	uint64_t size;	/* RAM size in bytes */
	/* Host page backing RAM: the unit in which it can be given back. 0: 4 KiB. */
	uint64_t page_size;
	unsigned int nr_regions;
	struct mem_region regions[MVM_MAX_MEM_REGIONS];
	unsigned int nr_files;
	struct mem_file files[MVM_MAX_MEM_FILES];
};

/*
 * Creates RAM of `size` bytes laid out as `ranges` (their sizes add up to
 * `size`), backed as `huge` asks, and registers each range as a KVM memory
 * slot on vm_fd. track_dirty: KVM's dirty log on the slots, and the VMM's
 * own writes recorded (for Diff snapshots). With MVM_HUGE_2M, size and ranges must be 2 MiB
 * multiples and the pages are reserved now: -ENOMEM (with a message naming
 * /proc/sys/vm/nr_hugepages) when the host has too few free.
 */
int vm_memory_create(struct vm_memory *mem, int vm_fd, uint64_t size,
		     const struct mem_range *ranges, unsigned int nr, enum mvm_huge_pages huge,
		     bool track_dirty);
void vm_memory_destroy(struct vm_memory *mem);
/*
 * Lets go of a Uffd backend's handler before a teardown joins the vCPUs: a
 * page it never served reads as zeroes from now on, so no thread can stay
 * blocked on it. Nothing for other memory.
 */
void vm_memory_release_handler(struct vm_memory *mem);
/*
 * Creates RAM of `size` bytes from a backend, laid out as `layout` (each
 * piece at its file offset), as KVM slots on vm_fd. For MEM_BACKEND_FILE
 * the file is mapped MAP_PRIVATE and faulted in lazily (nothing is read
 * now); it must be at least as long as the layout needs. -EOPNOTSUPP for a
 * backend this build cannot serve. 0 or -errno with a message.
 */
int vm_memory_create_from(struct vm_memory *mem, int vm_fd, uint64_t size,
			  const struct mem_layout *layout, unsigned int nr,
			  const struct mem_backend *backend, bool track_dirty);
/*
 * Records that the VMM may write RAM at [off, off + len) (memfd offsets): a
 * no-op without dirty tracking. mem_ptr() records what it hands out.
 */
void mem_mark_dirty(const struct vm_memory *mem, uint64_t off, uint64_t len);
/*
 * Maps the file fd ([0, size), size a multiple of 2 MiB) at the next free
 * 1 GiB-aligned guest-physical address above RAM and the files mapped
 * before, as a new KVM slot: shared, or (read_only) private and read-only to
 * the guest; reserved: the firmware's memory map says so (else the guest
 * learns of it from the device alone, as virtio-mem wants). The memory owns fd from then on (also
 * on failure). Call it before the irqchip exists: a slot added later waits for an SRCU grace period
 * (see vm_create()). The mapping, or ERR_PTR(-errno).
 */
const struct mem_file *vm_memory_map_file(struct vm_memory *mem, int vm_fd, int fd, uint64_t size,
					  bool read_only, bool reserved, const char *owner);
/*
 * Read-only memory for the guest at [gpa, gpa + size) (a firmware image
 * below 4 GiB): anonymous host memory in a KVM_MEM_READONLY slot, listed
 * with the files (fd -1), which the caller fills through its hva before the
 * guest runs. size and gpa 4 KiB-aligned; before the irqchip, as above.
 * The mapping, or ERR_PTR(-errno).
 */
const struct mem_file *vm_memory_map_rom(struct vm_memory *mem, int vm_fd, uint64_t gpa,
					 uint64_t size, const char *owner);
/* The file mapped for owner, or NULL. */
const struct mem_file *vm_memory_file(const struct vm_memory *mem, const char *owner);

/* Host pointer for [gpa, gpa + len) or NULL if not wholly inside one region. */
void *mem_ptr(const struct vm_memory *mem, uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM: 0 or -EFAULT. */
int mem_read(const struct vm_memory *mem, uint64_t gpa, void *buf, uint64_t len);
int mem_write(const struct vm_memory *mem, uint64_t gpa, const void *buf, uint64_t len);
/* Length of RAM from gpa to the end of its region (0 if gpa is not RAM). */
uint64_t mem_avail(const struct vm_memory *mem, uint64_t gpa);

/* The host page size backing RAM (4 KiB unless huge pages). */
static inline uint64_t mem_page_size(const struct vm_memory *mem)
{
	return mem->page_size ? mem->page_size : 4096;
}
/*
 * Offset in the memfd of the host address p, which must lie in RAM
 * (a pointer mem_ptr() gave); UINT64_MAX otherwise.
 */
uint64_t mem_offset(const struct vm_memory *mem, const void *p, uint64_t len);
/*
 * Gives the memfd's [off, off + len) back to the host (a hole is punched:
 * the guest reads zeroes there next, and the host's memory drops). Only the
 * whole host pages inside the range go; what they were is returned in
 * *freed (may be NULL). 0, or -errno (-EINVAL: no memfd or not RAM).
 */
int mem_discard(const struct vm_memory *mem, uint64_t off, uint64_t len, uint64_t *freed);

#endif
