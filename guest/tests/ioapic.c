// SPDX-License-Identifier: MIT
/*
 * ioapic: the I/O APIC at 0xfec00000, as any irqchip mvm builds must show it
 * (KVM's, or mvm's own with --irqchip split): its version register, every
 * pin masked at reset, redirection entries that read back, and the UART's
 * IRQ 4 delivered through pin 4 to this CPU's LAPIC. Interrupts stay off
 * (IF=0): a delivered vector is seen pending in the LAPIC's IRR.
 */
#include "guest.h"

#define IOAPIC	    0xfec00000ull
#define LAPIC	    0xfee00000ull
#define LAPIC_ID    0x20
#define LAPIC_TPR   0x80
#define LAPIC_SVR   0xf0
#define LAPIC_IRR   0x200 /* + 0x10 per 32 vectors */
#define COM1	    0x3f8
#define UART_IER    1
#define UART_IIR    2
#define IER_THRI    0x02
#define RTE_MASKED  0x10000u
#define RTE_LEVEL   0x8000u
#define VEC_UART    0x41
#define VEC_MASKED  0x42
#define POLL_ROUNDS 100000

static uint32_t ioapic_read(uint32_t reg)
{
	mmio_write32(IOAPIC, reg);
	return mmio_read32(IOAPIC + 0x10);
}

static void ioapic_write(uint32_t reg, uint32_t v)
{
	mmio_write32(IOAPIC, reg);
	mmio_write32(IOAPIC + 0x10, v);
}

static bool lapic_pending(unsigned int vec)
{
	return mmio_read32(LAPIC + LAPIC_IRR + 0x10 * (vec / 32)) & (1u << (vec % 32));
}

/* Raises the UART's interrupt (THR empty) and waits for vec to be pending. */
static bool uart_irq_reaches(unsigned int vec)
{
	unsigned int i;

	outb(COM1 + UART_IER, 0);
	outb(COM1 + UART_IER, IER_THRI);
	for (i = 0; i < POLL_ROUNDS && !lapic_pending(vec); i++)
		cpu_relax();
	outb(COM1 + UART_IER, 0);
	(void)inb(COM1 + UART_IIR);
	return lapic_pending(vec);
}

int main(void)
{
	uint32_t apic_id, masked = 0;
	unsigned int pin;

	__asm__ volatile("cli");
	guest_check("IOAPIC version register (24 pins, version 0x11)", ioapic_read(0x01),
		    0x00170011);
	for (pin = 0; pin < 24; pin++)
		masked += !!(ioapic_read(0x10 + 2 * pin) & RTE_MASKED);
	guest_check("every pin masked at reset", masked, 24);

	/* An entry reads back: level, vector 0x55, masked; destination 3. */
	ioapic_write(0x10 + 2 * 9 + 1, 0x03000000);
	ioapic_write(0x10 + 2 * 9, RTE_MASKED | RTE_LEVEL | 0x55);
	guest_check("pin 9 low word reads back", ioapic_read(0x10 + 2 * 9),
		    RTE_MASKED | RTE_LEVEL | 0x55);
	guest_check("pin 9 high word reads back", ioapic_read(0x10 + 2 * 9 + 1), 0x03000000);
	ioapic_write(0x10 + 2 * 9, RTE_MASKED);
	ioapic_write(0x10 + 2 * 9 + 1, 0);

	/* This CPU's LAPIC on, accepting every priority. */
	apic_id = mmio_read32(LAPIC + LAPIC_ID) >> 24;
	mmio_write32(LAPIC + LAPIC_SVR, 0x1ff);
	mmio_write32(LAPIC + LAPIC_TPR, 0);

	/* Pin 4 (COM1): edge, fixed, physical destination this CPU. */
	ioapic_write(0x10 + 2 * 4 + 1, apic_id << 24);
	ioapic_write(0x10 + 2 * 4, VEC_MASKED | RTE_MASKED);
	guest_check("a masked pin delivers nothing", uart_irq_reaches(VEC_MASKED), 0);
	ioapic_write(0x10 + 2 * 4, VEC_UART);
	guest_check("the UART's IRQ 4 reaches the LAPIC as vector 0x41", uart_irq_reaches(VEC_UART),
		    1);
	ioapic_write(0x10 + 2 * 4, RTE_MASKED);
	return guest_check_summary("ioapic");
}
