/* SPDX-License-Identifier: MIT */
/* virtio-pmem requests (virtio 1.2 §5.19.6), apart from the device for tests and fuzzers. */
#ifndef MVM_VIRTIO_PMEM_REQ_H
#define MVM_VIRTIO_PMEM_REQ_H

#include <stdint.h>
#include <sys/uio.h>

#define VIRTIO_PMEM_REQ_TYPE_FLUSH 0
#define VIRTIO_PMEM_RESP_OK	   0
#define VIRTIO_PMEM_RESP_EIO	   1

/*
 * Reads a request's le32 type from the readable buffers and checks that
 * the writable ones can take the le32 answer. 0, or -EINVAL (too short,
 * no room for the answer).
 */
int pmem_req_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		   uint32_t *type);
/* Writes the le32 answer to the chain's first writable bytes; bytes written. */
uint32_t pmem_req_answer(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			 uint32_t ret);

#endif
