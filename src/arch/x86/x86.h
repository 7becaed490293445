/* SPDX-License-Identifier: MIT */
/* Internal interfaces of the x86 arch (src/arch/x86/). */
#ifndef MVM_X86_H
#define MVM_X86_H

#include <stdint.h>

struct vm;
struct vcpu;

/* Fixed guest-physical addresses. */
#define X86_MMIO_HOLE_START   0xc0000000ULL /* RAM above this moves to 4 GiB */
#define X86_IDENTITY_MAP_ADDR 0xfffbc000ULL
#define X86_TSS_ADDR	      0xfffbd000ULL /* three pages */
#define X86_EBDA_START	      0x9fc00ULL    /* the legacy hole up to 1 MiB */
#define X86_HIGH_MEMORY	      0x100000ULL
#define X86_IOAPIC_ADDR	      0xfec00000ULL
#define X86_LAPIC_ADDR	      0xfee00000ULL
#define X86_BOOT_TIMER_ADDR   0xc0000000ULL /* Firecracker's boot timer (--boot-timer) */
#define X86_RESET_VECTOR      0xfffffff0ULL /* CS base 0xffff0000 + IP 0xfff0 */

/* Fixed I/O ports and interrupts of the platform (vm.c's device table). */
#define X86_SERIAL_PORT	    0x3f8
#define X86_SERIAL_IRQ	    4
#define X86_I8042_CMD_PORT  0x64
#define X86_ACPI_SLEEP_PORT 0x600 /* sleep control; status at +1 */

/* CPUID (cpuid.c). */
int x86_cpuid_init(struct vm *vm);
void x86_cpuid_fini(struct vm *vm);
int x86_cpuid_set(struct vcpu *vcpu);

/* A CPU template's changes (cpu_template.c), 0 or -errno with the reason logged. */
struct kvm_cpuid2;
struct kvm_msr_entry;
struct mvm_cpu_template;
/* The KVM capabilities the VM's template adds are there. */
int x86_cpu_template_check_caps(struct vm *vm);
/* Applies t's CPUID changes to c (t may be NULL). */
int x86_cpu_template_cpuid(const struct mvm_cpu_template *t, struct kvm_cpuid2 *c);
/*
 * Applies the VM's template's MSR changes to the *n entries e (room for
 * max): a change of an MSR not among them adds it, with KVM's value as base.
 */
int x86_cpu_template_msrs(struct vcpu *vcpu, struct kvm_msr_entry *e, unsigned int *n,
			  unsigned int max);

/* MSRs, FPU, LAPIC (msr.c). */
int x86_msrs_set(struct vcpu *vcpu);
int x86_fpu_set(struct vcpu *vcpu);
int x86_lapic_set(struct vcpu *vcpu);

/* Entry state of the boot vCPU for vm->arch.boot (boot/entry.c). */
int x86_boot_regs_set(struct vcpu *vcpu);

#endif
