/* SPDX-License-Identifier: MIT */
/* x86-64 parts of the VM and vCPU objects, embedded by the core. */
#ifndef MVM_ARCH_X86_H
#define MVM_ARCH_X86_H

#include <stdbool.h>
#include <stdint.h>

struct kvm_cpuid2;

/*
 * What a Linux kernel gets on its command line before the user's: the
 * console on the UART, reboot through the i8042 (mvm's reset device), and a
 * reboot one second after a panic, so a dead guest ends the VM.
 */
#define ARCH_LINUX_CMDLINE "console=ttyS0 reboot=k panic=1"

enum x86_boot_mode {
	X86_BOOT_NONE,	  /* no image loaded: vCPUs keep KVM's reset state */
	X86_BOOT_PVH32,	  /* Xen PVH: 32-bit protected mode, paging off, EBX = start info */
	X86_BOOT_LINUX64, /* Linux 64-bit boot protocol: long mode, RSI = zero page */
};

struct x86_boot {
	enum x86_boot_mode mode;
	uint64_t entry; /* guest-physical entry point */
	uint64_t info;	/* PVH start info or Linux zero page address */
};

struct arch_vm {
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID, adjusted; patched per vCPU */
	bool tsc_deadline;	  /* the in-kernel LAPIC emulates the TSC-deadline timer */
	bool amd;		  /* CPUID vendor AuthenticAMD */
	struct x86_boot boot;
};

struct arch_vcpu {
	uint32_t apic_id;
};

#endif
