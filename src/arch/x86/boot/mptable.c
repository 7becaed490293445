// SPDX-License-Identifier: MIT
/*
 * The MultiProcessor Specification 1.4 table: how a kernel without ACPI
 * (the default test kernel) finds its CPUs, the IOAPIC and which IOAPIC pin
 * each ISA interrupt arrives on. A floating pointer at BOOT_MPTABLE (in the
 * BIOS area Linux scans) points at the configuration table right after it.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "mvm/log.h"
#include "mvm/vm.h"
#include "../x86.h"

#define MPC_SPEC_REV	   4 /* 1.4 */
#define MPC_LAPIC_VER	   0x14
#define MPC_IOAPIC_VER	   0x11
#define MPC_CPU_EN	   0x01
#define MPC_CPU_BP	   0x02
#define MPC_BUS_PCI	   0
#define MPC_BUS_ISA	   1
#define MPC_INT_INT	   0
#define MPC_INT_NMI	   1
#define MPC_INT_EXTINT	   3
#define MPC_ALL_LAPICS	   0xff
#define MPC_ISA_IRQS	   16
#define MPC_IRQ_LEVEL_HIGH 0x0d /* polarity 01 active high, trigger 11 level */

enum { MPC_PROCESSOR, MPC_BUS, MPC_IOAPIC, MPC_IOINT, MPC_LINTSRC };

struct mpf_intel {
	char signature[4]; /* "_MP_" */
	uint32_t physptr;
	uint8_t length; /* in 16-byte units */
	uint8_t specification;
	uint8_t checksum;
	uint8_t feature[5];
} __attribute__((packed));

struct mpc_table {
	char signature[4]; /* "PCMP" */
	uint16_t length;
	uint8_t spec;
	uint8_t checksum;
	char oem[8];
	char productid[12];
	uint32_t oemptr;
	uint16_t oemsize;
	uint16_t oemcount;
	uint32_t lapic;
	uint16_t ext_length;
	uint8_t ext_checksum;
	uint8_t reserved;
} __attribute__((packed));

struct mpc_cpu {
	uint8_t type, apicid, apicver, cpuflag;
	uint32_t cpufeature, featureflag;
	uint32_t reserved[2];
} __attribute__((packed));

struct mpc_bus {
	uint8_t type, busid;
	char bustype[6];
} __attribute__((packed));

struct mpc_ioapic {
	uint8_t type, apicid, apicver, flags;
	uint32_t apicaddr;
} __attribute__((packed));

struct mpc_intsrc { /* I/O and local interrupt assignment entries share it */
	uint8_t type, irqtype;
	uint16_t irqflag;
	uint8_t srcbus, srcbusirq, dstapic, dstirq;
} __attribute__((packed));

_Static_assert(sizeof(struct mpf_intel) == 16, "MP floating pointer");
_Static_assert(sizeof(struct mpc_table) == 44, "MP configuration table header");
_Static_assert(sizeof(struct mpc_cpu) == 20, "MP processor entry");

uint8_t boot_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	return (uint8_t)-sum;
}

struct mpc_builder {
	uint8_t buf[BOOT_MPTABLE_END - BOOT_MPTABLE];
	size_t len;
	uint16_t count;
};

static int mpc_add(struct mpc_builder *b, const void *entry, size_t len)
{
	if (b->len + len > sizeof(b->buf))
		return -E2BIG;
	memcpy(b->buf + b->len, entry, len);
	b->len += len;
	b->count++;
	return 0;
}

static int mpc_add_intsrc(struct mpc_builder *b, uint8_t type, uint8_t irqtype, uint16_t flags,
			  uint8_t bus, uint8_t busirq, uint8_t dst, uint8_t dstirq)
{
	struct mpc_intsrc e = { type, irqtype, flags, bus, busirq, dst, dstirq };

	return mpc_add(b, &e, sizeof(e));
}

int mptable_write(struct vm *vm)
{
	struct mpc_builder b;
	struct mpf_intel *mpf = (struct mpf_intel *)b.buf;
	struct mpc_table *mpc = (struct mpc_table *)(b.buf + sizeof(*mpf));
	struct boot_intx intx[BOOT_MAX_INTX];
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int cpus = vm->cfg.cpus, i, nr_intx, nr_fw;
	uint8_t ioapic_id = (uint8_t)cpus; /* after the LAPIC ids 0..cpus-1 */
	int err = 0;

	memset(&b, 0, sizeof(b));
	b.len = sizeof(*mpf) + sizeof(*mpc);

	for (i = 0; i < cpus && !err; i++) {
		struct mpc_cpu c = {
			.type = MPC_PROCESSOR,
			.apicid = (uint8_t)i,
			.apicver = MPC_LAPIC_VER,
			.cpuflag = MPC_CPU_EN | (i == 0 ? MPC_CPU_BP : 0),
			.cpufeature = 0x600,  /* family 6: only informational */
			.featureflag = 0x201, /* FPU, APIC */
		};
		err = mpc_add(&b, &c, sizeof(c));
	}
	if (!err && boot_pci_host(vm))
		err = mpc_add(&b, &(struct mpc_bus){ MPC_BUS, MPC_BUS_PCI, "PCI   " },
			      sizeof(struct mpc_bus));
	if (!err)
		err = mpc_add(&b, &(struct mpc_bus){ MPC_BUS, MPC_BUS_ISA, "ISA   " },
			      sizeof(struct mpc_bus));
	if (!err)
		err = mpc_add(&b,
			      &(struct mpc_ioapic){ MPC_IOAPIC, ioapic_id, MPC_IOAPIC_VER, 1,
						    (uint32_t)X86_IOAPIC_ADDR },
			      sizeof(struct mpc_ioapic));
	/*
	 * ISA IRQ n on pin n, but the timer (IRQ 0) on pin 2. The PIC reaches
	 * the CPUs through LINT0, not through IOAPIC pin 0: KVM's IOAPIC does
	 * not wire its pin 0 as ExtINT, and Linux complains when told it is.
	 */
	for (i = 0; i < MPC_ISA_IRQS && !err; i++) {
		if (i == 2)
			continue;
		err = mpc_add_intsrc(&b, MPC_IOINT, MPC_INT_INT, 0, MPC_BUS_ISA, (uint8_t)i,
				     ioapic_id, (uint8_t)(i == 0 ? 2 : i));
	}
	/* PCI INTx: source IRQ = slot << 2 | pin, level-triggered and active high. */
	nr_intx = boot_pci_intx(vm, intx, BOOT_MAX_INTX);
	for (i = 0; i < nr_intx && !err; i++)
		err = mpc_add_intsrc(&b, MPC_IOINT, MPC_INT_INT, MPC_IRQ_LEVEL_HIGH, MPC_BUS_PCI,
				     (uint8_t)(intx[i].slot << 2 | (intx[i].pin - 1)), ioapic_id,
				     (uint8_t)intx[i].gsi);
	/* Device interrupts above the ISA range (virtio-mmio): on the IOAPIC pin of the GSI. */
	nr_fw = boot_fw_devices(vm, fw, BOOT_MAX_FW);
	for (i = 0; i < nr_fw && !err; i++) {
		const struct mvm_fw_res *irq = boot_fw_res(fw[i], MVM_FW_IRQ);

		if (irq && irq->base >= MPC_ISA_IRQS && irq->base < 24)
			err = mpc_add_intsrc(&b, MPC_IOINT, MPC_INT_INT,
					     irq->level ? MPC_IRQ_LEVEL_HIGH : 0, MPC_BUS_ISA,
					     (uint8_t)irq->base, ioapic_id, (uint8_t)irq->base);
	}
	if (!err)
		err = mpc_add_intsrc(&b, MPC_LINTSRC, MPC_INT_EXTINT, 0, MPC_BUS_ISA, 0,
				     MPC_ALL_LAPICS, 0);
	if (!err)
		err = mpc_add_intsrc(&b, MPC_LINTSRC, MPC_INT_NMI, 0, MPC_BUS_ISA, 0,
				     MPC_ALL_LAPICS, 1);
	if (err) {
		pr_err("MP table: more than %zu bytes for %u vCPUs", sizeof(b.buf), cpus);
		return err;
	}

	memcpy(mpc->signature, "PCMP", 4);
	mpc->length = (uint16_t)(b.len - sizeof(*mpf));
	mpc->spec = MPC_SPEC_REV;
	memcpy(mpc->oem, "MVM     ", 8);
	memcpy(mpc->productid, "MVM-VMM     ", 12);
	mpc->oemcount = b.count;
	mpc->lapic = (uint32_t)X86_LAPIC_ADDR;
	mpc->checksum = boot_checksum(mpc, mpc->length);

	memcpy(mpf->signature, "_MP_", 4);
	mpf->physptr = (uint32_t)(BOOT_MPTABLE + sizeof(*mpf));
	mpf->length = 1;
	mpf->specification = MPC_SPEC_REV;
	mpf->checksum = boot_checksum(mpf, sizeof(*mpf));
	return mem_write(&vm->mem, BOOT_MPTABLE, b.buf, b.len);
}
