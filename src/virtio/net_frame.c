// SPDX-License-Identifier: MIT
/*
 * virtio-net frames (virtio 1.2 §5.1.6): checking what the driver transmits
 * and spreading what it receives over its buffers. No device state here:
 * the device (net.c), the unit tests and the fuzzers call these directly.
 *
 * Every frame starts with a struct virtio_net_hdr_v1 (12 bytes: with
 * VERSION_1 the header always has num_buffers). The tap speaks the same
 * header (IFF_VNET_HDR, TUNSETVNETHDRSZ 12), so frames pass through
 * without conversion; only the header the guest wrote is copied and checked
 * first, because the guest may rewrite its buffers while we read them.
 */
#include <errno.h>
#include <string.h>

#include "mvm/compiler.h"
#include "virtio/net.h"

#define RX_MAX_CHAINS 256 /* the receive queue's size at most */

size_t net_tx_max_frame(uint64_t features, unsigned int mtu)
{
	if (features & (1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6))
		return NET_MAX_GSO_FRAME;
	/* The driver may set any MTU unless we advertised one. */
	if (!(features & (1ULL << VIRTIO_NET_F_MTU)) || !mtu)
		return NET_MAX_GSO_FRAME;
	return (size_t)mtu + NET_ETH_HLEN + NET_VLAN_HLEN;
}

static bool has(uint64_t features, unsigned int bit)
{
	return features >> bit & 1;
}

enum net_tx_error net_tx_parse(const struct virtq_chain *c, uint64_t features, size_t max_frame,
			       struct virtio_net_hdr_v1 *hdr, size_t *frame_len)
{
	size_t total = 0, frame;
	unsigned int i;
	uint8_t gso;

	if (!c->out_num || c->in_num)
		return NET_TX_MALFORMED;
	for (i = 0; i < c->out_num; i++)
		total += c->iov[i].iov_len;
	if (total < NET_HDR_LEN + NET_ETH_HLEN)
		return NET_TX_MALFORMED;
	frame = total - NET_HDR_LEN;
	if (frame > max_frame)
		return NET_TX_OVERSIZE;
	iov_to_buf(c->iov, c->out_num, 0, hdr, NET_HDR_LEN);
	hdr->num_buffers = 0;
	if (hdr->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return NET_TX_MALFORMED;
	if (hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		if (!has(features, VIRTIO_NET_F_CSUM))
			return NET_TX_OFFLOAD;
		if ((size_t)hdr->csum_start + hdr->csum_offset + 2 > frame)
			return NET_TX_MALFORMED;
	}
	gso = hdr->gso_type;
	if (gso & VIRTIO_NET_HDR_GSO_ECN)
		return NET_TX_OFFLOAD; /* HOST_ECN is not offered */
	switch (gso) {
	case VIRTIO_NET_HDR_GSO_NONE:
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		if (!has(features, gso == VIRTIO_NET_HDR_GSO_TCPV4 ? VIRTIO_NET_F_HOST_TSO4
								   : VIRTIO_NET_F_HOST_TSO6))
			return NET_TX_OFFLOAD;
		/* Segmentation needs the checksum offload and a segment size. */
		if (!(hdr->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) || !hdr->gso_size)
			return NET_TX_MALFORMED;
		break;
	case VIRTIO_NET_HDR_GSO_UDP:
		return NET_TX_OFFLOAD; /* HOST_UFO is not offered */
	default:
		return NET_TX_MALFORMED;
	}
	*frame_len = frame;
	return NET_TX_OK;
}

unsigned int net_tx_iov(const struct virtq_chain *c, const struct virtio_net_hdr_v1 *hdr,
			struct iovec *iov)
{
	size_t skip = NET_HDR_LEN;
	unsigned int i, n = 1;

	iov[0].iov_base = (void *)hdr;
	iov[0].iov_len = NET_HDR_LEN;
	for (i = 0; i < c->out_num; i++) {
		size_t l = c->iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		iov[n].iov_base = (uint8_t *)c->iov[i].iov_base + skip;
		iov[n].iov_len = l - skip;
		skip = 0;
		n++;
	}
	return n;
}

static size_t chain_room(const struct virtq_chain *c)
{
	size_t room = 0;

	for (unsigned int i = c->out_num; i < c->out_num + c->in_num; i++)
		room += c->iov[i].iov_len;
	return room;
}

static int rx_single(struct virtqueue *vq, struct virtq_chain *c, uint8_t *buf, size_t len,
		     uint16_t seen)
{
	int r = virtq_pop(vq, c);
	uint16_t one = 1;

	if (r <= 0)
		return r;
	if (chain_room(c) < len) {
		virtq_unpop(vq, 1, seen);
		return -EMSGSIZE;
	}
	memcpy(buf + offsetof(struct virtio_net_hdr_v1, num_buffers), &one, sizeof(one));
	buf_to_iov(&c->iov[c->out_num], c->in_num, 0, buf, len);
	virtq_push(vq, c->head, (uint32_t)len);
	return 1;
}

int net_rx_deliver(struct virtqueue *vq, struct virtq_chain *c, uint8_t *buf, size_t len, bool mrg)
{
	struct {
		uint16_t head;
		uint32_t len;
	} used[RX_MAX_CHAINS];
	struct iovec hdr_iov[NET_HDR_LEN]; /* where the first chain's header goes */
	unsigned int n = 0, nh = 0, i;
	uint16_t seen = virtq_avail_idx(vq), nbuf;
	size_t off = 0;
	int r;

	if (len < NET_HDR_LEN)
		return -EINVAL;
	if (!mrg)
		return rx_single(vq, c, buf, len, seen);
	while (off < len) {
		size_t room, take;

		r = virtq_pop(vq, c);
		if (r < 0)
			return r;
		room = r ? chain_room(c) : 0;
		if (r == 0 || n == RX_MAX_CHAINS || (n == 0 && room < NET_HDR_LEN)) {
			/* Out of buffers (or of ones that can hold the header): give back. */
			if (r)
				n++;
			if (virtq_unpop(vq, (uint16_t)n, seen))
				return -EAGAIN;
			return r ? -EMSGSIZE : 0;
		}
		if (!room) {
			n++;
			virtq_unpop(vq, (uint16_t)n, seen);
			return -EINVAL; /* a receive chain with nothing to write to */
		}
		if (n == 0) {
			nh = MIN(c->in_num, (unsigned int)NET_HDR_LEN);
			memcpy(hdr_iov, &c->iov[c->out_num], nh * sizeof(*hdr_iov));
		}
		take = MIN(room, len - off);
		buf_to_iov(&c->iov[c->out_num], c->in_num, 0, buf + off, take);
		used[n].head = c->head;
		used[n].len = (uint32_t)take;
		n++;
		off += take;
	}
	nbuf = (uint16_t)n;
	memcpy(buf + offsetof(struct virtio_net_hdr_v1, num_buffers), &nbuf, sizeof(nbuf));
	buf_to_iov(hdr_iov, nh, 0, buf, NET_HDR_LEN);
	for (i = 0; i < n; i++)
		virtq_push(vq, used[i].head, used[i].len);
	return 1;
}
