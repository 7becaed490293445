// SPDX-License-Identifier: MIT
/*
 * echo: reads the UART (polling LSR.DR) and reports each byte as
 * "echo: got 0xNN"; exits 0 on 'q'. Tests console input to the guest.
 */
#include "guest.h"

#define UART_RBR    0x3f8
#define UART_LSR    0x3fd
#define UART_LSR_DR 0x01

int main(void)
{
	puts("echo: ready");
	for (;;) {
		uint8_t c;

		while (!(inb(UART_LSR) & UART_LSR_DR))
			cpu_relax();
		c = inb(UART_RBR);
		printf("echo: got 0x%02x\n", c);
		if (c == 'q')
			return 0;
	}
}
