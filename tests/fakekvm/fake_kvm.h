/* SPDX-License-Identifier: MIT */
/* The test double of KVM behind build/tests/mvm-fakekvm: shared state of its parts. */
#ifndef MVM_FAKEKVM_H
#define MVM_FAKEKVM_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#define FAKEKVM_MAX_VCPUS 64
#define FAKEKVM_MAX_MSRS  32

/* One vCPU: the state KVM keeps for it, and where its scripted guest is. */
struct fake_vcpu {
	bool used;
	int fd;
	unsigned int id;
	struct kvm_run *run;
	/* What the VMM last set; KVM_GET_* give it back. */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_lapic_state lapic;
	struct kvm_msr_entry msrs[FAKEKVM_MAX_MSRS];
	unsigned int nmsrs;
	unsigned int cpuid_nent; /* entries of the last KVM_SET_CPUID2 */
	unsigned int runs;	 /* KVM_RUN calls */
	/* the scripted guest (fake_guest.c) */
	unsigned int step;     /* where the boot program is */
	bool in_pending;       /* the last exit was an IN: its data is at io.data_offset */
	unsigned int kbd_seen; /* keyboard interrupts taken */
	uint8_t keys[4];       /* the last scan codes read, newest last */
	uint64_t start_ns;     /* first KVM_RUN */
	bool action_done;      /* the timed action of MVM_FAKE_GUEST_ACTION */
};

/* The vCPU of a fake fd, or NULL. */
struct fake_vcpu *fake_vcpu_of(int fd);
/* The vCPU in slot i, or NULL. */
struct fake_vcpu *fake_vcpu_of_index(unsigned int i);

/* Keyboard interrupts raised by the VMM (rising edges of GSI 1). */
extern unsigned int fake_kbd_irqs;

/* KVM_RUN on a vCPU: what the scripted guest does next (fake_guest.c). */
int fake_guest_run(struct fake_vcpu *v);
/* Wakes every halted vCPU (an interrupt arrived). */
void fake_guest_wake_all(void);
/* Reads the guest's script from the environment (once, before any vCPU runs). */
void fake_guest_setup(void);

#endif
