/* SPDX-License-Identifier: MIT */
/* The fuzzer's bytes, read as little-endian values of 1 to 8 bytes (0 past the end). */
#ifndef MVM_FUZZ_INPUT_H
#define MVM_FUZZ_INPUT_H

#include <stddef.h>
#include <stdint.h>

struct input {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t take(struct input *in, unsigned int n)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < n && in->left; i++, in->left--)
		v |= (uint64_t)*in->p++ << (8 * i);
	return v;
}

#endif
