// SPDX-License-Identifier: MIT
/*
 * acpi: checks the VMM's ACPI tables from inside the guest.
 *
 * cmdline: cpus=N (required), the number of vCPUs the VMM gave us;
 * acpi_scan: ignore hvm_start_info.rsdp_paddr and scan for the RSDP.
 *
 * Finds the RSDP (hvm_start_info.rsdp_paddr if non-zero, else the first KiB
 * of the EBDA and 0xE0000-0xFFFFF on 16-byte boundaries), checks its
 * checksum (20 bytes) and, for revision >= 2, its extended checksum (over
 * its length, 36 bytes); walks the XSDT (the RSDT if there is no XSDT) and
 * checks every table's length and checksum; requires a FADT ("FACP") whose X_DSDT (or
 * DSDT) points at a valid DSDT, and a MADT ("APIC") with exactly N enabled
 * Processor Local APIC entries (type 0, distinct ids, the BSP's among them)
 * and exactly one I/O APIC (type 1), at 0xfec00000.
 *
 * Prints one line per table, `SIG addr=0x... len=N OK` (or `BAD <why>`), then
 *   ACPI OK cpus=N          exit 0
 *   ACPI FAIL <reason>      exit 1 (the first problem found)
 * Without any tables: `ACPI FAIL no RSDP`, exit 1.
 *
 * Everything runs in ring 3: the runtime identity-maps the first 4 GiB for
 * ring 3, which covers low RAM, the BIOS area and the top of RAM below the
 * 3 GiB hole. A pointer that would reach above 4 GiB is reported, not read.
 */
#include "guest.h"

#define LAPIC_BASE  0xfee00000u
#define LAPIC_ID    0x020
#define IOAPIC_BASE 0xfec00000u

#define MAX_TABLE_LEN (16u << 20) /* sanity bound for one table */
#define MAX_CPUS      256
#define MAPPED_END    (1ull << 32) /* the runtime maps [0, 4 GiB) */

#define BIOS_AREA     0xe0000u
#define BIOS_AREA_END 0x100000u
#define EBDA_SEG_PTR  0x40eu

struct __attribute__((packed)) acpi_rsdp {
	char signature[8]; /* "RSD PTR " */
	uint8_t checksum;  /* over the first 20 bytes */
	char oem_id[6];
	uint8_t revision; /* 0: ACPI 1.0, 2: 2.0 and later */
	uint32_t rsdt;
	/* revision >= 2 */
	uint32_t length;
	uint64_t xsdt;
	uint8_t ext_checksum; /* over `length` (36) bytes */
	uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	uint32_t creator_id;
	uint32_t creator_revision;
};

_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP layout");
_Static_assert(sizeof(struct acpi_header) == 36, "SDT header layout");

#define FADT_DSDT	40  /* 32-bit DSDT address */
#define FADT_X_DSDT	140 /* 64-bit DSDT address (ACPI 2.0+) */
#define MADT_LAPIC_ADDR 36
#define MADT_ENTRIES	44
#define MADT_LAPIC	0
#define MADT_IOAPIC	1
#define MADT_X2APIC	9
#define MADT_ENABLED	1u

/* The first failure, reported on the final line. */
static char failure[160];

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void fail(const char *fmt, ...)
{
	va_list ap;

	if (failure[0])
		return;
	va_start(ap, fmt);
	vsnprintf(failure, sizeof(failure), fmt, ap);
	va_end(ap);
}

static uint8_t sum8(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t s = 0;

	while (len--)
		s += *b++;
	return s;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

/* true if [addr, addr + len) lies in what the runtime maps */
static bool mapped(uint64_t addr, uint64_t len)
{
	return addr < MAPPED_END && len <= MAPPED_END - addr;
}

/* a signature, printable whatever the bytes are */
static const char *sig_str(const char *sig, char out[5])
{
	for (int i = 0; i < 4; i++)
		out[i] = sig[i] >= 0x20 && sig[i] < 0x7f ? sig[i] : '?';
	out[4] = '\0';
	return out;
}

/*
 * Checks the table at addr (header, length, checksum; `want` is the expected
 * signature or NULL) and prints its line. The table, or NULL if it is BAD.
 */
static const struct acpi_header *check_table(const char *what, uint64_t addr, const char *want)
{
	static const char wrong_sig[] = "wrong signature";
	const struct acpi_header *h;
	const char *bad = NULL;
	char sig[5];

	if (!addr || !mapped(addr, sizeof(*h))) {
		printf("%s addr=0x%llx BAD %s\n", what, (unsigned long long)addr,
		       addr ? "above 4 GiB (not mapped)" : "null pointer");
		fail("%s at 0x%llx: %s", what, (unsigned long long)addr,
		     addr ? "above 4 GiB" : "null pointer");
		return NULL;
	}
	h = (const void *)(uintptr_t)addr;
	sig_str(h->signature, sig);
	if (h->length < sizeof(*h) || h->length > MAX_TABLE_LEN)
		bad = "length out of range";
	else if (!mapped(addr, h->length))
		bad = "ends above 4 GiB (not mapped)";
	else if (sum8(h, h->length))
		bad = "checksum";
	else if (want && memcmp(h->signature, want, 4))
		bad = wrong_sig;
	printf("%s addr=0x%llx len=%u rev=%u %s%s\n", sig, (unsigned long long)addr, h->length,
	       h->revision, bad ? "BAD " : "OK", bad ? bad : "");
	if (bad) {
		if (bad == wrong_sig)
			fail("%s at 0x%llx has signature %s", what, (unsigned long long)addr, sig);
		else
			fail("%s at 0x%llx: %s", sig, (unsigned long long)addr, bad);
		return NULL;
	}
	return h;
}

static bool rsdp_sig(uint64_t addr)
{
	return !memcmp((const void *)(uintptr_t)addr, "RSD PTR ", 8);
}

/* revision >= 2: the extended checksum covers `length` bytes (36 in ACPI 2.0-6.x) */
static bool rsdp_ext_valid(const struct acpi_rsdp *r)
{
	return r->length >= sizeof(*r) && r->length <= 4096 && !sum8(r, r->length);
}

static bool rsdp_valid(const struct acpi_rsdp *r)
{
	if (sum8(r, 20))
		return false;
	return r->revision < 2 || rsdp_ext_valid(r);
}

/* Scans [start, end) on 16-byte boundaries; 0 if nothing, *seen = a bad one. */
static uint64_t rsdp_scan(uint64_t start, uint64_t end, uint64_t *seen)
{
	uint64_t a;

	/* a revision 0 RSDP has 20 bytes; reading past `end` stays in mapped RAM */
	for (a = start; a + 20 <= end; a += 16) {
		if (!rsdp_sig(a))
			continue;
		if (rsdp_valid((const void *)(uintptr_t)a))
			return a;
		if (!*seen)
			*seen = a;
	}
	return 0;
}

/* The RSDP's address, or 0 after fail(). */
static uint64_t find_rsdp(void)
{
	const struct hvm_start_info *si = guest_start_info();
	uint64_t a, seen = 0, ebda;

	if (si && si->rsdp_paddr && !guest_cmdline_get("acpi_scan")) {
		a = si->rsdp_paddr;
		printf("acpi: hvm_start_info.rsdp_paddr=0x%llx\n", (unsigned long long)a);
		if (!mapped(a, sizeof(struct acpi_rsdp))) {
			fail("rsdp_paddr 0x%llx above 4 GiB", (unsigned long long)a);
			return 0;
		}
		if (!rsdp_sig(a)) {
			fail("no RSDP signature at rsdp_paddr 0x%llx", (unsigned long long)a);
			return 0;
		}
		return a; /* its checksums are checked by the caller */
	}
	/* ACPI: the first KiB of the EBDA, then the BIOS read-only area */
	/* hide the constant from GCC, which takes addresses < 4 KiB for NULL + n */
	ebda = EBDA_SEG_PTR;
	__asm__("" : "+r"(ebda));
	ebda = (uint64_t) * (const volatile uint16_t *)(uintptr_t)ebda << 4;
	a = 0;
	if (ebda >= 0x80000 && ebda < 0xa0000)
		a = rsdp_scan(ebda, ebda + 1024, &seen);
	if (!a)
		a = rsdp_scan(BIOS_AREA, BIOS_AREA_END, &seen);
	if (a)
		printf("acpi: RSDP found by scanning at 0x%llx\n", (unsigned long long)a);
	else if (seen)
		fail("RSDP signature at 0x%llx with a bad checksum, no valid RSDP",
		     (unsigned long long)seen);
	else
		fail("no RSDP");
	return a;
}

static void check_fadt(const struct acpi_header *fadt)
{
	const uint8_t *f = (const void *)fadt;
	uint64_t dsdt = 0, x_dsdt = 0;

	if (fadt->length >= FADT_DSDT + 4)
		dsdt = get32(f + FADT_DSDT);
	if (fadt->length >= FADT_X_DSDT + 8)
		x_dsdt = get64(f + FADT_X_DSDT);
	if (x_dsdt && dsdt && x_dsdt != dsdt)
		fail("FADT: DSDT 0x%llx and X_DSDT 0x%llx differ", (unsigned long long)dsdt,
		     (unsigned long long)x_dsdt);
	if (!dsdt && !x_dsdt) {
		printf("DSDT BAD FADT has no DSDT pointer\n");
		fail("FADT has no DSDT pointer");
		return;
	}
	check_table("DSDT", x_dsdt ? x_dsdt : dsdt, "DSDT");
}

static void check_madt(const struct acpi_header *madt, unsigned int cpus)
{
	const uint8_t *m = (const void *)madt;
	static uint8_t seen_id[MAX_CPUS];
	unsigned int lapics = 0, disabled = 0, ioapics = 0, x2apics = 0;
	uint32_t off, ioapic_addr = 0, lapic_addr, bsp_id;
	bool dup = false;

	if (madt->length < MADT_ENTRIES) {
		fail("MADT too short (%u bytes)", madt->length);
		return;
	}
	lapic_addr = get32(m + MADT_LAPIC_ADDR);
	for (off = MADT_ENTRIES; off < madt->length; off += m[off + 1]) {
		const uint8_t *e = m + off;

		if (madt->length - off < 2 || e[1] < 2 || e[1] > madt->length - off) {
			fail("MADT entry at offset %u is malformed", off);
			return;
		}
		switch (e[0]) {
		case MADT_LAPIC:
			if (e[1] < 8) {
				fail("MADT LAPIC entry at offset %u too short", off);
				return;
			}
			if (!(get32(e + 4) & MADT_ENABLED)) {
				disabled++;
				break;
			}
			printf("MADT: LAPIC processor %u APIC id %u enabled\n", e[2], e[3]);
			dup |= seen_id[e[3]]++ > 0;
			lapics++;
			break;
		case MADT_IOAPIC:
			if (e[1] < 12) {
				fail("MADT IOAPIC entry at offset %u too short", off);
				return;
			}
			ioapic_addr = get32(e + 4);
			printf("MADT: IOAPIC id %u addr=0x%x gsi_base=%u\n", e[2], ioapic_addr,
			       get32(e + 8));
			ioapics++;
			break;
		case MADT_X2APIC:
			x2apics++;
			break;
		default:
			break;
		}
	}
	bsp_id = mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;
	printf("MADT: lapic_addr=0x%x, %u enabled LAPICs (%u disabled), %u IOAPICs, "
	       "%u x2APIC entries, BSP APIC id %u\n",
	       lapic_addr, lapics, disabled, ioapics, x2apics, bsp_id);
	if (lapic_addr != LAPIC_BASE)
		fail("MADT local APIC address 0x%x, want 0x%x", lapic_addr, LAPIC_BASE);
	if (lapics != cpus)
		fail("MADT has %u enabled LAPICs, want cpus=%u", lapics, cpus);
	if (dup)
		fail("MADT: two enabled LAPICs share an APIC id");
	if (bsp_id < MAX_CPUS && !seen_id[bsp_id])
		fail("MADT has no enabled LAPIC for the BSP (APIC id %u)", bsp_id);
	if (ioapics != 1)
		fail("MADT has %u IOAPICs, want 1", ioapics);
	else if (ioapic_addr != IOAPIC_BASE)
		fail("MADT IOAPIC at 0x%x, want 0x%x", ioapic_addr, IOAPIC_BASE);
}

int main(void)
{
	unsigned long cpus = guest_cmdline_ulong("cpus", 0);
	const struct acpi_header *sdt, *fadt = NULL, *madt = NULL;
	const struct acpi_rsdp *rsdp;
	unsigned int i, n, esize;
	uint64_t addr;
	const uint8_t *ents;
	char sig[5];

	if (cpus < 1 || cpus > MAX_CPUS) {
		printf("ACPI FAIL need cpus=N (1..%u) on the command line\n", MAX_CPUS);
		return 1;
	}
	addr = find_rsdp();
	if (!addr)
		goto out;
	rsdp = (const void *)(uintptr_t)addr;
	if (sum8(rsdp, 20)) {
		printf("RSDP addr=0x%llx rev=%u BAD checksum\n", (unsigned long long)addr,
		       rsdp->revision);
		fail("RSDP checksum");
		goto out;
	}
	if (rsdp->revision >= 2 && !rsdp_ext_valid(rsdp)) {
		printf("RSDP addr=0x%llx rev=%u len=%u BAD extended checksum\n",
		       (unsigned long long)addr, rsdp->revision, rsdp->length);
		fail("RSDP extended checksum or length");
		goto out;
	}
	printf("RSDP addr=0x%llx rev=%u rsdt=0x%x xsdt=0x%llx OK\n", (unsigned long long)addr,
	       rsdp->revision, rsdp->rsdt,
	       rsdp->revision >= 2 ? (unsigned long long)rsdp->xsdt : 0ull);

	if (rsdp->revision >= 2 && rsdp->xsdt) {
		sdt = check_table("XSDT", rsdp->xsdt, "XSDT");
		esize = 8;
	} else {
		sdt = check_table("RSDT", rsdp->rsdt, "RSDT");
		esize = 4;
	}
	if (!sdt)
		goto out;
	if ((sdt->length - sizeof(*sdt)) % esize)
		fail("%s length %u is not a header plus %u-byte entries",
		     sig_str(sdt->signature, sig), sdt->length, esize);
	n = (sdt->length - sizeof(*sdt)) / esize;
	ents = (const uint8_t *)sdt + sizeof(*sdt);
	for (i = 0; i < n; i++) {
		const struct acpi_header *t;

		addr = esize == 8 ? get64(ents + i * 8) : get32(ents + i * 4);
		t = check_table("table", addr, NULL);
		if (!t)
			continue;
		if (!memcmp(t->signature, "FACP", 4)) {
			if (fadt)
				fail("two FADTs");
			fadt = t;
		} else if (!memcmp(t->signature, "APIC", 4)) {
			if (madt)
				fail("two MADTs");
			madt = t;
		}
	}
	if (fadt)
		check_fadt(fadt);
	else
		fail("no FADT (FACP)");
	if (madt)
		check_madt(madt, cpus);
	else
		fail("no MADT (APIC)");
out:
	if (failure[0]) {
		printf("ACPI FAIL %s\n", failure);
		return 1;
	}
	printf("ACPI OK cpus=%lu\n", cpus);
	return 0;
}
