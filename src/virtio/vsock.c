// SPDX-License-Identifier: MIT
/*
 * virtio-vsock (virtio 1.2 §5.10), stream sockets, with Firecracker's hybrid
 * Unix-socket host side (mvm/vsock.h). Three queues: rx (packets to the
 * guest), tx (packets from the guest), event (TRANSPORT_RESET). This file
 * is the device: its queues, config space and type; vsock_conn.c holds the
 * connections, vsock_pkt.c the header format, src/vsock/uds.c the sockets.
 *
 * Packets to the guest come from three places, and go out in this order
 * whenever receive buffers are posted: RSTs for packets that had no
 * connection (a bounded FIFO; TX pauses while it is full, so a guest that
 * posts no receive buffers only stalls itself), then the control packets
 * connections owe (a set of flags per connection, so at most one of each
 * kind is pending), then host data, read straight from a connection's
 * socket into a receive buffer when the socket is readable.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#include "virtio/vsock.h"

static const struct virtio_dev_ops vsock_ops;

static struct virtio_vsock *to_vsock(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_vsock, vdev);
}

/* ---- the receive queue ---- */

struct virtq_chain *vsock_rx_chain(struct virtio_vsock *vs)
{
	struct virtqueue *vq = virtio_dev_vq(&vs->vdev, VSOCK_RXQ);
	int r;

	if (vs->rx_held)
		return vs->rx_chain;
	if (!vs->vdev.active)
		return NULL;
	while ((r = virtq_pop(vq, vs->rx_chain)) < 0) {
		virtio_dev_needs_reset(&vs->vdev);
		if (vq->broken)
			return NULL;
		if (vs->rx_chain->head < vq->size)
			virtq_push(vq, vs->rx_chain->head, 0);
	}
	if (!r)
		return NULL;
	vs->rx_held = true;
	return vs->rx_chain;
}

void vsock_rx_push(struct virtio_vsock *vs, uint32_t len)
{
	virtq_push(virtio_dev_vq(&vs->vdev, VSOCK_RXQ), vs->rx_chain->head, len);
	vs->rx_held = false;
}

void vsock_orphan_rst(struct virtio_vsock *vs, const struct vsock_hdr *to)
{
	struct vsock_hdr *h;

	if (vs->nr_orphans == VSOCK_ORPHAN_MAX) {
		counter_inc(&vs->stats.pkts_dropped);
		return;
	}
	h = &vs->orphans[(vs->orphan_head + vs->nr_orphans++) % VSOCK_ORPHAN_MAX];
	*h = (struct vsock_hdr){
		.src_cid = htole64(VSOCK_HOST_CID),
		.dst_cid = htole64(vs->cfg.guest_cid),
		.src_port = htole32(to->dst_port),
		.dst_port = htole32(to->src_port),
		.type = htole16(VSOCK_TYPE_STREAM),
		.op = htole16(VSOCK_OP_RST),
	};
}

/* The next control packet conn owes; clears it from conn. */
static void conn_next_control(struct vsock_conn *c, struct vsock_hdr *h)
{
	static const struct {
		unsigned int owe;
		uint16_t op;
	} order[] = {
		{ VC_OWE_REQUEST, VSOCK_OP_REQUEST },
		{ VC_OWE_RESPONSE, VSOCK_OP_RESPONSE },
		{ VC_OWE_CREDIT_UPDATE, VSOCK_OP_CREDIT_UPDATE },
		{ VC_OWE_CREDIT_REQUEST, VSOCK_OP_CREDIT_REQUEST },
		{ VC_OWE_SHUTDOWN, VSOCK_OP_SHUTDOWN },
		{ VC_OWE_RST, VSOCK_OP_RST },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(order) && !(c->owed & order[i].owe); i++)
		;
	if (i == ARRAY_SIZE(order))
		i = ARRAY_SIZE(order) - 1; /* not reached: owed is never 0 here */
	c->owed &= ~order[i].owe;
	vsock_hdr_from_conn(h, c, order[i].op,
			    order[i].op == VSOCK_OP_SHUTDOWN ? c->shutdown_flags : 0, 0);
}

void vsock_rx_flush(struct virtio_vsock *vs)
{
	struct virtqueue *vq = virtio_dev_vq(&vs->vdev, VSOCK_RXQ);
	bool pushed = false;

	while (vs->nr_orphans || !list_empty(&vs->owe_list)) {
		struct virtq_chain *ch = vsock_rx_chain(vs);
		struct vsock_conn *c = NULL;
		struct vsock_hdr h;
		size_t n;

		if (!ch)
			break;
		if (vs->nr_orphans) {
			h = vs->orphans[vs->orphan_head];
			vs->orphan_head = (vs->orphan_head + 1) % VSOCK_ORPHAN_MAX;
			vs->nr_orphans--;
		} else {
			c = list_entry(vs->owe_list.next, struct vsock_conn, owe);
			conn_next_control(c, &h);
			list_del_init(&c->owe);
			if (c->owed) /* the others' turn first */
				list_add_tail(&c->owe, &vs->owe_list);
		}
		n = buf_to_iov(&ch->iov[ch->out_num], ch->in_num, 0, &h, sizeof(h));
		if (n < sizeof(h))
			counter_inc(&vs->stats.pkts_dropped); /* a buffer too small for a header */
		vsock_rx_push(vs, n < sizeof(h) ? 0 : (uint32_t)n);
		pushed = true;
		if (c && c->state == VC_DEAD && le16toh(h.op) == VSOCK_OP_RST)
			vsock_conn_free(c);
	}
	if (pushed)
		virtq_notify(vq);
	if (vs->tx_blocked && vs->nr_orphans < VSOCK_ORPHAN_MAX) {
		vs->tx_blocked = false;
		virtq_kick(virtio_dev_vq(&vs->vdev, VSOCK_TXQ));
	}
}

/* ---- the transmit queue ---- */

static void vsock_tx_packet(struct virtio_vsock *vs, const struct vsock_hdr *h,
			    const struct virtq_chain *c)
{
	/* Another source or destination: nobody to answer; dropped. */
	if (h->src_cid != vs->cfg.guest_cid || h->dst_cid != VSOCK_HOST_CID) {
		counter_inc(&vs->stats.pkts_dropped);
		return;
	}
	if (h->type != VSOCK_TYPE_STREAM) {
		if (h->op != VSOCK_OP_RST)
			vsock_orphan_rst(vs, h);
		return;
	}
	vsock_conn_tx(vs, h, c);
}

static void vsock_tx(struct virtio_vsock *vs)
{
	struct virtqueue *vq = virtio_dev_vq(&vs->vdev, VSOCK_TXQ);
	unsigned int budget = vq->size;
	struct vsock_hdr h;
	int r;

	while (budget) {
		if (vs->nr_orphans == VSOCK_ORPHAN_MAX) {
			vs->tx_blocked = true; /* until the guest takes its RSTs */
			break;
		}
		r = virtq_pop(vq, vs->tx_chain);
		if (!r)
			break;
		budget--;
		if (r < 0) {
			virtio_dev_needs_reset(&vs->vdev);
			if (vq->broken)
				break;
			if (vs->tx_chain->head < vq->size)
				virtq_push(vq, vs->tx_chain->head, 0);
			continue;
		}
		if (vsock_pkt_parse(vs->tx_chain, &h) == 0)
			vsock_tx_packet(vs, &h, vs->tx_chain);
		else
			counter_inc(&vs->stats.pkts_dropped);
		virtq_push(vq, vs->tx_chain->head, 0);
	}
	if (!budget && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	virtq_notify(vq);
	vsock_rx_flush(vs);
}

/* ---- the event queue ---- */

static void vsock_event_deliver(struct virtio_vsock *vs)
{
	struct virtqueue *vq = virtio_dev_vq(&vs->vdev, VSOCK_EVQ);
	uint32_t ev = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	struct virtq_chain *c = vs->tx_chain; /* free outside vsock_tx() */
	int r;

	if (!vs->event_pending || !vs->vdev.active)
		return;
	while ((r = virtq_pop(vq, c)) < 0) {
		virtio_dev_needs_reset(&vs->vdev);
		if (vq->broken)
			return;
		if (c->head < vq->size)
			virtq_push(vq, c->head, 0);
	}
	if (!r)
		return; /* when the driver posts a buffer */
	virtq_push(vq, c->head,
		   (uint32_t)buf_to_iov(&c->iov[c->out_num], c->in_num, 0, &ev, sizeof(ev)));
	virtq_notify(vq);
	vs->event_pending = false;
}

int virtio_vsock_transport_reset(struct virtio_dev *vdev)
{
	struct virtio_vsock *vs;

	if (!vdev || vdev->ops != &vsock_ops)
		return -EINVAL;
	vs = to_vsock(vdev);
	pthread_mutex_lock(&vdev->lock);
	vsock_conns_close_all(vs);
	vs->event_pending = true;
	vsock_event_deliver(vs);
	pthread_mutex_unlock(&vdev->lock);
	return 0;
}

/* ---- the device ---- */

/* Event-loop thread, vdev->lock held. */
static void vsock_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_vsock *vs = to_vsock(vdev);

	vsock_listen_resume(vs); /* the guest is active: try accepting again */
	switch (q) {
	case VSOCK_RXQ:
		vsock_conns_rx_ready(vs);
		vsock_rx_flush(vs);
		break;
	case VSOCK_TXQ:
		vsock_tx(vs);
		break;
	case VSOCK_EVQ:
		vsock_event_deliver(vs);
		break;
	}
}

static uint64_t vsock_get_features(struct virtio_dev *vdev)
{
	return 1ULL << VIRTIO_VSOCK_F_STREAM;
}

static void vsock_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len)
{
	uint64_t cid = htole64(to_vsock(vdev)->cfg.guest_cid);

	memcpy(data, (uint8_t *)&cid + off, len);
}

static int vsock_activate(struct virtio_dev *vdev)
{
	vsock_event_deliver(to_vsock(vdev));
	return 0;
}

/* A vCPU thread, vdev->lock held: every connection goes, the host sockets close. */
static void vsock_reset(struct virtio_dev *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);

	vsock_conns_close_all(vs);
	vs->rx_held = false;
	vs->event_pending = false;
}

/* The device's counters, named as Firecracker's vsock metrics (rx: to the guest). */
#define VSOCK_COUNTER(name, field)                         \
	{                                                  \
		name, offsetof(struct virtio_vsock, field) \
	}
static const struct mvm_counter_desc vsock_counters[] = {
	VSOCK_COUNTER("reads", vdev.dev.reads),
	VSOCK_COUNTER("writes", vdev.dev.writes),
	VSOCK_COUNTER("conns_added", stats.conns_opened),
	VSOCK_COUNTER("conns_removed", stats.conns_closed),
	VSOCK_COUNTER("conns_killed", stats.conns_reset),
	VSOCK_COUNTER("rx_bytes_count", stats.bytes_to_guest),
	VSOCK_COUNTER("tx_bytes_count", stats.bytes_to_host),
	VSOCK_COUNTER("credit_stalls", stats.credit_stalls),
	VSOCK_COUNTER("pkts_dropped", stats.pkts_dropped),
};

static int vsock_init(struct virtio_dev *vdev, const void *args)
{
	struct virtio_vsock *vs = to_vsock(vdev);
	char id[MVM_STATS_ID_SIZE];
	int err = -ENOMEM;

	vs->cfg = *(const struct vsock_config *)args;
	/* The core's node, with this device's counters added (allocates nothing). */
	snprintf(id, sizeof(id), "%s", vdev->dev.stats.id);
	stats_node_init(&vdev->dev.stats, id, vsock_counters, ARRAY_SIZE(vsock_counters), vs);
	vs->conns = mvm_calloc(VSOCK_MAX_CONNS, sizeof(*vs->conns));
	if (!vs->conns)
		return -ENOMEM;
	/* Address space only: a ring's pages exist while it holds bytes (see vsock_conn_free). */
	vs->bufs = mvm_mmap(NULL, VSOCK_BUFS_SIZE, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (vs->bufs == MAP_FAILED)
		goto err_conns;
	vs->tx_chain = mvm_zalloc(sizeof(*vs->tx_chain));
	if (!vs->tx_chain)
		goto err_bufs;
	vs->rx_chain = mvm_zalloc(sizeof(*vs->rx_chain));
	if (!vs->rx_chain)
		goto err_tx_chain;
	vsock_conns_init(vs);
	vs->listen_fd = vsock_uds_listen(vs->cfg.uds_path, &vs->uds_dev, &vs->uds_ino);
	if (vs->listen_fd < 0) {
		err = vs->listen_fd;
		goto err_rx_chain;
	}
	vs->listen_h.fd = vs->listen_fd;
	vs->listen_h.fn = vsock_conn_accept;
	err = loop_add(&vdev->vm->loop, &vs->listen_h, EPOLLIN);
	if (err)
		goto err_listen;
	pr_debug("%s: guest CID %llu, host side on %s", vdev->dev.name,
		 (unsigned long long)vs->cfg.guest_cid, vs->cfg.uds_path);
	return 0;

err_listen:
	close(vs->listen_fd);
	vsock_uds_remove(vs->cfg.uds_path, vs->uds_dev, vs->uds_ino);
err_rx_chain:
	free(vs->rx_chain);
err_tx_chain:
	free(vs->tx_chain);
err_bufs:
	munmap(vs->bufs, VSOCK_BUFS_SIZE);
err_conns:
	free(vs->conns);
	return err;
}

static void vsock_release(struct virtio_dev *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);

	vsock_conns_close_all(vs);
	loop_del(&vdev->vm->loop, &vs->listen_h);
	close(vs->listen_fd);
	vsock_uds_remove(vs->cfg.uds_path, vs->uds_dev, vs->uds_ino);
	free(vs->rx_chain);
	free(vs->tx_chain);
	munmap(vs->bufs, VSOCK_BUFS_SIZE);
	free(vs->conns);
}

/*
 * Connections are host sockets: none survives a snapshot. The guest learns
 * it from a TRANSPORT_RESET after the restore (as under Firecracker); a
 * receive buffer the device held unused goes back to the ring.
 */
static int vsock_save(struct virtio_dev *vdev, struct snap_buf *out)
{
	snap_put_u8(out, to_vsock(vdev)->rx_held);
	return out->err;
}

static int vsock_restore(struct virtio_dev *vdev, struct snap_cur *in)
{
	uint8_t held = snap_get_u8(in);

	if (snap_cur_end(in) || held > 1)
		return -EBADMSG;
	to_vsock(vdev)->rx_give_back = held;
	return 0;
}

static void vsock_restored(struct virtio_dev *vdev)
{
	struct virtio_vsock *vs = to_vsock(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, VSOCK_RXQ);

	pthread_mutex_lock(&vdev->lock);
	if (vs->rx_give_back)
		virtq_unpop(vq, 1, virtq_avail_idx(vq));
	vs->rx_give_back = false;
	pthread_mutex_unlock(&vdev->lock);
	virtio_vsock_transport_reset(vdev);
}

static const struct virtio_dev_ops vsock_ops = {
	.type = "virtio-vsock",
	.device_id = VIRTIO_ID_VSOCK,
	.num_queues = VSOCK_NUM_QUEUES,
	.queue_max_size = VSOCK_QUEUE_SIZE,
	.init = vsock_init,
	.release = vsock_release,
	.get_features = vsock_get_features,
	.config_size = sizeof(uint64_t),
	.config_read = vsock_config_read,
	.activate = vsock_activate,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
	.save = vsock_save,
	.restore = vsock_restore,
	.restored = vsock_restored,
};

struct virtio_dev *virtio_vsock_create(struct vm *vm, const struct vsock_config *cfg)
{
	struct virtio_vsock *vs;

	vs = virtio_dev_create(struct virtio_vsock, vdev, vm, &vsock_ops, "virtio-vsock", cfg);
	return IS_ERR(vs) ? ERR_PTR(PTR_ERR(vs)) : &vs->vdev;
}

/* ---- the device type: --vsock, PUT /vsock, the config file's "vsock" ---- */

static int vsock_type_create(struct vm *vm, const void *blob, unsigned int index)
{
	struct virtio_dev *vdev = virtio_vsock_create(vm, blob);

	return IS_ERR(vdev) ? (int)PTR_ERR(vdev) : 0;
}

static int vsock_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		       size_t len)
{
	const struct vsock_config *v = blob;

	return vsock_uds_check(v->uds_path, msg, len);
}

#define VSOCK_OPT(field) offsetof(struct vsock_config, field)
static const struct mvm_opt vsock_opts[] = {
	{ MVM_OPT("cid", "guest_cid", MVM_OPT_UINT, MVM_OPT_REQUIRED, VSOCK_OPT(guest_cid)),
	  .min = VSOCK_CID_MIN, .max = VSOCK_CID_MAX, .help = "the guest's context id" },
	/* Not MVM_OPT_HOST_FILE: mvm creates the socket; vsock_check looks at its directory. */
	{ MVM_OPT("uds", "uds_path", MVM_OPT_STR, MVM_OPT_REQUIRED, VSOCK_OPT(uds_path)),
	  .max = VSOCK_UDS_PATH_MAX,
	  .help = "Unix socket mvm listens on for CONNECT <port>; guest connections to "
		  "port P go to PATH_P" },
	{ MVM_OPT("id", "vsock_id", MVM_OPT_STR, MVM_OPT_API_ONLY | MVM_OPT_DEPRECATED,
		  VSOCK_OPT(id)),
	  .max = VSOCK_ID_MAX, .help = "Firecracker's optional device id (kept, not used)" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_vsock_type = {
	.name = "virtio-vsock",
	.summary = "virtio-vsock to host Unix sockets (Firecracker's hybrid model)",
	.order = MVM_ORDER_VIRTIO + 3,
	.cli = "vsock",
	.cli_arg = "cid=N,uds=PATH",
	.api = "vsock",
	.api_noun = "vsock device",
	.singleton = true,
	.max = 1,
	.config_size = sizeof(struct vsock_config),
	.opts = vsock_opts,
	.check = vsock_check,
	.create = vsock_type_create,
};
MVM_DEVICE_TYPE(virtio_vsock_type);
