/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk I/O engine, one per virtqueue: io_uring (liburing) when the
 * host has it, else (or when forced: --disk ...,io=sync) a synchronous
 * executor. Requests are submitted and completed on the event-loop thread,
 * never on a vCPU: with io_uring the kernel does the I/O and signals an
 * eventfd the loop watches; the synchronous engine runs the request inside
 * blk_io_submit() (the event loop then waits on the disk, the vCPUs do not).
 *
 * The owner serialises all calls for one engine (virtio-blk: the queue lock).
 */
#ifndef MVM_BLOCK_IO_H
#define MVM_BLOCK_IO_H

#include <liburing.h>
#include <stdbool.h>

#include "block/disk.h"

struct blk_io;
/* A request finished: status is VIRTIO_BLK_S_*. Called from submit/reap/drain. */
typedef void (*blk_io_done_fn)(struct blk_io *io, struct blk_req *r, uint8_t status);

struct blk_io {
	struct blk_disk *disk;
	bool uring; /* io_uring in use (else synchronous) */
	struct io_uring ring;
	int efd; /* eventfd the ring signals on completion, -1 when synchronous */
	unsigned int depth;
	unsigned int inflight; /* submitted to the ring, not completed */
	unsigned int queued;   /* SQEs prepared, not yet submitted */
	blk_io_done_fn done;
};

/*
 * Create path: sets up an engine of `depth` entries for disk. Falls back to
 * the synchronous engine when io_uring is unavailable (ENOSYS, EPERM...) or
 * disk->sync_io. 0 or -errno.
 */
int blk_io_init(struct blk_io *io, struct blk_disk *disk, unsigned int depth, blk_io_done_fn done);
void blk_io_fini(struct blk_io *io);
/*
 * Starts r (parsed OK). true: it is on the ring and completes later (reap or
 * drain); false: it was executed synchronously and has completed already.
 */
bool blk_io_submit(struct blk_io *io, struct blk_req *r);
/* Submits what blk_io_submit() prepared: call once after a batch. */
void blk_io_flush(struct blk_io *io);
/* Completes what has finished (eventfd readable); the number completed. */
unsigned int blk_io_reap(struct blk_io *io);
/* Waits for every in-flight request and completes it. */
void blk_io_drain(struct blk_io *io);

#endif
