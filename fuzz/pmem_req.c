// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtio-pmem request parser and its answer, on
 * chains whose shape and bytes come from the input.
 *
 * Input: [out_num][in_num] then 2 bytes of length per buffer, then the
 * buffers' bytes (one heap block of exactly that size, for ASan).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/virtio.h"
#include "virtio/pmem_req.h"

#define MAX_BUFS 8

static struct virtq_chain chain;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int out, in, n, i;
	size_t hdr, left, pos = 0, in_len = 0;
	uint32_t type, w;
	uint8_t *arena;

	if (size < 2)
		return 0;
	out = data[0] % (MAX_BUFS / 2 + 1);
	in = data[1] % (MAX_BUFS / 2 + 1);
	n = out + in;
	hdr = 2 + 2 * (size_t)n;
	if (size < hdr)
		return 0;
	left = size - hdr;
	arena = malloc(left ? left : 1);
	memcpy(arena, data + hdr, left);
	for (i = 0; i < n; i++) {
		size_t len = data[2 + 2 * i] | (size_t)data[3 + 2 * i] << 8;

		if (len > left - pos)
			len = left - pos;
		chain.iov[i].iov_base = arena + pos;
		chain.iov[i].iov_len = len;
		pos += len;
		if (i >= out)
			in_len += len;
	}
	if (!pmem_req_parse(chain.iov, out, in, &type)) {
		/* Accepted: there is room for the answer, and it is written whole. */
		w = pmem_req_answer(chain.iov, out, in, type ? 1 : 0);
		if (in_len < 4 || w != 4)
			abort();
	}
	free(arena);
	return 0;
}
