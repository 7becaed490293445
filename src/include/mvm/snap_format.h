/* SPDX-License-Identifier: MIT */
/*
 * The snapshot state file: a fixed header, then tagged, length-prefixed
 * sections, each with its CRC-32. Little-endian throughout.
 *
 *   header  magic "MVMSNAP\0", format version, header size, mvm version,
 *	     the host CPU's vendor and the CPU features the saved vCPUs
 *	     used (the restoring host needs them all), section count, CRC
 *   section tag, instance, payload length, payload CRC, payload
 *	     (padded to 8 bytes)
 *
 * A file written by this format version loads in every later one: a
 * reader accepts every version up to its own and refuses a newer one, and
 * refuses a section tag it does not know (a newer writer's) instead of
 * skipping it. The reader checks every length against the bytes there are.
 */
#ifndef MVM_SNAP_FORMAT_H
#define MVM_SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mvm/snapshot.h"

#define SNAP_MAGIC	    "MVMSNAP"
#define SNAP_FORMAT_VERSION MVM_SNAPSHOT_FORMAT_VERSION
#define SNAP_HEADER_SIZE    80
#define SNAP_SECTION_HDR    24
/* A state file holds no memory: more than this is not one of ours. */
#define SNAP_MAX_FILE	  (64u << 20)
#define SNAP_MAX_SECTIONS 4096
#define SNAP_VENDOR_SIZE  16
#define SNAP_VERSION_SIZE 16

enum snap_tag {
	SNAP_TAG_CONFIG = 1, /* the VM's configuration, as GET /vm/config's JSON */
	SNAP_TAG_MEMORY,     /* RAM's size, page size and layout {gpa, size, file offset} */
	SNAP_TAG_VM_ARCH,    /* the arch's VM state (irqchips, clock, ...) */
	SNAP_TAG_VCPU,	     /* one vCPU's arch state; instance = vCPU id */
	SNAP_TAG_DEVICE,     /* one device: name, type, its own state */
	SNAP_TAG_IRQ,	     /* the core's MSI routes */
	SNAP_TAG_PREFETCH,   /* pages touched after a restore (runs of pages) */
	SNAP_TAG_LAST = SNAP_TAG_PREFETCH,
};

const char *snap_tag_name(uint32_t tag);

/* ---- encoding and decoding of payloads ---- */

/* A growing buffer: put_* record an allocation failure and later calls do nothing. */
struct snap_buf {
	uint8_t *data;
	size_t len, cap;
	int err; /* 0 or -ENOMEM, sticky */
};

void snap_buf_init(struct snap_buf *b);
void snap_buf_free(struct snap_buf *b);
void snap_put(struct snap_buf *b, const void *p, size_t len);
void snap_put_u8(struct snap_buf *b, uint8_t v);
void snap_put_u16(struct snap_buf *b, uint16_t v);
void snap_put_u32(struct snap_buf *b, uint32_t v);
void snap_put_u64(struct snap_buf *b, uint64_t v);
/* A string: u32 length, bytes, no NUL. */
void snap_put_str(struct snap_buf *b, const char *s);
/* A blob: u32 length, bytes. */
void snap_put_blob(struct snap_buf *b, const void *p, size_t len);

/* A read cursor: get_* fail (-EBADMSG, sticky) rather than read past the end. */
struct snap_cur {
	const uint8_t *p;
	size_t len, off;
	int err;
};

void snap_cur_init(struct snap_cur *c, const void *p, size_t len);
int snap_get(struct snap_cur *c, void *p, size_t len);
uint8_t snap_get_u8(struct snap_cur *c);
uint16_t snap_get_u16(struct snap_cur *c);
uint32_t snap_get_u32(struct snap_cur *c);
uint64_t snap_get_u64(struct snap_cur *c);
/* A string into buf (NUL-terminated); longer than size - 1 or holding a NUL: an error. */
int snap_get_str(struct snap_cur *c, char *buf, size_t size);
/* A blob in place: *p points into the cursor's bytes. Its length, or 0 with c->err set. */
size_t snap_get_blob(struct snap_cur *c, const void **p);
/* Everything read, nothing left over: 0 or -EBADMSG. */
int snap_cur_end(const struct snap_cur *c);

/* ---- the file ---- */

struct snap_header {
	uint32_t format_version;
	char mvm_version[SNAP_VERSION_SIZE];
	char cpu_vendor[SNAP_VENDOR_SIZE];
	uint64_t cpu_features; /* the arch's feature bits (arch_snapshot_cpu()) */
	uint64_t created_unix; /* seconds */
	uint32_t flags;	       /* SNAP_F_* */
};

#define SNAP_F_DIFF 0x1 /* the memory file holds only the pages dirtied since the last one */

struct snap_section {
	uint32_t tag;
	uint32_t instance;
	const uint8_t *data;
	uint64_t len;
};

/* Sections being gathered for a file. */
struct snap_writer {
	struct snap_header hdr;
	struct snap_buf out; /* header placeholder, then sections */
	uint32_t nr_sections;
};

void snap_writer_init(struct snap_writer *w, const char *cpu_vendor, uint64_t cpu_features,
		      uint32_t flags);
void snap_writer_free(struct snap_writer *w);
void snap_writer_add(struct snap_writer *w, uint32_t tag, uint32_t instance, const void *data,
		     size_t len);
/* Finishes the header and CRCs; the file's bytes. 0 or -ENOMEM. */
int snap_writer_finish(struct snap_writer *w, const uint8_t **data, size_t *len);
/*
 * Writes the file at path (created 0600, replaced atomically through a
 * temporary beside it). 0 or -errno, with a message.
 */
int snap_writer_save(struct snap_writer *w, const char *path);

/* A parsed file: sections point into the bytes, which it owns. */
struct snap_file {
	struct snap_header hdr;
	uint8_t *bytes;
	size_t size;
	uint32_t nr_sections;
	struct snap_section *sections;
};

/*
 * Parses len bytes (copied): every check of the format. 0, or -errno with
 * why in err (truncated, bad magic, newer version, unknown tag, CRC).
 */
int snap_parse(struct snap_file *f, const void *data, size_t len, char *err, size_t errlen);
/* Reads and parses the file at path. 0 or -errno with err. */
int snap_load(struct snap_file *f, const char *path, char *err, size_t errlen);
void snap_file_free(struct snap_file *f);
/* The n-th section with tag (n from 0), or NULL. */
const struct snap_section *snap_find(const struct snap_file *f, uint32_t tag, unsigned int n);
/*
 * The CPU check: the saving host's vendor must be this one's, and every
 * feature bit it recorded must be here too. 0, or -ENOTSUP with err.
 */
int snap_check_cpu(const struct snap_header *h, const char *vendor, uint64_t features, char *err,
		   size_t errlen);
/* Prints the header and the sections (mvm snapshot info). */
void snap_describe(const struct snap_file *f, FILE *out);

uint32_t snap_crc32(const void *data, size_t len);

#endif
