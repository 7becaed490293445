// SPDX-License-Identifier: MIT
/* virtio-balloon requests: page-frame lists, statistics, free-page ranges. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "balloon_req.h"
#include "mvm/compiler.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"

int balloon_pages_init(struct balloon_pages *bp, const struct vm_memory *mem)
{
	memset(bp, 0, sizeof(*bp));
	bp->mem = mem;
	bp->nr = mem->size >> BALLOON_PFN_SHIFT;
	bp->bits = mvm_calloc((bp->nr + 63) / 64 ? (bp->nr + 63) / 64 : 1, sizeof(uint64_t));
	return bp->bits ? 0 : -ENOMEM;
}

void balloon_pages_fini(struct balloon_pages *bp)
{
	free(bp->bits);
	bp->bits = NULL;
	bp->nr = bp->held = 0;
}

void balloon_pages_clear(struct balloon_pages *bp)
{
	memset(bp->bits, 0, ((bp->nr + 63) / 64) * sizeof(uint64_t));
	bp->held = 0;
}

static bool bit_test(const struct balloon_pages *bp, uint64_t i)
{
	return bp->bits[i / 64] >> (i % 64) & 1;
}

static void bit_assign(struct balloon_pages *bp, uint64_t i, bool v)
{
	if (v)
		bp->bits[i / 64] |= 1ULL << (i % 64);
	else
		bp->bits[i / 64] &= ~(1ULL << (i % 64));
}

/* Index in the tracker of the page at guest frame pfn, or UINT64_MAX if it is not RAM. */
static uint64_t pfn_index(const struct balloon_pages *bp, uint32_t pfn)
{
	uint64_t gpa = (uint64_t)pfn << BALLOON_PFN_SHIFT;
	void *p = mem_ptr(bp->mem, gpa, BALLOON_PAGE_SIZE);
	uint64_t off;

	if (!p)
		return UINT64_MAX;
	off = mem_offset(bp->mem, p, BALLOON_PAGE_SIZE);
	if (off == UINT64_MAX || (off >> BALLOON_PFN_SHIFT) >= bp->nr)
		return UINT64_MAX;
	return off >> BALLOON_PFN_SHIFT;
}

int balloon_pfns_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		       uint32_t *pfns)
{
	size_t len = 0, got;
	unsigned int i;

	if (in_num)
		return -EINVAL;
	for (i = 0; i < out_num; i++) {
		if (iov[i].iov_len > BALLOON_MAX_PFNS * sizeof(uint32_t) - len)
			return -E2BIG;
		len += iov[i].iov_len;
	}
	if (len % sizeof(uint32_t))
		return -EINVAL;
	/* Copied before use: the guest may change the buffer meanwhile. */
	got = iov_to_buf(iov, out_num, 0, pfns, len);
	if (got != len)
		return -EINVAL;
	for (i = 0; i < len / sizeof(uint32_t); i++)
		pfns[i] = le32toh(pfns[i]);
	return (int)(len / sizeof(uint32_t));
}

/* Frees a run of whole tracker pages [first, first + n) (4 KiB host pages). */
static void discard_run(struct balloon_pages *bp, uint64_t first, uint64_t n,
			struct balloon_result *res)
{
	uint64_t freed;
	int err;

	if (!n)
		return;
	err = mem_discard(bp->mem, first << BALLOON_PFN_SHIFT, n << BALLOON_PFN_SHIFT, &freed);
	res->freed += freed;
	if (err && !res->err)
		res->err = err;
}

/* With huge host pages: frees the host page holding idx once all of it is in the balloon. */
static void discard_if_whole(struct balloon_pages *bp, uint64_t idx, struct balloon_result *res)
{
	uint64_t per = mem_page_size(bp->mem) >> BALLOON_PFN_SHIFT;
	uint64_t first = idx - idx % per, i;

	if (first + per > bp->nr)
		return;
	for (i = first; i < first + per; i++)
		if (!bit_test(bp, i))
			return;
	discard_run(bp, first, per, res);
}

void balloon_inflate(struct balloon_pages *bp, const uint32_t *pfns, unsigned int n,
		     struct balloon_result *res)
{
	bool small = mem_page_size(bp->mem) == BALLOON_PAGE_SIZE;
	uint64_t run_first = 0, run_n = 0;
	unsigned int i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < n; i++) {
		uint64_t idx = pfn_index(bp, pfns[i]);

		if (idx == UINT64_MAX) {
			res->bad++;
			continue;
		}
		if (bit_test(bp, idx)) {
			res->dup++;
			continue;
		}
		bit_assign(bp, idx, true);
		bp->held++;
		res->pages++;
		if (!small) {
			discard_if_whole(bp, idx, res);
			continue;
		}
		/* Drivers send frames in runs: one hole per run, not per page. */
		if (run_n && idx == run_first + run_n) {
			run_n++;
			continue;
		}
		discard_run(bp, run_first, run_n, res);
		run_first = idx;
		run_n = 1;
	}
	if (small)
		discard_run(bp, run_first, run_n, res);
}

void balloon_deflate(struct balloon_pages *bp, const uint32_t *pfns, unsigned int n,
		     struct balloon_result *res)
{
	unsigned int i;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < n; i++) {
		uint64_t idx = pfn_index(bp, pfns[i]);

		if (idx == UINT64_MAX) {
			res->bad++;
			continue;
		}
		if (!bit_test(bp, idx)) {
			res->dup++;
			continue;
		}
		bit_assign(bp, idx, false);
		bp->held--;
		res->pages++;
	}
}

int balloon_stats_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			struct balloon_stats *st)
{
	uint8_t buf[BALLOON_MAX_STATS * BALLOON_STAT_SIZE];
	size_t len = 0;
	unsigned int i;

	if (in_num)
		return -EINVAL;
	for (i = 0; i < out_num; i++) {
		if (iov[i].iov_len > sizeof(buf) - len)
			return -EINVAL;
		len += iov[i].iov_len;
	}
	if (len % BALLOON_STAT_SIZE || iov_to_buf(iov, out_num, 0, buf, len) != len)
		return -EINVAL;
	st->have = 0;
	for (i = 0; i < len / BALLOON_STAT_SIZE; i++) {
		const uint8_t *e = buf + i * BALLOON_STAT_SIZE;
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, e, sizeof(tag));
		memcpy(&val, e + 2, sizeof(val));
		tag = le16toh(tag);
		if (tag >= BALLOON_S_NR)
			continue;
		st->val[tag] = le64toh(val);
		st->have |= 1U << tag;
	}
	return 0;
}

int64_t balloon_discard_iov(const struct vm_memory *mem, const struct iovec *iov, unsigned int n)
{
	int64_t total = 0;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint64_t off = mem_offset(mem, iov[i].iov_base, iov[i].iov_len), freed;
		int err;

		if (off == UINT64_MAX)
			return -EINVAL;
		err = mem_discard(mem, off, iov[i].iov_len, &freed);
		if (err)
			return err;
		total += (int64_t)freed;
	}
	return total;
}
