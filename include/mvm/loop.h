/* SPDX-License-Identifier: MIT */
/*
 * The VM's event loop (DESIGN.md §3): one epoll set serving device back
 * ends, the console, signals and (later) the API. Handlers are embedded in
 * their owners, so adding one allocates nothing.
 */
#ifndef MVM_LOOP_H
#define MVM_LOOP_H

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
};

int loop_init(struct mvm_loop *l);
void loop_fini(struct mvm_loop *l);
/* Watches h->fd for events (EPOLLIN...). 0 or -errno. */
int loop_add(struct mvm_loop *l, struct loop_handler *h, uint32_t events);
void loop_del(struct mvm_loop *l, struct loop_handler *h);
/* Runs handlers until loop_stop(); safe to call loop_stop() from any thread. */
void loop_run(struct mvm_loop *l);
void loop_stop(struct mvm_loop *l);

#endif
