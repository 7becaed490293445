/* SPDX-License-Identifier: MIT */
/*
 * PVH entry and the ring-0 stubs.
 *
 * On a nested host every ring-0 instruction is emulated (~2 us each), so the
 * path from the PVH entry to ring 3 is straight-line code over tables that are
 * complete at link time (tables.S, guest.ld): 13 instructions in 32-bit mode,
 * 6 in 64-bit mode plus the `ret` of the default guest_early_ring0().
 */
#include "layout.h"

/*
 * Xen PVH note (ELF note, type XEN_ELFNOTE_PHYS32_ENTRY): where a PVH loader
 * enters us in 32-bit protected mode, paging off, EBX = hvm_start_info.
 */
	.section .note.pvh, "a", @note
	.balign 4
	.long 2f - 1f			/* namesz */
	.long 4f - 3f			/* descsz */
	.long 18			/* XEN_ELFNOTE_PHYS32_ENTRY */
1:	.asciz "Xen"
2:	.balign 4
3:	.long pvh_entry
4:	.balign 4

	.section .text.entry, "ax"
	.code32
	.globl pvh_entry
	.type pvh_entry, @function
pvh_entry:
	/* flat segments, no stack: everything goes through absolute addresses */
	movl %ebx, guest_start_info_pa
	lgdt gdt_ptr			/* 32-bit form: 16-bit limit, low 32 bits of base */
	movl $CR4_PAE, %eax
	movl %eax, %cr4
	movl $pml4, %eax
	movl %eax, %cr3
	movl $MSR_EFER, %ecx
	movl $EFER_LME, %eax
	xorl %edx, %edx
	wrmsr
	/* also clears CD/NW: caches on */
	movl $(CR0_PG | CR0_ET | CR0_PE), %eax
	movl %eax, %cr0
	ljmp $KERNEL_CS, $long_entry

	.code64
long_entry:
	/*
	 * The data segment registers keep the loader's hidden descriptors: in
	 * 64-bit mode only their presence matters, and the iretq below loads
	 * SS and nulls DS/ES/FS/GS for ring 3 anyway.
	 */
	lidt idt_ptr(%rip)
	movl $TSS_SEL, %eax
	ltr %ax
	/* The prebuilt iretq frame sits at the top of the ring-0 stack. */
	leaq iret_frame(%rip), %rsp
	call guest_early_ring0
	iretq				/* to user_entry, ring 3, IOPL=3, IF=0 */
	.size pvh_entry, . - pvh_entry

	.section .text
	.weak guest_early_ring0
	.type guest_early_ring0, @function
guest_early_ring0:
	ret
	.size guest_early_ring0, . - guest_early_ring0

/* First ring-3 instruction. RSP = top of the user stack (16-byte aligned). */
	.globl user_entry
	.type user_entry, @function
user_entry:
	call guest_start		/* runtime/start.c, does not return */
	ud2
	.size user_entry, . - user_entry

/*
 * int $RING0_CALL_VECTOR from guest_ring0_call(): RDI = fn, RSI = arg.
 * The CPU aligned RSP to 16 and pushed SS, RSP, RFLAGS, CS, RIP (40 bytes).
 * Caller-saved registers are declared clobbered by the caller.
 */
	.globl ring0_call_entry
	.type ring0_call_entry, @function
ring0_call_entry:
	subq $8, %rsp
	movq %rdi, %rax
	movq %rsi, %rdi
	call *%rax
	addq $8, %rsp
	iretq
	.size ring0_call_entry, . - ring0_call_entry

/*
 * Exception stubs for vectors 0-31, each exactly 16 bytes so that the IDT
 * gates can be link-time constants (gate for vector v = __exc_gate + 16*v,
 * see guest.ld). Each leaves an error code (0 if the CPU pushed none) and the
 * vector on the stack, then goes to exc_common.
 */
	.balign 16
	.globl exc_stubs
exc_stubs:
	.set exc_vec, 0
	.rept 32
	.if exc_vec == 8 || exc_vec == 10 || exc_vec == 11 || exc_vec == 12 || \
	    exc_vec == 13 || exc_vec == 14 || exc_vec == 17 || exc_vec == 21 || \
	    exc_vec == 29 || exc_vec == 30
	.else
	pushq $0
	.endif
	pushq $exc_vec
	jmp exc_common
	.balign 16, 0xcc		/* pad with int3 */
	.set exc_vec, exc_vec + 1
	.endr
	.globl exc_stubs_end
exc_stubs_end:

/*
 * Stack: vector, error code, then the CPU's RIP, CS, RFLAGS, RSP, SS.
 *
 * On hardware, `int $RING0_CALL_VECTOR` from ring 3 goes through its DPL-3
 * gate. This development host delivers any `int n` (n != 3) executed in ring
 * 3 as #UD at the int instruction instead, so a #UD or #GP from ring 3 whose
 * RIP points at `int $RING0_CALL_VECTOR` (bytes cd 80) is taken as the ring-0
 * call it was meant to be: skip the instruction, continue in ring0_call_entry
 * with RDI/RSI untouched.
 */
exc_common:
	testb $3, 24(%rsp)		/* from ring 3? */
	jz exc_report
	cmpq $6, (%rsp)			/* #UD */
	je 1f
	cmpq $13, (%rsp)		/* #GP */
	jne exc_report
1:	pushq %rax
	movq 24(%rsp), %rax		/* the RIP (shifted by the push) */
	cmpw $(0x00cd | RING0_CALL_VECTOR << 8), (%rax)
	popq %rax
	jne exc_report
	addq $2, 16(%rsp)		/* return after the int instruction */
	addq $16, %rsp			/* drop vector and error code */
	jmp ring0_call_entry

/* Failure path: report and exit with 100 + vector (runtime/start.c). */
exc_report:
	movq %rsp, %rdi			/* struct guest_exc_frame * */
	andq $-16, %rsp
	call guest_exception
1:	hlt
	jmp 1b

	.section .note.GNU-stack, "", @progbits
