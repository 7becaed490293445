// SPDX-License-Identifier: MIT
/* virtio-blk back end: open a raw image, execute requests synchronously. */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/disk.h"
#include "mvm/compiler.h"
#include "mvm/log.h"
#include "mvm/sys.h"

#define BLK_DIRECT_ALIGN 512u

int blk_disk_open(struct blk_disk *d, const struct mvm_disk_config *cfg, unsigned int index)
{
	/* O_NONBLOCK: a FIFO in place of the image is refused below, never waited on. */
	int flags = O_CLOEXEC | O_NONBLOCK | O_NOCTTY | (cfg->read_only ? O_RDONLY : O_RDWR);
	struct stat st;
	int err;

	memset(d, 0, sizeof(*d));
	d->read_only = cfg->read_only;
	d->direct = cfg->cache == MVM_DISK_CACHE_NONE;
	d->sync_io = cfg->io == MVM_DISK_IO_SYNC;
	if (d->direct)
		flags |= O_DIRECT;
	d->fd = mvm_open(cfg->path, flags);
	if (d->fd < 0) {
		err = -errno;
		pr_err("disk %s: %s\n", cfg->path, strerror(errno));
		return err;
	}
	/* fstat cannot fail on an open fd: not a failure point of its own. */
	if (fstat(d->fd, &st) < 0 || !(S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))) {
		pr_err("disk %s: not a regular file or a block device\n", cfg->path);
		err = -EINVAL;
		goto err_close;
	}
	fcntl(d->fd, F_SETFL, fcntl(d->fd, F_GETFL) & ~O_NONBLOCK);
	d->blkdev = S_ISBLK(st.st_mode);
	if (d->blkdev) {
		/* A block device's size: its end (fstat says 0); cannot fail on an open bdev. */
		off_t end = lseek(d->fd, 0, SEEK_END);

		if (end < 0) {
			err = -errno;
			goto err_close;
		}
		d->size = (uint64_t)end;
	} else {
		d->size = (uint64_t)st.st_size;
	}
	d->size = ALIGN_DOWN(d->size, (uint64_t)BLK_SECTOR_SIZE);
	if (cfg->id[0])
		/* 20 bytes, NUL-padded, not NUL-terminated at 20 (virtio 1.2 5.2.6) */
		memcpy(d->id, cfg->id, MIN(strlen(cfg->id), sizeof(d->id)));
	else
		snprintf(d->id, sizeof(d->id), "vd%c", 'a' + (int)(index % 26));
	return 0;

err_close:
	close(d->fd);
	d->fd = -1;
	return err;
}

void blk_disk_close(struct blk_disk *d)
{
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
}

void blk_disk_geom(const struct blk_disk *d, struct blk_geom *g)
{
	g->sectors = d->size >> BLK_SECTOR_SHIFT;
	g->read_only = d->read_only;
	g->discard = !d->read_only;
	g->write_zeroes = !d->read_only;
}

bool blk_disk_direct_ok(const struct blk_disk *d, const struct blk_req *r)
{
	if (!d->direct)
		return true;
	for (unsigned int i = 0; i < r->niov; i++)
		if (!IS_ALIGNED((uintptr_t)r->iov[i].iov_base, BLK_DIRECT_ALIGN) ||
		    !IS_ALIGNED(r->iov[i].iov_len, BLK_DIRECT_ALIGN))
			return false;
	return true;
}

/* Drops the first `done` bytes of iov[0, *n) in place (for resuming a short transfer). */
static struct iovec *iov_advance(struct iovec *iov, unsigned int *n, uint64_t done)
{
	while (*n && done >= iov->iov_len) {
		done -= iov->iov_len;
		iov++;
		(*n)--;
	}
	if (*n && done) {
		iov->iov_base = (uint8_t *)iov->iov_base + done;
		iov->iov_len -= done;
	}
	return iov;
}

#define BLK_BOUNCE_SIZE (1u << 20)

/* O_DIRECT with unaligned guest buffers: through an aligned bounce buffer, 1 MiB at a time. */
static uint8_t blk_disk_rw_bounce(struct blk_disk *d, struct blk_req *r)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	off_t off = (off_t)(r->sector << BLK_SECTOR_SHIFT);
	uint8_t st = VIRTIO_BLK_S_OK;
	uint64_t done = 0;
	uint8_t *buf;

	if (posix_memalign((void **)&buf, 4096, MIN(r->len, (uint64_t)BLK_BOUNCE_SIZE)))
		return VIRTIO_BLK_S_IOERR;
	while (done < r->len && st == VIRTIO_BLK_S_OK) {
		uint64_t chunk = MIN(r->len - done, (uint64_t)BLK_BOUNCE_SIZE), got = 0;

		if (!in)
			blk_iov_gather(r->iov, r->niov, done, buf, chunk);
		while (got < chunk) {
			ssize_t n = in ? pread(d->fd, buf + got, chunk - got, off + done + got)
				       : pwrite(d->fd, buf + got, chunk - got, off + done + got);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				st = VIRTIO_BLK_S_IOERR;
				break;
			}
			got += (uint64_t)n;
		}
		if (in && st == VIRTIO_BLK_S_OK)
			blk_iov_scatter(r->iov, r->niov, done, buf, chunk);
		done += chunk;
	}
	free(buf);
	return st;
}

uint8_t blk_disk_rw(struct blk_disk *d, struct blk_req *r, uint64_t done)
{
	bool in = r->type == VIRTIO_BLK_T_IN;
	off_t off = (off_t)(r->sector << BLK_SECTOR_SHIFT);
	struct iovec *iov = r->iov;
	unsigned int n = r->niov;

	if (!blk_disk_direct_ok(d, r))
		return blk_disk_rw_bounce(d, r);
	/* r->iov is consumed in place: a request is executed once. */
	iov = iov_advance(iov, &n, done);
	while (done < r->len) {
		ssize_t got = in ? preadv(d->fd, iov, (int)n, off + (off_t)done)
				 : pwritev(d->fd, iov, (int)n, off + (off_t)done);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) /* an error, or EOF: the file shrank under us */
			return VIRTIO_BLK_S_IOERR;
		done += (uint64_t)got;
		iov = iov_advance(iov, &n, (uint64_t)got);
	}
	return VIRTIO_BLK_S_OK;
}

static int blk_write_zeroes_slow(struct blk_disk *d, off_t off, uint64_t len)
{
	static const uint8_t zeroes[65536] __attribute__((aligned(4096)));

	while (len) {
		ssize_t n = pwrite(d->fd, zeroes, MIN(len, sizeof(zeroes)), off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		off += n;
		len -= (uint64_t)n;
	}
	return 0;
}

static uint8_t blk_disk_dwz_one(struct blk_disk *d, bool discard, const struct blk_dwz_seg *s)
{
	off_t off = (off_t)(s->sector << BLK_SECTOR_SHIFT);
	off_t len = (off_t)s->num_sectors << BLK_SECTOR_SHIFT;

	if (!len)
		return VIRTIO_BLK_S_OK;
	if (discard) {
		/* Discard is a hint (virtio 1.2 5.2.6.2): unsupported is not an error. */
		if (fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) &&
		    errno != EOPNOTSUPP)
			return VIRTIO_BLK_S_IOERR;
		return VIRTIO_BLK_S_OK;
	}
	/* Write-zeroes must read back as zeroes: punch (if allowed), zero-range, or write. */
	if ((s->flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) &&
	    !fallocate(d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len))
		return VIRTIO_BLK_S_OK;
	if (!fallocate(d->fd, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, off, len))
		return VIRTIO_BLK_S_OK;
	if (errno != EOPNOTSUPP && errno != EINVAL)
		return VIRTIO_BLK_S_IOERR;
	return blk_write_zeroes_slow(d, off, (uint64_t)len) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
}

uint8_t blk_disk_dwz(struct blk_disk *d, struct blk_req *r)
{
	for (unsigned int i = 0; i < r->nseg; i++) {
		uint8_t st = blk_disk_dwz_one(d, r->type == VIRTIO_BLK_T_DISCARD, &r->seg[i]);

		if (st != VIRTIO_BLK_S_OK)
			return st;
	}
	return VIRTIO_BLK_S_OK;
}

uint8_t blk_disk_exec(struct blk_disk *d, struct blk_req *r)
{
	switch (r->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		return blk_disk_rw(d, r, 0);
	case VIRTIO_BLK_T_FLUSH:
		return fdatasync(d->fd) ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		blk_iov_scatter(r->iov, r->niov, 0, d->id, r->len);
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		return blk_disk_dwz(d, r);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}
