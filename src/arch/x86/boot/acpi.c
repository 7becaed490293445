// SPDX-License-Identifier: MIT
/*
 * ACPI tables for a hardware-reduced platform (ACPI 6.5, as Firecracker and
 * QEMU's microvm do): RSDP -> XSDT -> FADT (-> DSDT), MADT. No firmware runs:
 * mvm writes the tables into the reserved BIOS area at BOOT_ACPI_START,
 * where Linux finds the RSDP by scanning, or through the PVH start info or
 * the zero page's acpi_rsdp_addr.
 *
 * - FADT: HW_REDUCED_ACPI; power-off through the sleep control register
 *   (src/hw/acpi_sleep.c) and \_S5; reset through the i8042 port.
 * - MADT: one enabled local APIC per vCPU (APIC id = vCPU id, as CPUID
 *   says), the in-kernel IOAPIC with GSI base 0, ISA IRQ 0 on GSI 2, NMI on
 *   every LAPIC's LINT1.
 * - DSDT: \_S5 and the UART (PNP0501, its ports and IRQ 4): on a reduced
 *   hardware platform Linux maps ISA IRQs only for devices the DSDT lists;
 *   the PCI host bridge (PNP0A03: bus 0, windows, _PRT).
 * - MCFG: PCI's ECAM (reserved in the e820 map too, as Linux requires).
 * - SRAT, only with a device that hot-plugs memory (virtio-mem): one
 *   proximity domain holding every vCPU and RAM, and the device's region as
 *   hot-pluggable memory, so that Linux sizes its memory map to cover it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"
#include "boot.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "../x86.h"

#define ACPI_OEM_ID	  "MVM   "
#define ACPI_OEM_TABLE_ID "MVMVMM  "
#define ACPI_CREATOR_ID	  0x204d564d /* "MVM " */

struct acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt;
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum;
	uint8_t reserved[3];
} __attribute__((packed));

struct acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
} __attribute__((packed));

struct acpi_gas { /* Generic Address Structure */
	uint8_t space_id, bit_width, bit_offset, access_size;
	uint64_t address;
} __attribute__((packed));

#define ACPI_GAS_IO(port) ((struct acpi_gas){ 1, 8, 0, 1, (port) })

struct acpi_fadt {
	struct acpi_header h;
	uint32_t facs, dsdt;
	uint8_t reserved0, pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len, gpe0_len, gpe1_len, gpe1_base,
		cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_revision;
	uint64_t x_facs, x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt, x_pm2_cnt, x_pm_tmr, x_gpe0,
		x_gpe1, sleep_control, sleep_status;
	uint64_t hypervisor_id;
} __attribute__((packed));

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");
_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT layout (ACPI 6.5)");

#define FADT_F_WBINVD	       (1U << 0)
#define FADT_F_PWR_BUTTON      (1U << 4) /* no fixed-feature power button */
#define FADT_F_SLP_BUTTON      (1U << 5)
#define FADT_F_RESET_REG_SUP   (1U << 10)
#define FADT_F_HW_REDUCED_ACPI (1U << 20)
#define FADT_BOOT_NO_VGA       (1U << 2)
#define FADT_BOOT_NO_CMOS_RTC  (1U << 5)
#define I8042_RESET_CMD	       0xfe

struct madt_lapic {
	uint8_t type, length, uid, apic_id;
	uint32_t flags;
} __attribute__((packed));

struct madt_ioapic {
	uint8_t type, length, id, reserved;
	uint32_t address, gsi_base;
} __attribute__((packed));

struct madt_iso { /* interrupt source override */
	uint8_t type, length, bus, source;
	uint32_t gsi;
	uint16_t flags;
} __attribute__((packed));

struct madt_lapic_nmi {
	uint8_t type, length, uid;
	uint16_t flags;
	uint8_t lint;
} __attribute__((packed));

enum { MADT_LAPIC = 0, MADT_IOAPIC = 1, MADT_ISO = 2, MADT_LAPIC_NMI = 4 };
#define MADT_PCAT_COMPAT   1 /* KVM's irqchip has the dual 8259 too */
#define MADT_LAPIC_ENABLED 1

/* The tables are built in one buffer that becomes guest memory at BOOT_ACPI_START. */
struct acpi_builder {
	uint8_t buf[BOOT_ACPI_END - BOOT_ACPI_START];
	size_t len;
	int err;
	struct aml dsdt; /* the DSDT's body, encoded before it is placed */
};

/* Reserves len bytes, 16-byte aligned: their offset in buf, zeroed. */
static size_t acpi_alloc(struct acpi_builder *b, size_t len)
{
	size_t off = ALIGN_UP(b->len, 16);

	if (b->err || off > sizeof(b->buf) || len > sizeof(b->buf) - off) {
		b->err = -E2BIG;
		return 0;
	}
	b->len = off + len;
	memset(b->buf + off, 0, len);
	return off;
}

static uint64_t acpi_gpa(size_t off)
{
	return BOOT_ACPI_START + off;
}

static void acpi_header_init(struct acpi_header *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, ACPI_OEM_ID, 6);
	memcpy(h->oem_table_id, ACPI_OEM_TABLE_ID, 8);
	h->oem_revision = 1;
	h->creator_id = ACPI_CREATOR_ID;
	h->creator_revision = 1;
}

/* Checksums a finished table at off. */
static void acpi_seal(struct acpi_builder *b, size_t off)
{
	struct acpi_header *h = (struct acpi_header *)(b->buf + off);

	if (!b->err)
		h->checksum = boot_checksum(h, h->length);
}

/*
 * The PCI host bridge: bus 0, its windows (what BARs may use), conf1's
 * ports, and _PRT: which IOAPIC input each device's INTx pin drives.
 */
static void dsdt_pci(struct aml *a, struct vm *vm, const struct mvm_fw_pci_host *pci)
{
	struct boot_intx intx[BOOT_MAX_INTX];
	unsigned int i, n = boot_pci_intx(vm, intx, BOOT_MAX_INTX);

	aml_device_open(a, "PCI0");
	aml_name_decl(a, "_HID");
	aml_int(a, aml_eisaid("PNP0A03"));
	aml_name_decl(a, "_SEG");
	aml_int(a, 0);
	aml_name_decl(a, "_BBN");
	aml_int(a, 0);
	aml_name_decl(a, "_UID");
	aml_int(a, 0);
	aml_name_decl(a, "_CRS");
	aml_resource_template_open(a);
	aml_res_bus_numbers(a, pci->bus_first, pci->bus_last);
	aml_res_io(a, pci->conf1_port, 8);
	aml_res_io_window(a, (uint16_t)pci->io_base, (uint32_t)pci->io_size);
	aml_res_mem32_window(a, (uint32_t)pci->mem32_base, (uint32_t)pci->mem32_size);
	aml_resource_template_close(a);
	aml_name_decl(a, "_PRT");
	aml_package_open(a, n);
	for (i = 0; i < n; i++) {
		aml_package_open(a, 4);
		aml_int(a, (uint64_t)intx[i].slot << 16 | 0xffff); /* any function */
		aml_int(a, intx[i].pin - 1);
		aml_int(a, 0); /* no link device: the GSI itself */
		aml_int(a, intx[i].gsi);
		aml_close(a);
	}
	aml_close(a); /* _PRT */
	aml_close(a); /* PCI0 */
}

/* _HID: an EISA id ("PNP0501") compressed, any other id ("LNRO0005") as a string. */
static void dsdt_hid(struct aml *a, const char *hid)
{
	bool eisa = strlen(hid) == 7;
	unsigned int i;

	for (i = 0; eisa && i < 7; i++)
		eisa = i < 3 ? hid[i] >= 'A' && hid[i] <= 'Z' : isxdigit((unsigned char)hid[i]);
	aml_name_decl(a, "_HID");
	if (eisa)
		aml_int(a, aml_eisaid(hid));
	else
		aml_string(a, hid);
}

/* A device with a _HID: its name, _UID and _CRS, from its description. */
static void dsdt_device(struct aml *a, const struct mvm_fw_desc *fw, unsigned int nr,
			unsigned int uid)
{
	char name[5];
	unsigned int i;

	if (fw->acpi_name[0])
		snprintf(name, sizeof(name), "%s", fw->acpi_name);
	else
		snprintf(name, sizeof(name), "D%03X", nr & 0xfff);
	aml_device_open(a, name);
	dsdt_hid(a, fw->acpi_hid);
	aml_name_decl(a, "_UID");
	aml_int(a, uid);
	aml_name_decl(a, "_CRS");
	aml_resource_template_open(a);
	for (i = 0; i < fw->nr_res; i++) {
		const struct mvm_fw_res *r = &fw->res[i];

		if (r->kind == MVM_FW_PIO)
			aml_res_io(a, (uint16_t)r->base, (uint8_t)r->len);
		else if (r->kind == MVM_FW_MMIO)
			aml_res_mem32_fixed(a, (uint32_t)r->base, (uint32_t)r->len);
		else if (r->base < 16 && !r->level)
			aml_res_irq(a, (unsigned int)r->base);
		else
			aml_res_interrupt(a, (uint32_t)r->base, r->level);
	}
	aml_resource_template_close(a);
	aml_close(a);
}

static void dsdt_build(struct aml *a, struct vm *vm)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	const struct mvm_fw_pci_host *pci = NULL;
	unsigned int i, j, uid, n = boot_fw_devices(vm, fw, BOOT_MAX_FW);

	/* \_S5: SLP_TYPa, SLP_TYPb for a power-off */
	aml_name_decl(a, "_S5_");
	aml_package_open(a, 2);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_int(a, ACPI_SLP_TYP_S5);
	aml_close(a);

	aml_scope_open(a, "\\_SB_");
	for (i = 0; i < n; i++) {
		if (fw[i]->pci_host)
			pci = fw[i]->pci_host;
		if (!fw[i]->acpi_hid)
			continue;
		/* _UID: the device's number among those with the same _HID. */
		for (j = uid = 0; j < i; j++)
			uid += fw[j]->acpi_hid && !strcmp(fw[j]->acpi_hid, fw[i]->acpi_hid);
		dsdt_device(a, fw[i], i, uid);
	}
	if (pci)
		dsdt_pci(a, vm, pci);
	aml_close(a); /* \_SB */
}

static size_t acpi_dsdt(struct acpi_builder *b, struct vm *vm)
{
	struct aml *a = &b->dsdt;
	size_t off;

	aml_init(a);
	dsdt_build(a, vm);
	if (aml_error(a)) {
		b->err = aml_error(a);
		return 0;
	}
	off = acpi_alloc(b, sizeof(struct acpi_header) + a->len);
	if (b->err)
		return 0;
	acpi_header_init((struct acpi_header *)(b->buf + off), "DSDT",
			 (uint32_t)(sizeof(struct acpi_header) + a->len), 2);
	memcpy(b->buf + off + sizeof(struct acpi_header), a->buf, a->len);
	acpi_seal(b, off);
	return off;
}

static size_t acpi_fadt(struct acpi_builder *b, size_t dsdt)
{
	size_t off = acpi_alloc(b, sizeof(struct acpi_fadt));
	struct acpi_fadt *f = (struct acpi_fadt *)(b->buf + off);

	if (b->err)
		return 0;
	acpi_header_init(&f->h, "FACP", sizeof(*f), 6);
	f->minor_revision = 5;
	f->dsdt = (uint32_t)acpi_gpa(dsdt);
	f->x_dsdt = acpi_gpa(dsdt);
	f->flags = FADT_F_WBINVD | FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON | FADT_F_RESET_REG_SUP |
		   FADT_F_HW_REDUCED_ACPI;
	f->iapc_boot_arch = FADT_BOOT_NO_VGA | FADT_BOOT_NO_CMOS_RTC;
	f->reset_reg = ACPI_GAS_IO(X86_I8042_CMD_PORT);
	f->reset_value = I8042_RESET_CMD;
	f->sleep_control = ACPI_GAS_IO(X86_ACPI_SLEEP_PORT);
	f->sleep_status = ACPI_GAS_IO(X86_ACPI_SLEEP_PORT + 1);
	memcpy(&f->hypervisor_id, "MVM\0\0\0\0\0", 8);
	acpi_seal(b, off);
	return off;
}

static size_t acpi_madt(struct acpi_builder *b, unsigned int cpus)
{
	size_t len = sizeof(struct acpi_header) + 8 + cpus * sizeof(struct madt_lapic) +
		     sizeof(struct madt_ioapic) + sizeof(struct madt_iso) +
		     sizeof(struct madt_lapic_nmi);
	size_t off = acpi_alloc(b, len);
	uint8_t *p = b->buf + off;
	uint32_t v;
	unsigned int i;

	if (b->err)
		return 0;
	acpi_header_init((struct acpi_header *)p, "APIC", (uint32_t)len, 5);
	p += sizeof(struct acpi_header);
	v = (uint32_t)X86_LAPIC_ADDR;
	memcpy(p, &v, 4);
	v = MADT_PCAT_COMPAT;
	memcpy(p + 4, &v, 4);
	p += 8;
	for (i = 0; i < cpus; i++) {
		const struct madt_lapic e = { MADT_LAPIC, sizeof(e), (uint8_t)i, (uint8_t)i,
					      MADT_LAPIC_ENABLED };

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	{
		/* The IOAPIC's id follows the LAPIC ids, as in the MP table. */
		const struct madt_ioapic io = {
			MADT_IOAPIC, sizeof(io), (uint8_t)cpus, 0, (uint32_t)X86_IOAPIC_ADDR, 0
		};
		const struct madt_iso iso = { MADT_ISO, sizeof(iso), 0, 0, 2, 0 };
		const struct madt_lapic_nmi nmi = { MADT_LAPIC_NMI, sizeof(nmi), 0xff, 0, 1 };

		memcpy(p, &io, sizeof(io));
		p += sizeof(io);
		memcpy(p, &iso, sizeof(iso));
		p += sizeof(iso);
		memcpy(p, &nmi, sizeof(nmi));
	}
	acpi_seal(b, off);
	return off;
}

/* MCFG: where PCI's ECAM is (bus 0 of segment 0). */
static size_t acpi_mcfg(struct acpi_builder *b, const struct mvm_fw_pci_host *pci)
{
	struct {
		struct acpi_header h;
		uint64_t reserved;
		uint64_t base;
		uint16_t segment;
		uint8_t bus_start, bus_end;
		uint32_t reserved2;
	} __attribute__((packed))
	m = { .base = pci->ecam_base, .bus_start = pci->bus_first, .bus_end = pci->bus_last };
	size_t off = acpi_alloc(b, sizeof(m));

	if (b->err)
		return 0;
	acpi_header_init(&m.h, "MCFG", sizeof(m), 1);
	memcpy(b->buf + off, &m, sizeof(m));
	acpi_seal(b, off);
	return off;
}

enum { SRAT_LAPIC = 0, SRAT_MEMORY = 1 };
#define SRAT_ENABLED	  1
#define SRAT_HOTPLUGGABLE 2

struct srat_lapic {
	uint8_t type, len;
	uint8_t domain_lo, apic_id;
	uint32_t flags;
	uint8_t sapic_eid;
	uint8_t domain_hi[3];
	uint32_t clock_domain;
} __attribute__((packed));

struct srat_memory {
	uint8_t type, len;
	uint32_t domain;
	uint16_t reserved;
	uint64_t base, length;
	uint32_t reserved2;
	uint32_t flags;
	uint64_t reserved3;
} __attribute__((packed));

/* The hot-pluggable ranges the devices describe, in hp[]; their count. */
static unsigned int acpi_hotplug_ranges(struct vm *vm, struct mvm_fw_res *hp, unsigned int max)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int i, n = boot_fw_devices(vm, fw, BOOT_MAX_FW), nr = 0;

	for (i = 0; i < n && nr < max; i++)
		if (fw[i]->hotplug_mem.len)
			hp[nr++] = (struct mvm_fw_res){ MVM_FW_MMIO, fw[i]->hotplug_mem.base,
							fw[i]->hotplug_mem.len, false };
	return nr;
}

/* SRAT (ACPI 6.5 §5.2.16): domain 0 has the vCPUs, RAM, and the hot-pluggable ranges. */
static size_t acpi_srat(struct acpi_builder *b, struct vm *vm, const struct mvm_fw_res *hp,
			unsigned int nr_hp)
{
	unsigned int cpus = vm->cfg.cpus, i;
	size_t len = sizeof(struct acpi_header) + 12 + cpus * sizeof(struct srat_lapic) +
		     (vm->mem.nr_regions + nr_hp) * sizeof(struct srat_memory);
	size_t off = acpi_alloc(b, len);
	uint8_t *p = b->buf + off;
	uint32_t one = 1;

	if (b->err)
		return 0;
	acpi_header_init((struct acpi_header *)p, "SRAT", (uint32_t)len, 3);
	p += sizeof(struct acpi_header);
	memcpy(p, &one, 4); /* reserved, 1 for compatibility */
	p += 12;
	for (i = 0; i < cpus; i++) {
		const struct srat_lapic e = { .type = SRAT_LAPIC,
					      .len = sizeof(e),
					      .apic_id = (uint8_t)i,
					      .flags = SRAT_ENABLED };

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	for (i = 0; i < vm->mem.nr_regions + nr_hp; i++) {
		bool ram = i < vm->mem.nr_regions;
		const struct srat_memory e = {
			.type = SRAT_MEMORY,
			.len = sizeof(e),
			.base = ram ? vm->mem.regions[i].gpa : hp[i - vm->mem.nr_regions].base,
			.length = ram ? vm->mem.regions[i].size : hp[i - vm->mem.nr_regions].len,
			.flags = ram ? SRAT_ENABLED : SRAT_ENABLED | SRAT_HOTPLUGGABLE,
		};

		memcpy(p, &e, sizeof(e));
		p += sizeof(e);
	}
	acpi_seal(b, off);
	return off;
}

int acpi_write(struct vm *vm, uint64_t *rsdp_gpa)
{
	struct mvm_fw_res hp[MVM_MAX_MEM_FILES];
	unsigned int nr_hp;
	struct acpi_builder *b;
	struct acpi_rsdp *rsdp;
	size_t rsdp_off, xsdt, dsdt, fadt, madt, xsdt_len;
	uint64_t entries[4];
	unsigned int nr = 0;
	int err;

	b = mvm_zalloc(sizeof(*b));
	if (!b)
		return -ENOMEM;
	rsdp_off = acpi_alloc(b, sizeof(*rsdp));
	dsdt = acpi_dsdt(b, vm);
	fadt = acpi_fadt(b, dsdt);
	madt = acpi_madt(b, vm->cfg.cpus);
	entries[nr++] = acpi_gpa(fadt);
	entries[nr++] = acpi_gpa(madt);
	if (boot_pci_host(vm))
		entries[nr++] = acpi_gpa(acpi_mcfg(b, boot_pci_host(vm)));
	nr_hp = acpi_hotplug_ranges(vm, hp, ARRAY_SIZE(hp));
	if (nr_hp)
		entries[nr++] = acpi_gpa(acpi_srat(b, vm, hp, nr_hp));
	xsdt_len = sizeof(struct acpi_header) + nr * sizeof(entries[0]);
	xsdt = acpi_alloc(b, xsdt_len);
	if (b->err) {
		err = b->err;
		pr_err("ACPI tables: do not fit in %zu bytes (%u vCPUs)", sizeof(b->buf),
		       vm->cfg.cpus);
		goto out;
	}
	acpi_header_init((struct acpi_header *)(b->buf + xsdt), "XSDT", (uint32_t)xsdt_len, 1);
	memcpy(b->buf + xsdt + sizeof(struct acpi_header), entries, nr * sizeof(entries[0]));
	acpi_seal(b, xsdt);

	rsdp = (struct acpi_rsdp *)(b->buf + rsdp_off);
	memcpy(rsdp->signature, "RSD PTR ", 8);
	memcpy(rsdp->oem_id, ACPI_OEM_ID, 6);
	rsdp->revision = 2;
	rsdp->length = sizeof(*rsdp);
	rsdp->xsdt = acpi_gpa(xsdt);
	rsdp->checksum = boot_checksum(rsdp, 20);
	rsdp->ext_checksum = boot_checksum(rsdp, sizeof(*rsdp));

	err = mem_write(&vm->mem, BOOT_ACPI_START, b->buf, b->len);
	if (!err)
		*rsdp_gpa = acpi_gpa(rsdp_off);
out:
	free(b);
	return err;
}
