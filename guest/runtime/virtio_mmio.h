/* SPDX-License-Identifier: MIT */
/* Guest kit, inside the runtime: the virtio-mmio half of the driver (virtio.c calls it). */
#ifndef GUEST_VIRTIO_MMIO_H
#define GUEST_VIRTIO_MMIO_H

#include "virtio.h"

/*
 * Finds the index-th virtio-mmio device with this device id in mvm's
 * windows (VIRTIO_MMIO_BASE + i * 4 KiB): magic "virt", version 2. Fills
 * v->mmio, base, devcfg, num_queues. 0 or -1.
 */
int vmmio_probe(struct vdev *v, uint16_t device_id, unsigned int index);
uint8_t vmmio_status(struct vdev *v);
void vmmio_set_status(struct vdev *v, uint8_t status);
uint64_t vmmio_offered(struct vdev *v);
void vmmio_set_features(struct vdev *v, uint64_t features);
/* The queue's maximum size (0: no such queue, or already in use). */
uint16_t vmmio_queue_max(struct vdev *v, uint16_t index);
/* Tells the device where q's rings are and makes it ready; sets q->notify_addr. */
void vmmio_queue_enable(struct vdev *v, struct vq *q);
/* InterruptStatus, acknowledged. */
uint32_t vmmio_isr(struct vdev *v);

#endif
