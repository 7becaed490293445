/* SPDX-License-Identifier: MIT */
/*
 * What an architecture provides to the core (src/arch/<arch>/). The core
 * calls nothing else; a new architecture is these functions plus its
 * arch/mvm_arch.h with struct arch_vm and struct arch_vcpu.
 */
#ifndef MVM_ARCH_H
#define MVM_ARCH_H

#include <stddef.h>
#include <stdint.h>

#include "mvm/bus.h"
#include "mvm/memory.h"

struct vm;
struct vcpu;

/* VM-level KVM set-up (irqchip, ...) and its undo. 0 or -errno. */
int arch_vm_create(struct vm *vm);
void arch_vm_destroy(struct vm *vm);

struct kvm_irq_routing_entry;
/*
 * The irqchip's default GSI routes (what KVM sets up with the irqchip): the
 * core writes them first in every KVM_SET_GSI_ROUTING, which replaces the
 * whole table. Returns the number of entries filled (<= max).
 */
unsigned int arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned int max);

/* Guest-physical layout of `ram` bytes of RAM. Returns the number of ranges. */
unsigned int arch_mem_layout(uint64_t ram, struct mem_range *ranges, unsigned int max);

/* Loads vm->cfg.kernel (and friends) into RAM; sets the boot CPU's entry state. */
int arch_vm_load_kernel(struct vm *vm);

/* May veto a vCPU id early; cheap checks only, nothing allocated. 0 or -errno. */
int arch_vcpu_precreate(struct vm *vm, unsigned int id);
/* The one arch create hook: CPUID, MSRs, LAPIC, FPU, registers. 0 or -errno. */
int arch_vcpu_create(struct vcpu *vcpu);
/* The one arch destroy hook. */
void arch_vcpu_destroy(struct vcpu *vcpu);

/* An exit the core does not know. 0 if handled, -ENOSYS if not. */
int arch_vcpu_handle_exit(struct vcpu *vcpu);
/* Where the vCPU is (e.g. "RIP=0x... CS=0x..."), for error messages. */
void arch_vcpu_describe(struct vcpu *vcpu, char *buf, size_t len);

/* ---- snapshots (mvm/snap_format.h encodes; the arch owns what it saves) ---- */
struct snap_buf;
struct snap_cur;
/*
 * This host's CPU as a snapshot records it: the vendor string and the
 * feature bits the vCPUs may use, which a restoring host must have.
 */
void arch_host_cpu(char vendor[16], uint64_t *features);
/* The VM's state (irqchips, PIT, clock) into out / back into a new VM. 0 or -errno. */
int arch_vm_save(struct vm *vm, struct snap_buf *out);
int arch_vm_restore(struct vm *vm, struct snap_cur *in);
/* A vCPU's whole state (the VM is paused) / into a freshly created vCPU. 0 or -errno. */
int arch_vcpu_save(struct vcpu *vcpu, struct snap_buf *out);
int arch_vcpu_restore(struct vcpu *vcpu, struct snap_cur *in);

/* A platform device the arch wants at a fixed address. */
struct platform_device_desc {
	const char *type; /* "serial8250", "i8042", "debug-exit" */
	const char *name;
	enum mvm_bus_type bus;
	uint64_t base;
	uint64_t len;
	unsigned int irq;
};

extern const struct platform_device_desc arch_platform_devices[];
extern const unsigned int arch_nr_platform_devices;

#endif
