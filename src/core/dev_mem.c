// SPDX-License-Identifier: MIT
/* Memory slots lent to devices (mvm/dev_mem.h). */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "mvm/dev_mem.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

static int device_slot_set(struct vm *vm, int slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region kr = {
		.slot = (uint32_t)slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	return mvm_ioctl_nofault(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &kr) < 0 ? -errno : 0;
}

int vm_device_memory_map(struct vm *vm, uint64_t gpa, uint64_t size, void *hva, int *slot)
{
	unsigned int i;
	int err;

	if (!size || (gpa | size | (uintptr_t)hva) & 4095 || gpa + size < gpa)
		return -EINVAL;
	if (*slot >= 0) {
		/* KVM moves a slot by deleting it and adding it anew. */
		err = device_slot_set(vm, *slot, 0, 0, NULL);
		if (!err)
			err = device_slot_set(vm, *slot, gpa, size, hva);
		if (err)
			vm_device_memory_unmap(vm, slot);
		return err;
	}
	/* Lock-free: callers hold their device's lock, which nests inside vm->lock. */
	for (i = 0; i < VM_DEVICE_SLOTS; i++)
		if (!(__atomic_fetch_or(&vm->device_slots, 1ULL << i, __ATOMIC_ACQ_REL) &
		      (1ULL << i)))
			break;
	if (i == VM_DEVICE_SLOTS)
		return -ENOSPC;
	err = device_slot_set(vm, VM_DEVICE_SLOT_BASE + (int)i, gpa, size, hva);
	if (err) {
		__atomic_fetch_and(&vm->device_slots, ~(1ULL << i), __ATOMIC_ACQ_REL);
		return err;
	}
	*slot = VM_DEVICE_SLOT_BASE + (int)i;
	return 0;
}

void vm_device_memory_unmap(struct vm *vm, int *slot)
{
	int i = *slot - VM_DEVICE_SLOT_BASE, err;

	if (*slot < 0)
		return;
	err = device_slot_set(vm, *slot, 0, 0, NULL);
	if (err)
		pr_warn("device memory slot %d: %s", *slot, strerror(-err));
	if (i >= 0 && i < VM_DEVICE_SLOTS)
		__atomic_fetch_and(&vm->device_slots, ~(1ULL << i), __ATOMIC_ACQ_REL);
	*slot = -1;
}
