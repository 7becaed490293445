// SPDX-License-Identifier: MIT
/*
 * PCI without KVM: the host bridge (conf1, ECAM, BAR windows), config space
 * write masks, BAR sizing and moves, capabilities, MSI-X (table, PBA,
 * masking, delivery through routes + irqfds on the fake KVM), INTx sharing,
 * binding and unbinding. Every access goes through the VM's buses, as a
 * vCPU's would.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/bus.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/vm.h"
#include "unit.h"

#define T_BAR0_SIZE 0x1000
#define T_BAR1_SIZE 0x20
#define T_BAR2_SIZE 0x4000
#define T_MSIX_NR   4

struct tpci {
	struct pci_dev pdev;
	unsigned int reads, writes;
	uint64_t last_off;
	unsigned int last_bar;
	uint64_t remapped[PCI_NUM_BARS];
	unsigned int remaps;
};

static struct tpci *to_tpci(struct pci_dev *pdev)
{
	return container_of(pdev, struct tpci, pdev);
}

static void t_bar_read(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		       unsigned int len)
{
	struct tpci *t = to_tpci(pdev);

	t->reads++;
	t->last_bar = bar;
	t->last_off = off;
	memset(data, 0x5a, len);
}

static void t_bar_write(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			unsigned int len)
{
	struct tpci *t = to_tpci(pdev);

	(void)data;
	(void)len;
	t->writes++;
	t->last_bar = bar;
	t->last_off = off;
}

static int t_bar_remap(struct pci_dev *pdev, unsigned int bar, uint64_t addr)
{
	struct tpci *t = to_tpci(pdev);

	t->remaps++;
	t->remapped[bar] = addr;
	return 0;
}

static const struct pci_dev_ops t_pops = {
	.bar_read = t_bar_read,
	.bar_write = t_bar_write,
	.bar_remap = t_bar_remap,
};

static int t_init(struct mvm_device *dev, const void *args)
{
	struct pci_dev *pdev = to_pci_dev(dev);
	uint8_t vcap[8] = { PCI_CAP_ID_VNDR, 0, 8, 0xab };
	int err;

	(void)args;
	pci_dev_init(pdev, &t_pops, 0x1234, 0x5678, 2, 0xff0000, 0x1234, 0x0001);
	err = pci_dev_add_bar(pdev, 0, MVM_BUS_MMIO, T_BAR0_SIZE, false);
	if (!err)
		err = pci_dev_add_bar(pdev, 1, MVM_BUS_PIO, T_BAR1_SIZE, false);
	if (!err)
		err = pci_dev_add_bar(pdev, 2, MVM_BUS_MMIO, T_BAR2_SIZE, true);
	if (!err && pci_dev_add_cap(pdev, vcap, sizeof(vcap)) < 0)
		err = -ENOSPC;
	if (!err)
		err = pci_dev_add_msix(pdev, T_MSIX_NR, 0, 0x800, 0xc00);
	pci_dev_set_intx(pdev, 1);
	if (err)
		pci_dev_release(pdev);
	return err;
}

static void t_release(struct mvm_device *dev)
{
	pci_dev_release(to_pci_dev(dev));
}

static const struct mvm_device_ops t_ops = {
	.type = "test-pci",
	.init = t_init,
	.unregister = pci_dev_unregister_op,
	.release = t_release,
};

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static struct vm *pci_vm(void)
{
	struct vm *vm;

	fake_reset();
	vm = unit_vm(1);
	assert_false(IS_ERR(pci_host_create(vm, &host_desc)));
	assert_non_null(vm->pci);
	return vm;
}

static struct tpci *new_tpci(struct vm *vm, const char *name)
{
	struct tpci *t = mvm_device_alloc(struct tpci, pdev, vm, &t_ops, name, NULL);

	assert_false(IS_ERR(t));
	assert_int_equal(pci_dev_register(&t->pdev), 0);
	return t;
}

static int setup(void **state)
{
	*state = pci_vm();
	return 0;
}

static int teardown(void **state)
{
	vm_destroy(*state);
	return 0;
}

/* ---- guest-side accessors ---- */

static uint32_t conf1_read(struct vm *vm, unsigned int slot, unsigned int fn, unsigned int reg,
			   unsigned int len)
{
	uint32_t addr = 0x80000000u | slot << 11 | fn << 8 | (reg & 0xfc), v = 0;

	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4 + (reg & 3), &v, len, false);
	return v;
}

static void conf1_write(struct vm *vm, unsigned int slot, unsigned int reg, uint32_t v,
			unsigned int len)
{
	uint32_t addr = 0x80000000u | slot << 11 | (reg & 0xfc);

	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4 + (reg & 3), &v, len, true);
}

static uint32_t ecam_read(struct vm *vm, unsigned int slot, unsigned int reg, unsigned int len)
{
	uint32_t v = 0;

	bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_ECAM_BASE + (slot << 15) + reg, &v, len,
		   false);
	return v;
}

static void ecam_write(struct vm *vm, unsigned int slot, unsigned int reg, uint32_t v,
		       unsigned int len)
{
	bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_ECAM_BASE + (slot << 15) + reg, &v, len,
		   true);
}

static uint32_t mmio_read32(struct vm *vm, uint64_t addr)
{
	uint32_t v = 0;

	bus_access(&vm->buses[MVM_BUS_MMIO], addr, &v, 4, false);
	return v;
}

static void mmio_write32(struct vm *vm, uint64_t addr, uint32_t v)
{
	bus_access(&vm->buses[MVM_BUS_MMIO], addr, &v, 4, true);
}

/* ---- tests ---- */

static void test_enumeration(void **state)
{
	struct vm *vm = *state;
	struct tpci *t = new_tpci(vm, "t0");

	/* Slot 0: the host bridge; slot 1: the device; the rest: nothing. */
	assert_int_equal(conf1_read(vm, 0, 0, PCI_VENDOR_ID, 4), 0x0d578086);
	assert_int_equal(conf1_read(vm, 0, 0, PCI_CLASS_DEVICE, 2), 0x0600);
	assert_int_equal(t->pdev.slot, 1);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_VENDOR_ID, 4), 0x56781234);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_VENDOR_ID, 2), 0x1234);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_DEVICE_ID, 2), 0x5678);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_REVISION_ID, 1), 2);
	assert_int_equal(conf1_read(vm, 2, 0, PCI_VENDOR_ID, 2), 0xffff);
	assert_int_equal(conf1_read(vm, 1, 3, PCI_VENDOR_ID, 2), 0xffff); /* function 3 */
	/* ECAM sees the same space. */
	assert_int_equal(ecam_read(vm, 1, PCI_VENDOR_ID, 4), 0x56781234);
	assert_int_equal(ecam_read(vm, 5, PCI_VENDOR_ID, 4), 0xffffffff);
	/* Interrupt pin and line: INTA, GSI 16 + (1 + 1 - 1) % 8. */
	assert_int_equal(conf1_read(vm, 1, 0, PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_INTERRUPT_LINE, 1), 17);
	assert_int_equal(pci_intx_gsi(1, 1), 17);
	assert_int_equal(pci_intx_gsi(8, 1), 16);
	assert_int_equal(pci_intx_gsi(3, 4), 22);
}

static void test_conf1_hostile(void **state)
{
	struct vm *vm = *state;
	uint32_t addr = 0x80000000u | 1 << 11, v;
	uint8_t b = 0;

	new_tpci(vm, "t0");
	/* Byte writes to the address register are ignored (only dwords). */
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 1, &b, 1, true);
	v = 0;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &v, 4, false);
	assert_int_equal(v, addr);
	/* Enable bit off: all-ones. */
	addr = 1 << 11;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	v = 0;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	/* Bus 1 does not exist. */
	addr = 0x80000000u | 1 << 16 | 1 << 11;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	v = 0;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	/* A dword at 0xcfe would cross the data dword: refused. */
	addr = 0x80000000u | 1 << 11;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &addr, 4, true);
	v = 0;
	bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 6, &v, 4, false);
	assert_int_equal(v, 0xffffffff);
	/* ECAM: misaligned and 8-byte accesses are refused, the device is unchanged. */
	assert_int_equal(ecam_read(vm, 1, 1, 2), 0xffff);
	ecam_write(vm, 1, PCI_COMMAND + 1, 0xff, 2);
	assert_int_equal(ecam_read(vm, 1, PCI_COMMAND, 2), 0);
	/* The end of the extended space. */
	assert_int_equal(ecam_read(vm, 1, 0xffc, 4), 0);
	ecam_write(vm, 1, 0xffc, 0xffffffff, 4);
	assert_int_equal(ecam_read(vm, 1, 0xffc, 4), 0);
}

static void test_write_masks(void **state)
{
	struct vm *vm = *state;
	unsigned int cap, n = 0;

	new_tpci(vm, "t0");
	/* Identity and capability pointers are read-only. */
	conf1_write(vm, 1, PCI_VENDOR_ID, 0xdeadbeef, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_VENDOR_ID, 4), 0x56781234);
	cap = conf1_read(vm, 1, 0, PCI_CAPABILITY_LIST, 1);
	conf1_write(vm, 1, PCI_CAPABILITY_LIST, 0, 1);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_CAPABILITY_LIST, 1), cap);
	/* Command: only IO, MEM, MASTER, INTX_DISABLE stick. */
	conf1_write(vm, 1, PCI_COMMAND, 0xffff, 2);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
								       PCI_COMMAND_MASTER |
								       PCI_COMMAND_INTX_DISABLE);
	/* The status has the capability list bit; the chain ends. */
	assert_true(conf1_read(vm, 1, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	assert_int_equal(cap, 0x40);
	while (cap && n < 48) {
		unsigned int id = conf1_read(vm, 1, 0, cap, 1);

		assert_true(id == PCI_CAP_ID_VNDR || id == PCI_CAP_ID_MSIX);
		cap = conf1_read(vm, 1, 0, cap + 1, 1);
		n++;
	}
	assert_int_equal(n, 2);
	/* Interrupt line is scratch for the guest; the pin is not. */
	conf1_write(vm, 1, PCI_INTERRUPT_LINE, 0x0b01, 2);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_INTERRUPT_LINE, 1), 1);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_INTERRUPT_PIN, 1), 1);
	/* No expansion ROM: its BAR sizes as 0. */
	conf1_write(vm, 1, 0x30, 0xffffffff, 4);
	assert_int_equal(conf1_read(vm, 1, 0, 0x30, 4), 0);
}

static void test_bar_sizing(void **state)
{
	struct vm *vm = *state;
	struct tpci *t = new_tpci(vm, "t0");
	uint32_t bar0, bar1, bar2lo, bar2hi;

	bar0 = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0, 4);
	bar1 = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 4, 4);
	bar2lo = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 8, 4);
	bar2hi = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 12, 4);
	/* Placed in the windows, naturally aligned, flags in the low bits. */
	assert_true(bar0 >= ARCH_PCI_MMIO32_BASE &&
		    bar0 + T_BAR0_SIZE <= ARCH_PCI_MMIO32_BASE + ARCH_PCI_MMIO32_SIZE);
	assert_int_equal(bar0 % T_BAR0_SIZE, 0);
	assert_int_equal(bar1 & 1, PCI_BAR_IO);
	assert_true((bar1 & ~3u) >= ARCH_PCI_IO_BASE);
	assert_int_equal((bar1 & ~3u) % T_BAR1_SIZE, 0);
	assert_int_equal(bar2lo & 0xf, PCI_BAR_MEM_TYPE_64);
	assert_int_equal((bar2lo & ~0xfu) % T_BAR2_SIZE, 0);
	assert_int_equal(bar2hi, 0);
	assert_int_equal(t->remapped[0], bar0);
	assert_int_equal(pci_bar_addr(&t->pdev, 2), bar2lo & ~0xfu);

	/* Sizing as Linux does it: all-ones, read back, restore. */
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0, 4), ~(T_BAR0_SIZE - 1u));
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 4, 0xffffffff, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 4, 4),
			 ~(T_BAR1_SIZE - 1u) | PCI_BAR_IO);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 8, 0xffffffff, 4);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 12, 0xffffffff, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 8, 4),
			 ~(T_BAR2_SIZE - 1u) | PCI_BAR_MEM_TYPE_64);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 12, 4), 0xffffffff);
	/* Unimplemented BARs size as 0. */
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 16, 0xffffffff, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 16, 4), 0);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0, bar0, 4);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 4, bar1, 4);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 8, bar2lo, 4);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0 + 12, bar2hi, 4);
	assert_int_equal(conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0, 4), bar0);
	/* Decode was off the whole time: the device never saw a move. */
	assert_int_equal(t->remaps, 3);
}

static void test_bar_decode_and_move(void **state)
{
	struct vm *vm = *state;
	struct tpci *t = new_tpci(vm, "t0");
	uint32_t bar0 = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0, 4);
	uint32_t io = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0 + 4, 4) & ~3u;
	uint64_t moved = ARCH_PCI_MMIO32_BASE + 0x100000;
	uint8_t b = 0;

	/* Memory decode off: the window answers all-ones, the device sees nothing. */
	assert_int_equal(mmio_read32(vm, bar0 + 0x10), 0xffffffff);
	assert_int_equal(t->reads, 0);
	conf1_write(vm, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(mmio_read32(vm, bar0 + 0x10), 0x5a5a5a5a);
	assert_int_equal(t->reads, 1);
	assert_int_equal(t->last_bar, 0);
	assert_int_equal(t->last_off, 0x10);
	/* An access straddling the end of the BAR is not the device's. */
	assert_int_equal(mmio_read32(vm, bar0 + T_BAR0_SIZE - 2), 0xffffffff);
	/* I/O decode is separate. */
	bus_access(&vm->buses[MVM_BUS_PIO], io + 3, &b, 1, false);
	assert_int_equal(b, 0xff);
	conf1_write(vm, 1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_IO, 2);
	bus_access(&vm->buses[MVM_BUS_PIO], io + 3, &b, 1, true);
	assert_int_equal(t->writes, 1);
	assert_int_equal(t->last_bar, 1);
	assert_int_equal(t->last_off, 3);

	/* The guest moves BAR 0 while decoding: the device is told, accesses follow. */
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0, (uint32_t)moved, 4);
	assert_int_equal(t->remapped[0], moved);
	assert_int_equal(mmio_read32(vm, bar0 + 0x10), 0xffffffff);
	assert_int_equal(mmio_read32(vm, moved + 0x20), 0x5a5a5a5a);
	assert_int_equal(t->last_off, 0x20);
	mmio_write32(vm, moved + 0x24, 1);
	assert_int_equal(t->last_off, 0x24);
	/* Moved out of the window (onto RAM): nothing decodes it, the device unmaps. */
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0, 0x10000, 4);
	assert_int_equal(t->remapped[0], 0);
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0, (uint32_t)moved, 4);
	assert_int_equal(t->remapped[0], moved);
	/* Straddling the window's end is outside too. */
	conf1_write(vm, 1, PCI_BASE_ADDRESS_0,
		    (uint32_t)(ARCH_PCI_MMIO32_BASE + ARCH_PCI_MMIO32_SIZE), 4);
	assert_int_equal(t->remapped[0], 0);
}

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void msix_program(struct vm *vm, uint64_t bar0, unsigned int v, uint64_t addr, uint32_t data,
			 bool masked)
{
	uint64_t e = bar0 + 0x800 + v * PCI_MSIX_ENTRY_SIZE;

	mmio_write32(vm, e, (uint32_t)addr);
	mmio_write32(vm, e + 4, (uint32_t)(addr >> 32));
	mmio_write32(vm, e + 8, data);
	mmio_write32(vm, e + 12, masked);
}

static void test_msix(void **state)
{
	struct vm *vm = *state;
	struct tpci *t = new_tpci(vm, "t0");
	struct pci_dev *pdev = &t->pdev;
	uint32_t bar0 = conf1_read(vm, 1, 0, PCI_BASE_ADDRESS_0, 4);
	unsigned int cap = pdev->msix.cap;
	int gsi;

	/* The capability: table size N-1, table and PBA in BAR 0. */
	assert_int_equal(conf1_read(vm, 1, 0, cap, 1), PCI_CAP_ID_MSIX);
	assert_int_equal(conf1_read(vm, 1, 0, cap + 2, 2), T_MSIX_NR - 1);
	assert_int_equal(conf1_read(vm, 1, 0, cap + 4, 4), 0x800 | 0);
	assert_int_equal(conf1_read(vm, 1, 0, cap + 8, 4), 0xc00 | 0);
	/* Table size bits are read-only; enable + function mask are not. */
	conf1_write(vm, 1, cap + 2, 0xffff, 2);
	assert_int_equal(conf1_read(vm, 1, 0, cap + 2, 2),
			 PCI_MSIX_ENABLE | PCI_MSIX_MASKALL | (T_MSIX_NR - 1));
	conf1_write(vm, 1, cap + 2, 0, 2);

	conf1_write(vm, 1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	/* Vectors start masked. */
	assert_int_equal(mmio_read32(vm, bar0 + 0x800 + 12), 1);
	/* Not enabled: the device must use INTx. */
	assert_int_equal(pci_msix_notify(pdev, 0), -ENODEV);
	assert_int_equal(pci_msix_notify(pdev, T_MSIX_NR), -EINVAL);
	assert_false(pci_msix_enabled(pdev));

	msix_program(vm, bar0, 1, 0xfee00000, 0x41, true);
	assert_int_equal(mmio_read32(vm, bar0 + 0x800 + 16 + 8), 0x41);
	conf1_write(vm, 1, cap + 2, PCI_MSIX_ENABLE, 2);
	assert_true(pci_msix_enabled(pdev));
	/* Masked: pending in the PBA, nothing sent. */
	assert_int_equal(pci_msix_notify(pdev, 1), 0);
	assert_int_equal(mmio_read32(vm, bar0 + 0xc00), 1u << 1);
	assert_int_equal(fake_kvm.routing_commits, 0);
	/* Unmasking sends it: a route to its message, an irqfd on that GSI. */
	mmio_write32(vm, bar0 + 0x800 + 16 + 12, 0);
	assert_int_equal(mmio_read32(vm, bar0 + 0xc00), 0);
	assert_int_equal(fake_kvm.routing_commits, 1);
	gsi = fake_irqfd_gsi(pdev->msix.efd[1]);
	assert_true(gsi >= ARCH_MSI_GSI_BASE);
	assert_true(fake_kvm.msi_routed[gsi]);
	assert_int_equal(fake_kvm.msi_addr[gsi], 0xfee00000);
	assert_int_equal(fake_kvm.msi_data[gsi], 0x41);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 1);
	/* The next one is just the eventfd. */
	assert_int_equal(pci_msix_notify(pdev, 1), 0);
	assert_int_equal(fake_kvm.routing_commits, 1);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 1);
	/* A new message: the route follows, once. */
	msix_program(vm, bar0, 1, 0xfee01000, 0x42, false);
	assert_int_equal(pci_msix_notify(pdev, 1), 0);
	assert_int_equal(fake_kvm.routing_commits, 2);
	assert_int_equal(fake_kvm.msi_addr[gsi], 0xfee01000);
	assert_int_equal(fake_kvm.msi_data[gsi], 0x42);
	assert_int_equal(fake_irqfd_gsi(pdev->msix.efd[1]), gsi);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 1);
	/* Function mask: pending again, sent when it lifts. */
	conf1_write(vm, 1, cap + 2, PCI_MSIX_ENABLE | PCI_MSIX_MASKALL, 2);
	assert_int_equal(pci_msix_notify(pdev, 1), 0);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 0);
	assert_int_equal(mmio_read32(vm, bar0 + 0xc00), 1u << 1);
	conf1_write(vm, 1, cap + 2, PCI_MSIX_ENABLE, 2);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 1);
	/* Accesses the spec does not allow are dropped: a byte write, a PBA write. */
	{
		uint8_t b = 0xff;

		bus_access(&vm->buses[MVM_BUS_MMIO], bar0 + 0x800 + 16 + 8, &b, 1, true);
		assert_int_equal(mmio_read32(vm, bar0 + 0x800 + 16 + 8), 0x42);
		mmio_write32(vm, bar0 + 0xc00, 0xffffffff);
		assert_int_equal(mmio_read32(vm, bar0 + 0xc00), 0);
	}
	/* Outside the table and PBA, the BAR is the device's. */
	assert_int_equal(mmio_read32(vm, bar0 + 0x100), 0x5a5a5a5a);
	/* Releasing the device drops the irqfd. */
	{
		int efd = pdev->msix.efd[1];

		mvm_device_unregister(&pdev->dev);
		mvm_device_put(&pdev->dev);
		assert_int_equal(fake_irqfd_gsi(efd), -1);
	}
}

struct intx_seen {
	unsigned int n;
	unsigned int slot[PCI_MAX_SLOTS], pin[PCI_MAX_SLOTS], gsi[PCI_MAX_SLOTS];
};

static void intx_fn(void *opaque, unsigned slot, unsigned pin, unsigned gsi)
{
	struct intx_seen *s = opaque;

	s->slot[s->n] = slot;
	s->pin[s->n] = pin;
	s->gsi[s->n++] = gsi;
}

static void test_intx_shared(void **state)
{
	struct vm *vm = *state;
	struct tpci *t[9];
	struct intx_seen seen = { 0 };
	char name[16];
	unsigned int i;

	for (i = 0; i < 9; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		t[i] = new_tpci(vm, name);
	}
	/* Slots 1 and 9 share GSI 17. */
	assert_int_equal(t[0]->pdev.intx_gsi, 17);
	assert_int_equal(t[8]->pdev.slot, 9);
	assert_int_equal(t[8]->pdev.intx_gsi, 17);
	assert_int_equal(pci_for_each_intx(vm, intx_fn, &seen), 0);
	assert_int_equal(seen.n, 9);
	for (i = 0; i < 9; i++) {
		assert_int_equal(seen.slot[i], i + 1);
		assert_int_equal(seen.pin[i], 1);
		assert_int_equal(seen.gsi[i], pci_intx_gsi(i + 1, 1));
	}

	pci_intx_set(&t[0]->pdev, true);
	assert_int_equal(fake_kvm.irq_level[17], 1);
	assert_true(conf1_read(vm, 1, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	pci_intx_set(&t[8]->pdev, true);
	pci_intx_set(&t[0]->pdev, false);
	assert_int_equal(fake_kvm.irq_level[17], 1); /* slot 9 still holds it */
	pci_intx_set(&t[8]->pdev, false);
	assert_int_equal(fake_kvm.irq_level[17], 0);
	/* INTx disable masks the line but not the status bit. */
	conf1_write(vm, 2, PCI_COMMAND, PCI_COMMAND_INTX_DISABLE, 2);
	pci_intx_set(&t[1]->pdev, true);
	assert_int_equal(fake_kvm.irq_level[18], 0);
	assert_true(conf1_read(vm, 2, 0, PCI_STATUS, 2) & PCI_STATUS_INTERRUPT);
	conf1_write(vm, 2, PCI_COMMAND, 0, 2);
	assert_int_equal(fake_kvm.irq_level[18], 1);
	/* MSI-X on: no INTx. */
	conf1_write(vm, 2, t[1]->pdev.msix.cap + 2, PCI_MSIX_ENABLE, 2);
	assert_int_equal(fake_kvm.irq_level[18], 0);
	conf1_write(vm, 2, t[1]->pdev.msix.cap + 2, 0, 2);
	assert_int_equal(fake_kvm.irq_level[18], 1);
	/* A device that goes away lowers its line. */
	mvm_device_unregister(&t[1]->pdev.dev);
	assert_int_equal(fake_kvm.irq_level[18], 0);
	mvm_device_put(&t[1]->pdev.dev);
}

static void test_unbind(void **state)
{
	struct vm *vm = *state;
	struct tpci *a = new_tpci(vm, "a");
	struct tpci *b = new_tpci(vm, "b");
	unsigned int devs = atomic_load(&vm->stat_devices);

	assert_int_equal(b->pdev.slot, 2);
	mvm_device_get(&a->pdev.dev);
	pci_dev_unregister(&a->pdev);
	/* Gone from config space and from the listing; told to drop its BARs. */
	assert_int_equal(conf1_read(vm, 1, 0, PCI_VENDOR_ID, 2), 0xffff);
	assert_int_equal(atomic_load(&vm->stat_devices), devs - 1);
	assert_int_equal(a->remapped[0], 0);
	assert_int_equal(a->pdev.slot, -1);
	/* Its slot is free for the next device. */
	{
		struct tpci *c = new_tpci(vm, "c");

		assert_int_equal(c->pdev.slot, 1);
	}
	mvm_device_put(&a->pdev.dev);
	mvm_device_put(&a->pdev.dev);
}

static void test_no_room(void **state)
{
	struct vm *vm = *state;
	struct tpci *t;
	char name[16];
	unsigned int i;

	for (i = 1; i < PCI_MAX_SLOTS; i++) {
		snprintf(name, sizeof(name), "t%u", i);
		new_tpci(vm, name);
	}
	t = mvm_device_alloc(struct tpci, pdev, vm, &t_ops, "full", NULL);
	assert_false(IS_ERR(t));
	assert_int_equal(pci_dev_register(&t->pdev), -ENOSPC);
	mvm_device_put(&t->pdev.dev);
}

static void test_bad_setup(void **state)
{
	struct pci_dev *pdev = test_calloc(1, sizeof(*pdev));
	uint8_t big[150] = { PCI_CAP_ID_VNDR };

	(void)state;
	pci_dev_init(pdev, NULL, 1, 2, 0, 0, 0, 0);
	assert_int_equal(pci_dev_add_bar(pdev, 0, MVM_BUS_MMIO, 0x3000, false), -EINVAL);
	assert_int_equal(pci_dev_add_bar(pdev, 5, MVM_BUS_MMIO, 0x1000, true), -EINVAL);
	assert_int_equal(pci_dev_add_bar(pdev, 0, MVM_BUS_PIO, 0x1000, false), -EINVAL);
	assert_int_equal(pci_dev_add_bar(pdev, 0, MVM_BUS_MMIO, 0x1000, true), 0);
	assert_int_equal(pci_dev_add_bar(pdev, 1, MVM_BUS_MMIO, 0x1000, false), -EINVAL);
	assert_int_equal(pci_dev_add_msix(pdev, 4, 0, 0xff8, 0x800), -EINVAL); /* past the BAR */
	assert_int_equal(pci_dev_add_msix(pdev, 4, 0, 0x800, 0x810), -EINVAL); /* overlap */
	assert_int_equal(pci_dev_add_msix(pdev, 0, 0, 0x800, 0xc00), -EINVAL);
	assert_int_equal(pci_dev_add_msix(pdev, 4, 2, 0x800, 0xc00), -EINVAL); /* no BAR 2 */
	assert_int_equal(pci_dev_add_cap(pdev, big, sizeof(big)), 0x40);
	assert_int_equal(pci_dev_add_cap(pdev, big, sizeof(big)), -ENOSPC);
	pci_dev_release(pdev);
	test_free(pdev);
}

int run_pci_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_enumeration, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf1_hostile, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_masks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_decode_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(test_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_intx_shared, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unbind, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_room, setup, teardown),
		cmocka_unit_test(test_bad_setup),
	};

	return cmocka_run_group_tests_name("pci", tests, NULL, NULL);
}
