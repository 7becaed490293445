// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: virtio-vsock's TX path (the packet parser and the
 * connection state machine behind it) as a guest drives it, with host
 * peers around. A VM on the unit tests' fake KVM (no /dev/kvm) gets the PCI
 * host and a virtio-vsock whose driver is brought up through virtio-pci;
 * the input is a program of:
 *
 *   TX packets (header fields from the input, mostly addressed right so
 *   that they reach the connections; payload; the chain cut into pieces
 *   at input-chosen points, sometimes with a device-writable buffer),
 *   host peers that dial uds_path and send a CONNECT line, write, close,
 *   the guest taking its RX packets and posting buffers again, and a
 *   transport reset. The VM's event loop runs after each step.
 *
 * ASan/UBSan check every access; the VM and its sockets go after each input.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "fake.h"
#include "input.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "mvm/vsock.h"
#include "virtio/vsock.h"

#define RAM_SIZE   (4ULL << 20)
#define MAX_OPS	   256
#define QSZ	   64
#define RING(q)	   (0x10000ULL + (q)*0x4000ULL)
#define RXBUF(i)   (0x40000ULL + (i)*0x1000ULL)
#define RX_POSTED  32
#define TXBUF	   0x100000ULL /* a TX chain's bytes, cut into descriptors */
#define TXBUF_SIZE (VSOCK_MAX_PKT + 2 * VSOCK_HDR_SIZE)
#define MAX_PEERS  8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static char dir[64], uds[108], listen_path[128];

struct env {
	struct vm *vm;
	struct virtio_dev *vdev;
	uint64_t bar;
	uint16_t avail[VSOCK_NUM_QUEUES];
	uint16_t rx_seen;
	int peers[MAX_PEERS];
	int listener;
};

static void bar_wr(struct env *e, uint64_t off, uint64_t v, unsigned int len)
{
	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, true);
}

static void pump(struct env *e)
{
	struct epoll_event ev[16];
	int rounds = 0, n;

	while (rounds++ < 64 && (n = epoll_wait(e->vm->loop.epfd, ev, 16, 0)) > 0)
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

static void kick(struct env *e, unsigned int q)
{
	virtq_kick(virtio_dev_vq(e->vdev, q));
	pump(e);
}

static void env_up(struct env *e)
{
	struct vsock_config cfg = { .guest_cid = 3 };
	const uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	struct mvm_config mc;
	uint64_t a;

	memset(e, 0, sizeof(*e));
	for (int i = 0; i < MAX_PEERS; i++)
		e->peers[i] = -1;
	snprintf(cfg.uds_path, sizeof(cfg.uds_path), "%s", uds);
	fake_reset();
	mvm_config_init(&mc);
	mc.mem_size = RAM_SIZE;
	mc.cpus = 1;
	mc.console_out = -1;
	e->vm = vm_create(&mc);
	if (IS_ERR(e->vm) || IS_ERR(pci_host_create(e->vm, &host_desc)))
		abort();
	e->vdev = virtio_vsock_create(e->vm, &cfg);
	if (IS_ERR(e->vdev))
		abort();
	a = ARCH_PCI_ECAM_BASE + ((unsigned int)e->vdev->pci.slot << 15);
	{
		uint64_t v = 0;

		bus_access(&e->vm->buses[MVM_BUS_MMIO], a + PCI_BASE_ADDRESS_0, &v, 4, false);
		e->bar = v & ~0xfULL;
		v = PCI_COMMAND_MEMORY;
		bus_access(&e->vm->buses[MVM_BUS_MMIO], a + PCI_COMMAND, &v, 2, true);
	}
	bar_wr(e, 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_wr(e, 0x14, st, 1);
	bar_wr(e, 0x08, 0, 4);
	bar_wr(e, 0x0c, 1u << VIRTIO_VSOCK_F_STREAM, 4);
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
	for (uint16_t i = 0; i < RX_POSTED; i++) {
		desc_set(e, VSOCK_RXQ, i, RXBUF(i), 4096, VIRTQ_DESC_F_WRITE, 0);
		avail_add(e, VSOCK_RXQ, i);
	}
	for (uint16_t i = 0; i < 4; i++) {
		desc_set(e, VSOCK_EVQ, i, 0xa0000 + 16 * i, 8, VIRTQ_DESC_F_WRITE, 0);
		avail_add(e, VSOCK_EVQ, i);
	}
	kick(e, VSOCK_RXQ);
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		e->listener = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", listen_path);
		unlink(listen_path);
		if (e->listener < 0 || bind(e->listener, (struct sockaddr *)&sa, sizeof(sa)) ||
		    listen(e->listener, 16))
			abort();
	}
}

static void env_down(struct env *e)
{
	for (int i = 0; i < MAX_PEERS; i++)
		if (e->peers[i] >= 0)
			close(e->peers[i]);
	pump(e);
	vm_destroy(e->vm);
	close(e->listener);
	unlink(listen_path);
}

/* A TX chain: header (44 bytes, mostly well addressed) + payload, cut into up to 4 pieces. */
static void op_tx(struct env *e, struct input *in)
{
	uint8_t ctl = (uint8_t)take(in, 1);
	struct vsock_hdr h;
	uint32_t plen = (uint32_t)take(in, 2) % 512, total, cut[4];
	uint16_t head = (uint16_t)(e->avail[VSOCK_TXQ] % 16) * 4;
	unsigned int pieces = 1 + (ctl >> 6), i;

	memset(&h, 0, sizeof(h));
	if (ctl & 1) {
		/* Raw: the whole header from the input. */
		uint8_t raw[VSOCK_HDR_SIZE];

		for (i = 0; i < sizeof(raw); i++)
			raw[i] = (uint8_t)take(in, 1);
		memcpy(&h, raw, sizeof(h));
	} else {
		h.src_cid = 3;
		h.dst_cid = 2;
		h.type = ctl & 2 ? (uint16_t)take(in, 2) : VSOCK_TYPE_STREAM;
		h.op = (uint16_t)(take(in, 1) % 9);
		h.src_port = (uint32_t)take(in, 1) % 4;
		/* Host ports: 5 (the listener), a CONNECT line's, or anything. */
		h.dst_port =
			ctl & 4 ? (uint32_t)take(in, 4)
				: (ctl & 8 ? 5 : VSOCK_LOCAL_PORT_BASE + (uint32_t)take(in, 1) % 8);
		h.flags = (uint32_t)take(in, 1);
		h.buf_alloc = ctl & 16 ? (uint32_t)take(in, 4) : 65536;
		h.fwd_cnt = (uint32_t)take(in, 4);
		h.len = ctl & 32 ? (uint32_t)take(in, 4) : plen;
	}
	total = VSOCK_HDR_SIZE + plen;
	mem_write(&e->vm->mem, TXBUF, &h, sizeof(h));
	for (i = 0; i < plen; i++) {
		uint8_t b = (uint8_t)(i * 31 + 7);

		mem_write(&e->vm->mem, TXBUF + VSOCK_HDR_SIZE + i, &b, 1);
	}
	/* Cut points in [0, total]; a piece may be empty (skipped by the walker). */
	for (i = 0; i + 1 < pieces; i++)
		cut[i] = (uint32_t)take(in, 1) * total / 255;
	cut[pieces - 1] = total;
	for (i = 0; i < pieces; i++) {
		uint32_t start = i ? MIN(cut[i - 1], cut[i]) : 0;
		uint32_t end = MAX(cut[i], start);
		uint16_t flags = i + 1 < pieces ? VIRTQ_DESC_F_NEXT : 0;

		desc_set(e, VSOCK_TXQ, (uint16_t)(head + i), TXBUF + start, end - start, flags,
			 (uint16_t)(head + i + 1));
	}
	avail_add(e, VSOCK_TXQ, head);
	kick(e, VSOCK_TXQ);
}

static void op_peer(struct env *e, struct input *in)
{
	uint8_t ctl = (uint8_t)take(in, 1);
	int k = ctl % MAX_PEERS;
	char line[48];

	switch ((ctl >> 3) & 3) {
	case 0: { /* dial and send a CONNECT line (sometimes a bad one) */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };

		if (e->peers[k] >= 0)
			break;
		e->peers[k] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", uds);
		if (e->peers[k] < 0 ||
		    connect(e->peers[k], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			if (e->peers[k] >= 0)
				close(e->peers[k]);
			e->peers[k] = -1;
			break;
		}
		if (ctl & 0x80)
			snprintf(line, sizeof(line), "CONNECT %u\n", (unsigned)take(in, 1) % 4);
		else
			for (size_t i = 0, n = (size_t)take(in, 1) % 40; i <= n; i++)
				line[i] = i == n ? '\0' : (char)take(in, 1);
		if (send(e->peers[k], line, strlen(line), MSG_NOSIGNAL) < 0)
			break;
		break;
	}
	case 1: { /* write */
		static char buf[8192];
		size_t n = (size_t)take(in, 2) % sizeof(buf);

		if (e->peers[k] >= 0)
			(void)!send(e->peers[k], buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		break;
	}
	case 2: /* close */
		if (e->peers[k] >= 0)
			close(e->peers[k]);
		e->peers[k] = -1;
		break;
	case 3: { /* read what it has */
		static char buf[8192];

		if (e->peers[k] >= 0)
			(void)!recv(e->peers[k], buf, sizeof(buf), MSG_DONTWAIT);
		break;
	}
	}
	pump(e);
}

/* The guest takes its packets and posts the buffers again. */
static void op_rx(struct env *e)
{
	uint16_t used = 0;

	mem_read(&e->vm->mem, RING(VSOCK_RXQ) + 0x2000 + 2, &used, 2);
	while (e->rx_seen != used) {
		struct virtq_used_elem u;

		mem_read(&e->vm->mem, RING(VSOCK_RXQ) + 0x2000 + 4 + 8 * (e->rx_seen % QSZ), &u,
			 sizeof(u));
		e->rx_seen++;
		if (u.id >= RX_POSTED || u.len > 4096)
			abort(); /* the device returned a buffer it was never given, or overran it
				  */
		avail_add(e, VSOCK_RXQ, (uint16_t)u.id);
	}
	kick(e, VSOCK_RXQ);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	unsigned int ops = 0;
	struct env e;

	if (!dir[0]) {
		mvm_log_set_level(-1);
		snprintf(dir, sizeof(dir), "/tmp/mvm-fuzz-vsock-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		snprintf(uds, sizeof(uds), "%s/v", dir);
		snprintf(listen_path, sizeof(listen_path), "%s_5", uds);
	}
	env_up(&e);
	while (in.left && ops++ < MAX_OPS) {
		switch (take(&in, 1) % 8) {
		case 0:
		case 1:
		case 2:
			op_tx(&e, &in);
			break;
		case 3:
		case 4:
			op_peer(&e, &in);
			break;
		case 5:
		case 6:
			op_rx(&e);
			break;
		case 7:
			virtio_vsock_transport_reset(e.vdev);
			pump(&e);
			break;
		}
	}
	env_down(&e);
	return 0;
}
