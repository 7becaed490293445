/* SPDX-License-Identifier: MIT */
/*
 * The fake architecture of the unit tests: the core builds against it
 * exactly as against src/arch/x86, which shows the arch interface is all a
 * new architecture needs.
 */
#ifndef MVM_ARCH_FAKE_H
#define MVM_ARCH_FAKE_H

#include <stdbool.h>

/* A PCI layout for the tests (what src/pci/ read from the arch). */
#define ARCH_PCI_MMIO32_BASE	  0x40000000ULL
#define ARCH_PCI_MMIO32_SIZE	  0x10000000ULL
#define ARCH_PCI_ECAM_BASE	  0x50000000ULL
#define ARCH_PCI_ECAM_SIZE	  0x00100000ULL
#define ARCH_PCI_IO_BASE	  0xc000ULL
#define ARCH_PCI_IO_SIZE	  0x4000ULL
#define ARCH_PCI_CONF1_PORT	  0xcf8
#define ARCH_PCI_INTX_GSI_BASE	  16
#define ARCH_PCI_INTX_GSI_NR	  8
#define ARCH_MSI_GSI_BASE	  24
#define ARCH_VIRTIO_MMIO_BASE	  0x60000000ULL
#define ARCH_VIRTIO_MMIO_SIZE	  0x1000ULL
#define ARCH_VIRTIO_MMIO_MAX	  32
#define ARCH_VIRTIO_MMIO_GSI_BASE 5
#define ARCH_VIRTIO_MMIO_GSI_LAST 23

#include <stdint.h>

struct arch_vm {
	int loaded;
	uint64_t clock; /* what a snapshot saves of the VM */
};

struct arch_vcpu {
	bool created;
	uint64_t rip; /* what a snapshot saves of a vCPU */
};

#endif
