// SPDX-License-Identifier: MIT
/* SIGINT/SIGTERM, read from a signalfd by the VM's event loop, stop the VM. */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "mvm/log.h"
#include "mvm/vm.h"

static void signal_stop(struct loop_handler *h, uint32_t events)
{
	struct signal_stop *s = container_of(h, struct signal_stop, h);
	struct signalfd_siginfo si;

	(void)events;
	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	pr_info("signal %u: stopping the VM", si.ssi_signo);
	vm_request_stop(s->vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
}

int signal_stop_watch(struct signal_stop *s, struct vm *vm, int sigfd)
{
	s->h.fd = sigfd;
	s->h.fn = signal_stop;
	s->vm = vm;
	return loop_add(&vm->loop, &s->h, EPOLLIN);
}

void signal_stop_unwatch(struct signal_stop *s)
{
	loop_del(&s->vm->loop, &s->h);
}
