// SPDX-License-Identifier: MIT
/*
 * A small vfio-user server for mvm's tests and benchmarks: one PCI function
 * with
 *   BAR0  4 KiB of registers (trapped: every access is a message),
 *   BAR1  64 KiB of memory, mappable (a memfd passed with its region info),
 *   BAR2  the MSI-X table (4 vectors) and PBA,
 * and a DMA engine: writing the doorbell copies DMA_LEN bytes from guest
 * address DMA_SRC to DMA_DST (through the guest RAM the client mapped for
 * it, or with DMA_READ/DMA_WRITE messages when started with --no-map), then
 * raises MSI-X vector DMA_VECTOR through the client's eventfd.
 *
 *   vfio-user-server SOCKET [--no-map] [--misbehave=MODE]
 *
 * It serves one client, then prints "disconnected" and exits 0. MODEs make
 * it lie on purpose (the client must survive): "hang" never answers a read
 * of BAR0's HANG register, "bad-area" reports a mmap area outside BAR1,
 * "bad-reply" answers a read with the wrong length, "extra-fds" sends fds
 * with DEVICE_GET_INFO, "bad-msix" puts the MSI-X table outside its BAR.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "server.h"

enum {
	CMD_VERSION = 1,
	CMD_DMA_MAP,
	CMD_DMA_UNMAP,
	CMD_GET_INFO,
	CMD_REGION_INFO,
	CMD_REGION_IO_FDS,
	CMD_IRQ_INFO,
	CMD_SET_IRQS,
	CMD_REGION_READ,
	CMD_REGION_WRITE,
	CMD_DMA_READ,
	CMD_DMA_WRITE,
	CMD_RESET,
};

#define HDR	      16
#define F_REPLY	      1
#define F_ERROR	      0x20
#define MAX_MSG	      ((1u << 20) + 64)
#define NR_REGIONS    9
#define NR_IRQS	      5
#define MSIX_NR	      4
#define BAR0_SIZE     4096
#define BAR1_SIZE     65536
#define BAR2_SIZE     4096
#define CFG_SIZE      256
#define MAX_DMA	      8
#define IRQ_DATA_NONE 1u
#define IRQ_DATA_EFD  4u
#define IRQ_UNMASK    0x10u

struct dma_map {
	uint64_t iova, size;
	uint8_t *p; /* NULL: not mapped (--no-map), reached by messages */
};

struct server {
	int sock;
	unsigned int flags;
	uint16_t next_id;
	uint8_t cfg[CFG_SIZE];
	uint64_t regs[BAR0_SIZE / 8];
	int bar1_fd;
	uint8_t *bar1;
	int msix_fd[MSIX_NR];
	int intx_fd;
	int intx_unmask_fd; /* the client's; kept, unused: this device's INTx is a pulse */
	struct dma_map dma[MAX_DMA];
	uint8_t *in, *out;
	uint8_t *dma_buf; /* our DMA requests and their replies */
	int fds[8];
	unsigned int nfds;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

static int send_msg(struct server *s, const uint8_t *buf, size_t len, const int *fds,
		    unsigned int nfds)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { (void *)(buf + done), len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds && !done) {
			struct cmsghdr *cm;

			memset(ctl, 0, sizeof(ctl));
			mh.msg_control = ctl;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(s->sock, &mh, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int recv_full(struct server *s, uint8_t *buf, size_t len)
{
	char ctl[CMSG_SPACE(sizeof(int) * 8)];
	size_t done = 0;

	while (done < len) {
		struct iovec iov = { buf + done, len - done };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl,
				     .msg_controllen = sizeof(ctl) };
		struct cmsghdr *cm;
		ssize_t n = recvmsg(s->sock, &mh, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t i, nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (i = 0; i < nr; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (s->nfds < 8)
					s->fds[s->nfds++] = fd;
				else
					close(fd);
			}
		}
		done += (size_t)n;
	}
	return 0;
}

static void drop_fds(struct server *s)
{
	while (s->nfds)
		close(s->fds[--s->nfds]);
}

/* One message into buf (MAX_MSG bytes); its total size, or -1 at the end. */
static long recv_msg(struct server *s, uint8_t *buf)
{
	uint32_t size;

	if (recv_full(s, buf, HDR))
		return -1;
	size = get32(buf + 4);
	if (size < HDR || size > MAX_MSG || recv_full(s, buf + HDR, size - HDR))
		return -1;
	return size;
}

static int reply(struct server *s, const uint8_t *req, const uint8_t *payload, size_t len,
		 const int *fds, unsigned int nfds)
{
	memcpy(s->out, req, 4);
	put32(s->out + 4, (uint32_t)(HDR + len));
	put32(s->out + 8, F_REPLY);
	put32(s->out + 12, 0);
	if (len && payload != s->out + HDR)
		memmove(s->out + HDR, payload, len);
	return send_msg(s, s->out, HDR + len, fds, nfds);
}

static int reply_error(struct server *s, const uint8_t *req, uint32_t err)
{
	memcpy(s->out, req, 4);
	put32(s->out + 4, HDR);
	put32(s->out + 8, F_REPLY | F_ERROR);
	put32(s->out + 12, err);
	return send_msg(s, s->out, HDR, NULL, 0);
}

/* ---- guest memory: mapped, or through the client ---- */

static struct dma_map *dma_find(struct server *s, uint64_t addr, uint64_t len)
{
	unsigned int i;

	for (i = 0; i < MAX_DMA; i++) {
		struct dma_map *d = &s->dma[i];

		if (d->size && addr >= d->iova && addr - d->iova < d->size &&
		    len <= d->size - (addr - d->iova))
			return d;
	}
	return NULL;
}

/* A DMA_READ/DMA_WRITE request to the client and its reply. 0 or -1. */
static int dma_message(struct server *s, bool write, uint64_t addr, uint8_t *buf, uint32_t len)
{
	uint8_t *m = s->dma_buf;
	long n;

	put16(m, s->next_id++);
	put16(m + 2, write ? CMD_DMA_WRITE : CMD_DMA_READ);
	put32(m + 4, HDR + 16 + (write ? len : 0));
	put32(m + 8, 0);
	put32(m + 12, 0);
	put64(m + HDR, addr);
	put64(m + HDR + 8, len);
	if (write)
		memcpy(m + HDR + 16, buf, len);
	if (send_msg(s, m, HDR + 16 + (write ? len : 0), NULL, 0))
		return -1;
	n = recv_msg(s, m);
	if (n < 0 || !(get32(m + 8) & F_REPLY) || (get32(m + 8) & F_ERROR))
		return -1;
	if (!write) {
		if ((unsigned long)n != HDR + 16 + len)
			return -1;
		memcpy(buf, m + HDR + 16, len);
	}
	return 0;
}

static int guest_read(struct server *s, uint64_t addr, uint8_t *buf, uint32_t len)
{
	struct dma_map *d = dma_find(s, addr, len);

	if (!d)
		return -1;
	if (d->p) {
		memcpy(buf, d->p + (addr - d->iova), len);
		return 0;
	}
	return dma_message(s, false, addr, buf, len);
}

static int guest_write(struct server *s, uint64_t addr, uint8_t *buf, uint32_t len)
{
	struct dma_map *d = dma_find(s, addr, len);

	if (!d)
		return -1;
	if (d->p) {
		memcpy(d->p + (addr - d->iova), buf, len);
		return 0;
	}
	return dma_message(s, true, addr, buf, len);
}

/* ---- the device ---- */

static void raise_vector(struct server *s, uint64_t v)
{
	uint64_t one = 1;

	if (v < MSIX_NR && s->msix_fd[v] >= 0 && write(s->msix_fd[v], &one, 8) != 8)
		perror("vfio-user-server: eventfd");
}

/* The doorbell: copy, count, interrupt. */
static void dma_copy(struct server *s)
{
	uint64_t src = s->regs[VTS_REG_DMA_SRC / 8], dst = s->regs[VTS_REG_DMA_DST / 8];
	uint64_t len = s->regs[VTS_REG_DMA_LEN / 8];
	static uint8_t buf[1u << 20];

	if (len > sizeof(buf) || guest_read(s, src, buf, (uint32_t)len) ||
	    guest_write(s, dst, buf, (uint32_t)len)) {
		s->regs[VTS_REG_STATUS / 8] |= VTS_STATUS_ERROR;
	} else {
		s->regs[VTS_REG_STATUS / 8]++;
	}
	raise_vector(s, s->regs[VTS_REG_DMA_VECTOR / 8]);
}

static void bar0_write(struct server *s, uint64_t off, const uint8_t *data, uint32_t len)
{
	uint64_t v = 0;

	if (off % 8 || (len != 8 && len != 4) || off >= BAR0_SIZE)
		return;
	memcpy(&v, data, len);
	switch (off) {
	case VTS_REG_ID:
	case VTS_REG_STATUS:
		break;
	case VTS_REG_DOORBELL:
		dma_copy(s);
		break;
	case VTS_REG_INTX:
		if (s->intx_fd >= 0) {
			uint64_t one = 1;

			if (write(s->intx_fd, &one, 8) != 8)
				perror("vfio-user-server: eventfd");
		}
		break;
	default:
		memcpy((uint8_t *)&s->regs[off / 8], data, len);
	}
}

static void setup_device(struct server *s)
{
	uint8_t *c = s->cfg;
	unsigned int i;

	put16(c + 0x00, VTS_VENDOR);
	put16(c + 0x02, VTS_DEVICE);
	put16(c + 0x06, 0x0010); /* capability list */
	c[0x08] = 1;		 /* revision */
	c[0x0b] = 0xff;		 /* class: other */
	put32(c + 0x10, 0x0);	 /* BAR0: 32-bit memory */
	put32(c + 0x14, 0x8);	 /* BAR1: prefetchable memory */
	put32(c + 0x18, 0x0);	 /* BAR2 */
	put16(c + 0x2c, VTS_VENDOR);
	put16(c + 0x2e, 1);
	c[0x34] = 0x40;
	c[0x3d] = 1; /* INTA */
	c[0x40] = 0x11;
	c[0x41] = 0;
	put16(c + 0x42, MSIX_NR - 1);
	put32(c + 0x44, ((s->flags & VTS_BAD_MSIX) ? 0x2000 : VTS_MSIX_TABLE) | 2);
	put32(c + 0x48, VTS_MSIX_PBA | 2);
	s->regs[VTS_REG_ID / 8] = VTS_ID;
	for (i = 0; i < MSIX_NR; i++)
		s->msix_fd[i] = -1;
	s->intx_fd = -1;
	s->intx_unmask_fd = -1;
}

static uint64_t region_size(unsigned int i)
{
	switch (i) {
	case 0:
		return BAR0_SIZE;
	case 1:
		return BAR1_SIZE;
	case 2:
		return BAR2_SIZE;
	case 7:
		return CFG_SIZE;
	}
	return 0;
}

static int handle_region_info(struct server *s, const uint8_t *req)
{
	uint32_t argsz = get32(req + HDR), index = get32(req + HDR + 8);
	uint8_t *p = s->out + HDR;
	bool sparse = index == 1;
	uint32_t need = sparse ? 32 + 32 : 32;

	if (index >= NR_REGIONS)
		return reply_error(s, req, EINVAL);
	memset(p, 0, need);
	put32(p, need);
	put32(p + 4, region_size(index) ? (3u | (sparse ? 4u : 0)) | (sparse ? 8u : 0) : 0);
	put32(p + 8, index);
	put64(p + 16, region_size(index));
	if (argsz < need)
		return reply(s, req, p, 32, NULL, 0); /* "ask again with more room" */
	if (sparse) {
		put32(p + 12, 32); /* cap_offset */
		put16(p + 32, 1);  /* VFIO_REGION_INFO_CAP_SPARSE_MMAP */
		put16(p + 34, 1);
		put32(p + 36, 0);
		put32(p + 40, 1); /* nr_areas */
		put64(p + 48, 0);
		put64(p + 56, (s->flags & VTS_BAD_AREA) ? 2 * BAR1_SIZE : BAR1_SIZE);
		return reply(s, req, p, need, &s->bar1_fd, 1);
	}
	return reply(s, req, p, 32, NULL, 0);
}

static int handle_access(struct server *s, const uint8_t *req, bool write)
{
	uint64_t off = get64(req + HDR);
	uint32_t region = get32(req + HDR + 8), count = get32(req + HDR + 12);
	const uint8_t *data = req + HDR + 16;
	uint8_t *p = s->out + HDR;

	if (count > (1u << 20) || off > region_size(region) || count > region_size(region) - off ||
	    (write && get32(req + 4) != HDR + 16 + count))
		return reply_error(s, req, EINVAL);
	if (!write && region == 0 && off == VTS_REG_HANG && (s->flags & VTS_HANG))
		return 0; /* never answered */
	memcpy(p, req + HDR, 16);
	if (write) {
		if (region == 0)
			bar0_write(s, off, data, count);
		else if (region == 1)
			memcpy(s->bar1 + off, data, count);
		else if (region == 7 && off == 4 && count == 2)
			memcpy(s->cfg + 4, data, 2); /* the command register */
		return reply(s, req, p, 16, NULL, 0);
	}
	if (region == 0)
		memcpy(p + 16, (uint8_t *)s->regs + off, count);
	else if (region == 1)
		memcpy(p + 16, s->bar1 + off, count);
	else if (region == 7)
		memcpy(p + 16, s->cfg + off, count);
	else
		memset(p + 16, 0, count);
	if (s->flags & VTS_BAD_REPLY)
		return reply(s, req, p, 16 + count / 2, NULL, 0);
	return reply(s, req, p, 16 + count, NULL, 0);
}

static int handle_set_irqs(struct server *s, const uint8_t *req)
{
	uint32_t flags = get32(req + HDR + 4), index = get32(req + HDR + 8);
	uint32_t start = get32(req + HDR + 12), count = get32(req + HDR + 16), i;

	if (index == 2 && (flags & IRQ_DATA_NONE) && !count) {
		for (i = 0; i < MSIX_NR; i++) {
			if (s->msix_fd[i] >= 0)
				close(s->msix_fd[i]);
			s->msix_fd[i] = -1;
		}
		return reply(s, req, NULL, 0, NULL, 0);
	}
	if (index == 0 && (flags & IRQ_DATA_NONE) && !count) {
		if (s->intx_fd >= 0)
			close(s->intx_fd);
		s->intx_fd = -1;
		return reply(s, req, NULL, 0, NULL, 0);
	}
	if (index == 0 && (flags & IRQ_UNMASK) && (flags & IRQ_DATA_EFD) && !start && count == 1 &&
	    s->nfds == 1) {
		if (s->intx_unmask_fd >= 0)
			close(s->intx_unmask_fd);
		s->intx_unmask_fd = s->fds[0];
		s->fds[0] = -1;
		s->nfds = 0;
		return reply(s, req, NULL, 0, NULL, 0);
	}
	if (!(flags & IRQ_DATA_EFD) || s->nfds != count ||
	    (index == 2 && (start > MSIX_NR || count > MSIX_NR - start)) ||
	    (index == 0 && (start || count != 1)) || (index != 0 && index != 2))
		return reply_error(s, req, EINVAL);
	for (i = 0; i < count; i++) {
		int *slot = index == 2 ? &s->msix_fd[start + i] : &s->intx_fd;

		if (*slot >= 0)
			close(*slot);
		*slot = s->fds[i];
		s->fds[i] = -1;
	}
	s->nfds = 0;
	return reply(s, req, NULL, 0, NULL, 0);
}

static int handle_dma_map(struct server *s, const uint8_t *req)
{
	uint64_t off = get64(req + HDR + 8), iova = get64(req + HDR + 16);
	uint64_t size = get64(req + HDR + 24);
	unsigned int i;

	for (i = 0; i < MAX_DMA && s->dma[i].size; i++)
		;
	if (i == MAX_DMA || !size)
		return reply_error(s, req, ENOSPC);
	s->dma[i] = (struct dma_map){ iova, size, NULL };
	if (!(s->flags & VTS_NO_MAP) && s->nfds == 1) {
		void *p =
			mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, s->fds[0], (off_t)off);

		if (p == MAP_FAILED)
			return reply_error(s, req, errno);
		s->dma[i].p = p;
	}
	return reply(s, req, NULL, 0, NULL, 0);
}

static int handle_dma_unmap(struct server *s, const uint8_t *req)
{
	uint64_t iova = get64(req + HDR + 8), size = get64(req + HDR + 16);
	unsigned int i;

	for (i = 0; i < MAX_DMA; i++) {
		struct dma_map *d = &s->dma[i];

		if (d->size && d->iova == iova && d->size == size) {
			if (d->p)
				munmap(d->p, d->size);
			memset(d, 0, sizeof(*d));
			return reply(s, req, NULL, 0, NULL, 0);
		}
	}
	return reply_error(s, req, ENOENT);
}

static int handle(struct server *s, long size)
{
	const uint8_t *req = s->in;
	uint16_t cmd = (uint16_t)(req[2] | req[3] << 8);
	uint8_t *p = s->out + HDR;
	uint32_t index;
	int n;

	switch (cmd) {
	case CMD_VERSION:
		put16(p, 0);
		put16(p + 2, 1);
		n = snprintf((char *)p + 4, 256,
			     "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":%u}}",
			     1u << 20);
		return reply(s, req, p, 4 + (size_t)n + 1, NULL, 0);
	case CMD_GET_INFO:
		put32(p, 16);
		put32(p + 4, 2); /* VFIO_DEVICE_FLAGS_PCI */
		put32(p + 8, NR_REGIONS);
		put32(p + 12, NR_IRQS);
		if (s->flags & VTS_EXTRA_FDS)
			return reply(s, req, p, 16, &s->bar1_fd, 1);
		return reply(s, req, p, 16, NULL, 0);
	case CMD_REGION_INFO:
		return handle_region_info(s, req);
	case CMD_IRQ_INFO:
		index = get32(req + HDR + 8);
		put32(p, 16);
		put32(p + 4, 1u << 3); /* EVENTFD */
		put32(p + 8, index);
		put32(p + 12, index == 0 ? 1 : index == 2 ? MSIX_NR : 0);
		return reply(s, req, p, 16, NULL, 0);
	case CMD_SET_IRQS:
		return handle_set_irqs(s, req);
	case CMD_REGION_READ:
	case CMD_REGION_WRITE:
		if (size < HDR + 16)
			return reply_error(s, req, EINVAL);
		return handle_access(s, req, cmd == CMD_REGION_WRITE);
	case CMD_DMA_MAP:
		return handle_dma_map(s, req);
	case CMD_DMA_UNMAP:
		return handle_dma_unmap(s, req);
	case CMD_RESET:
		memset(s->regs, 0, sizeof(s->regs));
		s->regs[VTS_REG_ID / 8] = VTS_ID;
		return reply(s, req, NULL, 0, NULL, 0);
	}
	return reply_error(s, req, ENOSYS);
}

int vts_serve(int sock, unsigned int flags)
{
	struct server *s = calloc(1, sizeof(*s));
	unsigned int i;
	long n;
	int ret = 1;

	if (!s)
		return 1;
	s->sock = sock;
	s->flags = flags;
	s->in = malloc(MAX_MSG);
	s->out = malloc(MAX_MSG);
	s->dma_buf = malloc(MAX_MSG);
	s->bar1_fd = memfd_create("vts-bar1", MFD_CLOEXEC);
	if (!s->in || !s->out || !s->dma_buf || s->bar1_fd < 0 || ftruncate(s->bar1_fd, BAR1_SIZE))
		goto out;
	s->bar1 = mmap(NULL, BAR1_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, s->bar1_fd, 0);
	if (s->bar1 == MAP_FAILED)
		goto out;
	setup_device(s);
	for (;;) {
		n = recv_msg(s, s->in);
		if (n < 0)
			break;
		if (handle(s, n))
			break;
		drop_fds(s);
	}
	ret = 0;
	munmap(s->bar1, BAR1_SIZE);
out:
	drop_fds(s);
	for (i = 0; i < MAX_DMA; i++)
		if (s->dma[i].p)
			munmap(s->dma[i].p, s->dma[i].size);
	for (i = 0; i < MSIX_NR; i++)
		if (s->msix_fd[i] > 0)
			close(s->msix_fd[i]);
	if (s->intx_fd > 0)
		close(s->intx_fd);
	if (s->intx_unmask_fd > 0)
		close(s->intx_unmask_fd);
	if (s->bar1_fd >= 0)
		close(s->bar1_fd);
	free(s->in);
	free(s->out);
	free(s->dma_buf);
	free(s);
	return ret;
}

int vts_listen(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		close(fd);
		return -1;
	}
	return fd;
}

#ifndef VTS_NO_MAIN
int main(int argc, char **argv)
{
	unsigned int flags = 0;
	int i, lfd, sock;

	if (argc < 2) {
		fprintf(stderr,
			"usage: %s SOCKET [--no-map] [--misbehave=hang|bad-area|"
			"bad-reply|extra-fds|bad-msix]\n",
			argv[0]);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--no-map"))
			flags |= VTS_NO_MAP;
		else if (!strcmp(argv[i], "--misbehave=hang"))
			flags |= VTS_HANG;
		else if (!strcmp(argv[i], "--misbehave=bad-area"))
			flags |= VTS_BAD_AREA;
		else if (!strcmp(argv[i], "--misbehave=bad-reply"))
			flags |= VTS_BAD_REPLY;
		else if (!strcmp(argv[i], "--misbehave=extra-fds"))
			flags |= VTS_EXTRA_FDS;
		else if (!strcmp(argv[i], "--misbehave=bad-msix"))
			flags |= VTS_BAD_MSIX;
		else {
			fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]);
			return 2;
		}
	}
	lfd = vts_listen(argv[1]);
	if (lfd < 0) {
		perror(argv[1]);
		return 1;
	}
	printf("vfio-user-server: listening on %s\n", argv[1]);
	fflush(stdout);
	sock = accept(lfd, NULL, NULL);
	close(lfd);
	unlink(argv[1]);
	if (sock < 0) {
		perror("accept");
		return 1;
	}
	i = vts_serve(sock, flags);
	close(sock);
	if (!i)
		printf("vfio-user-server: disconnected\n");
	return i;
}
#endif
