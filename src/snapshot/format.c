// SPDX-License-Identifier: MIT
/* The snapshot state file: header, sections, CRCs (see mvm/snap_format.h). */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/version.h"

/* Header offsets. */
#define H_MAGIC	   0
#define H_VERSION  8
#define H_HDR_SIZE 12
#define H_MVM_VER  16
#define H_VENDOR   32
#define H_FEATURES 48
#define H_CREATED  56
#define H_FLAGS	   64
#define H_NR_SECT  68
#define H_RESERVED 72
#define H_CRC	   76
#define PAD8(n)	   (((n) + 7) & ~(size_t)7)

/* CRC-32 (IEEE, reflected) continued over more bytes; start with 0. */
static uint32_t crc32_update(uint32_t crc, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t i;
	int k;

	/* State files are small: a bitwise loop is enough. */
	crc = ~crc;
	for (i = 0; i < len; i++) {
		crc ^= p[i];
		for (k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0xedb88320 & -(crc & 1));
	}
	return ~crc;
}

uint32_t snap_crc32(const void *data, size_t len)
{
	return crc32_update(0, data, len);
}

/* A section's CRC covers its tag, instance and length, then its payload. */
static uint32_t section_crc(const uint8_t *hdr, const void *data, size_t len)
{
	return crc32_update(crc32_update(0, hdr, 16), data, len);
}

static const char *const tag_names[] = {
	[SNAP_TAG_CONFIG] = "config",	  [SNAP_TAG_MEMORY] = "memory",
	[SNAP_TAG_VM_ARCH] = "vm-arch",	  [SNAP_TAG_VCPU] = "vcpu",
	[SNAP_TAG_DEVICE] = "device",	  [SNAP_TAG_IRQ] = "irq-routes",
	[SNAP_TAG_PREFETCH] = "prefetch",
};

const char *snap_tag_name(uint32_t tag)
{
	return tag >= 1 && tag <= SNAP_TAG_LAST ? tag_names[tag] : "unknown";
}

static void put_at32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, sizeof(v));
}

static void put_at64(uint8_t *p, uint64_t v)
{
	v = htole64(v);
	memcpy(p, &v, sizeof(v));
}

static uint32_t get_at32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

static uint64_t get_at64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

/* ---- writing ---- */

void snap_writer_init(struct snap_writer *w, const char *cpu_vendor, uint64_t cpu_features,
		      uint32_t flags)
{
	static const uint8_t zero[SNAP_HEADER_SIZE];

	memset(w, 0, sizeof(*w));
	w->hdr.format_version = SNAP_FORMAT_VERSION;
	snprintf(w->hdr.mvm_version, sizeof(w->hdr.mvm_version), "%s", MVM_VERSION);
	snprintf(w->hdr.cpu_vendor, sizeof(w->hdr.cpu_vendor), "%s", cpu_vendor ?: "");
	w->hdr.cpu_features = cpu_features;
	w->hdr.created_unix = (uint64_t)time(NULL);
	w->hdr.flags = flags;
	snap_buf_init(&w->out);
	snap_put(&w->out, zero, sizeof(zero));
}

void snap_writer_free(struct snap_writer *w)
{
	snap_buf_free(&w->out);
}

void snap_writer_add(struct snap_writer *w, uint32_t tag, uint32_t instance, const void *data,
		     size_t len)
{
	static const uint8_t pad[8];
	uint8_t hdr[16];

	if (w->nr_sections >= SNAP_MAX_SECTIONS) {
		w->out.err = w->out.err ?: -E2BIG;
		return;
	}
	put_at32(hdr, tag);
	put_at32(hdr + 4, instance);
	put_at64(hdr + 8, len);
	snap_put(&w->out, hdr, sizeof(hdr));
	snap_put_u32(&w->out, section_crc(hdr, data, len));
	snap_put_u32(&w->out, 0);
	snap_put(&w->out, data, len);
	snap_put(&w->out, pad, PAD8(len) - len);
	w->nr_sections++;
}

int snap_writer_finish(struct snap_writer *w, const uint8_t **data, size_t *len)
{
	uint8_t *h;

	if (w->out.err)
		return w->out.err;
	if (w->out.len > SNAP_MAX_FILE)
		return -E2BIG;
	h = w->out.data;
	memcpy(h + H_MAGIC, SNAP_MAGIC, sizeof(SNAP_MAGIC));
	put_at32(h + H_VERSION, w->hdr.format_version);
	put_at32(h + H_HDR_SIZE, SNAP_HEADER_SIZE);
	memcpy(h + H_MVM_VER, w->hdr.mvm_version, SNAP_VERSION_SIZE);
	memcpy(h + H_VENDOR, w->hdr.cpu_vendor, SNAP_VENDOR_SIZE);
	put_at64(h + H_FEATURES, w->hdr.cpu_features);
	put_at64(h + H_CREATED, w->hdr.created_unix);
	put_at32(h + H_FLAGS, w->hdr.flags);
	put_at32(h + H_NR_SECT, w->nr_sections);
	put_at32(h + H_RESERVED, 0);
	put_at32(h + H_CRC, 0);
	put_at32(h + H_CRC, snap_crc32(h, SNAP_HEADER_SIZE));
	*data = w->out.data;
	*len = w->out.len;
	return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int snap_writer_save(struct snap_writer *w, const char *path)
{
	char tmp[4096];
	const uint8_t *data;
	size_t len;
	int fd, err;

	err = snap_writer_finish(w, &data, &len);
	if (err) {
		pr_err("snapshot state: %s", strerror(-err));
		return err;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.tmp-%d", path, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mvm_open_mode(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
	if (fd < 0) {
		err = -errno;
		pr_err("snapshot state file '%s': %s", tmp, strerror(-err));
		return err;
	}
	err = write_all(fd, data, len);
	if (!err && fsync(fd))
		err = -errno;
	if (close(fd) && !err)
		err = -errno;
	if (!err && rename(tmp, path))
		err = -errno;
	if (err) {
		pr_err("writing snapshot state file '%s': %s", path, strerror(-err));
		unlink(tmp);
	}
	return err;
}

/* ---- reading ---- */

static int parse_fail(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int parse_fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return code;
}

static int parse_header(struct snap_file *f, char *err, size_t errlen)
{
	const uint8_t *h = f->bytes;
	uint32_t crc, hsize;
	uint8_t copy[SNAP_HEADER_SIZE];

	if (f->size < sizeof(SNAP_MAGIC) || memcmp(h, SNAP_MAGIC, sizeof(SNAP_MAGIC)))
		return parse_fail(err, errlen, -EINVAL,
				  "not an mvm snapshot state file (bad magic)");
	if (f->size < SNAP_HEADER_SIZE)
		return parse_fail(err, errlen, -EBADMSG,
				  "truncated: %zu bytes, the header alone is %d", f->size,
				  SNAP_HEADER_SIZE);
	f->hdr.format_version = get_at32(h + H_VERSION);
	if (f->hdr.format_version == 0 || f->hdr.format_version > SNAP_FORMAT_VERSION)
		return parse_fail(err, errlen, -EPROTONOSUPPORT,
				  "snapshot format version %u: this mvm reads versions 1 to %d "
				  "(written by a newer mvm?)",
				  f->hdr.format_version, SNAP_FORMAT_VERSION);
	hsize = get_at32(h + H_HDR_SIZE);
	if (hsize != SNAP_HEADER_SIZE)
		return parse_fail(err, errlen, -EINVAL, "header size %u, expected %d", hsize,
				  SNAP_HEADER_SIZE);
	memcpy(copy, h, sizeof(copy));
	put_at32(copy + H_CRC, 0);
	crc = get_at32(h + H_CRC);
	if (snap_crc32(copy, sizeof(copy)) != crc)
		return parse_fail(err, errlen, -EBADMSG,
				  "header CRC mismatch: the file is corrupt");
	memcpy(f->hdr.mvm_version, h + H_MVM_VER, SNAP_VERSION_SIZE);
	memcpy(f->hdr.cpu_vendor, h + H_VENDOR, SNAP_VENDOR_SIZE);
	if (!memchr(f->hdr.mvm_version, 0, SNAP_VERSION_SIZE) ||
	    !memchr(f->hdr.cpu_vendor, 0, SNAP_VENDOR_SIZE))
		return parse_fail(err, errlen, -EBADMSG, "header strings are not terminated");
	f->hdr.cpu_features = get_at64(h + H_FEATURES);
	f->hdr.created_unix = get_at64(h + H_CREATED);
	f->hdr.flags = get_at32(h + H_FLAGS);
	if (f->hdr.flags & ~(uint32_t)SNAP_F_DIFF)
		return parse_fail(err, errlen, -EPROTONOSUPPORT,
				  "header flags 0x%x unknown (written by a newer mvm?)",
				  f->hdr.flags);
	f->nr_sections = get_at32(h + H_NR_SECT);
	if (f->nr_sections > SNAP_MAX_SECTIONS)
		return parse_fail(err, errlen, -EBADMSG, "%u sections: at most %d", f->nr_sections,
				  SNAP_MAX_SECTIONS);
	return 0;
}

static int parse_sections(struct snap_file *f, char *err, size_t errlen)
{
	size_t off = SNAP_HEADER_SIZE, pad;
	uint32_t i;

	f->sections = mvm_calloc(f->nr_sections ?: 1, sizeof(*f->sections));
	if (!f->sections)
		return parse_fail(err, errlen, -ENOMEM, "out of memory");
	for (i = 0; i < f->nr_sections; i++) {
		struct snap_section *s = &f->sections[i];
		const uint8_t *p = f->bytes + off;

		if (f->size - off < SNAP_SECTION_HDR)
			return parse_fail(err, errlen, -EBADMSG,
					  "truncated: section %u of %u is missing", i,
					  f->nr_sections);
		s->tag = get_at32(p);
		s->instance = get_at32(p + 4);
		s->len = get_at64(p + 8);
		if (s->tag < 1 || s->tag > SNAP_TAG_LAST)
			return parse_fail(err, errlen, -EPROTONOSUPPORT,
					  "section %u has tag %u, unknown to this mvm (%s): "
					  "written by a newer mvm?",
					  i, s->tag, MVM_VERSION);
		if (get_at32(p + 20))
			return parse_fail(err, errlen, -EBADMSG,
					  "section %u (%s): reserved field not zero", i,
					  snap_tag_name(s->tag));
		off += SNAP_SECTION_HDR;
		if (s->len > f->size - off || PAD8(s->len) > f->size - off)
			return parse_fail(err, errlen, -EBADMSG,
					  "truncated: section %u (%s) says %llu bytes, %zu remain",
					  i, snap_tag_name(s->tag), (unsigned long long)s->len,
					  f->size - off);
		s->data = f->bytes + off;
		if (section_crc(p, s->data, s->len) != get_at32(p + 16))
			return parse_fail(err, errlen, -EBADMSG,
					  "section %u (%s): CRC mismatch, the file is corrupt", i,
					  snap_tag_name(s->tag));
		for (pad = s->len; pad < PAD8(s->len); pad++)
			if (s->data[pad])
				return parse_fail(err, errlen, -EBADMSG,
						  "section %u (%s): padding not zero", i,
						  snap_tag_name(s->tag));
		off += PAD8(s->len);
	}
	if (off != f->size)
		return parse_fail(err, errlen, -EBADMSG, "%zu bytes after the last section",
				  f->size - off);
	return 0;
}

int snap_parse(struct snap_file *f, const void *data, size_t len, char *err, size_t errlen)
{
	int r;

	memset(f, 0, sizeof(*f));
	if (len > SNAP_MAX_FILE)
		return parse_fail(err, errlen, -EFBIG, "%zu bytes: a state file has at most %u",
				  len, SNAP_MAX_FILE);
	f->bytes = mvm_zalloc(len ?: 1);
	if (!f->bytes)
		return parse_fail(err, errlen, -ENOMEM, "out of memory");
	memcpy(f->bytes, data, len);
	f->size = len;
	r = parse_header(f, err, errlen);
	if (!r)
		r = parse_sections(f, err, errlen);
	if (r)
		snap_file_free(f);
	return r;
}

int snap_load(struct snap_file *f, const char *path, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	int fd, r;

	memset(f, 0, sizeof(*f));
	fd = mvm_open(path, O_RDONLY | O_NONBLOCK);
	if (fd < 0)
		return parse_fail(err, errlen, -errno, "cannot open '%s': %s", path,
				  strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return parse_fail(err, errlen, -EINVAL, "'%s' is not a regular file", path);
	}
	if ((uint64_t)st.st_size > SNAP_MAX_FILE) {
		close(fd);
		return parse_fail(err, errlen, -EFBIG,
				  "'%s': %lld bytes, a state file has at most %u", path,
				  (long long)st.st_size, SNAP_MAX_FILE);
	}
	buf = mvm_zalloc((size_t)st.st_size ?: 1);
	if (!buf) {
		close(fd);
		return parse_fail(err, errlen, -ENOMEM, "out of memory");
	}
	if (st.st_size && mvm_pread_full(fd, buf, (size_t)st.st_size, 0) < 0) {
		r = -errno;
		close(fd);
		free(buf);
		return parse_fail(err, errlen, r, "reading '%s': %s", path, strerror(-r));
	}
	close(fd);
	r = snap_parse(f, buf, (size_t)st.st_size, err, errlen);
	free(buf);
	return r;
}

void snap_file_free(struct snap_file *f)
{
	free(f->bytes);
	free(f->sections);
	memset(f, 0, sizeof(*f));
}

const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, unsigned int n)
{
	uint32_t i;

	for (i = 0; i < f->nr_sections; i++)
		if (f->sections[i].tag == tag && n-- == 0)
			return &f->sections[i];
	return NULL;
}

int snap_check_cpu(const struct snap_header *h, const char *vendor, uint64_t features, char *err,
		   size_t errlen)
{
	uint64_t missing = h->cpu_features & ~features;

	if (strcmp(h->cpu_vendor, vendor))
		return parse_fail(err, errlen, -ENOTSUP,
				  "the snapshot was taken on a %s CPU, this host's is %s",
				  h->cpu_vendor[0] ? h->cpu_vendor : "(unnamed)", vendor);
	if (missing)
		return parse_fail(err, errlen, -ENOTSUP,
				  "the snapshot's vCPUs use CPU features this host lacks "
				  "(feature bits 0x%llx)",
				  (unsigned long long)missing);
	return 0;
}

void snap_describe(const struct snap_file *f, FILE *out)
{
	time_t t = (time_t)f->hdr.created_unix;
	struct tm tm;
	char when[64] = "?";
	uint32_t i;

	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(out, "format version: v%u\n", f->hdr.format_version);
	fprintf(out, "written by:     mvm %s\n", f->hdr.mvm_version);
	fprintf(out, "created:        %s\n", when);
	fprintf(out, "cpu vendor:     %s\n", f->hdr.cpu_vendor);
	fprintf(out, "cpu features:   0x%016llx\n", (unsigned long long)f->hdr.cpu_features);
	fprintf(out, "type:           %s\n", f->hdr.flags & SNAP_F_DIFF ? "Diff" : "Full");
	fprintf(out, "sections:       %u\n", f->nr_sections);
	for (i = 0; i < f->nr_sections; i++) {
		const struct snap_section *s = &f->sections[i];

		fprintf(out, "  %-10s %4u  %8llu bytes", snap_tag_name(s->tag), s->instance,
			(unsigned long long)s->len);
		if (s->tag == SNAP_TAG_DEVICE) {
			struct snap_cur c;
			char name[64], type[64];

			snap_cur_init(&c, s->data, s->len);
			if (!snap_get_str(&c, name, sizeof(name)) &&
			    !snap_get_str(&c, type, sizeof(type)))
				fprintf(out, "  %s (%s)", name, type);
		}
		fputc('\n', out);
	}
}
