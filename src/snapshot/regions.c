// SPDX-License-Identifier: MIT
/* The region table the lazy-memory backends are given: see mvm/snapshot_mem.h. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>

#include "mvm/log.h"
#include "mvm/snapshot_mem.h"

static bool ranges_overlap(uint64_t a, uint64_t a_len, uint64_t b, uint64_t b_len)
{
	return a < b + b_len && b < a + a_len;
}

static int region_check(const struct snapshot_mem_region *r, unsigned int i)
{
	uint64_t addr = (uintptr_t)r->host_addr, ps = r->page_size;

	if (ps < 4096 || (ps & (ps - 1))) {
		pr_err("snapshot memory: region %u: page size %" PRIu64 " is not a power of two "
		       ">= 4096",
		       i, ps);
		return -EINVAL;
	}
	if (!addr || (addr | r->size | r->offset) & (ps - 1) || !r->size) {
		pr_err("snapshot memory: region %u: address, size and offset must be non-zero "
		       "multiples of its page size (%" PRIu64 ")",
		       i, ps);
		return -EINVAL;
	}
	if (addr + r->size < addr || r->offset + r->size < r->offset) {
		pr_err("snapshot memory: region %u wraps around", i);
		return -EINVAL;
	}
	return 0;
}

int snapshot_mem_regions_check(const struct snapshot_mem_region *regions, unsigned int nr)
{
	unsigned int i, j;

	if (!regions || nr == 0 || nr > SNAPSHOT_MEM_MAX_REGIONS) {
		pr_err("snapshot memory: %u regions (1 to %u allowed)", nr,
		       SNAPSHOT_MEM_MAX_REGIONS);
		return -EINVAL;
	}
	for (i = 0; i < nr; i++) {
		const struct snapshot_mem_region *a = &regions[i];

		if (region_check(a, i))
			return -EINVAL;
		for (j = 0; j < i; j++) {
			const struct snapshot_mem_region *b = &regions[j];

			if (ranges_overlap((uintptr_t)a->host_addr, a->size,
					   (uintptr_t)b->host_addr, b->size) ||
			    ranges_overlap(a->offset, a->size, b->offset, b->size)) {
				pr_err("snapshot memory: regions %u and %u overlap", j, i);
				return -EINVAL;
			}
		}
	}
	return 0;
}
