// SPDX-License-Identifier: MIT
/*
 * The guest's PCI function in front of a VFIO device (src/vfio/vfio.h):
 * built from what the back end reports, served through its ops.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/dev_mem.h"
#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "vfio/vfio.h"

#define VFIO_CFG_READ_SIZE 256
#define PAGE_SIZE_4K	   4096ULL

void vfio_dev_fail(struct vfio_dev *v, const char *why)
{
	uint64_t one = 1;

	if (atomic_exchange(&v->failed, true))
		return;
	pr_err("%s (%s %s): %s; it reads all-ones from now on", v->pdev.dev.name, v->bops->type,
	       v->host, why);
	/* The caller may hold the device's lock: the loop unmaps the BARs' slots. */
	if (v->failed_h.fd >= 0 && write(v->failed_h.fd, &one, sizeof(one)) < 0)
		pr_warn("%s: %s", v->pdev.dev.name, strerror(errno));
}

/* Event loop: a failed device's mapped BARs trap again (and read all-ones). */
static void vfio_failed_event(struct loop_handler *h, uint32_t events)
{
	struct vfio_dev *v = container_of(h, struct vfio_dev, failed_h);
	unsigned int i, j;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) != sizeof(n))
		return;
	pthread_mutex_lock(&v->pdev.lock);
	for (i = 0; i < VFIO_NR_REGIONS; i++)
		for (j = 0; j < v->regions[i].nr_areas; j++)
			vm_device_memory_unmap(v->pdev.dev.vm, &v->regions[i].areas[j].slot);
	pthread_mutex_unlock(&v->pdev.lock);
}

static uint16_t cfg16(const uint8_t *c, unsigned int off)
{
	return (uint16_t)(c[off] | c[off + 1] << 8);
}

static uint32_t cfg32(const uint8_t *c, unsigned int off)
{
	return cfg16(c, off) | (uint32_t)cfg16(c, off + 2) << 16;
}

static uint64_t pow2_at_least(uint64_t x, uint64_t min)
{
	uint64_t p = min;

	while (p < x)
		p <<= 1;
	return p;
}

/* ---- BAR accesses ---- */

/* The mapped area holding [off, off + len), or NULL. */
static struct vfio_area *area_of(struct vfio_region *r, uint64_t off, unsigned int len)
{
	unsigned int i;

	for (i = 0; i < r->nr_areas; i++) {
		struct vfio_area *a = &r->areas[i];

		if (a->hva && off >= a->off && off - a->off < a->size &&
		    len <= a->size - (off - a->off))
			return a;
	}
	return NULL;
}

/* Device memory: one access of the guest's width. */
static void mmio_copy(void *dst, const void *src, unsigned int len)
{
	switch (len) {
	case 1:
		*(volatile uint8_t *)dst = *(const volatile uint8_t *)src;
		break;
	case 2:
		*(volatile uint16_t *)dst = *(const volatile uint16_t *)src;
		break;
	case 4:
		*(volatile uint32_t *)dst = *(const volatile uint32_t *)src;
		break;
	case 8:
		*(volatile uint64_t *)dst = *(const volatile uint64_t *)src;
		break;
	default:
		memcpy(dst, src, len);
	}
}

static void vfio_bar_rw(struct vfio_dev *v, unsigned int bar, uint64_t off, void *data,
			unsigned int len, bool write)
{
	struct vfio_region *r = &v->regions[bar];
	struct vfio_area *a;

	if (vfio_dev_failed(v) || off >= r->size || len > r->size - off)
		goto none;
	a = area_of(r, off, len);
	if (a) {
		uint8_t *p = (uint8_t *)a->hva + (off - a->off);

		if (write)
			mmio_copy(p, data, len);
		else
			mmio_copy(data, p, len);
		return;
	}
	if (!(r->flags & (write ? VFIO_RF_WRITE : VFIO_RF_READ)))
		goto none;
	if (!v->bops->region_rw(v, bar, off, data, len, write))
		return;
none:
	if (!write)
		memset(data, 0xff, len);
}

static void vfio_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
			  unsigned int len)
{
	vfio_bar_rw(to_vfio(pdev), bar, off, data, len, false);
}

static void vfio_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			   unsigned int len)
{
	vfio_bar_rw(to_vfio(pdev), bar, off, (void *)data, len, true);
}

/* The guest placed BAR `bar` at addr (0: gone): its mapped areas follow as memory slots. */
static int vfio_bar_remap(struct pci_dev *pdev, unsigned int bar, uint64_t addr)
{
	struct vfio_dev *v = to_vfio(pdev);
	struct vfio_region *r = &v->regions[bar];
	unsigned int i;
	int err = 0;

	for (i = 0; i < r->nr_areas; i++) {
		struct vfio_area *a = &r->areas[i];

		if (!a->hva)
			continue;
		if (!addr || vfio_dev_failed(v)) {
			vm_device_memory_unmap(pdev->dev.vm, &a->slot);
			continue;
		}
		err = vm_device_memory_map(pdev->dev.vm, addr + a->off, a->size, a->hva, &a->slot);
		if (err)
			break; /* that area stays trapped: bar_rw serves it */
	}
	return err;
}

/* The command register's enables reach the device (memory decode, bus master). */
static bool vfio_cfg_access(struct pci_dev *pdev, unsigned int off, void *data, unsigned int len,
			    bool write)
{
	struct vfio_dev *v = to_vfio(pdev);
	uint8_t cmd[2];
	unsigned int i;

	if (!write || off >= PCI_COMMAND + 2 || off + len <= PCI_COMMAND || vfio_dev_failed(v))
		return false;
	pci_cfg_read(pdev, PCI_COMMAND, cmd, 2);
	for (i = 0; i < 2; i++)
		if (PCI_COMMAND + i >= off && PCI_COMMAND + i < off + len)
			cmd[i] = ((const uint8_t *)data)[PCI_COMMAND + i - off];
	cmd[0] &= PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	cmd[1] &= PCI_COMMAND_INTX_DISABLE >> 8;
	v->bops->region_rw(v, VFIO_CONFIG, PCI_COMMAND, cmd, 2, true);
	return false; /* the generic handling updates our copy */
}

/* ---- interrupts ---- */

static void vfio_irq_fired(struct loop_handler *h, uint32_t events)
{
	struct vfio_irq *irq = container_of(h, struct vfio_irq, h);
	struct vfio_dev *v = irq->v;
	uint64_t n;

	if (read(h->fd, &n, sizeof(n)) != sizeof(n) || vfio_dev_failed(v))
		return;
	pci_msix_notify(&v->pdev, irq->vector);
}

static int vfio_irq_open(struct vfio_dev *v, struct vfio_irq *irq, unsigned int vector)
{
	int err;

	irq->v = v;
	irq->vector = vector;
	irq->h.fn = vfio_irq_fired;
	irq->h.fd = mvm_eventfd(0, EFD_NONBLOCK);
	if (irq->h.fd < 0)
		return -errno;
	err = loop_add(&v->pdev.dev.vm->loop, &irq->h, EPOLLIN);
	if (err) {
		close(irq->h.fd);
		irq->h.fd = -1;
		return err;
	}
	irq->watched = true;
	return 0;
}

static void vfio_irq_unwatch(struct vfio_dev *v, struct vfio_irq *irq)
{
	if (irq->watched)
		loop_del(&v->pdev.dev.vm->loop, &irq->h);
	irq->watched = false;
}

static void vfio_irq_close(struct vfio_dev *v, struct vfio_irq *irq)
{
	vfio_irq_unwatch(v, irq);
	if (irq->h.fd >= 0)
		close(irq->h.fd);
	irq->h.fd = -1;
}

/*
 * The back end's INTx trigger (and, on, its unmask eventfd: VFIO drops it
 * with the trigger) on or off. 0 or -errno.
 */
static int vfio_intx_switch(struct vfio_dev *v, bool on)
{
	int err;

	if (on == v->intx_on || !v->intx_irqfd)
		return 0;
	err = v->bops->set_irqs(v, VFIO_IRQ_INTX, 0, on ? 1 : 0, &v->intx_fd);
	if (!err && on) {
		err = v->bops->intx_unmask_fd(v, v->intx_unmask);
		if (err)
			v->bops->set_irqs(v, VFIO_IRQ_INTX, 0, 0, NULL);
	}
	if (!err)
		v->intx_on = on;
	return err;
}

/*
 * Once bound (the slot gives the GSI): INTx becomes a level-triggered KVM
 * source on the function's GSI; the guest's EOI signals the device's unmask
 * eventfd. 0 or -errno.
 */
static int vfio_intx_connect(struct vfio_dev *v)
{
	int err;

	if (v->intx_fd < 0)
		return 0;
	v->intx_gsi = v->pdev.intx_gsi;
	err = vm_irqfd_resample(v->pdev.dev.vm, v->intx_fd, v->intx_unmask, v->intx_gsi);
	if (err) {
		pr_err("%s: INTx on GSI %u: %s", v->pdev.dev.name, v->intx_gsi, strerror(-err));
		return err;
	}
	v->intx_irqfd = true;
	return vfio_intx_switch(v, true);
}

/*
 * MSI-X turned on or off in the guest: the back end's triggers follow. A
 * VFIO device takes one interrupt type at a time, so INTx is off while MSI-X
 * is on. pdev->lock held.
 */
static void vfio_msix_changed(struct pci_dev *pdev)
{
	struct vfio_dev *v = to_vfio(pdev);
	int fds[PCI_MSIX_MAX_VECTORS];
	bool on = pdev->msix.enabled;
	unsigned int i;
	int err;

	if (on == v->msix_on || vfio_dev_failed(v))
		return;
	for (i = 0; i < v->msix_nr; i++)
		fds[i] = v->msix[i].h.fd;
	err = on ? vfio_intx_switch(v, false) : 0;
	if (!err)
		err = v->bops->set_irqs(v, VFIO_IRQ_MSIX, 0, on ? v->msix_nr : 0, fds);
	if (!err) {
		v->msix_on = on;
		if (!on)
			err = vfio_intx_switch(v, true);
	}
	if (err)
		pr_warn_ratelimited("%s: MSI-X %s: %s", pdev->dev.name, on ? "on" : "off",
				    strerror(-err));
}

static void vfio_unregister(struct pci_dev *pdev)
{
	struct vfio_dev *v = to_vfio(pdev);
	unsigned int i;

	/* The loop stops with the VM: nothing may fire into a device being torn down. */
	for (i = 0; i < v->msix_nr; i++)
		vfio_irq_unwatch(v, &v->msix[i]);
	if (v->failed_watched)
		loop_del(&pdev->dev.vm->loop, &v->failed_h);
	v->failed_watched = false;
}

static const struct pci_dev_ops vfio_pci_ops = {
	.bar_read = vfio_bar_read,
	.bar_write = vfio_bar_write,
	.bar_remap = vfio_bar_remap,
	.cfg_access = vfio_cfg_access,
	.msix_changed = vfio_msix_changed,
	.unregister = vfio_unregister,
};

/* ---- set-up ---- */

static int vfio_probe_regions(struct vfio_dev *v)
{
	unsigned int i, n = v->num_regions < VFIO_NR_REGIONS ? v->num_regions : VFIO_NR_REGIONS;
	int err;

	if (v->num_regions <= VFIO_CONFIG) {
		pr_err("%s: the device has %u regions, no config space", v->pdev.dev.name,
		       v->num_regions);
		return -ENODEV;
	}
	for (i = 0; i < n; i++) {
		struct vfio_region *r = &v->regions[i];

		err = v->bops->region_info(v, i, r);
		if (err)
			return err;
		if (r->size > VFIO_MAX_REGION || !vfio_areas_valid(r)) {
			pr_err("%s: region %u: size or mmap areas out of range", v->pdev.dev.name,
			       i);
			return -EPROTO;
		}
	}
	if (v->regions[VFIO_CONFIG].size < VFIO_CFG_READ_SIZE)
		return -ENODEV;
	return v->bops->region_rw(v, VFIO_CONFIG, 0, v->dev_cfg, VFIO_CFG_READ_SIZE, false);
}

/* Maps the mappable areas of BAR i that do not hold the MSI-X table or PBA. */
static int vfio_map_areas(struct vfio_dev *v, unsigned int bar, uint64_t msix_lo, uint64_t msix_hi)
{
	struct vfio_region *r = &v->regions[bar];
	unsigned int i;

	if (!(r->flags & VFIO_RF_MMAP) || r->fd < 0)
		return 0;
	for (i = 0; i < r->nr_areas; i++) {
		struct vfio_area *a = &r->areas[i];
		void *p;

		if (msix_lo < msix_hi && a->off < msix_hi && msix_lo < a->off + a->size)
			continue; /* trapped: the table is emulated */
		p = mvm_mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd,
			     (off_t)(r->offset + a->off));
		if (p == MAP_FAILED)
			return -errno;
		a->hva = p;
	}
	return 0;
}

static void vfio_unmap_areas(struct vfio_dev *v)
{
	unsigned int i, j;

	for (i = 0; i < VFIO_NR_REGIONS; i++) {
		struct vfio_region *r = &v->regions[i];

		for (j = 0; j < r->nr_areas; j++) {
			struct vfio_area *a = &r->areas[j];

			vm_device_memory_unmap(v->pdev.dev.vm, &a->slot);
			if (a->hva)
				munmap(a->hva, a->size);
			a->hva = NULL;
		}
		if (r->fd_owned && r->fd >= 0)
			close(r->fd);
		r->fd = -1;
		r->fd_owned = false;
	}
}

struct msix_cap {
	unsigned int nr, bar;
	uint32_t table_off, pba_off;
};

/* The device's MSI-X capability, walked with bounds (the config space is the device's). */
static bool vfio_find_msix(const uint8_t *c, struct msix_cap *m)
{
	unsigned int ptr, hops;

	if (!(c[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return false;
	ptr = c[PCI_CAPABILITY_LIST] & 0xfc;
	for (hops = 0; hops < 48 && ptr >= 0x40 && ptr <= VFIO_CFG_READ_SIZE - 12; hops++) {
		if (c[ptr] == PCI_CAP_ID_MSIX) {
			uint32_t table = cfg32(c, ptr + 4), pba = cfg32(c, ptr + 8);

			m->nr = (cfg16(c, ptr + PCI_MSIX_FLAGS) & 0x7ff) + 1u;
			m->bar = table & 7;
			m->table_off = table & ~7u;
			m->pba_off = pba & ~7u;
			return (pba & 7) == m->bar && m->bar < PCI_NUM_BARS;
		}
		ptr = c[ptr + 1] & 0xfc;
	}
	return false;
}

static int vfio_setup_bars(struct vfio_dev *v, const struct msix_cap *m, bool msix)
{
	struct pci_dev *pdev = &v->pdev;
	unsigned int i;
	int err;

	for (i = 0; i < PCI_NUM_BARS; i++) {
		struct vfio_region *r = &v->regions[i];
		uint32_t reg = cfg32(v->dev_cfg, PCI_BASE_ADDRESS_0 + 4 * i);
		bool io = reg & PCI_BAR_IO, is64 = !io && (reg & 6) == PCI_BAR_MEM_TYPE_64;
		uint64_t lo = 0, hi = 0, size;

		if (!r->size)
			continue;
		if (io) {
			size = pow2_at_least(r->size, 4);
			err = pci_dev_add_bar(pdev, i, MVM_BUS_PIO, size, false);
		} else {
			size = pow2_at_least(r->size, PAGE_SIZE_4K);
			err = pci_dev_add_bar(pdev, i, MVM_BUS_MMIO, size, is64 && i < 5);
		}
		if (err) {
			pr_err("%s: BAR%u (%llu bytes) cannot be placed", pdev->dev.name, i,
			       (unsigned long long)r->size);
			return err;
		}
		if (msix && m->bar == i) {
			lo = (m->table_off < m->pba_off ? m->table_off : m->pba_off) &
			     ~(PAGE_SIZE_4K - 1);
			hi = (m->table_off > m->pba_off ? m->table_off : m->pba_off) +
			     (uint64_t)m->nr * PCI_MSIX_ENTRY_SIZE + PAGE_SIZE_4K;
		}
		if (!io) {
			err = vfio_map_areas(v, i, lo, hi);
			if (err)
				return err;
		}
		if (is64)
			i++;
	}
	return 0;
}

/* The vectors of IRQ index `index` (0 when the device has no such index). 0 or -errno. */
static int vfio_irq_count(struct vfio_dev *v, unsigned int index, uint32_t *count)
{
	*count = 0;
	return index < v->num_irqs ? v->bops->irq_info(v, index, count) : 0;
}

static int vfio_setup_irqs(struct vfio_dev *v, const struct msix_cap *m, bool msix)
{
	uint32_t count;
	unsigned int i;
	int err;

	err = vfio_irq_count(v, VFIO_IRQ_MSIX, &count);
	if (err)
		return err;
	if (msix && count) {
		unsigned int nr = m->nr < count ? m->nr : count;

		if (nr > PCI_MSIX_MAX_VECTORS)
			nr = PCI_MSIX_MAX_VECTORS;
		err = pci_dev_add_msix(&v->pdev, nr, m->bar, m->table_off, m->pba_off);
		if (err == -EINVAL) {
			/* A table or PBA outside its BAR, overlapping, unaligned: no MSI-X then. */
			pr_warn("%s: the device's MSI-X table cannot be emulated; INTx only",
				v->pdev.dev.name);
			nr = 0;
		} else if (err) {
			return err;
		}
		for (i = 0; i < nr; i++) {
			err = vfio_irq_open(v, &v->msix[i], i);
			if (err)
				return err;
			v->msix_nr = i + 1;
		}
	}
	err = vfio_irq_count(v, VFIO_IRQ_INTX, &count);
	if (err)
		return err;
	if (v->dev_cfg[PCI_INTERRUPT_PIN] && count) {
		/* Wired to its GSI once bound (vfio_intx_connect). */
		pci_dev_set_intx(&v->pdev, 1);
		v->intx_fd = mvm_eventfd(0, EFD_NONBLOCK);
		if (v->intx_fd < 0)
			return -errno;
		v->intx_unmask = mvm_eventfd(0, EFD_NONBLOCK);
		if (v->intx_unmask < 0)
			return -errno;
	}
	return 0;
}

/* Guest RAM becomes the device's DMA space, iova = guest-physical. */
static int vfio_dma_map_ram(struct vfio_dev *v)
{
	const struct vm_memory *mem = &v->pdev.dev.vm->mem;
	unsigned int i;
	int err;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];

		err = v->bops->dma_map(v, r->gpa, r->size, r->hva, mem->fd,
				       (uint64_t)(r->hva - mem->base));
		if (err) {
			pr_err("%s: DMA map of RAM at 0x%llx: %s", v->pdev.dev.name,
			       (unsigned long long)r->gpa, strerror(-err));
			return err;
		}
		v->nr_dma = i + 1;
	}
	return 0;
}

static void vfio_dma_unmap_ram(struct vfio_dev *v)
{
	const struct vm_memory *mem = &v->pdev.dev.vm->mem;

	while (v->nr_dma > 0) {
		const struct mem_region *r = &mem->regions[--v->nr_dma];

		if (!vfio_dev_failed(v))
			v->bops->dma_unmap(v, r->gpa, r->size);
	}
}

static int vfio_failed_open(struct vfio_dev *v)
{
	int err;

	v->failed_h.fn = vfio_failed_event;
	v->failed_h.fd = mvm_eventfd(0, EFD_NONBLOCK);
	if (v->failed_h.fd < 0)
		return -errno;
	err = loop_add(&v->pdev.dev.vm->loop, &v->failed_h, EPOLLIN);
	if (err) {
		close(v->failed_h.fd);
		v->failed_h.fd = -1;
		return err;
	}
	v->failed_watched = true;
	return 0;
}

static void vfio_failed_close(struct vfio_dev *v)
{
	if (v->failed_watched)
		loop_del(&v->pdev.dev.vm->loop, &v->failed_h);
	v->failed_watched = false;
	if (v->failed_h.fd >= 0)
		close(v->failed_h.fd);
	v->failed_h.fd = -1;
}

/* Undoes vfio_init() from whatever point it reached. */
static void vfio_teardown(struct vfio_dev *v, bool pci_inited)
{
	unsigned int i;

	if (!vfio_dev_failed(v)) {
		if (v->msix_on)
			v->bops->set_irqs(v, VFIO_IRQ_MSIX, 0, 0, NULL);
		if (v->intx_on)
			v->bops->set_irqs(v, VFIO_IRQ_INTX, 0, 0, NULL);
	}
	v->msix_on = v->intx_on = false;
	for (i = 0; i < PCI_MSIX_MAX_VECTORS; i++)
		vfio_irq_close(v, &v->msix[i]);
	if (v->intx_irqfd)
		vm_irqfd(v->pdev.dev.vm, v->intx_fd, v->intx_gsi, false);
	v->intx_irqfd = false;
	if (v->intx_fd >= 0)
		close(v->intx_fd);
	if (v->intx_unmask >= 0)
		close(v->intx_unmask);
	v->intx_fd = v->intx_unmask = -1;
	vfio_dma_unmap_ram(v);
	vfio_unmap_areas(v);
	if (pci_inited)
		pci_dev_release(&v->pdev);
	v->bops->close(v);
	vfio_failed_close(v);
}

static int vfio_init(struct mvm_device *dev, const void *args)
{
	const struct vfio_open_args *a = args;
	struct vfio_dev *v = (struct vfio_dev *)dev;
	const uint8_t *c = v->dev_cfg;
	struct msix_cap m = { 0 };
	unsigned int i, j;
	bool msix;
	int err;

	v->bops = a->bops;
	snprintf(v->host, sizeof(v->host), "%s", a->host);
	v->intx_fd = v->intx_unmask = -1;
	v->failed_h.fd = -1;
	for (i = 0; i < PCI_MSIX_MAX_VECTORS; i++)
		v->msix[i].h.fd = -1;
	for (i = 0; i < VFIO_NR_REGIONS; i++) {
		v->regions[i].fd = -1;
		for (j = 0; j < VFIO_MAX_AREAS; j++)
			v->regions[i].areas[j].slot = -1;
	}
	err = vfio_failed_open(v);
	if (err)
		return err;
	err = v->bops->open(v, a->backend_args);
	if (err) {
		vfio_failed_close(v);
		return err;
	}
	err = v->bops->device_info(v, &v->num_regions, &v->num_irqs);
	if (!err)
		err = vfio_probe_regions(v);
	if (err)
		goto err_close;
	/* The guest gets the device as from power-on, where the device can be reset. */
	if (v->bops->reset(v) && vfio_dev_failed(v)) {
		err = -EIO;
		goto err_close;
	}

	pci_dev_init(&v->pdev, &vfio_pci_ops, cfg16(c, PCI_VENDOR_ID), cfg16(c, PCI_DEVICE_ID),
		     c[PCI_REVISION_ID], cfg32(c, PCI_CLASS_PROG - 1) >> 8,
		     cfg16(c, PCI_SUBSYSTEM_VENDOR_ID), cfg16(c, PCI_SUBSYSTEM_ID));
	msix = vfio_find_msix(c, &m);
	err = vfio_setup_bars(v, &m, msix);
	if (!err)
		err = vfio_setup_irqs(v, &m, msix);
	if (!err)
		err = vfio_dma_map_ram(v);
	if (err)
		goto err_teardown;
	dev->type = v->bops->type;
	dev->transport = "pci";
	dev->host = v->host;
	return 0;

err_teardown:
	vfio_teardown(v, true);
	return err;
err_close:
	vfio_unmap_areas(v);
	v->bops->close(v);
	vfio_failed_close(v);
	return err;
}

static void vfio_release(struct mvm_device *dev)
{
	vfio_teardown((struct vfio_dev *)dev, true);
}

static const struct mvm_device_ops vfio_user_dev_ops = {
	.type = "vfio-user",
	.init = vfio_init,
	.unregister = pci_dev_unregister_op,
	.release = vfio_release,
};

static const struct mvm_device_ops vfio_pci_dev_ops = {
	.type = "vfio-pci",
	.init = vfio_init,
	.unregister = pci_dev_unregister_op,
	.release = vfio_release,
};

int vfio_check_config(const struct mvm_config *cfg, char *msg, size_t len)
{
	if (cfg->transport != MVM_TRANSPORT_PCI) {
		snprintf(msg, len,
			 "a VFIO device is a PCI function: the VM needs PCI (--enable-pci)");
		return -EINVAL;
	}
	return 0;
}

struct vfio_dev *vfio_dev_create(struct vm *vm, const char *name, const struct vfio_open_args *a)
{
	const struct mvm_device_ops *ops =
		strcmp(a->bops->type, "vfio-user") ? &vfio_pci_dev_ops : &vfio_user_dev_ops;
	struct vfio_dev *v;
	int err;

	if (!vm->pci) {
		pr_err("%s: %s needs PCI (a VM without a PCI host bridge cannot take it)", name,
		       a->bops->type);
		return ERR_PTR(-ENODEV);
	}
	v = mvm_device_alloc(struct vfio_dev, pdev.dev, vm, ops, name, a);
	if (IS_ERR(v))
		return v;
	err = pci_dev_register(&v->pdev);
	if (err) {
		mvm_device_put(&v->pdev.dev);
		return ERR_PTR(err);
	}
	/* No vCPU runs yet: INTx is wired before the guest can use it. */
	err = vfio_intx_connect(v);
	if (err) {
		mvm_device_unregister(&v->pdev.dev);
		mvm_device_put(&v->pdev.dev);
		return ERR_PTR(err);
	}
	return v;
}
