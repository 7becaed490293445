// SPDX-License-Identifier: MIT
/*
 * MSI-X: the capability, the vector table and the PBA in a BAR, masking,
 * and delivery through a KVM GSI route + irqfd per vector.
 *
 * A vector's route is made (or refreshed after the guest rewrote its
 * address/data) when the vector fires, so routes cost a KVM_SET_GSI_ROUTING
 * only for vectors in use; from then on an interrupt is one eventfd write.
 * If routing fails (no GSI left), the message goes out with KVM_SIGNAL_MSI.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "pci/host.h"

#define MSIX_CAP_SIZE 12

int pci_dev_add_msix(struct pci_dev *pdev, unsigned int nr, unsigned int bar, uint32_t table_off,
		     uint32_t pba_off)
{
	struct pci_msix *m = &pdev->msix;
	uint8_t cap[MSIX_CAP_SIZE] = { PCI_CAP_ID_MSIX };
	uint64_t bar_size;
	unsigned int v;
	int off, err;

	if (m->nr || nr == 0 || nr > PCI_MSIX_MAX_VECTORS || bar >= PCI_NUM_BARS)
		return -EINVAL;
	bar_size = pdev->bars[bar].size;
	if (pdev->bars[bar].bus != MVM_BUS_MMIO || !bar_size || table_off % 8 || pba_off % 8 ||
	    table_off + nr * PCI_MSIX_ENTRY_SIZE > bar_size || pba_off + 8 > bar_size ||
	    (table_off < pba_off + 8 && pba_off < table_off + nr * PCI_MSIX_ENTRY_SIZE))
		return -EINVAL;

	pci_put16(&cap[PCI_MSIX_FLAGS], (uint16_t)(nr - 1));
	pci_put32(&cap[4], table_off | bar);
	pci_put32(&cap[8], pba_off | bar);
	off = pci_dev_add_cap(pdev, cap, sizeof(cap));
	if (off < 0)
		return off;

	for (v = 0; v < nr; v++) {
		m->efd[v] = mvm_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (m->efd[v] < 0) {
			err = -errno;
			goto err_efd;
		}
		m->gsi[v] = -1;
		m->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT; /* masked at reset */
	}
	/* Enable and function mask are the only writable bits. */
	pci_put16(&pdev->wmask[off + PCI_MSIX_FLAGS], PCI_MSIX_ENABLE | PCI_MSIX_MASKALL);
	m->nr = nr;
	m->bar = bar;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->cap = (uint16_t)off;
	return 0;

err_efd:
	while (v-- > 0) {
		close(m->efd[v]);
		m->efd[v] = -1;
	}
	/* The capability stays in config space but without vectors (nr == 0 fails its use). */
	return err;
}

void pci_msix_release(struct pci_dev *pdev)
{
	struct pci_msix *m = &pdev->msix;
	struct vm *vm = pdev->dev.vm;
	unsigned int v;

	for (v = 0; v < PCI_MSIX_MAX_VECTORS; v++) {
		if (m->gsi[v] >= 0) {
			vm_irqfd(vm, m->efd[v], (unsigned int)m->gsi[v], false);
			vm_msi_route_free(vm, m->gsi[v]);
			m->gsi[v] = -1;
		}
		if (m->efd[v] >= 0) {
			close(m->efd[v]);
			m->efd[v] = -1;
		}
	}
}

static bool msix_vector_masked(const struct pci_msix *m, unsigned int v)
{
	return m->masked || (m->table[v].ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
}

/* Sends vector v now (enabled, unmasked). pdev->lock held. */
static void msix_fire(struct pci_dev *pdev, unsigned int v)
{
	struct pci_msix *m = &pdev->msix;
	const struct pci_msix_entry *e = &m->table[v];
	uint64_t addr = (uint64_t)e->addr_hi << 32 | e->addr_lo;
	struct vm *vm = pdev->dev.vm;
	uint64_t one = 1;
	int gsi, err;

	if (m->gsi[v] < 0 || m->route_stale[v]) {
		err = vm_msi_route(vm, m->gsi[v], addr, e->data, &gsi);
		if (!err && m->gsi[v] < 0) {
			err = vm_irqfd(vm, m->efd[v], (unsigned int)gsi, true);
			if (err)
				vm_msi_route_free(vm, gsi);
			else
				m->gsi[v] = gsi;
		}
		if (err) {
			/* Still deliver it: a slower ioctl instead of the eventfd. */
			vm_msi(vm, addr, e->data);
			return;
		}
		m->route_stale[v] = false;
	}
	if (write(m->efd[v], &one, sizeof(one)) < 0 && errno != EAGAIN)
		pr_warn_ratelimited("%s: MSI-X vector %u: %s", pdev->dev.name, v, strerror(errno));
}

int pci_msix_notify(struct pci_dev *pdev, unsigned int v)
{
	struct pci_msix *m = &pdev->msix;
	int err = 0;

	pthread_mutex_lock(&pdev->lock);
	if (v >= m->nr) {
		err = -EINVAL;
	} else if (!m->enabled) {
		err = -ENODEV;
	} else if (msix_vector_masked(m, v)) {
		m->pending[v / 64] |= 1ULL << (v % 64);
	} else {
		msix_fire(pdev, v);
	}
	pthread_mutex_unlock(&pdev->lock);
	return err;
}

bool pci_msix_enabled(struct pci_dev *pdev)
{
	bool on;

	pthread_mutex_lock(&pdev->lock);
	on = pdev->msix.nr && pdev->msix.enabled;
	pthread_mutex_unlock(&pdev->lock);
	return on;
}

/* Pending vectors that are no longer masked go out now. */
static void msix_flush_pending(struct pci_dev *pdev)
{
	struct pci_msix *m = &pdev->msix;
	unsigned int v;

	if (!m->enabled)
		return;
	for (v = 0; v < m->nr; v++) {
		if (!(m->pending[v / 64] & (1ULL << (v % 64))) || msix_vector_masked(m, v))
			continue;
		m->pending[v / 64] &= ~(1ULL << (v % 64));
		msix_fire(pdev, v);
	}
}

/* The guest wrote Message Control (config space). */
void pci_msix_ctrl_changed(struct pci_dev *pdev)
{
	struct pci_msix *m = &pdev->msix;
	uint16_t ctrl = pci_cfg16(pdev, m->cap + PCI_MSIX_FLAGS);
	bool was = m->enabled;

	m->enabled = ctrl & PCI_MSIX_ENABLE;
	m->masked = ctrl & PCI_MSIX_MASKALL;
	/* With MSI-X on, the function must not use INTx. */
	if (was != m->enabled)
		pci_intx_update(pdev);
	msix_flush_pending(pdev);
	if (pdev->pops && pdev->pops->msix_changed)
		pdev->pops->msix_changed(pdev);
}

/* Table and PBA accesses; false when off is in neither. pdev->lock held. */
bool pci_msix_access(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		     unsigned int len, bool write)
{
	struct pci_msix *m = &pdev->msix;
	uint64_t table_len = (uint64_t)m->nr * PCI_MSIX_ENTRY_SIZE;

	(void)bar;
	if (off >= m->table_off && off - m->table_off < table_len) {
		uint64_t t = off - m->table_off;
		unsigned int v = (unsigned int)(t / PCI_MSIX_ENTRY_SIZE);
		unsigned int in = (unsigned int)(t % PCI_MSIX_ENTRY_SIZE);
		struct pci_msix_entry *e = &m->table[v];
		struct pci_msix_entry n = *e;
		bool was_masked;

		/* Dword or qword accesses, aligned, inside one entry (PCI spec 6.8.2). */
		if ((len != 4 && len != 8) || in % len) {
			if (!write)
				memset(data, 0xff, len);
			return true;
		}
		if (!write) {
			memcpy(data, (uint8_t *)e + in, len);
			return true;
		}
		memcpy((uint8_t *)&n + in, data, len);
		was_masked = msix_vector_masked(m, v);
		n.ctrl = (e->ctrl & ~PCI_MSIX_ENTRY_CTRL_MASKBIT) |
			 (n.ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT);
		if (n.addr_lo != e->addr_lo || n.addr_hi != e->addr_hi || n.data != e->data)
			m->route_stale[v] = true;
		*e = n;
		if (was_masked && !msix_vector_masked(m, v))
			msix_flush_pending(pdev);
		return true;
	}
	if (off >= m->pba_off && off - m->pba_off < ALIGN_UP((uint64_t)m->nr, 64) / 8) {
		uint64_t p = off - m->pba_off;

		if (!write) {
			uint8_t bytes[sizeof(m->pending)];

			memcpy(bytes, m->pending, sizeof(bytes));
			if (p + len <= sizeof(bytes))
				memcpy(data, bytes + p, len);
			else
				memset(data, 0, len);
		}
		return true; /* the PBA is read-only */
	}
	return false;
}
