// SPDX-License-Identifier: MIT
/* Guest kit: virtio-blk requests (header, data, status) over the polled driver. */
#include "guest.h"
#include "vblk.h"

#define VBLK_SPINS 200000000ul /* ~ seconds of polling before giving up */

int vblk_open(struct vblk *b, unsigned int index, unsigned int nq, uint16_t size, uint64_t want)
{
	int err;

	memset(b, 0, sizeof(*b));
	err = vdev_open(&b->v, VIRTIO_PCI_DEVICE(2), index, want);
	if (err)
		return err;
	b->capacity = vdev_cfg64(&b->v, VBLK_CFG_CAPACITY);
	if (nq > 4)
		nq = 4;
	if (nq > b->v.num_queues)
		nq = b->v.num_queues;
	for (unsigned int i = 0; i < nq; i++) {
		if (vq_setup(&b->v, &b->q[i].vq, (uint16_t)i, size))
			return -3;
		b->q[i].slots = dma_alloc(sizeof(struct vblk_slot) * size, 64);
	}
	b->nq = nq;
	vdev_driver_ok(&b->v);
	return 0;
}

static int vblk_add(struct vblk_queue *q, struct vblk_slot *tmp, void *buf, uint32_t len, bool in,
		    bool dwz)
{
	struct vbuf bufs[3];
	unsigned int n = 0, n_out;
	int head;

	/* The slot is chosen by the head the driver hands out: fill a copy first. */
	bufs[n++] = (struct vbuf){ NULL, sizeof(struct vblk_hdr) };
	if (dwz)
		bufs[n++] = (struct vbuf){ NULL, sizeof(struct vblk_dwz) };
	else if (len && !in)
		bufs[n++] = (struct vbuf){ buf, len };
	n_out = n;
	if (len && in)
		bufs[n++] = (struct vbuf){ buf, len };
	bufs[n++] = (struct vbuf){ NULL, 1 };
	head = q->vq.free_head;
	if (q->vq.num_free < n)
		return -1;
	q->slots[head] = *tmp;
	q->slots[head].status = VBLK_NO_ANSWER;
	bufs[0].addr = &q->slots[head].hdr;
	if (dwz)
		bufs[1].addr = &q->slots[head].dwz;
	bufs[n - 1].addr = &q->slots[head].status;
	head = vq_add(&q->vq, bufs, n_out, n - n_out);
	if (head >= 0)
		q->inflight++;
	return head;
}

int vblk_submit(struct vblk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	struct vblk_slot s = { .hdr = { .type = type, .sector = sector } };

	return vblk_add(q, &s, buf, len, type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID,
			false);
}

int vblk_reap(struct vblk_queue *q, uint8_t *status, uint32_t *len)
{
	int head = vq_wait(&q->vq, len, VBLK_SPINS);

	if (head < 0 || head >= q->vq.size) {
		*status = VBLK_NO_ANSWER;
		return head;
	}
	q->inflight--;
	*status = q->slots[head].status;
	return head;
}

uint8_t vblk_io(struct vblk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	uint8_t st;

	if (vblk_submit(q, type, sector, buf, len) < 0)
		return VBLK_NO_ANSWER;
	vq_kick(&q->vq);
	vblk_reap(q, &st, NULL);
	return st;
}

uint8_t vblk_dwz(struct vblk_queue *q, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags)
{
	struct vblk_slot s = { .hdr = { .type = type }, .dwz = { sector, n, flags } };
	uint8_t st;

	if (vblk_add(q, &s, NULL, 0, false, true) < 0)
		return VBLK_NO_ANSWER;
	vq_kick(&q->vq);
	vblk_reap(q, &st, NULL);
	return st;
}
