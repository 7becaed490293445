// SPDX-License-Identifier: MIT
/*
 * A working set's page list as bytes (a snapshot section's payload), and back.
 * The bytes come from a file: the decoder trusts nothing. See mvm/snapshot_mem.h.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/snapshot_mem.h"
#include "mvm/sys.h"

#define PREFETCH_MAGIC	 "MVWS"
#define PREFETCH_VERSION 1
#define HEADER_SIZE	 24 /* magic, version, page size, run count */
#define LEB128_MAX	 10 /* bytes of a 64-bit value */

void prefetch_list_free(struct prefetch_list *l)
{
	free(l->runs);
	l->runs = NULL;
	l->nr_runs = 0;
}

/* The rules of struct prefetch_list, against mem_pages pages (0: no bound). */
static bool list_valid(const struct prefetch_list *l, uint64_t mem_pages)
{
	uint64_t i, next = 0;

	if (l->page_size < 4096 || (l->page_size & (l->page_size - 1)) ||
	    l->nr_runs > PREFETCH_MAX_RUNS || (l->nr_runs && !l->runs))
		return false;
	for (i = 0; i < l->nr_runs; i++) {
		const struct prefetch_run *r = &l->runs[i];

		/* Sorted, apart from the previous run by a gap, no wrap, in range. */
		if (!r->count || r->first < next || (i && r->first == next) ||
		    r->first + r->count < r->first ||
		    (mem_pages && r->first + r->count > mem_pages))
			return false;
		next = r->first + r->count;
	}
	return true;
}

static size_t put_le(uint8_t *p, uint64_t v, unsigned int bytes)
{
	unsigned int i;

	for (i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
	return bytes;
}

static uint64_t get_le(const uint8_t *p, unsigned int bytes)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < bytes; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* Writes v at p when p is not NULL; returns its size. */
static size_t put_leb128(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		uint8_t byte = v & 0x7f;

		v >>= 7;
		if (p)
			p[n] = byte | (v ? 0x80 : 0);
		n++;
	} while (v);
	return n;
}

/* 0 and the value, or -EINVAL: truncated, longer than 10 bytes, over 64 bits, or not minimal. */
static int get_leb128(const uint8_t *p, size_t len, size_t *pos, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int i;

	for (i = 0; i < LEB128_MAX && *pos + i < len; i++) {
		uint8_t byte = p[*pos + i];

		if (i == LEB128_MAX - 1 && byte > 1)
			return -EINVAL;
		v |= (uint64_t)(byte & 0x7f) << (7 * i);
		if (!(byte & 0x80)) {
			if (i && !byte) /* a padded encoding: one value, one form */
				return -EINVAL;
			*pos += i + 1;
			*out = v;
			return 0;
		}
	}
	return -EINVAL;
}

long prefetch_encode(const struct prefetch_list *l, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t i, next = 0;
	size_t n = HEADER_SIZE;

	if (!list_valid(l, 0))
		return -EINVAL;
	for (i = 0; i < l->nr_runs; i++) {
		n += put_leb128(NULL, l->runs[i].first - next);
		n += put_leb128(NULL, l->runs[i].count);
		next = l->runs[i].first + l->runs[i].count;
	}
	if (!buf || len < n)
		return (long)n;
	memcpy(p, PREFETCH_MAGIC, 4);
	put_le(p + 4, PREFETCH_VERSION, 4);
	put_le(p + 8, l->page_size, 8);
	put_le(p + 16, l->nr_runs, 8);
	n = HEADER_SIZE;
	for (next = 0, i = 0; i < l->nr_runs; i++) {
		n += put_leb128(p + n, l->runs[i].first - next);
		n += put_leb128(p + n, l->runs[i].count);
		next = l->runs[i].first + l->runs[i].count;
	}
	return (long)n;
}

static int refuse(const char *why)
{
	pr_err("snapshot: working-set list refused: %s", why);
	return -EINVAL;
}

int prefetch_decode(const void *buf, size_t len, uint64_t page_size, uint64_t mem_pages,
		    struct prefetch_list *out)
{
	const uint8_t *p = buf;
	struct prefetch_list l = { 0 };
	uint64_t i, next = 0;
	size_t pos = HEADER_SIZE;

	if (!p || len < HEADER_SIZE)
		return refuse("truncated header");
	if (memcmp(p, PREFETCH_MAGIC, 4))
		return refuse("bad magic");
	if (get_le(p + 4, 4) != PREFETCH_VERSION)
		return refuse("unknown version");
	l.page_size = get_le(p + 8, 8);
	l.nr_runs = get_le(p + 16, 8);
	if (l.page_size != page_size)
		return refuse("page size differs from the memory's");
	/* Each run takes at least 2 bytes: a count that does not fit is a lie. */
	if (l.nr_runs > PREFETCH_MAX_RUNS || l.nr_runs > (len - HEADER_SIZE) / 2)
		return refuse("run count larger than its data");
	if (l.nr_runs) {
		l.runs = mvm_calloc(l.nr_runs, sizeof(*l.runs));
		if (!l.runs)
			return -ENOMEM;
	}
	for (i = 0; i < l.nr_runs; i++) {
		uint64_t gap, count;

		if (get_leb128(p, len, &pos, &gap) || get_leb128(p, len, &pos, &count)) {
			prefetch_list_free(&l);
			return refuse("truncated or malformed run");
		}
		if ((i && !gap) || !count || next + gap < next || next + gap + count < next + gap) {
			prefetch_list_free(&l);
			return refuse("empty, touching or wrapping run");
		}
		l.runs[i].first = next + gap;
		l.runs[i].count = count;
		next = l.runs[i].first + count;
		if (next > mem_pages) {
			prefetch_list_free(&l);
			return refuse("run beyond the end of guest memory");
		}
	}
	if (pos != len) {
		prefetch_list_free(&l);
		return refuse("trailing bytes");
	}
	*out = l;
	return 0;
}

bool prefetch_list_valid(const struct prefetch_list *l, uint64_t mem_pages)
{
	return list_valid(l, mem_pages);
}
