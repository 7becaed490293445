/* SPDX-License-Identifier: MIT */
/*
 * Guest kit: PCI enumeration through configuration mechanism #1 (ports
 * 0xcf8/0xcfc, usable from ring 3), BAR sizing and, where firmware or the
 * VMM left a BAR unassigned (0, or above the 4 GiB the guest maps), placement
 * in the 32-bit window 0xc0000000-0xdfffffff.
 */
#ifndef GUEST_PCI_H
#define GUEST_PCI_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_VENDOR_VIRTIO 0x1af4
#define PCI_MMIO32_BASE	  0xc0000000u
#define PCI_MMIO32_END	  0xe0000000u

#define PCI_COMMAND		 0x04
#define PCI_COMMAND_IO		 0x1
#define PCI_COMMAND_MEMORY	 0x2
#define PCI_COMMAND_MASTER	 0x4
#define PCI_COMMAND_INTX_DISABLE 0x400
#define PCI_STATUS		 0x06
#define PCI_STATUS_CAP_LIST	 0x10
#define PCI_BAR0		 0x10
#define PCI_CAP_PTR		 0x34
#define PCI_INTERRUPT_PIN	 0x3d
#define PCI_CAP_ID_VNDR		 0x09
#define PCI_CAP_ID_MSIX		 0x11

struct pci_dev {
	uint8_t bus, slot, fn;
	uint16_t vendor, device;
	uint32_t class_rev;
};

uint32_t pci_read32(const struct pci_dev *d, unsigned int off);
uint16_t pci_read16(const struct pci_dev *d, unsigned int off);
uint8_t pci_read8(const struct pci_dev *d, unsigned int off);
void pci_write32(const struct pci_dev *d, unsigned int off, uint32_t v);
void pci_write16(const struct pci_dev *d, unsigned int off, uint16_t v);

/* Calls fn for every function on bus 0 (vendor != 0xffff); stops if fn returns true. */
void pci_for_each(bool (*fn)(const struct pci_dev *d, void *arg), void *arg);
/* The index-th function with this vendor/device id (0-based). 0, or -1 if none. */
int pci_find(uint16_t vendor, uint16_t device, unsigned int index, struct pci_dev *out);
/* Prints one line per function: "pci: 00:03.0 1af4:1042 class 0x010000". Returns the count. */
unsigned int pci_list(void);
/*
 * Address of memory BAR `bar` (64-bit BARs combined), placing it if it is
 * unassigned or above 4 GiB; enables memory decoding and bus mastering.
 * 0 if the BAR does not exist or is an I/O BAR. *size gets its size.
 */
uint64_t pci_bar_map(const struct pci_dev *d, unsigned int bar, uint64_t *size);
/* Offset of the first capability with this id at or after `from` (0: the start); 0 if none. */
unsigned int pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned int from);

#endif
