// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the virtio-balloon request parsers and the page
 * tracker, over guest RAM that is a real memfd in two regions (low RAM and
 * RAM above 4 GiB, as x86 lays it out), so that inflates and free-page
 * ranges really punch holes.
 *
 * Input: [op][out_num][in_num] then, per buffer, 2 bytes of length (ops 0-2)
 * or 4 bytes of RAM offset + 2 of length (op 3), then the buffers' bytes
 * (copied into one heap block of exactly that size for ASan).
 * op % 4: 0 inflate, 1 deflate, 2 statistics, 3 free-page ranges (an offset
 * with its top bit set points outside RAM: must be refused).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/virtio.h"
#include "virtio/balloon_req.h"

#define MAX_BUFS 8
#define RAM	 (8ULL << 20)

static struct vm_memory mem;
static struct balloon_pages pages;
static struct virtq_chain chain;
static uint32_t pfns[BALLOON_MAX_PFNS];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ram_init(void)
{
	mem.fd = memfd_create("fuzz-ram", MFD_CLOEXEC);
	if (mem.fd < 0 || ftruncate(mem.fd, (off_t)RAM))
		abort();
	mem.base = mmap(NULL, RAM, PROT_READ | PROT_WRITE, MAP_SHARED, mem.fd, 0);
	if (mem.base == MAP_FAILED)
		abort();
	mem.size = RAM;
	mem.nr_regions = 2;
	mem.regions[0] = (struct mem_region){ 0, RAM / 2, mem.base, 0 };
	mem.regions[1] = (struct mem_region){ 1ULL << 32, RAM / 2, mem.base + RAM / 2, 1 };
	if (balloon_pages_init(&pages, &mem))
		abort();
}

static uint64_t popcount(void)
{
	uint64_t n = 0, i;

	for (i = 0; i < (pages.nr + 63) / 64; i++)
		n += (uint64_t)__builtin_popcountll(pages.bits[i]);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned int op, out, in, n, i;
	size_t hdr, per, left, pos = 0;
	struct balloon_result res;
	struct balloon_stats st;
	uint8_t *arena;
	int r;

	if (!mem.base)
		ram_init();
	if (size < 3)
		return 0;
	op = data[0] % 4;
	out = data[1] % (MAX_BUFS + 1);
	in = data[2] % (MAX_BUFS + 1);
	if (out + in > MAX_BUFS)
		in = MAX_BUFS - out;
	n = out + in;
	per = op == 3 ? 6 : 2;
	hdr = 3 + per * n;
	if (size < hdr)
		return 0;
	left = size - hdr;
	arena = malloc(left ? left : 1);
	memcpy(arena, data + hdr, left);
	chain.out_num = out;
	chain.in_num = in;
	for (i = 0; i < n; i++) {
		const uint8_t *h = data + 3 + per * i;
		size_t len = h[per - 2] | (size_t)h[per - 1] << 8;

		if (op == 3) {
			uint32_t off = h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 |
				       (uint32_t)h[3] << 24;

			/* Guest RAM the walker checked, or (top bit) a pointer outside it. */
			len <<= 12;
			off %= (uint32_t)RAM;
			if (len > RAM - off)
				len = RAM - off;
			chain.iov[i].iov_base = (h[3] & 0x80) ? (void *)(arena + (pos % (left + 1)))
							      : mem.base + off;
			chain.iov[i].iov_len = (h[3] & 0x80) ? 1 : len;
			continue;
		}
		if (len > left - pos)
			len = left - pos;
		chain.iov[i].iov_base = arena + pos;
		chain.iov[i].iov_len = len;
		pos += len;
	}
	switch (op) {
	case 0:
	case 1:
		r = balloon_pfns_parse(chain.iov, out, in, pfns);
		if (r < 0)
			break;
		if ((unsigned int)r > BALLOON_MAX_PFNS)
			abort();
		if (op == 0)
			balloon_inflate(&pages, pfns, (unsigned int)r, &res);
		else
			balloon_deflate(&pages, pfns, (unsigned int)r, &res);
		/* Every frame is accounted for, and the tracker agrees with its bits. */
		if (res.pages + res.bad + res.dup != (unsigned int)r || res.err ||
		    pages.held != popcount() || pages.held > pages.nr)
			abort();
		break;
	case 2:
		if (!balloon_stats_parse(chain.iov, out, in, &st) && st.have >> BALLOON_S_NR)
			abort();
		break;
	case 3: {
		int64_t freed = balloon_discard_iov(&mem, chain.iov + out, in);
		bool outside = false;

		for (i = out; i < n; i++)
			outside |= (data[3 + per * i + 3] & 0x80) != 0;
		if (outside ? freed >= 0 : freed < 0)
			abort();
		if (freed > (int64_t)RAM * MAX_BUFS)
			abort();
		break;
	}
	}
	free(arena);
	return 0;
}
