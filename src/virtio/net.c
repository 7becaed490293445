// SPDX-License-Identifier: MIT
/*
 * virtio-net (virtio 1.2 §5.1) on a tap device: --net tap=NAME[,mac=..]
 * [,mtu=..], or the API's network-interfaces. One receive and one transmit
 * queue, no control queue.
 *
 * Everything runs on the event-loop thread under vdev->lock: the transmit
 * queue's kick (ops->queue_notify), the receive queue's kick (buffers
 * posted), the tap fd's readiness and the rate limiters' timers. The tap fd
 * is watched only while the guest has receive buffers and the receive
 * limiter lets frames through; otherwise the frames wait in the tap's queue
 * (the kernel drops beyond it, as with a real NIC). Nothing polls.
 *
 * Offloads pass through: the tap carries the same virtio_net_hdr_v1 the
 * guest uses, and TUNSETOFFLOAD tells the kernel which GSO/checksum frames
 * the guest accepts (its GUEST_* features).
 *
 * On an interface PUT /mmds/config names, frames from the guest to the
 * MMDS address (and ARP for it) go to the MMDS stack (src/net/mmds_stack.c)
 * instead of the tap; its answers queue up here and are received ahead of
 * the tap's frames.
 */
#include <errno.h>
#include <limits.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mvm/compiler.h"
#include "mvm/devtype.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/mmds.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "net/mmds_stack.h"
#include "net/tap.h"
#include "virtio/net.h"

#define NET_RXQ	       0
#define NET_TXQ	       1
#define NET_QUEUE_SIZE 256
#define NET_RX_BUDGET  64 /* frames per turn before the loop serves others */
#define NET_MMDS_QUEUE 64 /* MMDS frames waiting for receive buffers */
#define NET_MMDS_FRAME (NET_ETH_HLEN + NET_VLAN_HLEN + 1500)

struct mmds_frame {
	size_t len;
	uint8_t data[NET_MMDS_FRAME];
};

struct virtio_net {
	struct virtio_dev vdev; /* first */
	struct mvm_net_config cfg;
	struct virtio_net_config config;
	struct tap tap;
	struct loop_handler tap_h;
	bool tap_watched;
	bool running; /* activated, not reset */

	/* Receive: one frame read from the tap (header first) waiting for buffers. */
	uint8_t *rx_buf;
	size_t rx_len;	 /* 0: none */
	bool rx_charged; /* the limiter took its tokens already */
	struct virtq_chain *rx_chain;
	struct rate_limiter rx_rl;

	/* Transmit: a chain held back by the limiter. */
	struct virtq_chain *tx_chain;
	struct iovec *tx_iov;
	bool tx_held;
	bool tx_give_back; /* restored: the saved device held a chain, the guest gets it back */
	struct virtio_net_hdr_v1 tx_hdr;
	size_t tx_frame;
	size_t tx_max;
	struct rate_limiter tx_rl;

	/* The MMDS on this interface (NULL: none); frames it answered, for the guest. */
	struct mmds_stack *mmds;
	uint8_t *mmds_buf; /* a claimed frame, linear, checksum completed */
	pthread_mutex_t mmds_lock;
	struct mmds_frame *mmds_q; /* ring of NET_MMDS_QUEUE */
	unsigned int mmds_head, mmds_count;

	mvm_counter_t rx_packets, rx_bytes, rx_dropped, rx_tap_errors;
	mvm_counter_t tx_packets, tx_bytes, tx_dropped, tx_malformed, tx_tap_errors;
	mvm_counter_t mmds_rx_frames, mmds_tx_frames, mmds_dropped;
};

static const struct mvm_counter_desc net_counters[] = {
	{ "reads", offsetof(struct mvm_device, reads) },
	{ "writes", offsetof(struct mvm_device, writes) },
	{ "rx_packets", offsetof(struct virtio_net, rx_packets) },
	{ "rx_bytes", offsetof(struct virtio_net, rx_bytes) },
	{ "rx_dropped", offsetof(struct virtio_net, rx_dropped) },
	{ "rx_tap_errors", offsetof(struct virtio_net, rx_tap_errors) },
	{ "rx_throttled", offsetof(struct virtio_net, rx_rl.throttled) },
	{ "tx_packets", offsetof(struct virtio_net, tx_packets) },
	{ "tx_bytes", offsetof(struct virtio_net, tx_bytes) },
	{ "tx_dropped", offsetof(struct virtio_net, tx_dropped) },
	{ "tx_malformed", offsetof(struct virtio_net, tx_malformed) },
	{ "tx_tap_errors", offsetof(struct virtio_net, tx_tap_errors) },
	{ "tx_throttled", offsetof(struct virtio_net, tx_rl.throttled) },
	{ "mmds_rx_frames", offsetof(struct virtio_net, mmds_rx_frames) },
	{ "mmds_tx_frames", offsetof(struct virtio_net, mmds_tx_frames) },
	{ "mmds_dropped", offsetof(struct virtio_net, mmds_dropped) },
};

static struct virtio_net *to_net(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_net, vdev);
}

static bool mac_given(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) != 0;
}

static uint64_t net_get_features(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);
	uint64_t f = 1ULL << VIRTIO_NET_F_CSUM | 1ULL << VIRTIO_NET_F_GUEST_CSUM |
		     1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6 |
		     1ULL << VIRTIO_NET_F_GUEST_TSO4 | 1ULL << VIRTIO_NET_F_GUEST_TSO6 |
		     1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_NET_F_STATUS;

	if (mac_given(n->cfg.guest_mac))
		f |= 1ULL << VIRTIO_NET_F_MAC;
	if (n->cfg.mtu)
		f |= 1ULL << VIRTIO_NET_F_MTU;
	return f;
}

static void net_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned int len)
{
	memcpy(data, (uint8_t *)&to_net(vdev)->config + off, len);
}

static void net_config_write(struct virtio_dev *vdev, uint64_t off, const void *data,
			     unsigned int len)
{
	/* The MAC is writable only in legacy devices; nothing else is. */
}

/* Watches the tap for frames, or stops. vdev->lock held. */
static void tap_watch(struct virtio_net *n, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &n->tap_h };

	if (n->tap_watched == on)
		return;
	n->tap_watched = on;
	epoll_ctl(n->vdev.vm->loop.epfd, EPOLL_CTL_MOD, n->tap.fd, &ev);
}

/* An MMDS answer into rx_buf, behind a header that asks nothing; false: none. */
static bool rx_fetch_mmds(struct virtio_net *n)
{
	struct mmds_frame *f;
	bool got = false;

	if (!n->mmds)
		return false;
	pthread_mutex_lock(&n->mmds_lock);
	if (n->mmds_count) {
		f = &n->mmds_q[n->mmds_head];
		memset(n->rx_buf, 0, NET_HDR_LEN);
		memcpy(n->rx_buf + NET_HDR_LEN, f->data, f->len);
		n->rx_len = NET_HDR_LEN + f->len;
		n->rx_charged = false;
		n->mmds_head = (n->mmds_head + 1) % NET_MMDS_QUEUE;
		n->mmds_count--;
		got = true;
	}
	pthread_mutex_unlock(&n->mmds_lock);
	return got;
}

/* Reads the next frame into rx_buf; false when there is none now. */
static bool rx_fetch(struct virtio_net *n)
{
	if (rx_fetch_mmds(n))
		return true;
	for (;;) {
		ssize_t r = read(n->tap.fd, n->rx_buf, NET_MAX_BUFFER);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				counter_inc(&n->rx_tap_errors);
			return false;
		}
		if ((size_t)r < NET_HDR_LEN + NET_ETH_HLEN) {
			counter_inc(&n->rx_dropped);
			continue;
		}
		n->rx_len = (size_t)r;
		n->rx_charged = false;
		return true;
	}
}

/* Moves frames from the tap to the receive queue. vdev->lock held. */
static void net_rx(struct virtio_net *n)
{
	struct virtqueue *vq = virtio_dev_vq(&n->vdev, NET_RXQ);
	bool mrg = virtio_has_feature(&n->vdev, VIRTIO_NET_F_MRG_RXBUF), delivered = false;
	unsigned int budget = NET_RX_BUDGET;
	int r;

	if (!n->running || vq->broken)
		goto stop;
	while (budget--) {
		if (!n->rx_len && !rx_fetch(n)) {
			tap_watch(n, true); /* drained: wake on the next frame */
			break;
		}
		if (!n->rx_charged) {
			if (!rate_limiter_consume(&n->rx_rl, n->rx_len - NET_HDR_LEN))
				goto stop; /* the limiter's timer resumes us */
			n->rx_charged = true;
		}
		r = net_rx_deliver(vq, n->rx_chain, n->rx_buf, n->rx_len, mrg);
		if (r == -EAGAIN)
			continue; /* buffers came while we gave some back: look again */
		if (r == 0)
			goto stop; /* no buffers: the driver's kick resumes us */
		if (r == -EMSGSIZE) {
			counter_inc(&n->rx_dropped);
		} else if (r < 0) {
			pr_warn("%s: receive queue: malformed chain (%s)", n->vdev.dev.name,
				strerror(-r));
			virtio_dev_needs_reset(&n->vdev);
			goto stop;
		} else {
			counter_inc(&n->rx_packets);
			atomic_fetch_add_explicit(&n->rx_bytes, n->rx_len - NET_HDR_LEN,
						  memory_order_relaxed);
			delivered = true;
		}
		n->rx_len = 0;
	}
	if (delivered)
		virtq_notify(vq);
	return;
stop:
	tap_watch(n, false);
	if (delivered)
		virtq_notify(vq);
}

static void net_tap_ready(struct loop_handler *h, uint32_t events)
{
	struct virtio_net *n = container_of(h, struct virtio_net, tap_h);

	(void)events;
	pthread_mutex_lock(&n->vdev.lock);
	net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/* Completes a partial checksum (NEEDS_CSUM) in a linear frame: RFC 1071 from csum_start. */
static void csum_complete(uint8_t *f, size_t len, const struct virtio_net_hdr_v1 *h)
{
	size_t start = h->csum_start, at = start + h->csum_offset;
	uint32_t sum = 0;
	uint16_t c;

	if (at + 2 > len)
		return;
	for (size_t i = start; i + 1 < len; i += 2)
		sum += (uint32_t)(f[i] << 8 | f[i + 1]);
	if ((len - start) & 1)
		sum += (uint32_t)f[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	c = (uint16_t)~sum;
	f[at] = (uint8_t)(c >> 8);
	f[at + 1] = (uint8_t)c;
}

/* A frame for the MMDS (vdev->lock held): true when it was the MMDS's. */
static bool net_tx_mmds(struct virtio_net *n)
{
	const struct virtq_chain *c = n->tx_chain;
	uint8_t peek[64];
	size_t got;

	if (!n->mmds)
		return false;
	got = iov_to_buf(c->iov, c->out_num, NET_HDR_LEN, peek, MIN(n->tx_frame, sizeof(peek)));
	if (!mmds_stack_claims(n->mmds, peek, got))
		return false;
	counter_inc(&n->mmds_rx_frames);
	/* The MMDS speaks plain frames: no segmentation offload toward it. */
	if (n->tx_frame > NET_MMDS_FRAME || n->tx_hdr.gso_type != VIRTIO_NET_HDR_GSO_NONE) {
		counter_inc(&n->mmds_dropped);
		return true;
	}
	iov_to_buf(c->iov, c->out_num, NET_HDR_LEN, n->mmds_buf, n->tx_frame);
	if (n->tx_hdr.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		csum_complete(n->mmds_buf, n->tx_frame, &n->tx_hdr);
	mmds_stack_input(n->mmds, n->mmds_buf, n->tx_frame);
	return true;
}

/* The MMDS answers: queued for the receive queue, whose kick drains them. */
static void net_mmds_output(void *opaque, const uint8_t *frame, size_t len)
{
	struct virtio_net *n = opaque;
	bool queued = false;

	pthread_mutex_lock(&n->mmds_lock);
	if (len <= NET_MMDS_FRAME && n->mmds_count < NET_MMDS_QUEUE) {
		struct mmds_frame *f = &n->mmds_q[(n->mmds_head + n->mmds_count) % NET_MMDS_QUEUE];

		memcpy(f->data, frame, len);
		f->len = len;
		n->mmds_count++;
		queued = true;
	}
	pthread_mutex_unlock(&n->mmds_lock);
	if (!queued) {
		counter_inc(&n->mmds_dropped); /* TCP retransmits */
		return;
	}
	counter_inc(&n->mmds_tx_frames);
	virtq_kick(virtio_dev_vq(&n->vdev, NET_RXQ));
}

static void net_tx_send(struct virtio_net *n)
{
	unsigned int cnt = net_tx_iov(n->tx_chain, &n->tx_hdr, n->tx_iov);
	ssize_t w;

	do
		w = writev(n->tap.fd, n->tx_iov, (int)cnt);
	while (w < 0 && errno == EINTR);
	if (w < 0) {
		counter_inc(&n->tx_tap_errors);
		counter_inc(&n->tx_dropped);
		return;
	}
	counter_inc(&n->tx_packets);
	atomic_fetch_add_explicit(&n->tx_bytes, n->tx_frame, memory_order_relaxed);
}

/* Sends what the driver queued. vdev->lock held. */
static void net_tx(struct virtio_net *n)
{
	struct virtqueue *vq = virtio_dev_vq(&n->vdev, NET_TXQ);
	unsigned int budget = vq->size;
	bool done = false;
	int r;

	if (!n->running)
		return;
	while (budget--) {
		if (!n->tx_held) {
			r = virtq_pop(vq, n->tx_chain);
			if (r == 0)
				break;
			if (r < 0) {
				counter_inc(&n->tx_malformed);
				virtio_dev_needs_reset(&n->vdev);
				if (vq->broken)
					break;
				if (n->tx_chain->head < vq->size)
					virtq_push(vq, n->tx_chain->head, 0);
				done = true;
				continue;
			}
			if (net_tx_parse(n->tx_chain, n->vdev.features, n->tx_max, &n->tx_hdr,
					 &n->tx_frame) != NET_TX_OK) {
				counter_inc(&n->tx_malformed);
				counter_inc(&n->tx_dropped);
				virtq_push(vq, n->tx_chain->head, 0);
				done = true;
				continue;
			}
		}
		if (!rate_limiter_consume(&n->tx_rl, n->tx_frame)) {
			n->tx_held = true; /* the limiter's timer resumes us */
			break;
		}
		n->tx_held = false;
		if (!net_tx_mmds(n))
			net_tx_send(n);
		virtq_push(vq, n->tx_chain->head, 0);
		done = true;
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	if (done)
		virtq_notify(vq);
}

static void net_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_net *n = to_net(vdev);

	if (q == NET_TXQ)
		net_tx(n);
	else if (q == NET_RXQ)
		net_rx(n); /* buffers posted */
}

/* A limiter's wait is over (event-loop thread). */
static void net_rx_resume(struct rate_limiter *rl)
{
	struct virtio_net *n = container_of(rl, struct virtio_net, rx_rl);

	pthread_mutex_lock(&n->vdev.lock);
	net_rx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

static void net_tx_resume(struct rate_limiter *rl)
{
	struct virtio_net *n = container_of(rl, struct virtio_net, tx_rl);

	pthread_mutex_lock(&n->vdev.lock);
	net_tx(n);
	pthread_mutex_unlock(&n->vdev.lock);
}

/* What the kernel may hand us: the guest's receive offloads. */
static unsigned int net_tap_offloads(struct virtio_dev *vdev)
{
	unsigned int f = 0;

	if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_TSO6))
			f |= TUN_F_TSO6;
	}
	return f;
}

static int net_activate(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);
	int err = tap_set_offload(&n->tap, net_tap_offloads(vdev));

	if (err) {
		pr_err("%s: tap '%s': TUNSETOFFLOAD: %s", vdev->dev.name, n->tap.name,
		       strerror(-err));
		return err;
	}
	n->tx_max = net_tx_max_frame(vdev->features, (unsigned int)n->cfg.mtu);
	n->running = true;
	n->rx_len = 0;
	n->tx_held = false;
	tap_watch(n, true);
	return 0;
}

static void net_reset(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);

	n->running = false;
	n->tx_held = false;
	if (n->rx_len)
		counter_inc(&n->rx_dropped);
	n->rx_len = 0;
	tap_watch(n, false);
	if (n->mmds) {
		pthread_mutex_lock(&n->mmds_lock);
		n->mmds_count = 0;
		pthread_mutex_unlock(&n->mmds_lock);
	}
}

/* The MMDS stack, when the store's configuration names this interface. */
static int net_mmds_init(struct virtio_net *n)
{
	struct mmds *m = n->vdev.vm->cfg.mmds;
	uint32_t ip;

	if (!m || !*n->cfg.id || !mmds_iface_enabled(m, n->cfg.id, &ip))
		return 0;
	n->mmds_buf = mvm_zalloc(NET_MMDS_FRAME);
	n->mmds_q = mvm_calloc(NET_MMDS_QUEUE, sizeof(*n->mmds_q));
	if (!n->mmds_buf || !n->mmds_q)
		goto err_free;
	pthread_mutex_init(&n->mmds_lock, NULL);
	n->mmds = mmds_stack_create(m, ip, &n->vdev.vm->loop, net_mmds_output, n);
	if (!n->mmds) {
		pthread_mutex_destroy(&n->mmds_lock);
		goto err_free;
	}
	return 0;

err_free:
	free(n->mmds_q);
	free(n->mmds_buf);
	n->mmds_q = NULL;
	n->mmds_buf = NULL;
	return -ENOMEM;
}

static void net_mmds_fini(struct virtio_net *n)
{
	if (!n->mmds)
		return;
	mmds_stack_destroy(n->mmds);
	pthread_mutex_destroy(&n->mmds_lock);
	free(n->mmds_q);
	free(n->mmds_buf);
}

static int net_init(struct virtio_dev *vdev, const void *args)
{
	const struct mvm_net_config *cfg = args;
	struct virtio_net *n = to_net(vdev);
	char id[MVM_STATS_ID_SIZE], msg[256];
	int err;

	n->cfg = *cfg;
	snprintf(id, sizeof(id), "%s", vdev->dev.stats.id);
	stats_node_init(&vdev->dev.stats, id, net_counters, ARRAY_SIZE(net_counters), &vdev->dev);
	memcpy(n->config.mac, cfg->guest_mac, 6);
	n->config.status = VIRTIO_NET_S_LINK_UP;
	n->config.max_virtqueue_pairs = 1;
	n->config.mtu = (uint16_t)(cfg->mtu ? cfg->mtu : NET_DEFAULT_MTU);

	n->rx_buf = mvm_zalloc(NET_MAX_BUFFER);
	n->rx_chain = mvm_zalloc(sizeof(*n->rx_chain));
	n->tx_chain = mvm_zalloc(sizeof(*n->tx_chain));
	n->tx_iov = mvm_calloc(VIRTQ_CHAIN_MAX + 1, sizeof(*n->tx_iov));
	if (!n->rx_buf || !n->rx_chain || !n->tx_chain || !n->tx_iov) {
		err = -ENOMEM;
		goto err_free;
	}
	err = tap_open(&n->tap, cfg->host_dev_name, msg, sizeof(msg));
	if (err) {
		pr_err("%s: %s", vdev->dev.name, msg);
		goto err_free;
	}
	/* Watched from the start with no events, until the driver is ready. */
	n->tap_h.fd = n->tap.fd;
	n->tap_h.fn = net_tap_ready;
	err = loop_add(&vdev->vm->loop, &n->tap_h, 0);
	if (err)
		goto err_tap;
	err = rate_limiter_init(&n->rx_rl, cfg->rx_rate_limiter_set ? &cfg->rx_rate_limiter : NULL,
				&vdev->vm->loop, net_rx_resume);
	if (err)
		goto err_loop;
	err = rate_limiter_init(&n->tx_rl, cfg->tx_rate_limiter_set ? &cfg->tx_rate_limiter : NULL,
				&vdev->vm->loop, net_tx_resume);
	if (err)
		goto err_rx_rl;
	err = net_mmds_init(n);
	if (err)
		goto err_tx_rl;
	pr_debug("%s: tap %s%s", vdev->dev.name, n->tap.name, n->mmds ? ", MMDS" : "");
	return 0;

err_tx_rl:
	rate_limiter_fini(&n->tx_rl);
err_rx_rl:
	rate_limiter_fini(&n->rx_rl);
err_loop:
	loop_del(&vdev->vm->loop, &n->tap_h);
err_tap:
	tap_close(&n->tap);
err_free:
	free(n->tx_iov);
	free(n->tx_chain);
	free(n->rx_chain);
	free(n->rx_buf);
	return err;
}

static void net_release(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);

	net_mmds_fini(n);
	rate_limiter_fini(&n->tx_rl);
	rate_limiter_fini(&n->rx_rl);
	loop_del(&vdev->vm->loop, &n->tap_h);
	tap_close(&n->tap);
	free(n->tx_iov);
	free(n->tx_chain);
	free(n->rx_chain);
	free(n->rx_buf);
}

/*
 * A frame read from the tap but not yet received, and the MMDS's queued
 * answers, are dropped (a lost packet); a chain the limiter held goes back
 * to the guest's ring after a restore.
 */
static int net_save(struct virtio_dev *vdev, struct snap_buf *out)
{
	snap_put_u8(out, to_net(vdev)->tx_held);
	return out->err;
}

static int net_restore(struct virtio_dev *vdev, struct snap_cur *in)
{
	uint8_t held = snap_get_u8(in);

	if (snap_cur_end(in) || held > 1)
		return -EBADMSG;
	to_net(vdev)->tx_give_back = held;
	return 0;
}

/* After a restore the guest announces itself (gratuitous ARP) where it negotiated that. */
static void net_restored(struct virtio_dev *vdev)
{
	struct virtio_net *n = to_net(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, NET_TXQ);
	bool announce;

	pthread_mutex_lock(&vdev->lock);
	if (n->tx_give_back)
		virtq_unpop(vq, 1, virtq_avail_idx(vq));
	n->tx_give_back = false;
	announce = virtio_has_feature(vdev, VIRTIO_NET_F_GUEST_ANNOUNCE);
	if (announce)
		n->config.status |= VIRTIO_NET_S_ANNOUNCE;
	pthread_mutex_unlock(&vdev->lock);
	if (announce)
		virtio_dev_config_changed(vdev);
}

static const struct virtio_dev_ops net_ops = {
	.type = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.num_queues = 2,
	.queue_max_size = NET_QUEUE_SIZE,
	.init = net_init,
	.release = net_release,
	.get_features = net_get_features,
	.config_size = sizeof(struct virtio_net_config),
	.config_read = net_config_read,
	.config_write = net_config_write,
	.activate = net_activate,
	.queue_notify = net_queue_notify,
	.reset = net_reset,
	.save = net_save,
	.restore = net_restore,
	.restored = net_restored,
};

struct virtio_dev *virtio_net_create(struct vm *vm, const struct mvm_net_config *cfg,
				     unsigned int index)
{
	char name[MVM_DEVICE_NAME_SIZE];
	struct virtio_net *n;

	snprintf(name, sizeof(name), "virtio-net%u", index);
	n = virtio_dev_create(struct virtio_net, vdev, vm, &net_ops, name, cfg);
	return IS_ERR(n) ? ERR_PTR(PTR_ERR(n)) : &n->vdev;
}

/* The running interface with this id, or NULL. */
static struct virtio_net *net_find(struct vm *vm, const char *id)
{
	struct virtio_net *found = NULL;
	struct mvm_device *dev;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		struct virtio_dev *vdev = to_virtio_dev(dev);

		/* Named by net_create(): a virtio device, so vdev is valid. */
		if (!strncmp(dev->name, "virtio-net", 10) && vdev->ops == &net_ops &&
		    !strcmp(to_net(vdev)->cfg.id, id)) {
			found = to_net(vdev);
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return found;
}

/* PATCH /network-interfaces/{id} after boot: the rate limiters. */
static int net_update(struct vm *vm, const char *id, const void *blob, char *msg, size_t len)
{
	const struct mvm_net_config *cfg = blob;
	struct virtio_net *n = vm ? net_find(vm, id) : NULL;

	if (!n) {
		snprintf(msg, len, "no running network interface '%s'", id);
		return -ENOENT;
	}
	rate_limiter_update(&n->rx_rl, cfg->rx_rate_limiter_set ? &cfg->rx_rate_limiter : NULL);
	rate_limiter_update(&n->tx_rl, cfg->tx_rate_limiter_set ? &cfg->tx_rate_limiter : NULL);
	return 0;
}

static int net_create(struct vm *vm, const void *blob, unsigned int index)
{
	struct virtio_dev *vdev = virtio_net_create(vm, blob, index);

	return IS_ERR(vdev) ? (int)PTR_ERR(vdev) : 0;
}

static const struct mvm_device_type virtio_net_type;

/* A usable tap, a unicast MAC, neither shared with another interface. */
static int net_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		     size_t len)
{
	const struct mvm_net_config *c = blob;
	unsigned int i;

	if (mac_given(c->guest_mac) && (c->guest_mac[0] & 1)) {
		snprintf(msg, len,
			 "field 'guest_mac': %02x:%02x:%02x:%02x:%02x:%02x is a multicast address",
			 c->guest_mac[0], c->guest_mac[1], c->guest_mac[2], c->guest_mac[3],
			 c->guest_mac[4], c->guest_mac[5]);
		return -EINVAL;
	}
	for (i = 0; i < cfg->nr_devices; i++) {
		const struct mvm_net_config *o = (const void *)cfg->devices[i].blob;

		if ((int)i == self || cfg->devices[i].type != &virtio_net_type)
			continue;
		if (!strcmp(o->host_dev_name, c->host_dev_name)) {
			snprintf(msg, len,
				 "field 'host_dev_name': tap '%s' is used by interface '%s'",
				 c->host_dev_name, o->id);
			return -EINVAL;
		}
		if (mac_given(c->guest_mac) && !memcmp(o->guest_mac, c->guest_mac, 6)) {
			snprintf(msg, len, "field 'guest_mac': the MAC of interface '%s' already",
				 o->id);
			return -EINVAL;
		}
	}
	if (tap_probe(c->host_dev_name, msg, len)) {
		char why[256];

		snprintf(why, sizeof(why), "%s", msg);
		snprintf(msg, len, "field 'host_dev_name': %s", why);
		return -EINVAL;
	}
	return 0;
}

#define NET_OPT(field) offsetof(struct mvm_net_config, field)
static const struct mvm_opt net_opts[] = {
	{ MVM_OPT("tap", "host_dev_name", MVM_OPT_STR, MVM_OPT_REQUIRED, NET_OPT(host_dev_name)),
	  .max = IFNAMSIZ - 1, .help = "the host's tap interface (created beforehand)" },
	{ MVM_OPT("id", "iface_id", MVM_OPT_STR, MVM_OPT_ID, NET_OPT(id)), .max = NET_ID_MAX,
	  .help = "interface id (the API's iface_id)" },
	{ MVM_OPT("mac", "guest_mac", MVM_OPT_MAC, 0, NET_OPT(guest_mac)),
	  .help = "the guest's MAC address (default: the guest picks one)" },
	{ MVM_OPT("mtu", NULL, MVM_OPT_UINT, 0, NET_OPT(mtu)), .min = NET_MIN_MTU,
	  .max = NET_MAX_MTU, .help = "MTU advertised to the guest (VIRTIO_NET_F_MTU)" },
	{ MVM_OPT("rx_rate_limiter", NULL, MVM_OPT_OBJECT, MVM_OPT_PATCH, NET_OPT(rx_rate_limiter)),
	  .sub = mvm_rate_limiter_opts, .set_offset = NET_OPT(rx_rate_limiter_set),
	  .help = "token buckets for frames to the guest" },
	{ MVM_OPT("tx_rate_limiter", NULL, MVM_OPT_OBJECT, MVM_OPT_PATCH, NET_OPT(tx_rate_limiter)),
	  .sub = mvm_rate_limiter_opts, .set_offset = NET_OPT(tx_rate_limiter_set),
	  .help = "token buckets for frames from the guest" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_net_type = {
	.name = "virtio-net",
	.summary = "virtio-net on a tap device",
	.order = MVM_ORDER_VIRTIO + 3,
	.cli = "net",
	.cli_arg = NULL,
	.api = "network-interfaces",
	.api_noun = "network interface",
	.config_size = sizeof(struct mvm_net_config),
	.opts = net_opts,
	.check = net_check,
	.create = net_create,
	.update = net_update,
};
MVM_DEVICE_TYPE(virtio_net_type);
