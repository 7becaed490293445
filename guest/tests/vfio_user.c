// SPDX-License-Identifier: MIT
/*
 * vfio_user: the test vfio-user server's device (tests/vfio/server.h) from
 * inside the guest. Finds it on PCI, reads and writes BAR0 (trapped: each
 * access is a message to the server) and BAR1 (mapped: the server's
 * memory), programs a DMA copy between two buffers of guest RAM and checks
 * the bytes, and receives its MSI-X interrupt: with the vector masked, the
 * interrupt shows as pending in the PBA; unmasked, it is delivered and the
 * pending bit clears. With "kill=1" on the command line it then prints
 * "vfio_user: kill the server" and waits for BAR0 to read all-ones (the
 * host kills the server; the device is failed, the VMM lives on).
 * Prints PASS/FAIL and "vfio_user: N passed, M failed".
 */
#include "guest.h"
#include "pci.h"
#include "virtio.h"

#define VTS_VENDOR	   0x1de5
#define VTS_DEVICE	   0x7f01
#define VTS_ID		   0x5245535546494f56ULL
#define VTS_REG_ID	   0x00
#define VTS_REG_SCRATCH	   0x08
#define VTS_REG_DMA_SRC	   0x10
#define VTS_REG_DMA_DST	   0x18
#define VTS_REG_DMA_LEN	   0x20
#define VTS_REG_DMA_VECTOR 0x28
#define VTS_REG_DOORBELL   0x30
#define VTS_REG_STATUS	   0x38
#define MSIX_PBA	   0x800
#define MSI_VECTOR	   0x51
#define SPIN_LIMIT	   2000000000ull /* TSC ticks */

static bool wait_for(uint64_t addr, uint64_t mask, uint64_t want)
{
	uint64_t start = rdtsc();

	while ((mmio_read64(addr) & mask) != want)
		if (rdtsc() - start > SPIN_LIMIT)
			return false;
		else
			cpu_relax();
	return true;
}

int main(void)
{
	uint64_t bar0, bar1, bar2, s0, s1, s2;
	uint8_t *src = dma_alloc(4096, 4096), *dst = dma_alloc(4096, 4096);
	struct pci_dev d;
	unsigned int cap, i;
	bool same = true;

	if (pci_find(VTS_VENDOR, VTS_DEVICE, 0, &d)) {
		puts("vfio_user: no vfio-user test device on PCI");
		return 2;
	}
	pci_list();
	bar0 = pci_bar_map(&d, 0, &s0);
	bar1 = pci_bar_map(&d, 1, &s1);
	bar2 = pci_bar_map(&d, 2, &s2);
	guest_check("vfio.bars", bar0 && bar1 && bar2 && s0 == 4096 && s1 == 65536, 1);

	/* BAR0, trapped. */
	guest_check("vfio.bar0.id", mmio_read64(bar0 + VTS_REG_ID), VTS_ID);
	mmio_write64(bar0 + VTS_REG_SCRATCH, 0x0123456789abcdefull);
	guest_check("vfio.bar0.scratch", mmio_read64(bar0 + VTS_REG_SCRATCH),
		    0x0123456789abcdefull);
	/* BAR1, mapped. */
	for (i = 0; i < 64; i++)
		mmio_write32(bar1 + 4 * i, 0xa5a50000u + i);
	for (i = 0; i < 64; i++)
		same &= mmio_read32(bar1 + 4 * i) == 0xa5a50000u + i;
	guest_check("vfio.bar1.rw", same, 1);

	/* MSI-X vector 0 to this CPU, masked; MSI-X on. */
	cap = pci_find_cap(&d, PCI_CAP_ID_MSIX, 0);
	guest_check("vfio.msix.cap", cap != 0, 1);
	mmio_write32(bar2 + 0, 0xfee00000u);
	mmio_write32(bar2 + 4, 0);
	mmio_write32(bar2 + 8, MSI_VECTOR);
	mmio_write32(bar2 + 12, 1);
	pci_write16(&d, cap + 2, 0x8000);

	/* A DMA copy of 4 KiB, then the interrupt. */
	for (i = 0; i < 4096; i++) {
		src[i] = (uint8_t)(i * 7 + 3);
		dst[i] = 0;
	}
	mmio_write64(bar0 + VTS_REG_DMA_SRC, (uint64_t)(uintptr_t)src);
	mmio_write64(bar0 + VTS_REG_DMA_DST, (uint64_t)(uintptr_t)dst);
	mmio_write64(bar0 + VTS_REG_DMA_LEN, 4096);
	mmio_write64(bar0 + VTS_REG_DMA_VECTOR, 0);
	mmio_write64(bar0 + VTS_REG_DOORBELL, 1);
	guest_check("vfio.dma.status", mmio_read64(bar0 + VTS_REG_STATUS), 1);
	guest_check("vfio.dma.bytes", memcmp(src, dst, 4096), 0);
	guest_check("vfio.msix.pending", wait_for(bar2 + MSIX_PBA, 1, 1), 1);
	mmio_write32(bar2 + 12, 0);
	guest_check("vfio.msix.delivered", wait_for(bar2 + MSIX_PBA, 1, 0), 1);

	if (guest_cmdline_ulong("kill", 0)) {
		puts("vfio_user: kill the server");
		guest_check("vfio.dead.all_ones", wait_for(bar0 + VTS_REG_ID, ~0ull, ~0ull), 1);
		guest_check("vfio.dead.scratch", mmio_read32(bar0 + VTS_REG_SCRATCH), 0xffffffffu);
	}
	return guest_check_summary("vfio_user");
}
