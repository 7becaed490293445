// SPDX-License-Identifier: MIT
/*
 * Guest kit: the virtio-mmio transport (virtio 1.2 §4.2, version 2), ring
 * 3, polled. Every register access is one aligned 32-bit access, as the
 * spec requires; the device config space (from 0x100) takes any width.
 */
#include "guest.h"
#include "virtio_mmio.h"

#define MAGIC	      0x74726976 /* "virt" */
#define R_MAGIC	      0x000
#define R_VERSION     0x004
#define R_DEVICE_ID   0x008
#define R_DF	      0x010
#define R_DF_SEL      0x014
#define R_GF	      0x020
#define R_GF_SEL      0x024
#define R_Q_SEL	      0x030
#define R_Q_NUM_MAX   0x034
#define R_Q_NUM	      0x038
#define R_Q_READY     0x044
#define R_Q_NOTIFY    0x050
#define R_INT_STATUS  0x060
#define R_INT_ACK     0x064
#define R_STATUS      0x070
#define R_Q_DESC_LO   0x080
#define R_Q_DESC_HI   0x084
#define R_Q_DRIVER_LO 0x090
#define R_Q_DRIVER_HI 0x094
#define R_Q_DEVICE_LO 0x0a0
#define R_Q_DEVICE_HI 0x0a4
#define R_CONFIG      0x100
#define MAX_QUEUES    16

static uint32_t rd(struct vdev *v, unsigned int off)
{
	return mmio_read32(v->base + off);
}

static void wr(struct vdev *v, unsigned int off, uint32_t val)
{
	mmio_write32(v->base + off, val);
}

static void wr64(struct vdev *v, unsigned int lo, uint64_t val)
{
	wr(v, lo, (uint32_t)val);
	wr(v, lo + 4, (uint32_t)(val >> 32));
}

int vmmio_probe(struct vdev *v, uint16_t device_id, unsigned int index)
{
	unsigned int found = 0;

	for (unsigned int i = 0; i < VIRTIO_MMIO_MAX; i++) {
		v->base = VIRTIO_MMIO_BASE + (uint64_t)i * VIRTIO_MMIO_SIZE;
		/* An empty window reads all ones. */
		if (rd(v, R_MAGIC) != MAGIC || rd(v, R_VERSION) != 2 ||
		    rd(v, R_DEVICE_ID) != device_id || found++ != index)
			continue;
		v->mmio = true;
		v->devcfg = v->base + R_CONFIG;
		/* No NumQueues register: the queues are those with a maximum size. */
		v->num_queues = 0;
		while (v->num_queues < MAX_QUEUES) {
			wr(v, R_Q_SEL, v->num_queues);
			if (!rd(v, R_Q_NUM_MAX))
				break;
			v->num_queues++;
		}
		return 0;
	}
	v->base = 0;
	return -1;
}

uint8_t vmmio_status(struct vdev *v)
{
	return (uint8_t)rd(v, R_STATUS);
}

void vmmio_set_status(struct vdev *v, uint8_t status)
{
	wr(v, R_STATUS, status);
}

uint64_t vmmio_offered(struct vdev *v)
{
	uint64_t f;

	wr(v, R_DF_SEL, 0);
	f = rd(v, R_DF);
	wr(v, R_DF_SEL, 1);
	return f | (uint64_t)rd(v, R_DF) << 32;
}

void vmmio_set_features(struct vdev *v, uint64_t features)
{
	wr(v, R_GF_SEL, 0);
	wr(v, R_GF, (uint32_t)features);
	wr(v, R_GF_SEL, 1);
	wr(v, R_GF, (uint32_t)(features >> 32));
}

uint16_t vmmio_queue_max(struct vdev *v, uint16_t index)
{
	uint32_t max;

	wr(v, R_Q_SEL, index);
	if (rd(v, R_Q_READY))
		return 0; /* already set up: a driver bug, like Linux's check */
	max = rd(v, R_Q_NUM_MAX);
	return max > 0xffff ? 0xffff : (uint16_t)max;
}

void vmmio_queue_enable(struct vdev *v, struct vq *q)
{
	wr(v, R_Q_SEL, q->index);
	wr(v, R_Q_NUM, q->size);
	wr64(v, R_Q_DESC_LO, (uintptr_t)q->desc);
	wr64(v, R_Q_DRIVER_LO, (uintptr_t)q->avail);
	wr64(v, R_Q_DEVICE_LO, (uintptr_t)q->used);
	q->notify_addr = v->base + R_Q_NOTIFY;
	wr(v, R_Q_READY, 1);
}

uint32_t vmmio_isr(struct vdev *v)
{
	uint32_t s = rd(v, R_INT_STATUS);

	wr(v, R_INT_ACK, s);
	return s;
}
