/* SPDX-License-Identifier: MIT */
/*
 * A virtio-blk back end: a raw image (regular file or block device) and the
 * synchronous executor of parsed requests, used by the fallback engine and
 * by the io_uring engine for what it does not submit itself.
 */
#ifndef MVM_BLOCK_DISK_H
#define MVM_BLOCK_DISK_H

#include <stdbool.h>
#include <stdint.h>

#include "virtio/blk_req.h"
#include "block/disk_config.h"

struct blk_disk {
	int fd;
	uint64_t size;	       /* bytes; the tail beyond the last whole sector is not exposed */
	bool read_only;	       /* opened O_RDONLY, VIRTIO_BLK_F_RO */
	bool direct;	       /* O_DIRECT (cache=none) */
	bool blkdev;	       /* a block device, not a regular file */
	bool sync_io;	       /* the synchronous engine is forced */
	char id[BLK_ID_BYTES]; /* serial for GET_ID, NUL-padded */
};

/* Opens cfg->path (create path, faultable). 0 or -errno; nothing held on error. */
int blk_disk_open(struct blk_disk *d, const struct mvm_disk_config *cfg, unsigned int index);
void blk_disk_close(struct blk_disk *d);
/* What the parser checks requests against. */
void blk_disk_geom(const struct blk_disk *d, struct blk_geom *g);

/* Executes r (parsed OK) synchronously; the VIRTIO_BLK_S_* status. */
uint8_t blk_disk_exec(struct blk_disk *d, struct blk_req *r);
/* Parts of it, for the io_uring engine's fallbacks. */
uint8_t blk_disk_rw(struct blk_disk *d, struct blk_req *r, uint64_t done);
uint8_t blk_disk_dwz(struct blk_disk *d, struct blk_req *r);
/* True when the buffers of r can go to an O_DIRECT fd as they are. */
bool blk_disk_direct_ok(const struct blk_disk *d, const struct blk_req *r);

#endif
