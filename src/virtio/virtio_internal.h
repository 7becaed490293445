/* SPDX-License-Identifier: MIT */
/* Between the virtio core (core.c) and its transport (pci.c). */
#ifndef MVM_VIRTIO_INTERNAL_H
#define MVM_VIRTIO_INTERNAL_H

#include "mvm/virtio.h"

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* core.c: state set-up/teardown, from the transport's init/release. */
int virtio_core_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops);
void virtio_core_fini(struct virtio_dev *vdev);
/* After the device's init: what is offered (its features + the transport's). */
void virtio_core_offer(struct virtio_dev *vdev);
/* With vdev->lock held: the driver writes the status / enables queue q. */
void virtio_set_status(struct virtio_dev *vdev, uint8_t status);
void virtio_reset(struct virtio_dev *vdev);
void virtio_queue_enable(struct virtio_dev *vdev, unsigned int q);
uint8_t virtio_status(struct virtio_dev *vdev);

/* pci.c: the transport. */
struct virtio_dev *virtio_pci_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				     const char *name, const void *args);
void virtio_pci_signal_config(struct virtio_dev *vdev);
void virtio_pci_signal_queue(struct virtqueue *vq);

#endif
