// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtio-blk request parser and the synchronous
 * executor, on chains whose shape and bytes come from the input.
 *
 * Input: [flags][out_num][in_num][capacity lo][capacity hi]
 *        then 2 bytes of length per buffer, then the buffers' bytes (the
 *        rest of the input, copied into one heap block of exactly that size,
 *        so ASan sees any access outside a buffer).
 * flags: bit 0 read-only, bit 1 discard, bit 2 write-zeroes, bit 3 execute
 * the request on a small memfd disk.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "block/disk.h"

#define MAX_BUFS 12

static struct virtq_chain chain;
static struct blk_req req;
static int disk_fd = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct blk_geom g = { 0 };
	unsigned int out, in, n;
	uint8_t *arena;
	size_t hdr, left, pos = 0;
	int st;

	if (size < 5)
		return 0;
	out = data[1] % (MAX_BUFS / 2 + 1);
	in = data[2] % (MAX_BUFS / 2 + 1);
	n = out + in;
	hdr = 5 + 2 * (size_t)n;
	if (size < hdr)
		return 0;
	g.read_only = data[0] & 1;
	g.discard = data[0] & 2;
	g.write_zeroes = data[0] & 4;
	g.sectors = data[3] | (uint64_t)data[4] << 8;
	left = size - hdr;
	arena = malloc(left ? left : 1);
	memcpy(arena, data + hdr, left);
	memset(&chain, 0, offsetof(struct virtq_chain, iov));
	chain.head = 1;
	chain.out_num = out;
	chain.in_num = in;
	for (unsigned int i = 0; i < n; i++) {
		size_t len = data[5 + 2 * i] | (size_t)data[6 + 2 * i] << 8;

		if (len > left - pos)
			len = left - pos;
		chain.iov[i].iov_base = arena + pos;
		chain.iov[i].iov_len = len;
		pos += len;
	}
	st = blk_req_parse(&chain, &g, &req);
	if (st == VIRTIO_BLK_S_OK && (data[0] & 8)) {
		struct blk_disk d = { .fd = disk_fd,
				      .size = g.sectors * 512,
				      .read_only = g.read_only };

		if (disk_fd < 0) {
			disk_fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
			if (ftruncate(disk_fd, 65536 * 512) < 0)
				abort();
			d.fd = disk_fd;
		}
		strcpy(d.id, "fuzz");
		st = blk_disk_exec(&d, &req);
		if (st > VIRTIO_BLK_S_UNSUPP)
			abort();
	}
	blk_req_complete(&req, st < 0 ? VIRTIO_BLK_S_IOERR : (uint8_t)st);
	free(arena);
	return 0;
}
