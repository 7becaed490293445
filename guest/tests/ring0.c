// SPDX-License-Identifier: MIT
/*
 * ring0: the runtime's privilege transitions. guest_early_ring0() and
 * guest_ring0_call() must run in ring 0 (and see long mode set up), main()
 * in ring 3 before and after.
 */
#include "guest.h"

#define CR0_PE	 (1ull << 0)
#define CR0_PG	 (1ull << 31)
#define CR4_PAE	 (1ull << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)

/* initialised, so in .data: .bss belongs to the loader, not to ring 0 */
static volatile unsigned int early_cpl = 99;

void guest_early_ring0(void)
{
	early_cpl = guest_cpl();
}

struct ring0_state {
	uint64_t cpl, cr0, cr4, efer;
};

static void read_state(void *p)
{
	struct ring0_state *st = p;
	uint32_t lo, hi;

	st->cpl = guest_cpl();
	__asm__ volatile("mov %%cr0, %0" : "=r"(st->cr0));
	__asm__ volatile("mov %%cr4, %0" : "=r"(st->cr4));
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(MSR_EFER));
	st->efer = (uint64_t)hi << 32 | lo;
}

int main(void)
{
	struct ring0_state st = { .cpl = 99 };

	guest_check("guest_early_ring0 cpl", early_cpl, 0);
	guest_check("main cpl", guest_cpl(), 3);
	guest_ring0_call(read_state, &st);
	guest_check("guest_ring0_call cpl", st.cpl, 0);
	guest_check("cr0 pg|pe", st.cr0 & (CR0_PG | CR0_PE), CR0_PG | CR0_PE);
	guest_check("cr4 pae", st.cr4 & CR4_PAE, CR4_PAE);
	guest_check("efer lma|lme", st.efer & (EFER_LMA | EFER_LME), EFER_LMA | EFER_LME);
	guest_check("cpl after guest_ring0_call", guest_cpl(), 3);
	return guest_check_summary("ring0");
}
