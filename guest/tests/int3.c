// SPDX-License-Identifier: MIT
/*
 * int3: INT3 in ring 0. On hardware the runtime's #BP handler reports
 * vector 3 and exits 103; a nested host whose ring-0 emulator cannot execute
 * INT3 stops the VM with a KVM internal error (emulation failure) instead.
 */
#include "guest.h"

static void do_int3(void *unused)
{
	(void)unused;
	__asm__ volatile("int3");
}

int main(void)
{
	printf("int3: executing int3 in ring 0\n");
	guest_ring0_call(do_int3, NULL);
	printf("int3: returned from int3\n");
	return 1;
}
