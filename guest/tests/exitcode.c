// SPDX-License-Identifier: MIT
/* exitcode: exits with the status given as exit=N (default 0). */
#include "guest.h"

int main(void)
{
	int code = guest_cmdline_ulong("exit", 0) & 0xff;

	printf("exitcode: %d\n", code);
	return code;
}
