// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio transport (virtio 1.2 §4.2), version 2 ("modern") only:
 * one 4 KiB window of 32-bit registers per device, the device's config
 * space from 0x100, one edge-triggered GSI.
 *
 * Device i of a VM gets window ARCH_VIRTIO_MMIO_BASE + i * 4 KiB and GSI
 * ARCH_VIRTIO_MMIO_GSI_BASE + i, the lowest index free in the VM
 * (vm->virtio_mmio.used). Its firmware description (LNRO0005, window, GSI)
 * lets the arch announce it in the DSDT and as virtio_mmio.device=.
 *
 * QueueNotify is one register for every queue: each queue's eventfd is an
 * ioeventfd matching its index, so a notification does not leave the
 * kernel; a write that reaches us anyway takes the same path. The
 * interrupt is an irqfd: InterruptStatus bits are set before it fires.
 *
 * The driver gets what the spec promises and nothing else: registers are
 * 32-bit aligned accesses (others read 0 and are dropped), write-only
 * registers read 0, read-only ones ignore writes, queue set-up is frozen
 * while the queue is ready, and a bad queue (size, ring addresses) is a
 * device error (NEEDS_RESET through the core).
 */
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "virtio_internal.h"

#define VIRTIO_MMIO_MAGIC   0x74726976 /* "virt" */
#define VIRTIO_MMIO_VERSION 2
/* "QEMU", the vendor id QEMU and Firecracker report: no driver checks it. */
#define VIRTIO_MMIO_VENDOR 0x554d4551

#define REG_MAGIC	      0x000
#define REG_VERSION	      0x004
#define REG_DEVICE_ID	      0x008
#define REG_VENDOR_ID	      0x00c
#define REG_DEVICE_FEATURES   0x010
#define REG_DEVICE_FEAT_SEL   0x014
#define REG_DRIVER_FEATURES   0x020
#define REG_DRIVER_FEAT_SEL   0x024
#define REG_QUEUE_SEL	      0x030
#define REG_QUEUE_NUM_MAX     0x034
#define REG_QUEUE_NUM	      0x038
#define REG_QUEUE_READY	      0x044
#define REG_QUEUE_NOTIFY      0x050
#define REG_INTERRUPT_STATUS  0x060
#define REG_INTERRUPT_ACK     0x064
#define REG_STATUS	      0x070
#define REG_QUEUE_DESC_LOW    0x080
#define REG_QUEUE_DESC_HIGH   0x084
#define REG_QUEUE_DRIVER_LOW  0x090
#define REG_QUEUE_DRIVER_HIGH 0x094
#define REG_QUEUE_DEVICE_LOW  0x0a0
#define REG_QUEUE_DEVICE_HIGH 0x0a4
#define REG_SHM_SEL	      0x0ac
#define REG_SHM_LEN_LOW	      0x0b0
#define REG_SHM_LEN_HIGH      0x0b4
#define REG_SHM_BASE_LOW      0x0b8
#define REG_SHM_BASE_HIGH     0x0bc
#define REG_CONFIG_GENERATION 0x0fc
#define REG_CONFIG	      0x100

#define INT_VRING  1
#define INT_CONFIG 2

/* Windows (and GSIs) a VM can have: both ranges bound it, and the bitmap. */
#define MMIO_SLOTS_GSI (ARCH_VIRTIO_MMIO_GSI_LAST - ARCH_VIRTIO_MMIO_GSI_BASE + 1)
#define MMIO_SLOTS_ARCH \
	(ARCH_VIRTIO_MMIO_MAX < MMIO_SLOTS_GSI ? ARCH_VIRTIO_MMIO_MAX : MMIO_SLOTS_GSI)
#define MMIO_SLOTS (MMIO_SLOTS_ARCH < 64 ? MMIO_SLOTS_ARCH : 64)

_Static_assert(ARCH_VIRTIO_MMIO_SIZE >= 0x200, "a window holds the registers and some config");

/* The transport's own state: after the device's struct (vdev->transport_priv). */
struct virtio_mmio {
	unsigned int index; /* window and GSI */
	uint64_t base;
	unsigned int gsi;
	int irq_fd;		/* bound to gsi with an irqfd */
	unsigned int notifiers; /* queues [0, notifiers) have their QueueNotify ioeventfd */
};

struct virtio_mmio_args {
	const struct virtio_dev_ops *ops;
	const void *args;
	size_t priv_off;
};

static struct virtio_mmio *to_vmmio(struct virtio_dev *vdev)
{
	return vdev->transport_priv;
}

/* ---- interrupts ---- */

static void vmmio_signal(struct virtio_dev *vdev, unsigned int bit)
{
	uint64_t one = 1;

	/* The status bit first: the driver's handler reads it when the edge arrives. */
	pthread_mutex_lock(&vdev->isr_lock);
	vdev->isr |= bit;
	pthread_mutex_unlock(&vdev->isr_lock);
	if (write(to_vmmio(vdev)->irq_fd, &one, sizeof(one)) < 0)
		pr_debug("%s: interrupt: %s", vdev->dev.name, strerror(errno));
}

static void vmmio_signal_queue(struct virtqueue *vq)
{
	vmmio_signal(vq->vdev, INT_VRING);
}

static void vmmio_signal_config(struct virtio_dev *vdev)
{
	vmmio_signal(vdev, INT_CONFIG);
}

static void vmmio_reset(struct virtio_dev *vdev)
{
	/* Edge-triggered: no line to lower; the core cleared InterruptStatus. */
	(void)vdev;
}

static const struct virtio_transport_ops vmmio_transport = {
	.name = "mmio",
	.signal_queue = vmmio_signal_queue,
	.signal_config = vmmio_signal_config,
	.reset = vmmio_reset,
};

/* ---- the register file ---- */

static uint32_t reg_read(struct virtio_dev *vdev, uint64_t off)
{
	struct virtqueue *vq = virtio_dev_vq(vdev, vdev->queue_select);
	uint32_t v;

	switch (off) {
	case REG_MAGIC:
		return VIRTIO_MMIO_MAGIC;
	case REG_VERSION:
		return VIRTIO_MMIO_VERSION;
	case REG_DEVICE_ID:
		return vdev->ops->device_id;
	case REG_VENDOR_ID:
		return VIRTIO_MMIO_VENDOR;
	case REG_DEVICE_FEATURES:
		if (vdev->device_feature_select >= 2)
			return 0;
		return (uint32_t)(vdev->host_features >> (32 * vdev->device_feature_select));
	case REG_QUEUE_NUM_MAX:
		/* 0: the queue does not exist (§4.2.2). */
		return vq ? vdev->ops->queue_max_size : 0;
	case REG_QUEUE_READY:
		return vq && vq->enabled;
	case REG_INTERRUPT_STATUS:
		pthread_mutex_lock(&vdev->isr_lock);
		v = vdev->isr;
		pthread_mutex_unlock(&vdev->isr_lock);
		return v;
	case REG_STATUS:
		return virtio_status(vdev);
	case REG_SHM_LEN_LOW:
	case REG_SHM_LEN_HIGH:
		return 0xffffffff; /* length -1: no shared memory region (§4.2.2) */
	case REG_CONFIG_GENERATION:
		return __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	default:
		return 0; /* write-only or reserved */
	}
}

/* One 32-bit half of a 64-bit queue address. */
static void set_half(uint64_t *addr, bool high, uint32_t v)
{
	if (high)
		*addr = (*addr & 0xffffffffULL) | (uint64_t)v << 32;
	else
		*addr = (*addr & ~0xffffffffULL) | v;
}

static void queue_ready_write(struct virtio_dev *vdev, unsigned int q, uint32_t v)
{
	struct virtqueue *vq = &vdev->vqs[q];

	if (v == 1) {
		if (vq->enabled)
			return;
		/* The driver must tell the size (§4.2.3.2): none is a device error. */
		if (!vdev->qcfg[q].size) {
			pr_warn("%s: queue %u made ready without a size", vdev->dev.name, q);
			virtio_dev_needs_reset(vdev);
			return;
		}
		virtio_queue_enable(vdev, q);
	} else if (v == 0 && vq->enabled) {
		/*
		 * Taking a queue back: fine before DRIVER_OK (the device has not
		 * started using it); a running queue stops only by a reset.
		 */
		if (vdev->active)
			pr_debug("%s: queue %u: QueueReady 0 while running ignored", vdev->dev.name,
				 q);
		else
			virtq_reset(vq);
	}
}

static void reg_write(struct virtio_dev *vdev, uint64_t off, uint32_t v)
{
	unsigned int q = vdev->queue_select;
	struct virtqueue *vq = virtio_dev_vq(vdev, q);

	switch (off) {
	case REG_DEVICE_FEAT_SEL:
		vdev->device_feature_select = v;
		return;
	case REG_DRIVER_FEAT_SEL:
		vdev->driver_feature_select = v;
		return;
	case REG_DRIVER_FEATURES:
		if (vdev->driver_feature_select < 2 &&
		    !(virtio_status(vdev) & VIRTIO_STATUS_FEATURES_OK)) {
			unsigned int shift = 32 * vdev->driver_feature_select;

			vdev->driver_features &= ~(0xffffffffULL << shift);
			vdev->driver_features |= (uint64_t)v << shift;
		}
		return;
	case REG_QUEUE_SEL:
		vdev->queue_select = v;
		return;
	case REG_QUEUE_NOTIFY:
		/* A notification no ioeventfd caught (another width): same path. */
		if (v < vdev->num_queues)
			virtq_kick(&vdev->vqs[v]);
		return;
	case REG_INTERRUPT_ACK:
		pthread_mutex_lock(&vdev->isr_lock);
		vdev->isr &= ~v;
		pthread_mutex_unlock(&vdev->isr_lock);
		return;
	case REG_STATUS:
		virtio_set_status(vdev, (uint8_t)v);
		return;
	case REG_QUEUE_READY:
		if (vq)
			queue_ready_write(vdev, q, v);
		return;
	}
	/* The queue's set-up: a queue that exists, frozen while it is ready (§4.2.3.2). */
	if (!vq || vq->enabled)
		return;
	switch (off) {
	case REG_QUEUE_NUM:
		vdev->qcfg[q].size = v; /* checked against QueueNumMax when made ready */
		break;
	case REG_QUEUE_DESC_LOW:
	case REG_QUEUE_DESC_HIGH:
		set_half(&vdev->qcfg[q].desc, off == REG_QUEUE_DESC_HIGH, v);
		break;
	case REG_QUEUE_DRIVER_LOW:
	case REG_QUEUE_DRIVER_HIGH:
		set_half(&vdev->qcfg[q].driver, off == REG_QUEUE_DRIVER_HIGH, v);
		break;
	case REG_QUEUE_DEVICE_LOW:
	case REG_QUEUE_DEVICE_HIGH:
		set_half(&vdev->qcfg[q].device, off == REG_QUEUE_DEVICE_HIGH, v);
		break;
	}
}

/* Is [off, off + len) inside the device's config space? Its offset there in *cfg_off. */
static bool in_config(struct virtio_dev *vdev, uint64_t off, unsigned int len, uint64_t *cfg_off)
{
	if (off < REG_CONFIG)
		return false;
	*cfg_off = off - REG_CONFIG;
	return *cfg_off < vdev->ops->config_size && len <= vdev->ops->config_size - *cfg_off;
}

static void vmmio_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
		       unsigned int len)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);
	uint64_t cfg_off;

	(void)io;
	memset(data, 0, len);
	pthread_mutex_lock(&vdev->lock);
	if (off >= REG_CONFIG) {
		if (in_config(vdev, off, len, &cfg_off) && vdev->ops->config_read)
			vdev->ops->config_read(vdev, cfg_off, data, len);
	} else if (len == 4 && !(off & 3)) {
		uint32_t v = reg_read(vdev, off);
		uint8_t *p = data;

		p[0] = (uint8_t)v;
		p[1] = (uint8_t)(v >> 8);
		p[2] = (uint8_t)(v >> 16);
		p[3] = (uint8_t)(v >> 24);
	}
	pthread_mutex_unlock(&vdev->lock);
}

static void vmmio_write(struct mvm_device *dev, unsigned int io, uint64_t off, const void *data,
			unsigned int len)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);
	uint64_t cfg_off;

	(void)io;
	pthread_mutex_lock(&vdev->lock);
	if (off >= REG_CONFIG) {
		if (in_config(vdev, off, len, &cfg_off) && vdev->ops->config_write)
			vdev->ops->config_write(vdev, cfg_off, data, len);
	} else if (len == 4 && !(off & 3)) {
		const uint8_t *p = data;

		reg_write(vdev, off, p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24);
	} else {
		pr_debug("%s: %u-byte register write at 0x%llx ignored", dev->name, len,
			 (unsigned long long)off);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* ---- life cycle ---- */

/* The lowest free window index of the VM, claimed; -ENOSPC when none is left. */
static int slot_get(struct vm *vm)
{
	int i, r = -ENOSPC;

	pthread_mutex_lock(&vm->lock);
	for (i = 0; i < MMIO_SLOTS; i++) {
		if (!(vm->virtio_mmio.used & (1ULL << i))) {
			vm->virtio_mmio.used |= 1ULL << i;
			r = i;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

static void slot_put(struct vm *vm, unsigned int i)
{
	pthread_mutex_lock(&vm->lock);
	vm->virtio_mmio.used &= ~(1ULL << i);
	pthread_mutex_unlock(&vm->lock);
}

static void notifiers_fini(struct virtio_dev *vdev)
{
	struct virtio_mmio *vmm = to_vmmio(vdev);

	while (vmm->notifiers) {
		unsigned int q = --vmm->notifiers;

		vm_ioeventfd_match(vdev->vm, vdev->vqs[q].kick_fd, MVM_BUS_MMIO,
				   vmm->base + REG_QUEUE_NOTIFY, 4, q, false);
	}
}

static int notifiers_init(struct virtio_dev *vdev)
{
	struct virtio_mmio *vmm = to_vmmio(vdev);
	int err;

	while (vmm->notifiers < vdev->num_queues) {
		unsigned int q = vmm->notifiers;

		/* Linux writes the queue index as 32 bits (virtio_mmio.c vm_notify). */
		err = vm_ioeventfd_match(vdev->vm, vdev->vqs[q].kick_fd, MVM_BUS_MMIO,
					 vmm->base + REG_QUEUE_NOTIFY, 4, q, true);
		if (err) {
			notifiers_fini(vdev);
			return err;
		}
		vmm->notifiers++;
	}
	return 0;
}

static int vmmio_fw_init(struct mvm_device *dev, struct virtio_mmio *vmm)
{
	int err;

	dev->fw.acpi_hid = "LNRO0005";
	dev->fw.compatible = "virtio,mmio";
	dev->fw.virtio_mmio = true;
	err = mvm_device_fw_add(dev, MVM_FW_MMIO, vmm->base, ARCH_VIRTIO_MMIO_SIZE, false);
	if (!err)
		err = mvm_device_fw_add(dev, MVM_FW_IRQ, vmm->gsi, 1, false);
	return err;
}

static int vmmio_init(struct mvm_device *dev, const void *args)
{
	const struct virtio_mmio_args *a = args;
	struct virtio_dev *vdev = to_virtio_dev(dev);
	const struct virtio_dev_ops *ops = a->ops;
	struct virtio_mmio *vmm = (struct virtio_mmio *)((char *)vdev + a->priv_off);
	int slot, err;

	if (ops->config_size > ARCH_VIRTIO_MMIO_SIZE - REG_CONFIG)
		return -EINVAL;
	slot = slot_get(dev->vm);
	if (slot < 0)
		return slot;
	vmm->index = (unsigned int)slot;
	vmm->base = ARCH_VIRTIO_MMIO_BASE + (uint64_t)slot * ARCH_VIRTIO_MMIO_SIZE;
	vmm->gsi = ARCH_VIRTIO_MMIO_GSI_BASE + (unsigned int)slot;
	vmm->irq_fd = -1;
	err = virtio_core_init(vdev, ops, &vmmio_transport, vmm);
	if (err)
		goto err_slot;
	err = mvm_device_add_io(dev, MVM_BUS_MMIO, vmm->base, ARCH_VIRTIO_MMIO_SIZE);
	if (!err)
		err = vmmio_fw_init(dev, vmm);
	if (err)
		goto err_core;
	err = virtio_core_queues_init(vdev);
	if (err)
		goto err_core;
	err = notifiers_init(vdev);
	if (err)
		goto err_queues;
	vmm->irq_fd = mvm_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vmm->irq_fd < 0) {
		err = -errno;
		goto err_notifiers;
	}
	err = vm_irqfd_assign(dev->vm, vmm->irq_fd, vmm->gsi);
	if (err)
		goto err_irq_fd;
	if (ops->init) {
		err = ops->init(vdev, a->args);
		if (err)
			goto err_irqfd;
	}
	virtio_core_offer(vdev);
	return 0;

err_irqfd:
	vm_irqfd(dev->vm, vmm->irq_fd, vmm->gsi, false);
err_irq_fd:
	close(vmm->irq_fd);
err_notifiers:
	notifiers_fini(vdev);
err_queues:
	virtio_core_queues_fini(vdev, vdev->num_queues);
err_core:
	virtio_core_fini(vdev);
err_slot:
	slot_put(dev->vm, (unsigned int)slot);
	return err;
}

/* Teardown: the device's ops->reset drains in-flight I/O (and its references). */
static void vmmio_unregister(struct mvm_device *dev)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);

	pthread_mutex_lock(&vdev->lock);
	virtio_reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

static void vmmio_release(struct mvm_device *dev)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);
	struct virtio_mmio *vmm = to_vmmio(vdev);

	if (vdev->ops->release)
		vdev->ops->release(vdev);
	vm_irqfd(dev->vm, vmm->irq_fd, vmm->gsi, false);
	close(vmm->irq_fd);
	notifiers_fini(vdev);
	virtio_core_queues_fini(vdev, vdev->num_queues);
	virtio_core_fini(vdev);
	slot_put(dev->vm, vmm->index);
}

/* Nothing of the transport's own beyond the common state: window and GSI come with the config. */
static int vmmio_save(struct mvm_device *dev, struct snap_buf *out)
{
	return virtio_core_save(to_virtio_dev(dev), out);
}

static int vmmio_restore(struct mvm_device *dev, struct snap_cur *in)
{
	return virtio_core_restore(to_virtio_dev(dev), in);
}

static const struct mvm_device_ops vmmio_ops = {
	.type = "virtio-mmio",
	.save = vmmio_save,
	.restore = vmmio_restore,
	.init = vmmio_init,
	.unregister = vmmio_unregister,
	.release = vmmio_release,
	.read = vmmio_read,
	.write = vmmio_write,
};

struct virtio_dev *virtio_mmio_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				      const char *name, const void *args)
{
	struct virtio_mmio_args a = { ops, args, virtio_priv_offset(size) };
	struct mvm_device *dev;

	if (size < sizeof(struct virtio_dev))
		return ERR_PTR(-EINVAL);
	dev = _mvm_device_alloc(a.priv_off + sizeof(struct virtio_mmio), vm, &vmmio_ops, name, &a);
	return (struct virtio_dev *)mvm_device_register_or_put(dev);
}
