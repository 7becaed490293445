/* SPDX-License-Identifier: MIT */
/*
 * mvm guest test kit: the API a test guest is written against.
 *
 * A guest is `int main(void)`. The runtime (runtime/entry.S) enters long mode
 * with about twenty ring-0 instructions and runs main() in ring 3, where port
 * I/O (IOPL=3 plus an allow-all TSS I/O bitmap) and MMIO work directly. All of
 * the first 4 GiB is identity-mapped, user-accessible and writable. main()'s
 * return value is written to the exit port (0xf4). Interrupts are left
 * disabled (RFLAGS.IF=0) and no interrupt source is programmed. Privileged
 * instructions (cli, hlt, lidt, ...) need guest_ring0_call().
 *
 * An unexpected exception (vector 0-31) prints
 *   guest: unexpected exception vector=V (#XX) error=0x.. rip=0x.. cs=0x..
 * on COM1 and exits with status 100 + V.
 */
#ifndef GUEST_H
#define GUEST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pvh.h"

#define GUEST_COM1	      0x3f8
#define GUEST_EXIT_PORT	      0xf4
#define GUEST_EXC_STATUS_BASE 100 /* exit status = 100 + vector */

/* ---- port I/O (allowed in ring 3) ---- */
static inline void outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
	__asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
	return v;
}

/* ---- MMIO: one access of exactly the given width (volatile, no tearing) ---- */
#define GUEST_MMIO_RW(bits)                                                  \
	static inline uint##bits##_t mmio_read##bits(uint64_t addr)          \
	{                                                                    \
		return *(volatile uint##bits##_t *)(uintptr_t)addr;          \
	}                                                                    \
	static inline void mmio_write##bits(uint64_t addr, uint##bits##_t v) \
	{                                                                    \
		*(volatile uint##bits##_t *)(uintptr_t)addr = v;             \
	}
GUEST_MMIO_RW(8)
GUEST_MMIO_RW(16)
GUEST_MMIO_RW(32)
GUEST_MMIO_RW(64)
#undef GUEST_MMIO_RW

/* ---- misc CPU helpers usable in ring 3 ---- */
static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline unsigned int guest_cpl(void)
{
	uint16_t cs;

	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	return cs & 3;
}

/* ---- console (COM1, 8250 THR; see GUEST_UART_POLL in the Makefile) ---- */
int putchar(int c);
int puts(const char *s); /* appends '\n', like C */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
/*
 * printf conversions: %d %i %u %x %X %o %c %s %p %%; length l, ll, z;
 * flags '-' and '0'; a decimal field width.
 */

/* ---- strings and memory ---- */
void *memset(void *s, int c, size_t n);
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strchr(const char *s, int c);
/* base 0 accepts 0x.. (hex), 0.. (octal), else decimal; no sign handling */
unsigned long strtoul(const char *s, char **end, int base);

/* ---- boot information ---- */
/* The hvm_start_info the VMM passed in EBX, or NULL if EBX/magic was bad. */
const struct hvm_start_info *guest_start_info(void);
/* The kernel command line ("" if none). Copied at start, <= 4095 bytes. */
const char *guest_cmdline(void);
/*
 * Value of the last `key=value` word on the command line, "" for a bare
 * `key` word, NULL if absent. The pointer stays valid for the whole run.
 */
const char *guest_cmdline_get(const char *key);
/* guest_cmdline_get(key) parsed by strtoul(base 0), or def if absent/empty */
unsigned long guest_cmdline_ulong(const char *key, unsigned long def);
/* The PVH memory map (version >= 1 start info), *n entries; NULL, *n = 0 if none. */
const struct hvm_memmap_table_entry *guest_memmap(unsigned int *n);

/* ---- control ---- */
/* Write code to the exit port (0xf4), then halt for ever (ring 0 hlt). */
__attribute__((noreturn)) void guest_exit(int code);
/*
 * Run fn(arg) in ring 0 (through the DPL-3 gate, int 0x80) and come back to
 * ring 3. fn runs on the ring-0 stack (8 KiB) with interrupts off; every
 * instruction it executes is slow on a nested host, keep it short. Called in
 * ring 0, it just calls fn(arg).
 */
void guest_ring0_call(void (*fn)(void *), void *arg);
/* Weak hook, called in ring 0 right before the drop to ring 3; default empty. */
void guest_early_ring0(void);

/* ---- test reporting ---- */
/* Print `PASS name` or `FAIL name got=0x.. want=0x..`; returns got == want. */
bool guest_check(const char *name, uint64_t got, uint64_t want);
/* Print `suite: N passed, M failed`; returns 0 if nothing failed, else 1. */
int guest_check_summary(const char *suite);

int main(void);

#endif
