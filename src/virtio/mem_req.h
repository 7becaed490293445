/* SPDX-License-Identifier: MIT */
/*
 * virtio-mem requests (virtio 1.2 §5.15.6) against the device's block state,
 * apart from the device so that unit tests and fuzzers reach them: the
 * request is copied out and checked (aligned, inside the usable region,
 * plugged or not as the request needs), then applied to a bitmap of
 * plugged blocks. Memory is given back by the caller (the range to discard).
 */
#ifndef MVM_VIRTIO_MEM_REQ_H
#define MVM_VIRTIO_MEM_REQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_MEM_REQ_PLUG	  0
#define VIRTIO_MEM_REQ_UNPLUG	  1
#define VIRTIO_MEM_REQ_UNPLUG_ALL 2
#define VIRTIO_MEM_REQ_STATE	  3

#define VIRTIO_MEM_RESP_ACK   0
#define VIRTIO_MEM_RESP_NACK  1
#define VIRTIO_MEM_RESP_BUSY  2
#define VIRTIO_MEM_RESP_ERROR 3

#define VIRTIO_MEM_STATE_PLUGGED   0
#define VIRTIO_MEM_STATE_UNPLUGGED 1
#define VIRTIO_MEM_STATE_MIXED	   2

#define VIRTIO_MEM_REQ_SIZE  24 /* le16 type, 6 padding, le64 addr, le16 nb_blocks, 6 padding */
#define VIRTIO_MEM_RESP_SIZE 10 /* le16 type, 6 padding, le16 state */

struct vmem_req {
	uint16_t type;
	uint64_t addr;
	uint16_t nb_blocks;
};

/* The device's region and which of its blocks are plugged. */
struct vmem_blocks {
	uint64_t addr;	     /* guest-physical start of the region */
	uint64_t block_size; /* a power of two */
	uint64_t usable;     /* bytes of the region the guest may plug */
	uint64_t requested;  /* bytes the host wants plugged */
	uint64_t plugged;    /* bytes plugged */
	uint64_t *bits;	     /* usable / block_size bits */
};

/* What a request did: the answer, and a range of the region to give back. */
struct vmem_result {
	uint16_t resp;
	uint16_t state;	      /* STATE requests */
	uint64_t discard_off; /* from the region's start */
	uint64_t discard_len; /* 0: nothing */
};

/* Copies and checks the request's shape. 0, or -EINVAL (short, or no room for the answer). */
int vmem_req_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		   struct vmem_req *r);
/* Applies r to b. Never fails: a bad request is answered ERROR (or NACK). */
void vmem_req_exec(struct vmem_blocks *b, const struct vmem_req *r, struct vmem_result *res);
/* Writes the answer to the writable buffers; bytes written. */
uint32_t vmem_resp_write(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			 const struct vmem_result *res);

#endif
