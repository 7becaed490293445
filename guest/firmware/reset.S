/* SPDX-License-Identifier: MIT */
/*
 * reset-vector.bin: a 64 KiB raw firmware image (mvm --firmware, QEMU -bios,
 * kvmtool --firmware). The processor starts at its last 16 bytes (0xfffffff0,
 * CS base 0xffff0000, IP 0xfff0) in real mode. It prints a line from there,
 * far-jumps to its copy below 1 MiB (CS 0xf000: the same IPs), prints a
 * second line and writes 0 to the debug-exit port (0xf4).
 *
 * Linked at 0 (IP = offset in the image); data is read through CS.
 */
	.code16
	.text
	.globl _start
_start:
	cli
	xor %ax, %ax
	mov %ax, %ss
	mov $0x7000, %sp
	mov $msg_rom, %si
	call puts
	/* CS base 0xf0000: the copy the VMM put below 1 MiB. */
	ljmp $0xf000, $low
low:
	mov %cs, %ax
	cmp $0xf000, %ax
	jne fail
	mov $msg_low, %si
	call puts
	xor %al, %al
	jmp exit
fail:
	mov $1, %al
exit:
	outb %al, $0xf4
1:	hlt
	jmp 1b

/* The NUL-terminated string at CS:SI to the UART (COM1). */
puts:
	mov $0x3f8, %dx
2:	movb %cs:(%si), %al
	test %al, %al
	jz 3f
	outb %al, %dx
	inc %si
	jmp 2b
3:	ret

msg_rom:
	.asciz "reset: running at the reset vector\n"
msg_low:
	.asciz "reset: running below 1 MiB\n"

	.org 0xfff0
reset_vector:
	jmp _start
	.org 0x10000
