// SPDX-License-Identifier: MIT
/* busy: spins in ring 3 for ever, for tests that stop a running VM. */
#include "guest.h"

int main(void)
{
	printf("busy: spinning\n");
	for (;;)
		__asm__ volatile("" ::: "memory");
}
