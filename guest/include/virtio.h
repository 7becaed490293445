/* SPDX-License-Identifier: MIT */
/*
 * Guest kit: a small virtio 1.x driver that runs in ring 3 and polls (no
 * interrupts), on virtio-pci or virtio-mmio: vdev_open() takes a PCI
 * function if there is one, else the device in mvm's virtio-mmio windows
 * (the VM has one transport for all its virtio devices). Split virtqueues with direct descriptors;
 *the test can also write descriptors itself (vq->desc, vq_publish) to send malformed chains on
 *purpose.
 *
 *	struct vdev v;  struct vq q;
 *	vdev_open(&v, VIRTIO_PCI_DEVICE(2), 0, features);  // reset, ack, negotiate
 *	vq_setup(&v, &q, 0, 128);
 *	vdev_driver_ok(&v);
 *	head = vq_add(&q, bufs, n_out, n_in);  vq_kick(&q);
 *	head = vq_wait(&q, &len);
 */
#ifndef GUEST_VIRTIO_H
#define GUEST_VIRTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define VIRTIO_PCI_DEVICE(id) (0x1040 + (id)) /* modern device ids */

/* Where mvm puts virtio-mmio windows on x86 (ARCH_VIRTIO_MMIO_* in mvm). */
#define VIRTIO_MMIO_BASE 0xe0100000ull
#define VIRTIO_MMIO_SIZE 0x1000ull
#define VIRTIO_MMIO_MAX	 32

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER	  0x02
#define VIRTIO_STATUS_DRIVER_OK	  0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4

struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

#define VQ_MAX	   256
#define VQ_IND_MAX 8

struct vdev {
	bool mmio;     /* on virtio-mmio (base), else on virtio-pci (pci) */
	uint64_t base; /* virtio-mmio: the register window */
	struct pci_dev pci;
	uint64_t common, notify, isr, devcfg; /* mapped capability addresses */
	uint32_t notify_mult;
	uint64_t features; /* negotiated */
	uint16_t num_queues;
};

struct vq {
	struct vdev *v;
	uint16_t index, size;
	struct virtq_desc *desc;
	volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
	volatile uint8_t *used;	  /* flags, idx, ring[size] of used_elem, avail_event */
	uint64_t notify_addr;
	uint16_t avail_idx, last_used;
	uint16_t kicked_idx;	/* avail_idx at the last kick (EVENT_IDX) */
	bool event_idx;		/* VIRTIO_F_EVENT_IDX negotiated: kick only when asked */
	bool indirect;		/* VIRTIO_F_INDIRECT_DESC negotiated: chains of > 1 go indirect */
	struct virtq_desc *ind; /* VQ_IND_MAX indirect descriptors per head */
	uint16_t free_head, num_free;
	uint16_t next_free[VQ_MAX];
	uint16_t chain_len[VQ_MAX];
};

struct vbuf {
	void *addr;
	uint32_t len;
};

/* Bump allocator for rings and I/O buffers: guest RAM from 16 MiB up (needs --mem >= 64M). */
void *dma_alloc(uint64_t size, uint64_t align);

/*
 * Finds the index-th virtio device with this PCI device id (virtio-mmio:
 * device id pci_device - 0x1040), maps its capabilities, resets it and
 * negotiates `want` & offered (VERSION_1 is always asked for). 0, -1 (not
 * found / no caps), -2 (FEATURES_OK refused).
 */
int vdev_open(struct vdev *v, uint16_t pci_device, unsigned int index, uint64_t want);
/* "pci" or "mmio". */
const char *vdev_transport(const struct vdev *v);
/* The interrupt status bits (queue 1, config 2), acknowledged. */
uint32_t vdev_isr(struct vdev *v);
uint64_t vdev_offered(struct vdev *v);
void vdev_driver_ok(struct vdev *v);
uint8_t vdev_status(struct vdev *v);
void vdev_reset(struct vdev *v);
/* Device-specific config space. */
uint8_t vdev_cfg8(struct vdev *v, unsigned int off);
uint16_t vdev_cfg16(struct vdev *v, unsigned int off);
uint32_t vdev_cfg32(struct vdev *v, unsigned int off);
uint64_t vdev_cfg64(struct vdev *v, unsigned int off);
/* Sets queue index up with size (<= VQ_MAX and <= the device's maximum). 0 or -1. */
int vq_setup(struct vdev *v, struct vq *q, uint16_t index, uint16_t size);

/*
 * Adds a chain of n_out device-readable then n_in device-writable buffers
 * (through an indirect table when INDIRECT_DESC was negotiated and
 * 1 < n <= VQ_IND_MAX). Head, or -1 if full.
 */
int vq_add(struct vq *q, const struct vbuf *bufs, unsigned int n_out, unsigned int n_in);
/* Puts a head the caller built by hand in q->desc on the avail ring (no free-list bookkeeping). */
void vq_publish(struct vq *q, uint16_t head);
void vq_kick(struct vq *q);
/* A used entry if there is one: its head (len in *len), else -1. Frees vq_add chains. */
int vq_poll(struct vq *q, uint32_t *len);
/* vq_poll until something is used or `spins` polls pass (0: for ever). Head or -1. */
int vq_wait(struct vq *q, uint32_t *len, unsigned long spins);

#endif
