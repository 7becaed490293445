// SPDX-License-Identifier: MIT
/* The x86 VM: memory layout, platform devices, KVM VM-level set-up. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "boot/boot.h"
#include "x86.h"

const struct platform_device_desc arch_platform_devices[] = {
	/* Only with the split irqchip (--irqchip split); else KVM's IOAPIC answers there. */
	{ "ioapic", "ioapic", MVM_BUS_MMIO, X86_IOAPIC_ADDR, 0x1000, 0 },
	{ "serial8250", "serial0", MVM_BUS_PIO, X86_SERIAL_PORT, 8, X86_SERIAL_IRQ },
	{ "i8042", "i8042", MVM_BUS_PIO, 0x60, 5, 1 },
	{ "debug-exit", "debug-exit", MVM_BUS_PIO, 0xf4, 4, 0 },
	{ "acpi-sleep", "acpi-sleep", MVM_BUS_PIO, X86_ACPI_SLEEP_PORT, 2, 0 },
	/* Only with --boot-timer; where Firecracker has it (the PCI window's start). */
	{ "boot-timer", "boot-timer", MVM_BUS_MMIO, X86_BOOT_TIMER_ADDR, 0x1000, 0 },
	/* conf1 ports; the host bridge also claims ECAM and the BAR windows (ARCH_PCI_*). */
	{ "pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0 },
};
const unsigned int arch_nr_platform_devices = ARRAY_SIZE(arch_platform_devices);

unsigned int arch_mem_layout(uint64_t ram, struct mem_range *ranges, unsigned int max)
{
	unsigned int n = 0;

	if (max < 2)
		return 0;
	/* RAM from 0 up to the MMIO hole below 4 GiB, the rest above 4 GiB. */
	ranges[n++] = (struct mem_range){ 0, MIN(ram, X86_MMIO_HOLE_START) };
	if (ram > X86_MMIO_HOLE_START)
		ranges[n++] = (struct mem_range){ SZ_4G, ram - X86_MMIO_HOLE_START };
	return n;
}

static int vm_ioctl_checked(struct vm *vm, unsigned long req, unsigned long arg, const char *what)
{
	if (mvm_ioctl(vm->vm_fd, req, arg) < 0) {
		int err = -errno;

		pr_err("%s: %s", what, strerror(-err));
		return err;
	}
	return 0;
}

unsigned int arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned int max)
{
	unsigned int gsi, n = 0;

	/*
	 * KVM's default with KVM_CREATE_IRQCHIP: GSI 0-23 to the IOAPIC pin of
	 * the same number, GSI 0-15 also to the PICs (master 0-7, slave 8-15).
	 */
	for (gsi = 0; gsi < 24 && n < max; gsi++) {
		e[n] = (struct kvm_irq_routing_entry){ .gsi = gsi,
						       .type = KVM_IRQ_ROUTING_IRQCHIP };
		e[n].u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
		e[n++].u.irqchip.pin = gsi;
		if (gsi >= 16 || n == max)
			continue;
		e[n] = (struct kvm_irq_routing_entry){ .gsi = gsi,
						       .type = KVM_IRQ_ROUTING_IRQCHIP };
		e[n].u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
		e[n++].u.irqchip.pin = gsi % 8;
	}
	return n;
}

/*
 * LAPICs in KVM, the IOAPIC in mvm (src/hw/ioapic.c) and no PIC, as Cloud
 * Hypervisor has it: KVM registers no irqchip device on its I/O bus, so no
 * SRCU grace period is left pending for the VM's destroy. KVM reserves GSIs
 * 0-23 for the IOAPIC's pins, whose MSI routes tell it which vectors need an
 * EOI exit. Linux finds no 8259 (its mask register reads 0xff) and goes on
 * with the IOAPIC alone. KVM's PIT needs KVM's PIC: refused.
 */
static int x86_split_irqchip_create(struct vm *vm)
{
	struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = VM_IRQCHIP_PINS };

	if (vm->cfg.pit) {
		pr_err("the PIT needs the in-kernel irqchip: --pit goes with --irqchip kernel");
		return -EINVAL;
	}
	return vm_ioctl_checked(vm, KVM_ENABLE_CAP, (unsigned long)&cap,
				"KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
}

int arch_vm_create(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = 0 };
	uint64_t idmap = X86_IDENTITY_MAP_ADDR;
	int err;

	/* Both are needed only without unrestricted guest, but cost nothing else. */
	err = vm_ioctl_checked(vm, KVM_SET_TSS_ADDR, X86_TSS_ADDR, "KVM_SET_TSS_ADDR");
	if (err)
		return err;
	err = vm_ioctl_checked(vm, KVM_SET_IDENTITY_MAP_ADDR, (unsigned long)&idmap,
			       "KVM_SET_IDENTITY_MAP_ADDR");
	if (err)
		return err;
	/* A memory slot: before the irqchip (see vm_create()). */
	if (vm->cfg.firmware) {
		err = firmware_map(vm);
		if (err)
			return err;
	}
	if (vm->cfg.irqchip == MVM_IRQCHIP_SPLIT) {
		err = x86_split_irqchip_create(vm);
		if (err)
			return err;
	} else {
		/* LAPICs, IOAPIC and PIC in the kernel: no exits for interrupt delivery. */
		err = vm_ioctl_checked(vm, KVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
		if (err)
			return err;
	}
	/* The PIT costs an SRCU wait on creation; only when asked for. */
	if (vm->cfg.pit) {
		err = vm_ioctl_checked(vm, KVM_CREATE_PIT2, (unsigned long)&pit, "KVM_CREATE_PIT2");
		if (err)
			return err;
	}
	return x86_cpuid_init(vm);
}

void arch_vm_destroy(struct vm *vm)
{
	/* The irqchip and PIT go with the VM fd. */
	x86_cpuid_fini(vm);
}
