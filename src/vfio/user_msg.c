// SPDX-License-Identifier: MIT
/* The vfio-user message codec (src/vfio/user_msg.h). */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "vfio/user_msg.h"

#define REGION_INFO_SIZE 32 /* argsz, flags, index, cap_offset, size, offset */
#define IRQ_INFO_SIZE	 16
#define IRQ_SET_SIZE	 20
#define ACCESS_SIZE	 16 /* offset, region, count */
#define DMA_MAP_SIZE	 32
#define DMA_UNMAP_SIZE	 24
#define DMA_ACCESS_SIZE	 16 /* addr, count */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) | (uint32_t)get16(p + 2) << 16;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

int vfu_hdr_decode(const void *buf, struct vfu_hdr *h, size_t max)
{
	const uint8_t *p = buf;

	h->msg_id = get16(p);
	h->cmd = get16(p + 2);
	h->size = get32(p + 4);
	h->flags = get32(p + 8);
	h->error = get32(p + 12);
	return h->size < VFU_HDR_SIZE || h->size > max ? -EPROTO : 0;
}

void vfu_hdr_encode(void *buf, const struct vfu_hdr *h)
{
	uint8_t *p = buf;

	put16(p, h->msg_id);
	put16(p + 2, h->cmd);
	put32(p + 4, h->size);
	put32(p + 8, h->flags);
	put32(p + 12, h->error);
}

/* Header of a command of `len` payload bytes; the payload's start, or NULL if it does not fit. */
static uint8_t *start(void *buf, size_t cap, uint16_t id, enum vfu_cmd cmd, size_t len)
{
	struct vfu_hdr h = { id, (uint16_t)cmd, (uint32_t)(VFU_HDR_SIZE + len), VFU_TYPE_COMMAND,
			     0 };

	if (len > VFU_MAX_MSG || cap < VFU_HDR_SIZE + len)
		return NULL;
	vfu_hdr_encode(buf, &h);
	return (uint8_t *)buf + VFU_HDR_SIZE;
}

#define BUILT(len) ((int)(VFU_HDR_SIZE + (len)))

int vfu_build_version(void *buf, size_t cap, uint16_t id)
{
	char json[128];
	int n = snprintf(json, sizeof(json),
			 "{\"capabilities\":{\"max_msg_fds\":%u,\"max_data_xfer_size\":%u}}",
			 VFU_MAX_FDS, VFU_MAX_XFER);
	size_t len = 4 + (size_t)n + 1;
	uint8_t *p = start(buf, cap, id, VFU_VERSION, len);

	if (!p)
		return -ENOSPC;
	put16(p, VFU_MAJOR);
	put16(p + 2, VFU_MINOR);
	memcpy(p + 4, json, (size_t)n + 1);
	return BUILT(len);
}

int vfu_build_simple(void *buf, size_t cap, uint16_t id, enum vfu_cmd cmd)
{
	return start(buf, cap, id, cmd, 0) ? BUILT(0) : -ENOSPC;
}

int vfu_build_device_info(void *buf, size_t cap, uint16_t id)
{
	uint8_t *p = start(buf, cap, id, VFU_DEVICE_GET_INFO, 16);

	if (!p)
		return -ENOSPC;
	memset(p, 0, 16);
	put32(p, 16);
	return BUILT(16);
}

int vfu_build_region_info(void *buf, size_t cap, uint16_t id, uint32_t index, uint32_t argsz)
{
	uint8_t *p = start(buf, cap, id, VFU_DEVICE_GET_REGION_INFO, REGION_INFO_SIZE);

	if (!p)
		return -ENOSPC;
	memset(p, 0, REGION_INFO_SIZE);
	put32(p, argsz < REGION_INFO_SIZE ? REGION_INFO_SIZE : argsz);
	put32(p + 8, index);
	return BUILT(REGION_INFO_SIZE);
}

int vfu_build_irq_info(void *buf, size_t cap, uint16_t id, uint32_t index)
{
	uint8_t *p = start(buf, cap, id, VFU_DEVICE_GET_IRQ_INFO, IRQ_INFO_SIZE);

	if (!p)
		return -ENOSPC;
	memset(p, 0, IRQ_INFO_SIZE);
	put32(p, IRQ_INFO_SIZE);
	put32(p + 8, index);
	return BUILT(IRQ_INFO_SIZE);
}

int vfu_build_set_irqs(void *buf, size_t cap, uint16_t id, uint32_t index, uint32_t start_,
		       uint32_t count, uint32_t flags)
{
	uint8_t *p = start(buf, cap, id, VFU_DEVICE_SET_IRQS, IRQ_SET_SIZE);

	if (!p)
		return -ENOSPC;
	put32(p, IRQ_SET_SIZE);
	put32(p + 4, flags);
	put32(p + 8, index);
	put32(p + 12, start_);
	put32(p + 16, count);
	return BUILT(IRQ_SET_SIZE);
}

int vfu_build_region_access(void *buf, size_t cap, uint16_t id, bool write, uint32_t region,
			    uint64_t off, const void *data, uint32_t count)
{
	size_t len = ACCESS_SIZE + (write ? count : 0);
	uint8_t *p;

	if (count > VFU_MAX_XFER)
		return -EINVAL;
	p = start(buf, cap, id, write ? VFU_REGION_WRITE : VFU_REGION_READ, len);
	if (!p)
		return -ENOSPC;
	put64(p, off);
	put32(p + 8, region);
	put32(p + 12, count);
	if (write)
		memcpy(p + ACCESS_SIZE, data, count);
	return BUILT(len);
}

int vfu_build_dma_map(void *buf, size_t cap, uint16_t id, uint64_t iova, uint64_t size,
		      uint64_t fd_off, uint32_t flags)
{
	uint8_t *p = start(buf, cap, id, VFU_DMA_MAP, DMA_MAP_SIZE);

	if (!p)
		return -ENOSPC;
	put32(p, DMA_MAP_SIZE);
	put32(p + 4, flags);
	put64(p + 8, fd_off);
	put64(p + 16, iova);
	put64(p + 24, size);
	return BUILT(DMA_MAP_SIZE);
}

int vfu_build_dma_unmap(void *buf, size_t cap, uint16_t id, uint64_t iova, uint64_t size)
{
	uint8_t *p = start(buf, cap, id, VFU_DMA_UNMAP, DMA_UNMAP_SIZE);

	if (!p)
		return -ENOSPC;
	put32(p, DMA_UNMAP_SIZE);
	put32(p + 4, 0);
	put64(p + 8, iova);
	put64(p + 16, size);
	return BUILT(DMA_UNMAP_SIZE);
}

int vfu_build_dma_reply(void *buf, size_t cap, const struct vfu_hdr *req,
			const struct vfu_dma_req *d, const void *data, uint32_t error)
{
	size_t len = error ? 0 : DMA_ACCESS_SIZE + (data ? d->count : 0);
	struct vfu_hdr h = { req->msg_id, req->cmd, (uint32_t)(VFU_HDR_SIZE + len),
			     VFU_TYPE_REPLY | (error ? VFU_F_ERROR : 0), error };
	uint8_t *p = (uint8_t *)buf + VFU_HDR_SIZE;

	if (len > VFU_MAX_MSG || cap < VFU_HDR_SIZE + len)
		return -ENOSPC;
	vfu_hdr_encode(buf, &h);
	if (len) {
		put64(p, d->addr);
		put64(p + 8, d->count);
		if (data)
			memcpy(p + DMA_ACCESS_SIZE, data, d->count);
	}
	return BUILT(len);
}

/* ---- what the server sends ---- */

bool vfu_reply_matches(const struct vfu_hdr *h, uint16_t id, uint16_t cmd)
{
	return (h->flags & VFU_TYPE_MASK) == VFU_TYPE_REPLY && h->msg_id == id && h->cmd == cmd;
}

int vfu_reply_status(const struct vfu_msg *m, unsigned int max_fds)
{
	if (m->nfds > max_fds)
		return -EPROTO;
	if (m->hdr.flags & VFU_F_ERROR)
		return m->hdr.error && m->hdr.error < 4096 ? -(int)m->hdr.error : -EIO;
	return 0;
}

/* A JSON unsigned integer field of o, or def when absent; false if present but not one. */
static bool json_uint(json_t *o, const char *key, uint64_t def, uint64_t *out)
{
	json_t *v = json_object_get(o, key);

	if (!v) {
		*out = def;
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return false;
	*out = (uint64_t)json_integer_value(v);
	return true;
}

int vfu_parse_version(const struct vfu_msg *m, struct vfu_caps *caps)
{
	uint64_t fds, xfer, pgsizes;
	json_t *root = NULL, *c = NULL;
	size_t jlen;
	int err = 0;

	if (m->len < 4 || m->nfds)
		return -EPROTO;
	caps->major = get16(m->payload);
	caps->minor = get16(m->payload + 2);
	if (caps->major != VFU_MAJOR)
		return -EPROTONOSUPPORT;
	jlen = strnlen((const char *)m->payload + 4, m->len - 4);
	if (jlen) {
		root = json_loadb((const char *)m->payload + 4, jlen, JSON_REJECT_DUPLICATES, NULL);
		if (!json_is_object(root)) {
			err = -EPROTO;
			goto out;
		}
		c = json_object_get(root, "capabilities");
		if (c && !json_is_object(c)) {
			err = -EPROTO;
			goto out;
		}
	}
	if (!json_uint(c, "max_msg_fds", 1, &fds) ||
	    !json_uint(c, "max_data_xfer_size", VFU_MAX_XFER, &xfer) ||
	    !json_uint(c, "pgsizes", 4096, &pgsizes) || xfer < 8 || !(pgsizes & 4096)) {
		err = -EPROTO;
		goto out;
	}
	caps->max_msg_fds = fds > VFU_MAX_FDS ? VFU_MAX_FDS : (uint32_t)fds;
	caps->max_data_xfer = xfer > VFU_MAX_XFER ? VFU_MAX_XFER : (uint32_t)xfer;
	caps->pgsizes = pgsizes;
out:
	json_decref(root);
	return err;
}

int vfu_parse_device_info(const struct vfu_msg *m, uint32_t *num_regions, uint32_t *num_irqs)
{
	if (m->len < 16 || m->nfds)
		return -EPROTO;
	*num_regions = get32(m->payload + 8);
	*num_irqs = get32(m->payload + 12);
	/* A PCI device has at most these; more is a server we do not understand. */
	if (*num_regions > 64 || *num_irqs > 64)
		return -EPROTO;
	return 0;
}

int vfu_parse_region_info(const struct vfu_msg *m, uint32_t index, struct vfio_region *r,
			  uint32_t *argsz_needed)
{
	const uint8_t *p = m->payload;
	uint32_t argsz, cap_off;
	int err;

	*argsz_needed = 0;
	if (m->len < REGION_INFO_SIZE || m->nfds > 1 || get32(p + 8) != index)
		return -EPROTO;
	argsz = get32(p);
	if (argsz > m->len) {
		/* Too small a buffer: ask again with what the server wants. */
		if (argsz > 4096)
			return -EPROTO;
		*argsz_needed = argsz;
		return 0;
	}
	r->flags = get32(p + 4) & (VFIO_RF_READ | VFIO_RF_WRITE | VFIO_RF_MMAP);
	cap_off = get32(p + 12);
	r->size = get64(p + 16);
	r->offset = get64(p + 24);
	r->nr_areas = 0;
	r->fd = -1;
	if (r->size > VFIO_MAX_REGION || r->offset > (1ULL << 62))
		return -EPROTO;
	err = vfio_region_caps_parse(m->payload, m->len, cap_off, REGION_INFO_SIZE, r);
	if (err)
		return err;
	if (!m->nfds) {
		r->flags &= ~VFIO_RF_MMAP; /* nothing to map it from */
		r->nr_areas = 0;
	} else if (r->flags & VFIO_RF_MMAP) {
		r->fd = m->fds[0];
		if (!r->nr_areas) {
			/* No sparse list: the whole region maps, if it is whole pages. */
			if (r->size && !(r->size & 4095)) {
				r->nr_areas = 1;
				r->areas[0].off = 0;
				r->areas[0].size = r->size;
			}
		}
	}
	return vfio_areas_valid(r) ? 0 : -EPROTO;
}

int vfu_parse_irq_info(const struct vfu_msg *m, uint32_t index, uint32_t *count)
{
	if (m->len < IRQ_INFO_SIZE || m->nfds || get32(m->payload + 8) != index)
		return -EPROTO;
	*count = get32(m->payload + 12);
	return *count > 2048 ? -EPROTO : 0;
}

int vfu_parse_region_read(const struct vfu_msg *m, uint32_t region, uint64_t off, void *out,
			  uint32_t count)
{
	if (m->nfds || m->len != (size_t)ACCESS_SIZE + count || get64(m->payload) != off ||
	    get32(m->payload + 8) != region || get32(m->payload + 12) != count)
		return -EPROTO;
	memcpy(out, m->payload + ACCESS_SIZE, count);
	return 0;
}

int vfu_parse_dma_req(const struct vfu_msg *m, struct vfu_dma_req *d, uint32_t max_xfer)
{
	if ((m->hdr.flags & VFU_TYPE_MASK) != VFU_TYPE_COMMAND || m->nfds ||
	    (m->hdr.cmd != VFU_DMA_READ && m->hdr.cmd != VFU_DMA_WRITE) || m->len < DMA_ACCESS_SIZE)
		return -EPROTO;
	d->addr = get64(m->payload);
	d->count = get64(m->payload + 8);
	d->data = m->payload + DMA_ACCESS_SIZE;
	if (d->count > max_xfer || d->addr + d->count < d->addr)
		return -EPROTO;
	if (m->hdr.cmd == VFU_DMA_WRITE ? m->len - DMA_ACCESS_SIZE != d->count
					: m->len != DMA_ACCESS_SIZE)
		return -EPROTO;
	return 0;
}
