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

#define JC_STRING_MAX 4095

static const char *jc_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
		return "an integer";
	case JSON_REAL:
		return "a number with a fraction";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

static void jc_path(char *buf, size_t len, const char *prefix, const char *name)
{
	if (prefix && *prefix)
		snprintf(buf, len, "%s.%s", prefix, name);
	else
		snprintf(buf, len, "%s", name);
}

static int jc_check_string(const json_t *v, const struct jc_field *f, const char *path, char *msg,
			   size_t len)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	const char *const *e;

	if (strlen(s) != n) {
		snprintf(msg, len, "field '%s': must not contain a NUL character", path);
		return -EINVAL;
	}
	if (n > JC_STRING_MAX) {
		snprintf(msg, len, "field '%s': longer than %d bytes", path, JC_STRING_MAX);
		return -EINVAL;
	}
	if (!f->enums)
		return 0;
	for (e = f->enums; *e; e++)
		if (f->nocase ? !strcasecmp(*e, s) : !strcmp(*e, s))
			return 0;
	{
		char allowed[256] = "";
		size_t off = 0;

		for (e = f->enums; *e && off < sizeof(allowed); e++)
			off += (size_t)snprintf(allowed + off, sizeof(allowed) - off, "%s\"%s\"",
						e == f->enums ? "" : ", ", *e);
		snprintf(msg, len, "field '%s': \"%.64s\" is not one of %s", path, s, allowed);
	}
	return -EINVAL;
}

/* Recursion follows the field tables (nested objects), not the input's depth. */
static int jc_check_fields(const json_t *obj, const struct jc_field *fields, const char *prefix,
			   char *msg, size_t len);

static int jc_check_value(const json_t *v, const struct jc_field *f, const char *path, char *msg,
			  size_t len)
{
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
			snprintf(msg, len, "field '%s': %lld is out of range: %lld to %lld", path,
				 (long long)json_integer_value(v), f->min, f->max);
			return -EINVAL;
		}
		return 0;
	case JC_OBJECT:
		if (!json_is_object(v))
			break;
		return jc_check_fields(v, f->sub, path, msg, len);
	case JC_STRMAP:
		if (!json_is_object(v))
			break;
		json_object_foreach ((json_t *)v, key, m) {
			char sub[128];
			struct jc_field sf = { .name = key, .type = JC_STRING };

			jc_path(sub, sizeof(sub), path, key);
			if (!json_is_string(m)) {
				snprintf(msg, len, "field '%s': must be a string, got %s", sub,
					 jc_type_name(m));
				return -EINVAL;
			}
			if (jc_check_string(m, &sf, sub, msg, len))
				return -EINVAL;
		}
		return 0;
	}
	snprintf(msg, len, "field '%s': must be %s, got %s", path,
		 f->type == JC_STRING ? "a string"
		 : f->type == JC_BOOL ? "a boolean"
		 : f->type == JC_INT  ? "an integer"
				      : "an object",
		 jc_type_name(v));
	return -EINVAL;
}

static int jc_check_fields(const json_t *obj, const struct jc_field *fields, const char *prefix,
			   char *msg, size_t len)
{
	const struct jc_field *f;
	const char *key;
	char path[128];
	json_t *v;

	if (!json_is_object(obj)) {
		if (prefix && *prefix)
			snprintf(msg, len, "field '%s': must be an object, got %s", prefix,
				 jc_type_name(obj));
		else
			snprintf(msg, len, "the body must be a JSON object, got %s",
				 jc_type_name(obj));
		return -EINVAL;
	}
	json_object_foreach ((json_t *)obj, key, v) {
		for (f = fields; f->name; f++)
			if (!strcmp(f->name, key))
				break;
		if (!f->name) {
			jc_path(path, sizeof(path), prefix, key);
			snprintf(msg, len, "unknown field '%.64s'%s%s", path,
				 prefix && *prefix ? " in " : "", prefix ? prefix : "");
			return -EINVAL;
		}
	}
	for (f = fields; f->name; f++) {
		jc_path(path, sizeof(path), prefix, f->name);
		v = json_object_get(obj, f->name);
		if (!v || json_is_null(v)) {
			if (f->required) {
				snprintf(msg, len, "missing required field '%s'", path);
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
	json_error_t e;
	json_t *j;

	if (!body || len == 0) {
		snprintf(msg, msglen, "the request needs a JSON body");
		return NULL;
	}
	/* Duplicate members are refused, as serde refuses them for structs. */
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		snprintf(msg, msglen, "the body is not valid JSON: %s (line %d, column %d)", e.text,
			 e.line, e.column);
		return NULL;
	}
	if (!json_is_object(j)) {
		snprintf(msg, msglen, "the body must be a JSON object, got %s", jc_type_name(j));
		json_decref(j);
		return NULL;
	}
	return j;
}
