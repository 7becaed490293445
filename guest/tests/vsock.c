// SPDX-License-Identifier: MIT
/*
 * vsock: a ring-3 virtio-vsock driver (stream sockets only, polling)
 * against mvm's Firecracker-style host side; tests/integration/vsock.sh
 * runs the host part (an echo server at <uds>_1234, host clients that send
 * "CONNECT 5000").
 *
 *   - config space: guest_cid is the cmdline's cid=;
 *   - guest-initiated: 4 connections to CID 2 port 1234 at once, lines
 *     written to them interleaved, each echoed back whole and in order,
 *     then SHUTDOWN and the device's RST;
 *   - to a port nobody listens on (1235): RST;
 *   - host-initiated: serves port 5000 as an echo server until hosts=
 *     connections (cmdline) have come, been echoed and shut down.
 *
 * Prints PASS/FAIL lines and "vsock: N passed, M failed".
 */
#include "guest.h"
#include "virtio.h"

#define RXQ	 0
#define TXQ	 1
#define EVQ	 2
#define NRX	 32
#define RXSZ	 4096
#define HOST_CID 2
#define BUF	 65536

#define OP_REQUEST	 1
#define OP_RESPONSE	 2
#define OP_RST		 3
#define OP_SHUTDOWN	 4
#define OP_RW		 5
#define OP_CREDIT_UPDATE 6
#define OP_CREDIT_REQ	 7

struct hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port, len;
	uint16_t type, op;
	uint32_t flags, buf_alloc, fwd_cnt;
} __attribute__((packed));

enum { C_FREE, C_CONNECTING, C_OPEN, C_CLOSING, C_RESET };

struct conn {
	int state;
	uint32_t lport, pport; /* ours (guest), the host's */
	uint32_t fwd_cnt;      /* bytes we consumed */
	uint32_t peer_alloc, peer_fwd, tx_cnt;
	bool peer_shut_send;
	char in[2048];
	uint32_t in_len;
};

#define MAXC 16
static struct conn conns[MAXC];
static struct vdev v;
static struct vq rx, tx, ev;
static uint8_t *rxbuf[NRX], *txbuf, *evbuf;
static int rx_of_head[VQ_MAX];
static uint64_t cid;

static uint64_t deadline(unsigned int seconds)
{
	return rdtsc() + (uint64_t)seconds * 3000000000ull;
}

static struct conn *find(uint32_t lport, uint32_t pport)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i].state != C_FREE && conns[i].lport == lport && conns[i].pport == pport)
			return &conns[i];
	return NULL;
}

static struct conn *alloc(uint32_t lport, uint32_t pport)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i].state == C_FREE) {
			memset(&conns[i], 0, sizeof(conns[i]));
			conns[i].lport = lport;
			conns[i].pport = pport;
			return &conns[i];
		}
	return NULL;
}

static bool send_pkt(uint32_t lport, uint32_t pport, uint16_t op, uint32_t flags, uint32_t fwd,
		     const void *data, uint32_t len)
{
	struct hdr *h = (struct hdr *)txbuf;
	struct vbuf b[2] = { { txbuf, sizeof(*h) }, { txbuf + 64, len } };

	memset(h, 0, sizeof(*h));
	h->src_cid = cid;
	h->dst_cid = HOST_CID;
	h->src_port = lport;
	h->dst_port = pport;
	h->len = len;
	h->type = 1;
	h->op = op;
	h->flags = flags;
	h->buf_alloc = BUF;
	h->fwd_cnt = fwd;
	if (len)
		memcpy(txbuf + 64, data, len);
	if (vq_add(&tx, b, len ? 2 : 1, 0) < 0)
		return false;
	vq_kick(&tx);
	return vq_wait(&tx, NULL, 2000000000ul) >= 0;
}

static bool conn_send(struct conn *c, uint16_t op, uint32_t flags, const void *d, uint32_t n)
{
	if (op == OP_RW)
		c->tx_cnt += n;
	return send_pkt(c->lport, c->pport, op, flags, c->fwd_cnt, d, n);
}

static void post_rx(int i)
{
	struct vbuf b = { rxbuf[i], RXSZ };
	int head = vq_add(&rx, &b, 0, 1);

	if (head >= 0)
		rx_of_head[head] = i;
}

/* Host-initiated connections are accepted on this port; their data echoed. */
static uint32_t listen_port;
static unsigned int host_done, bad_packets;

static void handle(const struct hdr *h, const uint8_t *data)
{
	struct conn *c = find(h->dst_port, h->src_port);

	if (h->src_cid != HOST_CID || h->dst_cid != cid || h->type != 1) {
		bad_packets++;
		return;
	}
	if (!c) {
		if (h->op == OP_REQUEST && h->dst_port == listen_port &&
		    (c = alloc(h->dst_port, h->src_port))) {
			c->state = C_OPEN;
			c->peer_alloc = h->buf_alloc;
			c->peer_fwd = h->fwd_cnt;
			conn_send(c, OP_RESPONSE, 0, NULL, 0);
		} else if (h->op != OP_RST) {
			send_pkt(h->dst_port, h->src_port, OP_RST, 0, 0, NULL, 0);
		}
		return;
	}
	c->peer_alloc = h->buf_alloc;
	c->peer_fwd = h->fwd_cnt;
	switch (h->op) {
	case OP_RESPONSE:
		if (c->state == C_CONNECTING)
			c->state = C_OPEN;
		break;
	case OP_RST:
		c->state = C_RESET;
		break;
	case OP_RW:
		c->fwd_cnt += h->len;
		if (c->lport == listen_port) { /* the echo server */
			conn_send(c, OP_RW, 0, data, h->len);
		} else if (c->in_len + h->len <= sizeof(c->in)) {
			memcpy(c->in + c->in_len, data, h->len);
			c->in_len += h->len;
		}
		break;
	case OP_SHUTDOWN:
		c->peer_shut_send = h->flags & 2;
		if (c->lport == listen_port && c->peer_shut_send) {
			/* The host is done: so are we; the device answers with RST. */
			conn_send(c, OP_SHUTDOWN, 3, NULL, 0);
			c->state = C_CLOSING;
			host_done++;
		}
		break;
	case OP_CREDIT_REQ:
		conn_send(c, OP_CREDIT_UPDATE, 0, NULL, 0);
		break;
	case OP_CREDIT_UPDATE:
		break;
	default:
		bad_packets++;
	}
}

/* Takes every received packet; true if there was one. */
static bool poll_rx(void)
{
	uint32_t len;
	int head;
	bool any = false;

	while ((head = vq_poll(&rx, &len)) >= 0) {
		int i = rx_of_head[head];
		const struct hdr *h = (const struct hdr *)rxbuf[i];

		if (len >= sizeof(*h) && h->len <= len - sizeof(*h))
			handle(h, rxbuf[i] + sizeof(*h));
		else
			bad_packets++;
		post_rx(i);
		any = true;
	}
	if (any)
		vq_kick(&rx);
	return any;
}

static void wait_until(bool (*done)(void), unsigned int seconds)
{
	uint64_t end = deadline(seconds);

	while (!done() && rdtsc() < end)
		if (!poll_rx())
			cpu_relax();
}

static bool all_open(void)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i].state == C_CONNECTING)
			return false;
	return true;
}

static unsigned int want_len[4];

static bool all_echoed(void)
{
	for (int k = 0; k < 4; k++)
		if (conns[k].in_len < want_len[k] && conns[k].state == C_OPEN)
			return false;
	return true;
}

static bool all_reset(void)
{
	for (int i = 0; i < MAXC; i++)
		if (conns[i].state == C_CLOSING)
			return false;
	return true;
}

static unsigned long hosts_wanted;

static bool hosts_finished(void)
{
	return host_done >= hosts_wanted && all_reset();
}

int main(void)
{
	char line[64], sent[4][2048];
	unsigned int sent_len[4] = { 0 };
	struct conn *c;

	hosts_wanted = guest_cmdline_ulong("hosts", 3);
	if (vdev_open(&v, VIRTIO_PCI_DEVICE(19), 0, 0) || vq_setup(&v, &rx, RXQ, 64) ||
	    vq_setup(&v, &tx, TXQ, 16) || vq_setup(&v, &ev, EVQ, 8)) {
		puts("vsock: no usable virtio-vsock device");
		return 2;
	}
	cid = vdev_cfg64(&v, 0);
	guest_check("vsock.guest_cid", cid, guest_cmdline_ulong("cid", 3));
	txbuf = dma_alloc(8192, 64);
	evbuf = dma_alloc(64, 64);
	for (int i = 0; i < NRX; i++)
		rxbuf[i] = dma_alloc(RXSZ, 64);
	vdev_driver_ok(&v);
	for (int i = 0; i < NRX; i++)
		post_rx(i);
	vq_kick(&rx);
	{
		struct vbuf b = { evbuf, 4 };

		vq_add(&ev, &b, 0, 1);
		vq_kick(&ev);
	}
	listen_port = 5000;

	/* Guest-initiated: 4 at once to the host's echo server. */
	for (int k = 0; k < 4; k++) {
		c = alloc(3000 + (uint32_t)k, 1234);
		c->state = C_CONNECTING;
		conn_send(c, OP_REQUEST, 0, NULL, 0);
	}
	wait_until(all_open, 10);
	for (int k = 0; k < 4; k++) {
		snprintf(line, sizeof(line), "vsock.connect_%d", k);
		guest_check(line, conns[k].state, C_OPEN);
	}
	for (int r = 0; r < 8; r++)
		for (int k = 3; k >= 0; k--) {
			int n = snprintf(line, sizeof(line), "guest %d round %d\n", k, r);

			if (conns[k].state != C_OPEN)
				continue;
			memcpy(sent[k] + sent_len[k], line, (size_t)n);
			sent_len[k] += (unsigned int)n;
			conn_send(&conns[k], OP_RW, 0, line, (uint32_t)n);
			poll_rx();
		}
	for (int k = 0; k < 4; k++)
		want_len[k] = sent_len[k];
	wait_until(all_echoed, 10);
	for (int k = 0; k < 4; k++) {
		snprintf(line, sizeof(line), "vsock.echo_%d", k);
		guest_check(line,
			    conns[k].in_len == sent_len[k] &&
				    !memcmp(conns[k].in, sent[k], sent_len[k]),
			    1);
		conn_send(&conns[k], OP_SHUTDOWN, 3, NULL, 0);
		conns[k].state = C_CLOSING;
	}
	wait_until(all_reset, 10);
	guest_check("vsock.shutdown_gets_rst", all_reset(), 1);
	for (int k = 0; k < 4; k++)
		conns[k].state = C_FREE;

	/* Nobody at <uds>_1235: reset. */
	c = alloc(3100, 1235);
	c->state = C_CONNECTING;
	conn_send(c, OP_REQUEST, 0, NULL, 0);
	wait_until(all_open, 10);
	guest_check("vsock.no_listener_rst", c->state, C_RESET);
	c->state = C_FREE;

	/* Host-initiated: serve port 5000 until the hosts are done. */
	puts("vsock: listening on port 5000");
	wait_until(hosts_finished, 60);
	guest_check("vsock.host_connections", host_done, hosts_wanted);
	guest_check("vsock.bad_packets", bad_packets, 0);
	return guest_check_summary("vsock");
}
