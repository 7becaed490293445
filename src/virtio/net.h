/* SPDX-License-Identifier: MIT */
/*
 * virtio-net inside mvm: the option blob of a network interface and the
 * frame paths that the device, the unit tests and the fuzzers share.
 */
#ifndef MVM_VIRTIO_NET_H
#define MVM_VIRTIO_NET_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/rate_limiter.h"
#include "mvm/virtio.h"

#define NET_ID_MAX	64
#define NET_HDR_LEN	sizeof(struct virtio_net_hdr_v1) /* 12: VERSION_1 always has num_buffers */
#define NET_ETH_HLEN	14
#define NET_VLAN_HLEN	4
#define NET_DEFAULT_MTU 1500
#define NET_MIN_MTU	68
#define NET_MAX_MTU	65535
/* A GSO frame: 64 KiB of IP plus the Ethernet and VLAN headers. */
#define NET_MAX_GSO_FRAME (65535 + NET_ETH_HLEN + NET_VLAN_HLEN)
#define NET_MAX_BUFFER	  (NET_HDR_LEN + NET_MAX_GSO_FRAME)

/* One interface's options (PUT /network-interfaces/{iface_id}, --net). */
struct mvm_net_config {
	char id[NET_ID_MAX + 1];
	char host_dev_name[IFNAMSIZ];
	uint8_t guest_mac[6]; /* all zero: not given, VIRTIO_NET_F_MAC not offered */
	uint64_t mtu;	      /* 0: not given, VIRTIO_NET_F_MTU not offered */
	struct mvm_rate_limiter_config rx_rate_limiter, tx_rate_limiter;
	bool rx_rate_limiter_set, tx_rate_limiter_set;
};

/* Why a transmitted frame was dropped. */
enum net_tx_error {
	NET_TX_OK = 0,
	NET_TX_MALFORMED, /* device-writable buffers, shorter than the header */
	NET_TX_OVERSIZE,  /* longer than the negotiated maximum */
	NET_TX_OFFLOAD,	  /* an offload the driver did not negotiate */
};

/* The largest frame (without the virtio header) the driver may send. */
size_t net_tx_max_frame(uint64_t features, unsigned int mtu);
/*
 * Checks a transmit chain: only device-readable buffers, a header, a frame
 * of at most max_frame bytes, offloads that were negotiated. Copies the
 * header to *hdr (the guest may change its copy), the frame's length to
 * *frame_len.
 */
enum net_tx_error net_tx_parse(const struct virtq_chain *c, uint64_t features, size_t max_frame,
			       struct virtio_net_hdr_v1 *hdr, size_t *frame_len);
/*
 * Builds iov (room for c->out_num + 1 entries) for writev(): the checked
 * header copy, then the chain's bytes after the header. Returns the count.
 */
unsigned int net_tx_iov(const struct virtq_chain *c, const struct virtio_net_hdr_v1 *hdr,
			struct iovec *iov);

/*
 * Puts one received frame (buf: a virtio_net_hdr_v1 then the frame; len in
 * total) into the receive queue: one chain, or with mrg (MRG_RXBUF) as many
 * as it takes, num_buffers set. c is scratch for virtq_pop.
 * 1: delivered and pushed (the caller notifies);
 * 0: not enough buffers posted: nothing consumed, wait for a kick;
 * -EMSGSIZE: without mrg, the first chain is too small: frame dropped,
 *            the chain left for the next frame;
 * -EINVAL etc.: the ring is malformed (virtq_pop's errors).
 */
int net_rx_deliver(struct virtqueue *vq, struct virtq_chain *c, uint8_t *buf, size_t len, bool mrg);

struct vm;
/* An interface on vm (tests; vm_create() goes through the device type). */
struct virtio_dev *virtio_net_create(struct vm *vm, const struct mvm_net_config *cfg,
				     unsigned int index);

#endif
