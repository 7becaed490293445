// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the split-virtqueue walker (virtq_pop/push/notify) over
 * guest memory the input fills, followed by the virtio-blk parser on every
 * chain popped. Guest RAM is two heap blocks of exactly their size (ASan
 * sees any access outside), at GPA 0 (64 KiB) and 1 MiB (4 KiB): buffers
 * and indirect tables may point anywhere, including the hole between them.
 *
 * Input: [queue size log2][features][pops] then the image of RAM at GPA 0
 * (descriptors at 0, avail ring at 0x1000, used ring at 0x2000), then of the
 * block at 1 MiB.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/blk_req.h"

#define LOW_SIZE  0x10000
#define HIGH_GPA  0x100000
#define HIGH_SIZE 0x1000

static struct virtq_chain chain;
static struct blk_req req;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every byte of every buffer, the way a device would (ASan checks the range). */
static void touch(const struct virtq_chain *c)
{
	volatile uint8_t sink = 0;

	for (unsigned int i = 0; i < c->out_num + c->in_num; i++) {
		uint8_t *p = c->iov[i].iov_base;

		for (size_t j = 0; j < c->iov[i].iov_len; j++)
			sink ^= p[j];
		if (i >= c->out_num && c->iov[i].iov_len)
			p[c->iov[i].iov_len - 1] = 0;
	}
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct blk_geom g = { .sectors = 128, .discard = true, .write_zeroes = true };
	struct vm_memory mem = { .fd = -1, .nr_regions = 2 };
	struct virtqueue vq;
	uint8_t *low, *high;
	uint64_t features = 0;
	unsigned int pops;
	size_t n;

	if (size < 3)
		return 0;
	low = calloc(1, LOW_SIZE);
	high = calloc(1, HIGH_SIZE);
	mem.regions[0] = (struct mem_region){ 0, LOW_SIZE, low, 0 };
	mem.regions[1] = (struct mem_region){ HIGH_GPA, HIGH_SIZE, high, 1 };
	mem.size = LOW_SIZE + HIGH_SIZE;
	n = size - 3 < LOW_SIZE ? size - 3 : LOW_SIZE;
	memcpy(low, data + 3, n);
	if (size - 3 > LOW_SIZE) {
		size_t m = size - 3 - LOW_SIZE;

		memcpy(high, data + 3 + LOW_SIZE, m < HIGH_SIZE ? m : HIGH_SIZE);
	}
	if (data[1] & 1)
		features |= 1ULL << VIRTIO_F_RING_EVENT_IDX;
	if (data[1] & 2)
		features |= 1ULL << VIRTIO_F_RING_INDIRECT_DESC;
	pops = data[2] % 16 + 1;

	memset(&vq, 0, sizeof(vq));
	vq.kick_fd = -1;
	if (virtq_setup(&vq, &mem, (uint16_t)(1u << (data[0] % 9)), 0, 0x1000, 0x2000, features))
		goto out;
	vq.enabled = true;
	for (unsigned int i = 0; i < pops; i++) {
		int ret = virtq_pop(&vq, &chain);
		int st;

		if (ret == 0)
			break;
		if (ret < 0) {
			if (chain.head < vq.size)
				virtq_push(&vq, chain.head, 0);
			break;
		}
		touch(&chain);
		st = blk_req_parse(&chain, &g, &req);
		virtq_push(&vq, chain.head,
			   blk_req_complete(&req, st < 0 ? VIRTIO_BLK_S_IOERR : (uint8_t)st));
		virtq_notify(&vq);
	}
out:
	free(low);
	free(high);
	return 0;
}
