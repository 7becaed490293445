// SPDX-License-Identifier: MIT
/* Little-endian encoding of snapshot payloads, and bounds-checked decoding. */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/snap_format.h"
#include "mvm/sys.h"

void snap_buf_init(struct snap_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void snap_buf_free(struct snap_buf *b)
{
	free(b->data);
	snap_buf_init(b);
}

static bool buf_reserve(struct snap_buf *b, size_t len)
{
	size_t cap;
	uint8_t *p;

	if (b->err)
		return false;
	if (len <= b->cap - b->len)
		return true;
	if (len > SIZE_MAX / 2 - b->len) {
		b->err = -ENOMEM;
		return false;
	}
	cap = b->cap ? b->cap : 256;
	while (cap - b->len < len)
		cap *= 2;
	p = mvm_reallocarray(b->data, cap, 1);
	if (!p) {
		b->err = -ENOMEM;
		return false;
	}
	b->data = p;
	b->cap = cap;
	return true;
}

void snap_put(struct snap_buf *b, const void *p, size_t len)
{
	if (!len || !buf_reserve(b, len))
		return;
	memcpy(b->data + b->len, p, len);
	b->len += len;
}

void snap_put_u8(struct snap_buf *b, uint8_t v)
{
	snap_put(b, &v, 1);
}

void snap_put_u16(struct snap_buf *b, uint16_t v)
{
	v = htole16(v);
	snap_put(b, &v, sizeof(v));
}

void snap_put_u32(struct snap_buf *b, uint32_t v)
{
	v = htole32(v);
	snap_put(b, &v, sizeof(v));
}

void snap_put_u64(struct snap_buf *b, uint64_t v)
{
	v = htole64(v);
	snap_put(b, &v, sizeof(v));
}

void snap_put_blob(struct snap_buf *b, const void *p, size_t len)
{
	if (len > UINT32_MAX) {
		b->err = b->err ?: -E2BIG;
		return;
	}
	snap_put_u32(b, (uint32_t)len);
	snap_put(b, p, len);
}

void snap_put_str(struct snap_buf *b, const char *s)
{
	snap_put_blob(b, s, strlen(s));
}

void snap_cur_init(struct snap_cur *c, const void *p, size_t len)
{
	c->p = p;
	c->len = len;
	c->off = 0;
	c->err = 0;
}

int snap_get(struct snap_cur *c, void *p, size_t len)
{
	if (c->err || len > c->len - c->off) {
		c->err = -EBADMSG;
		memset(p, 0, len);
		return c->err;
	}
	memcpy(p, c->p + c->off, len);
	c->off += len;
	return 0;
}

uint8_t snap_get_u8(struct snap_cur *c)
{
	uint8_t v;

	snap_get(c, &v, sizeof(v));
	return v;
}

uint16_t snap_get_u16(struct snap_cur *c)
{
	uint16_t v;

	snap_get(c, &v, sizeof(v));
	return le16toh(v);
}

uint32_t snap_get_u32(struct snap_cur *c)
{
	uint32_t v;

	snap_get(c, &v, sizeof(v));
	return le32toh(v);
}

uint64_t snap_get_u64(struct snap_cur *c)
{
	uint64_t v;

	snap_get(c, &v, sizeof(v));
	return le64toh(v);
}

size_t snap_get_blob(struct snap_cur *c, const void **p)
{
	uint32_t len = snap_get_u32(c);

	*p = NULL;
	if (c->err || len > c->len - c->off) {
		c->err = -EBADMSG;
		return 0;
	}
	*p = c->p + c->off;
	c->off += len;
	return len;
}

int snap_get_str(struct snap_cur *c, char *buf, size_t size)
{
	const void *p;
	size_t len = snap_get_blob(c, &p);

	if (!c->err && (len >= size || memchr(p, 0, len)))
		c->err = -EBADMSG;
	if (c->err) {
		if (size)
			buf[0] = '\0';
		return c->err;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	return 0;
}

int snap_cur_end(const struct snap_cur *c)
{
	return c->err ? c->err : c->off == c->len ? 0 : -EBADMSG;
}
