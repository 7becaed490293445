// SPDX-License-Identifier: MIT
/*
 * JSON validation for API bodies: a table of fields per object (the spec's
 * schema, restated), checked before a handler reads anything. Messages name
 * the field and say why, as a client needs to fix its request.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "messages.h"

#define JC_STRING_MAX 4095

/*
 * The request body being checked, for the " at line L column C" serde_json
 * adds to its messages (clients and Firecracker's tests match on them).
 * Per thread: requests are checked on the API thread, config files on main.
 */
static __thread const char *jc_src;
static __thread size_t jc_src_len;

void jc_source(const char *text, size_t len)
{
	jc_src = text;
	jc_src_len = text ? len : 0;
}

/* Line and column (1-based) of the byte at off, as serde_json counts them. */
static void jc_line_col(size_t off, int *line, int *col)
{
	size_t i;

	*line = 1;
	*col = 0;
	for (i = 0; i <= off && i < jc_src_len; i++) {
		if (jc_src[i] == '\n') {
			(*line)++;
			*col = 0;
		} else {
			(*col)++;
		}
	}
}

/* Offset of the closing quote of the member name `key` in the source, or -1. */
static long jc_find_key(const char *key)
{
	size_t k = strlen(key), i;

	for (i = 0; k && i + k + 2 <= jc_src_len; i++) {
		size_t j = i + k + 2;

		if (jc_src[i] != '"' || memcmp(jc_src + i + 1, key, k) || jc_src[i + k + 1] != '"')
			continue;
		while (j < jc_src_len && strchr(" \t\r\n", jc_src[j]))
			j++;
		if (j < jc_src_len && jc_src[j] == ':')
			return (long)(i + k + 1);
	}
	return -1;
}

/* Offset of the last byte of the value that follows the key closing at off. */
static long jc_value_end(long off)
{
	size_t i = (size_t)off + 1;
	int depth = 0;
	bool str = false;

	while (i < jc_src_len && jc_src[i] != ':')
		i++;
	for (i++; i < jc_src_len && strchr(" \t\r\n", jc_src[i]); i++)
		;
	for (; i < jc_src_len; i++) {
		char c = jc_src[i];

		if (str) {
			if (c == '\\')
				i++;
			else if (c == '"' && (str = false, depth == 0))
				return (long)i;
			continue;
		}
		if (c == '"')
			str = true;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && depth > 0 && --depth == 0)
			return (long)i;
		else if (depth == 0 && strchr(",}] \t\r\n", c))
			return (long)i - 1;
	}
	return -1;
}

enum jc_where { JC_AT_END, JC_AT_KEY, JC_AT_VALUE };

/*
 * msg = Firecracker's frame around the serde-style text what, with the
 * position where serde_json would have stopped (when the source is known).
 */
static void jc_fault(char *msg, size_t len, enum jc_where where, const char *key, const char *what)
{
	const char *leaf = key ? strrchr(key, '.') : NULL;
	char pos[48] = "";
	long off = -1;
	int line, col;

	leaf = leaf ? leaf + 1 : key;
	if (jc_src && where == JC_AT_END) {
		for (off = (long)jc_src_len - 1; off >= 0 && jc_src[off] != '}'; off--)
			;
	} else if (jc_src && leaf) {
		off = jc_find_key(leaf);
		if (off >= 0 && where == JC_AT_VALUE)
			off = jc_value_end(off);
	}
	if (off >= 0) {
		jc_line_col((size_t)off, &line, &col);
		snprintf(pos, sizeof(pos), MSG_AT_POSITION, line, col);
	}
	snprintf(msg, len, MSG_DESERIALIZE, what, pos);
}

/* serde's words for a value: `string "x"`, `integer `5``, `map`, ... */
static void jc_describe(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		snprintf(buf, len, "map");
		return;
	case JSON_ARRAY:
		snprintf(buf, len, "sequence");
		return;
	case JSON_STRING:
		snprintf(buf, len, "string \"%.64s\"", json_string_value(v));
		return;
	case JSON_INTEGER:
		snprintf(buf, len, "integer `%lld`", (long long)json_integer_value(v));
		return;
	case JSON_REAL:
		snprintf(buf, len, "floating point `%g`", json_real_value(v));
		return;
	case JSON_TRUE:
	case JSON_FALSE:
		snprintf(buf, len, "boolean `%s`", json_is_true(v) ? "true" : "false");
		return;
	case JSON_NULL:
		snprintf(buf, len, "null");
		return;
	}
	snprintf(buf, len, "?");
}

/* serde's list of what it wanted: "`a`", "`a` or `b`", "one of `a`, `b`, `c`". */
static void jc_expected(char *buf, size_t len, const char *const *names, size_t stride,
			size_t count)
{
	size_t i, off = 0;

#define NAME(i) (*(const char *const *)((const char *)names + (i)*stride))
	if (count == 0) {
		snprintf(buf, len, "nothing");
		return;
	}
	if (count == 2) {
		snprintf(buf, len, "`%s` or `%s`", NAME(0), NAME(1));
		return;
	}
	if (count > 2)
		off = (size_t)snprintf(buf, len, "one of ");
	for (i = 0; i < count && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s`%s`", i ? ", " : "", NAME(i));
#undef NAME
}

static const char *jc_want(const struct jc_field *f)
{
	switch (f->type) {
	case JC_STRING:
		return "a string";
	case JC_BOOL:
		return "a boolean";
	case JC_INT:
		return f->min >= 0 ? "an unsigned integer" : "an integer";
	case JC_OBJECT:
	case JC_STRMAP:
		return "a map";
	case JC_OBJARRAY:
		return "a sequence";
	}
	return "?";
}

static int jc_check_string(const json_t *v, const struct jc_field *f, const char *path, char *msg,
			   size_t len)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v), count = 0;
	const char *const *e;
	char what[512], expected[400];

	if (strlen(s) != n) {
		jc_fault(msg, len, JC_AT_VALUE, path, MSG_NUL_IN_STRING);
		return -EINVAL;
	}
	if (n > JC_STRING_MAX) {
		snprintf(what, sizeof(what), MSG_STRING_TOO_LONG, n, JC_STRING_MAX);
		jc_fault(msg, len, JC_AT_VALUE, path, what);
		return -EINVAL;
	}
	if (!f->enums)
		return 0;
	for (e = f->enums; *e; e++, count++)
		if (f->nocase ? !strcasecmp(*e, s) : !strcmp(*e, s))
			return 0;
	jc_expected(expected, sizeof(expected), f->enums, sizeof(*f->enums), count);
	snprintf(what, sizeof(what), MSG_UNKNOWN_VARIANT, s, expected);
	jc_fault(msg, len, JC_AT_VALUE, path, what);
	return -EINVAL;
}

/* Recursion follows the field tables (nested objects), not the input's depth. */
static int jc_check_fields(const json_t *obj, const struct jc_field *fields, const char *prefix,
			   char *msg, size_t len);

static int jc_check_value(const json_t *v, const struct jc_field *f, const char *path, char *msg,
			  size_t len)
{
	char what[512], got[96], want[96];
	const char *key;
	json_t *m;

	switch (f->type) {
	case JC_STRING:
		if (!json_is_string(v))
			break;
		return jc_check_string(v, f, path, msg, len);
	case JC_BOOL:
		if (!json_is_boolean(v))
			break;
		return 0;
	case JC_INT:
		if (!json_is_integer(v))
			break;
		if (json_integer_value(v) < f->min || json_integer_value(v) > f->max) {
			snprintf(want, sizeof(want), "an integer from %lld to %lld", f->min,
				 f->max);
			snprintf(what, sizeof(what), MSG_INVALID_VALUE,
				 (long long)json_integer_value(v), want);
			jc_fault(msg, len, JC_AT_VALUE, path, what);
			return -EINVAL;
		}
		return 0;
	case JC_OBJECT:
		if (!json_is_object(v))
			break;
		return jc_check_fields(v, f->sub, path, msg, len);
	case JC_OBJARRAY: {
		char item[160];
		size_t i;

		if (!json_is_array(v))
			break;
		json_array_foreach ((json_t *)v, i, m) {
			snprintf(item, sizeof(item), "%s[%zu]", path, i);
			if (jc_check_fields(m, f->sub, item, msg, len))
				return -EINVAL;
		}
		return 0;
	}
	case JC_STRMAP:
		if (!json_is_object(v))
			break;
		json_object_foreach ((json_t *)v, key, m) {
			struct jc_field sf = { .name = key, .type = JC_STRING };

			if (!json_is_string(m)) {
				jc_describe(m, got, sizeof(got));
				snprintf(what, sizeof(what), MSG_INVALID_TYPE, got, "a string");
				jc_fault(msg, len, JC_AT_VALUE, key, what);
				return -EINVAL;
			}
			if (jc_check_string(m, &sf, key, msg, len))
				return -EINVAL;
		}
		return 0;
	}
	jc_describe(v, got, sizeof(got));
	snprintf(what, sizeof(what), MSG_INVALID_TYPE, got, jc_want(f));
	jc_fault(msg, len, JC_AT_VALUE, path, what);
	return -EINVAL;
}

static void jc_path(char *buf, size_t len, const char *prefix, const char *name)
{
	if (prefix && *prefix)
		snprintf(buf, len, "%s.%s", prefix, name);
	else
		snprintf(buf, len, "%s", name);
}

static int jc_check_fields(const json_t *obj, const struct jc_field *fields, const char *prefix,
			   char *msg, size_t len)
{
	const struct jc_field *f;
	char path[128], what[512], expected[400], got[96];
	const char *key;
	json_t *v;

	if (!json_is_object(obj)) {
		jc_describe(obj, got, sizeof(got));
		snprintf(what, sizeof(what), MSG_INVALID_TYPE, got, "a map");
		jc_fault(msg, len, JC_AT_VALUE, prefix && *prefix ? prefix : NULL, what);
		return -EINVAL;
	}
	json_object_foreach ((json_t *)obj, key, v) {
		for (f = fields; f->name; f++)
			if (!strcmp(f->name, key))
				break;
		if (!f->name) {
			jc_expected(expected, sizeof(expected), &fields->name, sizeof(*fields),
				    (size_t)(f - fields));
			snprintf(what, sizeof(what), MSG_UNKNOWN_FIELD, key, expected);
			jc_fault(msg, len, JC_AT_KEY, key, what);
			return -EINVAL;
		}
	}
	for (f = fields; f->name; f++) {
		jc_path(path, sizeof(path), prefix, f->name);
		v = json_object_get(obj, f->name);
		if (!v || json_is_null(v)) {
			if (f->required) {
				snprintf(what, sizeof(what), MSG_MISSING_FIELD, f->name);
				/* A nested object's end is not known: no position. */
				if (prefix && *prefix)
					snprintf(msg, len, MSG_DESERIALIZE, what, "");
				else
					jc_fault(msg, len, JC_AT_END, NULL, what);
				return -EINVAL;
			}
			continue;
		}
		if (jc_check_value(v, f, path, msg, len))
			return -EINVAL;
	}
	return 0;
}

int jc_check(const json_t *obj, const struct jc_field *fields, char *msg, size_t len)
{
	return jc_check_fields(obj, fields, "", msg, len);
}

const char *jc_str(const json_t *obj, const char *name)
{
	return json_string_value(json_object_get(obj, name));
}

bool jc_bool(const json_t *obj, const char *name, bool def)
{
	json_t *v = json_object_get(obj, name);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

long long jc_int(const json_t *obj, const char *name, long long def)
{
	json_t *v = json_object_get(obj, name);

	return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

json_t *jc_parse_object(const char *body, size_t len, char *msg, size_t msglen)
{
	char what[256], got[96];
	json_error_t e;
	json_t *j;

	/* Duplicate members are refused, as serde refuses them for structs. */
	j = json_loadb(body ? body : "", len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		snprintf(what, sizeof(what), MSG_JSON_SYNTAX, e.text, e.line, e.column);
		snprintf(msg, msglen, MSG_DESERIALIZE, what, "");
		return NULL;
	}
	if (!json_is_object(j)) {
		jc_describe(j, got, sizeof(got));
		snprintf(what, sizeof(what), MSG_INVALID_TYPE, got, "a map");
		snprintf(msg, msglen, MSG_DESERIALIZE, what, "");
		json_decref(j);
		return NULL;
	}
	return j;
}
