// SPDX-License-Identifier: MIT
/*
 * virtio-vsock connections: the table, the state machine driven by the
 * guest's packets (TX queue) and by the host sockets (event loop), and
 * per-connection flow control both ways.
 *
 * Host-initiated: accepted on uds_path (VC_HOST_LINE) until the
 * "CONNECT <port>\n" line; then REQUEST to the guest (VC_LOCAL_INIT); the
 * guest's RESPONSE makes it VC_ESTABLISHED and the host reads "OK <port>\n";
 * an RST closes the host socket.
 * Guest-initiated: REQUEST to CID 2 port P connects to "<uds_path>_<P>":
 * RESPONSE and VC_ESTABLISHED, or an RST when nobody listens there.
 * Closing: the host's EOF becomes SHUTDOWN(SEND) to the guest; the guest's
 * SHUTDOWN(SEND) becomes shutdown(SHUT_WR) once its data is written; once
 * the guest has shut both ways and its data is written, the host socket
 * closes and the guest gets the RST it waits for. A host socket error, or a
 * packet that breaks the protocol, resets the connection (VC_DEAD: the RST
 * is owed, then the slot is free). When all slots are taken, a handshake
 * stuck for VSOCK_HANDSHAKE_MS gives its slot to the newcomer.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/log.h"
#include "mvm/vm.h"

#include "virtio/vsock.h"

#define MAX_SLICE 64

static unsigned int conn_bucket(uint32_t local_port, uint32_t peer_port)
{
	return (local_port * 31u + peer_port) % VSOCK_HASH_SIZE;
}

void vsock_conns_init(struct virtio_vsock *vs)
{
	unsigned int i;

	list_init(&vs->free_list);
	list_init(&vs->owe_list);
	list_init(&vs->rx_wait);
	for (i = 0; i < VSOCK_HASH_SIZE; i++)
		list_init(&vs->buckets[i]);
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conns[i];

		c->vs = vs;
		c->fd = -1;
		c->buf = vs->bufs + (size_t)i * VSOCK_BUF_ALLOC;
		list_init(&c->hash);
		list_init(&c->owe);
		list_add_tail(&c->wait, &vs->free_list);
	}
	vs->next_local_port = VSOCK_LOCAL_PORT_BASE;
	vs->handshake_ms = VSOCK_HANDSHAKE_MS;
}

struct vsock_conn *vsock_conn_lookup(struct virtio_vsock *vs, uint32_t local_port,
				     uint32_t peer_port)
{
	struct vsock_conn *c;

	list_for_each_entry (c, &vs->buckets[conn_bucket(local_port, peer_port)], hash)
		if (c->local_port == local_port && c->peer_port == peer_port)
			return c;
	return NULL;
}

static void conn_hash(struct vsock_conn *c)
{
	list_add_tail(&c->hash, &c->vs->buckets[conn_bucket(c->local_port, c->peer_port)]);
}

static uint64_t now_ms(void)
{
	return mvm_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

static void conn_close_fd(struct vsock_conn *c);

/*
 * The table is full: the oldest connection still in its handshake for
 * longer than vs->handshake_ms (a host that never sent its CONNECT line, a
 * guest that never answered) makes room. No timer: only a newcomer needs it.
 */
static bool conn_evict_stale(struct virtio_vsock *vs)
{
	struct vsock_conn *old = NULL;
	uint64_t now = now_ms();
	unsigned int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		struct vsock_conn *c = &vs->conns[i];

		if ((c->state == VC_HOST_LINE || c->state == VC_LOCAL_INIT) &&
		    now - c->since_ms >= vs->handshake_ms && (!old || c->since_ms < old->since_ms))
			old = c;
	}
	if (!old)
		return false;
	if (old->state == VC_LOCAL_INIT) {
		struct vsock_hdr to = { .src_port = old->peer_port, .dst_port = old->local_port };

		vsock_orphan_rst(vs, &to); /* the guest may have seen the REQUEST */
	}
	counter_inc(&vs->stats.conns_reset);
	vsock_conn_free(old);
	return true;
}

struct vsock_conn *vsock_conn_alloc(struct virtio_vsock *vs)
{
	struct vsock_conn *c;
	uint8_t *buf;

	if (list_empty(&vs->free_list) && !conn_evict_stale(vs))
		return NULL;
	c = list_entry(vs->free_list.next, struct vsock_conn, wait);
	list_del_init(&c->wait);
	buf = c->buf;
	memset(c, 0, sizeof(*c));
	c->vs = vs;
	c->fd = -1;
	c->buf = buf;
	list_init(&c->hash);
	list_init(&c->owe);
	list_init(&c->wait);
	c->since_ms = now_ms();
	vs->nr_conns++;
	return c;
}

/* Stops watching and closes the host socket. */
static void conn_close_fd(struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	if (c->events)
		loop_del(&c->vs->vdev.vm->loop, &c->h);
	close(c->fd);
	c->fd = -1;
	c->events = 0;
}

void vsock_conn_free(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;

	conn_close_fd(c);
	list_del_init(&c->hash);
	list_del_init(&c->owe);
	list_del_init(&c->wait);
	if (c->opened)
		counter_inc(&vs->stats.conns_closed);
	/* Give the ring's pages back: memory follows the rings in use. */
	if (c->buf_touched)
		madvise(c->buf, VSOCK_BUF_ALLOC, MADV_DONTNEED);
	c->buf_touched = false;
	c->state = VC_FREE;
	vs->nr_conns--;
	vsock_listen_resume(vs); /* an fd was closed */
	list_add_tail(&c->wait, &vs->free_list);
}

void vsock_conns_close_all(struct virtio_vsock *vs)
{
	unsigned int i;

	for (i = 0; i < VSOCK_MAX_CONNS; i++)
		if (vs->conns[i].state != VC_FREE)
			vsock_conn_free(&vs->conns[i]);
	vs->nr_orphans = 0;
	vs->orphan_head = 0;
	vs->tx_blocked = false;
}

void vsock_conn_owe(struct vsock_conn *c, unsigned int what)
{
	c->owed |= what;
	if (list_empty(&c->owe))
		list_add_tail(&c->owe, &c->vs->owe_list);
}

/* Host socket gone or protocol broken: close it and owe the guest an RST. */
static void conn_reset(struct vsock_conn *c)
{
	conn_close_fd(c);
	counter_inc(&c->vs->stats.conns_reset);
	if (c->state == VC_HOST_LINE) {
		vsock_conn_free(c);
		return;
	}
	c->state = VC_DEAD;
	c->owed = 0;
	list_del_init(&c->wait);
	vsock_conn_owe(c, VC_OWE_RST);
}

static void conn_event(struct loop_handler *h, uint32_t events);

static bool conn_may_read(const struct vsock_conn *c)
{
	if (c->state == VC_HOST_LINE)
		return true;
	return c->state == VC_ESTABLISHED && !c->host_eof && !(c->peer_shut & VSOCK_SHUTDOWN_RCV) &&
	       !c->rx_waiting && !c->credit_stalled;
}

/*
 * Watches the host socket for what the connection can take now. A socket
 * with nothing to watch leaves the loop: epoll reports a hang-up even with
 * no events asked, and a peer that hung up must not spin the loop while
 * the guest has no room for its last bytes.
 */
static void conn_arm(struct vsock_conn *c)
{
	struct epoll_event ev = { .data.ptr = &c->h };
	int epfd = c->vs->vdev.vm->loop.epfd;
	uint32_t want = 0;
	int op;

	if (c->fd < 0)
		return;
	if (conn_may_read(c))
		want |= EPOLLIN;
	if (c->buf_used)
		want |= EPOLLOUT;
	if (want == c->events)
		return;
	op = !want ? EPOLL_CTL_DEL : c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	ev.events = want;
	if (epoll_ctl(epfd, op, c->fd, &ev) == 0) {
		c->events = want;
		return;
	}
	/* Only out of kernel memory: the connection cannot be served. */
	pr_warn("vsock: epoll_ctl on a connection: %s", strerror(errno));
	conn_reset(c);
}

static void conn_set_fd(struct vsock_conn *c, int fd)
{
	c->fd = fd;
	c->h.fd = fd;
	c->h.fn = conn_event;
	c->events = 0;
}

/* ---- guest to host ---- */

/* The iovecs of [off, off + len) of iov[0, n), at most max of them. */
static unsigned int iov_slice(const struct iovec *iov, unsigned int n, size_t off, size_t len,
			      struct iovec *out, unsigned int max)
{
	unsigned int i, k = 0;

	for (i = 0; i < n && len && k < max; i++) {
		size_t l = iov[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		out[k].iov_base = (uint8_t *)iov[i].iov_base + off;
		out[k].iov_len = MIN(l - off, len);
		len -= out[k].iov_len;
		off = 0;
		k++;
	}
	return k;
}

/* Sends iov to the host socket: bytes taken (0 when full), or -errno. */
static ssize_t host_send(int fd, struct iovec *iov, unsigned int n)
{
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = n };
	ssize_t r;

	if (!n)
		return 0;
	do
		r = sendmsg(fd, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return r;
}

/* Bytes forwarded: tell the guest its credit back before it runs dry. */
static void conn_forwarded(struct vsock_conn *c, uint32_t n)
{
	c->fwd_cnt += n;
	vsock_count(&c->vs->stats.bytes_to_host, n);
	if (c->fwd_cnt - c->fwd_told >= VSOCK_BUF_ALLOC / 2)
		vsock_conn_owe(c, VC_OWE_CREDIT_UPDATE);
}

/* The guest has shut both ways and all its data is out: close and RST. */
static void conn_maybe_finish(struct vsock_conn *c)
{
	if (c->buf_used || c->state != VC_ESTABLISHED)
		return;
	if ((c->peer_shut & VSOCK_SHUTDOWN_SEND) && !c->host_shut_wr && c->fd >= 0) {
		shutdown(c->fd, SHUT_WR);
		c->host_shut_wr = true;
	}
	if (c->peer_shut == VSOCK_SHUTDOWN_BOTH) {
		conn_close_fd(c);
		c->state = VC_DEAD;
		c->owed = 0;
		list_del_init(&c->wait);
		vsock_conn_owe(c, VC_OWE_RST);
	}
}

/* Writes the ring out to the host socket (EPOLLOUT). */
static void conn_drain(struct vsock_conn *c)
{
	while (c->buf_used) {
		uint32_t first = MIN(c->buf_used, VSOCK_BUF_ALLOC - c->buf_head);
		struct iovec iov[2] = {
			{ c->buf + c->buf_head, first },
			{ c->buf, c->buf_used - first },
		};
		ssize_t n = host_send(c->fd, iov, c->buf_used > first ? 2 : 1);

		if (n < 0) {
			conn_reset(c);
			return;
		}
		if (n == 0)
			break;
		c->buf_head = (c->buf_head + (uint32_t)n) % VSOCK_BUF_ALLOC;
		c->buf_used -= (uint32_t)n;
		conn_forwarded(c, (uint32_t)n);
	}
	conn_maybe_finish(c);
}

/* An RW packet's payload: straight to the host socket, the rest into the ring. */
static void conn_guest_data(struct vsock_conn *c, const struct vsock_hdr *h,
			    const struct virtq_chain *ch)
{
	struct iovec iov[MAX_SLICE];
	size_t done = 0;
	uint32_t tail;

	if (c->peer_shut & VSOCK_SHUTDOWN_SEND) {
		conn_reset(c); /* data after the guest said it sends no more */
		return;
	}
	/* The ring is what the guest may have outstanding: more breaks its credit. */
	if (h->len > VSOCK_BUF_ALLOC - c->buf_used) {
		conn_reset(c);
		return;
	}
	if (!h->len)
		return;
	if (!c->buf_used) {
		unsigned int n =
			iov_slice(ch->iov, ch->out_num, VSOCK_HDR_SIZE, h->len, iov, MAX_SLICE);
		ssize_t r = host_send(c->fd, iov, n);

		if (r < 0) {
			conn_reset(c);
			return;
		}
		done = (size_t)r;
		if (done)
			conn_forwarded(c, (uint32_t)done);
	}
	while (done < h->len) {
		uint32_t room;
		size_t k;

		tail = (c->buf_head + c->buf_used) % VSOCK_BUF_ALLOC;
		room = VSOCK_BUF_ALLOC - tail;
		k = iov_to_buf(ch->iov, ch->out_num, VSOCK_HDR_SIZE + done, c->buf + tail,
			       MIN(room, h->len - done));
		if (!k)
			break;
		c->buf_used += (uint32_t)k;
		c->buf_touched = true;
		done += k;
	}
	conn_arm(c);
}

static void conn_guest_shutdown(struct vsock_conn *c, uint32_t flags)
{
	c->peer_shut |= flags & VSOCK_SHUTDOWN_BOTH;
	conn_maybe_finish(c);
	conn_arm(c);
}

/* ---- TX: the guest's packets ---- */

/* A REQUEST from the guest to CID 2: connect to "<uds_path>_<port>". */
static void conn_guest_request(struct virtio_vsock *vs, const struct vsock_hdr *h)
{
	struct vsock_conn *c = vsock_conn_alloc(vs);
	int fd;

	if (!c) {
		vsock_orphan_rst(vs, h);
		return;
	}
	fd = vsock_uds_connect(vs->cfg.uds_path, h->dst_port);
	if (fd < 0) {
		pr_debug("vsock: guest port %u to %s_%u: %s", h->src_port, vs->cfg.uds_path,
			 h->dst_port, strerror(-fd));
		vsock_conn_free(c);
		vsock_orphan_rst(vs, h);
		return;
	}
	conn_set_fd(c, fd);
	c->local_port = h->dst_port;
	c->peer_port = h->src_port;
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	c->state = VC_ESTABLISHED;
	c->opened = true;
	conn_hash(c);
	counter_inc(&vs->stats.conns_opened);
	vsock_conn_owe(c, VC_OWE_RESPONSE);
	conn_arm(c);
}

/* The guest answered our REQUEST: tell the host process its port. */
static void conn_guest_response(struct vsock_conn *c)
{
	char ok[32];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->local_port);
	ssize_t r;

	do
		r = send(c->fd, ok, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (r < 0 && errno == EINTR);
	if (r != n) {
		conn_reset(c); /* a fresh socket takes a dozen bytes, or the host is gone */
		return;
	}
	c->state = VC_ESTABLISHED;
	c->opened = true;
	counter_inc(&c->vs->stats.conns_opened);
	conn_arm(c);
}

void vsock_conn_tx(struct virtio_vsock *vs, const struct vsock_hdr *h, const struct virtq_chain *ch)
{
	struct vsock_conn *c = vsock_conn_lookup(vs, h->dst_port, h->src_port);

	if (!c) {
		if (h->op == VSOCK_OP_REQUEST)
			conn_guest_request(vs, h);
		else if (h->op != VSOCK_OP_RST)
			vsock_orphan_rst(vs, h);
		return;
	}
	if (c->state == VC_DEAD) {
		/* Its RST is on the way; an RST from the guest ends it now. */
		if (h->op == VSOCK_OP_RST)
			vsock_conn_free(c);
		return;
	}
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (c->credit_stalled && vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->rx_cnt)) {
		c->credit_stalled = false;
		conn_arm(c);
	}
	if (h->op == VSOCK_OP_RST) {
		vsock_conn_free(c); /* refused, or the guest is gone: the host sees EOF */
		return;
	}
	if (c->state == VC_LOCAL_INIT) {
		if (h->op == VSOCK_OP_RESPONSE && !(c->owed & VC_OWE_REQUEST))
			conn_guest_response(c);
		else
			conn_reset(c);
		return;
	}
	switch (h->op) {
	case VSOCK_OP_RW:
		conn_guest_data(c, h, ch);
		break;
	case VSOCK_OP_CREDIT_UPDATE:
		break; /* the credit is read above */
	case VSOCK_OP_CREDIT_REQUEST:
		vsock_conn_owe(c, VC_OWE_CREDIT_UPDATE);
		break;
	case VSOCK_OP_SHUTDOWN:
		conn_guest_shutdown(c, h->flags);
		break;
	default: /* REQUEST or RESPONSE on an open connection, or no op at all */
		conn_reset(c);
		break;
	}
}

/* ---- host to guest ---- */

/* Reads host data into receive buffers while the guest has credit and buffers. */
static void conn_host_data(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	unsigned int budget = VSOCK_RX_BUDGET;
	struct iovec iov[MAX_SLICE];

	while (budget-- && conn_may_read(c)) {
		uint32_t credit = vsock_peer_credit(c->peer_buf_alloc, c->peer_fwd_cnt, c->rx_cnt);
		struct virtq_chain *ch;
		struct vsock_hdr h;
		size_t room = 0;
		unsigned int i, n;
		ssize_t r;

		if (c->owed) {
			vsock_rx_flush(vs); /* its control packets go first */
			if (c->owed) {
				c->rx_waiting = true;
				list_add_tail(&c->wait, &vs->rx_wait);
				break;
			}
		}
		if (!credit) {
			c->credit_stalled = true;
			counter_inc(&vs->stats.credit_stalls);
			vsock_conn_owe(c, VC_OWE_CREDIT_REQUEST);
			vsock_rx_flush(vs);
			break;
		}
		ch = vsock_rx_chain(vs);
		if (!ch) {
			c->rx_waiting = true;
			list_add_tail(&c->wait, &vs->rx_wait);
			break;
		}
		for (i = ch->out_num; i < ch->out_num + ch->in_num; i++)
			room += ch->iov[i].iov_len;
		if (room <= VSOCK_HDR_SIZE) {
			vsock_rx_push(vs, 0); /* too small for anything: dropped */
			counter_inc(&vs->stats.pkts_dropped);
			continue;
		}
		room = MIN(room - VSOCK_HDR_SIZE, MIN((size_t)credit, (size_t)VSOCK_MAX_PKT));
		n = iov_slice(&ch->iov[ch->out_num], ch->in_num, VSOCK_HDR_SIZE, room, iov,
			      MAX_SLICE);
		do
			r = readv(c->fd, iov, (int)n);
		while (r < 0 && errno == EINTR);
		if (r > 0) {
			vsock_hdr_from_conn(&h, c, VSOCK_OP_RW, 0, (uint32_t)r);
			buf_to_iov(&ch->iov[ch->out_num], ch->in_num, 0, &h, sizeof(h));
			vsock_rx_push(vs, VSOCK_HDR_SIZE + (uint32_t)r);
			c->rx_cnt += (uint32_t)r;
			vsock_count(&vs->stats.bytes_to_guest, (uint64_t)r);
			continue;
		}
		/* Nothing read: the chain stays held for the next packet. */
		if (r == 0) {
			c->host_eof = true;
			c->shutdown_flags = VSOCK_SHUTDOWN_SEND;
			vsock_conn_owe(c, VC_OWE_SHUTDOWN);
			vsock_rx_flush(vs);
		} else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			conn_reset(c);
			vsock_rx_flush(vs);
		}
		break;
	}
	virtq_notify(virtio_dev_vq(&vs->vdev, VSOCK_RXQ));
	conn_arm(c);
}

/* The "CONNECT <port>\n" line of a host connection, a byte at a time (no read-ahead). */
static void conn_host_line(struct vsock_conn *c)
{
	struct virtio_vsock *vs = c->vs;
	uint32_t port;
	int err = -EAGAIN;

	while (err == -EAGAIN && c->line_len < VSOCK_LINE_MAX) {
		ssize_t r = read(c->fd, &c->line[c->line_len], 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			vsock_conn_free(c); /* EOF or error before the line */
			return;
		}
		c->line_len++;
		err = vsock_connect_line_parse(c->line, c->line_len, &port);
	}
	if (err || !vs->vdev.active) {
		pr_debug("vsock: host connection refused: %s",
			 err ? "not \"CONNECT <port>\\n\"" : "the guest driver is not ready");
		vsock_conn_free(c);
		return;
	}
	/* A local port no other connection to that guest port uses (a table's worth at most). */
	do {
		if (vs->next_local_port < VSOCK_LOCAL_PORT_BASE) /* wrapped */
			vs->next_local_port = VSOCK_LOCAL_PORT_BASE;
		c->local_port = vs->next_local_port++;
	} while (vsock_conn_lookup(vs, c->local_port, port));
	c->peer_port = port;
	c->state = VC_LOCAL_INIT;
	c->since_ms = now_ms();
	conn_hash(c);
	vsock_conn_owe(c, VC_OWE_REQUEST);
	conn_arm(c); /* nothing is read until the guest answers */
	vsock_rx_flush(vs);
}

static void conn_event(struct loop_handler *h, uint32_t events)
{
	struct vsock_conn *c = container_of(h, struct vsock_conn, h);
	struct virtio_dev *vdev = &c->vs->vdev;

	pthread_mutex_lock(&vdev->lock);
	if (c->state == VC_HOST_LINE) {
		conn_host_line(c);
		goto out;
	}
	if ((events & EPOLLOUT) && c->buf_used)
		conn_drain(c);
	/* A hang-up or an error shows itself to the read: data first, then EOF. */
	if (c->fd >= 0 && conn_may_read(c) && (events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		conn_host_data(c);
	else if (c->fd >= 0 && (events & EPOLLERR))
		conn_reset(c);
	conn_arm(c);
	vsock_rx_flush(c->vs);
out:
	pthread_mutex_unlock(&vdev->lock);
}

static void listen_pause(struct virtio_vsock *vs, bool pause)
{
	struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.ptr = &vs->listen_h };

	if (vs->listen_paused == pause)
		return;
	if (epoll_ctl(vs->vdev.vm->loop.epfd, EPOLL_CTL_MOD, vs->listen_fd, &ev) == 0)
		vs->listen_paused = pause;
}

void vsock_listen_resume(struct virtio_vsock *vs)
{
	listen_pause(vs, false);
}

void vsock_conn_accept(struct loop_handler *h, uint32_t events)
{
	struct virtio_vsock *vs = container_of(h, struct virtio_vsock, listen_h);
	unsigned int budget = 16;

	(void)events;
	pthread_mutex_lock(&vs->vdev.lock);
	while (budget--) {
		int fd = accept4(vs->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			/*
			 * Out of fds or memory: the pending connection stays
			 * readable, so stop watching until a slot or an fd may
			 * be free again (vsock_listen_resume), not spin.
			 */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				listen_pause(vs, true);
			break;
		}
		c = vsock_conn_alloc(vs);
		if (!c) {
			close(fd); /* full: the host sees EOF */
			continue;
		}
		conn_set_fd(c, fd);
		c->state = VC_HOST_LINE;
		conn_arm(c);
	}
	pthread_mutex_unlock(&vs->vdev.lock);
}

void vsock_conns_rx_ready(struct virtio_vsock *vs)
{
	while (!list_empty(&vs->rx_wait)) {
		struct vsock_conn *c = list_entry(vs->rx_wait.next, struct vsock_conn, wait);

		list_del_init(&c->wait);
		c->rx_waiting = false;
		conn_arm(c);
	}
}
