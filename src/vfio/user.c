// SPDX-License-Identifier: MIT
/*
 * The vfio-user client: a VFIO back end (src/vfio/vfio.h) whose device lives
 * in another process behind a Unix socket. Requests are synchronous (one at
 * a time per device, under the client's lock) and bounded in time: every
 * wait for the server polls with the device's timeout. While waiting for a
 * reply, the server's own DMA_READ/DMA_WRITE requests are served from guest
 * RAM; between requests the VM's event loop serves them. Whatever goes wrong
 * with the server (dead, late, lying) marks the device failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "vfio/user_msg.h"
#include "vfio/vfio.h"

#define VFU_SOCKET_MAX	107
#define VFU_ID_MAX	64
#define VFU_TIMEOUT_DEF "5000"

struct vfio_user_config {
	char socket[VFU_SOCKET_MAX + 1];
	char id[VFU_ID_MAX + 1];
	uint64_t timeout_ms;
};

struct vfu_client {
	struct vfio_dev *v;
	int sock;
	int timeout_ms;
	int64_t deadline_ms;  /* of the exchange under way (CLOCK_MONOTONIC) */
	pthread_mutex_t lock; /* one request at a time; the buffers */
	uint16_t next_id;
	struct vfu_caps caps;
	uint8_t *tx, *rx; /* VFU_MAX_MSG each */
	int fds[VFU_MAX_FDS];
	unsigned int nfds;
	struct loop_handler h;
	bool watched;
};

static struct vfu_client *client_of(struct vfio_dev *v)
{
	return v->backend;
}

static void drop_fds(struct vfu_client *c)
{
	while (c->nfds > 0) {
		int fd = c->fds[--c->nfds];

		if (fd >= 0)
			close(fd);
	}
}

static int64_t now_ms(void)
{
	return (int64_t)(mvm_clock_ns(CLOCK_MONOTONIC) / 1000000);
}

/* A whole exchange (a request, what the server asks meanwhile, its reply) gets one timeout. */
static void start_exchange(struct vfu_client *c)
{
	c->deadline_ms = now_ms() + c->timeout_ms;
}

/*
 * Waits for `events` until the exchange's deadline (now_only: not at all);
 * 0, -ETIMEDOUT or -errno. A server trickling bytes cannot stretch it.
 */
static int wait_sock(struct vfu_client *c, short events, bool now_only)
{
	struct pollfd p = { .fd = c->sock, .events = events };
	int64_t left;
	int n;

	do {
		left = now_only ? 0 : c->deadline_ms - now_ms();
		n = left < 0 ? 0 : poll(&p, 1, (int)left);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ETIMEDOUT;
	if ((p.revents & (POLLERR | POLLNVAL)) || ((p.revents & POLLHUP) && !(p.revents & POLLIN)))
		return -ECONNRESET;
	return 0;
}

static int send_all(struct vfu_client *c, const void *buf, size_t len, const int *fds,
		    unsigned int nfds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t done = 0;
	int err;

	if (nfds > VFU_MAX_FDS)
		return -EINVAL;
	while (done < len) {
		struct iovec iov = { (uint8_t *)buf + done, len - done };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (nfds && !done) {
			struct cmsghdr *cm;

			memset(&ctl, 0, sizeof(ctl));
			mh.msg_control = ctl.buf;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&mh);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(c->sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			err = wait_sock(c, POLLOUT, false);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return 0;
}

/* Reads exactly len bytes into buf, collecting the fds that come along. */
static int recv_all(struct vfu_client *c, uint8_t *buf, size_t len, bool *too_many)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t done = 0;
	int err;

	while (done < len) {
		struct iovec iov = { buf + done, len - done };
		struct msghdr mh = { .msg_iov = &iov,
				     .msg_iovlen = 1,
				     .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		struct cmsghdr *cm;
		ssize_t n;

		n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			err = wait_sock(c, POLLIN, false);
			if (err)
				return err;
			continue;
		}
		if (n < 0)
			return -errno;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			size_t i, nr;

			if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
				continue;
			nr = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (i = 0; i < nr; i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(fd));
				if (c->nfds < VFU_MAX_FDS) {
					c->fds[c->nfds++] = fd;
				} else {
					close(fd);
					*too_many = true;
				}
			}
		}
		if (mh.msg_flags & MSG_CTRUNC)
			*too_many = true;
		if (n == 0)
			return -ECONNRESET;
		done += (size_t)n;
	}
	return 0;
}

/*
 * Receives one message into c->rx / c->fds. wait: block up to the timeout;
 * else -EAGAIN when nothing is there. 0 or -errno.
 */
static int recv_msg(struct vfu_client *c, struct vfu_msg *m, bool wait)
{
	bool too_many = false;
	int err;

	drop_fds(c);
	/* Waiting: recv_all polls when nothing is there yet, up to the timeout. */
	err = wait ? 0 : wait_sock(c, POLLIN, true);
	if (err == -ETIMEDOUT)
		return -EAGAIN;
	if (!wait)
		start_exchange(c); /* a message has begun: it must arrive whole in time */
	if (!err)
		err = recv_all(c, c->rx, VFU_HDR_SIZE, &too_many);
	if (!err)
		err = vfu_hdr_decode(c->rx, &m->hdr, VFU_MAX_MSG);
	if (!err)
		err = recv_all(c, c->rx + VFU_HDR_SIZE, m->hdr.size - VFU_HDR_SIZE, &too_many);
	if (!err && too_many)
		err = -EPROTO;
	m->payload = c->rx + VFU_HDR_SIZE;
	m->len = err ? 0 : m->hdr.size - VFU_HDR_SIZE;
	m->fds = c->fds;
	m->nfds = c->nfds;
	return err;
}

/* The server asks to read or write guest RAM (it did not map it). */
static int serve_dma(struct vfu_client *c, const struct vfu_msg *m)
{
	struct vm_memory *mem = &c->v->pdev.dev.vm->mem;
	struct vfu_hdr req = m->hdr;
	struct vfu_dma_req d;
	uint32_t error = 0;
	void *p = NULL;
	int len, err;

	err = vfu_parse_dma_req(m, &d, c->caps.max_data_xfer);
	if (err)
		return err;
	p = mem_ptr(mem, d.addr, d.count);
	if (!p && d.count)
		error = EFAULT;
	else if (req.cmd == VFU_DMA_WRITE)
		memcpy(p, d.data, d.count);
	if (req.flags & VFU_F_NO_REPLY)
		return 0;
	len = vfu_build_dma_reply(c->tx, VFU_MAX_MSG, &req, &d,
				  req.cmd == VFU_DMA_READ && !error ? p : NULL, error);
	if (len < 0)
		return len;
	return send_all(c, c->tx, (size_t)len, NULL, 0);
}

static void client_fail(struct vfu_client *c, const char *what, int err)
{
	char why[160];

	snprintf(why, sizeof(why), "vfio-user server: %s: %s", what, strerror(-err));
	vfio_dev_fail(c->v, why);
	/* The server sees the end now; our side keeps the fd until release. */
	shutdown(c->sock, SHUT_RDWR);
}

/*
 * Sends the request in c->tx (len bytes, with fds) and waits for its reply,
 * serving the server's DMA requests meanwhile. Lock held. The reply in *m
 * (its fds in c->fds until the next message), or -errno; a transport or
 * protocol error fails the device.
 */
static int call(struct vfu_client *c, int len, const int *fds, unsigned int nfds, struct vfu_msg *m)
{
	struct vfu_hdr h;
	int err;

	if (vfio_dev_failed(c->v))
		return -EIO;
	if (len < 0)
		return len;
	vfu_hdr_decode(c->tx, &h, VFU_MAX_MSG);
	start_exchange(c);
	err = send_all(c, c->tx, (size_t)len, fds, nfds);
	if (err) {
		client_fail(c, "sending", err);
		return -EIO;
	}
	for (;;) {
		err = recv_msg(c, m, true);
		if (err) {
			client_fail(c, err == -ETIMEDOUT ? "no reply in time" : "receiving", err);
			return -EIO;
		}
		if ((m->hdr.flags & VFU_TYPE_MASK) == VFU_TYPE_COMMAND) {
			err = serve_dma(c, m);
			if (err) {
				client_fail(c, "its DMA request", err);
				return -EIO;
			}
			continue;
		}
		if (!vfu_reply_matches(&m->hdr, h.msg_id, h.cmd)) {
			client_fail(c, "a reply to another request", -EPROTO);
			return -EIO;
		}
		err = vfu_reply_status(m, VFU_MAX_FDS);
		if (err == -EPROTO)
			client_fail(c, "its reply", err);
		return err;
	}
}

static uint16_t next_id(struct vfu_client *c)
{
	return c->next_id++;
}

/* A reply that does not parse fails the device: the server cannot be trusted any more. */
static int parsed(struct vfu_client *c, const char *what, int err)
{
	if (err == -EPROTO || err == -EPROTONOSUPPORT)
		client_fail(c, what, err);
	return err;
}

/* ---- the back end's ops ---- */

static int vfu_device_info(struct vfio_dev *v, uint32_t *num_regions, uint32_t *num_irqs)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c, vfu_build_device_info(c->tx, VFU_MAX_MSG, next_id(c)), NULL, 0, &m);
	if (!err)
		err = parsed(c, "DEVICE_GET_INFO",
			     vfu_parse_device_info(&m, num_regions, num_irqs));
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_region_info(struct vfio_dev *v, unsigned int index, struct vfio_region *r)
{
	struct vfu_client *c = client_of(v);
	uint32_t argsz = 32, need = 0;
	struct vfu_msg m;
	int err, tries;

	pthread_mutex_lock(&c->lock);
	for (tries = 0; tries < 2; tries++) {
		err = call(c, vfu_build_region_info(c->tx, VFU_MAX_MSG, next_id(c), index, argsz),
			   NULL, 0, &m);
		if (!err)
			err = parsed(c, "GET_REGION_INFO",
				     vfu_parse_region_info(&m, index, r, &need));
		if (err || !need)
			break;
		argsz = need;
	}
	if (!err && need)
		err = parsed(c, "GET_REGION_INFO (size)", -EPROTO);
	if (!err && r->fd >= 0) {
		/* The region's fd is ours now. */
		r->fd_owned = true;
		c->fds[0] = -1;
	}
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_region_rw(struct vfio_dev *v, unsigned int index, uint64_t off, void *buf,
			 uint32_t len, bool write)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	uint32_t done = 0;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	while (!err && done < len) {
		uint32_t n =
			len - done < c->caps.max_data_xfer ? len - done : c->caps.max_data_xfer;

		err = call(c,
			   vfu_build_region_access(c->tx, VFU_MAX_MSG, next_id(c), write, index,
						   off + done, (uint8_t *)buf + done, n),
			   NULL, 0, &m);
		if (!err && !write)
			err = parsed(c, "REGION_READ",
				     vfu_parse_region_read(&m, index, off + done,
							   (uint8_t *)buf + done, n));
		else if (!err && (m.len < 16 || m.nfds))
			err = parsed(c, "REGION_WRITE", -EPROTO);
		drop_fds(c);
		done += n;
	}
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_irq_info(struct vfio_dev *v, unsigned int index, uint32_t *count)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c, vfu_build_irq_info(c->tx, VFU_MAX_MSG, next_id(c), index), NULL, 0, &m);
	if (!err)
		err = parsed(c, "GET_IRQ_INFO", vfu_parse_irq_info(&m, index, count));
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_set_irqs(struct vfio_dev *v, unsigned int index, uint32_t start, uint32_t count,
			const int *fds)
{
	struct vfu_client *c = client_of(v);
	uint32_t per = c->caps.max_msg_fds ? c->caps.max_msg_fds : 1, done = 0;
	struct vfu_msg m;
	int err = 0;

	pthread_mutex_lock(&c->lock);
	if (!count)
		err = call(c,
			   vfu_build_set_irqs(c->tx, VFU_MAX_MSG, next_id(c), index, 0, 0,
					      VFU_IRQ_DATA_NONE | VFU_IRQ_ACTION_TRIGGER),
			   NULL, 0, &m);
	/* No more fds in one message than the server takes. */
	while (!err && done < count) {
		uint32_t n = count - done < per ? count - done : per;

		err = call(c,
			   vfu_build_set_irqs(c->tx, VFU_MAX_MSG, next_id(c), index, start + done,
					      n, VFU_IRQ_DATA_EVENTFD | VFU_IRQ_ACTION_TRIGGER),
			   fds + done, n, &m);
		drop_fds(c);
		done += n;
	}
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_intx_unmask_fd(struct vfio_dev *v, int fd)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c,
		   vfu_build_set_irqs(c->tx, VFU_MAX_MSG, next_id(c), VFIO_IRQ_INTX, 0, 1,
				      VFU_IRQ_DATA_EVENTFD | VFU_IRQ_ACTION_UNMASK),
		   &fd, 1, &m);
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_dma_map(struct vfio_dev *v, uint64_t iova, uint64_t size, void *hva, int fd,
		       uint64_t fd_off)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c,
		   vfu_build_dma_map(c->tx, VFU_MAX_MSG, next_id(c), iova, size, fd_off,
				     VFU_DMA_F_READ | VFU_DMA_F_WRITE),
		   &fd, fd >= 0, &m);
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_dma_unmap(struct vfio_dev *v, uint64_t iova, uint64_t size)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c, vfu_build_dma_unmap(c->tx, VFU_MAX_MSG, next_id(c), iova, size), NULL, 0, &m);
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

static int vfu_reset(struct vfio_dev *v)
{
	struct vfu_client *c = client_of(v);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	err = call(c, vfu_build_simple(c->tx, VFU_MAX_MSG, next_id(c), VFU_DEVICE_RESET), NULL, 0,
		   &m);
	drop_fds(c);
	pthread_mutex_unlock(&c->lock);
	return err;
}

/* Between requests: the server's DMA requests, or its end. Event loop. */
static void vfu_sock_event(struct loop_handler *h, uint32_t events)
{
	struct vfu_client *c = container_of(h, struct vfu_client, h);
	struct vfu_msg m;
	int err;

	pthread_mutex_lock(&c->lock);
	if (!vfio_dev_failed(c->v)) {
		err = recv_msg(c, &m, false);
		if (!err && (m.hdr.flags & VFU_TYPE_MASK) == VFU_TYPE_COMMAND)
			err = serve_dma(c, &m);
		else if (!err)
			err = -EPROTO; /* a reply nobody asked for */
		if (err && err != -EAGAIN)
			client_fail(c, "between requests", err);
		drop_fds(c);
	}
	if (vfio_dev_failed(c->v) && c->watched) {
		loop_del(&c->v->pdev.dev.vm->loop, &c->h);
		c->watched = false;
	}
	pthread_mutex_unlock(&c->lock);
}

static int vfu_connect(struct vfu_client *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int err;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	c->sock = mvm_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (c->sock < 0)
		return -errno;
	if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		pr_err("vfio-user: cannot connect to %s: %s", path, strerror(-err));
		close(c->sock);
		c->sock = -1;
		return err;
	}
	return 0;
}

static int vfu_negotiate(struct vfu_client *c)
{
	struct vfu_msg m;
	int err;

	/* Until the server says otherwise: one fd per message, our transfer size. */
	c->caps.max_msg_fds = 1;
	c->caps.max_data_xfer = VFU_MAX_XFER;
	err = call(c, vfu_build_version(c->tx, VFU_MAX_MSG, next_id(c)), NULL, 0, &m);
	if (!err)
		err = parsed(c, "VERSION", vfu_parse_version(&m, &c->caps));
	drop_fds(c);
	return err;
}

struct vfu_open_args {
	const char *socket;
	int timeout_ms;
};

static int vfu_open(struct vfio_dev *v, const void *args)
{
	const struct vfu_open_args *a = args;
	struct vfu_client *c;
	int err;

	c = mvm_zalloc(sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->v = v;
	c->sock = -1;
	c->timeout_ms = a->timeout_ms;
	c->tx = mvm_zalloc(VFU_MAX_MSG);
	c->rx = c->tx ? mvm_zalloc(VFU_MAX_MSG) : NULL;
	if (!c->rx) {
		err = -ENOMEM;
		goto err_free;
	}
	pthread_mutex_init(&c->lock, NULL);
	v->backend = c;
	err = vfu_connect(c, a->socket);
	if (err)
		goto err_lock;
	err = vfu_negotiate(c);
	if (err) {
		pr_err("vfio-user %s: version negotiation failed: %s", a->socket, strerror(-err));
		goto err_sock;
	}
	c->h.fd = c->sock;
	c->h.fn = vfu_sock_event;
	err = loop_add(&v->pdev.dev.vm->loop, &c->h, EPOLLIN);
	if (err)
		goto err_sock;
	c->watched = true;
	return 0;

err_sock:
	close(c->sock);
err_lock:
	pthread_mutex_destroy(&c->lock);
	v->backend = NULL;
err_free:
	free(c->rx);
	free(c->tx);
	free(c);
	return err;
}

static void vfu_close(struct vfio_dev *v)
{
	struct vfu_client *c = client_of(v);

	if (!c)
		return;
	if (c->watched)
		loop_del(&v->pdev.dev.vm->loop, &c->h);
	drop_fds(c);
	close(c->sock);
	pthread_mutex_destroy(&c->lock);
	free(c->rx);
	free(c->tx);
	free(c);
	v->backend = NULL;
}

const struct vfio_backend_ops vfio_user_ops = {
	.type = "vfio-user",
	.open = vfu_open,
	.close = vfu_close,
	.device_info = vfu_device_info,
	.region_info = vfu_region_info,
	.region_rw = vfu_region_rw,
	.irq_info = vfu_irq_info,
	.set_irqs = vfu_set_irqs,
	.intx_unmask_fd = vfu_intx_unmask_fd,
	.dma_map = vfu_dma_map,
	.dma_unmap = vfu_dma_unmap,
	.reset = vfu_reset,
};

struct vfio_dev *vfio_user_create(struct vm *vm, const char *socket, unsigned int index,
				  int timeout_ms)
{
	struct vfu_open_args ua = { socket, timeout_ms > 0 ? timeout_ms : 5000 };
	struct vfio_open_args a = { &vfio_user_ops, socket, &ua };
	char name[MVM_DEVICE_NAME_SIZE];

	snprintf(name, sizeof(name), "vfio-user%u", index);
	return vfio_dev_create(vm, name, &a);
}

/* ---- the device type: --vfio-user SOCKET, PUT /vfio-user/{id} ---- */

#define VFU_OPT(field) offsetof(struct vfio_user_config, field)
static const struct mvm_opt vfio_user_opts[] = {
	{ MVM_OPT("socket", "socket_path", MVM_OPT_STR, MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED,
		  VFU_OPT(socket)),
	  .max = VFU_SOCKET_MAX, .help = "the vfio-user server's Unix socket" },
	{ MVM_OPT("id", NULL, MVM_OPT_STR, MVM_OPT_ID, VFU_OPT(id)), .max = VFU_ID_MAX,
	  .help = "device id" },
	{ MVM_OPT("timeout_ms", NULL, MVM_OPT_UINT, 0, VFU_OPT(timeout_ms)), .min = 10,
	  .max = 600000, .def = VFU_TIMEOUT_DEF,
	  .help = "longest wait for a reply; a server later than that is marked failed" },
	MVM_OPT_END,
};

static int vfio_user_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
			   size_t len)
{
	return vfio_check_config(cfg, msg, len);
}

static int vfio_user_type_create(struct vm *vm, const void *blob, unsigned int index)
{
	const struct vfio_user_config *c = blob;

	return PTR_ERR_OR_ZERO(vfio_user_create(vm, c->socket, index, (int)c->timeout_ms));
}

static const struct mvm_device_type vfio_user_type = {
	.name = "vfio-user",
	.summary = "a PCI device served by another process over vfio-user",
	.order = MVM_ORDER_VIRTIO + 20,
	.cli = "vfio-user",
	.cli_arg = "SOCKET",
	.api = "vfio-user",
	.api_noun = "vfio-user device",
	.max = 8,
	.config_size = sizeof(struct vfio_user_config),
	.opts = vfio_user_opts,
	.check = vfio_user_check,
	.create = vfio_user_type_create,
};
MVM_DEVICE_TYPE(vfio_user_type);
