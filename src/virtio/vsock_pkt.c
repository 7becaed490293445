// SPDX-License-Identifier: MIT
/*
 * virtio-vsock packets: the header of a TX chain copied out and checked,
 * headers built for the guest, the credit arithmetic, and the host's
 * "CONNECT <port>\n" line. Pure functions: the unit tests and the fuzzer
 * call them directly.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "virtio/vsock.h"

int vsock_pkt_parse(const struct virtq_chain *c, struct vsock_hdr *h)
{
	size_t readable = 0;
	unsigned int i;

	for (i = 0; i < c->out_num; i++)
		readable += c->iov[i].iov_len;
	/* Copied once: the guest may change its buffer while we look. */
	if (iov_to_buf(c->iov, c->out_num, 0, h, sizeof(*h)) != sizeof(*h))
		return -EINVAL;
	h->src_cid = le64toh(h->src_cid);
	h->dst_cid = le64toh(h->dst_cid);
	h->src_port = le32toh(h->src_port);
	h->dst_port = le32toh(h->dst_port);
	h->len = le32toh(h->len);
	h->type = le16toh(h->type);
	h->op = le16toh(h->op);
	h->flags = le32toh(h->flags);
	h->buf_alloc = le32toh(h->buf_alloc);
	h->fwd_cnt = le32toh(h->fwd_cnt);
	if (h->len > VSOCK_MAX_PKT || h->len > readable - sizeof(*h))
		return -EINVAL;
	return 0;
}

uint32_t vsock_peer_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t rx_cnt)
{
	/* Counters wrap at 2^32: their difference is what is in flight. */
	uint32_t in_flight = rx_cnt - fwd_cnt;

	return in_flight > buf_alloc ? 0 : buf_alloc - in_flight;
}

void vsock_hdr_from_conn(struct vsock_hdr *h, struct vsock_conn *conn, uint16_t op, uint32_t flags,
			 uint32_t len)
{
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(conn->vs->cfg.guest_cid);
	h->src_port = htole32(conn->local_port);
	h->dst_port = htole32(conn->peer_port);
	h->len = htole32(len);
	h->type = htole16(VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->flags = htole32(flags);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
	h->fwd_cnt = htole32(conn->fwd_cnt);
	conn->fwd_told = conn->fwd_cnt;
}

int vsock_connect_line_parse(const char *buf, size_t len, uint32_t *port)
{
	static const char verb[] = "CONNECT ";
	uint64_t v = 0;
	size_t i, digits = 0;

	for (i = 0; i < len && i < sizeof(verb) - 1; i++)
		if (buf[i] != verb[i])
			return -EINVAL;
	if (i < sizeof(verb) - 1)
		return len >= VSOCK_LINE_MAX ? -EINVAL : -EAGAIN;
	while (i < len && buf[i] == ' ')
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		v = v * 10 + (uint64_t)(buf[i] - '0');
		if (++digits > 10 || v > UINT32_MAX)
			return -EINVAL;
	}
	while (digits && i < len && buf[i] == ' ')
		i++;
	if (i == len)
		return len >= VSOCK_LINE_MAX ? -EINVAL : -EAGAIN;
	if (buf[i] != '\n' || !digits)
		return -EINVAL;
	*port = (uint32_t)v;
	return 0;
}
