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
	pthread_mutex_init(&l->hold.lock, NULL);
	pthread_cond_init(&l->hold.cond, NULL);
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
	pthread_cond_destroy(&l->hold.cond);
	pthread_mutex_destroy(&l->hold.lock);
	close(l->epfd);
	l->epfd = l->wake_fd = -1;
	return err;
}

void loop_fini(struct mvm_loop *l)
{
	if (l->wake_fd >= 0)
		close(l->wake_fd);
	if (l->epfd >= 0) {
		close(l->epfd);
		pthread_cond_destroy(&l->hold.cond);
		pthread_mutex_destroy(&l->hold.lock);
	}
	l->epfd = l->wake_fd = -1;
}

static void loop_wake(struct mvm_loop *l)
{
	uint64_t one = 1;

	if (write(l->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn("event loop wake-up: %s", strerror(errno));
}

/* The loop's thread, between rounds: waits while someone holds the loop. */
static void loop_hold_point(struct mvm_loop *l)
{
	pthread_mutex_lock(&l->hold.lock);
	if (l->hold.holders) {
		l->hold.parked = true;
		pthread_cond_broadcast(&l->hold.cond);
		while (l->hold.holders && !atomic_load(&l->stop))
			pthread_cond_wait(&l->hold.cond, &l->hold.lock);
		l->hold.parked = false;
	}
	pthread_mutex_unlock(&l->hold.lock);
}

static void loop_set_running(struct mvm_loop *l, bool running)
{
	pthread_mutex_lock(&l->hold.lock);
	l->hold.running = running;
	pthread_cond_broadcast(&l->hold.cond);
	pthread_mutex_unlock(&l->hold.lock);
}

void loop_hold(struct mvm_loop *l)
{
	pthread_mutex_lock(&l->hold.lock);
	l->hold.holders++;
	if (l->hold.running && !l->hold.parked)
		loop_wake(l);
	while (l->hold.running && !l->hold.parked)
		pthread_cond_wait(&l->hold.cond, &l->hold.lock);
	pthread_mutex_unlock(&l->hold.lock);
}

void loop_release(struct mvm_loop *l)
{
	pthread_mutex_lock(&l->hold.lock);
	l->hold.holders--;
	pthread_cond_broadcast(&l->hold.cond);
	pthread_mutex_unlock(&l->hold.lock);
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

	loop_set_running(l, true);
	while (!atomic_load(&l->stop)) {
		int i, n;

		loop_hold_point(l);
		if (atomic_load(&l->stop))
			break;
		n = epoll_wait(l->epfd, ev, 16, -1);

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
	loop_set_running(l, false);
}

void loop_stop(struct mvm_loop *l)
{
	atomic_store(&l->stop, true);
	loop_wake(l);
	/* A thread held between rounds sees the stop too. */
	pthread_mutex_lock(&l->hold.lock);
	pthread_cond_broadcast(&l->hold.cond);
	pthread_mutex_unlock(&l->hold.lock);
}
