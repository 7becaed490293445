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

/*
 * PCI (src/pci/ reads these; ACPI MCFG/_CRS and the MP table announce
 * them). Guest-physical hole below 4 GiB: BAR window, then ECAM (bus 0
 * only), then IOAPIC 0xfec00000 and LAPIC 0xfee00000.
 */
#define ARCH_PCI_MMIO32_BASE 0xc0000000ULL
#define ARCH_PCI_MMIO32_SIZE 0x20000000ULL /* up to 0xdfffffff */
#define ARCH_PCI_ECAM_BASE   0xe0000000ULL
#define ARCH_PCI_ECAM_SIZE   0x00100000ULL /* bus 0: 32 slots x 8 functions x 4 KiB */
#define ARCH_PCI_IO_BASE     0xc000ULL
#define ARCH_PCI_IO_SIZE     0x4000ULL /* up to 0xffff */
#define ARCH_PCI_CONF1_PORT  0xcf8     /* configuration mechanism #1: 0xcf8 address, 0xcfc data */
/* INTx: level-triggered, active high, GSI 16 + ((slot + pin - 1) % 8) on the IOAPIC. */
#define ARCH_PCI_INTX_GSI_BASE 16
#define ARCH_PCI_INTX_GSI_NR   8
/*
 * virtio-mmio: one 4 KiB window per device from here (after the ECAM, below
 * the IOAPIC), and one edge-triggered GSI per device from 5 on, as
 * Firecracker places them (1 is the i8042's, 4 the UART's).
 */
#define ARCH_VIRTIO_MMIO_BASE	  0xe0100000ULL
#define ARCH_VIRTIO_MMIO_SIZE	  0x1000ULL
#define ARCH_VIRTIO_MMIO_MAX	  32
#define ARCH_VIRTIO_MMIO_GSI_BASE 5
#define ARCH_VIRTIO_MMIO_GSI_LAST 23
/* GSIs 0-23 are the irqchip's pins; MSI routes are allocated from here. */
#define ARCH_MSI_GSI_BASE 24

enum x86_boot_mode {
	X86_BOOT_NONE,	  /* no image loaded: vCPUs keep KVM's reset state */
	X86_BOOT_PVH32,	  /* Xen PVH: 32-bit protected mode, paging off, EBX = start info */
	X86_BOOT_LINUX64, /* Linux 64-bit boot protocol: long mode, RSI = zero page */
	X86_BOOT_RESET,	  /* a firmware image: real mode at the reset vector 0xfffffff0 */
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
	uint64_t firmware_size; /* bytes of the --firmware image; 0: none */
};

struct arch_vcpu {
	uint32_t apic_id;
};

#endif
