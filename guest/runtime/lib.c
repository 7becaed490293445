// SPDX-License-Identifier: MIT
/* Console, string helpers and PASS/FAIL reporting for test guests. */
#include "guest.h"

#define UART_THR      0
#define UART_LSR      5
#define UART_LSR_THRE 0x20

int putchar(int c)
{
	/*
	 * Polling LSR costs one VM exit per character; a VMM's UART transmits
	 * a THR write at once, so by default we do not (make GUEST_UART_POLL=1).
	 */
#ifdef GUEST_UART_POLL
	for (unsigned int i = 0; i < 100000; i++)
		if (inb(GUEST_COM1 + UART_LSR) & UART_LSR_THRE)
			break;
#endif
	outb(GUEST_COM1 + UART_THR, (uint8_t)c);
	return (unsigned char)c;
}

int puts(const char *s)
{
	while (*s)
		putchar(*s++);
	putchar('\n');
	return 0;
}

/*
 * String instructions run natively in ring 3, and writing them as asm keeps
 * the compiler from turning these loops back into calls to themselves.
 */
void *memset(void *s, int c, size_t n)
{
	void *d = s;

	__asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
	return s;
}

void *memcpy(void *dst, const void *src, size_t n)
{
	void *d = dst;

	__asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
	return dst;
}

void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	if (d <= s || d >= s + n)
		return memcpy(dst, src, n);
	/* overlapping with dst above src: copy backwards */
	d += n - 1;
	s += n - 1;
	__asm__ volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
	return dst;
}

int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *p = a, *q = b;

	for (; n; n--, p++, q++)
		if (*p != *q)
			return *p - *q;
	return 0;
}

size_t strlen(const char *s)
{
	const char *p = s;

	while (*p)
		p++;
	return p - s;
}

int strcmp(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return (unsigned char)*a - (unsigned char)*b;
}

int strncmp(const char *a, const char *b, size_t n)
{
	for (; n; n--, a++, b++) {
		if (*a != *b)
			return (unsigned char)*a - (unsigned char)*b;
		if (!*a)
			break;
	}
	return 0;
}

char *strchr(const char *s, int c)
{
	for (;; s++) {
		if (*s == (char)c)
			return (char *)s;
		if (!*s)
			return NULL;
	}
}

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 10;
	return 99;
}

unsigned long strtoul(const char *s, char **end, int base)
{
	unsigned long v = 0;
	int d;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s == '+')
		s++;
	if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	    digit_value(s[2]) < 16) {
		s += 2;
		base = 16;
	} else if (base == 0) {
		base = s[0] == '0' ? 8 : 10;
	}
	for (; (d = digit_value(*s)) < base; s++)
		v = v * base + d;
	if (end)
		*end = (char *)s;
	return v;
}

static unsigned int checks_passed, checks_failed;

bool guest_check(const char *name, uint64_t got, uint64_t want)
{
	if (got == want) {
		checks_passed++;
		printf("PASS %s\n", name);
		return true;
	}
	checks_failed++;
	printf("FAIL %s got=0x%llx want=0x%llx\n", name, (unsigned long long)got,
	       (unsigned long long)want);
	return false;
}

int guest_check_summary(const char *suite)
{
	printf("%s: %u passed, %u failed\n", suite, checks_passed, checks_failed);
	return checks_failed ? 1 : 0;
}
