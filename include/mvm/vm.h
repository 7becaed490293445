/* SPDX-License-Identifier: MIT */
/*
 * The VM (DESIGN.md §1.1): vm_create() builds it with everything that belongs
 * to it, in one function; vm_destroy() is the one way out.
 */
#ifndef MVM_VM_H
#define MVM_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch/mvm_arch.h"
#include "mvm/bus.h"
#include "mvm/config.h"
#include "mvm/irq.h"
#include "mvm/list.h"
#include "mvm/loop.h"
#include "mvm/memory.h"
#include "mvm/stats.h"

/* Upper bounds of the core; KVM's own limits may be lower. */
#define MVM_MAX_VCPUS	 64
#define MVM_MAX_VCPU_ID	 256
#define MVM_VM_NAME_SIZE 64

struct vcpu;
struct pci_host;

/* Why a VM stopped: the first stop request wins. */
enum vm_stop_reason {
	VM_RUNNING = 0,
	VM_STOP_EXIT_PORT, /* guest wrote to the debug-exit port */
	VM_STOP_RESET,	   /* guest reset (i8042) */
	VM_STOP_POWEROFF,  /* guest powered off */
	VM_STOP_SHUTDOWN,  /* triple fault: KVM_EXIT_SHUTDOWN */
	VM_STOP_ERROR,	   /* an exit mvm cannot handle, or a host error */
	VM_STOP_SIGNAL,	   /* the host asked (SIGINT/SIGTERM) */
	VM_STOP_API,	   /* a client asked (PUT /actions Stop, mvm stop) */
};

struct vm {
	char name[MVM_VM_NAME_SIZE]; /* reserved identity, unique in the process */
	struct mvm_config cfg;

	int kvm_fd; /* /dev/kvm */
	int vm_fd;
	size_t run_size; /* mmap size of a vCPU's kvm_run */
	unsigned int max_vcpus;
	unsigned int max_vcpu_id;

	struct vm_memory mem;
	struct mvm_bus buses[MVM_BUS_NR];
	struct mvm_loop loop;
	/* A Uffd-restored VM: readable when the page-fault handler is gone. */
	struct loop_handler uffd_watch;

	pthread_mutex_t lock;	    /* vCPU creation, device list */
	unsigned int created_vcpus; /* reserved slots, under lock */
	atomic_uint online_vcpus;   /* published vCPUs: release/acquire */
	struct vcpu *vcpus[MVM_MAX_VCPUS];
	uint64_t vcpu_ids[MVM_MAX_VCPU_ID / 64]; /* ids reserved, under lock */

	/*
	 * Pause (src/core/pause.c): vm_pause() sets `requested` and kicks; each
	 * vCPU thread parks on `cond` before its next KVM_RUN and counts itself
	 * in `parked`. vm_request_stop() wakes parked threads so that stop works
	 * from paused. `vcpus_running` and `active` (vCPU threads in their loop)
	 * are under pause.lock.
	 */
	struct {
		pthread_mutex_t lock;
		pthread_cond_t cond;
		pthread_mutex_t op_lock; /* one vm_pause/vm_resume at a time */
		atomic_bool requested;
		bool paused;
		unsigned int active;
		unsigned int parked;
		bool run_ended; /* vm_run() has joined its vCPUs */
	} pause;
	bool vcpus_running; /* under pause.lock */

	struct list_head devices; /* registered devices, under lock */
	struct pci_host *pci;	  /* the PCI host bridge, NULL when none */
	/* virtio-mmio windows (and their GSIs) in use, a bit per index; under lock. */
	struct {
		uint64_t used;
	} virtio_mmio;
	struct vm_irq irq;     /* MSI routes (src/core/irq.c) */
	uint64_t device_slots; /* KVM slots lent to devices' mapped BARs, a bit each (atomic) */

	struct stats_node stats;
	mvm_counter_t stat_devices;

	atomic_int stop_reason;
	int stop_status; /* exit status for the host; set with the reason */

	struct arch_vm arch;
};

/* Builds a VM as cfg describes (no vCPUs yet). The VM or ERR_PTR(-errno). */
struct vm *vm_create(const struct mvm_config *cfg);
/*
 * As vm_create(), with RAM taken from a backend and laid out as a snapshot
 * recorded it (a restore), instead of a fresh memfd. The VM or ERR_PTR(-errno).
 */
struct vm *vm_create_from_memory(const struct mvm_config *cfg, const struct mem_layout *layout,
				 unsigned int nr, const struct mem_backend *backend);
/* Stops it if running, destroys vCPUs, devices, stats, memory, KVM VM. */
void vm_destroy(struct vm *vm);

/*
 * The whole boot sequence: vm_create, load cfg->kernel, create cfg->cpus
 * vCPUs. The ready VM or ERR_PTR(-errno); on error nothing is left behind.
 */
struct vm *vm_boot(const struct mvm_config *cfg);

/*
 * Starts every vCPU thread, runs the event loop until a stop is requested,
 * then stops and joins the vCPUs. 0, or -errno if it could not start.
 */
int vm_run(struct vm *vm);
/* Asks the VM to stop; the first request sets reason and status. Any thread. */
void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status);
enum vm_stop_reason vm_stop_reason(const struct vm *vm);
const char *vm_stop_reason_name(enum vm_stop_reason reason);

/* ---- pause, resume, Ctrl-Alt-Del (src/core/pause.c) ---- */

/*
 * Kicks every vCPU out of KVM_RUN (immediate_exit + SIGUSR2) and waits until
 * all are parked on a condition variable. Returns once the guest no longer
 * runs: 0, -EALREADY (already paused), -EINVAL (vCPUs not running, or the VM
 * is stopping). Any thread except a vCPU thread.
 */
int vm_pause(struct vm *vm);
/* Lets the parked vCPUs run again, with their state untouched. 0, -EALREADY, -EINVAL. */
int vm_resume(struct vm *vm);
bool vm_is_paused(struct vm *vm);
/*
 * A VM that has not run yet starts paused: vm_run() starts its vCPU
 * threads, which wait for vm_resume() before their first KVM_RUN (a
 * restored VM without resume_vm). 0, or -EINVAL once the vCPUs run.
 */
int vm_pause_before_run(struct vm *vm);
/*
 * Waits until vm_run() has started the vCPUs (true) or has ended without
 * (false): for work that should follow the guest's start, not delay it.
 */
bool vm_wait_running(struct vm *vm);
/*
 * Ctrl-Alt-Del: the i8042 queues the key sequence and raises its IRQ; a
 * guest without a keyboard driver ignores it (as under Firecracker). 0 or -errno.
 */
int vm_send_ctrl_alt_del(struct vm *vm);

/* Published vCPUs (acquire), and the i-th of them. */
unsigned int vm_online_vcpus(struct vm *vm);
struct vcpu *vm_vcpu(struct vm *vm, unsigned int idx);
struct vcpu *vm_vcpu_by_id(struct vm *vm, unsigned int id);

/* An interrupt line: of the user-space irqchip if attached, else KVM's. 0 or -errno. */
int vm_irq_line(struct vm *vm, unsigned int irq, int level);

/* Prints the stats tree: the VM, its vCPUs, its devices. */
void vm_stats_print(struct vm *vm, FILE *f);
/* Calls fn for every node of the tree, parents first. */
void vm_stats_walk(struct vm *vm, void (*fn)(void *opaque, const struct stats_node *n),
		   void *opaque);

#endif
