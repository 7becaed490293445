// SPDX-License-Identifier: MIT
/*
 * The snapshot state file: payload encoding, every section's round trip,
 * and every way a file can be wrong (each truncation, each bit flipped, a
 * newer version, an unknown section, the wrong CPU) refused with a message.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/snap_format.h"
#include "unit.h"

static void test_codec_round_trip(void **state)
{
	struct snap_buf b;
	struct snap_cur c;
	char s[16];
	const void *blob;
	uint8_t raw[3];

	(void)state;
	snap_buf_init(&b);
	snap_put_u8(&b, 0xab);
	snap_put_u16(&b, 0xbeef);
	snap_put_u32(&b, 0xdeadbeef);
	snap_put_u64(&b, 0x0123456789abcdefULL);
	snap_put_str(&b, "serial0");
	snap_put_blob(&b, "\x01\x02\x03", 3);
	snap_put(&b, "xyz", 3);
	assert_int_equal(b.err, 0);
	/* Little-endian on the wire. */
	assert_int_equal(b.data[1], 0xef);
	assert_int_equal(b.data[2], 0xbe);

	snap_cur_init(&c, b.data, b.len);
	assert_int_equal(snap_get_u8(&c), 0xab);
	assert_int_equal(snap_get_u16(&c), 0xbeef);
	assert_int_equal(snap_get_u32(&c), 0xdeadbeef);
	assert_true(snap_get_u64(&c) == 0x0123456789abcdefULL);
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), 0);
	assert_string_equal(s, "serial0");
	assert_int_equal(snap_get_blob(&c, &blob), 3);
	assert_memory_equal(blob, "\x01\x02\x03", 3);
	assert_int_equal(snap_get(&c, raw, 3), 0);
	assert_memory_equal(raw, "xyz", 3);
	assert_int_equal(snap_cur_end(&c), 0);
	/* Past the end: an error, zeroes, and the error sticks. */
	assert_int_equal(snap_get_u32(&c), 0);
	assert_int_equal(c.err, -EBADMSG);
	assert_int_equal(snap_cur_end(&c), -EBADMSG);
	snap_buf_free(&b);
}

static void test_codec_refuses_bad_strings(void **state)
{
	struct snap_buf b;
	struct snap_cur c;
	char s[4];
	const void *blob;

	(void)state;
	snap_buf_init(&b);
	snap_put_str(&b, "toolong");  /* longer than s */
	snap_put_blob(&b, "a\0b", 3); /* a NUL inside */
	snap_put_u32(&b, 1000);	      /* a blob longer than what follows */
	snap_cur_init(&c, b.data, b.len);
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), -EBADMSG);
	assert_string_equal(s, "");
	snap_cur_init(&c, b.data + 11, b.len - 11);
	assert_int_equal(snap_get_str(&c, s, sizeof(s)), -EBADMSG);
	snap_cur_init(&c, b.data + 18, b.len - 18);
	assert_int_equal(snap_get_blob(&c, &blob), 0);
	assert_null(blob);
	assert_int_equal(c.err, -EBADMSG);
	/* Leftover bytes are an error too. */
	snap_cur_init(&c, b.data, b.len);
	snap_get_u32(&c);
	assert_int_equal(snap_cur_end(&c), -EBADMSG);
	snap_buf_free(&b);
}

/* A file with one section of every tag, payloads of assorted lengths. */
static void sample_file(struct snap_writer *w)
{
	uint32_t tag;
	uint8_t payload[64];
	size_t i;

	for (i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	snap_writer_init(w, "GenuineIntel", 0x15, 0);
	for (tag = 1; tag <= SNAP_TAG_LAST; tag++)
		snap_writer_add(w, tag, tag * 3, payload, tag * 5 % sizeof(payload));
	/* An empty payload too. */
	snap_writer_add(w, SNAP_TAG_DEVICE, 99, NULL, 0);
}

static void test_every_section_round_trips(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	const uint8_t *data;
	size_t len;
	char err[256];
	uint32_t tag;

	(void)state;
	sample_file(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	assert_int_equal(len % 8, 0);
	assert_int_equal(snap_parse(&f, data, len, err, sizeof(err)), 0);
	assert_int_equal(f.hdr.format_version, SNAP_FORMAT_VERSION);
	assert_string_equal(f.hdr.cpu_vendor, "GenuineIntel");
	assert_true(f.hdr.cpu_features == 0x15);
	assert_int_equal(f.nr_sections, SNAP_TAG_LAST + 1);
	for (tag = 1; tag <= SNAP_TAG_LAST; tag++) {
		const struct snap_section *s = snap_find(&f, tag, 0);

		assert_non_null(s);
		assert_int_equal(s->instance, tag * 3);
		assert_int_equal(s->len, tag * 5 % 64);
		if (s->len)
			assert_int_equal(s->data[0], 1);
		assert_string_not_equal(snap_tag_name(tag), "unknown");
	}
	assert_non_null(snap_find(&f, SNAP_TAG_DEVICE, 1));
	assert_int_equal(snap_find(&f, SNAP_TAG_DEVICE, 1)->len, 0);
	assert_null(snap_find(&f, SNAP_TAG_DEVICE, 2));
	snap_file_free(&f);
	snap_writer_free(&w);
}

static void test_every_truncation_refused(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	const uint8_t *data;
	size_t len, n;
	char err[256];

	(void)state;
	sample_file(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	for (n = 0; n < len; n++) {
		err[0] = '\0';
		assert_int_not_equal(snap_parse(&f, data, n, err, sizeof(err)), 0);
		assert_true(strlen(err) > 0);
		assert_null(f.bytes);
	}
	snap_writer_free(&w);
}

static void test_every_bit_flip_refused(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	const uint8_t *data;
	uint8_t *copy;
	size_t len, i;
	char err[256];
	int bit;

	(void)state;
	sample_file(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	copy = malloc(len);
	assert_non_null(copy);
	for (i = 0; i < len; i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(copy, data, len);
			copy[i] ^= (uint8_t)(1u << bit);
			err[0] = '\0';
			assert_int_not_equal(snap_parse(&f, copy, len, err, sizeof(err)), 0);
			assert_true(strlen(err) > 0);
		}
	}
	/* Bytes appended after the last section. */
	copy = realloc(copy, len + 8);
	assert_non_null(copy);
	memcpy(copy, data, len);
	memset(copy + len, 0, 8);
	assert_int_equal(snap_parse(&f, copy, len + 8, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "after the last section"));
	free(copy);
	snap_writer_free(&w);
}

/* Rewrites the header CRC after an edit, as a writer of another version would. */
static void fix_header_crc(uint8_t *h)
{
	uint32_t crc;

	memset(h + 76, 0, 4);
	crc = snap_crc32(h, SNAP_HEADER_SIZE);
	memcpy(h + 76, &crc, 4);
}

static void test_newer_writer_refused(void **state)
{
	struct snap_writer w;
	struct snap_file f;
	const uint8_t *data;
	uint8_t *copy;
	size_t len;
	char err[256];
	uint32_t v;

	(void)state;
	sample_file(&w);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	copy = malloc(len);
	assert_non_null(copy);

	/* A newer format version. */
	memcpy(copy, data, len);
	v = SNAP_FORMAT_VERSION + 1;
	memcpy(copy + 8, &v, 4);
	fix_header_crc(copy);
	assert_int_equal(snap_parse(&f, copy, len, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "newer mvm"));

	/* A section tag this version does not know, with a valid CRC. */
	snap_writer_free(&w);
	snap_writer_init(&w, "GenuineIntel", 0, 0);
	snap_writer_add(&w, SNAP_TAG_CONFIG, 0, "{}", 2);
	snap_writer_add(&w, SNAP_TAG_LAST + 1, 0, "new", 3);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	assert_int_equal(snap_parse(&f, data, len, err, sizeof(err)), -EPROTONOSUPPORT);
	assert_non_null(strstr(err, "unknown to this mvm"));
	assert_null(f.bytes);

	/* Unknown header flags. */
	snap_writer_free(&w);
	snap_writer_init(&w, "GenuineIntel", 0, 0x80);
	assert_int_equal(snap_writer_finish(&w, &data, &len), 0);
	assert_int_equal(snap_parse(&f, data, len, err, sizeof(err)), -EPROTONOSUPPORT);
	free(copy);
	snap_writer_free(&w);
}

static void test_cpu_check(void **state)
{
	struct snap_header h = { .cpu_features = 0x5 };
	char err[256];

	(void)state;
	snprintf(h.cpu_vendor, sizeof(h.cpu_vendor), "GenuineIntel");
	assert_int_equal(snap_check_cpu(&h, "GenuineIntel", 0x7, err, sizeof(err)), 0);
	assert_int_equal(snap_check_cpu(&h, "AuthenticAMD", 0x7, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "GenuineIntel"));
	assert_int_equal(snap_check_cpu(&h, "GenuineIntel", 0x1, err, sizeof(err)), -ENOTSUP);
	assert_non_null(strstr(err, "0x4"));
}

static void test_save_and_load_file(void **state)
{
	char dir[] = "/tmp/mvm-snap-XXXXXX", path[128], err[256];
	struct snap_writer w;
	struct snap_file f;
	FILE *out;
	char *text = NULL;
	size_t tlen = 0;
	int fd;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	sample_file(&w);
	assert_int_equal(snap_writer_save(&w, path), 0);
	snap_writer_free(&w);
	assert_int_equal(snap_load(&f, path, err, sizeof(err)), 0);
	assert_int_equal(f.nr_sections, SNAP_TAG_LAST + 1);
	out = open_memstream(&text, &tlen);
	assert_non_null(out);
	snap_describe(&f, out);
	fclose(out);
	assert_non_null(strstr(text, "format version: v1"));
	assert_non_null(strstr(text, "GenuineIntel"));
	assert_non_null(strstr(text, "vcpu"));
	free(text);
	snap_file_free(&f);

	/* Missing, a directory, empty, garbage: one message each. */
	assert_int_equal(snap_load(&f, "/nonexistent/state", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_int_equal(snap_load(&f, dir, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "not a regular file"));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(snap_load(&f, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "bad magic"));
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "MVMSNAP\0abc", 11), 11);
	close(fd);
	assert_int_equal(snap_load(&f, path, err, sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "truncated"));
	unlink(path);
	rmdir(dir);
}

int run_snapshot_format_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_codec_refuses_bad_strings),
		cmocka_unit_test(test_every_section_round_trips),
		cmocka_unit_test(test_every_truncation_refused),
		cmocka_unit_test(test_every_bit_flip_refused),
		cmocka_unit_test(test_newer_writer_refused),
		cmocka_unit_test(test_cpu_check),
		cmocka_unit_test(test_save_and_load_file),
	};

	return cmocka_run_group_tests_name("snapshot format", tests, NULL, NULL);
}
