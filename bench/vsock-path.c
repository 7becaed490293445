// SPDX-License-Identifier: MIT
/*
 * vsock-path: virtio-vsock's host-side path alone, against a Unix socket
 * pair as the floor. The device runs on the unit tests' fake KVM (no vCPU,
 * no /dev/kvm): this program plays the guest driver (it posts receive
 * buffers, reads the used ring, writes TX chains) and the host process on
 * one thread, and runs the VM's event loop itself. What it measures is
 * what mvm adds per byte and per packet (epoll, the socket calls, the copy
 * into and out of the rings), not a guest's cost (no exits, no interrupts).
 *
 *   host -> guest: 64 MiB written by the host, taken from the guest's
 *                  4 KiB receive buffers (Linux's size);
 *   guest -> host: 64 MiB in 64 KiB RW packets, read by the host;
 *   round trip:    1 byte host -> guest -> host, 20000 times.
 *
 * Prints figures; asserts nothing about time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "mvm/vsock.h"
#include "virtio/vsock.h"

#define QSZ	  256
#define RING(q)	  (0x10000ULL + (q)*0x4000ULL)
#define RXBUF(i)  (0x100000ULL + (i)*0x1000ULL) /* QSZ of them: 1 MiB */
#define RXSZ	  4096
#define TXBUF	  0x200000ULL
#define TOTAL	  (64u << 20)
#define PINGS	  20000
#define GUEST_CID 3

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

struct env {
	struct vm *vm;
	struct virtio_dev *vdev;
	uint64_t bar;
	uint16_t avail[3], rx_seen, tx_seen;
	uint32_t fwd; /* what the guest consumed */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "vsock-path: %s\n", what);
	exit(1);
}

static void bar_wr(struct env *e, uint64_t off, uint64_t v, unsigned int len)
{
	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, true);
}

static void pump(struct env *e)
{
	struct epoll_event ev[16];
	int n;

	while ((n = epoll_wait(e->vm->loop.epfd, ev, 16, 0)) > 0)
		for (int i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;

			h->fn(h, ev[i].events);
		}
}

static void avail_add(struct env *e, unsigned int q, uint16_t head)
{
	uint16_t slot = e->avail[q] % QSZ;

	mem_write(&e->vm->mem, RING(q) + 0x1000 + 4 + 2 * slot, &head, 2);
	e->avail[q]++;
	mem_write(&e->vm->mem, RING(q) + 0x1000 + 2, &e->avail[q], 2);
}

static void desc_set(struct env *e, unsigned int q, uint16_t i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	mem_write(&e->vm->mem, RING(q) + 16ULL * i, &d, sizeof(d));
}

static uint16_t used_idx(struct env *e, unsigned int q)
{
	uint16_t v;

	mem_read(&e->vm->mem, RING(q) + 0x2000 + 2, &v, 2);
	return v;
}

static void kick(struct env *e, unsigned int q)
{
	virtq_kick(virtio_dev_vq(e->vdev, q));
	pump(e);
}

static void env_up(struct env *e, const char *uds)
{
	struct vsock_config cfg = { .guest_cid = GUEST_CID };
	const uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	struct mvm_config mc;
	uint64_t a, v = 0;

	memset(e, 0, sizeof(*e));
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", uds);
	fake_reset();
	mvm_config_init(&mc);
	mc.mem_size = 4ULL << 20;
	mc.cpus = 1;
	mc.console_out = -1;
	e->vm = vm_create(&mc);
	if (IS_ERR(e->vm) || IS_ERR(pci_host_create(e->vm, &host_desc)))
		die("cannot build the VM");
	e->vdev = virtio_vsock_create(e->vm, &cfg);
	if (IS_ERR(e->vdev))
		die("cannot create the device");
	a = ARCH_PCI_ECAM_BASE + ((unsigned int)e->vdev->pci.slot << 15);
	bus_access(&e->vm->buses[MVM_BUS_MMIO], a + PCI_BASE_ADDRESS_0, &v, 4, false);
	e->bar = v & ~0xfULL;
	v = PCI_COMMAND_MEMORY;
	bus_access(&e->vm->buses[MVM_BUS_MMIO], a + PCI_COMMAND, &v, 2, true);
	bar_wr(e, 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_wr(e, 0x14, st, 1);
	bar_wr(e, 0x08, 1, 4);
	bar_wr(e, 0x0c, 1, 4); /* VERSION_1 */
	bar_wr(e, 0x14, st | VIRTIO_STATUS_FEATURES_OK, 1);
	for (unsigned int q = 0; q < VSOCK_NUM_QUEUES; q++) {
		bar_wr(e, 0x16, q, 2);
		bar_wr(e, 0x18, QSZ, 2);
		bar_wr(e, 0x20, RING(q), 8);
		bar_wr(e, 0x28, RING(q) + 0x1000, 8);
		bar_wr(e, 0x30, RING(q) + 0x2000, 8);
		bar_wr(e, 0x1c, 1, 2);
	}
	bar_wr(e, 0x14, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
	for (uint16_t i = 0; i < QSZ; i++) {
		desc_set(e, VSOCK_RXQ, i, RXBUF(i), RXSZ, VIRTQ_DESC_F_WRITE, 0);
		avail_add(e, VSOCK_RXQ, i);
	}
	kick(e, VSOCK_RXQ);
}

/* The guest's next received packet (its buffer posted again), or false. */
static bool rx_take(struct env *e, struct vsock_hdr *h)
{
	struct virtq_used_elem u;

	if (used_idx(e, VSOCK_RXQ) == e->rx_seen)
		return false;
	mem_read(&e->vm->mem, RING(VSOCK_RXQ) + 0x2000 + 4 + 8 * (e->rx_seen % QSZ), &u, sizeof(u));
	e->rx_seen++;
	mem_read(&e->vm->mem, RXBUF(u.id), h, sizeof(*h));
	if (h->op == VSOCK_OP_RW)
		e->fwd += h->len;
	avail_add(e, VSOCK_RXQ, (uint16_t)u.id);
	return true;
}

static void tx_send(struct env *e, uint32_t sport, uint32_t dport, uint16_t op, uint32_t len)
{
	struct vsock_hdr h = { GUEST_CID, VSOCK_HOST_CID, sport, dport, len, VSOCK_TYPE_STREAM, op,
			       0,	  1 << 20,	  e->fwd };
	uint16_t s = (uint16_t)(e->avail[VSOCK_TXQ] % (QSZ / 2));

	mem_write(&e->vm->mem, TXBUF + s * 0x100, &h, sizeof(h));
	desc_set(e, VSOCK_TXQ, 2 * s, TXBUF + s * 0x100, sizeof(h), len ? VIRTQ_DESC_F_NEXT : 0,
		 2 * s + 1);
	desc_set(e, VSOCK_TXQ, 2 * s + 1, 0x300000, len, 0, 0);
	avail_add(e, VSOCK_TXQ, 2 * s);
	kick(e, VSOCK_TXQ);
}

static int dial(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		die("connect");
	return fd;
}

static void report(const char *what, double secs, double floor_secs, bool bytes)
{
	if (bytes)
		printf("%-28s %8.0f MiB/s   floor %8.0f MiB/s   (%.1fx the floor's time)\n", what,
		       TOTAL / secs / 1048576, TOTAL / floor_secs / 1048576, secs / floor_secs);
	else
		printf("%-28s %8.2f us      floor %8.2f us      (%.1fx)\n", what,
		       secs / PINGS * 1e6, floor_secs / PINGS * 1e6, secs / floor_secs);
}

int main(void)
{
	static char buf[1 << 16];
	char dir[] = "/tmp/mvm-vsock-path-XXXXXX", uds[108], line[64];
	double t0, t_in, t_out, t_rt, f_in, f_out, f_rt;
	struct vsock_hdr h;
	uint32_t lport, moved;
	struct env e;
	int sp[2], fd;
	ssize_t n;

	mvm_log_set_level(-1);
	if (!mkdtemp(dir))
		die("mkdtemp");
	snprintf(uds, sizeof(uds), "%s/v", dir);
	env_up(&e, uds);
	fd = dial(uds);
	if (write(fd, "CONNECT 1\n", 10) != 10)
		die("write");
	pump(&e);
	if (!rx_take(&e, &h) || h.op != VSOCK_OP_REQUEST)
		die("no REQUEST");
	lport = h.src_port;
	tx_send(&e, 1, lport, VSOCK_OP_RESPONSE, 0);
	n = read(fd, line, sizeof(line));
	if (n <= 0 || strncmp(line, "OK ", 3))
		die("no OK");

	/* host -> guest */
	memset(buf, 'x', sizeof(buf));
	t0 = now();
	for (moved = 0; moved < TOTAL;) {
		uint32_t sent = 0;

		while (sent < TOTAL && (n = send(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
			sent += (uint32_t)n;
		pump(&e);
		while (rx_take(&e, &h))
			if (h.op == VSOCK_OP_RW)
				moved += h.len;
		/* Credit back and buffers posted, as a driver does after reading. */
		tx_send(&e, 1, lport, VSOCK_OP_CREDIT_UPDATE, 0);
		kick(&e, VSOCK_RXQ);
	}
	t_in = now() - t0;
	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;

	/* guest -> host */
	t0 = now();
	for (moved = 0; moved < TOTAL;) {
		tx_send(&e, 1, lport, VSOCK_OP_RW, 65536);
		while (rx_take(&e, &h))
			;
		kick(&e, VSOCK_RXQ);
		for (uint32_t want = 65536; want && (n = read(fd, buf, want)) > 0;)
			want -= (uint32_t)n, moved += (uint32_t)n;
	}
	t_out = now() - t0;

	/* 1-byte round trips */
	t0 = now();
	for (int i = 0; i < PINGS; i++) {
		if (write(fd, "p", 1) != 1)
			die("write");
		pump(&e);
		while (!rx_take(&e, &h) || h.op != VSOCK_OP_RW)
			pump(&e);
		tx_send(&e, 1, lport, VSOCK_OP_RW, 1);
		if (read(fd, buf, 1) != 1)
			die("read");
	}
	t_rt = now() - t0;
	close(fd);
	pump(&e);
	vm_destroy(e.vm);
	rmdir(dir);

	/* The floor: a Unix socket pair, the same amounts on one thread. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp))
		die("socketpair");
	t0 = now();
	/* 64 KiB writes, reads of a receive buffer's payload: the device's pattern. */
	for (moved = 0; moved < TOTAL; moved += 65536) {
		if (write(sp[0], buf, 65536) != 65536)
			die("socketpair");
		for (uint32_t want = 65536;
		     want && (n = read(sp[1], buf, MIN(want, RXSZ - VSOCK_HDR_SIZE))) > 0;)
			want -= (uint32_t)n;
	}
	f_in = now() - t0;
	t0 = now();
	for (moved = 0; moved < TOTAL; moved += 65536) {
		if (write(sp[0], buf, 65536) != 65536)
			die("socketpair");
		for (uint32_t want = 65536; want && (n = read(sp[1], buf, want)) > 0;)
			want -= (uint32_t)n;
	}
	f_out = now() - t0;
	t0 = now();
	for (int i = 0; i < PINGS; i++)
		if (write(sp[0], "p", 1) != 1 || read(sp[1], buf, 1) != 1 ||
		    write(sp[1], "p", 1) != 1 || read(sp[0], buf, 1) != 1)
			die("socketpair");
	f_rt = now() - t0;

	printf("vsock-path: the device on the fake KVM, one thread, no vCPU (see the source)\n");
	report("host -> guest (4 KiB bufs)", t_in, f_in, true);
	report("guest -> host (64 KiB pkts)", t_out, f_out, true);
	report("1-byte round trip", t_rt, f_rt, false);
	return 0;
}
