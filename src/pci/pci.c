// SPDX-License-Identifier: MIT
/*
 * A PCI function: type-0 configuration space with capabilities, BARs (sizing
 * through write masks, moves), INTx, binding to a slot of the host bridge.
 *
 * Configuration writes are untrusted (DESIGN.md §4): every byte goes through
 * a write mask (and a write-1-to-clear mask), so the guest changes only what
 * a real function lets it change; BAR sizing falls out of the masks.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "pci/host.h"

#define PCI_CACHE_LINE_SIZE 0x0c
#define PCI_LATENCY_TIMER   0x0d
#define PCI_HEADER_END	    0x40
#define PCI_BAR_END	    (PCI_BASE_ADDRESS_0 + 4 * PCI_NUM_BARS)

unsigned int pci_intx_gsi(unsigned int slot, unsigned int pin)
{
	return ARCH_PCI_INTX_GSI_BASE + (slot + pin - 1) % ARCH_PCI_INTX_GSI_NR;
}

void pci_dev_init(struct pci_dev *pdev, const struct pci_dev_ops *pops, uint16_t vendor,
		  uint16_t device, uint8_t revision, uint32_t class_code, uint16_t subsys_vendor,
		  uint16_t subsys_id)
{
	unsigned int v;

	pdev->pops = pops;
	pdev->slot = -1;
	pthread_mutex_init(&pdev->lock, NULL);
	for (v = 0; v < PCI_MSIX_MAX_VECTORS; v++) {
		pdev->msix.gsi[v] = -1;
		pdev->msix.efd[v] = -1;
	}
	pci_put16(&pdev->cfg[PCI_VENDOR_ID], vendor);
	pci_put16(&pdev->cfg[PCI_DEVICE_ID], device);
	pdev->cfg[PCI_REVISION_ID] = revision;
	pdev->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	pci_put16(&pdev->cfg[PCI_CLASS_DEVICE], (uint16_t)(class_code >> 8));
	pdev->cfg[PCI_HEADER_TYPE] = 0;
	pci_put16(&pdev->cfg[PCI_SUBSYSTEM_VENDOR_ID], subsys_vendor);
	pci_put16(&pdev->cfg[PCI_SUBSYSTEM_ID], subsys_id);

	pci_put16(&pdev->wmask[PCI_COMMAND], PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
						     PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	pdev->wmask[PCI_CACHE_LINE_SIZE] = 0xff;
	pdev->wmask[PCI_LATENCY_TIMER] = 0xff;
	pdev->wmask[PCI_INTERRUPT_LINE] = 0xff;
	pdev->cap_end = PCI_HEADER_END;
}

int pci_dev_add_bar(struct pci_dev *pdev, unsigned int bar, enum mvm_bus_type bus, uint64_t size,
		    bool is64)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	uint64_t mask;

	if (bar >= PCI_NUM_BARS || pdev->bars[bar].size || (size & (size - 1)) ||
	    (bus == MVM_BUS_PIO && (is64 || size < 4 || size > 256)) ||
	    (bus == MVM_BUS_MMIO && size < 16) || (is64 && (bar == PCI_NUM_BARS - 1)) ||
	    (is64 && pdev->bars[bar + 1].size) || (!is64 && size > (1ULL << 31)) ||
	    bus >= MVM_BUS_NR)
		return -EINVAL;
	if (bar > 0 && pdev->bars[bar - 1].is64)
		return -EINVAL; /* the upper half of a 64-bit BAR */

	pdev->bars[bar] = (struct pci_bar){ .size = size, .bus = bus, .is64 = is64 };
	mask = ~(size - 1);
	if (bus == MVM_BUS_PIO) {
		pci_put32(&pdev->cfg[off], PCI_BAR_IO);
		pci_put32(&pdev->wmask[off], (uint32_t)mask & ~0x3u);
	} else {
		pci_put32(&pdev->cfg[off], is64 ? PCI_BAR_MEM_TYPE_64 : 0);
		pci_put32(&pdev->wmask[off], (uint32_t)mask & ~0xfu);
		if (is64)
			pci_put32(&pdev->wmask[off + 4], (uint32_t)(mask >> 32));
	}
	return 0;
}

uint64_t pci_bar_addr(const struct pci_dev *pdev, unsigned int bar)
{
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * bar;
	const struct pci_bar *b = &pdev->bars[bar];
	uint64_t addr;

	if (bar >= PCI_NUM_BARS || !b->size)
		return 0;
	addr = pci_cfg32(pdev, off) & (b->bus == MVM_BUS_PIO ? ~0x3u : ~0xfu);
	if (b->is64)
		addr |= (uint64_t)pci_cfg32(pdev, off + 4) << 32;
	return addr;
}

int pci_dev_add_cap(struct pci_dev *pdev, const void *cap, unsigned int len)
{
	unsigned int off = ALIGN_UP(pdev->cap_end, 4u);

	if (len < 2 || off + len > 256)
		return -ENOSPC;
	memcpy(&pdev->cfg[off], cap, len);
	pdev->cfg[off + 1] = 0;
	if (pdev->cap_last)
		pdev->cfg[pdev->cap_last + 1] = (uint8_t)off;
	else
		pdev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)off;
	pdev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	pdev->cap_last = (uint16_t)off;
	pdev->cap_end = (uint16_t)(off + len);
	return (int)off;
}

void pci_dev_set_intx(struct pci_dev *pdev, unsigned int pin)
{
	pdev->intx_pin = pin <= 4 ? pin : 0;
	pdev->cfg[PCI_INTERRUPT_PIN] = (uint8_t)pdev->intx_pin;
}

void pci_dev_release(struct pci_dev *pdev)
{
	pci_msix_release(pdev);
	pthread_mutex_destroy(&pdev->lock);
}

/* ---- INTx ---- */

/* With pdev->lock held: tell the host bridge what the pin does now. */
void pci_intx_update(struct pci_dev *pdev)
{
	bool level = pdev->intx_level &&
		     !(pci_cfg16(pdev, PCI_COMMAND) & PCI_COMMAND_INTX_DISABLE) &&
		     !pdev->msix.enabled && pdev->slot >= 0;

	/* The status bit shows the function's request, masked or not. */
	if (pdev->intx_level)
		pdev->cfg[PCI_STATUS] |= PCI_STATUS_INTERRUPT;
	else
		pdev->cfg[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTERRUPT;
	if (level == pdev->intx_asserted || !pdev->host)
		return;
	pdev->intx_asserted = level;
	pci_host_intx(pdev->host, pdev->intx_gsi, level);
}

void pci_intx_set(struct pci_dev *pdev, bool level)
{
	if (!pdev->intx_pin)
		return;
	pthread_mutex_lock(&pdev->lock);
	pdev->intx_level = level;
	pci_intx_update(pdev);
	pthread_mutex_unlock(&pdev->lock);
}

/* ---- configuration space ---- */

void pci_cfg_read(struct pci_dev *pdev, unsigned int off, void *data, unsigned int len)
{
	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off) {
		memset(data, 0xff, len);
		return;
	}
	if (pdev->pops && pdev->pops->cfg_access &&
	    pdev->pops->cfg_access(pdev, off, data, len, false))
		return;
	pthread_mutex_lock(&pdev->lock);
	memcpy(data, &pdev->cfg[off], len);
	pthread_mutex_unlock(&pdev->lock);
}

static bool pci_bar_in_window(const struct pci_bar *b, uint64_t addr)
{
	uint64_t base = b->bus == MVM_BUS_PIO ? ARCH_PCI_IO_BASE : ARCH_PCI_MMIO32_BASE;
	uint64_t size = b->bus == MVM_BUS_PIO ? ARCH_PCI_IO_SIZE : ARCH_PCI_MMIO32_SIZE;

	return addr >= base && addr - base < size && b->size <= size - (addr - base);
}

/* After BAR or command changes: the host's decode table, the device's mappings. */
static void pci_bars_changed(struct pci_dev *pdev)
{
	uint16_t cmd = pci_cfg16(pdev, PCI_COMMAND);
	unsigned int i;

	if (!pdev->host)
		return;
	pci_host_decode_update(pdev->host, pdev);
	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &pdev->bars[i];
		uint64_t addr = pci_bar_addr(pdev, i);
		bool on = cmd & (b->bus == MVM_BUS_PIO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY);
		int err;

		/* Only a BAR the guest enabled has moved; sizing happens with decode off. */
		if (!b->size || !on || !addr)
			continue;
		/*
		 * Outside the host bridge's windows nothing decodes it: its
		 * ioeventfds (say) must not sit on RAM or another device.
		 */
		if (!pci_bar_in_window(b, addr))
			addr = 0;
		if (addr == b->mapped)
			continue;
		if (pdev->pops && pdev->pops->bar_remap) {
			err = pdev->pops->bar_remap(pdev, i, addr);
			if (err)
				pr_warn_ratelimited("%s: moving BAR%u to 0x%llx: %s",
						    pdev->dev.name, i, (unsigned long long)addr,
						    strerror(-err));
		}
		b->mapped = addr;
	}
}

static bool ranges_overlap(unsigned int a, unsigned int alen, unsigned int b, unsigned int blen)
{
	return a < b + blen && b < a + alen;
}

void pci_cfg_write(struct pci_dev *pdev, unsigned int off, const void *data, unsigned int len)
{
	const uint8_t *p = data;
	uint16_t old_cmd;
	unsigned int i;

	if (off >= PCI_CFG_SIZE || len > PCI_CFG_SIZE - off)
		return;
	if (pdev->pops && pdev->pops->cfg_access &&
	    pdev->pops->cfg_access(pdev, off, (void *)data, len, true))
		return;
	pthread_mutex_lock(&pdev->lock);
	old_cmd = pci_cfg16(pdev, PCI_COMMAND);
	for (i = 0; i < len; i++) {
		unsigned int o = off + i;
		uint8_t w = pdev->wmask[o];

		pdev->cfg[o] = (uint8_t)((pdev->cfg[o] & ~w) | (p[i] & w));
		pdev->cfg[o] &= (uint8_t) ~(p[i] & pdev->w1cmask[o]);
	}
	if (ranges_overlap(off, len, PCI_COMMAND, 2) ||
	    ranges_overlap(off, len, PCI_BASE_ADDRESS_0, PCI_BAR_END - PCI_BASE_ADDRESS_0))
		pci_bars_changed(pdev);
	if ((old_cmd ^ pci_cfg16(pdev, PCI_COMMAND)) & PCI_COMMAND_INTX_DISABLE)
		pci_intx_update(pdev);
	if (pdev->msix.nr && ranges_overlap(off, len, pdev->msix.cap + PCI_MSIX_FLAGS, 2))
		pci_msix_ctrl_changed(pdev);
	pthread_mutex_unlock(&pdev->lock);
}

/* ---- BAR accesses (from the host bridge's decode) ---- */

void pci_bar_access(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		    unsigned int len, bool write)
{
	bool done;

	if (pdev->msix.nr && bar == pdev->msix.bar) {
		pthread_mutex_lock(&pdev->lock);
		done = pci_msix_access(pdev, bar, off, data, len, write);
		pthread_mutex_unlock(&pdev->lock);
		if (done)
			return;
	}
	if (write) {
		if (pdev->pops && pdev->pops->bar_write)
			pdev->pops->bar_write(pdev, bar, off, data, len);
	} else if (pdev->pops && pdev->pops->bar_read) {
		pdev->pops->bar_read(pdev, bar, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
}

/* ---- binding ---- */

int pci_dev_register(struct pci_dev *pdev)
{
	struct pci_host *host = pdev->dev.vm ? pdev->dev.vm->pci : NULL;
	int err;

	if (!host) {
		pr_err("%s: no PCI host bridge in this VM", pdev->dev.name);
		return -ENODEV;
	}
	if (pdev->dev.ops->unregister != pci_dev_unregister_op)
		return -EINVAL; /* the core would not unbind it */
	err = pci_host_bind(host, pdev);
	if (err)
		return err;
	pdev->dev.fw.pci.present = true;
	pdev->dev.fw.pci.slot = (uint8_t)pdev->slot;
	pdev->dev.fw.pci.intx_pin = pdev->intx_pin;
	pdev->dev.fw.pci.intx_gsi = pdev->intx_gsi;
	err = mvm_device_register(&pdev->dev);
	if (err) {
		pci_host_unbind(host, pdev);
		return err;
	}
	/* Last: only now can the guest find it. */
	pci_host_publish(host, pdev);
	return 0;
}

void pci_dev_unregister_op(struct mvm_device *dev)
{
	struct pci_dev *pdev = to_pci_dev(dev);

	if (pdev->host)
		pci_host_unbind(pdev->host, pdev);
	if (pdev->pops && pdev->pops->unregister)
		pdev->pops->unregister(pdev);
}

void pci_dev_unregister(struct pci_dev *pdev)
{
	mvm_device_unregister(&pdev->dev);
}

unsigned int pci_dev_bars(struct mvm_device *dev, struct pci_bar_view *out, unsigned int max)
{
	struct pci_dev *pdev = to_pci_dev(dev);
	unsigned int i, n = 0;

	pthread_mutex_lock(&pdev->lock);
	for (i = 0; i < PCI_NUM_BARS && n < max; i++)
		if (pdev->bars[i].size)
			out[n++] =
				(struct pci_bar_view){ i, pci_bar_addr(pdev, i), pdev->bars[i].size,
						       pdev->bars[i].bus == MVM_BUS_PIO };
	pthread_mutex_unlock(&pdev->lock);
	return n;
}

/* ---- snapshots ---- */

int pci_dev_save(struct pci_dev *pdev, struct snap_buf *out)
{
	struct pci_msix *m = &pdev->msix;
	unsigned int v;

	pthread_mutex_lock(&pdev->lock);
	snap_put(out, pdev->cfg, PCI_CFG_SIZE);
	snap_put_u8(out, pdev->intx_level);
	snap_put_u32(out, m->nr);
	for (v = 0; v < m->nr; v++) {
		snap_put_u32(out, m->table[v].addr_lo);
		snap_put_u32(out, m->table[v].addr_hi);
		snap_put_u32(out, m->table[v].data);
		snap_put_u32(out, m->table[v].ctrl);
	}
	for (v = 0; v < ARRAY_SIZE(m->pending); v++)
		snap_put_u64(out, m->pending[v]);
	pthread_mutex_unlock(&pdev->lock);
	return out->err;
}

/* Bytes of the header no guest write changes (ids, class, BAR types...): the same function? */
static bool pci_same_function(const struct pci_dev *pdev, const uint8_t *cfg)
{
	unsigned int o;

	for (o = 0; o < PCI_CFG_SIZE; o++) {
		if (pdev->wmask[o] || pdev->w1cmask[o] || o == PCI_STATUS)
			continue;
		if (cfg[o] != pdev->cfg[o])
			return false;
	}
	return true;
}

int pci_dev_restore(struct pci_dev *pdev, struct snap_cur *in)
{
	struct pci_msix *m = &pdev->msix;
	struct pci_msix_entry table[PCI_MSIX_MAX_VECTORS];
	uint64_t pending[ARRAY_SIZE(m->pending)];
	uint8_t *cfg, intx;
	uint32_t nr;
	unsigned int v;
	int err = 0;

	cfg = mvm_zalloc(PCI_CFG_SIZE);
	if (!cfg)
		return -ENOMEM;
	snap_get(in, cfg, PCI_CFG_SIZE);
	intx = snap_get_u8(in);
	nr = snap_get_u32(in);
	if (nr != m->nr) {
		pr_err("%s: the snapshot has %u MSI-X vectors, this device %u", pdev->dev.name, nr,
		       m->nr);
		err = -EINVAL;
		goto out;
	}
	for (v = 0; v < nr; v++) {
		table[v].addr_lo = snap_get_u32(in);
		table[v].addr_hi = snap_get_u32(in);
		table[v].data = snap_get_u32(in);
		table[v].ctrl = snap_get_u32(in);
	}
	for (v = 0; v < ARRAY_SIZE(pending); v++)
		pending[v] = snap_get_u64(in);
	if (in->err || intx > 1) {
		pr_err("%s: saved PCI state is malformed", pdev->dev.name);
		err = -EBADMSG;
		goto out;
	}
	pthread_mutex_lock(&pdev->lock);
	if (!pci_same_function(pdev, cfg)) {
		pthread_mutex_unlock(&pdev->lock);
		pr_err("%s: the snapshot's PCI function is not this one (ids, class or layout "
		       "differ)",
		       pdev->dev.name);
		err = -EINVAL;
		goto out;
	}
	memcpy(pdev->cfg, cfg, PCI_CFG_SIZE);
	memcpy(m->table, table, nr * sizeof(table[0]));
	memcpy(m->pending, pending, sizeof(pending));
	/* Routes are made again on first use, from the restored table. */
	for (v = 0; v < nr; v++)
		m->route_stale[v] = true;
	pdev->intx_level = intx;
	pci_bars_changed(pdev);
	pci_intx_update(pdev);
	if (m->nr)
		pci_msix_ctrl_changed(pdev);
	pthread_mutex_unlock(&pdev->lock);
out:
	free(cfg);
	return err;
}
