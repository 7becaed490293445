// SPDX-License-Identifier: MIT
/*
 * smp: the boot CPU starts every application processor (AP) the way an OS
 * does, with INIT-SIPI-SIPI through its xAPIC, and each AP reports in.
 *
 * cmdline: cpus=N (required), the number of vCPUs the VMM gave us. The APs
 * must have APIC ids 1..N-1 (mvm: APIC id = vCPU index) and wait for SIPI.
 *
 * The BSP (ring 3) copies a real-mode trampoline to TRAMP_PA below 1 MiB,
 * enables its LAPIC and sends INIT, SIPI, SIPI to each AP in turn. An AP wakes
 * up in real mode at TRAMP_PA, enters long mode straight from real mode on the
 * runtime's page tables and GDT (12 instructions), takes a stack and calls
 * ap_main() in ring 0, which reads its APIC ids with CPUID, records them and
 * counts itself with an atomic increment, then halts. The AP never leaves
 * ring 0: on a nested host each of its instructions is emulated, so it runs
 * about 40 of them, no more.
 *
 * The BSP polls the count with a bounded busy loop (no timer), then prints
 *   AP <apic-id> up        (one per AP, by APIC id)
 *   SMP OK cpus=N          exit 0
 * or `SMP FAIL <reason>` and exit 1.
 */
#include "guest.h"
#include "layout.h"

#define MAX_CPUS       255 /* xAPIC ids 0..254 (0xff is broadcast) */
#define AP_STACK_SHIFT 11  /* 2 KiB of ring-0 stack per AP */

/* The trampoline page: SIPI vector = page number. Below mvm's ACPI/EBDA area. */
#define TRAMP_PA    0x70000ul
#define SIPI_VECTOR (TRAMP_PA >> 12)

#define LAPIC_BASE	 0xfee00000ul
#define LAPIC_ID	 0x020
#define LAPIC_SVR	 0x0f0
#define LAPIC_ICR_LO	 0x300
#define LAPIC_ICR_HI	 0x310
#define SVR_ENABLE	 (1u << 8)
#define ICR_INIT	 0x00000500u
#define ICR_STARTUP	 0x00000600u
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_PENDING	 (1u << 12) /* delivery status: send pending */

#define MSR_APIC_BASE	 0x1b
#define APIC_BASE_BSP	 (1ull << 8)
#define APIC_BASE_X2APIC (1ull << 10)
#define APIC_BASE_ENABLE (1ull << 11)

#define NO_X2APIC_ID 0xffffffffu

/*
 * Bounds of the busy loops, in iterations (not time: nothing here depends on
 * how fast the host is, only on the APs getting there at all). One wait
 * iteration is a load and a PAUSE, natively in ring 3: the limit is many
 * seconds on any CPU, far beyond the ~1 ms an AP needs.
 */
#define AP_WAIT_LIMIT  (1ul << 28)
#define ICR_WAIT_LIMIT 100000ul /* each poll is an MMIO exit */
#define IPI_GAP_SPINS  20000ul	/* the SDM's pause after INIT / SIPI */

#define STR_(x) #x
#define STR(x)	STR_(x)

struct ap_report {
	uint32_t apic_id;   /* CPUID.1:EBX[31:24] */
	uint32_t x2apic_id; /* CPUID.0xB:EDX, NO_X2APIC_ID without leaf 0xB */
};

/* Written by the APs in ring 0; .bss is zeroed by the ELF loader. */
uint32_t ap_entered; /* APs that ran the trampoline (stack slots) */
static volatile uint32_t ap_reported;
static struct ap_report ap_reports[MAX_CPUS];
uint8_t ap_stacks[MAX_CPUS << AP_STACK_SHIFT] __attribute__((aligned(16)));

/* runtime/tables.S */
extern const uint8_t gdt_ptr[];

extern const uint8_t ap_tramp_start[], ap_tramp_gdtp[], ap_tramp_end[];

/*
 * The trampoline, copied to TRAMP_PA and entered there by SIPI in real mode
 * with CS = TRAMP_PA >> 4, IP = 0. It goes to long mode directly (PE and PG
 * in one write to CR0, then a far jump to the 64-bit code selector), like the
 * runtime's PVH entry does from 32-bit mode. ap_tramp_gdtp is filled in by
 * the BSP with the runtime's GDT pointer (16-bit limit, 32-bit base).
 * It is data here (never executed where it is linked), hence .rodata.
 */
/* clang-format off */
__asm__(
	"	.section .rodata.ap_tramp, \"a\"\n"
	"	.balign 16\n"
	"	.code16\n"
	"	.globl ap_tramp_start\n"
	"ap_tramp_start:\n"
	"	lgdtl %cs:(ap_tramp_gdtp - ap_tramp_start)\n"
	"	movl $" STR(CR4_PAE) ", %eax\n"
	"	movl %eax, %cr4\n"
	"	movl $pml4, %eax\n"
	"	movl %eax, %cr3\n"
	"	movl $" STR(MSR_EFER) ", %ecx\n"
	"	movl $" STR(EFER_LME) ", %eax\n"
	"	xorl %edx, %edx\n"
	"	wrmsr\n"
	"	movl $" STR(CR0_PG | CR0_ET | CR0_PE) ", %eax\n"
	"	movl %eax, %cr0\n"
	"	ljmpl $" STR(KERNEL_CS) ", $ap_entry64\n"
	"	.balign 4\n"
	"	.globl ap_tramp_gdtp\n"
	"ap_tramp_gdtp:\n"
	"	.word 0\n"
	"	.long 0\n"
	"	.globl ap_tramp_end\n"
	"ap_tramp_end:\n"
	"	.code64\n"
	"	.previous\n");
/* clang-format on */

/*
 * 64-bit ring 0, linked where it runs. Takes stack slot ap_entered++ (a
 * late duplicate beyond MAX_CPUS just parks) and calls ap_main(slot).
 */
/* clang-format off */
__asm__(
	"	.text\n"
	"	.type ap_entry64, @function\n"
	"ap_entry64:\n"
	"	lidt idt_ptr(%rip)\n"		/* faults report like the BSP's */
	"	movl $1, %edi\n"
	"	lock xaddl %edi, ap_entered(%rip)\n"
	"	cmpl $" STR(MAX_CPUS) ", %edi\n"
	"	jae 1f\n"
	"	leal 1(%rdi), %eax\n"
	"	shll $" STR(AP_STACK_SHIFT) ", %eax\n"
	"	leaq ap_stacks(%rip), %rsp\n"
	"	addq %rax, %rsp\n"
	"	call ap_main\n"
	"1:	cli\n"
	"	hlt\n"
	"	jmp 1b\n"
	"	.size ap_entry64, . - ap_entry64\n");
/* clang-format on */

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c,
			 uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

/* The x2APIC id of CPUID leaf 0xB, or NO_X2APIC_ID if there is no such leaf. */
static uint32_t cpuid_x2apic_id(void)
{
	uint32_t a, b, c, d;

	cpuid(0, 0, &a, &b, &c, &d);
	if (a < 0xb)
		return NO_X2APIC_ID;
	cpuid(0xb, 0, &a, &b, &c, &d);
	/* EBX[15:0] = 0: the leaf is not implemented */
	return (b & 0xffff) ? d : NO_X2APIC_ID;
}

static uint32_t cpuid_apic_id(void)
{
	uint32_t a, b, c, d;

	cpuid(1, 0, &a, &b, &c, &d);
	return b >> 24;
}

/* AP, ring 0, on its own stack; slot < MAX_CPUS. Keep it short. */
__attribute__((used)) void ap_main(uint32_t slot);
void ap_main(uint32_t slot)
{
	ap_reports[slot].apic_id = cpuid_apic_id();
	ap_reports[slot].x2apic_id = cpuid_x2apic_id();
	/* release: the BSP sees the report before the count */
	__atomic_fetch_add(&ap_reported, 1, __ATOMIC_RELEASE);
}

/*
 * CPUID in ring 3 is not intercepted on the nested development host: it
 * returns the host CPU's own values (APIC id = the host core the vCPU thread
 * happens to run on). Only ring-0 CPUID shows what the VMM configured, so the
 * BSP reads its ids in ring 0 too.
 */
struct bsp_ids {
	uint64_t apic_base;
	struct ap_report cpuid;
};

static void read_bsp_ids(void *p)
{
	struct bsp_ids *ids = p;
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_APIC_BASE));
	ids->apic_base = (uint64_t)hi << 32 | lo;
	ids->cpuid.apic_id = cpuid_apic_id();
	ids->cpuid.x2apic_id = cpuid_x2apic_id();
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;

	printf("SMP FAIL ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	return 1;
}

static void spin(unsigned long n)
{
	while (n--)
		cpu_relax();
}

/* Sends one IPI (fixed destination, physical mode); -1 if it stays pending. */
static int send_ipi(uint32_t apic_id, uint32_t lo)
{
	unsigned long i;

	mmio_write32(LAPIC_BASE + LAPIC_ICR_HI, apic_id << 24);
	mmio_write32(LAPIC_BASE + LAPIC_ICR_LO, lo);
	for (i = 0; i < ICR_WAIT_LIMIT; i++)
		if (!(mmio_read32(LAPIC_BASE + LAPIC_ICR_LO) & ICR_PENDING))
			return 0;
	return -1;
}

/* The trampoline page must be RAM the boot data does not use. */
static const char *tramp_page_problem(void)
{
	const struct hvm_start_info *si = guest_start_info();
	const struct hvm_memmap_table_entry *e;
	uint64_t lo = TRAMP_PA, hi = TRAMP_PA + 4096;
	unsigned int i, n;
	bool ram = false;

	if (!si)
		return "no hvm_start_info";
	if ((si->cmdline_paddr < hi && si->cmdline_paddr + 4096 > lo) ||
	    (si->memmap_paddr < hi && si->memmap_paddr + 4096 > lo) ||
	    ((uintptr_t)si < hi && (uintptr_t)si + 4096 > lo))
		return "boot data";
	e = guest_memmap(&n);
	if (!e)
		return NULL; /* no map to check against: trust low RAM */
	for (i = 0; i < n; i++)
		if (e[i].type == HVM_MEMMAP_RAM && e[i].addr <= lo && e[i].addr + e[i].size >= hi)
			ram = true;
	return ram ? NULL : "not RAM in the memory map";
}

int main(void)
{
	unsigned long cpus = guest_cmdline_ulong("cpus", 0), polls, i, j;
	struct ap_report sorted[MAX_CPUS];
	uint32_t bsp_id, nr_aps, got, apic;
	struct bsp_ids ids = { 0 };
	const char *why;

	if (cpus < 1 || cpus > MAX_CPUS)
		return fail("need cpus=N (1..%u) on the command line, got \"%s\"", MAX_CPUS,
			    guest_cmdline());
	nr_aps = cpus - 1;

	guest_ring0_call(read_bsp_ids, &ids);
	if ((ids.apic_base & ~0xfffull) != LAPIC_BASE ||
	    (ids.apic_base & (APIC_BASE_ENABLE | APIC_BASE_X2APIC | APIC_BASE_BSP)) !=
		    (APIC_BASE_ENABLE | APIC_BASE_BSP))
		return fail("IA32_APIC_BASE=0x%llx, want 0x%lx with BSP|EN, no x2APIC",
			    (unsigned long long)ids.apic_base, LAPIC_BASE);
	bsp_id = mmio_read32(LAPIC_BASE + LAPIC_ID) >> 24;
	if (bsp_id != 0 || ids.cpuid.apic_id != 0 ||
	    (ids.cpuid.x2apic_id != NO_X2APIC_ID && ids.cpuid.x2apic_id != 0))
		return fail("BSP APIC id %u (LAPIC) / %u (CPUID 1) / 0x%x (CPUID 0xB), want 0",
			    bsp_id, ids.cpuid.apic_id, ids.cpuid.x2apic_id);
	if (ids.cpuid.x2apic_id == NO_X2APIC_ID)
		printf("smp: CPUID leaf 0xB absent or empty (EBX[15:0] = 0): "
		       "no x2APIC ids to compare\n");
	printf("smp: BSP APIC id 0, starting %u APs via INIT-SIPI-SIPI, vector 0x%lx\n", nr_aps,
	       SIPI_VECTOR);

	if (nr_aps) {
		why = tramp_page_problem();
		if (why)
			return fail("trampoline page 0x%lx: %s", TRAMP_PA, why);
		memcpy((void *)TRAMP_PA, ap_tramp_start, (size_t)(ap_tramp_end - ap_tramp_start));
		/* lgdt in 16-bit code with a 32-bit operand: limit, low 32 bits of base */
		memcpy((void *)(TRAMP_PA + (size_t)(ap_tramp_gdtp - ap_tramp_start)), gdt_ptr, 6);
		/* software-enable the LAPIC (SVR bit 8), spurious vector 0xff */
		mmio_write32(LAPIC_BASE + LAPIC_SVR, SVR_ENABLE | 0xff);
	}

	for (apic = 1; apic <= nr_aps; apic++) {
		if (send_ipi(apic, ICR_INIT | ICR_LEVEL_ASSERT))
			return fail("INIT to APIC %u stays pending", apic);
		spin(IPI_GAP_SPINS);
		for (i = 0; i < 2; i++) {
			if (send_ipi(apic, ICR_STARTUP | ICR_LEVEL_ASSERT | SIPI_VECTOR))
				return fail("SIPI to APIC %u stays pending", apic);
			spin(IPI_GAP_SPINS);
		}
	}

	for (polls = 0; polls < AP_WAIT_LIMIT; polls++) {
		if (__atomic_load_n(&ap_reported, __ATOMIC_ACQUIRE) >= nr_aps)
			break;
		cpu_relax();
	}
	got = __atomic_load_n(&ap_reported, __ATOMIC_ACQUIRE);
	printf("smp: %u of %u APs reported after %lu polls\n", got, nr_aps, polls);
	if (got < nr_aps)
		return fail("%u of %u APs reported (%u entered the trampoline)", got, nr_aps,
			    __atomic_load_n(&ap_entered, __ATOMIC_RELAXED));

	/* by APIC id, for a stable output */
	for (i = 0; i < nr_aps; i++) {
		struct ap_report r = ap_reports[i];

		for (j = i; j > 0 && sorted[j - 1].apic_id > r.apic_id; j--)
			sorted[j] = sorted[j - 1];
		sorted[j] = r;
	}
	for (i = 0; i < nr_aps; i++) {
		printf("AP %u up", sorted[i].apic_id);
		if (sorted[i].x2apic_id != NO_X2APIC_ID)
			printf(" (x2APIC id %u)", sorted[i].x2apic_id);
		printf("\n");
	}
	for (i = 0; i < nr_aps; i++) {
		if (sorted[i].apic_id != i + 1)
			return fail("AP APIC ids are not 1..%u (position %lu has %u)", nr_aps, i,
				    sorted[i].apic_id);
		if (sorted[i].x2apic_id != NO_X2APIC_ID && sorted[i].x2apic_id != sorted[i].apic_id)
			return fail("AP %u: x2APIC id %u differs", sorted[i].apic_id,
				    sorted[i].x2apic_id);
	}
	/* each AP must have run the trampoline once (the second SIPI is ignored) */
	got = __atomic_load_n(&ap_entered, __ATOMIC_RELAXED);
	if (got != nr_aps)
		return fail("%u trampoline entries for %u APs", got, nr_aps);
	printf("SMP OK cpus=%lu\n", cpus);
	return 0;
}
