// SPDX-License-Identifier: MIT
/*
 * vfio-user from the host side: mvm's client (src/vfio/) against the test
 * server (tests/vfio/server.c) in a child process over a Unix socket, the VM
 * on the unit tests' fake KVM (no /dev/kvm needed). Accesses go through the
 * PCI function's access path, as a vCPU's MMIO exit would reach it.
 *
 *   - BAR latency: 8-byte reads and writes of BAR0 (trapped: one message
 *     round trip each) and of BAR1 (mapped: the server's memory, as a guest
 *     reaches it without an exit once the slot is in);
 *   - DMA-copy throughput: the server copies 1 MiB between two guest
 *     addresses per doorbell, through guest RAM it mapped, then with
 *     DMA_READ/DMA_WRITE messages (a server that cannot map).
 *
 * Prints figures only; asserts nothing about time.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tests/vfio/server.h"
#include "fake.h"
#include "mvm/bus.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/vm.h"
#include "vfio/vfio.h"

#define LAT_ROUNDS 20000
#define COPY_SIZE  (1u << 20)
#define COPIES	   200
#define MSG_COPIES 20

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

struct env {
	struct vm *vm;
	struct vfio_dev *v;
	pid_t server;
	char sock[64];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "vfio-user-bench: %s\n", what);
	exit(1);
}

static void env_open(struct env *e, unsigned int flags)
{
	struct mvm_config mc;
	uint16_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	int lfd;

	snprintf(e->sock, sizeof(e->sock), "/tmp/mvm-vfio-bench-%d.sock", (int)getpid());
	lfd = vts_listen(e->sock);
	if (lfd < 0)
		die("cannot listen");
	e->server = fork();
	if (e->server < 0)
		die("fork");
	if (e->server == 0) {
		int s = accept(lfd, NULL, NULL);

		_exit(s < 0 ? 3 : vts_serve(s, flags));
	}
	close(lfd);
	fake_reset();
	mvm_config_init(&mc);
	mc.mem_size = 64ULL << 20;
	mc.cpus = 1;
	mc.console_out = -1;
	e->vm = vm_create(&mc);
	if (IS_ERR(e->vm) || IS_ERR(pci_host_create(e->vm, &host_desc)))
		die("cannot build the VM");
	e->v = vfio_user_create(e->vm, e->sock, 0, 5000);
	if (IS_ERR(e->v))
		die("cannot create the vfio-user device");
	pci_cfg_write(&e->v->pdev, PCI_COMMAND, &cmd, 2);
}

static void env_close(struct env *e)
{
	int st;

	vm_destroy(e->vm);
	waitpid(e->server, &st, 0);
	unlink(e->sock);
}

static void bar_rw(struct env *e, unsigned int bar, uint64_t off, uint64_t *x, bool write)
{
	bus_access(&e->vm->buses[MVM_BUS_MMIO], pci_bar_addr(&e->v->pdev, bar) + off, x, 8, write);
}

static void latency(struct env *e, const char *what, unsigned int bar, uint64_t off)
{
	uint64_t x = 0;
	double t0, r, w;
	unsigned int i;

	t0 = now();
	for (i = 0; i < LAT_ROUNDS; i++)
		bar_rw(e, bar, off, &x, false);
	r = (now() - t0) / LAT_ROUNDS;
	t0 = now();
	for (i = 0; i < LAT_ROUNDS; i++) {
		x = i;
		bar_rw(e, bar, off, &x, true);
	}
	w = (now() - t0) / LAT_ROUNDS;
	printf("  %-34s read %9.2f us   write %9.2f us\n", what, r * 1e6, w * 1e6);
}

static double copies(struct env *e, unsigned int n)
{
	uint64_t src = 0x100000, dst = 0x800000, len = COPY_SIZE, status = 0;
	double t0;
	unsigned int i;

	memset(mem_ptr(&e->vm->mem, src, len), 0x5a, len);
	bar_rw(e, 0, VTS_REG_DMA_SRC, &src, true);
	bar_rw(e, 0, VTS_REG_DMA_DST, &dst, true);
	bar_rw(e, 0, VTS_REG_DMA_LEN, &len, true);
	t0 = now();
	for (i = 0; i < n; i++) {
		uint64_t one = 1;

		bar_rw(e, 0, VTS_REG_DOORBELL, &one, true);
	}
	t0 = now() - t0;
	bar_rw(e, 0, VTS_REG_STATUS, &status, false);
	if (status != n ||
	    memcmp(mem_ptr(&e->vm->mem, dst, len), mem_ptr(&e->vm->mem, src, len), len))
		die("the copies did not all complete");
	return (double)n * COPY_SIZE / t0 / (1 << 20);
}

int main(void)
{
	struct env e;
	double mapped, msgs;

	signal(SIGPIPE, SIG_IGN);
	mvm_log_set_level(-1);
	printf("vfio-user, host side (fake KVM; mvm's client <-> tests/vfio/server.c over a "
	       "Unix socket)\n");
	env_open(&e, 0);
	printf("BAR access latency through the PCI function (%u rounds each):\n", LAT_ROUNDS);
	latency(&e, "BAR0 trapped (message round trip)", 0, VTS_REG_SCRATCH);
	latency(&e, "BAR1 mapped (server memory)", 1, 0x100);
	mapped = copies(&e, COPIES);
	env_close(&e);
	env_open(&e, VTS_NO_MAP);
	msgs = copies(&e, MSG_COPIES);
	env_close(&e);
	printf("DMA copy, %u KiB per doorbell (read + write of guest RAM by the server):\n",
	       COPY_SIZE >> 10);
	printf("  server maps guest RAM (memfd)      %9.1f MiB/s (%u copies)\n", mapped, COPIES);
	printf("  DMA_READ/DMA_WRITE messages        %9.1f MiB/s (%u copies)\n", msgs, MSG_COPIES);
	printf("  ratio mapped / messages            %9.1f\n", mapped / msgs);
	return 0;
}
