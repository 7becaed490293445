/* SPDX-License-Identifier: MIT */
/*
 * Interrupt and notification helpers of the core (src/core/irq.c): the only
 * way devices reach KVM's irq routing, irqfd and ioeventfd.
 *
 * The VM keeps one GSI routing table (the arch's default irqchip routes plus
 * the MSI routes devices asked for); KVM_SET_GSI_ROUTING replaces the whole
 * table, so every change rewrites it once, under vm->irq.lock.
 */
#ifndef MVM_IRQ_H
#define MVM_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/bus.h"
#include "mvm/loop.h"
#include "mvm/stats.h"

struct vm;

#define VM_MAX_MSI_ROUTES 256
/* Input pins of a user-space IOAPIC: GSIs 0..VM_IRQCHIP_PINS-1 (KVM_CAP_SPLIT_IRQCHIP). */
#define VM_IRQCHIP_PINS 24

/*
 * A user-space interrupt controller (the split irqchip's IOAPIC): the core
 * sends it the devices' lines (vm_irq_line) and the guest's EOIs of
 * level-triggered vectors (KVM_EXIT_IOAPIC_EOI).
 */
struct vm_irqchip_ops {
	/* Sets input `pin` to `level` (1 asserted). 0 or -errno. */
	int (*set_line)(void *chip, unsigned int pin, int level);
	/* A vCPU's EOI of `vector`. */
	void (*eoi)(void *chip, unsigned int vector);
};

struct vm_msi_route {
	uint64_t addr;
	uint32_t data;
	bool used;
};

/*
 * An irqfd on a pin of the user-space irqchip: KVM cannot inject there, so
 * the VM's event loop reads the eventfd and pulses the pin (edge).
 */
struct vm_irqfd_relay {
	struct loop_handler h; /* h.fd: the eventfd */
	struct vm *vm;
	unsigned int gsi;
	bool used;
};

/* The VM's MSI routes (embedded in struct vm; GSI = ARCH_MSI_GSI_BASE + index). */
struct vm_irq {
	pthread_mutex_t lock;
	struct vm_msi_route msi[VM_MAX_MSI_ROUTES];
	/*
	 * With a user-space irqchip: the MSI route of each of its pins, written
	 * instead of the arch's irqchip routes. KVM reads them to learn which
	 * vectors are level-triggered, and exits on their EOI.
	 */
	struct vm_msi_route pins[VM_IRQCHIP_PINS];
	const struct vm_irqchip_ops *chip_ops; /* NULL: the lines go to KVM (KVM_IRQ_LINE) */
	void *chip;
	struct vm_irqfd_relay relays[VM_IRQCHIP_PINS];
	mvm_counter_t commits; /* KVM_SET_GSI_ROUTING calls made (stats: msi_route_updates) */
};

void vm_irq_init(struct vm_irq *irq);
void vm_irq_fini(struct vm_irq *irq);

/* Injects one MSI (KVM_SIGNAL_MSI). 0 or -errno. */
int vm_msi(struct vm *vm, uint64_t addr, uint32_t data);
/*
 * Routes an MSI GSI to (addr, data): gsi_or_neg < 0 allocates a new GSI
 * (returned in *gsi_out), otherwise updates that GSI's route. 0 or -errno
 * (-ENOSPC when no GSI is left).
 */
int vm_msi_route(struct vm *vm, int gsi_or_neg, uint64_t addr, uint32_t data, int *gsi_out);
/*
 * Drops an MSI route made by vm_msi_route (unbind its irqfd first). The
 * kernel's table keeps the stale entry until the next change: no GSI-routing
 * update is spent on teardown.
 */
void vm_msi_route_free(struct vm *vm, int gsi);
/*
 * Binds (assign) or unbinds eventfd efd to gsi (KVM_IRQFD; on a pin of a
 * user-space irqchip, a relay on the VM's loop instead). 0 or -errno.
 */
int vm_irqfd(struct vm *vm, int efd, unsigned int gsi, bool assign);
/*
 * The same binding made on a create path: a fault-injection site (undo it
 * with vm_irqfd(..., false)). 0 or -errno.
 */
int vm_irqfd_assign(struct vm *vm, int efd, unsigned int gsi);
/*
 * A guest write to [addr, addr + len) on bus signals efd instead of exiting
 * (KVM_IOEVENTFD; len 0 on MMIO matches any width). 0 or -errno.
 */
int vm_ioeventfd(struct vm *vm, int efd, enum mvm_bus_type bus, uint64_t addr, unsigned len,
		 bool assign);
/*
 * Only writes of exactly `data`, len bytes wide (1, 2, 4 or 8), signal efd
 * (KVM_IOEVENTFD_FLAG_DATAMATCH): one address, one eventfd per value.
 * Unassign with the same arguments. 0 or -errno.
 */
int vm_ioeventfd_match(struct vm *vm, int efd, enum mvm_bus_type bus, uint64_t addr, unsigned len,
		       uint64_t data, bool assign);

/*
 * Attaches a user-space irqchip: vm_irq_line() and the EOI exits go to it
 * from now on. Once, before the vCPUs run. -EBUSY if one is attached.
 */
int vm_irqchip_attach(struct vm *vm, const struct vm_irqchip_ops *ops, void *chip);
void vm_irqchip_detach(struct vm *vm, void *chip);
/* The guest's EOI of vector (KVM_EXIT_IOAPIC_EOI), for the attached irqchip. */
void vm_irq_eoi(struct vm *vm, unsigned int vector);
/*
 * Sets (present) or clears the MSI route of a user-space irqchip's pin and
 * rewrites the routing table only if it changed. 0 or -errno.
 */
int vm_irq_pin_route(struct vm *vm, unsigned int pin, bool present, uint64_t addr, uint32_t data);

#endif
