/* SPDX-License-Identifier: MIT */
/*
 * A tiny ACPI Machine Language encoder (ACPI 6.5 §20): just what mvm's DSDT
 * needs — names, integers, strings, packages, buffers, scopes, devices and
 * resource templates. Objects that have a PkgLength are opened, filled and
 * closed; closing encodes the length. Errors stick: after an overflow every
 * call is a no-op and aml_error() says so.
 */
#ifndef MVM_X86_AML_H
#define MVM_X86_AML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AML_MAX_SIZE  8192
#define AML_MAX_DEPTH 8

struct aml {
	uint8_t buf[AML_MAX_SIZE];
	size_t len;
	size_t open[AML_MAX_DEPTH]; /* where each open object's body starts */
	bool is_buffer[AML_MAX_DEPTH];
	unsigned int depth;
	int err;
};

void aml_init(struct aml *a);
int aml_error(const struct aml *a); /* 0 or -E2BIG / -EINVAL */

void aml_bytes(struct aml *a, const void *p, size_t len);
/* A name path such as "\\_SB_", "COM1" or "_S5_": segments of 4 characters. */
void aml_name(struct aml *a, const char *path);
void aml_int(struct aml *a, uint64_t v); /* the shortest integer encoding */
void aml_string(struct aml *a, const char *s);
uint32_t aml_eisaid(const char *id); /* "PNP0501" -> compressed EISA id */

/* Name(path, <next object>) */
void aml_name_decl(struct aml *a, const char *path);
void aml_scope_open(struct aml *a, const char *path);
void aml_device_open(struct aml *a, const char *path);
void aml_package_open(struct aml *a, unsigned int nr_elements);
/* Buffer(){...}: the size is written on close, a resource template's end tag too. */
void aml_buffer_open(struct aml *a);
void aml_resource_template_open(struct aml *a);
void aml_close(struct aml *a);
void aml_resource_template_close(struct aml *a);

/* Resource descriptors (ACPI 6.5 §6.4), inside a resource template. */
void aml_res_io(struct aml *a, uint16_t base, uint8_t len);
void aml_res_irq(struct aml *a, unsigned int irq); /* IRQNoFlags: edge, active high */
/* Windows a host bridge produces (decodes for its children). */
void aml_res_bus_numbers(struct aml *a, uint8_t first, uint8_t last);
void aml_res_io_window(struct aml *a, uint16_t base, uint32_t size);
void aml_res_mem32_window(struct aml *a, uint32_t base, uint32_t size);
void aml_res_mem32_fixed(struct aml *a, uint32_t base, uint32_t len);
void aml_res_interrupt(struct aml *a, uint32_t gsi, bool level);

#endif
