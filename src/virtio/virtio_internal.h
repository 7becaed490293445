/* SPDX-License-Identifier: MIT */
/* Between the virtio core (core.c) and its transports (pci.c, mmio.c). */
#ifndef MVM_VIRTIO_INTERNAL_H
#define MVM_VIRTIO_INTERNAL_H

#include "mvm/virtio.h"

/*
 * core.c: state set-up/teardown, from the transport's init/release.
 * virtio_core_init binds vdev to transport t (priv: t's state).
 */
int virtio_core_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		     const struct virtio_transport_ops *t, void *priv);
void virtio_core_fini(struct virtio_dev *vdev);
/*
 * The queues' notification eventfds, each a handler of the VM's event loop
 * that runs ops->queue_notify; the transport points ioeventfds at them.
 * 0 or -errno (nothing left behind); fini undoes queues [0, upto).
 */
int virtio_core_queues_init(struct virtio_dev *vdev);
void virtio_core_queues_fini(struct virtio_dev *vdev, unsigned int upto);
/* After the device's init: what is offered (its features + the transport's). */
void virtio_core_offer(struct virtio_dev *vdev);
/* With vdev->lock held: the driver writes the status / enables queue q. */
void virtio_set_status(struct virtio_dev *vdev, uint8_t status);
void virtio_reset(struct virtio_dev *vdev);
void virtio_queue_enable(struct virtio_dev *vdev, unsigned int q);
uint8_t virtio_status(struct virtio_dev *vdev);

/*
 * snapshot.c: the common state (status, features, selectors, queues and
 * their indexes, interrupt status) and the device's own. Restore sets the
 * queues up again and activates the device as it was. vdev->lock not held.
 */
int virtio_core_save(struct virtio_dev *vdev, struct snap_buf *out);
int virtio_core_restore(struct virtio_dev *vdev, struct snap_cur *in);

/* The transports: allocate, init (ops->init inside) and register. */
struct virtio_dev *virtio_pci_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				     const char *name, const void *args);
struct virtio_dev *virtio_mmio_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				      const char *name, const void *args);

/* Where a transport's private state goes: after the device's own struct. */
static inline size_t virtio_priv_offset(size_t size)
{
	return (size + 15) & ~(size_t)15;
}

#endif
