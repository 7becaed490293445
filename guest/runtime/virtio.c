// SPDX-License-Identifier: MIT
/*
 * Guest kit: ring-3 virtio driver, polled: virtio-pci (modern) here, the
 * virtio-mmio registers in virtio_mmio.c; the rings are the same.
 */
#include "guest.h"
#include "virtio.h"
#include "virtio_mmio.h"

/* virtio-pci capability types and common config offsets (virtio 1.2 4.1.4). */
#define VIRTIO_PCI_CAP_COMMON 1
#define VIRTIO_PCI_CAP_NOTIFY 2
#define VIRTIO_PCI_CAP_ISR    3
#define VIRTIO_PCI_CAP_DEVICE 4

#define CC_DFSELECT 0x00
#define CC_DF	    0x04
#define CC_GFSELECT 0x08
#define CC_GF	    0x0c
#define CC_NUMQ	    0x12
#define CC_STATUS   0x14
#define CC_Q_SELECT 0x16
#define CC_Q_SIZE   0x18
#define CC_Q_MSIX   0x1a
#define CC_Q_ENABLE 0x1c
#define CC_Q_NOFF   0x1e
#define CC_Q_DESC   0x20
#define CC_Q_AVAIL  0x28
#define CC_Q_USED   0x30

#define DMA_BASE 0x1000000ull

static uint64_t dma_next = DMA_BASE;

void *dma_alloc(uint64_t size, uint64_t align)
{
	uint64_t a = (dma_next + align - 1) & ~(align - 1);

	dma_next = a + size;
	memset((void *)(uintptr_t)a, 0, size);
	return (void *)(uintptr_t)a;
}

static inline void mb(void)
{
	__asm__ volatile("mfence" ::: "memory");
}

static void cc_write64(struct vdev *v, unsigned int off, uint64_t val)
{
	mmio_write32(v->common + off, (uint32_t)val);
	mmio_write32(v->common + off + 4, (uint32_t)(val >> 32));
}

static uint8_t status_rd(struct vdev *v)
{
	return v->mmio ? vmmio_status(v) : mmio_read8(v->common + CC_STATUS);
}

static void status_wr(struct vdev *v, uint8_t status)
{
	if (v->mmio)
		vmmio_set_status(v, status);
	else
		mmio_write8(v->common + CC_STATUS, status);
}

/* The index-th virtio-pci function with this device id, its capabilities mapped. 0 or -1. */
static int vpci_probe(struct vdev *v, uint16_t pci_device, unsigned int index)
{
	uint64_t bars[6] = { 0 };
	unsigned int cap = 0;

	if (pci_find(PCI_VENDOR_VIRTIO, pci_device, index, &v->pci))
		return -1;
	while ((cap = pci_find_cap(&v->pci, PCI_CAP_ID_VNDR, cap))) {
		uint8_t type = pci_read8(&v->pci, cap + 3);
		uint8_t bar = pci_read8(&v->pci, cap + 4);
		uint32_t off = pci_read32(&v->pci, cap + 8);
		uint64_t addr;

		if (bar > 5)
			continue;
		if (!bars[bar])
			bars[bar] = pci_bar_map(&v->pci, bar, NULL);
		if (!bars[bar])
			continue;
		addr = bars[bar] + off;
		switch (type) {
		case VIRTIO_PCI_CAP_COMMON:
			v->common = addr;
			break;
		case VIRTIO_PCI_CAP_NOTIFY:
			v->notify = addr;
			v->notify_mult = pci_read32(&v->pci, cap + 16);
			break;
		case VIRTIO_PCI_CAP_ISR:
			v->isr = addr;
			break;
		case VIRTIO_PCI_CAP_DEVICE:
			v->devcfg = addr;
			break;
		}
	}
	return v->common && v->notify ? 0 : -1;
}

int vdev_open(struct vdev *v, uint16_t pci_device, unsigned int index, uint64_t want)
{
	const uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t offered;

	memset(v, 0, sizeof(*v));
	if (vpci_probe(v, pci_device, index)) {
		memset(v, 0, sizeof(*v));
		if (vmmio_probe(v, (uint16_t)(pci_device - VIRTIO_PCI_DEVICE(0)), index))
			return -1;
	}
	vdev_reset(v);
	status_wr(v, VIRTIO_STATUS_ACKNOWLEDGE);
	status_wr(v, st);
	offered = vdev_offered(v);
	v->features = offered & (want | (1ull << VIRTIO_F_VERSION_1));
	if (v->mmio) {
		vmmio_set_features(v, v->features);
	} else {
		mmio_write32(v->common + CC_GFSELECT, 0);
		mmio_write32(v->common + CC_GF, (uint32_t)v->features);
		mmio_write32(v->common + CC_GFSELECT, 1);
		mmio_write32(v->common + CC_GF, (uint32_t)(v->features >> 32));
	}
	status_wr(v, st | VIRTIO_STATUS_FEATURES_OK);
	if (!(status_rd(v) & VIRTIO_STATUS_FEATURES_OK))
		return -2;
	if (!v->mmio)
		v->num_queues = mmio_read16(v->common + CC_NUMQ);
	return 0;
}

const char *vdev_transport(const struct vdev *v)
{
	return v->mmio ? "mmio" : "pci";
}

uint32_t vdev_isr(struct vdev *v)
{
	if (v->mmio)
		return vmmio_isr(v);
	return v->isr ? mmio_read8(v->isr) : 0; /* reading acknowledges */
}

uint64_t vdev_offered(struct vdev *v)
{
	uint64_t f;

	if (v->mmio)
		return vmmio_offered(v);
	mmio_write32(v->common + CC_DFSELECT, 0);
	f = mmio_read32(v->common + CC_DF);
	mmio_write32(v->common + CC_DFSELECT, 1);
	f |= (uint64_t)mmio_read32(v->common + CC_DF) << 32;
	return f;
}

void vdev_driver_ok(struct vdev *v)
{
	status_wr(v, status_rd(v) | VIRTIO_STATUS_DRIVER_OK);
}

uint8_t vdev_status(struct vdev *v)
{
	return status_rd(v);
}

void vdev_reset(struct vdev *v)
{
	status_wr(v, 0);
	/* The device may take time to reset: status reads 0 when it is done. */
	for (unsigned int i = 0; i < 1000000 && status_rd(v); i++)
		cpu_relax();
}

uint8_t vdev_cfg8(struct vdev *v, unsigned int off)
{
	return mmio_read8(v->devcfg + off);
}

uint16_t vdev_cfg16(struct vdev *v, unsigned int off)
{
	return mmio_read16(v->devcfg + off);
}

uint32_t vdev_cfg32(struct vdev *v, unsigned int off)
{
	return mmio_read32(v->devcfg + off);
}

uint64_t vdev_cfg64(struct vdev *v, unsigned int off)
{
	return mmio_read32(v->devcfg + off) | (uint64_t)mmio_read32(v->devcfg + off + 4) << 32;
}

int vq_setup(struct vdev *v, struct vq *q, uint16_t index, uint16_t size)
{
	uint16_t max;

	memset(q, 0, sizeof(*q));
	if (v->mmio) {
		max = vmmio_queue_max(v, index);
	} else {
		mmio_write16(v->common + CC_Q_SELECT, index);
		max = mmio_read16(v->common + CC_Q_SIZE);
	}
	if (!max || size > VQ_MAX || size > max || (size & (size - 1)))
		return -1;
	q->v = v;
	q->index = index;
	q->size = size;
	q->desc = dma_alloc(16ull * size, 4096);
	q->avail = dma_alloc(6 + 2ull * size, 4096);
	q->used = dma_alloc(6 + 8ull * size, 4096);
	q->avail[0] = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: this driver polls */
	q->event_idx = (v->features >> VIRTIO_F_EVENT_IDX) & 1;
	q->indirect = (v->features >> VIRTIO_F_INDIRECT_DESC) & 1;
	if (q->event_idx) /* used_event: never interrupt (it polls) -- as far as 16 bits go */
		q->avail[2 + size] = 0xffff;
	if (q->indirect)
		q->ind = dma_alloc(16ull * VQ_IND_MAX * size, 4096);
	for (uint16_t i = 0; i < size; i++)
		q->next_free[i] = (uint16_t)(i + 1);
	q->num_free = size;
	if (v->mmio) {
		vmmio_queue_enable(v, q);
		return 0;
	}
	mmio_write16(v->common + CC_Q_SIZE, size);
	mmio_write16(v->common + CC_Q_MSIX, 0xffff); /* polled: no vector */
	cc_write64(v, CC_Q_DESC, (uintptr_t)q->desc);
	cc_write64(v, CC_Q_AVAIL, (uintptr_t)q->avail);
	cc_write64(v, CC_Q_USED, (uintptr_t)q->used);
	q->notify_addr = v->notify + (uint64_t)mmio_read16(v->common + CC_Q_NOFF) * v->notify_mult;
	mmio_write16(v->common + CC_Q_ENABLE, 1);
	return 0;
}

int vq_add(struct vq *q, const struct vbuf *bufs, unsigned int n_out, unsigned int n_in)
{
	unsigned int n = n_out + n_in;
	uint16_t head = q->free_head, d = head;

	if (!n || n > q->num_free)
		return -1;
	if (q->indirect && n > 1 && n <= VQ_IND_MAX) {
		struct virtq_desc *t = q->ind + (uint64_t)head * VQ_IND_MAX;

		for (unsigned int i = 0; i < n; i++) {
			t[i].addr = (uintptr_t)bufs[i].addr;
			t[i].len = bufs[i].len;
			t[i].flags = (uint16_t)((i >= n_out ? VIRTQ_DESC_F_WRITE : 0) |
						(i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
			t[i].next = (uint16_t)(i + 1);
		}
		q->desc[head].addr = (uintptr_t)t;
		q->desc[head].len = 16 * n;
		q->desc[head].flags = VIRTQ_DESC_F_INDIRECT;
		q->desc[head].next = 0;
		q->free_head = q->next_free[head];
		q->num_free--;
		q->chain_len[head] = 1;
		vq_publish(q, head);
		return head;
	}
	for (unsigned int i = 0; i < n; i++) {
		q->desc[d].addr = (uintptr_t)bufs[i].addr;
		q->desc[d].len = bufs[i].len;
		q->desc[d].flags = (uint16_t)((i >= n_out ? VIRTQ_DESC_F_WRITE : 0) |
					      (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
		q->desc[d].next = i + 1 < n ? q->next_free[d] : 0;
		if (i + 1 < n)
			d = q->next_free[d];
	}
	q->free_head = q->next_free[d];
	q->num_free = (uint16_t)(q->num_free - n);
	q->chain_len[head] = (uint16_t)n;
	vq_publish(q, head);
	return head;
}

void vq_publish(struct vq *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	mb();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

void vq_kick(struct vq *q)
{
	uint16_t old = q->kicked_idx, new = q->avail_idx;

	mb();
	q->kicked_idx = new;
	if (q->event_idx) {
		/* avail_event after the used ring: kick only if new passed it (§2.7.10). */
		uint16_t ev = *(volatile uint16_t *)(q->used + 4 + 8ull * q->size);

		if ((uint16_t)(new - ev - 1) >= (uint16_t)(new - old))
			return;
	}
	if (q->v->mmio)
		mmio_write32(q->notify_addr, q->index); /* registers are 32 bits wide */
	else
		mmio_write16(q->notify_addr, q->index);
}

int vq_poll(struct vq *q, uint32_t *len)
{
	volatile uint16_t *used_idx = (volatile uint16_t *)(q->used + 2);
	volatile struct virtq_used_elem *e;
	uint16_t head;

	if (*used_idx == q->last_used)
		return -1;
	mb();
	e = (volatile struct virtq_used_elem *)(q->used + 4) + (q->last_used & (q->size - 1));
	head = (uint16_t)e->id;
	if (len)
		*len = e->len;
	q->last_used++;
	/* Give a vq_add chain back to the free list (hand-built ones have chain_len 0). */
	if (head < q->size && q->chain_len[head]) {
		uint16_t d = head;

		for (unsigned int i = 1; i < q->chain_len[head]; i++)
			d = q->desc[d].next;
		q->next_free[d] = q->free_head;
		q->free_head = head;
		q->num_free = (uint16_t)(q->num_free + q->chain_len[head]);
		q->chain_len[head] = 0;
	}
	return head;
}

int vq_wait(struct vq *q, uint32_t *len, unsigned long spins)
{
	for (unsigned long i = 0; !spins || i < spins; i++) {
		int head = vq_poll(q, len);

		if (head >= 0)
			return head;
		cpu_relax();
	}
	return -1;
}
