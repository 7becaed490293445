// SPDX-License-Identifier: MIT
/*
 * The split irqchip's IOAPIC (src/hw/ioapic.c), register by register, on
 * the fake KVM: what it answers over MMIO, the MSIs it sends
 * (KVM_SIGNAL_MSI) and the pin routes it leaves in the GSI routing table.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/err.h"
#include "mvm/hw.h"
#include "mvm/vm.h"
#include "unit.h"

#define BASE 0xfec00000ULL

struct ioapic_fixture {
	struct vm *vm;
	struct mvm_device *dev;
};

static const struct platform_device_desc ioapic_desc = { "ioapic", "ioapic", MVM_BUS_MMIO,
							 BASE,	   0x1000,   0 };

static int ioapic_setup(void **state)
{
	static struct ioapic_fixture f;
	struct mvm_config cfg;

	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.console_out = -1;
	cfg.irqchip = MVM_IRQCHIP_SPLIT;
	f.vm = vm_create(&cfg);
	if (IS_ERR(f.vm))
		return -1;
	f.dev = ioapic_create(f.vm, &ioapic_desc);
	if (IS_ERR(f.dev)) {
		vm_destroy(f.vm);
		return -1;
	}
	*state = &f;
	return 0;
}

static int ioapic_teardown(void **state)
{
	struct ioapic_fixture *f = *state;

	vm_destroy(f->vm);
	return 0;
}

static void mmio(struct vm *vm, uint64_t off, void *data, unsigned int len, bool write)
{
	assert_true(bus_access(&vm->buses[MVM_BUS_MMIO], BASE + off, data, len, write));
}

static void reg_write(struct vm *vm, uint32_t reg, uint32_t val)
{
	mmio(vm, IOAPIC_IOREGSEL, &reg, 4, true);
	mmio(vm, IOAPIC_IOWIN, &val, 4, true);
}

static uint32_t reg_read(struct vm *vm, uint32_t reg)
{
	uint32_t v = 0xdeadbeef;

	mmio(vm, IOAPIC_IOREGSEL, &reg, 4, true);
	mmio(vm, IOAPIC_IOWIN, &v, 4, false);
	return v;
}

static void rte_write(struct vm *vm, unsigned int pin, uint64_t rte)
{
	/* As Linux does: the high word (destination) first, the low word last. */
	reg_write(vm, IOAPIC_REG_RTE + 2 * pin + 1, (uint32_t)(rte >> 32));
	reg_write(vm, IOAPIC_REG_RTE + 2 * pin, (uint32_t)rte);
}

static uint64_t rte_read(struct vm *vm, unsigned int pin)
{
	return (uint64_t)reg_read(vm, IOAPIC_REG_RTE + 2 * pin + 1) << 32 |
	       reg_read(vm, IOAPIC_REG_RTE + 2 * pin);
}

static void test_ioapic_id_version_arbitration(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;

	assert_int_equal(reg_read(vm, IOAPIC_REG_VER), 0x00170011); /* 24 pins, version 0x11 */
	assert_int_equal(reg_read(vm, IOAPIC_REG_ID), 0);
	reg_write(vm, IOAPIC_REG_ID, 0xffffffff); /* only bits 24-27 hold */
	assert_int_equal(reg_read(vm, IOAPIC_REG_ID), 0x0f000000);
	assert_int_equal(reg_read(vm, IOAPIC_REG_ARB), 0x0f000000);
	reg_write(vm, IOAPIC_REG_ID, 0x02000000);
	assert_int_equal(reg_read(vm, IOAPIC_REG_ID), 0x02000000);
	/* Version and arbitration are read-only; unknown registers read 0. */
	reg_write(vm, IOAPIC_REG_VER, 0);
	reg_write(vm, IOAPIC_REG_ARB, 0x05000000);
	assert_int_equal(reg_read(vm, IOAPIC_REG_VER), 0x00170011);
	assert_int_equal(reg_read(vm, IOAPIC_REG_ARB), 0x02000000);
	assert_int_equal(reg_read(vm, 0x03), 0);
	assert_int_equal(reg_read(vm, 0x0f), 0);
	assert_int_equal(reg_read(vm, IOAPIC_REG_RTE + 2 * IOAPIC_PINS), 0); /* past pin 23 */
	reg_write(vm, IOAPIC_REG_RTE + 2 * IOAPIC_PINS, 0x1234);
	assert_int_equal(reg_read(vm, IOAPIC_REG_RTE + 2 * IOAPIC_PINS), 0);
}

static void test_ioapic_mmio_widths(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	uint8_t b = 0x01, rb = 0;
	uint16_t h = 0;
	uint32_t w = 0xdeadbeef;

	/* IOREGSEL takes a byte write and keeps 8 bits. */
	mmio(vm, IOAPIC_IOREGSEL, &b, 1, true);
	mmio(vm, IOAPIC_IOREGSEL, &rb, 1, false);
	assert_int_equal(rb, IOAPIC_REG_VER);
	mmio(vm, IOAPIC_IOWIN + 2, &h, 2, false); /* the version register's high half */
	assert_int_equal(h, 0x0017);
	w = 0x1ff;
	mmio(vm, IOAPIC_IOREGSEL, &w, 4, true);
	w = 0;
	mmio(vm, IOAPIC_IOREGSEL, &w, 4, false);
	assert_int_equal(w, 0xff);
	/* Nothing else in the window: reads 0, writes are dropped. */
	w = 0xdeadbeef;
	mmio(vm, 0x20, &w, 4, false);
	assert_int_equal(w, 0);
	w = 0xdeadbeef;
	mmio(vm, 0x40, &w, 4, true);
	w = 0xdeadbeef;
	mmio(vm, IOAPIC_IOWIN + 2, &w, 4, false); /* across a register */
	assert_int_equal(w, 0);
}

static void test_ioapic_redirection_entries(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	unsigned int pin;

	/* Reset: every pin masked, edge, vector 0, destination 0. */
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(rte_read(vm, pin), IOAPIC_RTE_MASK);
	/* Each pin its own entry; reserved bits read 0, status bits are read-only. */
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		rte_write(vm, pin, 0xffffffffffffffffULL);
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		assert_int_equal(rte_read(vm, pin),
				 IOAPIC_RTE_DEST | IOAPIC_RTE_WRITABLE_LO); /* 0xff0000000001bfff */
	rte_write(vm, 7, 0x0300000000002a35ULL); /* dest 3, low polarity, vector 0x35, fixed */
	assert_int_equal(rte_read(vm, 7), 0x0300000000002a35ULL & ~IOAPIC_RTE_DELIVERY_STATUS);
	assert_int_equal(reg_read(vm, IOAPIC_REG_RTE + 2 * 7), 0x00002a35 & ~0x1000);
	assert_int_equal(reg_read(vm, IOAPIC_REG_RTE + 2 * 7 + 1), 0x03000000);
	/* Each word alone: the other keeps its value. */
	reg_write(vm, IOAPIC_REG_RTE + 2 * 7 + 1, 0x05000000);
	assert_int_equal(rte_read(vm, 7), 0x0500000000002a35ULL & ~IOAPIC_RTE_DELIVERY_STATUS);
	reg_write(vm, IOAPIC_REG_RTE + 2 * 7, 0x10040);
	assert_int_equal(rte_read(vm, 7), 0x0500000000010040ULL);
	/* No MSI was sent: nothing was asserted. */
	assert_int_equal(fake_kvm.signal_msi, 0);
}

static void test_ioapic_msi_composition(void **state)
{
	(void)state;
	/* Physical destination 1, fixed, edge. */
	assert_int_equal(ioapic_msi_addr(0x0100000000000031ULL), 0xfee01000);
	assert_int_equal(ioapic_msi_data(0x0100000000000031ULL), 0x31);
	/* Logical destination 0x03, lowest priority, level. */
	assert_int_equal(ioapic_msi_addr(0x030000000000a941ULL), 0xfee03004);
	assert_int_equal(ioapic_msi_data(0x030000000000a941ULL), 0xc141);
	/* NMI (4) and ExtINT (7) keep their delivery mode; polarity and mask are not sent. */
	assert_int_equal(ioapic_msi_data(0x0000000000012402ULL), 0x0402);
	assert_int_equal(ioapic_msi_data(0x0000000000000700ULL), 0x0700);
	assert_int_equal(ioapic_msi_addr(0xff00000000000000ULL), 0xfeeff000);
}

static void test_ioapic_edge(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	unsigned int commits;

	commits = fake_kvm.routing_commits;
	rte_write(vm, 4, 0x0100000000000031ULL); /* the UART's pin: edge, vector 0x31, CPU 1 */
	/* An edge pin needs no route: KVM exits on no EOI for it. */
	assert_int_equal(fake_kvm.routing_commits, commits);
	assert_false(fake_kvm.msi_routed[4]);

	assert_int_equal(vm_irq_line(vm, 4, 1), 0);
	assert_int_equal(fake_kvm.signal_msi, 1);
	assert_int_equal(fake_kvm.last_msi_addr, 0xfee01000);
	assert_int_equal(fake_kvm.last_msi_data, 0x31);
	/* The line staying high is no new edge. */
	assert_int_equal(vm_irq_line(vm, 4, 1), 0);
	assert_int_equal(fake_kvm.signal_msi, 1);
	assert_int_equal(vm_irq_line(vm, 4, 0), 0);
	assert_int_equal(vm_irq_line(vm, 4, 1), 0);
	assert_int_equal(fake_kvm.signal_msi, 2);
	/* An edge has no remote IRR; an EOI of its vector changes nothing. */
	assert_int_equal(rte_read(vm, 4) & IOAPIC_RTE_REMOTE_IRR, 0);
	vm_irq_eoi(vm, 0x31);
	assert_int_equal(fake_kvm.signal_msi, 2);
	/* Nor does a KVM_IRQ_LINE go to KVM: the lines are the IOAPIC's now. */
	assert_int_equal(fake_kvm.irq_level[4], 0);
	/* Out-of-range pins are refused. */
	assert_int_equal(vm_irq_line(vm, IOAPIC_PINS, 1), -EINVAL);
}

static void test_ioapic_edge_masked(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;

	rte_write(vm, 5, 0x0000000000010032ULL); /* masked */
	vm_irq_line(vm, 5, 1);
	assert_int_equal(fake_kvm.signal_msi, 0);
	/* Unmasked while the line is high: the latched edge goes out, once. */
	rte_write(vm, 5, 0x0000000000000032ULL);
	assert_int_equal(fake_kvm.signal_msi, 1);
	assert_int_equal(fake_kvm.last_msi_data, 0x32);
	rte_write(vm, 5, 0x0000000000000032ULL);
	assert_int_equal(fake_kvm.signal_msi, 1);
	/* A pulse while masked is gone once its line falls (as in KVM's IOAPIC). */
	vm_irq_line(vm, 5, 0);
	rte_write(vm, 5, 0x0000000000010032ULL);
	vm_irq_line(vm, 5, 1);
	vm_irq_line(vm, 5, 0);
	rte_write(vm, 5, 0x0000000000000032ULL);
	assert_int_equal(fake_kvm.signal_msi, 1);
}

static void test_ioapic_level_remote_irr_eoi(void **state)
{
	struct ioapic_fixture *f = *state;
	struct vm *vm = f->vm;
	const uint64_t rte = 0x0000000000008040ULL; /* level, vector 0x40, CPU 0 */
	unsigned int commits;

	/* Masked level pin: no route yet. */
	commits = fake_kvm.routing_commits;
	rte_write(vm, 16, rte | IOAPIC_RTE_MASK);
	assert_int_equal(fake_kvm.routing_commits, commits);
	assert_false(fake_kvm.msi_routed[16]);
	/* Unmasked: its route tells KVM the vector is level-triggered (EOI exits). */
	rte_write(vm, 16, rte);
	assert_int_equal(fake_kvm.routing_commits, commits + 1);
	assert_true(fake_kvm.msi_routed[16]);
	assert_int_equal(fake_kvm.msi_addr[16], 0xfee00000);
	assert_int_equal(fake_kvm.msi_data[16], 0xc040);
	/* The same entry again: the table is not rewritten. */
	rte_write(vm, 16, rte);
	assert_int_equal(fake_kvm.routing_commits, commits + 1);

	/* Asserted: delivered once, remote IRR set until the EOI. */
	vm_irq_line(vm, 16, 1);
	assert_int_equal(fake_kvm.signal_msi, 1);
	assert_int_equal(fake_kvm.last_msi_data, 0xc040);
	assert_true(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	vm_irq_line(vm, 16, 1);
	assert_int_equal(fake_kvm.signal_msi, 1);
	/* Remote IRR is read-only: a guest write keeps it. */
	rte_write(vm, 16, rte);
	assert_true(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(fake_kvm.signal_msi, 1);
	/* An EOI of another vector leaves it. */
	vm_irq_eoi(vm, 0x41);
	assert_true(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	/* EOI with the line still high: delivered again. */
	vm_irq_eoi(vm, 0x40);
	assert_int_equal(fake_kvm.signal_msi, 2);
	assert_true(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	/* The device is served: line low, then the EOI clears remote IRR. */
	vm_irq_line(vm, 16, 0);
	vm_irq_eoi(vm, 0x40);
	assert_int_equal(fake_kvm.signal_msi, 2);
	assert_false(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	assert_int_equal(((struct ioapic *)f->dev)->eois, 2);

	/* A level asserted while masked goes out when unmasked. */
	rte_write(vm, 16, rte | IOAPIC_RTE_MASK);
	assert_false(fake_kvm.msi_routed[16]); /* masked: the route goes */
	vm_irq_line(vm, 16, 1);
	assert_int_equal(fake_kvm.signal_msi, 2);
	rte_write(vm, 16, rte);
	assert_int_equal(fake_kvm.signal_msi, 3);
	/* Two pins on one vector (shared INTx): one EOI serves both. */
	rte_write(vm, 17, rte);
	vm_irq_line(vm, 17, 1);
	assert_int_equal(fake_kvm.signal_msi, 4);
	vm_irq_line(vm, 16, 0);
	vm_irq_line(vm, 17, 0);
	vm_irq_eoi(vm, 0x40);
	assert_false(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	assert_false(rte_read(vm, 17) & IOAPIC_RTE_REMOTE_IRR);
	/* Switched to edge: remote IRR goes, and so does the route. */
	vm_irq_line(vm, 16, 1);
	assert_true(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	rte_write(vm, 16, 0x40);
	assert_false(rte_read(vm, 16) & IOAPIC_RTE_REMOTE_IRR);
	assert_false(fake_kvm.msi_routed[16]);
	assert_true(fake_kvm.msi_routed[17]);
}

static void test_ioapic_routes_with_msi_routes(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	int gsi = -1;

	rte_write(vm, 18, 0x0200000000008050ULL);
	/* A device's MSI route is written with the pins' routes, not instead of them. */
	assert_int_equal(vm_msi_route(vm, -1, 0xfee00000, 0x61, &gsi), 0);
	assert_int_equal(gsi, ARCH_MSI_GSI_BASE);
	assert_true(fake_kvm.msi_routed[18]);
	assert_int_equal(fake_kvm.msi_addr[18], 0xfee02000);
	assert_true(fake_kvm.msi_routed[gsi]);
	assert_int_equal(fake_kvm.routing_nr, 2);
	assert_int_equal(vm_irq_pin_route(vm, IOAPIC_PINS, true, 0, 0), -EINVAL);
}

/* An irqfd on a pin (virtio-mmio's) goes through the IOAPIC, relayed by the VM's loop. */
static void test_ioapic_irqfd_relay(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	struct vm_irqfd_relay *r = NULL;
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), msi_efd;
	unsigned int i;

	assert_true(efd >= 0);
	assert_int_equal(vm_irqfd_assign(vm, efd, 5), 0);
	assert_int_equal(fake_irqfd_gsi(efd), -1); /* not KVM's: it cannot inject there */
	for (i = 0; i < ARRAY_SIZE(vm->irq.relays); i++)
		if (vm->irq.relays[i].used && vm->irq.relays[i].h.fd == efd)
			r = &vm->irq.relays[i];
	assert_non_null(r);
	assert_int_equal(r->gsi, 5);

	rte_write(vm, 5, 0x0100000000000035ULL); /* edge, vector 0x35, CPU 1 */
	assert_int_equal(eventfd_write(efd, 1), 0);
	r->h.fn(&r->h, EPOLLIN); /* what the loop does when efd is readable */
	assert_int_equal(fake_kvm.signal_msi, 1);
	assert_int_equal(fake_kvm.last_msi_addr, 0xfee01000);
	assert_int_equal(fake_kvm.last_msi_data, 0x35);
	/* Each signal is a new edge; nothing pending is nothing sent. */
	assert_int_equal(eventfd_write(efd, 1), 0);
	r->h.fn(&r->h, EPOLLIN);
	r->h.fn(&r->h, EPOLLIN);
	assert_int_equal(fake_kvm.signal_msi, 2);
	/* Masked: nothing. */
	rte_write(vm, 5, 0x0100000000010035ULL);
	assert_int_equal(eventfd_write(efd, 1), 0);
	r->h.fn(&r->h, EPOLLIN);
	assert_int_equal(fake_kvm.signal_msi, 2);

	assert_int_equal(vm_irqfd(vm, efd, 5, false), 0);
	assert_false(r->used);
	assert_int_equal(vm_irqfd(vm, efd, 5, false), -ENOENT);
	/* A GSI above the pins (an MSI route's) stays KVM's irqfd. */
	msi_efd = eventfd(0, EFD_CLOEXEC);
	assert_int_equal(vm_irqfd_assign(vm, msi_efd, ARCH_MSI_GSI_BASE), 0);
	assert_int_equal(fake_irqfd_gsi(msi_efd), ARCH_MSI_GSI_BASE);
	assert_int_equal(vm_irqfd(vm, msi_efd, ARCH_MSI_GSI_BASE, false), 0);
	close(msi_efd);
	close(efd);
}

static void test_ioapic_one_per_vm(void **state)
{
	struct vm *vm = ((struct ioapic_fixture *)*state)->vm;
	struct platform_device_desc d = ioapic_desc;

	d.base = BASE + 0x10000;
	assert_int_equal(PTR_ERR(ioapic_create(vm, &d)), -EBUSY);
	/* Its window was not claimed. */
	assert_false(bus_access(&vm->buses[MVM_BUS_MMIO], d.base, &(uint32_t){ 0 }, 4, false));
}

static void test_ioapic_kernel_irqchip_lines(void **state)
{
	struct vm *vm;

	(void)state;
	fake_reset();
	vm = unit_vm(1);
	/* Without a user-space irqchip, lines and EOIs go to KVM (or nowhere). */
	assert_int_equal(vm_irq_line(vm, 9, 1), 0);
	assert_int_equal(fake_kvm.irq_level[9], 1);
	vm_irq_eoi(vm, 0x40);
	assert_int_equal(fake_kvm.signal_msi, 0);
	vm_destroy(vm);
}

int run_ioapic_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_ioapic_id_version_arbitration, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_mmio_widths, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_redirection_entries, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test(test_ioapic_msi_composition),
		cmocka_unit_test_setup_teardown(test_ioapic_edge, ioapic_setup, ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_edge_masked, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_level_remote_irr_eoi, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_routes_with_msi_routes, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_irqfd_relay, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test_setup_teardown(test_ioapic_one_per_vm, ioapic_setup,
						ioapic_teardown),
		cmocka_unit_test(test_ioapic_kernel_irqchip_lines),
	};

	return cmocka_run_group_tests_name("ioapic", tests, NULL, NULL);
}
