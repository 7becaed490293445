/* SPDX-License-Identifier: MIT */
/*
 * Loading a snapshot's guest memory lazily: the Uffd backend (Firecracker's
 * page-fault handler protocol) and the working-set prefetch.
 *
 * Both work on host addresses: the restore path maps the guest's memory,
 * describes each mapping as a struct snapshot_mem_region, and hands the
 * regions to these functions. Nothing here knows KVM.
 */
#ifndef MVM_SNAPSHOT_MEM_H
#define MVM_SNAPSHOT_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One mapping of guest memory and where its contents are in the memory file. */
struct snapshot_mem_region {
	void *host_addr;    /* aligned to page_size */
	uint64_t size;	    /* bytes, a multiple of page_size */
	uint64_t offset;    /* of its contents in the memory file, a multiple of page_size */
	uint64_t page_size; /* 4096, or the huge page size backing the mapping */
};

#define SNAPSHOT_MEM_MAX_REGIONS 64

/*
 * Checks a region table: 1..SNAPSHOT_MEM_MAX_REGIONS regions, each aligned,
 * non-empty, not wrapping, page sizes powers of two >= 4096, host ranges and
 * file ranges not overlapping. 0 or -EINVAL (the reason is logged).
 */
int snapshot_mem_regions_check(const struct snapshot_mem_region *regions, unsigned int nr);

/* ---- the Uffd backend ---- */

struct uffd_backend;

/*
 * Creates a userfaultfd (UFFD_FEATURE_EVENT_REMOVE, as Firecracker asks for),
 * registers every region (missing-page mode), connects to the handler
 * listening on backend_path and sends it Firecracker's message: a JSON array
 * of GuestRegionUffdMapping objects, the uffd attached (SCM_RIGHTS). Waits at
 * most timeout_ms for the connection and for the handler to take the message.
 * The regions must stay mapped until uffd_backend_destroy().
 *
 * ERR_PTR: -EINVAL (bad regions, path too long), -ENOENT/-ECONNREFUSED (no
 * handler listens there), -ETIMEDOUT (the handler did not take the message in
 * time), -EPERM (userfaultfd not allowed), or what a call failed with.
 */
struct uffd_backend *uffd_backend_create(const struct snapshot_mem_region *regions, unsigned int nr,
					 const char *backend_path, int timeout_ms);

/*
 * An fd that becomes readable (EPOLLIN) when the handler is gone: a pidfd of
 * the process that listens on backend_path, or where none can be had (no
 * pidfd_open, the handler in another PID namespace) the connection itself,
 * readable at hangup. Owned by the backend: open until uffd_backend_destroy().
 */
int uffd_backend_watch_fd(const struct uffd_backend *b);

/*
 * Call when the watch fd is readable. -EAGAIN if the handler is still there
 * (the connection only had data: keep watching). Else nobody serves faults
 * any more, and the caller stops watching (the fd stays readable): every
 * region is unregistered, which also wakes any thread blocked on a missing
 * page. 0 if all guest memory had been loaded (it is ordinary memory now and
 * the VM may go on), -EPIPE if pages were still missing: those now read as
 * zero, so the caller must fail the VM (stop its vCPUs first). Later calls
 * give the same answer.
 */
int uffd_backend_handler_gone(struct uffd_backend *b);

/*
 * Unregisters guest memory, closes the uffd and the connection, frees. The
 * handler's copy of the uffd outlives ours: unregistering is what releases a
 * thread waiting on a page that a stalled handler will never serve (it reads
 * zeroes), so in a teardown call this before joining threads that touch guest
 * memory; the memory may stay mapped or be gone. NULL or ERR_PTR: nothing.
 */
void uffd_backend_destroy(struct uffd_backend *b);

/* ---- the working-set prefetch ---- */

/* A run of pages, numbered by their page in the memory file (offset / page_size). */
struct prefetch_run {
	uint64_t first;
	uint64_t count;
};

/*
 * A working set: runs sorted by first page, each non-empty, none overlapping
 * or touching the next (runs that touch are one run).
 */
struct prefetch_list {
	uint64_t page_size;
	uint64_t nr_runs;
	struct prefetch_run *runs; /* heap; prefetch_list_free() */
};

#define PREFETCH_MAX_RUNS (1u << 24)

void prefetch_list_free(struct prefetch_list *l);
/* The list keeps the rules above and stays below mem_pages (0: no bound). */
bool prefetch_list_valid(const struct prefetch_list *l, uint64_t mem_pages);

/*
 * The pages of the regions that are mapped in this process now (pagemap's
 * present or swapped bits; mincore() where /proc/self/pagemap cannot be
 * read, which also counts pages that are only in the page cache). On a file
 * mapping a read fault also maps up to 16 neighbours already in the page
 * cache (fault-around): the list may hold a few pages more than were
 * touched; on anonymous (Uffd) memory it is exact. Every region must have
 * the same page size. 0 or -errno; *out is filled on success.
 */
int prefetch_record(const struct snapshot_mem_region *regions, unsigned int nr,
		    struct prefetch_list *out);

/*
 * The list as bytes (little-endian, runs as LEB128 gaps and lengths):
 *   "MVWS" | u32 version (1) | u64 page_size | u64 nr_runs | runs...
 * Returns the encoded size; with buf NULL or len too small nothing is written
 * (call again with a buffer of the returned size). -EINVAL for a list that
 * breaks the rules above.
 */
long prefetch_encode(const struct prefetch_list *l, void *buf, size_t len);

/*
 * Parses bytes from prefetch_encode() for a memory file of mem_pages pages
 * of page_size: anything truncated, trailing, out of range, overlapping,
 * empty or of another version or page size is refused with -EINVAL
 * (-ENOMEM if the runs cannot be allocated). *out is filled on success only.
 */
int prefetch_decode(const void *buf, size_t len, uint64_t page_size, uint64_t mem_pages,
		    struct prefetch_list *out);

/*
 * Maps in the listed pages in one pass: MADV_POPULATE_READ (faults them in;
 * on a Uffd region the handler serves them), or where the kernel lacks it
 * (before 5.14) MADV_WILLNEED (starts the file's readahead). Pages of the
 * list that no region covers are an error (-EINVAL), checked before anything
 * is done. 0 or -errno.
 */
int prefetch_apply(const struct snapshot_mem_region *regions, unsigned int nr,
		   const struct prefetch_list *l);

/* The same on a thread of its own, so that the vCPUs can start meanwhile. */
struct prefetch_thread;
/*
 * The regions and the list are copied; the memory must stay mapped until
 * prefetch_join(). ERR_PTR on failure.
 */
struct prefetch_thread *prefetch_start(const struct snapshot_mem_region *regions, unsigned int nr,
				       const struct prefetch_list *l);
/* Waits for the pass to end; its result (as prefetch_apply()). Frees. */
int prefetch_join(struct prefetch_thread *t);

#endif
