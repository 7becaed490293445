// SPDX-License-Identifier: MIT
/*
 * triple: triple fault. Loads an empty IDT (limit 0) in ring 0, then raises
 * #UD back in ring 3: #UD cannot be delivered -> #GP -> #DF -> shutdown.
 * The exception is raised in ring 3 so that no ring-0 instruction emulator
 * is involved in the faulting instruction itself.
 */
#include "guest.h"

static void load_empty_idt(void *unused)
{
	static const struct __attribute__((packed)) {
		uint16_t limit;
		uint64_t base;
	} empty = { 0, 0 };

	(void)unused;
	__asm__ volatile("lidt %0" : : "m"(empty));
}

int main(void)
{
	printf("triple: faulting\n");
	guest_ring0_call(load_empty_idt, NULL);
	__asm__ volatile("ud2");
	printf("triple: still alive\n");
	return 1;
}
