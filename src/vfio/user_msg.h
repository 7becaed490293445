/* SPDX-License-Identifier: MIT */
/*
 * The vfio-user message codec (QEMU's docs/devel/vfio-user.rst): building
 * the client's requests and checking what the server sends. No sockets
 * here (src/vfio/user.c moves the bytes and fds), so that every parser can
 * be unit-tested and fuzzed (fuzz/vfio_user_msg.c). Everything the server
 * sends is untrusted: each parser checks sizes, counts, indexes and the fds
 * that came with the message, and answers -EPROTO (or -EINVAL) otherwise.
 */
#ifndef MVM_VFIO_USER_MSG_H
#define MVM_VFIO_USER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vfio/vfio.h"

enum vfu_cmd {
	VFU_VERSION = 1,
	VFU_DMA_MAP = 2,
	VFU_DMA_UNMAP = 3,
	VFU_DEVICE_GET_INFO = 4,
	VFU_DEVICE_GET_REGION_INFO = 5,
	VFU_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_DEVICE_GET_IRQ_INFO = 7,
	VFU_DEVICE_SET_IRQS = 8,
	VFU_REGION_READ = 9,
	VFU_REGION_WRITE = 10,
	VFU_DMA_READ = 11,
	VFU_DMA_WRITE = 12,
	VFU_DEVICE_RESET = 13,
	VFU_CMD_MAX,
};

#define VFU_TYPE_COMMAND 0
#define VFU_TYPE_REPLY	 1
#define VFU_TYPE_MASK	 0xf
#define VFU_F_NO_REPLY	 0x10
#define VFU_F_ERROR	 0x20

#define VFU_MAJOR	       0
#define VFU_MINOR	       1
#define VFU_HDR_SIZE	       16
#define VFU_MAX_FDS	       8	  /* fds we take with one message */
#define VFU_MAX_XFER	       (1u << 20) /* our largest data transfer */
#define VFU_MAX_MSG	       (VFU_MAX_XFER + 64)
#define VFU_DMA_F_READ	       1u
#define VFU_DMA_F_WRITE	       2u
#define VFU_IRQ_DATA_NONE      (1u << 0)
#define VFU_IRQ_DATA_EVENTFD   (1u << 2)
#define VFU_IRQ_ACTION_UNMASK  (1u << 4)
#define VFU_IRQ_ACTION_TRIGGER (1u << 5)

struct vfu_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t size; /* of the whole message, header included */
	uint32_t flags;
	uint32_t error;
};

/* A received message: header, payload (size - 16 bytes) and the fds that came with it. */
struct vfu_msg {
	struct vfu_hdr hdr;
	const uint8_t *payload;
	size_t len;
	const int *fds;
	unsigned int nfds;
};

/* What the server's VERSION reply says. */
struct vfu_caps {
	uint16_t major, minor;
	uint32_t max_msg_fds;
	uint32_t max_data_xfer;
	uint64_t pgsizes;
};

/* A server's DMA_READ / DMA_WRITE request. */
struct vfu_dma_req {
	uint64_t addr;
	uint64_t count;
	const uint8_t *data; /* DMA_WRITE: count bytes */
};

/* Decodes a header from 16 bytes; -EPROTO if its size is out of [16, max]. */
int vfu_hdr_decode(const void *buf, struct vfu_hdr *h, size_t max);
/* Encodes header fields into buf[0..15]. */
void vfu_hdr_encode(void *buf, const struct vfu_hdr *h);

/*
 * Request builders: the whole message (header included) into buf of cap
 * bytes; its length, or -ENOSPC.
 */
int vfu_build_version(void *buf, size_t cap, uint16_t id);
int vfu_build_simple(void *buf, size_t cap, uint16_t id, enum vfu_cmd cmd);
int vfu_build_device_info(void *buf, size_t cap, uint16_t id);
int vfu_build_region_info(void *buf, size_t cap, uint16_t id, uint32_t index, uint32_t argsz);
int vfu_build_irq_info(void *buf, size_t cap, uint16_t id, uint32_t index);
/* flags: VFU_IRQ_DATA_* | VFU_IRQ_ACTION_* */
int vfu_build_set_irqs(void *buf, size_t cap, uint16_t id, uint32_t index, uint32_t start,
		       uint32_t count, uint32_t flags);
int vfu_build_region_access(void *buf, size_t cap, uint16_t id, bool write, uint32_t region,
			    uint64_t off, const void *data, uint32_t count);
int vfu_build_dma_map(void *buf, size_t cap, uint16_t id, uint64_t iova, uint64_t size,
		      uint64_t fd_off, uint32_t flags);
int vfu_build_dma_unmap(void *buf, size_t cap, uint16_t id, uint64_t iova, uint64_t size);
/* Our reply to a server's DMA_READ (data: count bytes) or DMA_WRITE (data NULL). */
int vfu_build_dma_reply(void *buf, size_t cap, const struct vfu_hdr *req,
			const struct vfu_dma_req *d, const void *data, uint32_t error);

/*
 * Reply checks: m is a reply (type, id and command already matched by
 * vfu_reply_matches). 0 or -EPROTO; an error reply gives -error.
 */
bool vfu_reply_matches(const struct vfu_hdr *h, uint16_t id, uint16_t cmd);
int vfu_reply_status(const struct vfu_msg *m, unsigned int max_fds);
int vfu_parse_version(const struct vfu_msg *m, struct vfu_caps *caps);
int vfu_parse_device_info(const struct vfu_msg *m, uint32_t *num_regions, uint32_t *num_irqs);
/*
 * A region's info, its sparse mmap capability and its fd (the first fd, if
 * any; the region is mmap-able only with one). *argsz_needed: the size the
 * server wants when its answer did not fit (then r is not filled).
 */
int vfu_parse_region_info(const struct vfu_msg *m, uint32_t index, struct vfio_region *r,
			  uint32_t *argsz_needed);
int vfu_parse_irq_info(const struct vfu_msg *m, uint32_t index, uint32_t *count);
/* A REGION_READ reply: count bytes of data for (region, off) into out. */
int vfu_parse_region_read(const struct vfu_msg *m, uint32_t region, uint64_t off, void *out,
			  uint32_t count);
/* A server command: DMA_READ or DMA_WRITE, checked against max_xfer. */
int vfu_parse_dma_req(const struct vfu_msg *m, struct vfu_dma_req *d, uint32_t max_xfer);

#endif
