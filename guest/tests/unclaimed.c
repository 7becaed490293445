// SPDX-License-Identifier: MIT
/*
 * unclaimed: accesses to an I/O port and an MMIO address no device claims.
 * Reads must return all-ones, writes must be dropped (the VM keeps running
 * and a later read still returns all-ones).
 */
#include "guest.h"

#define PORT 0x2f0	   /* between the LPT2 and COM2 ranges: nobody */
#define MMIO 0xd0000000ull /* a hole below the 32-bit MMIO devices */

int main(void)
{
	guest_check("inb(0x2f0)", inb(PORT), 0xff);
	guest_check("inw(0x2f0)", inw(PORT), 0xffff);
	guest_check("inl(0x2f0)", inl(PORT), 0xffffffff);
	outb(PORT, 0x5a);
	outw(PORT, 0x5a5a);
	outl(PORT, 0x5a5a5a5a);
	guest_check("inb(0x2f0) after writes", inb(PORT), 0xff);

	guest_check("mmio_read8(0xd0000000)", mmio_read8(MMIO), 0xff);
	guest_check("mmio_read16(0xd0000000)", mmio_read16(MMIO), 0xffff);
	guest_check("mmio_read32(0xd0000000)", mmio_read32(MMIO), 0xffffffff);
	mmio_write8(MMIO, 0x5a);
	mmio_write16(MMIO, 0x5a5a);
	mmio_write32(MMIO, 0x5a5a5a5a);
	guest_check("mmio_read32(0xd0000000) after writes", mmio_read32(MMIO), 0xffffffff);

	return guest_check_summary("unclaimed");
}
