// SPDX-License-Identifier: MIT
/* virtio-mem requests: parse, check against the region, apply to the block bitmap. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "mem_req.h"
#include "mvm/virtio.h"

static size_t iov_len(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

int vmem_req_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		   struct vmem_req *r)
{
	uint8_t buf[VIRTIO_MEM_REQ_SIZE];
	uint16_t type, nb;
	uint64_t addr;

	/* Copied before use: the guest may change the buffer meanwhile. */
	if (iov_to_buf(iov, out_num, 0, buf, sizeof(buf)) != sizeof(buf) ||
	    iov_len(iov + out_num, in_num) < VIRTIO_MEM_RESP_SIZE)
		return -EINVAL;
	memcpy(&type, buf, 2);
	memcpy(&addr, buf + 8, 8);
	memcpy(&nb, buf + 16, 2);
	r->type = le16toh(type);
	r->addr = le64toh(addr);
	r->nb_blocks = le16toh(nb);
	return 0;
}

static bool test_bit(const struct vmem_blocks *b, uint64_t i)
{
	return b->bits[i / 64] >> (i % 64) & 1;
}

static void assign_bit(struct vmem_blocks *b, uint64_t i, bool v)
{
	if (v)
		b->bits[i / 64] |= 1ULL << (i % 64);
	else
		b->bits[i / 64] &= ~(1ULL << (i % 64));
}

/* Plugged blocks in [first, first + n). */
static uint64_t count_plugged(const struct vmem_blocks *b, uint64_t first, uint64_t n)
{
	uint64_t i, c = 0;

	for (i = first; i < first + n; i++)
		c += test_bit(b, i);
	return c;
}

void vmem_req_exec(struct vmem_blocks *b, const struct vmem_req *r, struct vmem_result *res)
{
	uint64_t nblocks = b->usable / b->block_size, first, n = r->nb_blocks, i, plugged;

	memset(res, 0, sizeof(res[0]));
	res->resp = VIRTIO_MEM_RESP_ERROR;
	if (r->type == VIRTIO_MEM_REQ_UNPLUG_ALL) {
		memset(b->bits, 0, ((nblocks + 63) / 64) * sizeof(uint64_t));
		b->plugged = 0;
		res->discard_len = b->usable;
		res->resp = VIRTIO_MEM_RESP_ACK;
		return;
	}
	if (r->type > VIRTIO_MEM_REQ_STATE)
		return;
	/* Written so that no sum can overflow. */
	if (!n || r->addr < b->addr || (r->addr - b->addr) % b->block_size)
		return;
	first = (r->addr - b->addr) / b->block_size;
	if (first >= nblocks || n > nblocks - first)
		return;
	plugged = count_plugged(b, first, n);
	switch (r->type) {
	case VIRTIO_MEM_REQ_STATE:
		res->state = plugged == n   ? VIRTIO_MEM_STATE_PLUGGED
			     : plugged == 0 ? VIRTIO_MEM_STATE_UNPLUGGED
					    : VIRTIO_MEM_STATE_MIXED;
		res->resp = VIRTIO_MEM_RESP_ACK;
		return;
	case VIRTIO_MEM_REQ_PLUG:
		if (plugged)
			return; /* part of it is plugged already */
		if (n * b->block_size > b->requested - MIN(b->requested, b->plugged)) {
			res->resp = VIRTIO_MEM_RESP_NACK; /* more than the host asks for */
			return;
		}
		for (i = first; i < first + n; i++)
			assign_bit(b, i, true);
		b->plugged += n * b->block_size;
		break;
	case VIRTIO_MEM_REQ_UNPLUG:
		if (plugged != n)
			return; /* part of it is not plugged */
		for (i = first; i < first + n; i++)
			assign_bit(b, i, false);
		b->plugged -= n * b->block_size;
		res->discard_off = first * b->block_size;
		res->discard_len = n * b->block_size;
		break;
	}
	res->resp = VIRTIO_MEM_RESP_ACK;
}

uint32_t vmem_resp_write(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			 const struct vmem_result *res)
{
	uint8_t buf[VIRTIO_MEM_RESP_SIZE] = { 0 };
	uint16_t type = htole16(res->resp), state = htole16(res->state);

	memcpy(buf, &type, 2);
	memcpy(buf + 8, &state, 2);
	return (uint32_t)buf_to_iov(iov + out_num, in_num, 0, buf, sizeof(buf));
}
