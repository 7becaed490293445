// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the working-set list decoder (src/snapshot/prefetch_list.c),
 * whose bytes come from a snapshot file.
 *
 * Input: one byte choosing the memory's size in pages (2^(b % 40)), then the
 * encoded list (in a heap block of exactly its size, for ASan). A list that
 * decodes must obey the list rules and encode back to the very same bytes
 * (one list, one encoding); one that does not must leave the output alone.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/snapshot_mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct prefetch_list l = { .page_size = 1, .nr_runs = 0, .runs = NULL };
	uint64_t mem_pages;
	uint8_t *bytes, *again;
	long n;

	if (size < 1)
		return 0;
	mvm_log_set_level(-1);
	mem_pages = 1ULL << (data[0] % 40);
	size--;
	bytes = malloc(size ? size : 1);
	memcpy(bytes, data + 1, size);
	if (prefetch_decode(bytes, size, 4096, mem_pages, &l)) {
		if (l.page_size != 1 || l.nr_runs || l.runs)
			abort();
		free(bytes);
		return 0;
	}
	if (!prefetch_list_valid(&l, mem_pages))
		abort();
	n = prefetch_encode(&l, NULL, 0);
	if (n != (long)size)
		abort();
	again = malloc((size_t)n);
	if (prefetch_encode(&l, again, (size_t)n) != n || memcmp(again, bytes, size))
		abort();
	free(again);
	prefetch_list_free(&l);
	free(bytes);
	return 0;
}
