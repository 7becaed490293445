// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: virtio-net's frame paths over a ring the input fills.
 * Each chain popped from the "transmit" ring goes through net_tx_parse()
 * (vnet header, sizes, offloads against the features the input picks) and,
 * when accepted, net_tx_iov(), whose vector is read end to end as writev()
 * would; then the input's tail is delivered as a received frame into the
 * same ring, with and without MRG_RXBUF. Guest RAM is one heap block of
 * exactly its size (ASan sees any access outside).
 *
 * Input: [queue size log2][features][mtu] then RAM (descriptors at 0,
 * avail ring at 0x1000, used ring at 0x2000).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "virtio/net.h"

#define RAM_SIZE 0x10000

static struct virtq_chain chain;
static struct iovec iov[VIRTQ_CHAIN_MAX + 1];
static uint8_t frame[NET_MAX_BUFFER];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned int feature_bits[8] = {
	VIRTIO_NET_F_CSUM,	     VIRTIO_NET_F_HOST_TSO4,
	VIRTIO_NET_F_HOST_TSO6,	     VIRTIO_NET_F_MTU,
	VIRTIO_NET_F_MRG_RXBUF,	     VIRTIO_F_RING_EVENT_IDX,
	VIRTIO_F_RING_INDIRECT_DESC, VIRTIO_NET_F_GUEST_CSUM,
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vm_memory mem = { .fd = -1, .nr_regions = 1 };
	struct virtio_net_hdr_v1 hdr;
	uint64_t features = 0;
	struct virtqueue vq;
	volatile uint8_t sink = 0;
	size_t flen, n;
	uint8_t *ram;

	if (size < 3)
		return 0;
	ram = calloc(1, RAM_SIZE);
	mem.regions[0] = (struct mem_region){ 0, RAM_SIZE, ram, 0 };
	mem.size = RAM_SIZE;
	n = size - 3 < RAM_SIZE ? size - 3 : RAM_SIZE;
	memcpy(ram, data + 3, n);
	for (unsigned int i = 0; i < 8; i++)
		if (data[1] >> i & 1)
			features |= 1ULL << feature_bits[i];

	memset(&vq, 0, sizeof(vq));
	vq.kick_fd = -1;
	if (virtq_setup(&vq, &mem, (uint16_t)(1u << (data[0] % 9)), 0, 0x1000, 0x2000, features))
		goto out;
	vq.enabled = true;
	for (unsigned int i = 0; i < 8; i++) {
		size_t max = net_tx_max_frame(features, 68u + data[2] * 256u);
		int ret = virtq_pop(&vq, &chain);

		if (ret == 0)
			break;
		if (ret < 0) {
			if (chain.head < vq.size)
				virtq_push(&vq, chain.head, 0);
			break;
		}
		if (net_tx_parse(&chain, features, max, &hdr, &flen) == NET_TX_OK) {
			unsigned int cnt = net_tx_iov(&chain, &hdr, iov);
			size_t total = 0;

			for (unsigned int k = 0; k < cnt; k++) {
				const uint8_t *p = iov[k].iov_base;

				for (size_t j = 0; j < iov[k].iov_len; j++)
					sink ^= p[j];
				total += iov[k].iov_len;
			}
			if (total != flen + NET_HDR_LEN || flen > max)
				abort(); /* the vector must be exactly header + frame */
		}
		virtq_push(&vq, chain.head, 0);
	}
	/* The same ring as a receive queue: the input's tail as a frame. */
	flen = size < sizeof(frame) ? size : sizeof(frame);
	if (flen >= NET_HDR_LEN) {
		memcpy(frame, data, flen);
		for (int k = 0; k < 4; k++) {
			int r = net_rx_deliver(&vq, &chain, frame, flen,
					       features >> VIRTIO_NET_F_MRG_RXBUF & 1);

			if (r <= 0 && r != -EAGAIN)
				break;
		}
	}
out:
	(void)sink;
	free(ram);
	return 0;
}
