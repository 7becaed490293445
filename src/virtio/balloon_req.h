/* SPDX-License-Identifier: MIT */
/*
 * virtio-balloon requests (virtio 1.2 §5.5.6), apart from the device so that
 * unit tests and fuzzers reach them without a VM: page-frame lists of the
 * inflate and deflate queues against a page tracker, statistics buffers,
 * and free-page ranges (reporting, hinting) given back to the host.
 *
 * Everything the guest sends is copied out of guest memory before it is
 * checked; a bad page frame is counted and skipped, never followed.
 */
#ifndef MVM_VIRTIO_BALLOON_REQ_H
#define MVM_VIRTIO_BALLOON_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mvm/balloon.h"
#include "mvm/memory.h"

/* The balloon's page frames are 4 KiB whatever the host's page size. */
#define BALLOON_PFN_SHIFT 12
#define BALLOON_PAGE_SIZE (1ULL << BALLOON_PFN_SHIFT)
/* Page frames in one inflate/deflate chain at most (Linux sends 256). */
#define BALLOON_MAX_PFNS 4096

/* One entry of a statistics buffer: le16 tag, le64 value, packed. */
#define BALLOON_STAT_SIZE 10
/* Entries in one statistics buffer at most. */
#define BALLOON_MAX_STATS 64

/* The 4 KiB pages of RAM that are in the balloon: one bit each, by memfd offset. */
struct balloon_pages {
	const struct vm_memory *mem;
	uint64_t *bits;
	uint64_t nr;   /* pages of RAM */
	uint64_t held; /* bits set */
};

/* What one inflate or deflate chain did. */
struct balloon_result {
	uint32_t pages; /* page frames that changed state */
	uint32_t bad;	/* not in RAM: skipped */
	uint32_t dup;	/* already in (inflate) or not in (deflate) the balloon */
	uint64_t freed; /* bytes given back to the host */
	int err;	/* first discard error, 0 if none */
};

/* 0 or -ENOMEM. The tracker reads mem's layout; mem must outlive it. */
int balloon_pages_init(struct balloon_pages *bp, const struct vm_memory *mem);
void balloon_pages_fini(struct balloon_pages *bp);
/* Forgets every page (device reset: the driver starts again with an empty balloon). */
void balloon_pages_clear(struct balloon_pages *bp);

/*
 * Copies the le32 page frames of a chain's readable buffers into pfns
 * (BALLOON_MAX_PFNS entries). The count, or -EINVAL (no whole number of
 * frames, or writable buffers) / -E2BIG (more than BALLOON_MAX_PFNS).
 */
int balloon_pfns_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		       uint32_t *pfns);
/*
 * Puts the pages into the balloon and gives them back to the host: with 4
 * KiB host pages each goes at once; with larger host pages (huge pages), a
 * host page goes when all the 4 KiB pages inside it are in the balloon.
 */
void balloon_inflate(struct balloon_pages *bp, const uint32_t *pfns, unsigned int n,
		     struct balloon_result *res);
/* Takes the pages out of the balloon (the guest uses them again; they fault back in). */
void balloon_deflate(struct balloon_pages *bp, const uint32_t *pfns, unsigned int n,
		     struct balloon_result *res);

/*
 * Parses a statistics buffer (readable buffers of a chain) into st: known
 * tags are stored, unknown ones skipped. 0, or -EINVAL (not a whole
 * number of entries, too many, or writable buffers).
 */
int balloon_stats_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			struct balloon_stats *st);

/*
 * Gives back the free memory a chain's writable buffers describe (free page
 * reporting and hinting hand over free guest memory as device-writable
 * buffers). Whole host pages only. Bytes freed, or -errno from the first
 * buffer that could not be given back.
 */
int64_t balloon_discard_iov(const struct vm_memory *mem, const struct iovec *iov, unsigned int n);

#endif
