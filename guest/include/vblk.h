/* SPDX-License-Identifier: MIT */
/* Guest kit: virtio-blk requests on top of the virtio driver (virtio.h). */
#ifndef GUEST_VBLK_H
#define GUEST_VBLK_H

#include "virtio.h"

#define VIRTIO_BLK_F_SIZE_MAX	  1
#define VIRTIO_BLK_F_SEG_MAX	  2
#define VIRTIO_BLK_F_RO		  5
#define VIRTIO_BLK_F_BLK_SIZE	  6
#define VIRTIO_BLK_F_FLUSH	  9
#define VIRTIO_BLK_F_MQ		  12
#define VIRTIO_BLK_F_DISCARD	  13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN		  0
#define VIRTIO_BLK_T_OUT	  1
#define VIRTIO_BLK_T_FLUSH	  4
#define VIRTIO_BLK_T_GET_ID	  8
#define VIRTIO_BLK_T_DISCARD	  11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK	    0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2
#define VBLK_NO_ANSWER	    0xff /* nothing came back on the used ring */

/* config space offsets */
#define VBLK_CFG_CAPACITY	     0
#define VBLK_CFG_SIZE_MAX	     8
#define VBLK_CFG_SEG_MAX	     12
#define VBLK_CFG_BLK_SIZE	     20
#define VBLK_CFG_NUM_QUEUES	     34
#define VBLK_CFG_MAX_DISCARD_SECTORS 36

struct vblk_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

struct vblk_dwz {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* One in-flight request slot per descriptor head. */
struct vblk_slot {
	struct vblk_hdr hdr;
	struct vblk_dwz dwz;
	uint8_t status;
	uint8_t pad[7];
};

struct vblk_queue {
	struct vq vq;
	struct vblk_slot *slots; /* indexed by head */
	unsigned int inflight;
};

struct vblk {
	struct vdev v;
	uint64_t capacity; /* sectors */
	unsigned int nq;
	struct vblk_queue q[4];
};

/* Opens the index-th virtio-blk, sets up min(nq, device's) queues of `size`. 0 or <0. */
int vblk_open(struct vblk *b, unsigned int index, unsigned int nq, uint16_t size, uint64_t want);
/* Submits without waiting. The head (the slot's index), or -1 if the queue is full. */
int vblk_submit(struct vblk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len);
/* Waits for one completion: its head, the status in *status (VBLK_NO_ANSWER after spins). */
int vblk_reap(struct vblk_queue *q, uint8_t *status, uint32_t *len);
/* Submit and wait: the status. */
uint8_t vblk_io(struct vblk_queue *q, uint32_t type, uint64_t sector, void *buf, uint32_t len);
/* Discard / write-zeroes of one range: the status. */
uint8_t vblk_dwz(struct vblk_queue *q, uint32_t type, uint64_t sector, uint32_t n, uint32_t flags);

#endif
