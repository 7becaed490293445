// SPDX-License-Identifier: MIT
/*
 * vfio-user without KVM: the message codec on good and malformed messages,
 * then mvm's client against the test server (tests/vfio/server.c) in a child
 * process over a real Unix socket, with the VM on the fake KVM. The guest's
 * side is played through the VM's buses: config space, trapped and mapped
 * BARs, the MSI-X table, a DMA copy through guest RAM and its interrupt; a
 * killed, hanging or lying server; the server seeing the VM end; fault
 * injection over the create path.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../vfio/server.h"
#include "fake.h"
#include "mvm/bus.h"
#include "mvm/control.h"
#include "mvm/fault.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vfio/user_msg.h"
#include "vfio/vfio.h"

/* ---- the codec ---- */

static struct vfu_msg msg_of(const uint8_t *buf, size_t total, const int *fds, unsigned int nfds)
{
	struct vfu_msg m = {
		.payload = buf + VFU_HDR_SIZE, .len = total - VFU_HDR_SIZE, .fds = fds, .nfds = nfds
	};

	assert_int_equal(vfu_hdr_decode(buf, &m.hdr, VFU_MAX_MSG), 0);
	return m;
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void test_codec_header(void **state)
{
	uint8_t buf[64];
	struct vfu_hdr h;
	int n;

	(void)state;
	n = vfu_build_simple(buf, sizeof(buf), 7, VFU_DEVICE_RESET);
	assert_int_equal(n, VFU_HDR_SIZE);
	assert_int_equal(vfu_hdr_decode(buf, &h, VFU_MAX_MSG), 0);
	assert_int_equal(h.msg_id, 7);
	assert_int_equal(h.cmd, VFU_DEVICE_RESET);
	assert_int_equal(h.size, VFU_HDR_SIZE);
	/* Sizes below a header or above the limit. */
	put32(buf + 4, 15);
	assert_int_equal(vfu_hdr_decode(buf, &h, VFU_MAX_MSG), -EPROTO);
	put32(buf + 4, VFU_MAX_MSG + 1);
	assert_int_equal(vfu_hdr_decode(buf, &h, VFU_MAX_MSG), -EPROTO);
	/* A buffer too small for the request. */
	assert_int_equal(vfu_build_version(buf, 20, 1), -ENOSPC);
	assert_int_equal(vfu_build_region_access(buf, sizeof(buf), 1, true, 0, 0, buf, 64),
			 -ENOSPC);
}

static int version_reply(uint8_t *buf, uint16_t major, const char *json)
{
	struct vfu_hdr h = { 1, VFU_VERSION, 0, VFU_TYPE_REPLY, 0 };
	size_t len = 4 + strlen(json) + 1;

	h.size = (uint32_t)(VFU_HDR_SIZE + len);
	vfu_hdr_encode(buf, &h);
	buf[16] = (uint8_t)major;
	buf[17] = 0;
	buf[18] = 1;
	buf[19] = 0;
	memcpy(buf + 20, json, strlen(json) + 1);
	return (int)h.size;
}

static void test_codec_version(void **state)
{
	uint8_t buf[512];
	struct vfu_caps caps;
	struct vfu_msg m;
	int n, fd = 0;

	(void)state;
	n = vfu_build_version(buf, sizeof(buf), 1);
	assert_true(n > 20);
	assert_non_null(strstr((char *)buf + 20, "max_msg_fds"));

	n = version_reply(buf, 0,
			  "{\"capabilities\":{\"max_msg_fds\":4,\"max_data_xfer_size\":65536}}");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), 0);
	assert_int_equal(caps.max_msg_fds, 4);
	assert_int_equal(caps.max_data_xfer, 65536);
	/* No JSON: the defaults. Huge values are clamped to ours. */
	n = version_reply(buf, 0, "");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), 0);
	assert_int_equal(caps.max_msg_fds, 1);
	n = version_reply(buf, 0, "{\"capabilities\":{\"max_msg_fds\":100000}}");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), 0);
	assert_int_equal(caps.max_msg_fds, VFU_MAX_FDS);
	/* Another major version, bad JSON, wrong types, fds where none belong. */
	n = version_reply(buf, 1, "");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTONOSUPPORT);
	n = version_reply(buf, 0, "{\"capabilities\":");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTO);
	n = version_reply(buf, 0, "{\"capabilities\":{\"max_msg_fds\":-1}}");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTO);
	n = version_reply(buf, 0, "{\"capabilities\":[]}");
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTO);
	n = version_reply(buf, 0, "");
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTO);
	m.nfds = 0;
	m.len = 3;
	assert_int_equal(vfu_parse_version(&m, &caps), -EPROTO);
}

/* A GET_REGION_INFO reply: 32 bytes of info, then `caps` bytes of capabilities. */
static int region_reply(uint8_t *buf, uint32_t index, uint32_t flags, uint64_t size,
			uint32_t cap_off, const uint8_t *caps, size_t caps_len, uint32_t argsz)
{
	struct vfu_hdr h = { 1, VFU_DEVICE_GET_REGION_INFO, 0, VFU_TYPE_REPLY, 0 };
	uint8_t *p = buf + VFU_HDR_SIZE;

	h.size = (uint32_t)(VFU_HDR_SIZE + 32 + caps_len);
	vfu_hdr_encode(buf, &h);
	memset(p, 0, 32);
	put32(p, argsz ? argsz : (uint32_t)(32 + caps_len));
	put32(p + 4, flags);
	put32(p + 8, index);
	put32(p + 12, cap_off);
	put64(p + 16, size);
	put64(p + 24, 0x1000);
	if (caps_len)
		memcpy(p + 32, caps, caps_len);
	return (int)h.size;
}

static size_t sparse_cap(uint8_t *c, uint32_t next, uint32_t nr, const uint64_t *areas)
{
	uint32_t i;

	memset(c, 0, 16);
	c[0] = 1; /* sparse mmap */
	c[2] = 1;
	put32(c + 4, next);
	put32(c + 8, nr);
	for (i = 0; i < nr; i++) {
		put64(c + 16 + 16 * i, areas[2 * i]);
		put64(c + 24 + 16 * i, areas[2 * i + 1]);
	}
	return 16 + 16 * (size_t)nr;
}

static void test_codec_region_info(void **state)
{
	const uint64_t good[] = { 0, 0x1000, 0x3000, 0x1000 };
	const uint64_t outside[] = { 0x3000, 0x2000 };
	const uint64_t unaligned[] = { 0x10, 0x1000 };
	uint8_t buf[512], caps[256];
	struct vfio_region r;
	struct vfu_msg m;
	uint32_t need;
	size_t cl;
	int n, fd = 42, fds2[2] = { 42, 43 };

	(void)state;
	cl = sparse_cap(caps, 0, 2, good);
	n = region_reply(buf, 1, 7, 0x4000, 32, caps, cl, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), 0);
	assert_int_equal(need, 0);
	assert_int_equal(r.size, 0x4000);
	assert_int_equal(r.offset, 0x1000);
	assert_int_equal(r.fd, 42);
	assert_int_equal(r.nr_areas, 2);
	assert_int_equal(r.areas[1].off, 0x3000);
	/* Mappable without a sparse list: one whole area; without an fd: not mappable. */
	n = region_reply(buf, 1, 7, 0x4000, 0, NULL, 0, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), 0);
	assert_int_equal(r.nr_areas, 1);
	assert_int_equal(r.areas[0].size, 0x4000);
	m.nfds = 0;
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), 0);
	assert_int_equal(r.fd, -1);
	assert_false(r.flags & VFIO_RF_MMAP);
	/* The server wants more room. */
	n = region_reply(buf, 1, 7, 0x4000, 0, NULL, 0, 96);
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), 0);
	assert_int_equal(need, 96);
	n = region_reply(buf, 1, 7, 0x4000, 0, NULL, 0, 1u << 20);
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	/* Lies: another index, an area outside the region or unaligned, too many areas. */
	n = region_reply(buf, 2, 7, 0x4000, 0, NULL, 0, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	cl = sparse_cap(caps, 0, 1, outside);
	n = region_reply(buf, 1, 7, 0x4000, 32, caps, cl, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	cl = sparse_cap(caps, 0, 1, unaligned);
	n = region_reply(buf, 1, 7, 0x4000, 32, caps, cl, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	cl = sparse_cap(caps, 0, 2, good);
	put32(caps + 8, 1000); /* nr_areas beyond the message */
	n = region_reply(buf, 1, 7, 0x4000, 32, caps, cl, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	/* A capability chain that loops, or points outside the message. */
	cl = sparse_cap(caps, 32, 1, good);
	n = region_reply(buf, 1, 7, 0x4000, 32, caps, cl, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	n = region_reply(buf, 1, 7, 0x4000, 4000, NULL, 0, 0);
	m = msg_of(buf, (size_t)n, &fd, 1);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	/* Two fds, or a short message. */
	n = region_reply(buf, 1, 7, 0x4000, 0, NULL, 0, 0);
	m = msg_of(buf, (size_t)n, fds2, 2);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	m.nfds = 0;
	m.len = 31;
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
	/* A region larger than any BAR. */
	n = region_reply(buf, 1, 3, 1ULL << 50, 0, NULL, 0, 0);
	m = msg_of(buf, (size_t)n, NULL, 0);
	assert_int_equal(vfu_parse_region_info(&m, 1, &r, &need), -EPROTO);
}

static void test_codec_access_and_dma(void **state)
{
	uint8_t buf[256], out[8];
	struct vfu_dma_req d;
	struct vfu_msg m;
	struct vfu_hdr h = { 3, VFU_REGION_READ, VFU_HDR_SIZE + 16 + 8, VFU_TYPE_REPLY, 0 };
	uint32_t count;
	int n;

	(void)state;
	vfu_hdr_encode(buf, &h);
	put64(buf + 16, 0x40);
	put32(buf + 24, 0);
	put32(buf + 28, 8);
	memcpy(buf + 32, "ABCDEFGH", 8);
	m = msg_of(buf, h.size, NULL, 0);
	assert_true(vfu_reply_matches(&m.hdr, 3, VFU_REGION_READ));
	assert_false(vfu_reply_matches(&m.hdr, 4, VFU_REGION_READ));
	assert_int_equal(vfu_parse_region_read(&m, 0, 0x40, out, 8), 0);
	assert_memory_equal(out, "ABCDEFGH", 8);
	/* Another offset, region or length than asked. */
	assert_int_equal(vfu_parse_region_read(&m, 0, 0x48, out, 8), -EPROTO);
	assert_int_equal(vfu_parse_region_read(&m, 1, 0x40, out, 8), -EPROTO);
	assert_int_equal(vfu_parse_region_read(&m, 0, 0x40, out, 4), -EPROTO);
	/* An error reply gives its errno, an absurd one EIO; too many fds: protocol error. */
	m.hdr.flags |= VFU_F_ERROR;
	m.hdr.error = EINVAL;
	assert_int_equal(vfu_reply_status(&m, 1), -EINVAL);
	m.hdr.error = 1u << 30;
	assert_int_equal(vfu_reply_status(&m, 1), -EIO);
	m.nfds = 2;
	assert_int_equal(vfu_reply_status(&m, 1), -EPROTO);

	/* The server's DMA_WRITE: count must match the data. */
	h = (struct vfu_hdr){ 9, VFU_DMA_WRITE, VFU_HDR_SIZE + 16 + 4, VFU_TYPE_COMMAND, 0 };
	vfu_hdr_encode(buf, &h);
	put64(buf + 16, 0x2000);
	put64(buf + 24, 4);
	m = msg_of(buf, h.size, NULL, 0);
	assert_int_equal(vfu_parse_dma_req(&m, &d, 4096), 0);
	assert_int_equal(d.addr, 0x2000);
	put64(buf + 24, 5);
	assert_int_equal(vfu_parse_dma_req(&m, &d, 4096), -EPROTO);
	put64(buf + 24, ~0ULL);
	assert_int_equal(vfu_parse_dma_req(&m, &d, 4096), -EPROTO);
	/* DMA_READ carries no data; its reply carries count bytes. */
	h = (struct vfu_hdr){ 9, VFU_DMA_READ, VFU_HDR_SIZE + 16, VFU_TYPE_COMMAND, 0 };
	vfu_hdr_encode(buf, &h);
	put64(buf + 24, 8);
	m = msg_of(buf, h.size, NULL, 0);
	assert_int_equal(vfu_parse_dma_req(&m, &d, 4096), 0);
	n = vfu_build_dma_reply(buf, sizeof(buf), &m.hdr, &d, "12345678", 0);
	assert_int_equal(n, VFU_HDR_SIZE + 16 + 8);
	assert_int_equal(vfu_parse_dma_req(&m, &d, 4), -EPROTO); /* beyond max transfer */

	/* IRQ info of another index, or an absurd count. */
	h = (struct vfu_hdr){ 5, VFU_DEVICE_GET_IRQ_INFO, VFU_HDR_SIZE + 16, VFU_TYPE_REPLY, 0 };
	vfu_hdr_encode(buf, &h);
	put32(buf + 16, 16);
	put32(buf + 24, 2);
	put32(buf + 28, 4);
	m = msg_of(buf, h.size, NULL, 0);
	assert_int_equal(vfu_parse_irq_info(&m, 2, &count), 0);
	assert_int_equal(count, 4);
	assert_int_equal(vfu_parse_irq_info(&m, 0, &count), -EPROTO);
	put32(buf + 28, 1u << 20);
	assert_int_equal(vfu_parse_irq_info(&m, 2, &count), -EPROTO);
}

/* ---- the client against the test server ---- */

struct env {
	struct vm *vm;
	char dir[64], sock[96];
	pid_t server;
};

static struct env *new_env(void)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	fake_reset();
	e->vm = unit_vm(1);
	e->server = -1;
	{
		static const struct platform_device_desc host = {
			"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
		};

		assert_false(IS_ERR(pci_host_create(e->vm, &host)));
	}
	snprintf(e->dir, sizeof(e->dir), "/tmp/mvm-vfu-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/s", e->dir);
	return e;
}

/* The server in a child: it listens before the fork, so connecting cannot race it. */
static void start_server(struct env *e, unsigned int flags)
{
	int lfd = vts_listen(e->sock);

	assert_true(lfd >= 0);
	fflush(NULL);
	e->server = fork();
	assert_true(e->server >= 0);
	if (e->server == 0) {
		int s = accept(lfd, NULL, NULL);

		_exit(s < 0 ? 3 : vts_serve(s, flags) ? 4 : 0);
	}
	close(lfd);
}

/* The server's exit status (it exits 0 when it saw its client leave), or -1 if killed. */
static int wait_server(struct env *e)
{
	int st = 0;

	if (e->server < 0)
		return -1;
	assert_int_equal(waitpid(e->server, &st, 0), e->server);
	e->server = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void free_env(struct env *e)
{
	if (e->vm)
		vm_destroy(e->vm);
	if (e->server > 0) {
		kill(e->server, SIGKILL);
		wait_server(e);
	}
	unlink(e->sock);
	rmdir(e->dir);
	free(e);
}

static uint64_t bar_read(struct vfio_dev *v, unsigned int bar, uint64_t off, unsigned int len)
{
	uint64_t x = 0;

	bus_access(&v->pdev.dev.vm->buses[MVM_BUS_MMIO], pci_bar_addr(&v->pdev, bar) + off, &x, len,
		   false);
	return x;
}

static void bar_write(struct vfio_dev *v, unsigned int bar, uint64_t off, uint64_t x,
		      unsigned int len)
{
	bus_access(&v->pdev.dev.vm->buses[MVM_BUS_MMIO], pci_bar_addr(&v->pdev, bar) + off, &x, len,
		   true);
}

/* What the guest's driver does first: memory decode and bus mastering on. */
static void enable(struct vfio_dev *v)
{
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;

	pci_cfg_write(&v->pdev, PCI_COMMAND, &cmd, 2);
}

/* Turns one round of the VM's event loop by hand. */
static bool loop_once(struct vm *vm, int ms)
{
	struct epoll_event ev;
	struct loop_handler *h;

	if (epoll_wait(vm->loop.epfd, &ev, 1, ms) != 1)
		return false;
	h = ev.data.ptr;
	h->fn(h, ev.events);
	return true;
}

static uint64_t efd_count(int fd)
{
	uint64_t n = 0;

	if (read(fd, &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

/* GET /devices (and mvm devices): type, transport, PCI address, the socket, bound. */
static void assert_device_listed(struct vm *vm, const char *sock)
{
	json_t *devs = vm_devices_json(vm), *d;
	unsigned int found = 0;
	size_t i;

	assert_non_null(devs);
	json_array_foreach (devs, i, d) {
		if (strcmp(json_string_value(json_object_get(d, "type")) ?: "", "vfio-user"))
			continue;
		found++;
		assert_string_equal(json_string_value(json_object_get(d, "host")), sock);
		assert_string_equal(json_string_value(json_object_get(d, "transport")), "pci");
		assert_true(json_is_true(json_object_get(d, "bound")));
		assert_non_null(json_string_value(json_object_get(d, "address")));
		assert_int_equal(json_array_size(json_object_get(d, "bars")), 3);
	}
	json_decref(devs);
	assert_int_equal(found, 1);
}

static void test_user_device(void **state)
{
	struct env *e = new_env();
	uint16_t vendor = 0, ctrl;
	struct vfio_dev *v;
	uint64_t word;

	(void)state;
	start_server(e, 0);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_false(IS_ERR(v));
	/* Listed, bound, with what it is bound to. */
	assert_true(v->pdev.dev.registered);
	assert_string_equal(v->pdev.dev.type, "vfio-user");
	assert_string_equal(v->pdev.dev.host, e->sock);
	assert_true(v->pdev.dev.fw.pci.present);
	assert_device_listed(e->vm, e->sock);

	/* Config space: the server's identity, our BARs and MSI-X. */
	pci_cfg_read(&v->pdev, PCI_VENDOR_ID, &vendor, 2);
	assert_int_equal(vendor, VTS_VENDOR);
	assert_int_equal(v->pdev.bars[0].size, 4096);
	assert_int_equal(v->pdev.bars[1].size, 65536);
	assert_int_equal(v->pdev.msix.nr, 4);
	assert_int_equal(v->pdev.msix.bar, 2);
	assert_int_equal(v->pdev.intx_pin, 1);
	enable(v);

	/* BAR0, trapped: each access is a message. */
	assert_int_equal(bar_read(v, 0, VTS_REG_ID, 8), VTS_ID);
	bar_write(v, 0, VTS_REG_SCRATCH, 0x1122334455667788ULL, 8);
	assert_int_equal(bar_read(v, 0, VTS_REG_SCRATCH, 8), 0x1122334455667788ULL);
	assert_int_equal(bar_read(v, 0, VTS_REG_SCRATCH, 4), 0x55667788);
	/* A register nobody wrote. */
	assert_int_equal(bar_read(v, 0, 4096 - 8, 4), 0);

	/* BAR1, mapped: the guest's slot is there, the server sees the same bytes. */
	assert_non_null(v->regions[1].areas[0].hva);
	assert_true(v->regions[1].areas[0].slot >= 0);
	bar_write(v, 1, 0x100, 0xdeadbeefcafef00dULL, 8);
	assert_int_equal(v->bops->region_rw(v, 1, 0x100, &word, 8, false), 0);
	assert_int_equal(word, 0xdeadbeefcafef00dULL);
	assert_int_equal(bar_read(v, 1, 0x100, 8), 0xdeadbeefcafef00dULL);

	/* INTx: the server's trigger is a resample irqfd on the function's GSI. */
	assert_int_equal(fake_irqfd_gsi(v->intx_fd), (int)v->pdev.intx_gsi);
	bar_write(v, 0, VTS_REG_INTX, 1, 8);
	assert_int_equal(efd_count(v->intx_fd), 1); /* the fake KVM leaves it unread */

	/* MSI-X: vector 1 programmed and unmasked, then MSI-X on (the server gets the fds). */
	bar_write(v, 2, VTS_MSIX_TABLE + 16 + 0, 0xfee00000, 4);
	bar_write(v, 2, VTS_MSIX_TABLE + 16 + 8, 0x41, 4);
	bar_write(v, 2, VTS_MSIX_TABLE + 16 + 12, 0, 4);
	ctrl = PCI_MSIX_ENABLE;
	pci_cfg_write(&v->pdev, v->pdev.msix.cap + PCI_MSIX_FLAGS, &ctrl, 2);
	assert_true(v->msix_on);
	/* INTx is off meanwhile: the server has no trigger. */
	bar_write(v, 0, VTS_REG_INTX, 1, 8);
	assert_int_equal(efd_count(v->intx_fd), 0);

	/* A DMA copy through guest RAM (the server mapped the memfd), then vector 1. */
	assert_int_equal(mem_write(&e->vm->mem, 0x10000, "vfio-user dma copy!", 20), 0);
	bar_write(v, 0, VTS_REG_DMA_SRC, 0x10000, 8);
	bar_write(v, 0, VTS_REG_DMA_DST, 0x20000, 8);
	bar_write(v, 0, VTS_REG_DMA_LEN, 20, 8);
	bar_write(v, 0, VTS_REG_DMA_VECTOR, 1, 8);
	bar_write(v, 0, VTS_REG_DOORBELL, 1, 8);
	assert_int_equal(bar_read(v, 0, VTS_REG_STATUS, 8), 1);
	assert_memory_equal(mem_ptr(&e->vm->mem, 0x20000, 20), "vfio-user dma copy!", 20);
	/* The server's eventfd fires; the loop relays it to the vector's route and irqfd. */
	assert_true(loop_once(e->vm, 2000));
	assert_int_equal(efd_count(v->pdev.msix.efd[1]), 1);
	assert_true(fake_irqfd_gsi(v->pdev.msix.efd[1]) >= 0);
	assert_int_equal(fake_kvm.msi_data[fake_irqfd_gsi(v->pdev.msix.efd[1])], 0x41);

	/* A copy from outside guest RAM fails in the device, not in the VMM. */
	bar_write(v, 0, VTS_REG_DMA_SRC, 1ULL << 40, 8);
	bar_write(v, 0, VTS_REG_DOORBELL, 1, 8);
	assert_true(bar_read(v, 0, VTS_REG_STATUS, 8) & VTS_STATUS_ERROR);
	assert_false(vfio_dev_failed(v));
	assert_int_equal(v->bops->reset(v), 0);
	assert_int_equal(bar_read(v, 0, VTS_REG_STATUS, 8), 0);

	/* The VM ends: the device is released and the server sees its client go. */
	vm_destroy(e->vm);
	e->vm = NULL;
	assert_int_equal(wait_server(e), 0);
	free_env(e);
}

static void test_user_no_map(void **state)
{
	struct env *e = new_env();
	struct vfio_dev *v;

	(void)state;
	start_server(e, VTS_NO_MAP);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_false(IS_ERR(v));
	enable(v);
	/* The server reaches guest RAM with DMA_READ / DMA_WRITE while we wait for its reply. */
	assert_int_equal(mem_write(&e->vm->mem, 0x30000, "through messages", 16), 0);
	bar_write(v, 0, VTS_REG_DMA_SRC, 0x30000, 8);
	bar_write(v, 0, VTS_REG_DMA_DST, 0x31000, 8);
	bar_write(v, 0, VTS_REG_DMA_LEN, 16, 8);
	bar_write(v, 0, VTS_REG_DOORBELL, 1, 8);
	assert_int_equal(bar_read(v, 0, VTS_REG_STATUS, 8), 1);
	assert_memory_equal(mem_ptr(&e->vm->mem, 0x31000, 16), "through messages", 16);
	/* Outside RAM: the client answers EFAULT, the device reports the error. */
	bar_write(v, 0, VTS_REG_DMA_DST, e->vm->mem.size + 0x100000000ULL, 8);
	bar_write(v, 0, VTS_REG_DOORBELL, 1, 8);
	assert_true(bar_read(v, 0, VTS_REG_STATUS, 8) & VTS_STATUS_ERROR);
	assert_false(vfio_dev_failed(v));
	vm_destroy(e->vm);
	e->vm = NULL;
	assert_int_equal(wait_server(e), 0);
	free_env(e);
}

static void test_user_server_killed(void **state)
{
	struct env *e = new_env();
	struct vfio_dev *v;

	(void)state;
	start_server(e, 0);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_false(IS_ERR(v));
	enable(v);
	assert_int_equal(bar_read(v, 0, VTS_REG_ID, 8), VTS_ID);
	kill(e->server, SIGKILL);
	assert_int_equal(wait_server(e), -1);
	/* The guest reads all-ones, its writes go nowhere, the VMM goes on. */
	assert_int_equal(bar_read(v, 0, VTS_REG_ID, 8), ~0ULL);
	assert_true(vfio_dev_failed(v));
	bar_write(v, 0, VTS_REG_SCRATCH, 1, 8);
	assert_int_equal(bar_read(v, 0, VTS_REG_SCRATCH, 4), 0xffffffffu);
	assert_int_equal(bar_read(v, 1, 0, 4), 0xffffffffu);
	/* The event loop takes BAR1's slot away (the guest's accesses trap) and the socket. */
	assert_true(v->regions[1].areas[0].slot >= 0);
	while (loop_once(e->vm, 0))
		;
	assert_int_equal(v->regions[1].areas[0].slot, -1);
	/* A BAR moved now stays trapped. */
	{
		uint32_t bar1 = (uint32_t)pci_bar_addr(&v->pdev, 1) + 0x10000;

		pci_cfg_write(&v->pdev, PCI_BASE_ADDRESS_0 + 4, &bar1, 4);
		assert_int_equal(v->regions[1].areas[0].slot, -1);
	}
	free_env(e);
}

static void test_user_misbehaving(void **state)
{
	struct env *e;
	struct vfio_dev *v;

	(void)state;
	/* A reply that never comes: the timeout fails the device. */
	e = new_env();
	start_server(e, VTS_HANG);
	v = vfio_user_create(e->vm, e->sock, 0, 100);
	assert_false(IS_ERR(v));
	enable(v);
	assert_int_equal(bar_read(v, 0, VTS_REG_HANG, 8), ~0ULL);
	assert_true(vfio_dev_failed(v));
	vm_destroy(e->vm);
	e->vm = NULL;
	assert_int_equal(wait_server(e), 0);
	free_env(e);

	/* A read answered with the wrong length. */
	e = new_env();
	start_server(e, VTS_BAD_REPLY);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	/* Its config space read already lies: the device is not created. */
	assert_true(IS_ERR(v));
	free_env(e);

	/* An mmap area outside its region; fds where none belong. */
	e = new_env();
	start_server(e, VTS_BAD_AREA);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_int_equal(PTR_ERR(v), -EPROTO);
	assert_int_equal(wait_server(e), 0);
	free_env(e);
	e = new_env();
	start_server(e, VTS_EXTRA_FDS);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_true(IS_ERR(v));
	free_env(e);

	/* An MSI-X table outside its BAR: the function comes up with INTx only. */
	e = new_env();
	start_server(e, VTS_BAD_MSIX);
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_false(IS_ERR(v));
	assert_int_equal(v->pdev.msix.nr, 0);
	assert_int_equal(v->pdev.intx_pin, 1);
	assert_false(vfio_dev_failed(v));
	vm_destroy(e->vm);
	e->vm = NULL;
	assert_int_equal(wait_server(e), 0);
	free_env(e);

	/* Nobody listening. */
	e = new_env();
	v = vfio_user_create(e->vm, e->sock, 0, 5000);
	assert_true(IS_ERR(v));
	free_env(e);
}

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_user_faults(void **state)
{
	unsigned long i, calls;
	unsigned int failed = 0;

	(void)state;
	for (i = 1;; i++) {
		struct env *e = new_env();
		unsigned int fds, devs;
		struct vfio_dev *v;

		start_server(e, 0);
		fds = open_fds();
		devs = 0;
		fault_begin(i);
		v = vfio_user_create(e->vm, e->sock, 0, 5000);
		calls = fault_end();
		if (!fault_fired()) {
			assert_false(IS_ERR(v));
			free_env(e);
			break;
		}
		assert_true(IS_ERR(v));
		failed++;
		/* Nothing left behind: fds, the listing. */
		assert_int_equal(open_fds(), fds);
		{
			struct mvm_device *d;

			list_for_each_entry (d, &e->vm->devices, node)
				devs += d->type && !strcmp(d->type, "vfio-user");
		}
		assert_int_equal(devs, 0);
		free_env(e);
	}
	assert_true(failed > 5);
	assert_true(calls >= failed);
}

int run_vfio_user_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_header),
		cmocka_unit_test(test_codec_version),
		cmocka_unit_test(test_codec_region_info),
		cmocka_unit_test(test_codec_access_and_dma),
		cmocka_unit_test(test_user_device),
		cmocka_unit_test(test_user_no_map),
		cmocka_unit_test(test_user_server_killed),
		cmocka_unit_test(test_user_misbehaving),
		cmocka_unit_test(test_user_faults),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests_name("vfio-user", tests, NULL, NULL);
}
