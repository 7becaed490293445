// SPDX-License-Identifier: MIT
/*
 * The PCI host bridge: bus 0 with 32 slots, reached through configuration
 * mechanism #1 (0xcf8 address, 0xcfc-0xcff data) and ECAM; it claims the
 * arch's BAR windows and hands each access to the function whose enabled
 * BAR decodes it. Slot 0 is the host bridge function itself.
 *
 * Locks: host->lock (rwlock) guards slots and the decode table; lookups take
 * a device reference and drop the lock before calling the device, so device
 * code (which takes pdev->lock, then possibly host->lock to update the
 * decode table) never runs under it. host->mutex guards conf1's address
 * register, the BAR allocators and the shared INTx lines.
 */
#include <errno.h>
#include <string.h>

#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/vm.h"
#include "pci/host.h"

#define CONF1_ENABLE 0x80000000u

/* The host bridge function: Intel's id for a virtual PCIe host (as cloud-hypervisor). */
#define HOST_BRIDGE_VENDOR    0x8086
#define HOST_BRIDGE_DEVICE    0x0d57
#define PCI_CLASS_BRIDGE_HOST 0x060000

static struct pci_host *to_host(struct mvm_device *dev)
{
	return container_of(dev, struct pci_host, dev);
}

/* ---- slots and the decode table ---- */

/* The function at slot (function 0 only), with a reference; NULL if none. */
static struct pci_dev *host_get_slot(struct pci_host *host, unsigned int slot)
{
	struct pci_dev *pdev;

	pthread_rwlock_rdlock(&host->lock);
	pdev = slot < PCI_MAX_SLOTS ? host->slots[slot] : NULL;
	if (pdev)
		mvm_device_get(&pdev->dev);
	pthread_rwlock_unlock(&host->lock);
	return pdev;
}

/* Rebuilds pdev's entries of the decode table from its config space (pdev->lock held). */
void pci_host_decode_update(struct pci_host *host, struct pci_dev *pdev)
{
	uint16_t cmd = pci_cfg16(pdev, PCI_COMMAND);
	unsigned int i, j;

	pthread_rwlock_wrlock(&host->lock);
	for (i = j = 0; i < host->nr_decode; i++)
		if (host->decode[i].pdev != pdev)
			host->decode[j++] = host->decode[i];
	host->nr_decode = j;
	for (i = 0; pdev->slot >= 0 && host->slots[pdev->slot] == pdev && i < PCI_NUM_BARS; i++) {
		const struct pci_bar *b = &pdev->bars[i];
		uint64_t addr = pci_bar_addr(pdev, i);

		if (!b->size ||
		    !(cmd & (b->bus == MVM_BUS_PIO ? PCI_COMMAND_IO : PCI_COMMAND_MEMORY)))
			continue;
		if (addr + b->size < addr)
			continue; /* wraps: decodes nothing */
		host->decode[host->nr_decode++] =
			(struct pci_decode){ b->bus, addr, b->size, pdev, i };
	}
	pthread_rwlock_unlock(&host->lock);
}

/* The function decoding [addr, addr + len) on bus, with a reference. */
static struct pci_dev *host_decode(struct pci_host *host, enum mvm_bus_type bus, uint64_t addr,
				   unsigned int len, unsigned int *bar, uint64_t *off)
{
	struct pci_dev *pdev = NULL;
	unsigned int i;

	pthread_rwlock_rdlock(&host->lock);
	for (i = 0; i < host->nr_decode; i++) {
		const struct pci_decode *d = &host->decode[i];

		/* Overlapping BARs are the guest's doing: the first one wins. */
		if (d->bus == bus && addr >= d->base && addr - d->base < d->len &&
		    len <= d->len - (addr - d->base)) {
			pdev = d->pdev;
			*bar = d->bar;
			*off = addr - d->base;
			mvm_device_get(&pdev->dev);
			break;
		}
	}
	pthread_rwlock_unlock(&host->lock);
	return pdev;
}

static void host_window_access(struct pci_host *host, enum mvm_bus_type bus, uint64_t addr,
			       void *data, unsigned int len, bool write)
{
	struct pci_dev *pdev;
	unsigned int bar;
	uint64_t off;

	pdev = host_decode(host, bus, addr, len, &bar, &off);
	if (!pdev) {
		/* No BAR there: what the bus does for an address nobody claims. */
		struct mvm_bus *b = &host->dev.vm->buses[bus];

		counter_inc(write ? &b->unclaimed_writes : &b->unclaimed_reads);
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	counter_inc(write ? &pdev->dev.writes : &pdev->dev.reads);
	pci_bar_access(pdev, bar, off, data, len, write);
	mvm_device_put(&pdev->dev);
}

/* ---- configuration space ---- */

static void host_cfg_access(struct pci_host *host, unsigned int slot, unsigned int fn,
			    unsigned int reg, void *data, unsigned int len, bool write)
{
	struct pci_dev *pdev;

	if (fn != 0 || slot >= PCI_MAX_SLOTS)
		goto absent;
	if (slot == 0) {
		/* The host bridge function: read-only, 256 bytes. */
		if (write)
			return;
		if (reg + len <= sizeof(host->bridge_cfg))
			memcpy(data, &host->bridge_cfg[reg], len);
		else
			memset(data, 0, len);
		return;
	}
	pdev = host_get_slot(host, slot);
	if (!pdev)
		goto absent;
	if (write)
		pci_cfg_write(pdev, reg, data, len);
	else
		pci_cfg_read(pdev, reg, data, len);
	mvm_device_put(&pdev->dev);
	return;
absent:
	if (!write)
		memset(data, 0xff, len);
}

static void host_conf1(struct pci_host *host, uint64_t off, void *data, unsigned int len,
		       bool write)
{
	uint32_t addr;

	if (off < 4) {
		/* The address register: dword accesses only, as on real chipsets. */
		if (off != 0 || len != 4) {
			if (!write)
				memset(data, 0xff, len);
			return;
		}
		pthread_mutex_lock(&host->mutex);
		if (write)
			memcpy(&host->conf1_addr, data, 4);
		else
			memcpy(data, &host->conf1_addr, 4);
		pthread_mutex_unlock(&host->mutex);
		return;
	}
	pthread_mutex_lock(&host->mutex);
	addr = host->conf1_addr;
	pthread_mutex_unlock(&host->mutex);
	/* Data port 0xcfc + n reaches register (addr & 0xfc) + n, within the dword. */
	if (!(addr & CONF1_ENABLE) || ((addr >> 16) & 0xff) != 0 || off - 4 + len > 4) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	host_cfg_access(host, (addr >> 11) & 0x1f, (addr >> 8) & 0x7,
			(addr & 0xfc) + (unsigned int)(off - 4), data, len, write);
}

static void host_ecam(struct pci_host *host, uint64_t off, void *data, unsigned int len, bool write)
{
	unsigned int reg = off & 0xfff;

	/* One access stays inside one function's 4 KiB (and one dword for config). */
	if ((off >> 20) != 0 || len > 4 || reg % len) {
		if (!write)
			memset(data, 0xff, len);
		return;
	}
	host_cfg_access(host, (off >> 15) & 0x1f, (off >> 12) & 0x7, reg, data, len, write);
}

static void host_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
		      unsigned int len)
{
	struct pci_host *host = to_host(dev);

	switch (io) {
	case PCI_HOST_IO_CONF1:
		host_conf1(host, off, data, len, false);
		break;
	case PCI_HOST_IO_ECAM:
		host_ecam(host, off, data, len, false);
		break;
	case PCI_HOST_IO_MMIO:
		host_window_access(host, MVM_BUS_MMIO, ARCH_PCI_MMIO32_BASE + off, data, len,
				   false);
		break;
	case PCI_HOST_IO_PIO:
		host_window_access(host, MVM_BUS_PIO, ARCH_PCI_IO_BASE + off, data, len, false);
		break;
	}
}

static void host_write(struct mvm_device *dev, unsigned int io, uint64_t off, const void *data,
		       unsigned int len)
{
	struct pci_host *host = to_host(dev);
	void *d = (void *)data; /* the shared paths do not write through it on a write */

	switch (io) {
	case PCI_HOST_IO_CONF1:
		host_conf1(host, off, d, len, true);
		break;
	case PCI_HOST_IO_ECAM:
		host_ecam(host, off, d, len, true);
		break;
	case PCI_HOST_IO_MMIO:
		host_window_access(host, MVM_BUS_MMIO, ARCH_PCI_MMIO32_BASE + off, d, len, true);
		break;
	case PCI_HOST_IO_PIO:
		host_window_access(host, MVM_BUS_PIO, ARCH_PCI_IO_BASE + off, d, len, true);
		break;
	}
}

/* ---- INTx: a level line shared by up to four slots ---- */

void pci_host_intx(struct pci_host *host, unsigned int gsi, bool assert)
{
	unsigned int i = gsi - ARCH_PCI_INTX_GSI_BASE;
	bool change = false;

	if (i >= ARCH_PCI_INTX_GSI_NR)
		return;
	pthread_mutex_lock(&host->mutex);
	if (assert)
		change = host->intx_count[i]++ == 0;
	else if (host->intx_count[i])
		change = --host->intx_count[i] == 0;
	/* Under the mutex, so that two devices' changes reach KVM in order. */
	if (change)
		vm_irq_line(host->dev.vm, gsi, assert);
	pthread_mutex_unlock(&host->mutex);
}

int pci_for_each_intx(struct vm *vm,
		      void (*fn)(void *opaque, unsigned slot, unsigned pin, unsigned gsi),
		      void *opaque)
{
	struct pci_host *host = vm->pci;
	unsigned int slot;

	if (!host)
		return -ENODEV;
	pthread_rwlock_rdlock(&host->lock);
	for (slot = 0; slot < PCI_MAX_SLOTS; slot++) {
		struct pci_dev *pdev = host->slots[slot];

		if (pdev && pdev->intx_pin)
			fn(opaque, slot, pdev->intx_pin, pdev->intx_gsi);
	}
	pthread_rwlock_unlock(&host->lock);
	return 0;
}

/* ---- binding ---- */

/* Places a BAR in its window, naturally aligned. */
static int host_place_bar(struct pci_host *host, struct pci_dev *pdev, unsigned int i)
{
	struct pci_bar *b = &pdev->bars[i];
	unsigned int off = PCI_BASE_ADDRESS_0 + 4 * i;
	uint64_t *next, base, end, addr;

	if (b->bus == MVM_BUS_PIO) {
		next = &host->io_next;
		base = ARCH_PCI_IO_BASE;
		end = ARCH_PCI_IO_BASE + ARCH_PCI_IO_SIZE;
	} else {
		next = &host->mmio_next;
		base = ARCH_PCI_MMIO32_BASE;
		end = ARCH_PCI_MMIO32_BASE + ARCH_PCI_MMIO32_SIZE;
	}
	addr = ALIGN_UP(MAX(*next, base), b->size);
	if (addr + b->size > end || addr + b->size < addr)
		return -ENOSPC;
	*next = addr + b->size;
	pci_put32(&pdev->cfg[off],
		  (uint32_t)addr | (pci_cfg32(pdev, off) & (b->bus == MVM_BUS_PIO ? 0x3u : 0xfu)));
	if (b->is64)
		pci_put32(&pdev->cfg[off + 4], (uint32_t)(addr >> 32));
	return 0;
}

int pci_host_bind(struct pci_host *host, struct pci_dev *pdev)
{
	unsigned int slot, i;
	int err = 0;

	pthread_mutex_lock(&pdev->lock);
	pthread_rwlock_wrlock(&host->lock);
	for (slot = 1; slot < PCI_MAX_SLOTS; slot++)
		if (!(host->reserved & (1u << slot)))
			break;
	if (slot == PCI_MAX_SLOTS) {
		pthread_rwlock_unlock(&host->lock);
		pr_err("%s: every PCI slot is taken", pdev->dev.name);
		err = -ENOSPC;
		goto out;
	}
	host->reserved |= 1u << slot;
	pthread_rwlock_unlock(&host->lock);

	/* Bump allocation: BARs of unbound devices are not reused (no hot-unplug yet). */
	pthread_mutex_lock(&host->mutex);
	for (i = 0; i < PCI_NUM_BARS && !err; i++)
		if (pdev->bars[i].size)
			err = host_place_bar(host, pdev, i);
	pthread_mutex_unlock(&host->mutex);
	if (err) {
		pr_err("%s: no room for its BARs in the PCI windows", pdev->dev.name);
		goto err_slot;
	}
	pdev->slot = (int)slot;
	pdev->host = host;
	if (pdev->intx_pin) {
		pdev->intx_gsi = pci_intx_gsi(slot, pdev->intx_pin);
		pdev->cfg[PCI_INTERRUPT_LINE] = (uint8_t)pdev->intx_gsi;
	}
	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct pci_bar *b = &pdev->bars[i];

		if (!b->size)
			continue;
		b->mapped = pci_bar_addr(pdev, i);
		if (!pdev->pops || !pdev->pops->bar_remap)
			continue;
		err = pdev->pops->bar_remap(pdev, i, b->mapped);
		if (err)
			goto err_remap;
	}
	goto out;

err_remap:
	while (i-- > 0)
		if (pdev->bars[i].size)
			pdev->pops->bar_remap(pdev, i, 0);
	pdev->slot = -1;
	pdev->host = NULL;
err_slot:
	pthread_rwlock_wrlock(&host->lock);
	host->reserved &= ~(1u << slot);
	pthread_rwlock_unlock(&host->lock);
out:
	pthread_mutex_unlock(&pdev->lock);
	return err;
}

void pci_host_publish(struct pci_host *host, struct pci_dev *pdev)
{
	pthread_mutex_lock(&pdev->lock);
	pthread_rwlock_wrlock(&host->lock);
	host->slots[pdev->slot] = pdev;
	pthread_rwlock_unlock(&host->lock);
	/* A device may have been configured before (tests): decode what it enabled. */
	pci_host_decode_update(host, pdev);
	pthread_mutex_unlock(&pdev->lock);
}

void pci_host_unbind(struct pci_host *host, struct pci_dev *pdev)
{
	unsigned int i;

	pthread_mutex_lock(&pdev->lock);
	pthread_rwlock_wrlock(&host->lock);
	if (pdev->slot >= 0 && host->slots[pdev->slot] == pdev)
		host->slots[pdev->slot] = NULL;
	pthread_rwlock_unlock(&host->lock);
	pci_host_decode_update(host, pdev); /* no longer in its slot: drops its entries */

	/* The line goes down with it. */
	pdev->intx_level = false;
	pci_intx_update(pdev);
	for (i = 0; i < PCI_NUM_BARS; i++)
		if (pdev->bars[i].size && pdev->pops && pdev->pops->bar_remap)
			pdev->pops->bar_remap(pdev, i, 0);
	pthread_rwlock_wrlock(&host->lock);
	if (pdev->slot >= 0)
		host->reserved &= ~(1u << pdev->slot);
	pthread_rwlock_unlock(&host->lock);
	pdev->slot = -1;
	pdev->host = NULL;
	pthread_mutex_unlock(&pdev->lock);
}

/* ---- the host bridge device ---- */

static int host_init(struct mvm_device *dev, const void *args)
{
	const struct platform_device_desc *d = args;
	struct pci_host *host = to_host(dev);
	int err;

	if (dev->vm->pci)
		return -EEXIST;
	pthread_rwlock_init(&host->lock, NULL);
	pthread_mutex_init(&host->mutex, NULL);
	pci_put16(&host->bridge_cfg[PCI_VENDOR_ID], HOST_BRIDGE_VENDOR);
	pci_put16(&host->bridge_cfg[PCI_DEVICE_ID], HOST_BRIDGE_DEVICE);
	pci_put16(&host->bridge_cfg[PCI_CLASS_DEVICE], PCI_CLASS_BRIDGE_HOST >> 8);

	/* The order is the PCI_HOST_IO_* indexes. */
	err = mvm_device_add_io(dev, d->bus, d->base, d->len);
	if (!err)
		err = mvm_device_add_io(dev, MVM_BUS_MMIO, ARCH_PCI_ECAM_BASE, ARCH_PCI_ECAM_SIZE);
	if (!err)
		err = mvm_device_add_io(dev, MVM_BUS_MMIO, ARCH_PCI_MMIO32_BASE,
					ARCH_PCI_MMIO32_SIZE);
	if (!err)
		err = mvm_device_add_io(dev, MVM_BUS_PIO, ARCH_PCI_IO_BASE, ARCH_PCI_IO_SIZE);
	if (err) {
		pthread_mutex_destroy(&host->mutex);
		pthread_rwlock_destroy(&host->lock);
	}
	return err;
}

static void host_release(struct mvm_device *dev)
{
	struct pci_host *host = to_host(dev);

	pthread_mutex_destroy(&host->mutex);
	pthread_rwlock_destroy(&host->lock);
}

static void host_unregister(struct mvm_device *dev)
{
	/* Devices on the bus went first (newer); nothing may find the host any more. */
	if (dev->vm->pci == to_host(dev))
		dev->vm->pci = NULL;
}

static int host_save(struct mvm_device *dev, struct snap_buf *out)
{
	struct pci_host *host = to_host(dev);

	pthread_mutex_lock(&host->mutex);
	snap_put_u32(out, host->conf1_addr);
	snap_put(out, host->bridge_cfg, sizeof(host->bridge_cfg));
	pthread_mutex_unlock(&host->mutex);
	return out->err;
}

static int host_restore(struct mvm_device *dev, struct snap_cur *in)
{
	struct pci_host *host = to_host(dev);
	uint8_t cfg[sizeof(host->bridge_cfg)];
	uint32_t addr = snap_get_u32(in);

	if (snap_get(in, cfg, sizeof(cfg)) || snap_cur_end(in)) {
		pr_err("%s: saved state is malformed", dev->name);
		return -EBADMSG;
	}
	pthread_mutex_lock(&host->mutex);
	host->conf1_addr = addr;
	memcpy(host->bridge_cfg, cfg, sizeof(cfg));
	pthread_mutex_unlock(&host->mutex);
	return 0;
}

static const struct mvm_device_ops host_ops = {
	.type = "pci-host",
	.save = host_save,
	.restore = host_restore,
	.init = host_init,
	.unregister = host_unregister,
	.release = host_release,
	.read = host_read,
	.write = host_write,
};

/* What MCFG, the DSDT's PCI0 and the e820 map say of the bridge. */
static const struct mvm_fw_pci_host host_fw = {
	.ecam_base = ARCH_PCI_ECAM_BASE,
	.ecam_size = ARCH_PCI_ECAM_SIZE,
	.bus_first = 0,
	.bus_last = 0,
	.conf1_port = ARCH_PCI_CONF1_PORT,
	.io_base = ARCH_PCI_IO_BASE,
	.io_size = ARCH_PCI_IO_SIZE,
	.mem32_base = ARCH_PCI_MMIO32_BASE,
	.mem32_size = ARCH_PCI_MMIO32_SIZE,
};

struct mvm_device *pci_host_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct pci_host *host;
	struct mvm_device *dev;

	host = mvm_device_alloc(struct pci_host, dev, vm, &host_ops, d->name, d);
	if (!IS_ERR(host))
		host->dev.fw.pci_host = &host_fw;
	dev = mvm_device_register_or_put((struct mvm_device *)host);
	if (!IS_ERR(dev))
		vm->pci = to_host(dev);
	return dev;
}

/* PCI exists only for virtio-pci: a virtio-mmio VM has no host bridge. */
static bool pci_host_wanted(const struct mvm_config *cfg)
{
	return cfg->transport == MVM_TRANSPORT_PCI;
}

static int pci_host_type_create(struct vm *vm, const void *desc, unsigned int index)
{
	return PTR_ERR_OR_ZERO(pci_host_create(vm, desc));
}

static const struct mvm_device_type pci_host_type = {
	.name = "pci-host",
	.order = MVM_ORDER_BUS,
	.platform = true,
	.wanted = pci_host_wanted,
	.create = pci_host_type_create,
};
MVM_DEVICE_TYPE(pci_host_type);
