// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "aml.h"

#define AML_ZERO_OP    0x00
#define AML_ONE_OP     0x01
#define AML_NAME_OP    0x08
#define AML_BYTE_PFX   0x0a
#define AML_WORD_PFX   0x0b
#define AML_DWORD_PFX  0x0c
#define AML_STRING_PFX 0x0d
#define AML_QWORD_PFX  0x0e
#define AML_SCOPE_OP   0x10
#define AML_BUFFER_OP  0x11
#define AML_PACKAGE_OP 0x12
#define AML_EXT_OP     0x5b
#define AML_DEVICE_OP  0x82 /* after AML_EXT_OP */
#define AML_ROOT_CHAR  '\\'
#define AML_DUAL_PFX   0x2e
#define AML_MULTI_PFX  0x2f
#define AML_ONES_OP    0xff

#define RES_IO	       0x47 /* small item: I/O port, 7 bytes */
#define RES_IRQ_NOFLG  0x22 /* small item: IRQ, 2 bytes */
#define RES_END_TAG    0x79
#define RES_DWORD_ADDR 0x87 /* large item: DWord address space, 23 bytes */
#define RES_WORD_ADDR  0x88 /* large item: Word address space, 13 bytes */
#define RES_ADDR_MEM   0
#define RES_ADDR_IO    1
#define RES_ADDR_BUS   2
/* general flags of a bridge window: produced, fixed minimum and maximum */
#define RES_ADDR_WINDOW 0x0c

void aml_init(struct aml *a)
{
	memset(a, 0, sizeof(*a));
}

int aml_error(const struct aml *a)
{
	return a->err;
}

void aml_bytes(struct aml *a, const void *p, size_t len)
{
	if (a->err)
		return;
	if (len > sizeof(a->buf) - a->len) {
		a->err = -E2BIG;
		return;
	}
	memcpy(a->buf + a->len, p, len);
	a->len += len;
}

static void aml_byte(struct aml *a, uint8_t b)
{
	aml_bytes(a, &b, 1);
}

void aml_name(struct aml *a, const char *path)
{
	size_t n;

	if (*path == AML_ROOT_CHAR) {
		aml_byte(a, AML_ROOT_CHAR);
		path++;
	}
	n = strlen(path);
	if (n == 0 || n % 4) {
		if (!a->err)
			a->err = -EINVAL;
		return;
	}
	if (n / 4 == 2)
		aml_byte(a, AML_DUAL_PFX);
	else if (n / 4 > 2) {
		aml_byte(a, AML_MULTI_PFX);
		aml_byte(a, (uint8_t)(n / 4));
	}
	aml_bytes(a, path, n);
}

void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[9];
	unsigned int n;

	if (v == 0 || v == 1) {
		aml_byte(a, v ? AML_ONE_OP : AML_ZERO_OP);
		return;
	}
	if (v <= 0xff) {
		b[0] = AML_BYTE_PFX;
		n = 1;
	} else if (v <= 0xffff) {
		b[0] = AML_WORD_PFX;
		n = 2;
	} else if (v <= 0xffffffffULL) {
		b[0] = AML_DWORD_PFX;
		n = 4;
	} else {
		b[0] = AML_QWORD_PFX;
		n = 8;
	}
	memcpy(b + 1, &v, n); /* little endian, as AML */
	aml_bytes(a, b, n + 1);
}

void aml_string(struct aml *a, const char *s)
{
	aml_byte(a, AML_STRING_PFX);
	aml_bytes(a, s, strlen(s) + 1);
}

uint32_t aml_eisaid(const char *id)
{
	/* Three letters of 5 bits each, then four hex digits, stored big-endian. */
	uint16_t vendor =
		(uint16_t)(((id[0] - 0x40) << 10) | ((id[1] - 0x40) << 5) | (id[2] - 0x40));
	uint16_t product = (uint16_t)strtoul(id + 3, NULL, 16);
	uint8_t b[4] = { vendor >> 8, vendor & 0xff, product >> 8, product & 0xff };
	uint32_t v;

	memcpy(&v, b, sizeof(v));
	return v;
}

void aml_name_decl(struct aml *a, const char *path)
{
	aml_byte(a, AML_NAME_OP);
	aml_name(a, path);
}

static void aml_open(struct aml *a, bool buffer)
{
	if (a->err)
		return;
	if (a->depth == AML_MAX_DEPTH) {
		a->err = -E2BIG;
		return;
	}
	a->is_buffer[a->depth] = buffer;
	a->open[a->depth++] = a->len;
}

/* Inserts len bytes at `at`, moving what follows. */
static void aml_insert(struct aml *a, size_t at, const uint8_t *p, size_t len)
{
	if (a->err)
		return;
	if (len > sizeof(a->buf) - a->len) {
		a->err = -E2BIG;
		return;
	}
	memmove(a->buf + at + len, a->buf + at, a->len - at);
	memcpy(a->buf + at, p, len);
	a->len += len;
}

void aml_close(struct aml *a)
{
	uint8_t pkg[4];
	size_t start, body, total;
	unsigned int n;

	if (a->err)
		return;
	if (a->depth == 0) {
		a->err = -EINVAL;
		return;
	}
	start = a->open[--a->depth];
	if (a->is_buffer[a->depth]) {
		/* Buffer(size){bytes}: the size goes before the bytes. */
		struct aml sz;

		aml_init(&sz);
		aml_int(&sz, a->len - start);
		aml_insert(a, start, sz.buf, sz.len);
	}
	body = a->len - start;
	/* The PkgLength counts its own bytes: 1 byte up to 63, then 2-4 bytes. */
	for (n = 1; n <= 4; n++) {
		total = body + n;
		if ((n == 1 && total <= 0x3f) || (n > 1 && total < (1ULL << (4 + 8 * (n - 1)))))
			break;
	}
	if (n > 4) {
		a->err = -E2BIG;
		return;
	}
	if (n == 1) {
		pkg[0] = (uint8_t)total;
	} else {
		pkg[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		pkg[1] = (uint8_t)(total >> 4);
		pkg[2] = (uint8_t)(total >> 12);
		pkg[3] = (uint8_t)(total >> 20);
	}
	aml_insert(a, start, pkg, n);
}

void aml_scope_open(struct aml *a, const char *path)
{
	aml_byte(a, AML_SCOPE_OP);
	aml_open(a, false);
	aml_name(a, path);
}

void aml_device_open(struct aml *a, const char *path)
{
	aml_byte(a, AML_EXT_OP);
	aml_byte(a, AML_DEVICE_OP);
	aml_open(a, false);
	aml_name(a, path);
}

void aml_package_open(struct aml *a, unsigned int nr_elements)
{
	aml_byte(a, AML_PACKAGE_OP);
	aml_open(a, false);
	aml_byte(a, (uint8_t)nr_elements);
}

void aml_buffer_open(struct aml *a)
{
	aml_byte(a, AML_BUFFER_OP);
	aml_open(a, true);
}

void aml_resource_template_open(struct aml *a)
{
	aml_buffer_open(a);
}

void aml_resource_template_close(struct aml *a)
{
	/* End tag; a zero checksum means "the sum is not checked". */
	const uint8_t end[2] = { RES_END_TAG, 0 };

	aml_bytes(a, end, sizeof(end));
	aml_close(a);
}

void aml_res_io(struct aml *a, uint16_t base, uint8_t len)
{
	/* 16-bit decode, min = max = base, alignment 1 */
	const uint8_t d[8] = { RES_IO, 1, base & 0xff, base >> 8, base & 0xff, base >> 8, 1, len };

	aml_bytes(a, d, sizeof(d));
}

void aml_res_irq(struct aml *a, unsigned int irq)
{
	uint16_t mask = (uint16_t)(1U << (irq & 15));
	const uint8_t d[3] = { RES_IRQ_NOFLG, mask & 0xff, mask >> 8 };

	aml_bytes(a, d, sizeof(d));
}

/* A Word address space descriptor: a bus-number or I/O window of a bridge. */
static void aml_res_word(struct aml *a, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint16_t len = (uint16_t)(max - min + 1);
	const uint8_t d[16] = { RES_WORD_ADDR,
				13,
				0,
				type,
				RES_ADDR_WINDOW,
				tflags,
				0,
				0, /* granularity */
				min & 0xff,
				min >> 8,
				max & 0xff,
				max >> 8,
				0,
				0, /* translation */
				len & 0xff,
				len >> 8 };

	aml_bytes(a, d, sizeof(d));
}

void aml_res_bus_numbers(struct aml *a, uint8_t first, uint8_t last)
{
	aml_res_word(a, RES_ADDR_BUS, 0, first, last);
}

void aml_res_io_window(struct aml *a, uint16_t base, uint32_t size)
{
	aml_res_word(a, RES_ADDR_IO, 3 /* ISA and non-ISA ranges */, base,
		     (uint16_t)(base + size - 1));
}

void aml_res_mem32_window(struct aml *a, uint32_t base, uint32_t size)
{
	uint32_t v[5] = { 0, base, base + size - 1, 0, size }; /* gran, min, max, tra, len */
	uint8_t d[26] = { RES_DWORD_ADDR,  23, 0, RES_ADDR_MEM,
			  RES_ADDR_WINDOW, 1 /* read-write, non-cacheable */ };

	memcpy(d + 6, v, sizeof(v));
	aml_bytes(a, d, sizeof(d));
}

/* Memory32Fixed: a device's register window (read-write). */
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len)
{
	uint8_t d[12] = { 0x86, 9, 0, 1 /* read-write */ };

	memcpy(d + 4, &base, 4);
	memcpy(d + 8, &len, 4);
	aml_bytes(a, d, sizeof(d));
}

/* Extended Interrupt: one GSI, consumer, exclusive, active high; edge or level. */
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level)
{
	uint8_t d[9] = { 0x89, 6, 0, (uint8_t)(0x01 | (level ? 0 : 0x02)), 1 };

	memcpy(d + 5, &gsi, 4);
	aml_bytes(a, d, sizeof(d));
}
