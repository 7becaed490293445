// SPDX-License-Identifier: MIT
/* Guest kit: PCI configuration mechanism #1, enumeration and BAR placement. */
#include "guest.h"
#include "pci.h"

#define PCI_CONF_ADDR 0xcf8
#define PCI_CONF_DATA 0xcfc

static uint32_t pci_addr(const struct pci_dev *d, unsigned int off)
{
	return 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->slot << 11 |
	       (uint32_t)d->fn << 8 | (off & 0xfc);
}

uint32_t pci_read32(const struct pci_dev *d, unsigned int off)
{
	outl(PCI_CONF_ADDR, pci_addr(d, off));
	return inl(PCI_CONF_DATA);
}

uint16_t pci_read16(const struct pci_dev *d, unsigned int off)
{
	outl(PCI_CONF_ADDR, pci_addr(d, off));
	return inw(PCI_CONF_DATA + (off & 2));
}

uint8_t pci_read8(const struct pci_dev *d, unsigned int off)
{
	outl(PCI_CONF_ADDR, pci_addr(d, off));
	return inb(PCI_CONF_DATA + (off & 3));
}

void pci_write32(const struct pci_dev *d, unsigned int off, uint32_t v)
{
	outl(PCI_CONF_ADDR, pci_addr(d, off));
	outl(PCI_CONF_DATA, v);
}

void pci_write16(const struct pci_dev *d, unsigned int off, uint16_t v)
{
	outl(PCI_CONF_ADDR, pci_addr(d, off));
	outw(PCI_CONF_DATA + (off & 2), v);
}

void pci_for_each(bool (*fn)(const struct pci_dev *d, void *arg), void *arg)
{
	for (unsigned int slot = 0; slot < 32; slot++) {
		for (unsigned int fn_ = 0; fn_ < 8; fn_++) {
			struct pci_dev d = { .bus = 0, .slot = (uint8_t)slot, .fn = (uint8_t)fn_ };
			uint32_t id = pci_read32(&d, 0);

			if ((id & 0xffff) == 0xffff) {
				if (fn_ == 0)
					break; /* no device in this slot */
				continue;
			}
			d.vendor = id & 0xffff;
			d.device = id >> 16;
			d.class_rev = pci_read32(&d, 0x08);
			if (fn(&d, arg))
				return;
			/* Single-function device: header type bit 7 clear. */
			if (fn_ == 0 && !(pci_read8(&d, 0x0e) & 0x80))
				break;
		}
	}
}

struct pci_find_arg {
	uint16_t vendor, device;
	unsigned int index;
	struct pci_dev *out;
	bool found;
};

static bool pci_find_one(const struct pci_dev *d, void *arg)
{
	struct pci_find_arg *a = arg;

	if (d->vendor != a->vendor || d->device != a->device)
		return false;
	if (a->index--)
		return false;
	*a->out = *d;
	a->found = true;
	return true;
}

int pci_find(uint16_t vendor, uint16_t device, unsigned int index, struct pci_dev *out)
{
	struct pci_find_arg a = { vendor, device, index, out, false };

	pci_for_each(pci_find_one, &a);
	return a.found ? 0 : -1;
}

static bool pci_print(const struct pci_dev *d, void *arg)
{
	unsigned int *n = arg;

	printf("pci: %02x:%02x.%x %04x:%04x class 0x%06x\n", d->bus, d->slot, d->fn, d->vendor,
	       d->device, d->class_rev >> 8);
	(*n)++;
	return false;
}

unsigned int pci_list(void)
{
	unsigned int n = 0;

	pci_for_each(pci_print, &n);
	return n;
}

/* Size of a memory BAR by the all-ones probe; decoding must be off. */
static uint64_t pci_bar_size(const struct pci_dev *d, unsigned int off, bool is64)
{
	uint32_t lo = pci_read32(d, off), hi = is64 ? pci_read32(d, off + 4) : 0;
	uint64_t mask;

	pci_write32(d, off, 0xffffffff);
	mask = pci_read32(d, off) & ~0xfu;
	if (is64) {
		pci_write32(d, off + 4, 0xffffffff);
		mask |= (uint64_t)pci_read32(d, off + 4) << 32;
		pci_write32(d, off + 4, hi);
	} else {
		mask |= 0xffffffff00000000ull;
	}
	pci_write32(d, off, lo);
	return mask ? ~mask + 1 : 0;
}

/* Bump allocator above every BAR already placed in the window. */
static uint64_t pci_next_free;

static bool pci_scan_bars(const struct pci_dev *d, void *arg)
{
	(void)arg;
	for (unsigned int off = PCI_BAR0; off < PCI_BAR0 + 24; off += 4) {
		uint32_t v = pci_read32(d, off);
		uint64_t a = v & ~0xfu;
		bool is64 = (v & 0x6) == 0x4;

		if (v & 1)
			continue;
		if (is64)
			a |= (uint64_t)pci_read32(d, off + 4) << 32;
		if (a >= PCI_MMIO32_BASE && a < PCI_MMIO32_END) {
			uint16_t cmd = pci_read16(d, PCI_COMMAND);
			uint64_t size;

			pci_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
			size = pci_bar_size(d, off, is64);
			pci_write16(d, PCI_COMMAND, cmd);
			if (a + size > pci_next_free)
				pci_next_free = a + size;
		}
		if (is64)
			off += 4;
	}
	return false;
}

uint64_t pci_bar_map(const struct pci_dev *d, unsigned int bar, uint64_t *size)
{
	unsigned int off = PCI_BAR0 + 4 * bar;
	uint16_t cmd = pci_read16(d, PCI_COMMAND);
	uint32_t v = pci_read32(d, off);
	bool is64 = (v & 0x6) == 0x4;
	uint64_t addr, sz;

	if (bar > 5 || (v & 1))
		return 0;
	addr = v & ~0xfu;
	if (is64)
		addr |= (uint64_t)pci_read32(d, off + 4) << 32;
	pci_write16(d, PCI_COMMAND, cmd & ~PCI_COMMAND_MEMORY);
	sz = pci_bar_size(d, off, is64);
	if (!sz) {
		pci_write16(d, PCI_COMMAND, cmd);
		return 0;
	}
	if (!addr || addr + sz > 0x100000000ull) {
		if (!pci_next_free) {
			pci_next_free = PCI_MMIO32_BASE;
			pci_for_each(pci_scan_bars, NULL);
		}
		addr = (pci_next_free + sz - 1) & ~(sz - 1); /* naturally aligned */
		pci_next_free = addr + sz;
		pci_write32(d, off, (uint32_t)addr);
		if (is64)
			pci_write32(d, off + 4, 0);
	}
	pci_write16(d, PCI_COMMAND, cmd | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	if (size)
		*size = sz;
	return addr;
}

unsigned int pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned int from)
{
	unsigned int off, guard = 0;

	if (!(pci_read16(d, PCI_STATUS) & PCI_STATUS_CAP_LIST))
		return 0;
	off = from ? pci_read8(d, from + 1) : pci_read8(d, PCI_CAP_PTR);
	while (off >= 0x40 && guard++ < 48) {
		off &= 0xfc;
		if (pci_read8(d, off) == id)
			return off;
		off = pci_read8(d, off + 1);
	}
	return 0;
}
