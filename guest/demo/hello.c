// SPDX-License-Identifier: MIT
/* hello: the README demo. Greets, echoes the command line, exits 0. */
#include "guest.h"

int main(void)
{
	printf("Hello from an mvm guest! (ring %u)\n", guest_cpl());
	printf("cmdline: \"%s\"\n", guest_cmdline());
	return 0;
}
