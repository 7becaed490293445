// SPDX-License-Identifier: MIT
/*
 * The virtio core (virtio 1.x §2.1-2.4, §3.1): the device status machine,
 * feature negotiation, NEEDS_RESET and device reset, and the queues'
 * notification handlers. Transport-agnostic: the transport (pci.c or
 * mmio.c, chosen in _virtio_dev_create) moves the registers and is reached
 * through vdev->transport only.
 *
 * A driver that breaks the rules (DRIVER_OK without FEATURES_OK, clearing
 * status bits, enabling a queue before FEATURES_OK or with a bad ring) gets
 * NEEDS_RESET and a config interrupt, never a crash; it recovers by
 * writing 0 to the status (reset).
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "virtio_internal.h"

/* The transport bits mvm offers with every device. */
#define VIRTIO_TRANSPORT_FEATURES                                           \
	((1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX) | \
	 (1ULL << VIRTIO_F_RING_INDIRECT_DESC))

struct virtio_dev *_virtio_dev_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				      const char *name, const void *args)
{
	/* The one place the transport is chosen. */
	switch (vm->cfg.transport) {
	case MVM_TRANSPORT_PCI:
		return virtio_pci_create(size, vm, ops, name, args);
	case MVM_TRANSPORT_MMIO:
		return virtio_mmio_create(size, vm, ops, name, args);
	}
	return ERR_PTR(-EINVAL);
}

uint8_t virtio_status(struct virtio_dev *vdev)
{
	return __atomic_load_n(&vdev->status, __ATOMIC_ACQUIRE);
}

int virtio_core_init(struct virtio_dev *vdev, const struct virtio_dev_ops *ops,
		     const struct virtio_transport_ops *t, void *priv)
{
	unsigned int q;

	if (!ops->num_queues || ops->num_queues > VIRTIO_MAX_QUEUES || !ops->queue_max_size ||
	    (ops->queue_max_size & (ops->queue_max_size - 1)) || !ops->queue_notify)
		return -EINVAL;
	vdev->ops = ops;
	vdev->transport = t;
	vdev->transport_priv = priv;
	vdev->dev.transport = t->name;
	vdev->vm = vdev->dev.vm;
	vdev->dev.type = ops->type; /* listed as what it is, not as its transport */
	vdev->num_queues = ops->num_queues;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++) {
		struct virtqueue *vq = &vdev->vqs[q];

		vq->vdev = vdev;
		vq->index = q;
		vq->mem = &vdev->vm->mem;
		vq->kick_fd = -1;
		vq->signal = t->signal_queue;
		virtq_reset(vq);
	}
	pthread_mutex_init(&vdev->lock, NULL);
	pthread_mutex_init(&vdev->isr_lock, NULL);
	return 0;
}

void virtio_core_fini(struct virtio_dev *vdev)
{
	pthread_mutex_destroy(&vdev->isr_lock);
	pthread_mutex_destroy(&vdev->lock);
}

void virtio_dev_config_changed(struct virtio_dev *vdev)
{
	__atomic_fetch_add(&vdev->config_generation, 1, __ATOMIC_RELEASE);
	vdev->transport->signal_config(vdev);
}

void virtio_dev_needs_reset(struct virtio_dev *vdev)
{
	uint8_t old = __atomic_fetch_or(&vdev->status, VIRTIO_STATUS_NEEDS_RESET, __ATOMIC_ACQ_REL);

	/* Only a driver that got going is told (§2.1.2); once is enough. */
	if ((old & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_NEEDS_RESET)) {
		pr_warn_ratelimited("%s: the driver broke the virtio rules: NEEDS_RESET",
				    vdev->dev.name);
		vdev->transport->signal_config(vdev);
	}
}

void virtio_reset(struct virtio_dev *vdev)
{
	unsigned int q;

	/* The device stops using the queues (and waits for in-flight I/O) first. */
	if (vdev->active && vdev->ops->reset)
		vdev->ops->reset(vdev);
	vdev->active = false;
	__atomic_store_n(&vdev->status, 0, __ATOMIC_RELEASE);
	vdev->driver_features = vdev->features = 0;
	vdev->device_feature_select = vdev->driver_feature_select = 0;
	vdev->queue_select = 0;
	for (q = 0; q < vdev->num_queues; q++) {
		virtq_reset(&vdev->vqs[q]);
		memset(&vdev->qcfg[q], 0, sizeof(vdev->qcfg[q]));
	}
	pthread_mutex_lock(&vdev->isr_lock);
	vdev->isr = 0;
	vdev->transport->reset(vdev);
	pthread_mutex_unlock(&vdev->isr_lock);
}

/* ---- queue notifications on the event loop ---- */

static void virtio_kick(struct loop_handler *h, uint32_t events)
{
	struct virtqueue *vq = container_of(h, struct virtqueue, kick);
	struct virtio_dev *vdev = vq->vdev;
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) < 0)
		return;
	/* Under the lock: a reset (vCPU thread) and a queue's work never overlap. */
	pthread_mutex_lock(&vdev->lock);
	if (vdev->active && vq->enabled)
		vdev->ops->queue_notify(vdev, vq->index);
	pthread_mutex_unlock(&vdev->lock);
}

void virtio_core_queues_fini(struct virtio_dev *vdev, unsigned int upto)
{
	unsigned int q;

	for (q = 0; q < upto; q++) {
		loop_del(&vdev->vm->loop, &vdev->vqs[q].kick);
		close(vdev->vqs[q].kick_fd);
		vdev->vqs[q].kick_fd = -1;
	}
}

int virtio_core_queues_init(struct virtio_dev *vdev)
{
	unsigned int q;
	int err;

	for (q = 0; q < vdev->num_queues; q++) {
		struct virtqueue *vq = &vdev->vqs[q];

		vq->kick_fd = mvm_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->kick_fd < 0) {
			err = -errno;
			goto err;
		}
		vq->kick.fd = vq->kick_fd;
		vq->kick.fn = virtio_kick;
		err = loop_add(&vdev->vm->loop, &vq->kick, EPOLLIN);
		if (err) {
			close(vq->kick_fd);
			vq->kick_fd = -1;
			goto err;
		}
	}
	return 0;
err:
	virtio_core_queues_fini(vdev, q);
	return err;
}

void virtio_core_offer(struct virtio_dev *vdev)
{
	uint64_t f = vdev->ops->get_features ? vdev->ops->get_features(vdev) : 0;

	vdev->host_features = f | VIRTIO_TRANSPORT_FEATURES;
}

void virtio_set_status(struct virtio_dev *vdev, uint8_t v)
{
	uint8_t old = virtio_status(vdev);
	const uint8_t driver_bits = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				    VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK;

	if (v == 0) {
		virtio_reset(vdev);
		return;
	}
	/* NEEDS_RESET is the device's bit; the driver cannot set or clear it. */
	v = (uint8_t)((v & ~VIRTIO_STATUS_NEEDS_RESET) | (old & VIRTIO_STATUS_NEEDS_RESET));
	if (old & ~v & driver_bits) {
		/* §2.1.1: the driver never clears a bit (only a reset does). */
		virtio_dev_needs_reset(vdev);
		return;
	}

	if ((v & VIRTIO_STATUS_FEATURES_OK) && !(old & VIRTIO_STATUS_FEATURES_OK)) {
		uint64_t offered = vdev->host_features;

		/*
		 * §2.2.2: accept only a subset of what was offered, and modern
		 * only; else FEATURES_OK does not stick and the driver sees it.
		 */
		if ((vdev->driver_features & ~offered) ||
		    !(vdev->driver_features & (1ULL << VIRTIO_F_VERSION_1))) {
			pr_debug("%s: features 0x%llx refused (offered 0x%llx)", vdev->dev.name,
				 (unsigned long long)vdev->driver_features,
				 (unsigned long long)offered);
			v &= (uint8_t) ~(VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
		} else {
			vdev->features = vdev->driver_features;
		}
	}

	if ((v & VIRTIO_STATUS_DRIVER_OK) && !(old & VIRTIO_STATUS_DRIVER_OK)) {
		if (!(v & VIRTIO_STATUS_FEATURES_OK)) {
			__atomic_store_n(&vdev->status, (uint8_t)(v & ~VIRTIO_STATUS_DRIVER_OK),
					 __ATOMIC_RELEASE);
			virtio_dev_needs_reset(vdev);
			return;
		}
		__atomic_store_n(&vdev->status, v, __ATOMIC_RELEASE);
		if (vdev->ops->activate && vdev->ops->activate(vdev)) {
			pr_warn("%s: could not start the device", vdev->dev.name);
			virtio_dev_needs_reset(vdev);
			return;
		}
		vdev->active = true;
		return;
	}
	__atomic_store_n(&vdev->status, v, __ATOMIC_RELEASE);
}

void virtio_queue_enable(struct virtio_dev *vdev, unsigned int q)
{
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	uint32_t size;
	int err;

	if (!vq || vq->enabled)
		return;
	/* Rings before FEATURES_OK would not know EVENT_IDX/INDIRECT: a driver bug. */
	if (!(virtio_status(vdev) & VIRTIO_STATUS_FEATURES_OK)) {
		virtio_dev_needs_reset(vdev);
		return;
	}
	size = vdev->qcfg[q].size ? vdev->qcfg[q].size : vdev->ops->queue_max_size;
	err = size > vdev->ops->queue_max_size ? -EINVAL : 0;
	if (!err)
		err = virtq_setup(vq, &vdev->vm->mem, (uint16_t)size, vdev->qcfg[q].desc,
				  vdev->qcfg[q].driver, vdev->qcfg[q].device, vdev->features);
	if (err) {
		pr_warn_ratelimited("%s: queue %u: bad size or ring addresses", vdev->dev.name, q);
		virtio_dev_needs_reset(vdev);
	}
}
