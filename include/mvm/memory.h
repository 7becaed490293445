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

#include <stdint.h>
#include <stddef.h>

#define MVM_MAX_MEM_REGIONS 4

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

struct vm_memory {
	int fd;	       /* the memfd, -1 when none */
	uint8_t *base; /* host mapping of the whole memfd */
	uint64_t size; /* RAM size in bytes */
	unsigned int nr_regions;
	struct mem_region regions[MVM_MAX_MEM_REGIONS];
};

/*
 * Creates RAM of `size` bytes laid out as `ranges` (their sizes add up to
 * `size`) and registers each range as a KVM memory slot on vm_fd.
 */
int vm_memory_create(struct vm_memory *mem, int vm_fd, uint64_t size,
		     const struct mem_range *ranges, unsigned int nr);
void vm_memory_destroy(struct vm_memory *mem);

/* Host pointer for [gpa, gpa + len) or NULL if not wholly inside one region. */
void *mem_ptr(const struct vm_memory *mem, uint64_t gpa, uint64_t len);
/* Copy to/from guest RAM: 0 or -EFAULT. */
int mem_read(const struct vm_memory *mem, uint64_t gpa, void *buf, uint64_t len);
int mem_write(const struct vm_memory *mem, uint64_t gpa, const void *buf, uint64_t len);
/* Length of RAM from gpa to the end of its region (0 if gpa is not RAM). */
uint64_t mem_avail(const struct vm_memory *mem, uint64_t gpa);

#endif
