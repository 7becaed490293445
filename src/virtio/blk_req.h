/* SPDX-License-Identifier: MIT */
/*
 * virtio-blk requests: the parser that turns one popped descriptor chain
 * (untrusted, DESIGN.md §4) into a request the I/O engine can execute.
 *
 * A chain is: a 16-byte device-readable header (type, reserved, sector),
 * then data (device-readable for writes/discard/write-zeroes, device-writable
 * for reads/get-id), then one device-writable status byte, the last byte of
 * the chain. Buffers may be split anywhere, the header and status included.
 * The parser never trusts a length: every limit is checked here, so the
 * engine only does the I/O.
 */
#ifndef MVM_VIRTIO_BLK_REQ_H
#define MVM_VIRTIO_BLK_REQ_H

#include <linux/virtio_blk.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mvm/virtio.h"

#define BLK_SECTOR_SHIFT 9
#define BLK_SECTOR_SIZE	 512u
/* Data segments per request (config seg_max); the chain may hold 2 more (header, status). */
#define BLK_SEG_MAX 254
/* Bytes per data segment (config size_max) and per request. */
#define BLK_SIZE_MAX (1u << 20)
/*
 * virtio-blk has no transfer-size field: Linux sends up to seg_max * size_max
 * when max_sectors_kb is raised, so that is the only limit.
 */
#define BLK_REQ_BYTES_MAX ((uint64_t)BLK_SEG_MAX * BLK_SIZE_MAX)
/* Discard/write-zeroes: segments per request and sectors per segment. */
#define BLK_DWZ_SEG_MAX	    8
#define BLK_DWZ_SECTORS_MAX (1u << 22) /* 2 GiB */
#define BLK_ID_BYTES	    VIRTIO_BLK_ID_BYTES

/* What the parser needs to know about the disk. */
struct blk_geom {
	uint64_t sectors; /* capacity in 512-byte sectors */
	bool read_only;
	bool discard;	   /* VIRTIO_BLK_F_DISCARD offered */
	bool write_zeroes; /* VIRTIO_BLK_F_WRITE_ZEROES offered */
};

struct blk_dwz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags; /* VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP */
};

struct blk_req {
	uint16_t head;	   /* the chain's head, for the used ring */
	uint32_t type;	   /* VIRTIO_BLK_T_* */
	uint64_t sector;   /* first sector (IN/OUT) */
	uint64_t len;	   /* data bytes (IN/OUT/GET_ID) */
	uint8_t *status;   /* host pointer to the status byte (NULL: no status byte) */
	uint32_t written;  /* bytes the device writes into the chain on success, status included */
	unsigned int niov; /* data segments: IN/OUT/GET_ID */
	struct iovec iov[BLK_SEG_MAX];
	unsigned int nseg; /* DISCARD/WRITE_ZEROES segments */
	struct blk_dwz_seg seg[BLK_DWZ_SEG_MAX];
};

/*
 * Parses chain c against geom into r. Returns:
 *   VIRTIO_BLK_S_OK      r is ready for the engine;
 *   VIRTIO_BLK_S_IOERR / VIRTIO_BLK_S_UNSUPP  the request must fail with this
 *                        status (r->status points at the status byte);
 *   -EINVAL              the chain has no writable status byte: nothing can be
 *                        answered, the caller pushes it with 0 bytes written.
 * r->head and r->written are set in every case (written = 0 for -EINVAL,
 * 1 for an error status).
 */
int blk_req_parse(const struct virtq_chain *c, const struct blk_geom *geom, struct blk_req *r);

/* Copies between request buffers and a flat buffer (the range was checked). */
void blk_iov_gather(const struct iovec *iov, unsigned int n, uint64_t off, void *buf, uint64_t len);
void blk_iov_scatter(const struct iovec *iov, unsigned int n, uint64_t off, const void *buf,
		     uint64_t len);

/* Sets the status byte (if any) and returns the used length to push. */
uint32_t blk_req_complete(struct blk_req *r, uint8_t status);

#endif
