// SPDX-License-Identifier: MIT
/*
 * virtio-console (virtio 1.x §5.3), one port, no multiport: the guest's
 * hvc0, connected to the VM's console fds like the UART (cfg->console_in /
 * console_out). Queue 0 (receiveq) carries input to the guest, queue 1
 * (transmitq) its output. Ctrl-A x on the input stops the VM, as with the
 * UART.
 *
 * Input is read only when the guest has posted a buffer for it: when the
 * receive queue is empty, the input fd leaves the event loop until the
 * driver kicks queue 0 again, so unread input stays in the host's pipe or
 * tty (flow control instead of dropping bytes).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#include "mvm/devtype.h"
#include "mvm/virtio.h"

#define CONSOLE_RXQ 0
#define CONSOLE_TXQ 1
#define ESCAPE_CHAR 0x01
#define INPUT_CHUNK 4096

/* struct virtio_console_config: no feature offers a field, all read 0. */
#define CONSOLE_CONFIG_SIZE 12

struct virtio_console {
	struct virtio_dev vdev; /* first */
	int in_fd, out_fd;
	struct loop_handler input;
	bool input_on; /* in_fd is watched by the loop */
	bool input_eof;
	bool escape;
	struct virtq_chain *chain;
};

static struct virtio_console *to_console(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_console, vdev);
}

/* Watches (or stops watching) the input fd. vdev->lock held. */
static void console_input_set(struct virtio_console *con, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &con->input };

	if (con->in_fd < 0 || con->input_eof || con->input_on == on)
		return;
	con->input_on = on;
	epoll_ctl(con->vdev.vm->loop.epfd, EPOLL_CTL_MOD, con->in_fd, &ev);
}

/* Handles Ctrl-A escapes in place; returns the bytes left for the guest. */
static size_t console_escapes(struct virtio_console *con, uint8_t *buf, size_t n, bool *stop)
{
	size_t i, out = 0;

	for (i = 0; i < n; i++) {
		if (con->escape) {
			con->escape = false;
			if (buf[i] == 'x') {
				*stop = true;
				return out;
			}
			/* Ctrl-A Ctrl-A sends one Ctrl-A; Ctrl-A then anything drops the Ctrl-A. */
			buf[out++] = buf[i];
		} else if (buf[i] == ESCAPE_CHAR) {
			con->escape = true;
		} else {
			buf[out++] = buf[i];
		}
	}
	return out;
}

/* Input, on the event-loop thread. */
static void console_input(struct loop_handler *h, uint32_t events)
{
	struct virtio_console *con = container_of(h, struct virtio_console, input);
	struct virtio_dev *vdev = &con->vdev;
	struct virtqueue *vq = virtio_dev_vq(vdev, CONSOLE_RXQ);
	uint8_t buf[INPUT_CHUNK];
	bool stop = false;
	size_t room, len;
	ssize_t n;
	int r;

	(void)events;
	pthread_mutex_lock(&vdev->lock);
	if (!vdev->active || !vq->enabled)
		goto pause;
	r = virtq_pop(vq, con->chain);
	if (r == 0)
		goto pause; /* no buffer posted: wait for the driver's kick */
	if (r < 0) {
		if (!vq->broken && con->chain->head < vq->size)
			virtq_push(vq, con->chain->head, 0);
		pthread_mutex_unlock(&vdev->lock);
		virtio_dev_needs_reset(vdev);
		return;
	}
	room = 0;
	for (unsigned int i = con->chain->out_num; i < con->chain->out_num + con->chain->in_num;
	     i++)
		room += con->chain->iov[i].iov_len;
	n = read(con->in_fd, buf, MIN(room, sizeof(buf)));
	if (n <= 0) {
		/* The chain goes back empty; EOF or an error ends input. */
		virtq_push(vq, con->chain->head, 0);
		virtq_notify(vq);
		if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
			console_input_set(con, false);
			con->input_eof = true;
		}
		pthread_mutex_unlock(&vdev->lock);
		return;
	}
	len = console_escapes(con, buf, (size_t)n, &stop);
	len = buf_to_iov(&con->chain->iov[con->chain->out_num], con->chain->in_num, 0, buf, len);
	virtq_push(vq, con->chain->head, (uint32_t)len);
	virtq_notify(vq);
	pthread_mutex_unlock(&vdev->lock);
	if (stop) {
		pr_info("Ctrl-A x: stopping the VM");
		vm_request_stop(vdev->vm, VM_STOP_SIGNAL, 0);
	}
	return;
pause:
	console_input_set(con, false);
	pthread_mutex_unlock(&vdev->lock);
}

static void console_tx(struct virtio_console *con, struct virtqueue *vq)
{
	unsigned int budget = vq->size;
	int r;

	while (budget-- && (r = virtq_pop(vq, con->chain)) != 0) {
		struct virtq_chain *c = con->chain;
		unsigned int i;

		if (r < 0) {
			virtio_dev_needs_reset(&con->vdev);
			if (vq->broken)
				break;
			if (c->head < vq->size)
				virtq_push(vq, c->head, 0);
			continue;
		}
		/* Output is best effort: a closed console must not stop the guest. */
		for (i = 0; i < c->out_num && con->out_fd >= 0; i++) {
			const uint8_t *p = c->iov[i].iov_base;
			size_t left = c->iov[i].iov_len;

			while (left) {
				ssize_t n = write(con->out_fd, p, left);

				if (n < 0 && errno == EINTR)
					continue;
				if (n <= 0)
					break;
				p += n;
				left -= (size_t)n;
			}
		}
		virtq_push(vq, c->head, 0);
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	virtq_notify(vq);
}

/* Event-loop thread, vdev->lock held. */
static void console_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_console *con = to_console(vdev);

	if (q == CONSOLE_TXQ)
		console_tx(con, virtio_dev_vq(vdev, q));
	else if (q == CONSOLE_RXQ)
		console_input_set(con, true); /* buffers posted: take input again */
}

static int console_activate(struct virtio_dev *vdev)
{
	console_input_set(to_console(vdev), true);
	return 0;
}

static void console_reset(struct virtio_dev *vdev)
{
	console_input_set(to_console(vdev), false);
}

static void console_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len)
{
	(void)vdev;
	(void)off;
	memset(data, 0, len);
}

struct console_args {
	int in_fd, out_fd;
};

static int console_init(struct virtio_dev *vdev, const void *args)
{
	const struct console_args *a = args;
	struct virtio_console *con = to_console(vdev);
	int err;

	con->in_fd = a->in_fd;
	con->out_fd = a->out_fd;
	con->chain = mvm_zalloc(sizeof(*con->chain));
	if (!con->chain)
		return -ENOMEM;
	if (con->in_fd >= 0) {
		/* Watched from the start but with no events until the driver is ready. */
		con->input.fd = con->in_fd;
		con->input.fn = console_input;
		err = loop_add(&vdev->vm->loop, &con->input, 0);
		if (err) {
			free(con->chain);
			return err;
		}
	}
	return 0;
}

static void console_release(struct virtio_dev *vdev)
{
	struct virtio_console *con = to_console(vdev);

	if (con->in_fd >= 0)
		loop_del(&vdev->vm->loop, &con->input);
	free(con->chain);
}

static const struct virtio_dev_ops console_ops = {
	.type = "virtio-console",
	.device_id = VIRTIO_ID_CONSOLE,
	.num_queues = 2,
	.queue_max_size = 256,
	.init = console_init,
	.release = console_release,
	.config_size = CONSOLE_CONFIG_SIZE,
	.config_read = console_config_read,
	.activate = console_activate,
	.queue_notify = console_queue_notify,
	.reset = console_reset,
	.save = virtio_dev_save_none,
	.restore = virtio_dev_restore_none,
};

struct virtio_dev *virtio_console_create(struct vm *vm)
{
	struct console_args args = { vm->cfg.console_in, vm->cfg.console_out };
	struct virtio_console *con;

	con = virtio_dev_create(struct virtio_console, vdev, vm, &console_ops, "virtio-console",
				&args);
	return IS_ERR(con) ? (struct virtio_dev *)con : &con->vdev;
}

/* The console is virtio-console when the VM's console is (--console virtio). */
static bool console_wanted(const struct mvm_config *cfg)
{
	return cfg->console == MVM_CONSOLE_VIRTIO;
}

static int console_create(struct vm *vm, const void *blob, unsigned int index)
{
	return PTR_ERR_OR_ZERO(virtio_console_create(vm));
}

static const struct mvm_device_type virtio_console_type = {
	.name = "virtio-console",
	.order = MVM_ORDER_VIRTIO + 2,
	.max = 1,
	.wanted = console_wanted,
	.create = console_create,
};
MVM_DEVICE_TYPE(virtio_console_type);
