/* SPDX-License-Identifier: MIT */
/* The VM's virtio-mem as the control plane sees it (src/virtio/mem.c). */
#ifndef MVM_VMEM_H
#define MVM_VMEM_H

#include <stdint.h>

struct vm;

/* Bytes plugged and requested now. 0, or -ENODEV when the VM has no virtio-mem. */
int vmem_status(struct vm *vm, uint64_t *plugged, uint64_t *requested);

#endif
