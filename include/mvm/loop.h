/* SPDX-License-Identifier: MIT */
/*
 * The VM's event loop (DESIGN.md §3): one epoll set serving device back
 * ends, the console, signals and (later) the API. Handlers are embedded in
 * their owners, so adding one allocates nothing.
 */
#ifndef MVM_LOOP_H
#define MVM_LOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct loop_handler {
	int fd;
	void (*fn)(struct loop_handler *h, uint32_t events);
};

struct mvm_loop {
	int epfd;
	int wake_fd; /* eventfd: wakes the loop from other threads */
	struct loop_handler wake;
	atomic_bool stop;
	/* loop_hold(): the loop's thread waits between two rounds of handlers. */
	struct {
		pthread_mutex_t lock;
		pthread_cond_t cond;
		bool running; /* a thread is in loop_run() */
		bool parked;  /* it waits for loop_release() */
		unsigned int holders;
	} hold;
};

int loop_init(struct mvm_loop *l);
void loop_fini(struct mvm_loop *l);
/* Watches h->fd for events (EPOLLIN...). 0 or -errno. */
int loop_add(struct mvm_loop *l, struct loop_handler *h, uint32_t events);
void loop_del(struct mvm_loop *l, struct loop_handler *h);
/* Runs handlers until loop_stop(); safe to call loop_stop() from any thread. */
void loop_run(struct mvm_loop *l);
void loop_stop(struct mvm_loop *l);
/*
 * Keeps the loop's thread from running any handler (device back ends, their
 * I/O completions) until loop_release(): returns once it waits between two
 * rounds, or at once if no thread runs the loop. For work that must see the
 * devices at rest (a snapshot). Any thread but the loop's own.
 */
void loop_hold(struct mvm_loop *l);
void loop_release(struct mvm_loop *l);

#endif
