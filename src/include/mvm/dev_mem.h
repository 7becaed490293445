/* SPDX-License-Identifier: MIT */
/*
 * Host memory a device lends the guest (a passthrough function's mappable
 * BAR): a KVM memory slot of its own at a guest-physical address that the
 * guest may move. Devices never touch the VM fd; they go through these.
 */
#ifndef MVM_DEV_MEM_H
#define MVM_DEV_MEM_H

#include <stdint.h>

struct vm;

#define VM_DEVICE_SLOT_BASE 64 /* above RAM's and files' slots */
#define VM_DEVICE_SLOTS	    64

/*
 * Maps [hva, hva + size) at gpa (page-aligned, size a page multiple) as a
 * device slot; *slot is -1 for a new one (set on success) or the slot to
 * move. 0 or -errno (-ENOSPC: no slot left).
 */
int vm_device_memory_map(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, int *slot);
/* Removes the slot (the guest's accesses there exit again) and frees it; *slot becomes -1. */
void vm_device_memory_unmap(struct vm *vm, int *slot);

#endif
