// SPDX-License-Identifier: MIT
/*
 * boottimer: signals "booted" to Firecracker's boot timer device (a byte
 * 123 at 0xc0000000, as Firecracker's test guests write it), then exits 0.
 * The VMM, started with --boot-timer, logs the Guest-boot-time line.
 */
#include "guest.h"

#define BOOT_TIMER	 0xc0000000ull
#define BOOT_TIMER_MAGIC 123

int main(void)
{
	mmio_write8(BOOT_TIMER, BOOT_TIMER_MAGIC);
	printf("boottimer: signalled\n");
	return 0;
}
