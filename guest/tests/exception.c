// SPDX-License-Identifier: MIT
/* exception: UD2 in ring 3; the runtime reports vector 6 and exits 106. */
#include "guest.h"

int main(void)
{
	printf("exception: executing ud2 in ring 3\n");
	__asm__ volatile("ud2");
	printf("exception: returned from ud2\n");
	return 1;
}
