// SPDX-License-Identifier: MIT
/*
 * virtio-vsock without KVM: the device on both virtio transports of a
 * fake-KVM VM, its queues driven by a scripted guest (hand-built
 * descriptor chains in guest RAM, kicks through the queues' eventfds), its
 * host side by real Unix sockets, and the VM's event loop run by the test
 * (pump()) so that everything happens on this thread in a known order.
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "fake.h"
#include "mvm/control.h"
#include "mvm/devtype.h"
#include "mvm/fault.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/snap_format.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "mvm/vsock.h"
#include "unit.h"
#include "vdrv.h"
#include "virtio/vsock.h"

#define QSZ	   64
#define TX_SLOTS   8				/* two descriptors each: header, payload */
#define RING(q)	   (0x10000ULL + (q)*0x4000ULL) /* desc; avail +0x1000; used +0x2000 */
#define RXBUF(i)   (0x40000ULL + (i)*0x1000ULL)
#define RXBUF_SIZE 4096
#define RX_POSTED  32
#define TXHDR(s)   (0x90000ULL + (s)*0x100ULL)
#define TXDATA(s)  (0x100000ULL + (s)*0x20000ULL)
#define EVBUF(i)   (0xa0000ULL + (i)*0x10ULL)

#define VIRTIO_ID_VSOCK 19

#define GUEST_CID 3

struct venv {
	struct vdrv d;
	struct vm *vm;
	struct virtio_dev *vdev;
	struct virtio_vsock *vs;
	uint16_t avail[VSOCK_NUM_QUEUES];
	uint16_t used_seen[VSOCK_NUM_QUEUES];
	char dir[64];
	char uds[108];
	/* What the scripted guest puts in its packets' credit fields. */
	uint32_t g_buf_alloc, g_fwd_cnt;
};

/* Runs the VM's event loop until it has nothing to do; the handlers it ran. */
static unsigned int pump_wait(struct venv *e, int first_timeout_ms)
{
	struct epoll_event ev[16];
	unsigned int total = 0, rounds = 0;
	int timeout = first_timeout_ms;

	for (;;) {
		int i, n = epoll_wait(e->vm->loop.epfd, ev, 16, timeout);

		if (n <= 0)
			break;
		for (i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;

			vdrv_loop_dispatch(h, ev[i].events);
		}
		total += (unsigned int)n;
		timeout = 0;
		/* An idle device leaves the loop idle: no handler fires for nothing. */
		assert_true(++rounds < 2000);
	}
	return total;
}

static unsigned int pump(struct venv *e)
{
	return pump_wait(e, 0);
}

static void kick(struct venv *e, unsigned int q)
{
	virtq_kick(virtio_dev_vq(e->vdev, q));
	pump(e);
}

static void avail_add(struct venv *e, unsigned int q, uint16_t head)
{
	uint64_t avail = RING(q) + 0x1000;
	uint16_t slot = e->avail[q] % QSZ;

	mem_write(&e->vm->mem, avail + 4 + 2 * slot, &head, 2);
	e->avail[q]++;
	mem_write(&e->vm->mem, avail + 2, &e->avail[q], 2);
}

static void desc_set(struct venv *e, unsigned int q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	mem_write(&e->vm->mem, RING(q) + 16ULL * i, &d, sizeof(d));
}

static uint16_t used_idx(struct venv *e, unsigned int q)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, RING(q) + 0x2000 + 2, &v, 2);
	return v;
}

/* Posts receive buffer i (descriptor i, RXBUF(i)). */
static void rx_post(struct venv *e, uint16_t i)
{
	desc_set(e, VSOCK_RXQ, i, RXBUF(i), RXBUF_SIZE, VIRTQ_DESC_F_WRITE, 0);
	avail_add(e, VSOCK_RXQ, i);
}

/*
 * The next packet the device put in the receive queue: its header and up
 * to RXBUF_SIZE bytes of payload (*len). The buffer is posted again (no
 * kick). False when there is none.
 */
static bool rx_get(struct venv *e, struct vsock_hdr *h, void *data, uint32_t *len)
{
	uint64_t used = RING(VSOCK_RXQ) + 0x2000;
	struct virtq_used_elem u;

	if (used_idx(e, VSOCK_RXQ) == e->used_seen[VSOCK_RXQ])
		return false;
	mem_read(&e->vm->mem, used + 4 + 8 * (e->used_seen[VSOCK_RXQ] % QSZ), &u, sizeof(u));
	e->used_seen[VSOCK_RXQ]++;
	assert_true(u.id < RX_POSTED);
	assert_true(u.len >= VSOCK_HDR_SIZE && u.len <= RXBUF_SIZE);
	mem_read(&e->vm->mem, RXBUF(u.id), h, sizeof(*h));
	assert_int_equal(h->len, u.len - VSOCK_HDR_SIZE);
	if (data)
		mem_read(&e->vm->mem, RXBUF(u.id) + VSOCK_HDR_SIZE, data, h->len);
	if (len)
		*len = h->len;
	rx_post(e, (uint16_t)u.id);
	return true;
}

/* The next packet must be op from local_port to peer_port; its header. */
static struct vsock_hdr rx_expect(struct venv *e, uint16_t op, uint32_t local_port,
				  uint32_t peer_port)
{
	struct vsock_hdr h;

	assert_true(rx_get(e, &h, NULL, NULL));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_cid, VSOCK_HOST_CID);
	assert_int_equal(h.dst_cid, GUEST_CID);
	assert_int_equal(h.type, VSOCK_TYPE_STREAM);
	if (local_port != UINT32_MAX)
		assert_int_equal(h.src_port, local_port);
	assert_int_equal(h.dst_port, peer_port);
	if (op != VSOCK_OP_RST)
		assert_int_equal(h.buf_alloc, VSOCK_BUF_ALLOC);
	return h;
}

/* Sends one packet on the TX queue (header, payload in a second descriptor), kicks. */
static void tx_hdr(struct venv *e, const void *hdr, uint32_t hdr_len, const void *data,
		   uint32_t len)
{
	uint16_t s = e->avail[VSOCK_TXQ] % TX_SLOTS, before = used_idx(e, VSOCK_TXQ);

	mem_write(&e->vm->mem, TXHDR(s), hdr, hdr_len);
	if (len) {
		mem_write(&e->vm->mem, TXDATA(s), data, len);
		desc_set(e, VSOCK_TXQ, 2 * s, TXHDR(s), hdr_len, VIRTQ_DESC_F_NEXT, 2 * s + 1);
		desc_set(e, VSOCK_TXQ, 2 * s + 1, TXDATA(s), len, 0, 0);
	} else {
		desc_set(e, VSOCK_TXQ, 2 * s, TXHDR(s), hdr_len, 0, 0);
	}
	avail_add(e, VSOCK_TXQ, 2 * s);
	kick(e, VSOCK_TXQ);
	/* Every TX chain comes back at once, whatever it held. */
	assert_int_equal(used_idx(e, VSOCK_TXQ), (uint16_t)(before + 1));
}

static struct vsock_hdr ghdr(struct venv *e, uint32_t src_port, uint32_t dst_port, uint16_t op,
			     uint32_t flags, uint32_t len)
{
	return (struct vsock_hdr){
		.src_cid = GUEST_CID,
		.dst_cid = VSOCK_HOST_CID,
		.src_port = src_port,
		.dst_port = dst_port,
		.len = len,
		.type = VSOCK_TYPE_STREAM,
		.op = op,
		.flags = flags,
		.buf_alloc = e->g_buf_alloc,
		.fwd_cnt = e->g_fwd_cnt,
	};
}

static void tx(struct venv *e, uint32_t src_port, uint32_t dst_port, uint16_t op, uint32_t flags,
	       const void *data, uint32_t len)
{
	struct vsock_hdr h = ghdr(e, src_port, dst_port, op, flags, len);

	tx_hdr(e, &h, sizeof(h), data, len);
}

static struct venv *venv_new_opt(void **state, uint64_t extra_features, bool post_rx)
{
	struct venv *e = test_calloc(1, sizeof(*e));
	struct vsock_config cfg = { .guest_cid = GUEST_CID };
	struct virtio_dev *vdev;
	uint64_t features;
	unsigned int q;

	snprintf(e->dir, sizeof(e->dir), "/tmp/mvm-vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->uds, sizeof(e->uds), "%s/v.sock", e->dir);
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", e->uds);
	e->g_buf_alloc = 256 * 1024;
	vdrv_vm(&e->d, vdrv_transport(state));
	e->vm = e->d.vm;
	memset(mem_ptr(&e->vm->mem, 0, 0x200000), 0, 0x200000);
	vdev = virtio_vsock_create(e->vm, &cfg);
	vdrv_attach(&e->d, vdev, VIRTIO_ID_VSOCK);
	e->vdev = vdev;
	e->vs = container_of(e->vdev, struct virtio_vsock, vdev);

	features = vdrv_device_features(&e->d);
	assert_true(features >> VIRTIO_F_VERSION_1 & 1);
	assert_true(features >> VIRTIO_VSOCK_F_STREAM & 1);
	features = (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_VSOCK_F_STREAM) | extra_features;
	vdrv_negotiate(&e->d, features);
	if (e->d.transport == MVM_TRANSPORT_PCI)
		assert_int_equal(vdrv_rd(&e->d, 0x12, 2), 3); /* num_queues */
	for (q = 0; q < VSOCK_NUM_QUEUES; q++)
		vdrv_queue(&e->d, q, QSZ, RING(q), RING(q) + 0x1000, RING(q) + 0x2000);
	vdrv_driver_ok(&e->d);
	assert_true(e->vdev->active);
	for (q = 0; post_rx && q < RX_POSTED; q++)
		rx_post(e, (uint16_t)q);
	kick(e, VSOCK_RXQ);
	return e;
}

static struct venv *venv_new(void **state)
{
	return venv_new_opt(state, 0, true);
}

static void venv_free(struct venv *e)
{
	struct stat st;

	vdrv_fini(&e->d);
	/* The device removes its socket. */
	assert_int_equal(lstat(e->uds, &st), -1);
	rmdir(e->dir);
	test_free(e);
}

static unsigned int count_fds(void);

/* ---- the host side ---- */

static int host_dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 2 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* A test that waits for bytes that never come fails instead of hanging. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void host_write(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

/* What the host socket has now, without waiting (-1 if nothing, 0 at EOF). */
static ssize_t host_read_now(int fd, void *buf, size_t len)
{
	return recv(fd, buf, len, MSG_DONTWAIT);
}

/*
 * mvm closed its end: EOF, or ECONNRESET when it closed with bytes it had
 * not read (AF_UNIX reports that as a reset).
 */
static bool host_closed(int fd)
{
	char buf[64];
	ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);

	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Host-initiated: CONNECT gport, the guest accepts; the host socket, *lport its port. */
static int host_open(struct venv *e, uint32_t gport, uint32_t *lport)
{
	char line[64], ok[64];
	struct vsock_hdr h;
	int fd = host_dial(e->uds);
	ssize_t n;

	snprintf(line, sizeof(line), "CONNECT %u\n", gport);
	host_write(fd, line);
	pump(e);
	h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, gport);
	assert_true(h.src_port >= VSOCK_LOCAL_PORT_BASE);
	*lport = h.src_port;
	assert_false(rx_get(e, &h, NULL, NULL));
	tx(e, gport, *lport, VSOCK_OP_RESPONSE, 0, NULL, 0);
	n = host_read_now(fd, line, sizeof(line) - 1);
	assert_true(n > 0);
	line[n] = '\0';
	snprintf(ok, sizeof(ok), "OK %u\n", *lport);
	assert_string_equal(line, ok);
	return fd;
}

/* A Unix socket listening at "<uds>_<port>". */
static int host_listen(struct venv *e, uint32_t port, char *path, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(path, len, "%s_%u", e->uds, port);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

/* ---- tests ---- */

struct counter_want {
	const char *name;
	uint64_t value;
	bool seen;
};

static void counter_check(void *opaque, const struct stats_node *node, enum stats_source src,
			  const char *name, const uint64_t *vals, unsigned int n)
{
	struct counter_want *w = opaque;

	if (src == STATS_MVM && n == 1 && !strcmp(name, w->name)) {
		assert_int_equal(vals[0], w->value);
		w->seen = true;
	}
}

/* The device's stats node (mvm stat, GET /stats, Prometheus, metrics) has name = value. */
static void expect_counter(struct venv *e, const char *name, uint64_t value)
{
	struct counter_want w = { name, value, false };

	assert_int_equal(stats_node_visit(&e->vdev->dev.stats, counter_check, &w), 0);
	assert_true(w.seen);
}

static void test_vsock_config_space(void **state)
{
	struct venv *e = venv_new(state);
	struct stat st;

	assert_int_equal(vdrv_config(&e->d, 0, 8), GUEST_CID);
	assert_int_equal(vdrv_config(&e->d, 4, 4), 0);
	/* The listener exists from creation. */
	assert_int_equal(lstat(e->uds, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	/* Nothing happens by itself. */
	assert_int_equal(pump_wait(e, 20), 0);
	venv_free(e);
}

static void test_vsock_host_initiated(void **state)
{
	struct venv *e = venv_new(state);
	struct vsock_hdr h;
	uint32_t lport, len;
	char buf[RXBUF_SIZE];
	int fd;

	fd = host_open(e, 1234, &lport);
	assert_int_equal(e->vs->nr_conns, 1);
	assert_int_equal(counter_read(&e->vs->stats.conns_opened), 1);

	/* Host to guest. */
	host_write(fd, "hello, guest");
	pump(e);
	assert_true(rx_get(e, &h, buf, &len));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.src_port, lport);
	assert_int_equal(h.dst_port, 1234);
	assert_int_equal(len, 12);
	assert_memory_equal(buf, "hello, guest", 12);
	assert_false(rx_get(e, &h, NULL, NULL));

	/* Guest to host. */
	tx(e, 1234, lport, VSOCK_OP_RW, 0, "hello, host", 11);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 11);
	assert_memory_equal(buf, "hello, host", 11);
	assert_false(rx_get(e, &h, NULL, NULL));
	assert_int_equal(counter_read(&e->vs->stats.bytes_to_host), 11);
	assert_int_equal(counter_read(&e->vs->stats.bytes_to_guest), 12);

	/* A credit request gets the credit: 11 bytes forwarded. */
	tx(e, 1234, lport, VSOCK_OP_CREDIT_REQUEST, 0, NULL, 0);
	h = rx_expect(e, VSOCK_OP_CREDIT_UPDATE, lport, 1234);
	assert_int_equal(h.fwd_cnt, 11);

	/* The host is done sending: the guest hears SHUTDOWN(SEND), may still send. */
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	pump(e);
	h = rx_expect(e, VSOCK_OP_SHUTDOWN, lport, 1234);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	assert_false(rx_get(e, &h, NULL, NULL));
	tx(e, 1234, lport, VSOCK_OP_RW, 0, "bye", 3);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 3);

	/* The guest closes: SHUTDOWN both ways, it gets its RST, the host its EOF. */
	tx(e, 1234, lport, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_BOTH, NULL, 0);
	rx_expect(e, VSOCK_OP_RST, lport, 1234);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
	assert_int_equal(e->vs->nr_conns, 0);
	assert_int_equal(counter_read(&e->vs->stats.conns_closed), 1);
	expect_counter(e, "conns_added", 1);
	expect_counter(e, "conns_removed", 1);
	expect_counter(e, "conns_killed", 0);
	expect_counter(e, "tx_bytes_count", 14);
	expect_counter(e, "rx_bytes_count", 12);
	{
		/* And in the device's group of a Firecracker-style metrics line. */
		static char line[65536]; /* every Firecracker group: several KiB */
		json_t *j, *g;
		int p[2];
		ssize_t n;

		assert_int_equal(pipe(p), 0);
		assert_int_equal(metrics_write_line(p[1], e->vm), 0);
		n = read(p[0], line, sizeof(line) - 1);
		assert_true(n > 0);
		line[n] = '\0';
		j = json_loads(line, 0, NULL);
		g = json_object_get(j, "vsock"); /* Firecracker's group */
		assert_non_null(g);
		assert_int_equal(json_integer_value(json_object_get(g, "conns_added")), 1);
		assert_int_equal(json_integer_value(json_object_get(g, "tx_bytes_count")), 14);
		assert_int_equal(json_integer_value(json_object_get(g, "rx_bytes_count")), 12);
		json_decref(j);
		close(p[0]);
		close(p[1]);
	}
	assert_int_equal(pump_wait(e, 20), 0);
	close(fd);
	venv_free(e);
}

static void test_vsock_host_refused(void **state)
{
	struct venv *e = venv_new(state);
	struct vsock_hdr h;
	char buf[64];
	int fd = host_dial(e->uds);

	host_write(fd, "CONNECT 52\n");
	pump(e);
	h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, 52);
	/* No guest listener: the guest answers RST, the host socket closes. */
	tx(e, 52, h.src_port, VSOCK_OP_RST, 0, NULL, 0);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
	assert_int_equal(e->vs->nr_conns, 0);
	assert_false(rx_get(e, &h, NULL, NULL));
	close(fd);

	/* A host that goes away before the guest answers: the answer finds no host, RST. */
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 53\n");
	pump(e);
	h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, 53);
	close(fd);
	pump(e);
	tx(e, 53, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0);
	rx_expect(e, VSOCK_OP_RST, h.src_port, 53);
	assert_int_equal(e->vs->nr_conns, 0);
	venv_free(e);
}

static void test_vsock_guest_initiated(void **state)
{
	struct venv *e = venv_new(state);
	char path[160], buf[RXBUF_SIZE];
	struct vsock_hdr h;
	uint32_t len;
	int lfd, fd;

	/* Nobody listens on <uds>_5000: RST. */
	tx(e, 40000, 5000, VSOCK_OP_REQUEST, 0, NULL, 0);
	rx_expect(e, VSOCK_OP_RST, 5000, 40000);
	assert_int_equal(e->vs->nr_conns, 0);

	lfd = host_listen(e, 5000, path, sizeof(path));
	tx(e, 40001, 5000, VSOCK_OP_REQUEST, 0, NULL, 0);
	rx_expect(e, VSOCK_OP_RESPONSE, 5000, 40001);
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(e->vs->nr_conns, 1);

	tx(e, 40001, 5000, VSOCK_OP_RW, 0, "ping", 4);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "ping", 4);
	host_write(fd, "pong");
	pump(e);
	assert_true(rx_get(e, &h, buf, &len));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.src_port, 5000);
	assert_int_equal(h.dst_port, 40001);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "pong", 4);

	/* The host process goes away mid-stream: orderly SHUTDOWN, then the guest's RST ends it. */
	host_write(fd, "last");
	close(fd);
	pump(e);
	assert_true(rx_get(e, &h, buf, &len));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_memory_equal(buf, "last", 4);
	h = rx_expect(e, VSOCK_OP_SHUTDOWN, 5000, 40001);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	assert_int_equal(pump_wait(e, 20), 0); /* the hung-up socket does not spin the loop */
	/* Writing to a host that is gone: RST. */
	tx(e, 40001, 5000, VSOCK_OP_RW, 0, "more", 4);
	rx_expect(e, VSOCK_OP_RST, 5000, 40001);
	assert_int_equal(e->vs->nr_conns, 0);
	/* The guest's own RST for a connection that is gone: nothing. */
	tx(e, 40001, 5000, VSOCK_OP_RST, 0, NULL, 0);
	assert_false(rx_get(e, &h, NULL, NULL));
	close(lfd);
	unlink(path);
	venv_free(e);
}

static void test_vsock_connect_line_parser(void **state)
{
	uint32_t port = 7;

	(void)state;
	assert_int_equal(vsock_connect_line_parse("CONNECT 52\n", 11, &port), 0);
	assert_int_equal(port, 52);
	assert_int_equal(vsock_connect_line_parse("CONNECT 4294967295\n", 19, &port), 0);
	assert_int_equal(port, 4294967295u);
	assert_int_equal(vsock_connect_line_parse("CONNECT  0 \n", 12, &port), 0);
	assert_int_equal(port, 0);
	/* Incomplete: more bytes needed. */
	assert_int_equal(vsock_connect_line_parse("CONN", 4, &port), -EAGAIN);
	assert_int_equal(vsock_connect_line_parse("CONNECT 52", 10, &port), -EAGAIN);
	assert_int_equal(vsock_connect_line_parse("", 0, &port), -EAGAIN);
	/* Garbage, no port, out of range, overlong, another verb, a sign. */
	assert_int_equal(vsock_connect_line_parse("connect 52\n", 11, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT\n", 8, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT \n", 9, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT 4294967296\n", 19, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT 00000000052\n", 20, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT -1\n", 11, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT 5x\n", 11, &port), -EINVAL);
	assert_int_equal(vsock_connect_line_parse("CONNECT 5\r\n", 11, &port), -EINVAL);
	assert_int_equal(
		vsock_connect_line_parse("CONNECT                        5", VSOCK_LINE_MAX, &port),
		-EINVAL);
	assert_int_equal(port, 0);
}

static void test_vsock_connect_line_socket(void **state)
{
	struct venv *e = venv_new(state);
	char buf[64];
	struct vsock_hdr h;
	int fd;

	/* Garbage: the host socket is closed, the guest hears nothing. */
	fd = host_dial(e->uds);
	host_write(fd, "HELLO\n");
	pump(e);
	assert_true(host_closed(fd));
	close(fd);
	/* Overlong without a newline. */
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 1                              ");
	pump(e);
	assert_true(host_closed(fd));
	close(fd);
	/* Port out of range. */
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 99999999999\n");
	pump(e);
	assert_true(host_closed(fd));
	close(fd);
	/* No newline, then the host goes: its slot is freed. */
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 5");
	pump(e);
	assert_int_equal(e->vs->nr_conns, 1);
	close(fd);
	pump(e);
	assert_int_equal(e->vs->nr_conns, 0);
	/* The line in two pieces, and data right behind it stays for the guest. */
	fd = host_dial(e->uds);
	host_write(fd, "CONN");
	pump(e);
	host_write(fd, "ECT 77\nearly");
	pump(e);
	h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, 77);
	assert_false(rx_get(e, &h, NULL, NULL));
	tx(e, 77, h.src_port, VSOCK_OP_RESPONSE, 0, NULL, 0);
	{
		uint32_t len;

		assert_true(host_read_now(fd, buf, sizeof(buf)) > 0); /* OK <port> */
		pump(e);
		assert_true(rx_get(e, &h, buf, &len));
		assert_int_equal(h.op, VSOCK_OP_RW);
		assert_int_equal(len, 5);
		assert_memory_equal(buf, "early", 5);
	}
	close(fd);
	pump(e);
	h = rx_expect(e, VSOCK_OP_SHUTDOWN, UINT32_MAX, 77);
	assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
	venv_free(e);
}

static void test_vsock_credit_arithmetic(void **state)
{
	(void)state;
	assert_int_equal(vsock_peer_credit(1000, 0, 0), 1000);
	assert_int_equal(vsock_peer_credit(1000, 0, 400), 600);
	assert_int_equal(vsock_peer_credit(1000, 400, 1400), 0);
	/* Across the 2^32 wrap of both counters. */
	assert_int_equal(vsock_peer_credit(1000, 0xfffffff0u, 5), 1000 - 21);
	assert_int_equal(vsock_peer_credit(1000, 0xfffffc18u, 0), 0);
	assert_int_equal(vsock_peer_credit(64, 0xffffffffu, 0xffffffffu), 64);
	/* A peer that claims more consumed than was sent, or a shrunk buffer: no credit. */
	assert_int_equal(vsock_peer_credit(1000, 500, 100), 0);
	assert_int_equal(vsock_peer_credit(100, 0, 400), 0);
	assert_int_equal(vsock_peer_credit(0, 0, 0), 0);
}

static void test_vsock_credit_to_guest(void **state)
{
	struct venv *e = venv_new(state);
	char big[300], buf[RXBUF_SIZE];
	struct vsock_hdr h;
	uint32_t lport, len, got = 0;
	int fd;

	memset(big, 'x', sizeof(big));
	e->g_buf_alloc = 100;
	fd = host_open(e, 9, &lport);
	assert_int_equal(write(fd, big, sizeof(big)), sizeof(big));
	pump(e);
	/* 100 bytes (the guest's buffer), then a credit request and nothing more. */
	while (rx_get(e, &h, buf, &len) && h.op == VSOCK_OP_RW)
		got += len;
	assert_int_equal(got, 100);
	assert_int_equal(h.op, VSOCK_OP_CREDIT_REQUEST);
	assert_int_equal(counter_read(&e->vs->stats.credit_stalls), 1);
	assert_int_equal(pump_wait(e, 20), 0); /* the stalled socket is not polled */
	/* The guest read 60: 60 more. */
	e->g_fwd_cnt = 60;
	tx(e, 9, lport, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump(e);
	got = 0;
	while (rx_get(e, &h, buf, &len) && h.op == VSOCK_OP_RW)
		got += len;
	assert_int_equal(got, 60);
	/* It read everything: a buffer's worth (100) again, then the last 40. */
	e->g_fwd_cnt = 160;
	tx(e, 9, lport, VSOCK_OP_RW, 0, NULL, 0); /* any packet carries the credit */
	pump(e);
	got = 0;
	while (rx_get(e, &h, buf, &len) && h.op == VSOCK_OP_RW)
		got += len;
	assert_int_equal(got, 100);
	assert_int_equal(h.op, VSOCK_OP_CREDIT_REQUEST);
	e->g_fwd_cnt = 260;
	tx(e, 9, lport, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	pump(e);
	got = 0;
	while (rx_get(e, &h, buf, &len))
		if (h.op == VSOCK_OP_RW)
			got += len;
	assert_int_equal(got, 40);
	assert_int_equal(counter_read(&e->vs->stats.credit_stalls), 3);
	close(fd);
	venv_free(e);
}

/* The host socket's send buffer made small, so that the host reader stalls early. */
static struct vsock_conn *conn_of(struct venv *e, uint32_t lport, uint32_t gport)
{
	struct vsock_conn *c = vsock_conn_lookup(e->vs, lport, gport);

	assert_non_null(c);
	return c;
}

static void test_vsock_credit_from_guest(void **state)
{
	struct venv *e = venv_new(state);
	static char chunk[VSOCK_BUF_ALLOC];
	struct vsock_hdr h;
	uint32_t lport, sent = 0, fwd;
	int sz = 4096, fd;
	ssize_t n;

	memset(chunk, 'g', sizeof(chunk));
	fd = host_open(e, 10, &lport);
	setsockopt(conn_of(e, lport, 10)->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	/* The host does not read: what the socket does not take waits in the ring. */
	tx(e, 10, lport, VSOCK_OP_RW, 0, chunk, VSOCK_BUF_ALLOC / 2);
	sent += VSOCK_BUF_ALLOC / 2;
	assert_true(conn_of(e, lport, 10)->buf_used > 0);
	fwd = conn_of(e, lport, 10)->fwd_cnt;
	assert_int_equal(fwd + conn_of(e, lport, 10)->buf_used, sent);
	/* More than the credit left (the ring's room): the guest broke the rules, RST. */
	tx(e, 10, lport, VSOCK_OP_RW, 0, chunk,
	   VSOCK_BUF_ALLOC - conn_of(e, lport, 10)->buf_used + 1);
	while (rx_get(e, &h, NULL, NULL) && h.op != VSOCK_OP_RST)
		;
	assert_int_equal(h.op, VSOCK_OP_RST);
	assert_null(vsock_conn_lookup(e->vs, lport, 10));
	close(fd);

	/* Within the credit: all of it arrives, and the credit comes back as the host reads. */
	fd = host_open(e, 11, &lport);
	setsockopt(conn_of(e, lport, 11)->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	tx(e, 11, lport, VSOCK_OP_RW, 0, chunk, VSOCK_BUF_ALLOC);
	assert_true(conn_of(e, lport, 11)->buf_used > 0);
	{
		static char got[2 * VSOCK_BUF_ALLOC];
		size_t total = 0;
		uint32_t told = 0;

		for (int i = 0; i < 1000 && total < VSOCK_BUF_ALLOC; i++) {
			n = host_read_now(fd, got + total, sizeof(got) - total);
			if (n > 0)
				total += (size_t)n;
			pump(e); /* EPOLLOUT: the ring drains */
		}
		assert_int_equal(total, VSOCK_BUF_ALLOC);
		assert_memory_equal(got, chunk, VSOCK_BUF_ALLOC);
		while (rx_get(e, &h, NULL, NULL))
			if (h.op == VSOCK_OP_CREDIT_UPDATE)
				told = h.fwd_cnt;
		assert_true(told >= VSOCK_BUF_ALLOC / 2); /* told before it ran dry */
		assert_int_equal(conn_of(e, lport, 11)->buf_used, 0);
	}
	assert_int_equal(pump_wait(e, 20), 0); /* drained: no EPOLLOUT left armed */
	close(fd);
	venv_free(e);
}

static void test_vsock_stalled_peer_isolated(void **state)
{
	struct venv *e = venv_new(state);
	static char chunk[VSOCK_BUF_ALLOC];
	char buf[RXBUF_SIZE];
	struct vsock_hdr h;
	uint32_t la, lb, len;
	int sz = 4096, a, b;
	bool b_data = false;

	memset(chunk, 's', sizeof(chunk));
	a = host_open(e, 20, &la);
	b = host_open(e, 21, &lb);
	/* A's host reader is stalled and the guest fills A's credit. */
	setsockopt(conn_of(e, la, 20)->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz));
	tx(e, 20, la, VSOCK_OP_RW, 0, chunk, VSOCK_BUF_ALLOC);
	/* A's host writes far more than the guest takes (the guest gives no credit back). */
	e->g_buf_alloc = 4096;
	tx(e, 20, la, VSOCK_OP_CREDIT_UPDATE, 0, NULL, 0);
	for (int i = 0; i < 8; i++)
		assert_int_equal(write(a, chunk, 8192), 8192);
	pump(e);
	while (rx_get(e, &h, NULL, NULL))
		;
	assert_true(conn_of(e, la, 20)->credit_stalled);
	/* B still flows both ways. */
	e->g_buf_alloc = 256 * 1024;
	tx(e, 21, lb, VSOCK_OP_RW, 0, "to b", 4);
	assert_int_equal(host_read_now(b, buf, sizeof(buf)), 4);
	host_write(b, "from b");
	pump(e);
	while (rx_get(e, &h, buf, &len))
		if (h.op == VSOCK_OP_RW && h.src_port == lb && len == 6 &&
		    !memcmp(buf, "from b", 6))
			b_data = true;
	assert_true(b_data);
	assert_int_equal(pump_wait(e, 20), 0); /* and the stalled one does not spin */
	close(a);
	close(b);
	venv_free(e);
}

static void test_vsock_no_rx_buffers(void **state)
{
	enum { TOTAL = 200 * 1024 };
	struct venv *e = venv_new(state);
	static uint8_t out[TOTAL], in[TOTAL];
	uint8_t buf[RXBUF_SIZE];
	struct vsock_hdr h;
	uint32_t lport, len;
	size_t sent = 0, got = 0;
	int fd, round;

	for (size_t i = 0; i < TOTAL; i++)
		out[i] = (uint8_t)(i * 7 + i / 251);
	fd = host_open(e, 30, &lport);
	/* The guest consumes nothing: its RX_POSTED buffers fill, then host data waits. */
	for (round = 0; round < 100 && sent < TOTAL; round++) {
		ssize_t n = send(fd, out + sent, TOTAL - sent, MSG_DONTWAIT);

		if (n > 0)
			sent += (size_t)n;
		pump(e);
	}
	assert_int_equal((uint16_t)(used_idx(e, VSOCK_RXQ) - e->used_seen[VSOCK_RXQ]), RX_POSTED);
	assert_true(conn_of(e, lport, 30)->rx_waiting);
	assert_int_equal(pump_wait(e, 20), 0); /* it waits without spinning */
	/* The guest takes its packets and posts buffers again: everything arrives, in order. */
	for (round = 0; round < 1000 && got < TOTAL; round++) {
		ssize_t n;

		while (rx_get(e, &h, buf, &len)) {
			assert_int_equal(h.op, VSOCK_OP_RW);
			assert_true(got + len <= TOTAL);
			memcpy(in + got, buf, len);
			got += len;
		}
		kick(e, VSOCK_RXQ);
		n = sent < TOTAL ? send(fd, out + sent, TOTAL - sent, MSG_DONTWAIT) : 0;
		if (n > 0)
			sent += (size_t)n;
		pump(e);
	}
	assert_int_equal(got, TOTAL);
	assert_memory_equal(in, out, TOTAL);
	close(fd);
	venv_free(e);
}

static void test_vsock_many_connections(void **state)
{
	struct venv *e = venv_new(state);
	enum { N = 24 };
	int fds[N];
	uint32_t lports[N];
	char buf[RXBUF_SIZE], msg[32];
	struct vsock_hdr h;
	uint32_t len;
	unsigned int seen[N] = { 0 };
	int i;

	for (i = 0; i < N; i++)
		fds[i] = host_open(e, 100 + (uint32_t)i, &lports[i]);
	assert_int_equal(e->vs->nr_conns, N);
	/* Interleaved: every host writes, then the guest writes to every host. */
	for (i = 0; i < N; i++) {
		snprintf(msg, sizeof(msg), "host %d", i);
		host_write(fds[i], msg);
	}
	pump(e);
	while (rx_get(e, &h, buf, &len)) {
		int k = (int)h.dst_port - 100;

		assert_int_equal(h.op, VSOCK_OP_RW);
		assert_true(k >= 0 && k < N);
		assert_int_equal(h.src_port, lports[k]);
		snprintf(msg, sizeof(msg), "host %d", k);
		assert_int_equal(len, strlen(msg));
		assert_memory_equal(buf, msg, len);
		seen[k]++;
	}
	for (i = 0; i < N; i++)
		assert_int_equal(seen[i], 1);
	for (i = N - 1; i >= 0; i--) {
		snprintf(msg, sizeof(msg), "guest %d", i);
		tx(e, 100 + (uint32_t)i, lports[i], VSOCK_OP_RW, 0, msg, (uint32_t)strlen(msg));
	}
	for (i = 0; i < N; i++) {
		ssize_t n = host_read_now(fds[i], buf, sizeof(buf));

		snprintf(msg, sizeof(msg), "guest %d", i);
		assert_int_equal(n, (ssize_t)strlen(msg));
		assert_memory_equal(buf, msg, (size_t)n);
		close(fds[i]);
	}
	pump(e);
	venv_free(e);
}

static void test_vsock_table_full(void **state)
{
	struct venv *e = venv_new(state);
	static int fds[VSOCK_MAX_CONNS + 1];
	struct vsock_hdr h;
	char buf[8];
	int i;

	/* Every slot taken by hosts that never send their CONNECT line. */
	for (i = 0; i < VSOCK_MAX_CONNS; i++) {
		fds[i] = host_dial(e->uds);
		if (i % 32 == 31)
			pump(e);
	}
	pump(e);
	assert_int_equal(e->vs->nr_conns, VSOCK_MAX_CONNS);
	/* One more host: closed at once. A guest REQUEST: RST. */
	fds[i] = host_dial(e->uds);
	pump(e);
	assert_int_equal(host_read_now(fds[i], buf, sizeof(buf)), 0);
	tx(e, 1, 2, VSOCK_OP_REQUEST, 0, NULL, 0);
	rx_expect(e, VSOCK_OP_RST, 2, 1);
	close(fds[i]);
	/* Handshakes that went stale give their slots to newcomers, oldest first. */
	e->vs->handshake_ms = 0;
	fds[i] = host_dial(e->uds);
	pump(e);
	assert_true(host_closed(fds[0]));
	assert_int_equal(e->vs->nr_conns, VSOCK_MAX_CONNS);
	host_write(fds[i], "CONNECT 9\n");
	pump(e);
	h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, 9);
	assert_int_equal(counter_read(&e->vs->stats.conns_reset), 1);
	tx(e, 9, h.src_port, VSOCK_OP_RST, 0, NULL, 0); /* refused */
	assert_true(host_closed(fds[i]));
	for (i = 0; i <= VSOCK_MAX_CONNS; i++)
		close(fds[i]);
	pump(e);
	assert_int_equal(e->vs->nr_conns, 0);
	venv_free(e);
}

/* Every op in every state, and malformed headers: an RST or nothing, never a crash. */
/* RSTs the guest does not take pile up to a bound; then TX waits for it, and resumes. */
static void test_vsock_orphan_backpressure(void **state)
{
	struct venv *e = venv_new(state);
	struct vsock_hdr h = ghdr(e, 1, 2, VSOCK_OP_RW, 0, 0);
	uint16_t before;
	unsigned int i, rsts = 0;

	for (i = 0; i < RX_POSTED + VSOCK_ORPHAN_MAX; i++)
		tx_hdr(e, &h, sizeof(h), NULL, 0);
	assert_int_equal(e->vs->nr_orphans, VSOCK_ORPHAN_MAX);
	/* One more: not taken. */
	before = used_idx(e, VSOCK_TXQ);
	desc_set(e, VSOCK_TXQ, 0, TXHDR(0), sizeof(h), 0, 0);
	avail_add(e, VSOCK_TXQ, 0);
	kick(e, VSOCK_TXQ);
	assert_int_equal(used_idx(e, VSOCK_TXQ), before);
	assert_true(e->vs->tx_blocked);
	assert_int_equal(pump_wait(e, 20), 0);
	/* The guest takes its RSTs: every one arrives, and TX goes on. */
	for (int round = 0; round < 10; round++) {
		while (rx_get(e, &h, NULL, NULL)) {
			assert_int_equal(h.op, VSOCK_OP_RST);
			rsts++;
		}
		kick(e, VSOCK_RXQ);
	}
	assert_int_equal(rsts, RX_POSTED + VSOCK_ORPHAN_MAX + 1);
	assert_int_equal(used_idx(e, VSOCK_TXQ), (uint16_t)(before + 1));
	assert_false(e->vs->tx_blocked);
	venv_free(e);
}

/* accept() out of fds: the listener pauses (no spinning) and resumes later. */
static void test_vsock_accept_out_of_fds(void **state)
{
	struct venv *e = venv_new(state);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct rlimit saved, low;
	int clients[3], fillers[64], nf = 0, i;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->uds);
	for (i = 0; i < 3; i++)
		clients[i] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	/* No fd left for anyone: the limit just above what is open, the rest filled. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	low = saved;
	low.rlim_cur = (rlim_t)count_fds() + 16;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	while (nf < 64 && (fillers[nf] = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		nf++;
	assert_true(nf < 64);
	assert_int_equal(errno, EMFILE);
	for (i = 0; i < 3; i++)
		assert_int_equal(connect(clients[i], (struct sockaddr *)&sa, sizeof(sa)), 0);
	pump(e);
	assert_true(e->vs->listen_paused);
	assert_int_equal(e->vs->nr_conns, 0);
	assert_int_equal(pump_wait(e, 20), 0);
	/* Fds again, and the guest kicks: the three are accepted. */
	for (i = 0; i < nf; i++)
		close(fillers[i]);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
	kick(e, VSOCK_RXQ);
	assert_false(e->vs->listen_paused);
	assert_int_equal(e->vs->nr_conns, 3);
	for (i = 0; i < 3; i++)
		close(clients[i]);
	pump(e);
	assert_int_equal(e->vs->nr_conns, 0);
	venv_free(e);
}

static void test_vsock_invalid_packets(void **state)
{
	static const uint16_t bad_ops[] = { VSOCK_OP_INVALID, 8, 0xffff };
	struct venv *e = venv_new(state);
	struct vsock_hdr h;
	uint32_t lport;
	char buf[64];
	unsigned int i;
	int fd;

	/* No connection: everything but RST and REQUEST gets an RST. */
	for (uint16_t op = VSOCK_OP_RESPONSE; op <= VSOCK_OP_CREDIT_REQUEST; op++) {
		tx(e, 7, 8, op, 0, op == VSOCK_OP_RW ? "x" : NULL, op == VSOCK_OP_RW);
		if (op == VSOCK_OP_RST)
			assert_false(rx_get(e, &h, NULL, NULL));
		else
			rx_expect(e, VSOCK_OP_RST, 8, 7);
	}
	for (i = 0; i < ARRAY_SIZE(bad_ops); i++) {
		tx(e, 7, 8, bad_ops[i], 0, NULL, 0);
		rx_expect(e, VSOCK_OP_RST, 8, 7);
	}
	/* Not from the guest's CID, not to the host: dropped without a word. */
	h = ghdr(e, 7, 8, VSOCK_OP_REQUEST, 0, 0);
	h.src_cid = 4;
	tx_hdr(e, &h, sizeof(h), NULL, 0);
	h = ghdr(e, 7, 8, VSOCK_OP_REQUEST, 0, 0);
	h.dst_cid = 3;
	tx_hdr(e, &h, sizeof(h), NULL, 0);
	h = ghdr(e, 7, 8, VSOCK_OP_REQUEST, 0, 0);
	h.src_cid = GUEST_CID | (1ULL << 32);
	tx_hdr(e, &h, sizeof(h), NULL, 0);
	assert_false(rx_get(e, &h, NULL, NULL));
	/* Seqpacket (not offered): RST. */
	h = ghdr(e, 7, 8, VSOCK_OP_REQUEST, 0, 0);
	h.type = 2;
	tx_hdr(e, &h, sizeof(h), NULL, 0);
	rx_expect(e, VSOCK_OP_RST, 8, 7);
	/* Short header, len past the payload, len above the largest packet: dropped. */
	h = ghdr(e, 7, 8, VSOCK_OP_REQUEST, 0, 0);
	tx_hdr(e, &h, 20, NULL, 0);
	h = ghdr(e, 7, 8, VSOCK_OP_RW, 0, 100);
	tx_hdr(e, &h, sizeof(h), "abc", 3);
	h = ghdr(e, 7, 8, VSOCK_OP_RW, 0, VSOCK_MAX_PKT + 1);
	tx_hdr(e, &h, sizeof(h), NULL, 0);
	h = ghdr(e, 7, 8, VSOCK_OP_RW, 0, 0xffffffffu);
	tx_hdr(e, &h, sizeof(h), "abc", 3);
	assert_false(rx_get(e, &h, NULL, NULL));
	assert_int_equal(counter_read(&e->vs->stats.pkts_dropped), 7);
	assert_int_equal(e->vs->nr_conns, 0);

	/* Waiting for RESPONSE: anything else resets, and the host socket closes. */
	for (uint16_t op = VSOCK_OP_REQUEST; op <= VSOCK_OP_CREDIT_REQUEST + 1; op++) {
		if (op == VSOCK_OP_RESPONSE || op == VSOCK_OP_RST)
			continue;
		fd = host_dial(e->uds);
		host_write(fd, "CONNECT 60\n");
		pump(e);
		h = rx_expect(e, VSOCK_OP_REQUEST, UINT32_MAX, 60);
		lport = h.src_port;
		tx(e, 60, lport, op, 0, op == VSOCK_OP_RW ? "x" : NULL, op == VSOCK_OP_RW);
		rx_expect(e, VSOCK_OP_RST, lport, 60);
		assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
		assert_int_equal(e->vs->nr_conns, 0);
		close(fd);
	}

	/* Established: REQUEST, RESPONSE, no op, unknown ops reset. */
	{
		static const uint16_t ops[] = { VSOCK_OP_REQUEST, VSOCK_OP_RESPONSE,
						VSOCK_OP_INVALID, 8, 0x8000 };

		for (i = 0; i < ARRAY_SIZE(ops); i++) {
			fd = host_open(e, 61, &lport);
			tx(e, 61, lport, ops[i], 0, NULL, 0);
			rx_expect(e, VSOCK_OP_RST, lport, 61);
			assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
			assert_int_equal(e->vs->nr_conns, 0);
			close(fd);
		}
	}
	/* Data after the guest's SHUTDOWN(SEND): reset. */
	fd = host_open(e, 62, &lport);
	tx(e, 62, lport, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_SEND, NULL, 0);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0); /* SHUT_WR reached the host */
	tx(e, 62, lport, VSOCK_OP_RW, 0, "late", 4);
	rx_expect(e, VSOCK_OP_RST, lport, 62);
	close(fd);
	/* SHUTDOWN(RCV): host data stays in the host socket. */
	fd = host_open(e, 63, &lport);
	tx(e, 63, lport, VSOCK_OP_SHUTDOWN, VSOCK_SHUTDOWN_RCV | 0xf0, NULL, 0);
	host_write(fd, "unread");
	pump(e);
	assert_false(rx_get(e, &h, NULL, NULL));
	assert_int_equal(pump_wait(e, 20), 0);
	/* The guest's RST: gone, the host sees EOF. */
	tx(e, 63, lport, VSOCK_OP_RST, 0, NULL, 0);
	assert_true(host_closed(fd));
	assert_false(rx_get(e, &h, NULL, NULL));
	close(fd);
	assert_int_equal(e->vs->nr_conns, 0);
	/* Zero-length RW and a header split over descriptors are fine. */
	fd = host_open(e, 64, &lport);
	tx(e, 64, lport, VSOCK_OP_RW, 0, NULL, 0);
	assert_false(rx_get(e, &h, NULL, NULL));
	assert_non_null(vsock_conn_lookup(e->vs, lport, 64));
	{
		uint16_t s = e->avail[VSOCK_TXQ] % TX_SLOTS;

		h = ghdr(e, 64, lport, VSOCK_OP_RW, 0, 5);
		mem_write(&e->vm->mem, TXHDR(s), &h, sizeof(h));
		mem_write(&e->vm->mem, TXDATA(s), "split", 5);
		desc_set(e, VSOCK_TXQ, 2 * s, TXHDR(s), 20, VIRTQ_DESC_F_NEXT, 2 * s + 1);
		desc_set(e, VSOCK_TXQ, 2 * s + 1, TXHDR(s) + 20, sizeof(h) - 20 + 2,
			 VIRTQ_DESC_F_NEXT, 2 * ((s + 1) % TX_SLOTS));
		mem_write(&e->vm->mem, TXHDR(s) + sizeof(h), "sp", 2);
		desc_set(e, VSOCK_TXQ, 2 * ((s + 1) % TX_SLOTS), TXDATA(s) + 2, 3, 0, 0);
		avail_add(e, VSOCK_TXQ, 2 * s);
		kick(e, VSOCK_TXQ);
		assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 5);
		assert_memory_equal(buf, "split", 5);
	}
	close(fd);
	venv_free(e);
}

static void test_vsock_transport_reset(void **state)
{
	struct venv *e = venv_new(state);
	struct virtq_used_elem u;
	uint32_t lport, id = 0xdead;
	char buf[16];
	int fd;

	assert_int_equal(virtio_vsock_transport_reset(NULL), -EINVAL);
	fd = host_open(e, 70, &lport);
	/* No event buffer posted yet: the event waits for one. */
	assert_int_equal(virtio_vsock_transport_reset(e->vdev), 0);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0); /* connections closed */
	assert_int_equal(e->vs->nr_conns, 0);
	assert_int_equal(used_idx(e, VSOCK_EVQ), 0);
	desc_set(e, VSOCK_EVQ, 0, EVBUF(0), 8, VIRTQ_DESC_F_WRITE, 0);
	mem_write(&e->vm->mem, EVBUF(0), &id, 4);
	avail_add(e, VSOCK_EVQ, 0);
	kick(e, VSOCK_EVQ);
	assert_int_equal(used_idx(e, VSOCK_EVQ), 1);
	mem_read(&e->vm->mem, RING(VSOCK_EVQ) + 0x2000 + 4, &u, sizeof(u));
	assert_int_equal(u.id, 0);
	assert_int_equal(u.len, 4);
	mem_read(&e->vm->mem, EVBUF(0), &id, 4);
	assert_int_equal(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	/* Only once. */
	desc_set(e, VSOCK_EVQ, 1, EVBUF(1), 8, VIRTQ_DESC_F_WRITE, 0);
	avail_add(e, VSOCK_EVQ, 1);
	kick(e, VSOCK_EVQ);
	assert_int_equal(used_idx(e, VSOCK_EVQ), 1);
	/* With a buffer posted: at once. */
	assert_int_equal(virtio_vsock_transport_reset(e->vdev), 0);
	assert_int_equal(used_idx(e, VSOCK_EVQ), 2);
	close(fd);
	/* The guest's stale packets after the reset: RST. */
	tx(e, 70, lport, VSOCK_OP_RW, 0, "x", 1);
	rx_expect(e, VSOCK_OP_RST, lport, 70);
	venv_free(e);
}

/*
 * The device saved with an event buffer posted, restored into a fresh
 * device of a second VM over the same guest memory: the guest gets its
 * TRANSPORT_RESET at once, and the queues go on where they were.
 */
static void test_vsock_snapshot_restore(void **state)
{
	struct venv *e = venv_new(state), e2;
	struct vsock_config cfg = { .guest_cid = GUEST_CID };
	struct mvm_device *dev;
	struct snap_buf b;
	struct snap_cur c;
	uint16_t rx_last;
	uint32_t id = 0;

	desc_set(e, VSOCK_EVQ, 0, EVBUF(0), 8, VIRTQ_DESC_F_WRITE, 0);
	avail_add(e, VSOCK_EVQ, 0);
	rx_last = virtio_dev_vq(e->vdev, VSOCK_RXQ)->last_avail;
	dev = &e->vdev->dev;
	snap_buf_init(&b);
	assert_int_equal(dev->ops->save(dev, &b), 0);

	memset(&e2, 0, sizeof(e2));
	snprintf(e2.dir, sizeof(e2.dir), "/tmp/mvm-vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(e2.dir));
	snprintf(e2.uds, sizeof(e2.uds), "%s/v.sock", e2.dir);
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", e2.uds);
	e2.vm = unit_vm(1);
	e2.vm->cfg.transport = vdrv_transport(state);
	vdrv_adopt(&e2.d, e2.vm);
	memcpy(mem_ptr(&e2.vm->mem, 0, 0x200000), mem_ptr(&e->vm->mem, 0, 0x200000), 0x200000);
	e2.vdev = virtio_vsock_create(e2.vm, &cfg);
	vdrv_attach(&e2.d, e2.vdev, VIRTIO_ID_VSOCK);
	e2.vs = container_of(e2.vdev, struct virtio_vsock, vdev);
	snap_cur_init(&c, b.data, b.len);
	assert_int_equal(e2.vdev->dev.ops->restore(&e2.vdev->dev, &c), 0);
	snap_buf_free(&b);
	assert_true(e2.vdev->active);
	assert_int_equal(virtio_dev_vq(e2.vdev, VSOCK_RXQ)->last_avail, rx_last);
	assert_int_equal(used_idx(&e2, VSOCK_EVQ), 1);
	mem_read(&e2.vm->mem, EVBUF(0), &id, 4);
	assert_int_equal(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	/* The original is untouched by the save: no event went to its guest. */
	assert_int_equal(used_idx(e, VSOCK_EVQ), 0);
	vdrv_fini(&e2.d);
	rmdir(e2.dir);
	venv_free(e);
}

static void test_vsock_device_reset(void **state)
{
	struct venv *e = venv_new(state);
	uint32_t lport;
	char buf[16];
	int fd;

	fd = host_open(e, 80, &lport);
	vdrv_set_status(&e->d, 0); /* the driver resets the device */
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
	assert_int_equal(e->vs->nr_conns, 0);
	close(fd);
	/* A host connecting while no driver runs: closed after its line. */
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 80\n");
	pump(e);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 0);
	close(fd);
	venv_free(e);
}

#define RXHDR(i) (0x80000ULL + (i)*0x40ULL)
#define ITABLE	 0xb0000ULL

/* Receive chain i as older Linux posts them: the header, then 4 KiB, in two descriptors. */
static void rx_post_split(struct venv *e, uint16_t i)
{
	desc_set(e, VSOCK_RXQ, 2 * i, RXHDR(i), VSOCK_HDR_SIZE,
		 VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 2 * i + 1);
	desc_set(e, VSOCK_RXQ, 2 * i + 1, RXBUF(i), RXBUF_SIZE, VIRTQ_DESC_F_WRITE, 0);
	avail_add(e, VSOCK_RXQ, 2 * i);
}

static bool rx_get_split(struct venv *e, struct vsock_hdr *h, void *data)
{
	struct virtq_used_elem u;

	if (used_idx(e, VSOCK_RXQ) == e->used_seen[VSOCK_RXQ])
		return false;
	mem_read(&e->vm->mem, RING(VSOCK_RXQ) + 0x2000 + 4 + 8 * (e->used_seen[VSOCK_RXQ] % QSZ),
		 &u, sizeof(u));
	e->used_seen[VSOCK_RXQ]++;
	assert_true(u.id % 2 == 0 && u.id < 16);
	mem_read(&e->vm->mem, RXHDR(u.id / 2), h, sizeof(*h));
	assert_int_equal(u.len, VSOCK_HDR_SIZE + h->len);
	if (data)
		mem_read(&e->vm->mem, RXBUF(u.id / 2), data, h->len);
	rx_post_split(e, (uint16_t)(u.id / 2));
	return true;
}

/* TX through an indirect table: header and payload in two of its entries. */
static void tx_indirect(struct venv *e, const struct vsock_hdr *h, const void *data, uint32_t len)
{
	struct virtq_desc t[2] = {
		{ TXHDR(0), sizeof(*h), VIRTQ_DESC_F_NEXT, 1 },
		{ TXDATA(0), len, 0, 0 },
	};
	uint16_t before = used_idx(e, VSOCK_TXQ);

	mem_write(&e->vm->mem, TXHDR(0), h, sizeof(*h));
	if (len)
		mem_write(&e->vm->mem, TXDATA(0), data, len);
	mem_write(&e->vm->mem, ITABLE, t, sizeof(t));
	desc_set(e, VSOCK_TXQ, 0, ITABLE, sizeof(t), VIRTQ_DESC_F_INDIRECT, 0);
	avail_add(e, VSOCK_TXQ, 0);
	kick(e, VSOCK_TXQ);
	assert_int_equal(used_idx(e, VSOCK_TXQ), (uint16_t)(before + 1));
}

/* What a Linux driver does: EVENT_IDX, indirect TX, header and data in separate buffers. */
static void test_vsock_linux_layouts(void **state)
{
	struct venv *e = venv_new_opt(
		state, (1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC),
		false);
	char buf[RXBUF_SIZE], ok[32];
	struct vsock_hdr h;
	uint32_t lport;
	int fd;

	for (uint16_t i = 0; i < 8; i++)
		rx_post_split(e, i);
	kick(e, VSOCK_RXQ);
	fd = host_dial(e->uds);
	host_write(fd, "CONNECT 1024\n");
	pump(e);
	assert_true(rx_get_split(e, &h, NULL));
	assert_int_equal(h.op, VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 1024);
	lport = h.src_port;
	h = ghdr(e, 1024, lport, VSOCK_OP_RESPONSE, 0, 0);
	tx_indirect(e, &h, NULL, 0);
	snprintf(ok, sizeof(ok), "OK %u\n", lport);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), (ssize_t)strlen(ok));
	/* Host data: the header in the first buffer, the bytes in the second. */
	host_write(fd, "split buffers");
	pump(e);
	assert_true(rx_get_split(e, &h, buf));
	assert_int_equal(h.op, VSOCK_OP_RW);
	assert_int_equal(h.len, 13);
	assert_memory_equal(buf, "split buffers", 13);
	/* Guest data through the indirect table. */
	h = ghdr(e, 1024, lport, VSOCK_OP_RW, 0, 8);
	tx_indirect(e, &h, "indirect", 8);
	assert_int_equal(host_read_now(fd, buf, sizeof(buf)), 8);
	assert_memory_equal(buf, "indirect", 8);
	close(fd);
	pump(e);
	assert_true(rx_get_split(e, &h, NULL));
	assert_int_equal(h.op, VSOCK_OP_SHUTDOWN);
	venv_free(e);
}

/* A fake-KVM VM with nothing on its transport yet. */
static struct vm *bare_vm(enum mvm_transport transport)
{
	struct vdrv d;

	vdrv_vm(&d, transport);
	return d.vm;
}

static void test_vsock_uds_path(void **state)
{
	struct vsock_config cfg = { .guest_cid = GUEST_CID };
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char dir[64], msg[256];
	struct vm *vm;
	struct stat st;
	int fd;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/mvm-vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s/s", dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", cfg.uds_path);
	vm = bare_vm(MVM_TRANSPORT_PCI);

	/* A live socket: refused, and left alone. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	assert_int_equal(vsock_uds_check(cfg.uds_path, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "in use"));
	assert_true(IS_ERR(virtio_vsock_create(vm, &cfg)));
	assert_int_equal(lstat(cfg.uds_path, &st), 0);
	/* Stale (nobody listens): replaced. */
	close(fd);
	assert_int_equal(vsock_uds_check(cfg.uds_path, msg, sizeof(msg)), 0);
	assert_false(IS_ERR(virtio_vsock_create(vm, &cfg)));
	vm_destroy(vm);
	assert_int_equal(lstat(cfg.uds_path, &st), -1); /* removed */

	/* Not a socket: refused, kept. */
	fd = open(cfg.uds_path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(vsock_uds_check(cfg.uds_path, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a socket"));
	vm = bare_vm(MVM_TRANSPORT_PCI);
	assert_true(IS_ERR(virtio_vsock_create(vm, &cfg)));
	vm_destroy(vm);
	assert_int_equal(lstat(cfg.uds_path, &st), 0);
	unlink(cfg.uds_path);

	/* A directory that does not exist; a path too long for sun_path. */
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s/no/s", dir);
	assert_int_equal(vsock_uds_check(cfg.uds_path, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "does not exist"));
	memset(msg, 'a', 150);
	msg[150] = '\0';
	assert_int_equal(vsock_uds_check(msg, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(vsock_uds_check("", msg, sizeof(msg)), -EINVAL);
	rmdir(dir);
}

static unsigned int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Each faultable call of the device's creation made to fail: a clean unwind every time. */
static void test_vsock_create_faults(void **state)
{
	struct vsock_config cfg = { .guest_cid = GUEST_CID };
	char dir[64];
	unsigned long n, i;
	struct vm *vm;
	struct stat st;

	snprintf(dir, sizeof(dir), "/tmp/mvm-vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s/f", dir);
	vm = bare_vm(vdrv_transport(state));
	fault_begin(0);
	assert_false(IS_ERR(virtio_vsock_create(vm, &cfg)));
	n = fault_end();
	vm_destroy(vm);
	/* Its allocations, the socket, the loop registration, the transport's own. */
	assert_true(n >= 6);
	for (i = 1; i <= n; i++) {
		unsigned int fds;

		vm = bare_vm(vdrv_transport(state));
		fds = count_fds();
		fault_begin(i);
		assert_true(IS_ERR(virtio_vsock_create(vm, &cfg)));
		fault_end();
		assert_true(fault_fired());
		assert_int_equal(count_fds(), fds);
		assert_int_equal(lstat(cfg.uds_path, &st), -1);
		vm_destroy(vm);
	}
	print_message("virtio-vsock creation: %lu failure points, each unwound cleanly\n", n);
	rmdir(dir);
}

static void test_vsock_cli_options(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-vsock");
	const struct vsock_config *v;
	struct mvm_config cfg;
	char arg[256], msg[256], dir[64];

	(void)state;
	assert_non_null(t);
	assert_ptr_equal(mvm_device_type_by_api("vsock"), t);
	snprintf(dir, sizeof(dir), "/tmp/mvm-vsock-unit-XXXXXX");
	assert_non_null(mkdtemp(dir));
	mvm_config_init(&cfg);
	snprintf(arg, sizeof(arg), "cid=2,uds=%s/v", dir);
	assert_int_equal(mvm_config_parse_device(&cfg, t, arg, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(mvm_config_parse_device(&cfg, t, "cid=3", msg, sizeof(msg)), -EINVAL);
	snprintf(arg, sizeof(arg), "cid=4294967295,uds=%s/v", dir);
	assert_int_equal(mvm_config_parse_device(&cfg, t, arg, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(
		mvm_config_parse_device(&cfg, t, "cid=3,uds=/nonexistent/dir/v", msg, sizeof(msg)),
		-EINVAL);
	assert_non_null(strstr(msg, "does not exist"));
	snprintf(arg, sizeof(arg), "cid=3,uds=%s/v,id=x", dir);
	assert_int_equal(mvm_config_parse_device(&cfg, t, arg, msg, sizeof(msg)), -EINVAL);
	snprintf(arg, sizeof(arg), "cid=42,uds=%s/v", dir);
	assert_int_equal(mvm_config_parse_device(&cfg, t, arg, msg, sizeof(msg)), 0);
	v = (const void *)mvm_config_find_device(&cfg, t, NULL)->blob;
	assert_int_equal(v->guest_cid, 42);
	assert_non_null(strstr(v->uds_path, "/v"));
	/* One per VM: a second replaces the first, as PUT /vsock does. */
	snprintf(arg, sizeof(arg), "cid=43,uds=%s/w", dir);
	assert_int_equal(mvm_config_parse_device(&cfg, t, arg, msg, sizeof(msg)), 0);
	assert_int_equal(mvm_config_count(&cfg, t), 1);
	v = (const void *)mvm_config_find_device(&cfg, t, NULL)->blob;
	assert_int_equal(v->guest_cid, 43);
	rmdir(dir);
}

int run_vsock_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_vsock_config_space),
		VDRV_TESTS(test_vsock_host_initiated),
		VDRV_TESTS(test_vsock_host_refused),
		VDRV_TESTS(test_vsock_guest_initiated),
		cmocka_unit_test(test_vsock_connect_line_parser),
		VDRV_TESTS(test_vsock_connect_line_socket),
		cmocka_unit_test(test_vsock_credit_arithmetic),
		VDRV_TESTS(test_vsock_credit_to_guest),
		VDRV_TESTS(test_vsock_credit_from_guest),
		VDRV_TESTS(test_vsock_stalled_peer_isolated),
		VDRV_TESTS(test_vsock_no_rx_buffers),
		VDRV_TESTS(test_vsock_many_connections),
		VDRV_TESTS(test_vsock_table_full),
		VDRV_TESTS(test_vsock_orphan_backpressure),
		VDRV_TESTS(test_vsock_accept_out_of_fds),
		VDRV_TESTS(test_vsock_invalid_packets),
		VDRV_TESTS(test_vsock_snapshot_restore),
		VDRV_TESTS(test_vsock_transport_reset),
		VDRV_TESTS(test_vsock_device_reset),
		VDRV_TESTS(test_vsock_linux_layouts),
		cmocka_unit_test(test_vsock_uds_path),
		VDRV_TESTS(test_vsock_create_faults),
		cmocka_unit_test(test_vsock_cli_options),
	};

	return cmocka_run_group_tests_name("virtio-vsock", tests, NULL, NULL);
}
