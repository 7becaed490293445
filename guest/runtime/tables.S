/* SPDX-License-Identifier: MIT */
/*
 * Static CPU tables: page tables, GDT, TSS, IDT and the first iretq frame.
 * All complete at link time (descriptor fields that split an address are
 * computed by guest.ld), so ring 0 only has to load them.
 */
#include "layout.h"

#define PT_FLAGS	(PTE_P | PTE_RW | PTE_US)

/*
 * Identity map of the first 4 GiB with 2 MiB pages, user-accessible and
 * writable at every level (ring 3 does port I/O, MMIO and its own IDT-free
 * work; there is no protection to keep inside a test guest).
 */
	.section .data.pagetables, "aw"
	.balign 4096
	.globl pml4
pml4:
	.quad pdpt + PT_FLAGS
	.fill 511, 8, 0
pdpt:
	.quad pd + 0x0000 + PT_FLAGS
	.quad pd + 0x1000 + PT_FLAGS
	.quad pd + 0x2000 + PT_FLAGS
	.quad pd + 0x3000 + PT_FLAGS
	.fill 508, 8, 0
pd:
	.set pd_addr, 0
	.rept 2048
	.quad pd_addr + (PT_FLAGS | PTE_PS)
	.set pd_addr, pd_addr + 0x200000
	.endr

	.section .data, "aw"
/* EBX at entry, the physical address of struct hvm_start_info */
	.balign 4
	.globl guest_start_info_pa
guest_start_info_pa:
	.long 0

/*
 * GDT. Accessed bits are preset so the CPU never writes them back (each such
 * write is one more emulated access here).
 */
	.balign 16
gdt:
	.quad 0
	.quad 0x00af9b000000ffff	/* 0x08 kernel code, 64-bit */
	.quad 0x00cf93000000ffff	/* 0x10 kernel data */
	.quad 0x00affb000000ffff	/* 0x18 user code, 64-bit, DPL 3 */
	.quad 0x00cff3000000ffff	/* 0x20 user data, DPL 3 */
	.quad __tss_desc_lo		/* 0x28 64-bit TSS (guest.ld) */
	.quad __tss_desc_hi
gdt_end:
	.balign 8
	.globl gdt_ptr
gdt_ptr:
	.word gdt_end - gdt - 1
	.quad gdt

/*
 * 64-bit TSS: RSP0, IST1 (for #DF) and an I/O permission bitmap that allows
 * every port. IOPL=3 alone would do on hardware, but this development host's
 * ring-0 emulation drops IOPL on the iretq to ring 3 (ring 3 runs with
 * IOPL=0); the bitmap makes port I/O work there too, at no ring-0 cost.
 */
	.balign 16
	.globl guest_tss
guest_tss:
	.long 0
	.quad ring0_stack_top		/* RSP0 */
	.quad 0, 0			/* RSP1, RSP2 */
	.quad 0
	.quad df_stack_top		/* IST1 */
	.fill 6, 8, 0			/* IST2-7 */
	.quad 0
	.word 0
	.word io_bitmap - guest_tss	/* I/O map base */
io_bitmap:
	.fill 65536 / 8, 1, 0		/* a 0 bit allows the port */
	.byte 0xff			/* the CPU may read one byte past it */
	.globl guest_tss_end
guest_tss_end:

/*
 * IDT: vectors 0-31 go to the exception stubs (DPL 0; #DF on IST1),
 * 32-127 are not present, RING0_CALL_VECTOR is a DPL-3 interrupt gate.
 */
	.balign 16
idt:
	.set idt_vec, 0
	.rept 32
	.if idt_vec == 8
	.quad __exc_gate + 16 * idt_vec + (1 << 32)	/* IST1 */
	.else
	.quad __exc_gate + 16 * idt_vec
	.endif
	.quad 0
	.set idt_vec, idt_vec + 1
	.endr
	.fill 2 * (RING0_CALL_VECTOR - 32), 8, 0
	.quad __ring0_call_gate
	.quad 0
idt_end:
	.balign 8
	.globl idt_ptr
idt_ptr:
	.word idt_end - idt - 1
	.quad idt

/*
 * Ring-0 stack, with the first iretq frame on top of it: entry.S points RSP
 * at the frame, calls guest_early_ring0() (which uses the stack below) and
 * iretq's. Later, RSP0 = ring0_stack_top is used by exceptions and ring-0
 * calls; they push below the (dead) frame.
 * This is .data, not .bss, because the frame must be initialised.
 */
	.balign 16
ring0_stack:
	.fill RING0_STACK_SIZE, 1, 0
ring0_stack_top:
	.globl iret_frame
iret_frame:
	.quad user_entry		/* RIP */
	.quad USER_CS			/* CS */
	.quad RFLAGS_IOPL3 | RFLAGS_FIXED	/* RFLAGS: IOPL 3, IF 0 */
	.quad user_stack_top		/* RSP */
	.quad USER_DS			/* SS */

	.section .bss.stacks, "aw", @nobits
	.balign 16
df_stack:
	.skip DF_STACK_SIZE
df_stack_top:
	.balign 16
	.globl user_stack
user_stack:
	.skip USER_STACK_SIZE
user_stack_top:

	.section .note.GNU-stack, "", @progbits
