// SPDX-License-Identifier: MIT
/*
 * vfio-user's run-time paths under the real seccomp filters: in a fork()ed
 * child (a kill must not take the test runner) the VM and a vfio-user device
 * are built unfiltered, as the VMM's main thread builds them, against the
 * test server in a process of its own. Then a thread under the vCPU filter
 * plays the guest (config writes forwarded to the server, trapped and mapped
 * BAR accesses, MSI-X enabled with its eventfds passed, a DMA copy), a
 * thread under the event loop's filter relays the interrupt; the server is
 * killed, the vCPU thread meets the failure and the loop thread takes the
 * mapped BAR away. A call missing from a list kills the child with mvm's
 * SIGSYS line, which the test shows.
 */
#include <pthread.h>
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
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/sandbox.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vfio/vfio.h"

struct sb_job {
	struct vfio_dev *v;
	bool server_dead; /* the second round: after the kill */
	int result;
};

static uint64_t sb_bar(struct vfio_dev *v, unsigned int bar, uint64_t off, uint64_t x, bool write)
{
	bus_access(&v->pdev.dev.vm->buses[MVM_BUS_MMIO], pci_bar_addr(&v->pdev, bar) + off, &x, 8,
		   write);
	return x;
}

/* The guest's side, on a thread under the vCPU filter. */
static void *sb_vcpu(void *arg)
{
	struct sb_job *job = arg;
	struct vfio_dev *v = job->v;
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, ctrl = PCI_MSIX_ENABLE;
	uint64_t *ram;

	if (sandbox_enter(SANDBOX_VCPU)) {
		job->result = 2;
		return NULL;
	}
	if (job->server_dead) {
		/* The failure: logged, the socket shut down, the loop told. */
		job->result = sb_bar(v, 0, VTS_REG_ID, 0, false) == ~0ULL ? 0 : 3;
		return NULL;
	}
	pci_cfg_write(&v->pdev, PCI_COMMAND, &cmd, 2);
	if (sb_bar(v, 0, VTS_REG_ID, 0, false) != VTS_ID) {
		job->result = 4;
		return NULL;
	}
	sb_bar(v, 0, VTS_REG_SCRATCH, 42, true);
	sb_bar(v, 1, 0x10, 7, true);
	if (sb_bar(v, 0, VTS_REG_SCRATCH, 0, false) != 42 || sb_bar(v, 1, 0x10, 0, false) != 7) {
		job->result = 5;
		return NULL;
	}
	/* MSI-X vector 0 unmasked, MSI-X on: INTx off, the vectors' eventfds passed. */
	bus_access(&v->pdev.dev.vm->buses[MVM_BUS_MMIO],
		   pci_bar_addr(&v->pdev, 2) + VTS_MSIX_TABLE + 12, &(uint32_t){ 0 }, 4, true);
	pci_cfg_write(&v->pdev, v->pdev.msix.cap + PCI_MSIX_FLAGS, &ctrl, 2);
	ram = mem_ptr(&v->pdev.dev.vm->mem, 0x10000, 8);
	*ram = 0x1234;
	sb_bar(v, 0, VTS_REG_DMA_SRC, 0x10000, true);
	sb_bar(v, 0, VTS_REG_DMA_DST, 0x20000, true);
	sb_bar(v, 0, VTS_REG_DMA_LEN, 8, true);
	sb_bar(v, 0, VTS_REG_DOORBELL, 1, true);
	job->result = *(uint64_t *)mem_ptr(&v->pdev.dev.vm->mem, 0x20000, 8) == 0x1234 ? 0 : 6;
	return NULL;
}

/* The event loop's side: what is pending now, on a thread under the loop's filter. */
static void *sb_loop(void *arg)
{
	struct sb_job *job = arg;
	struct epoll_event ev;
	int n = 0;

	if (sandbox_enter(SANDBOX_VMM)) {
		job->result = 2;
		return NULL;
	}
	while (epoll_wait(job->v->pdev.dev.vm->loop.epfd, &ev, 1, 200) == 1 && n++ < 16) {
		struct loop_handler *h = ev.data.ptr;

		h->fn(h, ev.events);
	}
	job->result = n ? 0 : 7;
	return NULL;
}

static int sb_thread(void *(*fn)(void *), struct sb_job *job)
{
	pthread_t th;

	job->result = 1;
	if (pthread_create(&th, NULL, fn, job) || pthread_join(th, NULL))
		return 9;
	return job->result;
}

/* Interrupts vector 0 delivered to its irqfd (the fake KVM leaves them unread). */
static uint64_t efd_count_msix(struct vfio_dev *v)
{
	uint64_t n = 0;

	if (read(v->pdev.msix.efd[0], &n, sizeof(n)) != sizeof(n))
		return 0;
	return n;
}

static int sb_child(void)
{
	static const struct platform_device_desc host = {
		"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
	};
	char dir[] = "/tmp/mvm-vfio-sb-XXXXXX", path[64];
	struct sb_job job = { 0 };
	struct vm *vm;
	pid_t srv;
	int lfd, err;

	if (!mkdtemp(dir))
		return 10;
	snprintf(path, sizeof(path), "%s/s", dir);
	lfd = vts_listen(path);
	if (lfd < 0)
		return 11;
	srv = fork();
	if (srv == 0) {
		int s = accept(lfd, NULL, NULL);

		_exit(s < 0 ? 3 : vts_serve(s, 0));
	}
	close(lfd);
	if (srv < 0 || sandbox_configure(SANDBOX_ON, NULL))
		return 12;
	fake_reset();
	vm = unit_vm(1);
	if (IS_ERR(pci_host_create(vm, &host)))
		return 13;
	job.v = vfio_user_create(vm, path, 0, 5000);
	if (IS_ERR(job.v))
		return 14;
	err = sb_thread(sb_vcpu, &job);
	if (!err)
		err = sb_thread(sb_loop, &job) ? 20 : 0;
	if (!err && efd_count_msix(job.v) != 1)
		err = 21;
	kill(srv, SIGKILL);
	waitpid(srv, NULL, 0);
	job.server_dead = true;
	if (!err)
		err = sb_thread(sb_vcpu, &job) ? 30 : 0;
	if (!err)
		err = sb_thread(sb_loop, &job) ? 31 : 0;
	if (!err && job.v->regions[1].areas[0].slot != -1)
		err = 32;
	vm_destroy(vm);
	unlink(path);
	rmdir(dir);
	return err;
}

static void test_vfio_user_under_filters(void **state)
{
	char err[1024];
	int pfd[2], status = -1;
	ssize_t n, got = 0;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(pfd), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pfd[0]);
		dup2(pfd[1], STDERR_FILENO);
		mvm_log_set_level(0); /* the SIGSYS line, and only errors */
		_exit(sb_child());
	}
	close(pfd[1]);
	while (got < (ssize_t)sizeof(err) - 1 &&
	       (n = read(pfd[0], err + got, sizeof(err) - 1 - (size_t)got)) > 0)
		got += n;
	err[got] = '\0';
	close(pfd[0]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("vfio-user under the filters: status %d, said: %s", status, err);
	assert_null(strstr(err, "seccomp"));
}

int run_vfio_sandbox_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vfio_user_under_filters),
	};

	return cmocka_run_group_tests_name("vfio-user under the seccomp filters", tests, NULL,
					   NULL);
}
