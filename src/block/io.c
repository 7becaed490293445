// SPDX-License-Identifier: MIT
/* virtio-blk I/O engine: io_uring with a synchronous fallback. */
#include <errno.h>
#include <linux/falloc.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "block/io.h"
#include "mvm/log.h"
#include "mvm/sys.h"

int blk_io_init(struct blk_io *io, struct blk_disk *disk, unsigned int depth, blk_io_done_fn done)
{
	int err;

	memset(io, 0, sizeof(*io));
	io->disk = disk;
	io->depth = depth;
	io->done = done;
	io->efd = -1;
	if (disk->sync_io)
		return 0;
	err = mvm_io_uring_init(depth, &io->ring, 0);
	if (err == -ENOSYS || err == -EPERM || err == -EACCES || err == -EINVAL) {
		/* No io_uring here (old kernel, seccomp, io_uring_disabled). */
		pr_info("io_uring unavailable (%s): synchronous disk I/O\n", strerror(-err));
		return 0;
	}
	if (err)
		return err;
	io->efd = mvm_eventfd(0, EFD_NONBLOCK);
	if (io->efd < 0) {
		err = -errno;
		goto err_ring;
	}
	err = io_uring_register_eventfd(&io->ring, io->efd);
	if (err)
		goto err_efd;
	io->uring = true;
	return 0;

err_efd:
	close(io->efd);
	io->efd = -1;
err_ring:
	io_uring_queue_exit(&io->ring);
	return err;
}

void blk_io_fini(struct blk_io *io)
{
	if (!io->uring)
		return;
	blk_io_drain(io);
	io_uring_queue_exit(&io->ring);
	close(io->efd);
	io->efd = -1;
	io->uring = false;
}

static struct io_uring_sqe *blk_io_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) { /* SQ full: push what is there and retry */
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

/* Prepares r on the ring; false if it must run synchronously instead. */
static bool blk_io_prep(struct blk_io *io, struct blk_req *r)
{
	struct blk_disk *d = io->disk;
	off_t off = (off_t)(r->sector << BLK_SECTOR_SHIFT);
	struct io_uring_sqe *sqe;
	int mode;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (!blk_disk_direct_ok(d, r))
			return false;
		break;
	case VIRTIO_BLK_T_FLUSH:
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		/* One segment through the ring; several (rare) synchronously. */
		if (r->nseg != 1 || !r->seg[0].num_sectors)
			return false;
		break;
	default: /* GET_ID: a copy, no I/O */
		return false;
	}
	sqe = blk_io_sqe(&io->ring);
	if (!sqe)
		return false;
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		io_uring_prep_readv(sqe, d->fd, r->iov, r->niov, off);
		break;
	case VIRTIO_BLK_T_OUT:
		io_uring_prep_writev(sqe, d->fd, r->iov, r->niov, off);
		break;
	case VIRTIO_BLK_T_FLUSH:
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
		break;
	default:
		if (r->type == VIRTIO_BLK_T_DISCARD ||
		    (r->seg[0].flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		else
			mode = FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
		io_uring_prep_fallocate(sqe, d->fd, mode,
					(off_t)(r->seg[0].sector << BLK_SECTOR_SHIFT),
					(off_t)r->seg[0].num_sectors << BLK_SECTOR_SHIFT);
		break;
	}
	io_uring_sqe_set_data(sqe, r);
	io->queued++;
	io->inflight++;
	return true;
}

bool blk_io_submit(struct blk_io *io, struct blk_req *r)
{
	if (io->uring && blk_io_prep(io, r))
		return true;
	io->done(io, r, blk_disk_exec(io->disk, r));
	return false;
}

void blk_io_flush(struct blk_io *io)
{
	if (io->uring && io->queued) {
		io_uring_submit(&io->ring);
		io->queued = 0;
	}
}

/* A ring completion: short transfers and unsupported fallocate modes finish synchronously. */
static void blk_io_complete(struct blk_io *io, struct blk_req *r, int res)
{
	uint8_t st;

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (res < 0)
			st = VIRTIO_BLK_S_IOERR;
		else if ((uint64_t)res < r->len)
			st = blk_disk_rw(io->disk, r, (uint64_t)res);
		else
			st = VIRTIO_BLK_S_OK;
		break;
	case VIRTIO_BLK_T_FLUSH:
		st = res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
		break;
	default: /* discard / write-zeroes: the synchronous path knows the fallbacks */
		st = res < 0 ? blk_disk_dwz(io->disk, r) : VIRTIO_BLK_S_OK;
		break;
	}
	io->done(io, r, st);
}

unsigned int blk_io_reap(struct blk_io *io)
{
	struct io_uring_cqe *cqe;
	unsigned int n = 0;
	uint64_t v;

	if (!io->uring)
		return 0;
	/*
	 * Completions of buffered reads that waited for the disk are task work
	 * of this thread, run when it enters the kernel: a thread that polls
	 * in user space must enter it, or they wait for the next interrupt.
	 */
	if (io->inflight && !io_uring_cq_ready(&io->ring))
		io_uring_get_events(&io->ring);
	if (read(io->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("blk: eventfd read: %s\n", strerror(errno));
	while (io_uring_peek_cqe(&io->ring, &cqe) == 0) {
		struct blk_req *r = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&io->ring, cqe);
		io->inflight--;
		blk_io_complete(io, r, res);
		n++;
	}
	return n;
}

void blk_io_drain(struct blk_io *io)
{
	if (!io->uring)
		return;
	blk_io_flush(io);
	while (io->inflight) {
		struct io_uring_cqe *cqe;
		struct blk_req *r;
		int res, err;

		err = io_uring_wait_cqe(&io->ring, &cqe);
		if (err == -EINTR)
			continue;
		if (err) {
			pr_err("blk: io_uring wait: %s\n", strerror(-err));
			return;
		}
		r = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&io->ring, cqe);
		io->inflight--;
		blk_io_complete(io, r, res);
	}
}
