// SPDX-License-Identifier: MIT
/* virtio-blk request parser: one untrusted chain in, one checked request out. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio/blk_req.h"
#include "mvm/compiler.h"

/* Bytes in iov[0, n). Lengths come from 32-bit descriptor lengths: no overflow in 64 bits. */
static uint64_t iov_bytes(const struct iovec *iov, unsigned int n)
{
	uint64_t sum = 0;

	for (unsigned int i = 0; i < n; i++)
		sum += iov[i].iov_len;
	return sum;
}

void blk_iov_scatter(const struct iovec *iov, unsigned int n, uint64_t off, const void *buf,
		     uint64_t len)
{
	const uint8_t *src = buf;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = MIN(l - off, len);
		memcpy((uint8_t *)iov[i].iov_base + off, src, l);
		src += l;
		len -= l;
		off = 0;
	}
}

/* Copies len bytes starting at byte off of iov[0, n) into buf; the caller checked the range. */
void blk_iov_gather(const struct iovec *iov, unsigned int n, uint64_t off, void *buf, uint64_t len)
{
	uint8_t *dst = buf;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = MIN(l - off, len);
		memcpy(dst, (uint8_t *)iov[i].iov_base + off, l);
		dst += l;
		len -= l;
		off = 0;
	}
}

/*
 * Describes bytes [off, off + len) of iov[0, n) as r->iov (empty segments
 * dropped). 0, or -E2BIG if it needs more than BLK_SEG_MAX segments or one is
 * longer than BLK_SIZE_MAX.
 */
static int iov_slice(const struct iovec *iov, unsigned int n, uint64_t off, uint64_t len,
		     struct blk_req *r)
{
	r->niov = 0;
	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l = MIN(l - off, len);
		if (r->niov == BLK_SEG_MAX || l > BLK_SIZE_MAX)
			return -E2BIG;
		r->iov[r->niov].iov_base = (uint8_t *)iov[i].iov_base + off;
		r->iov[r->niov].iov_len = l;
		r->niov++;
		len -= l;
		off = 0;
	}
	return 0;
}

/* sector + sectors <= capacity, without overflow. */
static bool blk_range_ok(const struct blk_geom *g, uint64_t sector, uint64_t sectors)
{
	return sector <= g->sectors && sectors <= g->sectors - sector;
}

static int blk_parse_rw(const struct blk_geom *g, struct blk_req *r, const struct iovec *iov,
			unsigned int n, uint64_t off, uint64_t len)
{
	if (len % BLK_SECTOR_SIZE || len > BLK_REQ_BYTES_MAX)
		return VIRTIO_BLK_S_IOERR;
	if (!blk_range_ok(g, r->sector, len >> BLK_SECTOR_SHIFT))
		return VIRTIO_BLK_S_IOERR;
	if (iov_slice(iov, n, off, len, r))
		return VIRTIO_BLK_S_IOERR;
	r->len = len;
	return VIRTIO_BLK_S_OK;
}

static int blk_parse_dwz(const struct blk_geom *g, struct blk_req *r, const struct iovec *iov,
			 unsigned int n, uint64_t off, uint64_t len)
{
	bool discard = r->type == VIRTIO_BLK_T_DISCARD;

	if (discard ? !g->discard : !g->write_zeroes)
		return VIRTIO_BLK_S_UNSUPP;
	if (g->read_only)
		return VIRTIO_BLK_S_IOERR;
	if (!len || len % sizeof(struct virtio_blk_discard_write_zeroes) ||
	    len / sizeof(struct virtio_blk_discard_write_zeroes) > BLK_DWZ_SEG_MAX)
		return VIRTIO_BLK_S_IOERR;
	r->nseg = len / sizeof(struct virtio_blk_discard_write_zeroes);
	for (unsigned int i = 0; i < r->nseg; i++) {
		struct virtio_blk_discard_write_zeroes d;
		struct blk_dwz_seg *s = &r->seg[i];

		blk_iov_gather(iov, n, off + i * sizeof(d), &d, sizeof(d));
		s->sector = le64toh(d.sector);
		s->num_sectors = le32toh(d.num_sectors);
		s->flags = le32toh(d.flags);
		/* Discard takes no flags; write-zeroes only UNMAP (virtio 1.2 5.2.6.2). */
		if (s->flags & ~(discard ? 0u : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP))
			return VIRTIO_BLK_S_UNSUPP;
		if (s->num_sectors > BLK_DWZ_SECTORS_MAX ||
		    !blk_range_ok(g, s->sector, s->num_sectors))
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

static int blk_parse_body(const struct virtq_chain *c, const struct blk_geom *g, struct blk_req *r,
			  uint64_t rd_bytes, uint64_t wr_bytes)
{
	const struct iovec *rd = c->iov, *wr = c->iov + c->out_num;
	struct virtio_blk_outhdr hdr;
	uint64_t rd_data, wr_data;

	if (rd_bytes < sizeof(hdr))
		return VIRTIO_BLK_S_IOERR;
	blk_iov_gather(rd, c->out_num, 0, &hdr, sizeof(hdr));
	r->type = le32toh(hdr.type);
	r->sector = le64toh(hdr.sector);
	rd_data = rd_bytes - sizeof(hdr);
	wr_data = wr_bytes - 1; /* the status byte is the chain's last byte */

	switch (r->type) {
	case VIRTIO_BLK_T_IN:
		if (rd_data)
			return VIRTIO_BLK_S_IOERR;
		if (blk_parse_rw(g, r, wr, c->in_num, 0, wr_data))
			return VIRTIO_BLK_S_IOERR;
		r->written = (uint32_t)r->len; /* + the status byte, in blk_req_complete */
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_OUT:
		if (wr_data)
			return VIRTIO_BLK_S_IOERR;
		if (g->read_only)
			return VIRTIO_BLK_S_IOERR;
		return blk_parse_rw(g, r, rd, c->out_num, sizeof(hdr), rd_data);
	case VIRTIO_BLK_T_FLUSH:
		return rd_data || wr_data ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		if (rd_data)
			return VIRTIO_BLK_S_IOERR;
		/* Up to 20 bytes, not NUL-terminated when the id is 20 long. */
		r->len = MIN(wr_data, (uint64_t)BLK_ID_BYTES);
		if (iov_slice(wr, c->in_num, 0, r->len, r))
			return VIRTIO_BLK_S_IOERR;
		r->written = r->len;
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (wr_data)
			return VIRTIO_BLK_S_IOERR;
		return blk_parse_dwz(g, r, rd, c->out_num, sizeof(hdr), rd_data);
	default:
		return VIRTIO_BLK_S_UNSUPP;
	}
}

int blk_req_parse(const struct virtq_chain *c, const struct blk_geom *g, struct blk_req *r)
{
	const struct iovec *wr;
	uint64_t rd_bytes, wr_bytes;
	unsigned int last;
	int st;

	r->head = c->head;
	r->type = 0;
	r->sector = 0;
	r->len = 0;
	r->status = NULL;
	r->written = 0;
	r->niov = 0;
	r->nseg = 0;
	if (c->out_num > VIRTQ_CHAIN_MAX || c->in_num > VIRTQ_CHAIN_MAX - c->out_num)
		return -EINVAL;

	/* The status byte: the last byte of the last non-empty writable buffer. */
	wr = c->iov + c->out_num;
	for (last = c->in_num; last > 0 && !wr[last - 1].iov_len; last--)
		;
	if (!last)
		return -EINVAL;
	r->status = (uint8_t *)wr[last - 1].iov_base + wr[last - 1].iov_len - 1;

	rd_bytes = iov_bytes(c->iov, c->out_num);
	wr_bytes = iov_bytes(wr, c->in_num);
	st = blk_parse_body(c, g, r, rd_bytes, wr_bytes);
	if (st != VIRTIO_BLK_S_OK) {
		r->written = 0;
		r->niov = 0;
		r->nseg = 0;
	}
	return st;
}

uint32_t blk_req_complete(struct blk_req *r, uint8_t status)
{
	if (!r->status)
		return 0;
	*r->status = status;
	/* On error no data is claimed as written, only the status byte. */
	return status == VIRTIO_BLK_S_OK ? r->written + 1 : 1;
}
