// SPDX-License-Identifier: MIT
/* reset: asks the i8042 for a CPU reset (command 0xfe on port 0x64). */
#include "guest.h"

#define I8042_STATUS	0x64
#define I8042_CMD	0x64
#define I8042_STR_IBF	0x02 /* input buffer full: not ready for a command */
#define I8042_CMD_RESET 0xfe

int main(void)
{
	unsigned int i;

	printf("reset: pulsing i8042\n");
	/* bounded: each read is a VM exit, and no i8042 reads as 0xff */
	for (i = 0; i < 1000; i++)
		if (!(inb(I8042_STATUS) & I8042_STR_IBF))
			break;
	outb(I8042_CMD, I8042_CMD_RESET);
	printf("reset: still alive\n");
	return 3;
}
