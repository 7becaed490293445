// SPDX-License-Identifier: MIT
/*
 * virtio-net as a guest driver sees it, on a real tap: the test moves into
 * a network namespace of its own (unshare), creates a persistent tap there,
 * attaches the device of a fake-KVM VM to it and drives the device over
 * both transports while a packet socket on the tap plays the host. The VM's
 * event loop is turned by hand (epoll_wait on its set), so the test also
 * sees that an idle device leaves nothing ready in the loop. Skips where
 * namespaces or /dev/net/tun are not available.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "fake.h"
#include "mvm/control.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/mmds.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"
#include "net/tap.h"
#include "virtio/net.h"

#define TAP	  "mvmt0"
#define QSZ	  8
#define RXQ_DESC  0x10000
#define RXQ_AVAIL 0x11000
#define RXQ_USED  0x12000
#define TXQ_DESC  0x14000
#define TXQ_AVAIL 0x15000
#define TXQ_USED  0x16000
#define RX_BUF	  0x20000 /* + 0x1000 * i */
#define TX_BUF	  0x40000 /* + 0x10000 * i */

#define VIRTIO_ID_NET 1

static const uint8_t guest_mac[6] = { 0x06, 0, 0, 0, 0, 0x01 };

struct tenv {
	int orig_ns;
	int pkt; /* packet socket on the tap: the host */
	int ifindex;
	struct vdrv d;
	struct vm *vm;
	struct virtio_dev *vdev;
	uint16_t rx_avail, tx_avail, rx_used_seen, tx_used_seen;
};

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), r;

	if (fd < 0)
		return -1;
	r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return r;
}

/* A persistent tap, up, in the current namespace. */
static int make_tap(void)
{
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR), s, r = -1;

	if (fd < 0)
		return -1;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0)
		goto out;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		r = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	if (s >= 0)
		close(s);
out:
	close(fd);
	return r;
}

/* Into a fresh namespace with a tap and a packet socket on it; false: cannot here. */
static bool netns_enter(struct tenv *e)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };

	e->pkt = -1;
	e->orig_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (e->orig_ns < 0 || access("/dev/net/tun", R_OK | W_OK) || unshare(CLONE_NEWNET)) {
		if (e->orig_ns >= 0)
			close(e->orig_ns);
		e->orig_ns = -1;
		return false;
	}
	/* Nothing of the kernel's own (IPv6 router solicitations) on the wire. */
	write_file("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
	write_file("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
	if (make_tap())
		return false;
	e->ifindex = (int)if_nametoindex(TAP);
	e->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	sll.sll_ifindex = e->ifindex;
	return e->pkt >= 0 && bind(e->pkt, (struct sockaddr *)&sll, sizeof(sll)) == 0;
}

static void netns_leave(struct tenv *e)
{
	if (e->pkt >= 0)
		close(e->pkt);
	if (e->orig_ns >= 0) {
		/* The namespace, and the tap in it, go with its last user. */
		assert_int_equal(setns(e->orig_ns, CLONE_NEWNET), 0);
		close(e->orig_ns);
	}
}

/* Device up with the features it offers minus `drop`. */
static void driver_up(struct tenv *e, uint64_t drop)
{
	vdrv_negotiate(&e->d, vdrv_device_features(&e->d) & ~drop);
	vdrv_queue(&e->d, 0, QSZ, RXQ_DESC, RXQ_AVAIL, RXQ_USED);
	vdrv_queue(&e->d, 1, QSZ, TXQ_DESC, TXQ_AVAIL, TXQ_USED);
	vdrv_driver_ok(&e->d);
	assert_true(vdrv_status(&e->d) & VIRTIO_STATUS_DRIVER_OK);
}

static struct tenv *tenv_new_mmds(void **state, const struct mvm_net_config *cfg, uint64_t drop,
				  struct mmds *m);

static struct tenv *tenv_new(void **state, const struct mvm_net_config *cfg, uint64_t drop)
{
	return tenv_new_mmds(state, cfg, drop, NULL);
}

static struct tenv *tenv_new_mmds(void **state, const struct mvm_net_config *cfg, uint64_t drop,
				  struct mmds *m)
{
	struct tenv *e = test_calloc(1, sizeof(*e));

	if (!netns_enter(e)) {
		netns_leave(e);
		test_free(e);
		print_message("SKIP: no network namespace or /dev/net/tun here: %s\n",
			      strerror(errno));
		return NULL;
	}
	vdrv_vm(&e->d, vdrv_transport(state));
	e->vm = e->d.vm;
	e->vm->cfg.mmds = m;
	memset(mem_ptr(&e->vm->mem, 0, 0x100000), 0, 0x100000);
	vdrv_attach(&e->d, virtio_net_create(e->vm, cfg, 0), VIRTIO_ID_NET);
	e->vdev = e->d.vdev;
	driver_up(e, drop);
	return e;
}

static void tenv_free(struct tenv *e)
{
	vdrv_fini(&e->d);
	netns_leave(e);
	test_free(e);
}

static struct mvm_net_config base_cfg(void)
{
	struct mvm_net_config c = { .id = "eth0", .host_dev_name = TAP, .mtu = 1400 };

	memcpy(c.guest_mac, guest_mac, 6);
	return c;
}

/* Turns the VM's event loop once, waiting up to ms; the number of handlers run. */
static int loop_turn(struct tenv *e, int ms)
{
	struct epoll_event ev[8];
	int n;

	do /* other tests' timers may still signal this process */
		n = epoll_wait(e->vm->loop.epfd, ev, 8, ms);
	while (n < 0 && errno == EINTR);

	for (int i = 0; i < n; i++) {
		struct loop_handler *h = ev[i].data.ptr;

		vdrv_loop_dispatch(h, ev[i].events);
	}
	return n < 0 ? 0 : n;
}

static void kick(struct tenv *e, uint16_t q)
{
	uint64_t one = 1;
	int fd = vdrv_notify_fd(&e->d, q);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static uint16_t used_idx(struct tenv *e, uint64_t used)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, used + 2, &v, 2);
	return v;
}

static uint64_t stat_of(struct tenv *e, const char *name)
{
	const struct stats_node *n = &e->vdev->dev.stats;

	for (unsigned int i = 0; i < n->nr_counters; i++)
		if (!strcmp(n->counters[i].name, name))
			return counter_read((const mvm_counter_t *)((const char *)n->owner +
								    n->counters[i].offset));
	fail_msg("no counter %s", name);
	return 0;
}

static void guest_tx_hdr(struct tenv *e, const uint8_t *frame, size_t len, bool writable,
			 const struct virtio_net_hdr_v1 *hdr);

/* The guest sends: header + frame in one (or, with `writable`, a wrong) descriptor. */
static void guest_tx(struct tenv *e, const uint8_t *frame, size_t len, bool writable)
{
	struct virtio_net_hdr_v1 h = { 0 };

	guest_tx_hdr(e, frame, len, writable, &h);
}

static void guest_tx_hdr(struct tenv *e, const uint8_t *frame, size_t len, bool writable,
			 const struct virtio_net_hdr_v1 *hdr)
{
	uint16_t i = e->tx_avail % QSZ;
	struct virtio_net_hdr_v1 h = *hdr;
	uint64_t buf = TX_BUF + 0x10000ULL * i;
	struct virtq_desc d = { buf, (uint32_t)(NET_HDR_LEN + len),
				writable ? VIRTQ_DESC_F_WRITE : 0, 0 };

	mem_write(&e->vm->mem, buf, &h, sizeof(h));
	mem_write(&e->vm->mem, buf + NET_HDR_LEN, frame, len);
	mem_write(&e->vm->mem, TXQ_DESC + 16ULL * i, &d, sizeof(d));
	mem_write(&e->vm->mem, TXQ_AVAIL + 4 + 2 * i, &i, 2);
	e->tx_avail++;
	mem_write(&e->vm->mem, TXQ_AVAIL + 2, &e->tx_avail, 2);
	kick(e, 1);
}

static void guest_post_rx(struct tenv *e, unsigned int n)
{
	while (n--) {
		uint16_t i = e->rx_avail % QSZ;
		struct virtq_desc d = { RX_BUF + 0x1000ULL * i, 0x1000, VIRTQ_DESC_F_WRITE, 0 };

		mem_write(&e->vm->mem, RXQ_DESC + 16ULL * i, &d, sizeof(d));
		mem_write(&e->vm->mem, RXQ_AVAIL + 4 + 2 * i, &i, 2);
		e->rx_avail++;
		mem_write(&e->vm->mem, RXQ_AVAIL + 2, &e->rx_avail, 2);
	}
	kick(e, 0);
}

static void make_frame(uint8_t *f, size_t len, uint8_t tag)
{
	memset(f, 0xff, 6); /* broadcast */
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x88; /* a local experimental ethertype */
	f[13] = 0xb5;
	for (size_t i = 14; i < len; i++)
		f[i] = (uint8_t)(tag + i);
}

/* The next frame the host sees within ms, or -1. */
static ssize_t host_recv(struct tenv *e, uint8_t *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = e->pkt, .events = POLLIN };
	struct sockaddr_ll from;
	socklen_t fl = sizeof(from);
	ssize_t n;

	while (poll(&p, 1, ms) == 1) {
		n = recvfrom(e->pkt, buf, len, 0, (struct sockaddr *)&from, &fl);
		if (n >= 0 && from.sll_pkttype != PACKET_OUTGOING)
			return n;
	}
	return -1;
}

static void host_send(struct tenv *e, const uint8_t *f, size_t len)
{
	assert_int_equal(send(e->pkt, f, len, 0), (ssize_t)len);
}

static void test_net_config_and_features(void **state)
{
	struct mvm_net_config cfg = base_cfg();
	struct tenv *e = tenv_new(state, &cfg, 0);
	uint8_t mac[6];
	uint64_t f;

	if (!e)
		skip();
	for (unsigned int i = 0; i < 6; i++)
		mac[i] = (uint8_t)vdrv_config(&e->d, i, 1);
	assert_memory_equal(mac, guest_mac, 6);
	assert_int_equal(vdrv_config(&e->d, 6, 2), VIRTIO_NET_S_LINK_UP);
	assert_int_equal(vdrv_config(&e->d, 10, 2), 1400);
	f = e->vdev->features;
	assert_true(f & (1ULL << VIRTIO_NET_F_MAC));
	assert_true(f & (1ULL << VIRTIO_NET_F_MTU));
	assert_true(f & (1ULL << VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & (1ULL << VIRTIO_NET_F_GUEST_TSO4));
	assert_true(f & (1ULL << VIRTIO_NET_F_HOST_TSO6));
	assert_true(f & (1ULL << VIRTIO_F_RING_EVENT_IDX));
	tenv_free(e);

	/* Neither MAC nor MTU given: neither offered. */
	memset(cfg.guest_mac, 0, 6);
	cfg.mtu = 0;
	e = tenv_new(state, &cfg, 0);
	assert_non_null(e);
	assert_false(e->vdev->features & (1ULL << VIRTIO_NET_F_MAC));
	assert_false(e->vdev->features & (1ULL << VIRTIO_NET_F_MTU));
	tenv_free(e);
}

static void test_net_tx_rx_through_tap(void **state)
{
	struct mvm_net_config cfg = base_cfg();
	struct tenv *e = tenv_new(state, &cfg, 0);
	static uint8_t f[2000], back[0x1000];
	struct virtio_net_hdr_v1 h;
	ssize_t n;

	if (!e)
		skip();
	/* Guest to host. */
	make_frame(f, 200, 1);
	guest_tx(e, f, 200, false);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 1);
	n = host_recv(e, back, sizeof(back), 1000);
	assert_int_equal(n, 200);
	assert_memory_equal(back, f, 200);
	assert_int_equal(stat_of(e, "tx_packets"), 1);
	assert_int_equal(stat_of(e, "tx_bytes"), 200);

	/* Host to guest, with no buffer posted: the frame waits in the tap and the
	 * tap leaves the loop's ready set (no spinning). */
	make_frame(f, 300, 2);
	host_send(e, f, 300);
	assert_true(loop_turn(e, 1000) >= 1);
	assert_int_equal(used_idx(e, RXQ_USED), 0);
	assert_int_equal(loop_turn(e, 50), 0);
	/* Buffers posted and kicked: delivered, one buffer, header first. */
	guest_post_rx(e, 4);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, RXQ_USED), 1);
	mem_read(&e->vm->mem, RX_BUF, back, NET_HDR_LEN + 300);
	memcpy(&h, back, sizeof(h));
	assert_int_equal(h.num_buffers, 1);
	assert_memory_equal(back + NET_HDR_LEN, f, 300);
	assert_int_equal(stat_of(e, "rx_packets"), 1);
	assert_int_equal(stat_of(e, "rx_bytes"), 300);
	/* The next frame comes in through the tap's readiness alone. */
	make_frame(f, 64, 3);
	host_send(e, f, 64);
	assert_true(loop_turn(e, 1000) >= 1);
	assert_int_equal(used_idx(e, RXQ_USED), 2);
	/* Firecracker's "net" metrics group sums the interfaces' counters. */
	{
		static char line[65536]; /* every Firecracker group: several KiB */
		int p[2];
		json_t *j, *net;

		assert_int_equal(pipe(p), 0);
		assert_int_equal(metrics_write_line(p[1], e->vm), 0);
		assert_true(read(p[0], line, sizeof(line) - 1) > 0);
		close(p[0]);
		close(p[1]);
		j = json_loads(line, 0, NULL);
		net = json_object_get(j, "net");
		assert_non_null(net);
		assert_int_equal(json_integer_value(json_object_get(net, "tx_packets_count")), 1);
		assert_int_equal(json_integer_value(json_object_get(net, "rx_packets_count")), 2);
		assert_int_equal(json_integer_value(json_object_get(net, "rx_bytes_count")), 364);
		json_decref(j);
	}
	tenv_free(e);
}

static void test_net_tx_bad_frames(void **state)
{
	struct mvm_net_config cfg = base_cfg();
	/* No TSO: the MTU (1400) bounds frames. */
	struct tenv *e = tenv_new(state, &cfg,
				  1ULL << VIRTIO_NET_F_HOST_TSO4 | 1ULL << VIRTIO_NET_F_HOST_TSO6);
	static uint8_t f[2000], back[2000];

	if (!e)
		skip();
	make_frame(f, 1500, 4);
	guest_tx(e, f, 1419, false); /* 1400 + 14 + 4 + 1 */
	make_frame(f, 100, 5);
	guest_tx(e, f, 100, true); /* a device-writable buffer */
	make_frame(f, 1418, 6);
	guest_tx(e, f, 1418, false);
	while (loop_turn(e, 0))
		;
	/* All three chains came back; only the good frame reached the tap. */
	assert_int_equal(used_idx(e, TXQ_USED), 3);
	assert_int_equal(stat_of(e, "tx_malformed"), 2);
	assert_int_equal(stat_of(e, "tx_dropped"), 2);
	assert_int_equal(stat_of(e, "tx_packets"), 1);
	assert_int_equal(host_recv(e, back, sizeof(back), 1000), 1418);
	assert_memory_equal(back, f, 1418);
	assert_int_equal(host_recv(e, back, sizeof(back), 50), -1);
	assert_false(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	tenv_free(e);
}

static void test_net_tx_rate_limited(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-net");
	struct mvm_net_config cfg = base_cfg();
	static uint8_t f[200], back[200];
	struct tenv *e;
	char msg[256];

	/* One frame per 200 ms. */
	cfg.tx_rate_limiter.ops = (struct mvm_token_bucket_config){ .size = 1, .refill_time = 200 };
	cfg.tx_rate_limiter.ops_set = true;
	cfg.tx_rate_limiter_set = true;
	e = tenv_new(state, &cfg, 0);
	if (!e)
		skip();
	make_frame(f, 100, 7);
	guest_tx(e, f, 100, false);
	guest_tx(e, f, 100, false);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 1);
	assert_int_equal(stat_of(e, "tx_throttled"), 1);
	assert_int_equal(host_recv(e, back, sizeof(back), 500), 100);
	/* Held: a kick does not send it early ... */
	kick(e, 1);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 1);
	/* ... the limiter's timer does. */
	assert_int_equal(loop_turn(e, 1000), 1);
	assert_int_equal(used_idx(e, TXQ_USED), 2);
	assert_int_equal(host_recv(e, back, sizeof(back), 500), 100);
	/* Held again; PATCH /network-interfaces/eth0 lifting the limit sends it at once. */
	guest_tx(e, f, 100, false);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 2);
	cfg.tx_rate_limiter_set = false;
	assert_int_equal(t->update(e->vm, "eth0", &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(loop_turn(e, 100), 1);
	assert_int_equal(used_idx(e, TXQ_USED), 3);
	assert_int_equal(host_recv(e, back, sizeof(back), 500), 100);
	assert_int_equal(t->update(e->vm, "eth9", &cfg, msg, sizeof(msg)), -ENOENT);
	tenv_free(e);
}

/* A tap another process (here: another fd) holds is refused, naming it. */
static void test_net_tap_errors(void **state)
{
	struct tenv e0 = { 0 };
	struct ifreq ifr = { 0 };
	char msg[256];
	int fd;

	(void)state;
	if (!netns_enter(&e0)) {
		netns_leave(&e0);
		print_message("SKIP: no network namespace or /dev/net/tun here\n");
		skip();
	}
	assert_int_equal(tap_probe(TAP, msg, sizeof(msg)), 0);
	assert_int_equal(tap_probe("mvm-nope0", msg, sizeof(msg)), -ENODEV);
	assert_non_null(strstr(msg, "'mvm-nope0' does not exist"));
	assert_int_equal(tap_probe("lo", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "not a tap"));
	fd = open("/dev/net/tun", O_RDWR);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), TAP);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	assert_int_equal(ioctl(fd, TUNSETIFF, &ifr), 0);
	assert_int_equal(tap_probe(TAP, msg, sizeof(msg)), -EBUSY);
	assert_non_null(strstr(msg, "'" TAP "' is busy"));
	close(fd);
	netns_leave(&e0);
}

static uint16_t csum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The RX buffer of used entry k (its frame after the header), its length. */
static size_t rx_frame(struct tenv *e, uint16_t k, uint8_t *buf, size_t cap)
{
	uint32_t id = 0, len = 0;

	mem_read(&e->vm->mem, RXQ_USED + 4 + 8 * (k % QSZ), &id, 4);
	mem_read(&e->vm->mem, RXQ_USED + 8 + 8 * (k % QSZ), &len, 4);
	assert_true(len > NET_HDR_LEN && len - NET_HDR_LEN <= cap);
	mem_read(&e->vm->mem, RX_BUF + 0x1000ULL * id + NET_HDR_LEN, buf, len - NET_HDR_LEN);
	return len - NET_HDR_LEN;
}

/*
 * MMDS on the interface: the guest's ARP for the MMDS address and a TCP SYN
 * to it (with a partial checksum, NEEDS_CSUM, as Linux sends) never reach
 * the tap; the MMDS answers them into the receive queue.
 */
static void test_net_mmds_intercept(void **state)
{
	static const uint8_t gip[4] = { 10, 0, 0, 2 }, mip[4] = { 169, 254, 169, 254 };
	struct mvm_net_config cfg = base_cfg();
	struct mmds_config mc = { .version = MMDS_V1, .nr_ifaces = 1 };
	struct mmds *m = mmds_create(MMDS_DEFAULT_LIMIT);
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t f[128] = { 0 }, back[2048];
	uint16_t sum, k;
	struct tenv *e;
	size_t n;

	mc.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	strcpy(mc.ifaces[0], "eth0");
	mmds_set_config(m, &mc);
	e = tenv_new_mmds(state, &cfg, 0, m);
	if (!e) {
		mmds_destroy(m);
		skip();
	}
	guest_post_rx(e, 4);
	/* ARP who-has 169.254.169.254 tell 10.0.0.2 */
	memset(f, 0xff, 6);
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08, f[13] = 0x06;
	f[14] = 0, f[15] = 1, f[16] = 8, f[17] = 0, f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;
	memcpy(f + 22, guest_mac, 6);
	memcpy(f + 28, gip, 4);
	memcpy(f + 38, mip, 4);
	guest_tx(e, f, 60, false);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 1);
	assert_int_equal(used_idx(e, RXQ_USED), 1);
	n = rx_frame(e, 0, back, sizeof(back));
	assert_true(n >= 42);
	assert_memory_equal(back, guest_mac, 6);	    /* to the guest */
	assert_int_equal(back[12] << 8 | back[13], 0x0806); /* ARP */
	assert_int_equal(back[20] << 8 | back[21], 2);	    /* reply */
	assert_memory_equal(back + 28, mip, 4);		    /* 169.254.169.254 is at ... */

	/* TCP SYN 10.0.0.2:40000 -> 169.254.169.254:80, checksum left to the device. */
	memset(f, 0, sizeof(f));
	memcpy(f, back + 6, 6); /* to the MAC the MMDS answered with */
	memcpy(f + 6, guest_mac, 6);
	f[12] = 0x08, f[13] = 0x00;
	f[14] = 0x45, f[17] = 40, f[22] = 64, f[23] = 6; /* IPv4, 40 bytes, ttl, TCP */
	memcpy(f + 26, gip, 4);
	memcpy(f + 30, mip, 4);
	sum = (uint16_t)~csum16(f + 14, 20, 0);
	f[24] = (uint8_t)(sum >> 8), f[25] = (uint8_t)sum;
	f[34] = 40000 >> 8, f[35] = 40000 & 0xff, f[36] = 0, f[37] = 80;
	f[41] = 1;		      /* seq */
	f[46] = 5 << 4, f[47] = 0x02; /* data offset, SYN */
	f[48] = 0xff, f[49] = 0xff;   /* window */
	{
		/* The pseudo-header sum, as a driver leaves it for NEEDS_CSUM. */
		uint8_t ph[12];

		memcpy(ph, gip, 4);
		memcpy(ph + 4, mip, 4);
		ph[8] = 0, ph[9] = 6, ph[10] = 0, ph[11] = 20;
		sum = csum16(ph, 12, 0);
		f[50] = (uint8_t)(sum >> 8), f[51] = (uint8_t)sum;
	}
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	guest_tx_hdr(e, f, 54, false, &h);
	while (loop_turn(e, 0))
		;
	assert_int_equal(used_idx(e, TXQ_USED), 2);
	k = used_idx(e, RXQ_USED);
	assert_int_equal(k, 2);
	n = rx_frame(e, 1, back, sizeof(back));
	assert_true(n >= 54);
	assert_int_equal(back[12] << 8 | back[13], 0x0800);
	assert_memory_equal(back + 26, mip, 4);
	assert_int_equal(back[34] << 8 | back[35], 80);
	assert_int_equal(back[47] & 0x12, 0x12); /* SYN+ACK: the checksum was completed */
	/* None of it went out of the tap. */
	assert_int_equal(host_recv(e, back, sizeof(back), 100), -1);
	assert_int_equal(stat_of(e, "mmds_rx_frames"), 2);
	assert_int_equal(stat_of(e, "mmds_tx_frames"), 2);
	assert_int_equal(stat_of(e, "tx_packets"), 0);
	tenv_free(e);
	mmds_destroy(m);
}

int run_net_tap_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_net_config_and_features), VDRV_TESTS(test_net_tx_rx_through_tap),
		VDRV_TESTS(test_net_tx_bad_frames),	  VDRV_TESTS(test_net_tx_rate_limited),
		cmocka_unit_test(test_net_tap_errors),	  VDRV_TESTS(test_net_mmds_intercept),
	};

	return cmocka_run_group_tests_name("virtio-net on a tap (own netns)", tests, NULL, NULL);
}
