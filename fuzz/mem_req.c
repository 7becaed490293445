// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: virtio-mem requests, parsed from chains whose shape and
 * bytes come from the input and applied to one device state that lives
 * across inputs (a 64-block region), with its invariants checked.
 *
 * Input: [out_num][in_num][requested blocks] then 2 bytes of length per
 * buffer, then the buffers' bytes (one heap block of exactly that size).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio.h"
#include "virtio/mem_req.h"

#define MAX_BUFS 6
#define BLOCK	 (2ULL << 20)
#define NBLOCKS	 64
#define BASE	 (1ULL << 32)

static struct virtq_chain chain;
static uint64_t bits[NBLOCKS / 64];
static struct vmem_blocks blocks = { BASE, BLOCK, NBLOCKS *BLOCK, 0, 0, bits };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int out, in, n, i;
	size_t hdr, left, pos = 0;
	struct vmem_result res;
	struct vmem_req r;
	uint64_t before;
	uint8_t *arena;

	if (size < 3)
		return 0;
	out = data[0] % (MAX_BUFS / 2 + 1);
	in = data[1] % (MAX_BUFS / 2 + 1);
	blocks.requested = (data[2] % (NBLOCKS + 1)) * BLOCK;
	n = out + in;
	hdr = 3 + 2 * (size_t)n;
	if (size < hdr)
		return 0;
	left = size - hdr;
	arena = malloc(left ? left : 1);
	memcpy(arena, data + hdr, left);
	for (i = 0; i < n; i++) {
		size_t len = data[3 + 2 * i] | (size_t)data[4 + 2 * i] << 8;

		if (len > left - pos)
			len = left - pos;
		chain.iov[i].iov_base = arena + pos;
		chain.iov[i].iov_len = len;
		pos += len;
	}
	if (!vmem_req_parse(chain.iov, out, in, &r)) {
		/* Requests land near the region more often than not. */
		if (data[2] & 0x80)
			r.addr = BASE + (r.addr % (NBLOCKS * BLOCK + 4 * BLOCK));
		before = blocks.plugged;
		vmem_req_exec(&blocks, &r, &res);
		if (res.resp > VIRTIO_MEM_RESP_ERROR || blocks.plugged > blocks.usable ||
		    blocks.plugged != (uint64_t)__builtin_popcountll(bits[0]) * BLOCK)
			abort();
		/* A plug never goes beyond the request; what is discarded is inside the region. */
		if (blocks.plugged > before && blocks.plugged > blocks.requested)
			abort();
		if (res.discard_len && (res.discard_off > blocks.usable ||
					res.discard_len > blocks.usable - res.discard_off))
			abort();
		if (vmem_resp_write(chain.iov, out, in, &res) != VIRTIO_MEM_RESP_SIZE)
			abort();
	}
	free(arena);
	return 0;
}
