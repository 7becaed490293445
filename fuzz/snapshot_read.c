// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the snapshot state file reader, as a file on disk
 * reaches it (a file is untrusted input). Whatever parses is walked as
 * restore would: each section through the payload decoder, and printed.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mvm/snap_format.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const struct snap_section *s)
{
	struct snap_cur c;
	char str[64];
	const void *blob;

	snap_cur_init(&c, s->data, s->len);
	while (!c.err && c.off < c.len) {
		switch (snap_get_u8(&c) % 4) {
		case 0:
			snap_get_str(&c, str, sizeof(str));
			break;
		case 1:
			snap_get_blob(&c, &blob);
			break;
		case 2:
			snap_get_u64(&c);
			break;
		default:
			snap_get_u32(&c);
		}
	}
	(void)snap_cur_end(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct snap_file f;
	char err[256];
	FILE *null;
	uint32_t i;

	if (snap_parse(&f, data, size, err, sizeof(err))) {
		/* A refusal always says why. */
		if (!err[0])
			__builtin_trap();
		return 0;
	}
	for (i = 0; i < f.nr_sections; i++)
		walk(&f.sections[i]);
	null = fopen("/dev/null", "w");
	if (null) {
		snap_describe(&f, null);
		fclose(null);
	}
	snap_check_cpu(&f.hdr, "GenuineIntel", 0, err, sizeof(err));
	snap_file_free(&f);
	return 0;
}
