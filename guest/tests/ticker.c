// SPDX-License-Identifier: MIT
/*
 * ticker: prints "tick N" for N = 0, 1, 2... for ever, one line every
 * `period=` TSC cycles (default 50M), busy-waiting in ring 3 in between.
 * For the pause/resume tests: while the VM is paused no line appears, and
 * after resume the numbers go on with no gap and no repeat.
 */
#include "guest.h"

int main(void)
{
	unsigned long period = guest_cmdline_ulong("period", 50000000UL);
	unsigned long n;

	printf("ticker: period=%lu\n", period);
	for (n = 0;; n++) {
		unsigned long long t0 = rdtsc();

		printf("tick %lu\n", n);
		while (rdtsc() - t0 < period)
			cpu_relax();
	}
}
