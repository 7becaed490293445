// SPDX-License-Identifier: MIT
/*
 * The working-set prefetch: which pages of guest memory a restored VM has
 * touched (recorded a while after a restore), and, on a later restore of the
 * same snapshot, those pages mapped in up front in one pass so that the vCPUs
 * do not fault on them one by one. See mvm/snapshot_mem.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/snapshot_mem.h"
#include "mvm/sys.h"

#define BASE_PAGE    4096ULL
#define PM_PRESENT   (1ULL << 63)
#define PM_SWAPPED   (1ULL << 62)
#define CHUNK_PAGES  512 /* pagemap entries or mincore bytes read at a time */
#define RUNS_INITIAL 64

/* ---- recording ---- */

struct run_builder {
	struct prefetch_list *l;
	uint64_t cap;
};

static int add_page(struct run_builder *rb, uint64_t page)
{
	struct prefetch_list *l = rb->l;
	struct prefetch_run *last = l->nr_runs ? &l->runs[l->nr_runs - 1] : NULL;

	if (last && last->first + last->count == page) {
		last->count++;
		return 0;
	}
	if (l->nr_runs == PREFETCH_MAX_RUNS)
		return -E2BIG;
	if (l->nr_runs == rb->cap) {
		uint64_t cap = rb->cap ? rb->cap * 2 : RUNS_INITIAL;
		struct prefetch_run *runs = mvm_reallocarray(l->runs, cap, sizeof(*runs));

		if (!runs)
			return -ENOMEM;
		l->runs = runs;
		rb->cap = cap;
	}
	l->runs[l->nr_runs++] = (struct prefetch_run){ .first = page, .count = 1 };
	return 0;
}

/*
 * Whether each of n pages from addr is mapped: pagemap's entry of the page's
 * first 4 KiB (pm_fd >= 0), else mincore()'s. present[i] is 0 or 1.
 * n <= CHUNK_PAGES; 4 KiB pages are read a chunk at a time, huge ones one by one.
 */
static int pages_present(int pm_fd, const char *addr, uint64_t page_size, uint64_t n,
			 unsigned char *present)
{
	uint64_t i = 0, j;

	while (i < n) {
		const char *at = addr + i * page_size;
		uint64_t want = page_size == BASE_PAGE ? n - i : 1;
		uint64_t entries[CHUNK_PAGES];
		unsigned char vec[CHUNK_PAGES];

		if (pm_fd < 0) {
			if (mincore((void *)at, want * BASE_PAGE, vec))
				return -errno;
			for (j = 0; j < want; j++)
				present[i + j] = vec[j] & 1;
		} else {
			off_t off = (off_t)((uintptr_t)at / BASE_PAGE * 8);
			ssize_t got = pread(pm_fd, entries, want * 8, off);

			if (got < 8)
				return got < 0 ? -errno : -EIO;
			want = (uint64_t)got / 8;
			for (j = 0; j < want; j++)
				present[i + j] = !!(entries[j] & (PM_PRESENT | PM_SWAPPED));
		}
		i += want;
	}
	return 0;
}

static int record_region(int pm_fd, const struct snapshot_mem_region *r, struct run_builder *rb)
{
	uint64_t pages = r->size / r->page_size, per = CHUNK_PAGES;
	uint64_t first = r->offset / r->page_size, i, j;
	unsigned char present[CHUNK_PAGES];
	int err;

	for (i = 0; i < pages; i += per) {
		uint64_t n = pages - i < per ? pages - i : per;

		err = pages_present(pm_fd, (char *)r->host_addr + i * r->page_size, r->page_size, n,
				    present);
		if (err)
			return err;
		for (j = 0; j < n; j++)
			if (present[j] && (err = add_page(rb, first + i + j)))
				return err;
	}
	return 0;
}

/* Region indexes by file offset: the list is sorted by file page. */
static void sort_by_offset(const struct snapshot_mem_region *regions, unsigned int nr,
			   unsigned int *order)
{
	unsigned int i, j;

	for (i = 0; i < nr; i++) {
		for (j = i; j && regions[order[j - 1]].offset > regions[i].offset; j--)
			order[j] = order[j - 1];
		order[j] = i;
	}
}

int prefetch_record(const struct snapshot_mem_region *regions, unsigned int nr,
		    struct prefetch_list *out)
{
	struct prefetch_list l = { 0 };
	struct run_builder rb = { .l = &l };
	unsigned int order[SNAPSHOT_MEM_MAX_REGIONS], i;
	int pm_fd, err = 0;

	if (snapshot_mem_regions_check(regions, nr))
		return -EINVAL;
	for (i = 1; i < nr; i++)
		if (regions[i].page_size != regions[0].page_size) {
			pr_err("working set: the regions' page sizes differ");
			return -EINVAL;
		}
	l.page_size = regions[0].page_size;
	sort_by_offset(regions, nr, order);
	pm_fd = mvm_open("/proc/self/pagemap", O_RDONLY);
	if (pm_fd < 0 && errno != ENOENT && errno != EACCES && errno != EPERM)
		return -errno;
	for (i = 0; i < nr && !err; i++)
		err = record_region(pm_fd, &regions[order[i]], &rb);
	if (pm_fd >= 0)
		close(pm_fd);
	if (err) {
		prefetch_list_free(&l);
		return err;
	}
	*out = l;
	return 0;
}

/* ---- applying ---- */

/* The region holding file page `page`, or NULL. */
static const struct snapshot_mem_region *region_of(const struct snapshot_mem_region *regions,
						   unsigned int nr, uint64_t page)
{
	unsigned int i;

	for (i = 0; i < nr; i++) {
		uint64_t first = regions[i].offset / regions[i].page_size;

		if (page >= first && page - first < regions[i].size / regions[i].page_size)
			return &regions[i];
	}
	return NULL;
}

/*
 * Walks the list over the regions; with advise set, madvise()s each piece.
 * Without, only checks that every page has a region.
 */
static int walk_list(const struct snapshot_mem_region *regions, unsigned int nr,
		     const struct prefetch_list *l, int *advice)
{
	uint64_t i;
	int err = 0;

	for (i = 0; i < l->nr_runs; i++) {
		uint64_t page = l->runs[i].first, end = page + l->runs[i].count;

		while (page < end) {
			const struct snapshot_mem_region *r = region_of(regions, nr, page);
			uint64_t first, n;
			char *addr;

			if (!r)
				return -EINVAL;
			first = r->offset / r->page_size;
			n = first + r->size / r->page_size - page;
			if (n > end - page)
				n = end - page;
			addr = (char *)r->host_addr + (page - first) * r->page_size;
			if (advice && madvise(addr, n * r->page_size, *advice)) {
				/* Before 5.14: no MADV_POPULATE_READ; readahead then. */
				if (errno == EINVAL && *advice == MADV_POPULATE_READ) {
					*advice = MADV_WILLNEED;
					continue;
				}
				if (!err)
					err = -errno;
			}
			page += n;
		}
	}
	return err;
}

int prefetch_apply(const struct snapshot_mem_region *regions, unsigned int nr,
		   const struct prefetch_list *l)
{
	int advice = MADV_POPULATE_READ, err;

	if (snapshot_mem_regions_check(regions, nr))
		return -EINVAL;
	if (!prefetch_list_valid(l, 0) || l->page_size != regions[0].page_size) {
		pr_err("working set: the list is malformed or of another page size");
		return -EINVAL;
	}
	if (walk_list(regions, nr, l, NULL)) {
		pr_err("working set: the list names pages outside guest memory");
		return -EINVAL;
	}
	err = walk_list(regions, nr, l, &advice);
	if (err)
		pr_warn("working set: prefetching failed part way: %s", strerror(-err));
	return err;
}

/* ---- on a thread ---- */

struct prefetch_thread {
	pthread_t thread;
	int result;
	unsigned int nr;
	struct prefetch_list list;
	struct snapshot_mem_region regions[SNAPSHOT_MEM_MAX_REGIONS];
};

static void *prefetch_main(void *arg)
{
	struct prefetch_thread *t = arg;

	t->result = prefetch_apply(t->regions, t->nr, &t->list);
	return NULL;
}

struct prefetch_thread *prefetch_start(const struct snapshot_mem_region *regions, unsigned int nr,
				       const struct prefetch_list *l)
{
	struct prefetch_thread *t;
	int err;

	if (snapshot_mem_regions_check(regions, nr) || !prefetch_list_valid(l, 0))
		return ERR_PTR(-EINVAL);
	t = mvm_zalloc(sizeof(*t));
	if (!t)
		return ERR_PTR(-ENOMEM);
	t->nr = nr;
	memcpy(t->regions, regions, nr * sizeof(*regions));
	t->list.page_size = l->page_size;
	t->list.nr_runs = l->nr_runs;
	if (l->nr_runs) {
		t->list.runs = mvm_calloc(l->nr_runs, sizeof(*l->runs));
		if (!t->list.runs) {
			err = -ENOMEM;
			goto err_free;
		}
		memcpy(t->list.runs, l->runs, l->nr_runs * sizeof(*l->runs));
	}
	err = mvm_thread_create(&t->thread, NULL, prefetch_main, t);
	if (err) {
		err = -err;
		goto err_runs;
	}
	return t;

err_runs:
	prefetch_list_free(&t->list);
err_free:
	free(t);
	return ERR_PTR(err);
}

int prefetch_join(struct prefetch_thread *t)
{
	int result;

	pthread_join(t->thread, NULL);
	result = t->result;
	prefetch_list_free(&t->list);
	free(t);
	return result;
}
