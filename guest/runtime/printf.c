// SPDX-License-Identifier: MIT
/*
 * A small printf: %d %i %u %x %X %o %c %s %p %%, length l/ll/z, flags '-'
 * and '0', a field width, and a precision for %s.
 */
#include "guest.h"

struct sink {
	bool console; /* else into buf[size] */
	char *buf;
	size_t size;
	size_t len; /* characters produced, even if not stored */
};

static void emit(struct sink *s, char c)
{
	if (s->console)
		putchar(c);
	else if (s->len + 1 < s->size)
		s->buf[s->len] = c;
	s->len++;
}

static void emit_pad(struct sink *s, char c, int n)
{
	while (n-- > 0)
		emit(s, c);
}

/* Emit prefix+digits in a field of width, right-aligned unless left. */
static void emit_field(struct sink *s, const char *prefix, const char *digits, int ndigits,
		       int width, bool left, bool zero)
{
	int plen = strlen(prefix);
	int pad = width - plen - ndigits;

	if (!left && !zero)
		emit_pad(s, ' ', pad);
	while (*prefix)
		emit(s, *prefix++);
	if (!left && zero)
		emit_pad(s, '0', pad);
	for (int i = 0; i < ndigits; i++)
		emit(s, digits[i]);
	if (left)
		emit_pad(s, ' ', pad);
}

static void format(struct sink *s, const char *fmt, va_list ap)
{
	char tmp[24]; /* 2^64 in octal is 22 digits */

	for (; *fmt; fmt++) {
		bool left = false, zero = false, is_signed = false;
		int width = 0, prec = -1, lng = 0;
		unsigned int base = 10;
		unsigned long long v = 0;
		const char *prefix = "";
		const char *digits;
		int n;

		if (*fmt != '%') {
			emit(s, *fmt);
			continue;
		}
		for (fmt++; *fmt == '-' || *fmt == '0'; fmt++) {
			if (*fmt == '-')
				left = true;
			else
				zero = true;
		}
		for (; *fmt >= '0' && *fmt <= '9'; fmt++)
			width = width * 10 + (*fmt - '0');
		if (*fmt == '.')
			for (prec = 0, fmt++; *fmt >= '0' && *fmt <= '9'; fmt++)
				prec = prec * 10 + (*fmt - '0');
		for (; *fmt == 'l' || *fmt == 'z'; fmt++)
			lng = *fmt == 'z' ? 1 : lng + 1;

		switch (*fmt) {
		case 'c':
			tmp[0] = (char)va_arg(ap, int);
			emit_field(s, "", tmp, 1, width, left, false);
			continue;
		case 's':
			digits = va_arg(ap, const char *);
			if (!digits)
				digits = "(null)";
			for (n = 0; digits[n] && (prec < 0 || n < prec); n++)
				;
			emit_field(s, "", digits, n, width, left, false);
			continue;
		case 'p':
			v = (uintptr_t)va_arg(ap, void *);
			prefix = "0x";
			base = 16;
			break;
		case 'd':
		case 'i':
			is_signed = true;
			/* fall through */
		case 'u':
			break;
		case 'x':
		case 'X':
			base = 16;
			break;
		case 'o':
			base = 8;
			break;
		case '%':
			emit(s, '%');
			continue;
		case '\0':
			return;
		default: /* unknown: print it as it was */
			emit(s, '%');
			emit(s, *fmt);
			continue;
		}

		if (*fmt != 'p') {
			if (is_signed) {
				long long sv = lng >= 2	  ? va_arg(ap, long long)
					       : lng == 1 ? va_arg(ap, long)
							  : va_arg(ap, int);
				if (sv < 0) {
					prefix = "-";
					v = -(unsigned long long)sv;
				} else {
					v = sv;
				}
			} else {
				v = lng >= 2   ? va_arg(ap, unsigned long long)
				    : lng == 1 ? va_arg(ap, unsigned long)
					       : va_arg(ap, unsigned int);
			}
		}

		n = sizeof(tmp);
		do {
			unsigned int d = v % base;

			tmp[--n] = d < 10 ? '0' + d : (*fmt == 'X' ? 'A' : 'a') + d - 10;
			v /= base;
		} while (v);
		emit_field(s, prefix, &tmp[n], sizeof(tmp) - n, width, left, zero);
	}
}

int vprintf(const char *fmt, va_list ap)
{
	struct sink s = { .console = true };

	format(&s, fmt, ap);
	return s.len;
}

int printf(const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vprintf(fmt, ap);
	va_end(ap);
	return n;
}

int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct sink s = { .buf = buf, .size = size };

	format(&s, fmt, ap);
	if (size)
		buf[s.len < size ? s.len : size - 1] = '\0';
	return s.len;
}

int snprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
