/* SPDX-License-Identifier: MIT */
/* Internals shared by the PCI host bridge and the PCI device code (src/pci/). */
#ifndef MVM_HW_PCI_HOST_H
#define MVM_HW_PCI_HOST_H

#include <pthread.h>
#include <stdint.h>

#include "arch/mvm_arch.h"
#include "mvm/pci.h"

/* One BAR the guest enabled: accesses to [base, base + len) go to pdev. */
struct pci_decode {
	enum mvm_bus_type bus;
	uint64_t base, len;
	struct pci_dev *pdev;
	unsigned int bar;
};

struct pci_host {
	struct mvm_device dev;
	pthread_rwlock_t lock; /* slots, decode table */
	struct pci_dev *slots[PCI_MAX_SLOTS];
	uint32_t reserved; /* slots being bound or bound */
	struct pci_decode decode[PCI_MAX_SLOTS * PCI_NUM_BARS];
	unsigned int nr_decode;

	pthread_mutex_t mutex; /* conf1 address, BAR allocators, INTx counts */
	uint32_t conf1_addr;
	uint64_t mmio_next, io_next;
	unsigned int intx_count[ARCH_PCI_INTX_GSI_NR];

	uint8_t bridge_cfg[256]; /* slot 0: the host bridge function */
};

/* Device I/O ranges of the host bridge (its dev.io[] indexes). */
enum { PCI_HOST_IO_CONF1, PCI_HOST_IO_ECAM, PCI_HOST_IO_MMIO, PCI_HOST_IO_PIO };

/* host.c */
void pci_host_decode_update(struct pci_host *host, struct pci_dev *pdev);
void pci_host_intx(struct pci_host *host, unsigned int gsi, bool assert);
/* Reserves a slot, places the BARs, sets INTx up; then publish makes it visible. */
int pci_host_bind(struct pci_host *host, struct pci_dev *pdev);
void pci_host_publish(struct pci_host *host, struct pci_dev *pdev);
/* Hides it from the guest, then undoes bind. */
void pci_host_unbind(struct pci_host *host, struct pci_dev *pdev);

/* pci_msix.c, called with pdev->lock held */
bool pci_msix_access(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		     unsigned int len, bool write);
void pci_msix_ctrl_changed(struct pci_dev *pdev);
void pci_msix_release(struct pci_dev *pdev);

/* pci.c, with pdev->lock held */
void pci_intx_update(struct pci_dev *pdev);

static inline uint16_t pci_cfg16(const struct pci_dev *pdev, unsigned int off)
{
	return (uint16_t)(pdev->cfg[off] | pdev->cfg[off + 1] << 8);
}

static inline uint32_t pci_cfg32(const struct pci_dev *pdev, unsigned int off)
{
	return (uint32_t)pdev->cfg[off] | (uint32_t)pdev->cfg[off + 1] << 8 |
	       (uint32_t)pdev->cfg[off + 2] << 16 | (uint32_t)pdev->cfg[off + 3] << 24;
}

#endif
