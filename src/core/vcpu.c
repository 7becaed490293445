// SPDX-License-Identifier: MIT
/*
 * vCPU life cycle (DESIGN.md §1.2) and the per-vCPU run loop.
 *
 * Creation follows kvm_vm_ioctl_create_vcpu(): the arch may veto, the id and
 * the count are validated and a slot is reserved under vm->lock before
 * anything is allocated; then the common parts are built, then the one arch
 * hook runs, and only then is the vCPU published (release store of the
 * online count, acquire loads in readers), so nobody sees it half-built.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "pause.h"

/* vCPU threads need little stack: exit handling is shallow. */
#define VCPU_STACK_SIZE (256 * 1024)
#define VCPU_GUARD_SIZE 4096

/* Kicks a vCPU out of KVM_RUN; its handler does nothing. */
#define VCPU_KICK_SIGNAL SIGUSR2

static const struct mvm_counter_desc vcpu_counters[] = {
	{ "exits_io", offsetof(struct vcpu, exits[VCPU_EXIT_IO]) },
	{ "exits_mmio", offsetof(struct vcpu, exits[VCPU_EXIT_MMIO]) },
	{ "exits_intr", offsetof(struct vcpu, exits[VCPU_EXIT_INTR]) },
	{ "exits_shutdown", offsetof(struct vcpu, exits[VCPU_EXIT_SHUTDOWN]) },
	{ "exits_internal_error", offsetof(struct vcpu, exits[VCPU_EXIT_INTERNAL_ERROR]) },
	{ "exits_system_event", offsetof(struct vcpu, exits[VCPU_EXIT_SYSTEM_EVENT]) },
	{ "exits_other", offsetof(struct vcpu, exits[VCPU_EXIT_OTHER]) },
};

static bool id_test(const struct vm *vm, unsigned int id)
{
	return vm->vcpu_ids[id / 64] & (1ULL << (id % 64));
}

static void id_assign(struct vm *vm, unsigned int id, bool on)
{
	if (on)
		vm->vcpu_ids[id / 64] |= 1ULL << (id % 64);
	else
		vm->vcpu_ids[id / 64] &= ~(1ULL << (id % 64));
}

/* Validates and reserves a slot and the id, allocating nothing. */
static int vcpu_reserve(struct vm *vm, unsigned int id)
{
	int err = 0;

	if (id >= vm->max_vcpu_id)
		return -EINVAL;
	pthread_mutex_lock(&vm->lock);
	if (vm->created_vcpus >= vm->max_vcpus)
		err = -EINVAL;
	else if (id_test(vm, id))
		err = -EEXIST;
	else {
		id_assign(vm, id, true);
		vm->created_vcpus++;
	}
	pthread_mutex_unlock(&vm->lock);
	return err;
}

static void vcpu_unreserve(struct vm *vm, unsigned int id)
{
	pthread_mutex_lock(&vm->lock);
	id_assign(vm, id, false);
	vm->created_vcpus--;
	pthread_mutex_unlock(&vm->lock);
}

static void vcpu_publish(struct vm *vm, struct vcpu *vcpu)
{
	unsigned int n;

	pthread_mutex_lock(&vm->lock);
	n = atomic_load_explicit(&vm->online_vcpus, memory_order_relaxed);
	vm->vcpus[n] = vcpu;
	/* Pairs with the acquire in vm_online_vcpus(): the vCPU is complete. */
	atomic_store_explicit(&vm->online_vcpus, n + 1, memory_order_release);
	pthread_mutex_unlock(&vm->lock);
}

static int vcpu_alloc_stack(struct vcpu *vcpu)
{
	size_t size = VCPU_STACK_SIZE + VCPU_GUARD_SIZE;
	void *p;

	p = mvm_mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* A guard page below the stack: an overflow faults instead of corrupting. */
	if (mvm_mprotect(p, VCPU_GUARD_SIZE, PROT_NONE) < 0) {
		int err = -errno;

		munmap(p, size);
		return err;
	}
	vcpu->stack = p;
	vcpu->stack_size = size;
	return 0;
}

int vcpu_create(struct vm *vm, unsigned int id)
{
	char fallback_id[MVM_STATS_ID_SIZE];
	struct vcpu *vcpu;
	int err;

	err = arch_vcpu_precreate(vm, id);
	if (err)
		return err;
	err = vcpu_reserve(vm, id);
	if (err)
		return err;

	vcpu = mvm_zalloc(sizeof(*vcpu));
	if (!vcpu) {
		err = -ENOMEM;
		goto err_unreserve;
	}
	vcpu->vm = vm;
	vcpu->id = id;

	vcpu->fd = mvm_ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (vcpu->fd < 0) {
		err = -errno;
		pr_err("KVM_CREATE_VCPU %u: %s", id, strerror(-err));
		goto err_free;
	}
	vcpu->run = mvm_mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu->fd, 0);
	if (vcpu->run == MAP_FAILED) {
		err = -errno;
		pr_err("mapping kvm_run of vCPU %u: %s", id, strerror(-err));
		goto err_close;
	}
	snprintf(fallback_id, sizeof(fallback_id), "%s/vcpu-%u", vm->stats.id, id);
	err = stats_node_open_kvm(&vcpu->stats, vcpu->fd, fallback_id, vcpu_counters,
				  ARRAY_SIZE(vcpu_counters), vcpu);
	if (err)
		goto err_unmap;
	err = vcpu_alloc_stack(vcpu);
	if (err) {
		pr_err("vCPU %u thread stack: %s", id, strerror(-err));
		goto err_stats;
	}

	err = arch_vcpu_create(vcpu);
	if (err)
		goto err_stack;

	vcpu_publish(vm, vcpu);
	return 0;

err_stack:
	munmap(vcpu->stack, vcpu->stack_size);
err_stats:
	stats_node_release(&vcpu->stats);
err_unmap:
	munmap(vcpu->run, vm->run_size);
err_close:
	close(vcpu->fd);
err_free:
	free(vcpu);
err_unreserve:
	vcpu_unreserve(vm, id);
	return err;
}

static void vcpu_destroy(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	arch_vcpu_destroy(vcpu);
	munmap(vcpu->stack, vcpu->stack_size);
	stats_node_release(&vcpu->stats);
	munmap(vcpu->run, vm->run_size);
	close(vcpu->fd);
	free(vcpu);
}

void vcpus_destroy(struct vm *vm)
{
	unsigned int n = vm_online_vcpus(vm);

	pthread_mutex_lock(&vm->lock);
	atomic_store_explicit(&vm->online_vcpus, 0, memory_order_release);
	pthread_mutex_unlock(&vm->lock);
	while (n--) {
		struct vcpu *vcpu = vm->vcpus[n];

		vm->vcpus[n] = NULL;
		vcpu_unreserve(vm, vcpu->id);
		vcpu_destroy(vcpu);
	}
}

/* ---- the run loop ---- */

static const char *exit_reason_name(unsigned int reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_NMI] = "NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	};

	if (reason < ARRAY_SIZE(names) && names[reason])
		return names[reason];
	return "?";
}

static void vcpu_fatal(struct vcpu *vcpu, enum vm_stop_reason why, const char *what)
{
	char where[256];

	arch_vcpu_describe(vcpu, where, sizeof(where));
	pr_err("vCPU %u: %s; %s", vcpu->id, what, where);
	vm_request_stop(vcpu->vm, why, 1);
}

static uint64_t now_us(void)
{
	return mvm_clock_ns(CLOCK_MONOTONIC) / 1000;
}

/* Counts one exit of kind k handled since start (µs), as Firecracker's vcpu metrics. */
static void vcpu_io_account(struct vcpu *vcpu, enum vcpu_io_kind k, uint64_t start)
{
	struct vcpu_io_stat *st = &vcpu->io[k];
	uint64_t d = now_us() - start, min = counter_read(&st->min_us);

	counter_inc(&st->count);
	atomic_fetch_add_explicit(&st->sum_us, d, memory_order_relaxed);
	if (min == 0 || d < min)
		atomic_store_explicit(&st->min_us, d, memory_order_relaxed);
	if (d > counter_read(&st->max_us))
		atomic_store_explicit(&st->max_us, d, memory_order_relaxed);
}

static void vcpu_exit_io(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	struct mvm_bus *bus = &vcpu->vm->buses[MVM_BUS_PIO];
	unsigned int size = run->io.size, i;
	uint64_t bytes = (uint64_t)size * run->io.count, start = now_us();
	uint8_t *data;

	counter_inc(&vcpu->exits[VCPU_EXIT_IO]);
	/* The kernel sets these, but a wild offset would be a wild access. */
	if (size == 0 || size > 8 || run->io.data_offset > vcpu->vm->run_size ||
	    bytes > vcpu->vm->run_size - run->io.data_offset) {
		vcpu_fatal(vcpu, VM_STOP_ERROR, "malformed KVM_EXIT_IO");
		return;
	}
	data = (uint8_t *)run + run->io.data_offset;
	for (i = 0; i < run->io.count; i++)
		bus_access(bus, run->io.port, data + i * size, size,
			   run->io.direction == KVM_EXIT_IO_OUT);
	vcpu_io_account(vcpu, run->io.direction == KVM_EXIT_IO_OUT ? VCPU_IO_OUT : VCPU_IO_IN,
			start);
}

static void vcpu_exit_mmio(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	uint64_t start = now_us();

	counter_inc(&vcpu->exits[VCPU_EXIT_MMIO]);
	if (run->mmio.len == 0 || run->mmio.len > sizeof(run->mmio.data)) {
		vcpu_fatal(vcpu, VM_STOP_ERROR, "malformed KVM_EXIT_MMIO");
		return;
	}
	bus_access(&vcpu->vm->buses[MVM_BUS_MMIO], run->mmio.phys_addr, run->mmio.data,
		   run->mmio.len, run->mmio.is_write);
	vcpu_io_account(vcpu, run->mmio.is_write ? VCPU_MMIO_WRITE : VCPU_MMIO_READ, start);
}

static void vcpu_exit_system_event(struct vcpu *vcpu)
{
	counter_inc(&vcpu->exits[VCPU_EXIT_SYSTEM_EVENT]);
	switch (vcpu->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(vcpu->vm, VM_STOP_POWEROFF, 0);
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(vcpu->vm, VM_STOP_RESET, 0);
		break;
	default: {
		char what[64];

		snprintf(what, sizeof(what), "system event %u", vcpu->run->system_event.type);
		vcpu_fatal(vcpu, VM_STOP_ERROR, what);
	}
	}
}

static void vcpu_exit_internal_error(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[256];
	size_t len;
	unsigned int i;

	counter_inc(&vcpu->exits[VCPU_EXIT_INTERNAL_ERROR]);
	len = (size_t)snprintf(
		what, sizeof(what), "KVM internal error, suberror %u%s", run->internal.suberror,
		run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION
			? " (emulation failure: the host could not emulate a guest instruction)"
			: "");
	for (i = 0; i < run->internal.ndata && i < 4 && len < sizeof(what); i++)
		len += (size_t)snprintf(what + len, sizeof(what) - len, "%s0x%llx",
					i ? " " : ", data ",
					(unsigned long long)run->internal.data[i]);
	vcpu_fatal(vcpu, VM_STOP_ERROR, what);
}

static void vcpu_handle_exit(struct vcpu *vcpu)
{
	struct kvm_run *run = vcpu->run;
	char what[128];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_exit_io(vcpu);
		return;
	case KVM_EXIT_MMIO:
		vcpu_exit_mmio(vcpu);
		return;
	case KVM_EXIT_INTR:
		counter_inc(&vcpu->exits[VCPU_EXIT_INTR]);
		return;
	case KVM_EXIT_SHUTDOWN:
		counter_inc(&vcpu->exits[VCPU_EXIT_SHUTDOWN]);
		vcpu_fatal(vcpu, VM_STOP_SHUTDOWN,
			   "guest triple fault (KVM_EXIT_SHUTDOWN), the VM is stopped");
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		vcpu_exit_internal_error(vcpu);
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_exit_system_event(vcpu);
		return;
	case KVM_EXIT_IOAPIC_EOI:
		counter_inc(&vcpu->exits[VCPU_EXIT_OTHER]);
		vm_irq_eoi(vcpu->vm, run->eoi.vector);
		return;
	case KVM_EXIT_FAIL_ENTRY:
		counter_inc(&vcpu->exits[VCPU_EXIT_OTHER]);
		snprintf(what, sizeof(what), "KVM_EXIT_FAIL_ENTRY, hardware reason 0x%llx",
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vcpu_fatal(vcpu, VM_STOP_ERROR, what);
		return;
	default:
		counter_inc(&vcpu->exits[VCPU_EXIT_OTHER]);
		if (arch_vcpu_handle_exit(vcpu) == 0)
			return;
		snprintf(what, sizeof(what), "unhandled exit reason %u (KVM_EXIT_%s)",
			 run->exit_reason, exit_reason_name(run->exit_reason));
		vcpu_fatal(vcpu, VM_STOP_ERROR, what);
	}
}

/*
 * Before parking: KVM finishes an I/O exit (an IN's result in RAX, RIP past
 * the instruction) only on the next KVM_RUN. One with immediate_exit
 * finishes it and returns at once, running no guest code, so that the
 * state a snapshot reads is whole and a restore does not repeat the access.
 */
static void vcpu_complete_io(struct vcpu *vcpu)
{
	unsigned int rounds;

	for (rounds = 0; rounds < 4; rounds++) {
		__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
		if (ioctl(vcpu->fd, KVM_RUN, 0) < 0)
			break; /* EINTR: nothing (more) pending */
		/* A multi-part MMIO access: one more exit to serve. */
		vcpu_handle_exit(vcpu);
	}
	vcpu->run->immediate_exit = 0;
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	sigset_t set;
	char name[16];

	/* Firecracker's name: tools that watch its threads find them. */
	snprintf(name, sizeof(name), "fc_vcpu %u", vcpu->id);
	pthread_setname_np(pthread_self(), name);
	/* Started with every signal blocked; take only the kick. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* Before the first KVM_RUN: from here on the guest drives this thread. */
	if (sandbox_enter(SANDBOX_VCPU)) {
		vm_request_stop(vm, VM_STOP_ERROR, 1);
		return NULL;
	}

	vcpu_pause_enter(vcpu, true);
	while (vm_stop_reason(vm) == VM_RUNNING) {
		if (atomic_load(&vm->pause.requested))
			vcpu_complete_io(vcpu);
		/* Parks here while the VM is paused (no guest code runs). */
		vcpu_pause_point(vcpu);
		if (vm_stop_reason(vm) != VM_RUNNING)
			break;
		if (mvm_ioctl_nofault(vcpu->fd, KVM_RUN, NULL) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				/* A kick: immediate_exit made KVM_RUN return at once. */
				vcpu->run->immediate_exit = 0;
				counter_inc(&vcpu->exits[VCPU_EXIT_INTR]);
				continue;
			}
			pr_err("vCPU %u: KVM_RUN: %s", vcpu->id, strerror(errno));
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			break;
		}
		vcpu_handle_exit(vcpu);
	}
	vcpu_pause_enter(vcpu, false);
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;
}

static void vcpu_install_kick_handler(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };

	/* No SA_RESTART: the kick must interrupt KVM_RUN with EINTR. */
	sigemptyset(&sa.sa_mask);
	sigaction(VCPU_KICK_SIGNAL, &sa, NULL);
}

int vcpu_start(struct vcpu *vcpu)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_attr_t attr;
	sigset_t all, old;
	int err;

	pthread_once(&once, vcpu_install_kick_handler);

	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, (char *)vcpu->stack + VCPU_GUARD_SIZE, VCPU_STACK_SIZE);
	/* The new thread inherits a fully blocked mask: host signals go to the loop thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = mvm_thread_create(&vcpu->thread, &attr, vcpu_thread, vcpu);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (err) {
		pr_err("starting the thread of vCPU %u: %s", vcpu->id, strerror(err));
		return -err;
	}
	vcpu->thread_started = true;
	return 0;
}

void vcpu_kick(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	/*
	 * immediate_exit covers a kick that lands just before KVM_RUN is entered;
	 * the signal covers a vCPU inside KVM_RUN (running or halted).
	 */
	__atomic_store_n(&vcpu->run->immediate_exit, 1, __ATOMIC_RELEASE);
	pthread_kill(vcpu->thread, VCPU_KICK_SIGNAL);
}

void vcpu_join(struct vcpu *vcpu)
{
	if (!vcpu->thread_started)
		return;
	pthread_join(vcpu->thread, NULL);
	vcpu->thread_started = false;
}
