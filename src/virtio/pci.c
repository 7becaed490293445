// SPDX-License-Identifier: MIT
/*
 * The virtio-pci modern transport (virtio 1.x §4.1): a PCI function with
 * vendor capabilities pointing into one 32-bit memory BAR,
 *
 *	0x0000 common configuration	0x3000 notifications (4 bytes a queue)
 *	0x1000 ISR status		0x4000 MSI-X table
 *	0x2000 device configuration	0x5000 MSI-X PBA
 *
 * Queue notifications are ioeventfds (the vCPU does not leave the kernel),
 * each a handler of the VM's event loop that calls ops->queue_notify. If a
 * write reaches us anyway (the ioeventfd could not follow a BAR move), it is
 * forwarded to the same eventfd. Interrupts: MSI-X (one vector for config
 * changes + one a queue) when the driver enables it, else INTx + ISR.
 *
 * The VIRTIO_PCI_CAP_PCI_CFG capability (§4.1.4.9) is a window from config
 * space into the BAR: the driver sets bar/offset/length in the capability,
 * then accesses pci_cfg_data; it takes the same path as a BAR access.
 */
#include <errno.h>
#include <string.h>

#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "virtio_internal.h"

#define VIRTIO_PCI_VENDOR	 0x1af4
#define VIRTIO_PCI_DEVICE_BASE	 0x1040 /* + device id, modern-only (§4.1.2) */
#define VIRTIO_PCI_SUBSYS_MODERN 0x0040

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG	  3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG	  5

#define BAR_COMMON     0x0000
#define BAR_ISR	       0x1000
#define BAR_DEVICE     0x2000
#define BAR_NOTIFY     0x3000
#define BAR_MSIX_TABLE 0x4000
#define BAR_MSIX_PBA   0x5000
#define BAR_SIZE       0x8000
#define REGION_SIZE    0x1000
#define NOTIFY_MULT    4

/* struct virtio_pci_common_cfg (§4.1.4.3), virtio 1.1 layout. */
#define CC_DFSELECT 0x00
#define CC_DF	    0x04
#define CC_GFSELECT 0x08
#define CC_GF	    0x0c
#define CC_MSIX	    0x10
#define CC_NUMQ	    0x12
#define CC_STATUS   0x14
#define CC_CFGGEN   0x15
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE   0x18
#define CC_Q_MSIX   0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF   0x1e
#define CC_Q_DESC   0x20
#define CC_Q_DRIVER 0x28
#define CC_Q_DEVICE 0x30
#define CC_SIZE	    0x38

struct virtio_pci_cap {
	uint8_t cap_vndr, cap_next, cap_len, cfg_type, bar, id, padding[2];
	uint32_t offset, length;
};

struct virtio_pci_notify_cap {
	struct virtio_pci_cap cap;
	uint32_t notify_off_multiplier;
};

struct virtio_pci_cfg_cap {
	struct virtio_pci_cap cap;
	uint8_t pci_cfg_data[4];
};

#define VIRTIO_MSI_NO_VECTOR 0xffff

/* The transport's own state: after the device's struct (vdev->transport_priv). */
struct virtio_pci {
	uint64_t notify_addr; /* where the queues' ioeventfds are registered, 0: nowhere */
	uint16_t pci_cfg_cap; /* config offset of the PCI_CFG capability */
	uint16_t msix_config;
	uint16_t queue_msix[VIRTIO_MAX_QUEUES];
};

struct virtio_pci_args {
	const struct virtio_dev_ops *ops;
	const void *args;
	size_t priv_off;
};

static struct virtio_dev *pdev_to_vdev(struct pci_dev *pdev)
{
	return container_of(pdev, struct virtio_dev, pci);
}

static struct virtio_pci *to_vpci(struct virtio_dev *vdev)
{
	return vdev->transport_priv;
}

/* ---- interrupts ---- */

static void signal_vector(struct virtio_dev *vdev, uint16_t vector, unsigned int isr_bit)
{
	if (pci_msix_enabled(&vdev->pci)) {
		/* With MSI-X on, NO_VECTOR means no interrupt at all (§4.1.5.1.2). */
		if (vector != VIRTIO_MSI_NO_VECTOR)
			pci_msix_notify(&vdev->pci, vector);
		return;
	}
	pthread_mutex_lock(&vdev->isr_lock);
	vdev->isr |= isr_bit;
	pci_intx_set(&vdev->pci, true);
	pthread_mutex_unlock(&vdev->isr_lock);
}

static void vpci_signal_queue(struct virtqueue *vq)
{
	struct virtio_dev *vdev = vq->vdev;

	signal_vector(vdev,
		      __atomic_load_n(&to_vpci(vdev)->queue_msix[vq->index], __ATOMIC_RELAXED), 1);
}

static void vpci_signal_config(struct virtio_dev *vdev)
{
	signal_vector(vdev, __atomic_load_n(&to_vpci(vdev)->msix_config, __ATOMIC_RELAXED), 2);
}

/* The rest of a reset: vectors back to none, INTx down (vdev->lock, isr_lock held). */
static void vpci_reset(struct virtio_dev *vdev)
{
	struct virtio_pci *vp = to_vpci(vdev);
	unsigned int q;

	__atomic_store_n(&vp->msix_config, VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		__atomic_store_n(&vp->queue_msix[q], VIRTIO_MSI_NO_VECTOR, __ATOMIC_RELAXED);
	pci_intx_set(&vdev->pci, false);
}

static const struct virtio_transport_ops vpci_transport = {
	.name = "pci",
	.signal_queue = vpci_signal_queue,
	.signal_config = vpci_signal_config,
	.reset = vpci_reset,
};

/* ---- common configuration ---- */

static uint16_t check_vector(struct virtio_dev *vdev, uint16_t v)
{
	/* A vector the function does not have reads back as NO_VECTOR (§4.1.5.1.2). */
	return v < vdev->pci.msix.nr ? v : VIRTIO_MSI_NO_VECTOR;
}

/* The register file as the driver sees it now. vdev->lock held. */
static void common_image(struct virtio_dev *vdev, uint8_t img[CC_SIZE])
{
	struct virtqueue *vq = virtio_dev_vq(vdev, vdev->queue_select);
	unsigned int q = vdev->queue_select;
	uint64_t f = vdev->host_features;
	struct virtio_pci *vp = to_vpci(vdev);

	memset(img, 0, CC_SIZE);
	pci_put32(&img[CC_DFSELECT], vdev->device_feature_select);
	if (vdev->device_feature_select < 2)
		pci_put32(&img[CC_DF], (uint32_t)(f >> (32 * vdev->device_feature_select)));
	pci_put32(&img[CC_GFSELECT], vdev->driver_feature_select);
	if (vdev->driver_feature_select < 2)
		pci_put32(&img[CC_GF],
			  (uint32_t)(vdev->driver_features >> (32 * vdev->driver_feature_select)));
	pci_put16(&img[CC_MSIX], vp->msix_config);
	pci_put16(&img[CC_NUMQ], (uint16_t)vdev->num_queues);
	img[CC_STATUS] = virtio_status(vdev);
	img[CC_CFGGEN] = __atomic_load_n(&vdev->config_generation, __ATOMIC_ACQUIRE);
	pci_put16(&img[CC_Q_SELECT], (uint16_t)vdev->queue_select);
	if (!vq)
		return; /* a queue that does not exist reads as size 0 */
	pci_put16(&img[CC_Q_SIZE],
		  (uint16_t)(vdev->qcfg[q].size ? vdev->qcfg[q].size : vdev->ops->queue_max_size));
	pci_put16(&img[CC_Q_MSIX], vp->queue_msix[q]);
	pci_put16(&img[CC_Q_ENABLE], vq->enabled);
	pci_put16(&img[CC_Q_NOFF], (uint16_t)q);
	pci_put32(&img[CC_Q_DESC], (uint32_t)vdev->qcfg[q].desc);
	pci_put32(&img[CC_Q_DESC + 4], (uint32_t)(vdev->qcfg[q].desc >> 32));
	pci_put32(&img[CC_Q_DRIVER], (uint32_t)vdev->qcfg[q].driver);
	pci_put32(&img[CC_Q_DRIVER + 4], (uint32_t)(vdev->qcfg[q].driver >> 32));
	pci_put32(&img[CC_Q_DEVICE], (uint32_t)vdev->qcfg[q].device);
	pci_put32(&img[CC_Q_DEVICE + 4], (uint32_t)(vdev->qcfg[q].device >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

/* Does the write [off, off + len) touch the field [f, f + flen)? */
static bool touches(uint64_t off, unsigned int len, unsigned int f, unsigned int flen)
{
	return off < f + flen && f < off + len;
}

static void common_write(struct virtio_dev *vdev, uint64_t off, const void *data, unsigned int len)
{
	uint8_t img[CC_SIZE];
	unsigned int q = vdev->queue_select;
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	struct virtio_pci *vp = to_vpci(vdev);
	/* Queue set-up is frozen once the queue is enabled (§4.1.4.3.2). */
	bool q_writable = vq && !vq->enabled;

	if (off >= CC_SIZE || len > CC_SIZE - off)
		return;
	common_image(vdev, img);
	memcpy(&img[off], data, len);

	if (touches(off, len, CC_DFSELECT, 4))
		vdev->device_feature_select = get32(&img[CC_DFSELECT]);
	if (touches(off, len, CC_GFSELECT, 4))
		vdev->driver_feature_select = get32(&img[CC_GFSELECT]);
	if (touches(off, len, CC_GF, 4) && vdev->driver_feature_select < 2 &&
	    !(virtio_status(vdev) & VIRTIO_STATUS_FEATURES_OK)) {
		unsigned int shift = 32 * vdev->driver_feature_select;

		vdev->driver_features &= ~(0xffffffffULL << shift);
		vdev->driver_features |= (uint64_t)get32(&img[CC_GF]) << shift;
	}
	if (touches(off, len, CC_MSIX, 2))
		__atomic_store_n(&vp->msix_config, check_vector(vdev, get16(&img[CC_MSIX])),
				 __ATOMIC_RELAXED);
	if (touches(off, len, CC_STATUS, 1))
		virtio_set_status(vdev, img[CC_STATUS]);
	if (touches(off, len, CC_Q_SELECT, 2)) {
		/* Selecting switches the queue the next fields refer to: stop here. */
		vdev->queue_select = get16(&img[CC_Q_SELECT]);
		return;
	}
	if (!vq)
		return;
	if (touches(off, len, CC_Q_MSIX, 2))
		__atomic_store_n(&vp->queue_msix[q], check_vector(vdev, get16(&img[CC_Q_MSIX])),
				 __ATOMIC_RELAXED);
	if (!q_writable)
		return;
	if (touches(off, len, CC_Q_SIZE, 2))
		vdev->qcfg[q].size = get16(&img[CC_Q_SIZE]);
	if (touches(off, len, CC_Q_DESC, 8))
		vdev->qcfg[q].desc = get64(&img[CC_Q_DESC]);
	if (touches(off, len, CC_Q_DRIVER, 8))
		vdev->qcfg[q].driver = get64(&img[CC_Q_DRIVER]);
	if (touches(off, len, CC_Q_DEVICE, 8))
		vdev->qcfg[q].device = get64(&img[CC_Q_DEVICE]);
	/* Only 1 may be written (§4.1.4.3.2); 0 is ignored. */
	if (touches(off, len, CC_Q_ENABLE, 2) && get16(&img[CC_Q_ENABLE]) == 1)
		virtio_queue_enable(vdev, q);
}

/* ---- the BAR ---- */

static void vpci_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
			  unsigned int len)
{
	struct virtio_dev *vdev = pdev_to_vdev(pdev);
	uint8_t img[CC_SIZE];

	memset(data, 0, len);
	if (bar != 0)
		return;
	pthread_mutex_lock(&vdev->lock);
	if (off < BAR_COMMON + CC_SIZE && len <= CC_SIZE - off) {
		common_image(vdev, img);
		memcpy(data, &img[off], len);
	} else if (off == BAR_ISR) {
		/* Reading ISR acknowledges it and lowers INTx (§4.1.4.5). */
		pthread_mutex_lock(&vdev->isr_lock);
		*(uint8_t *)data = (uint8_t)vdev->isr;
		vdev->isr = 0;
		pci_intx_set(pdev, false);
		pthread_mutex_unlock(&vdev->isr_lock);
	} else if (off >= BAR_DEVICE && off - BAR_DEVICE < vdev->ops->config_size &&
		   len <= vdev->ops->config_size - (off - BAR_DEVICE)) {
		if (vdev->ops->config_read)
			vdev->ops->config_read(vdev, off - BAR_DEVICE, data, len);
	}
	pthread_mutex_unlock(&vdev->lock);
}

static void vpci_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			   unsigned int len)
{
	struct virtio_dev *vdev = pdev_to_vdev(pdev);

	if (bar != 0)
		return;
	if (off >= BAR_NOTIFY && off < BAR_NOTIFY + REGION_SIZE) {
		/* A notification the ioeventfd did not catch: same path, via the loop. */
		uint64_t q = (off - BAR_NOTIFY) / NOTIFY_MULT;

		if (q < vdev->num_queues)
			virtq_kick(&vdev->vqs[q]);
		return;
	}
	pthread_mutex_lock(&vdev->lock);
	if (off < BAR_COMMON + CC_SIZE) {
		common_write(vdev, off, data, len);
	} else if (off >= BAR_DEVICE && off - BAR_DEVICE < vdev->ops->config_size &&
		   len <= vdev->ops->config_size - (off - BAR_DEVICE)) {
		if (vdev->ops->config_write)
			vdev->ops->config_write(vdev, off - BAR_DEVICE, data, len);
	}
	pthread_mutex_unlock(&vdev->lock);
}

/* Drops the queues' ioeventfds at base+BAR_NOTIFY. */
static void notify_unregister(struct virtio_dev *vdev, uint64_t base, unsigned int upto)
{
	unsigned int q;

	for (q = 0; q < upto; q++)
		vm_ioeventfd(vdev->vm, vdev->vqs[q].kick_fd, MVM_BUS_MMIO,
			     base + BAR_NOTIFY + q * NOTIFY_MULT, 0, false);
}

/* BAR 0 is at addr now (0: going away): the ioeventfds follow it. */
static int vpci_bar_remap(struct pci_dev *pdev, unsigned int bar, uint64_t addr)
{
	struct virtio_dev *vdev = pdev_to_vdev(pdev);
	struct virtio_pci *vp = to_vpci(vdev);
	unsigned int q;
	int err;

	if (bar != 0 || addr == vp->notify_addr)
		return 0;
	if (vp->notify_addr)
		notify_unregister(vdev, vp->notify_addr, vdev->num_queues);
	vp->notify_addr = 0;
	if (!addr)
		return 0;
	for (q = 0; q < vdev->num_queues; q++) {
		/* Length 0: any width the driver writes (Linux writes 16 bits). */
		err = vm_ioeventfd(vdev->vm, vdev->vqs[q].kick_fd, MVM_BUS_MMIO,
				   addr + BAR_NOTIFY + q * NOTIFY_MULT, 0, true);
		if (err) {
			notify_unregister(vdev, addr, q);
			return err;
		}
	}
	vp->notify_addr = addr;
	return 0;
}

/* Teardown: the device's ops->reset drains in-flight I/O (and its references). */
static void vpci_unregister(struct pci_dev *pdev)
{
	struct virtio_dev *vdev = to_virtio_dev(&pdev->dev);

	pthread_mutex_lock(&vdev->lock);
	virtio_reset(vdev);
	pthread_mutex_unlock(&vdev->lock);
}

/* The PCI_CFG capability's data window: an access to BAR cap.bar at cap.offset. */
static bool vpci_cfg_access(struct pci_dev *pdev, unsigned int off, void *data, unsigned int len,
			    bool write)
{
	struct virtio_dev *vdev = pdev_to_vdev(pdev);
	uint16_t cap = to_vpci(vdev)->pci_cfg_cap;
	unsigned int win = cap + offsetof(struct virtio_pci_cfg_cap, pci_cfg_data);
	uint32_t bar_off, length;
	uint8_t buf[4] = { 0 }, bar;

	if (!cap || off >= win + 4 || win >= off + len)
		return false;
	pthread_mutex_lock(&pdev->lock);
	bar = pdev->cfg[cap + offsetof(struct virtio_pci_cap, bar)];
	memcpy(&bar_off, &pdev->cfg[cap + offsetof(struct virtio_pci_cap, offset)], 4);
	memcpy(&length, &pdev->cfg[cap + offsetof(struct virtio_pci_cap, length)], 4);
	pthread_mutex_unlock(&pdev->lock);

	/* The access must be the window itself, as wide as cap.length, aligned (§4.1.4.9.1). */
	if (off != win || len != length || (length != 1 && length != 2 && length != 4) ||
	    bar != 0 || bar_off % length || bar_off >= BAR_SIZE || length > BAR_SIZE - bar_off) {
		if (!write)
			memset(data, 0, len);
		return true;
	}
	if (write)
		memcpy(buf, data, len);
	pci_bar_access(pdev, 0, bar_off, buf, length, write);
	if (!write)
		memcpy(data, buf, len);
	return true;
}

static const struct pci_dev_ops vpci_pops = {
	.cfg_access = vpci_cfg_access,
	.unregister = vpci_unregister,
	.bar_read = vpci_bar_read,
	.bar_write = vpci_bar_write,
	.bar_remap = vpci_bar_remap,
};

static uint32_t class_of(uint16_t device_id)
{
	switch (device_id) {
	case VIRTIO_ID_NET:
		return 0x020000; /* network, ethernet */
	case VIRTIO_ID_BLOCK:
		return 0x018000; /* mass storage, other */
	case VIRTIO_ID_CONSOLE:
		return 0x078000; /* communication, other */
	default:
		return 0xff0000; /* unassigned */
	}
}

static int vpci_add_cap(struct pci_dev *pdev, uint8_t type, uint32_t off, uint32_t len)
{
	struct virtio_pci_cap cap = {
		.cap_vndr = PCI_CAP_ID_VNDR,
		.cap_len = sizeof(cap),
		.cfg_type = type,
		.bar = 0,
		.offset = off,
		.length = len,
	};
	int r = pci_dev_add_cap(pdev, &cap, sizeof(cap));

	return r < 0 ? r : 0;
}

static int vpci_caps_init(struct virtio_dev *vdev)
{
	struct pci_dev *pdev = &vdev->pci;
	struct virtio_pci_notify_cap ncap = {
		.cap = {
			.cap_vndr = PCI_CAP_ID_VNDR,
			.cap_len = sizeof(ncap),
			.cfg_type = VIRTIO_PCI_CAP_NOTIFY_CFG,
			.offset = BAR_NOTIFY,
			.length = vdev->num_queues * NOTIFY_MULT,
		},
		.notify_off_multiplier = NOTIFY_MULT,
	};
	int err;

	err = pci_dev_add_bar(pdev, 0, MVM_BUS_MMIO, BAR_SIZE, false);
	if (!err)
		err = vpci_add_cap(pdev, VIRTIO_PCI_CAP_COMMON_CFG, BAR_COMMON, CC_SIZE);
	if (!err) {
		int r = pci_dev_add_cap(pdev, &ncap, sizeof(ncap));

		err = r < 0 ? r : 0;
	}
	if (!err)
		err = vpci_add_cap(pdev, VIRTIO_PCI_CAP_ISR_CFG, BAR_ISR, 1);
	if (!err && vdev->ops->config_size)
		err = vpci_add_cap(pdev, VIRTIO_PCI_CAP_DEVICE_CFG, BAR_DEVICE,
				   (uint32_t)vdev->ops->config_size);
	if (!err) {
		struct virtio_pci_cfg_cap ccap = {
			.cap = {
				.cap_vndr = PCI_CAP_ID_VNDR,
				.cap_len = sizeof(ccap),
				.cfg_type = VIRTIO_PCI_CAP_PCI_CFG,
			},
		};
		int r = pci_dev_add_cap(pdev, &ccap, sizeof(ccap));

		if (r < 0) {
			err = r;
		} else {
			/* bar, offset and length are the driver's to set. */
			pdev->wmask[r + offsetof(struct virtio_pci_cap, bar)] = 0xff;
			memset(&pdev->wmask[r + offsetof(struct virtio_pci_cap, offset)], 0xff, 8);
			to_vpci(vdev)->pci_cfg_cap = (uint16_t)r;
		}
	}
	if (!err)
		/* One vector for configuration changes, one a queue. */
		err = pci_dev_add_msix(pdev, vdev->num_queues + 1, 0, BAR_MSIX_TABLE, BAR_MSIX_PBA);
	return err;
}

static int vpci_init(struct mvm_device *dev, const void *args)
{
	const struct virtio_pci_args *a = args;
	struct virtio_dev *vdev = to_virtio_dev(dev);
	const struct virtio_dev_ops *ops = a->ops;
	struct virtio_pci *vp = (struct virtio_pci *)((char *)vdev + a->priv_off);
	unsigned int q;
	int err;

	if (ops->config_size > REGION_SIZE || ops->num_queues + 1 > PCI_MSIX_MAX_VECTORS)
		return -EINVAL;
	err = virtio_core_init(vdev, ops, &vpci_transport, vp);
	if (err)
		return err;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_msix[q] = VIRTIO_MSI_NO_VECTOR;
	pci_dev_init(&vdev->pci, &vpci_pops, VIRTIO_PCI_VENDOR,
		     (uint16_t)(VIRTIO_PCI_DEVICE_BASE + ops->device_id), 1,
		     class_of(ops->device_id), VIRTIO_PCI_VENDOR, VIRTIO_PCI_SUBSYS_MODERN);
	pci_dev_set_intx(&vdev->pci, 1);
	err = vpci_caps_init(vdev);
	if (err)
		goto err_pci;
	err = virtio_core_queues_init(vdev);
	if (err)
		goto err_pci;
	if (ops->init) {
		err = ops->init(vdev, a->args);
		if (err)
			goto err_queues;
	}
	virtio_core_offer(vdev);
	return 0;

err_queues:
	virtio_core_queues_fini(vdev, vdev->num_queues);
err_pci:
	pci_dev_release(&vdev->pci);
	virtio_core_fini(vdev);
	return err;
}

static void vpci_release(struct mvm_device *dev)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);

	if (vdev->ops->release)
		vdev->ops->release(vdev);
	virtio_core_queues_fini(vdev, vdev->num_queues);
	pci_dev_release(&vdev->pci);
	virtio_core_fini(vdev);
}

/* The PCI function, the transport's vector choices, then the common virtio state. */
static int vpci_save(struct mvm_device *dev, struct snap_buf *out)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);
	struct virtio_pci *vp = to_vpci(vdev);
	unsigned int q;
	int err = pci_dev_save(&vdev->pci, out);

	if (err)
		return err;
	pthread_mutex_lock(&vdev->lock);
	snap_put_u16(out, vp->msix_config);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		snap_put_u16(out, vp->queue_msix[q]);
	pthread_mutex_unlock(&vdev->lock);
	return virtio_core_save(vdev, out);
}

static int vpci_restore(struct mvm_device *dev, struct snap_cur *in)
{
	struct virtio_dev *vdev = to_virtio_dev(dev);
	struct virtio_pci *vp = to_vpci(vdev);
	uint16_t vec[VIRTIO_MAX_QUEUES + 1];
	unsigned int q;
	int err = pci_dev_restore(&vdev->pci, in);

	if (err)
		return err;
	for (q = 0; q <= VIRTIO_MAX_QUEUES; q++)
		vec[q] = snap_get_u16(in);
	if (in->err)
		return -EBADMSG;
	pthread_mutex_lock(&vdev->lock);
	vp->msix_config = check_vector(vdev, vec[0]);
	for (q = 0; q < VIRTIO_MAX_QUEUES; q++)
		vp->queue_msix[q] = check_vector(vdev, vec[q + 1]);
	pthread_mutex_unlock(&vdev->lock);
	return virtio_core_restore(vdev, in);
}

static const struct mvm_device_ops vpci_ops = {
	.type = "virtio-pci",
	.save = vpci_save,
	.restore = vpci_restore,
	.init = vpci_init,
	.unregister = pci_dev_unregister_op,
	.release = vpci_release,
};

struct virtio_dev *virtio_pci_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				     const char *name, const void *args)
{
	struct virtio_pci_args a = { ops, args, virtio_priv_offset(size) };
	struct mvm_device *dev;
	int err;

	if (size < sizeof(struct virtio_dev))
		return ERR_PTR(-EINVAL);
	dev = _mvm_device_alloc(a.priv_off + sizeof(struct virtio_pci), vm, &vpci_ops, name, &a);
	if (IS_ERR(dev))
		return (struct virtio_dev *)dev;
	err = pci_dev_register(to_pci_dev(dev));
	if (err) {
		mvm_device_put(dev);
		return ERR_PTR(err);
	}
	return to_virtio_dev(dev);
}
