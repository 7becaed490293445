/* SPDX-License-Identifier: MIT */
/* Constants shared by the runtime's assembly and C (no C declarations here). */
#ifndef GUEST_RUNTIME_LAYOUT_H
#define GUEST_RUNTIME_LAYOUT_H

/* GDT selectors (see tables.S) */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_CS	  (0x18 | 3)
#define USER_DS	  (0x20 | 3)
#define TSS_SEL	  0x28

#define RING0_CALL_VECTOR 0x80 /* DPL-3 gate: guest_ring0_call() */
#define IDT_ENTRIES	  (RING0_CALL_VECTOR + 1)

#define RING0_STACK_SIZE 8192
#define DF_STACK_SIZE	 4096 /* #DF runs on IST1 */
#define USER_STACK_SIZE	 65536

#define RFLAGS_FIXED 0x2 /* bit 1 always reads as 1 */
#define RFLAGS_IOPL3 0x3000

#define CR0_PE	 (1 << 0)
#define CR0_ET	 (1 << 4)
#define CR0_PG	 (1 << 31)
#define CR4_PAE	 (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)

/* page-table entry bits */
#define PTE_P  0x001
#define PTE_RW 0x002
#define PTE_US 0x004
#define PTE_PS 0x080 /* 2 MiB page in a PD entry */

#endif
