// SPDX-License-Identifier: MIT
/* The event loop: epoll over handlers embedded in their owners. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/loop.h"
#include "mvm/sys.h"

static void loop_wake_fn(struct loop_handler *h, uint32_t events)
{
	uint64_t v;

	(void)events;
	if (read(h->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("event loop wake-up: %s", strerror(errno));
}

int loop_init(struct mvm_loop *l)
{
	int err;

	memset(l, 0, sizeof(*l));
	l->epfd = mvm_epoll_create();
	if (l->epfd < 0) {
		err = -errno;
		pr_err("epoll_create: %s", strerror(-err));
		return err;
	}
	l->wake_fd = mvm_eventfd(0, EFD_NONBLOCK);
	if (l->wake_fd < 0) {
		err = -errno;
		pr_err("eventfd: %s", strerror(-err));
		goto err_epoll;
	}
	l->wake.fd = l->wake_fd;
	l->wake.fn = loop_wake_fn;
	err = loop_add(l, &l->wake, EPOLLIN);
	if (err)
		goto err_wake;
	return 0;

err_wake:
	close(l->wake_fd);
err_epoll:
	close(l->epfd);
	l->epfd = l->wake_fd = -1;
	return err;
}

void loop_fini(struct mvm_loop *l)
{
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->wake_fd = -1;
}

int loop_add(struct mvm_loop *l, struct loop_handler *h, uint32_t events)
{
	if (mvm_epoll_add(l->epfd, h->fd, events, h) < 0) {
		int err = -errno;

		pr_err("epoll_ctl(ADD, fd %d): %s", h->fd, strerror(-err));
		return err;
	}
	return 0;
}

void loop_del(struct mvm_loop *l, struct loop_handler *h)
{
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
}

void loop_run(struct mvm_loop *l)
{
	struct epoll_event ev[16];

	while (!atomic_load(&l->stop)) {
		int i, n = epoll_wait(l->epfd, ev, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			pr_err("epoll_wait: %s", strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			struct loop_handler *h = ev[i].data.ptr;

			h->fn(h, ev[i].events);
		}
	}
}

void loop_stop(struct mvm_loop *l)
{
	uint64_t one = 1;

	atomic_store(&l->stop, true);
	if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("event loop wake-up: %s", strerror(errno));
}
