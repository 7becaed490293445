// SPDX-License-Identifier: MIT
/*
 * The registry of device types and their option tables (mvm/devtype.h):
 * parsing and checking option values, the configuration's instances, and
 * the --help text. Knows no device by name.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "mvm/compiler.h"
#include "mvm/config.h"
#include "mvm/devtype.h"

/* The linker's bounds of the section; weak: a program may link no type at all. */
extern const struct mvm_device_type *__start_mvm_devtype_section[] __attribute__((weak));
extern const struct mvm_device_type *__stop_mvm_devtype_section[] __attribute__((weak));

#define MVM_MAX_TYPES 64

static const struct mvm_device_type *sorted[MVM_MAX_TYPES];
static unsigned int nr_sorted;
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int type_cmp(const void *a, const void *b)
{
	const struct mvm_device_type *x = *(const struct mvm_device_type *const *)a;
	const struct mvm_device_type *y = *(const struct mvm_device_type *const *)b;

	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void types_sort(void)
{
	const struct mvm_device_type **t;

	for (t = __start_mvm_devtype_section; t < __stop_mvm_devtype_section; t++) {
		/* A blob too large for struct mvm_devcfg is a bug of the type. */
		if ((*t)->config_size > MVM_DEVCFG_SIZE || nr_sorted == MVM_MAX_TYPES) {
			fprintf(stderr, "mvm: device type %s cannot be registered\n", (*t)->name);
			abort();
		}
		sorted[nr_sorted++] = *t;
	}
	qsort(sorted, nr_sorted, sizeof(sorted[0]), type_cmp);
}

unsigned int mvm_device_types(const struct mvm_device_type ***types)
{
	pthread_once(&sorted_once, types_sort);
	*types = sorted;
	return nr_sorted;
}

const struct mvm_device_type *mvm_device_type_find(const char *name)
{
	const struct mvm_device_type **t;
	unsigned int i, n = mvm_device_types(&t);

	for (i = 0; i < n; i++)
		if (!strcmp(t[i]->name, name))
			return t[i];
	return NULL;
}

const struct mvm_device_type *mvm_device_type_by_api(const char *api)
{
	const struct mvm_device_type **t;
	unsigned int i, n = mvm_device_types(&t);

	for (i = 0; i < n; i++)
		if (t[i]->api && !strcmp(t[i]->api, api))
			return t[i];
	return NULL;
}

/* ---- option values ---- */

static const char *opt_kind_help(const struct mvm_opt *o, char *buf, size_t len)
{
	const struct mvm_opt_choice *c;
	size_t off = 0;

	switch (o->kind) {
	case MVM_OPT_BOOL:
		return "on or off";
	case MVM_OPT_UINT:
		snprintf(buf, len, "a number from %" PRIu64 " to %" PRIu64, o->min, o->max);
		return buf;
	case MVM_OPT_STR:
		snprintf(buf, len, "1 to %" PRIu64 " characters", o->max);
		return buf;
	case MVM_OPT_ENUM:
		buf[0] = '\0';
		for (c = o->choices; c->cli && off < len; c++)
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
						c == o->choices ? "" : "|", c->cli);
		return buf;
	case MVM_OPT_MAC:
		return "a MAC address aa:bb:cc:dd:ee:ff";
	case MVM_OPT_OBJECT:
		return "an object";
	case MVM_OPT_UNSUPPORTED:
		return o->help;
	}
	return "?";
}

static int opt_bad(const struct mvm_opt *o, const char *value, char *msg, size_t len)
{
	char h[160];

	snprintf(msg, len, "'%s': '%.64s' is not valid: give %s", o->name, value,
		 opt_kind_help(o, h, sizeof(h)));
	return -EINVAL;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6], i;
	char tail;

	if (strlen(s) != 17 || sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3],
				      &b[4], &b[5], &tail) != 6)
		return -EINVAL;
	for (i = 0; i < 6; i++) {
		if (s[i * 3 + 2] != ':' && i < 5)
			return -EINVAL;
		mac[i] = (uint8_t)b[i];
	}
	return 0;
}

int mvm_opt_set_str(const struct mvm_opt *o, void *blob, const char *value, char *msg, size_t len)
{
	void *p = mvm_opt_ptr(blob, o);
	const struct mvm_opt_choice *c;
	unsigned long long v;
	char *end;

	switch (o->kind) {
	case MVM_OPT_BOOL:
		if (!strcmp(value, "on") || !strcmp(value, "true") || !strcmp(value, "1"))
			*(bool *)p = true;
		else if (!strcmp(value, "off") || !strcmp(value, "false") || !strcmp(value, "0"))
			*(bool *)p = false;
		else
			return opt_bad(o, value, msg, len);
		return 0;
	case MVM_OPT_UINT:
		errno = 0;
		v = strtoull(value, &end, 0);
		if (!*value || *value == '-' || *end || errno || v < o->min || v > o->max)
			return opt_bad(o, value, msg, len);
		*(uint64_t *)p = v;
		return 0;
	case MVM_OPT_STR:
		if (!*value || strlen(value) > o->max)
			return opt_bad(o, value, msg, len);
		memcpy(p, value, strlen(value) + 1);
		return 0;
	case MVM_OPT_ENUM:
		for (c = o->choices; c->cli; c++)
			if (!strcmp(c->cli, value)) {
				*(unsigned int *)p = (unsigned int)(c - o->choices);
				return 0;
			}
		return opt_bad(o, value, msg, len);
	case MVM_OPT_MAC:
		if (parse_mac(value, p))
			return opt_bad(o, value, msg, len);
		return 0;
	case MVM_OPT_OBJECT:
	case MVM_OPT_UNSUPPORTED:
		break;
	}
	snprintf(msg, len, "'%s': %s", o->name,
		 o->kind == MVM_OPT_UNSUPPORTED ? o->help : "give its fields as name.field=VALUE");
	return -EINVAL;
}

void mvm_opt_format(const struct mvm_opt *o, const void *blob, char *buf, size_t len)
{
	const void *p = mvm_opt_ptr(blob, o);
	const uint8_t *m = p;

	switch (o->kind) {
	case MVM_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "on" : "off");
		return;
	case MVM_OPT_UINT:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		return;
	case MVM_OPT_STR:
		snprintf(buf, len, "%s", (const char *)p);
		return;
	case MVM_OPT_ENUM:
		snprintf(buf, len, "%s", o->choices[*(const unsigned int *)p].cli);
		return;
	case MVM_OPT_MAC:
		snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4],
			 m[5]);
		return;
	case MVM_OPT_OBJECT:
	case MVM_OPT_UNSUPPORTED:
		break;
	}
	buf[0] = '\0';
}

const struct mvm_opt *mvm_opt_find(const struct mvm_opt *opts, const char *name, size_t *base,
				   size_t *set)
{
	const char *dot = strchr(name, '.');
	size_t n = dot ? (size_t)(dot - name) : strlen(name);
	const struct mvm_opt *o;

	for (o = opts; o && o->name; o++) {
		if (strlen(o->name) != n || strncmp(o->name, name, n) ||
		    (o->flags & MVM_OPT_API_ONLY))
			continue;
		if (!dot)
			return o; /* an object's value is refused by mvm_opt_set_str */
		if (o->kind != MVM_OPT_OBJECT)
			return NULL;
		/* The object is given once any of its fields is. */
		if (set && o->set_offset && !*set)
			*set = (base ? *base : 0) + o->set_offset;
		if (base)
			*base += o->offset;
		return mvm_opt_find(o->sub, dot + 1, base, set);
	}
	return NULL;
}

static void opts_defaults(const struct mvm_opt *opts, void *blob, bool api)
{
	const struct mvm_opt *o;
	char msg[160];

	for (o = opts; o && o->name; o++) {
		const char *def = api && o->api_def ? o->api_def : o->def;

		if (o->kind == MVM_OPT_OBJECT)
			opts_defaults(o->sub, mvm_opt_ptr(blob, o), api);
		else if (def && mvm_opt_set_str(o, blob, def, msg, sizeof(msg)))
			abort(); /* a type's default that its own table refuses */
	}
}

void mvm_opts_defaults(const struct mvm_device_type *t, void *blob, bool api)
{
	memset(blob, 0, t->config_size);
	opts_defaults(t->opts, blob, api);
}

const struct mvm_opt *mvm_type_id_opt(const struct mvm_device_type *t)
{
	const struct mvm_opt *o;

	for (o = t->opts; o && o->name; o++)
		if (o->flags & MVM_OPT_ID)
			return o;
	return NULL;
}

const char *mvm_devcfg_id(const struct mvm_devcfg *d)
{
	const struct mvm_opt *o = mvm_type_id_opt(d->type);

	return o ? (const char *)mvm_opt_ptr(d->blob, o) : "";
}

/* ---- instances in a configuration ---- */

struct mvm_devcfg *mvm_config_find_device(struct mvm_config *cfg, const struct mvm_device_type *t,
					  const char *id)
{
	unsigned int i;

	for (i = 0; i < cfg->nr_devices; i++) {
		struct mvm_devcfg *d = &cfg->devices[i];

		if (d->type == t && (!id || !mvm_type_id_opt(t) || !strcmp(mvm_devcfg_id(d), id)))
			return d;
	}
	return NULL;
}

unsigned int mvm_config_count(const struct mvm_config *cfg, const struct mvm_device_type *t)
{
	unsigned int i, n = 0;

	for (i = 0; i < cfg->nr_devices; i++)
		n += cfg->devices[i].type == t;
	return n;
}

static int opts_check_required(const struct mvm_opt *opts, const void *blob, bool api, char *msg,
			       size_t len)
{
	const struct mvm_opt *o;

	for (o = opts; o && o->name; o++) {
		const char *p = mvm_opt_ptr(blob, o);

		if (!(o->flags & MVM_OPT_REQUIRED) || o->kind != MVM_OPT_STR || *p)
			continue;
		if (api)
			snprintf(msg, len, "missing required field '%s'", o->api ?: o->name);
		else if (o->flags & MVM_OPT_POSITIONAL)
			snprintf(msg, len, "needs a %s first", o->name);
		else
			snprintf(msg, len, "needs %s=VALUE", o->name);
		return -EINVAL;
	}
	return 0;
}

static int opts_check_files(const struct mvm_opt *opts, const void *blob, bool api, char *msg,
			    size_t len)
{
	const struct mvm_opt *o;
	struct stat st;

	for (o = opts; o && o->name; o++) {
		const char *p = mvm_opt_ptr(blob, o);

		if (!(o->flags & MVM_OPT_HOST_FILE) || !*p)
			continue;
		if (stat(p, &st)) {
			snprintf(msg, len, "%s '%s': cannot use '%.200s': %s",
				 api ? "field" : "option", api && o->api ? o->api : o->name, p,
				 strerror(errno));
			return -EINVAL;
		}
		if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
			snprintf(msg, len,
				 "%s '%s': '%.200s' is not a regular file or block device",
				 api ? "field" : "option", api && o->api ? o->api : o->name, p);
			return -EINVAL;
		}
	}
	return 0;
}

int mvm_config_put_device(struct mvm_config *cfg, const struct mvm_device_type *t, const void *blob,
			  bool api, char *msg, size_t len)
{
	const struct mvm_opt *ido = mvm_type_id_opt(t);
	struct mvm_devcfg *d = NULL;
	unsigned int max = t->max ? t->max : MVM_MAX_DEVICES;
	int err, self = -1;

	err = opts_check_required(t->opts, blob, api, msg, len);
	if (!err)
		err = opts_check_files(t->opts, blob, api, msg, len);
	if (err)
		return err;
	if (ido && *(const char *)mvm_opt_ptr(blob, ido))
		d = mvm_config_find_device(cfg, t, mvm_opt_ptr(blob, ido));
	else if (ido)
		d = NULL; /* no id (the command line): always a new instance */
	else if (t->singleton)
		d = mvm_config_find_device(cfg, t, NULL);
	if (d)
		self = (int)(d - cfg->devices);
	if (!d && (mvm_config_count(cfg, t) >= max || cfg->nr_devices == MVM_MAX_DEVICES)) {
		snprintf(msg, len, "too many %ss: at most %u", t->api_noun ?: t->name,
			 MIN(max, (unsigned int)MVM_MAX_DEVICES));
		return -ENOSPC;
	}
	if (t->check) {
		err = t->check(cfg, blob, self, msg, len);
		if (err)
			return err;
	}
	if (!d)
		d = &cfg->devices[cfg->nr_devices++];
	d->type = t;
	memcpy(d->blob, blob, t->config_size);
	return 0;
}

int mvm_config_parse_device(struct mvm_config *cfg, const struct mvm_device_type *t,
			    const char *arg, char *msg, size_t len)
{
	unsigned char blob[MVM_DEVCFG_SIZE];
	char buf[8192], *s = buf, *tok, *eq;
	const struct mvm_opt *o, *pos = NULL;
	const char *ido_id;
	bool first = true;
	int err;

	mvm_opts_defaults(t, blob, false);
	for (o = t->opts; o && o->name; o++)
		if (o->flags & MVM_OPT_POSITIONAL)
			pos = o;
	if (strlen(arg ?: "") >= sizeof(buf)) {
		snprintf(msg, len, "too long");
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", arg ?: "");
	while (*buf && (tok = strsep(&s, ","))) {
		size_t base = 0, set = 0;
		struct mvm_opt shifted;

		eq = strchr(tok, '=');
		if (first && pos && !eq) {
			first = false;
			err = mvm_opt_set_str(pos, blob, tok, msg, len);
			if (err)
				return err;
			continue;
		}
		first = false;
		if (eq)
			*eq = '\0';
		o = mvm_opt_find(t->opts, tok, &base, &set);
		if (!o || (o->flags & MVM_OPT_API_ONLY)) {
			snprintf(msg, len, "unknown option '%.64s' (see --help)", tok);
			return -EINVAL;
		}
		if (set)
			blob[set] = true;
		shifted = *o;
		shifted.offset += base;
		err = mvm_opt_set_str(&shifted, blob,
				      eq ? eq + 1 : (o->kind == MVM_OPT_BOOL ? "on" : ""), msg,
				      len);
		if (err)
			return err;
	}
	/* Ids are optional on the command line, but unique when given. */
	o = mvm_type_id_opt(t);
	ido_id = o ? (const char *)mvm_opt_ptr(blob, o) : NULL;
	if (o && *ido_id && mvm_config_find_device(cfg, t, ido_id)) {
		snprintf(msg, len, "%s '%s' is given twice", o->name, ido_id);
		return -EINVAL;
	}
	return mvm_config_put_device(cfg, t, blob, false, msg, len);
}

/* ---- --help ---- */

/* What a value looks like in --help. */
static const char *opt_value_hint(const struct mvm_opt *o, char *buf, size_t len)
{
	switch (o->kind) {
	case MVM_OPT_BOOL:
		return "on|off";
	case MVM_OPT_UINT:
		return "N";
	case MVM_OPT_STR:
		return "STRING";
	case MVM_OPT_MAC:
		return "MAC";
	default:
		return opt_kind_help(o, buf, len);
	}
}

static void usage_opts(FILE *f, const struct mvm_opt *opts, const char *prefix)
{
	const struct mvm_opt *o;
	char h[160], key[96];

	for (o = opts; o && o->name; o++) {
		if (o->flags & (MVM_OPT_API_ONLY | MVM_OPT_POSITIONAL))
			continue;
		if (o->kind == MVM_OPT_OBJECT) {
			char sub[64];

			snprintf(sub, sizeof(sub), "%s%s.", prefix, o->name);
			usage_opts(f, o->sub, sub);
			continue;
		}
		snprintf(key, sizeof(key), "%s%s=%s", prefix, o->name,
			 opt_value_hint(o, h, sizeof(h)));
		fprintf(f, "          %-26s %s", key, o->help ?: "");
		if (o->kind == MVM_OPT_UINT)
			fprintf(f, " (%" PRIu64 "-%" PRIu64 ")", o->min, o->max);
		if (o->def)
			fprintf(f, " (default %s)", o->def);
		fputc('\n', f);
	}
}

void mvm_device_types_usage(FILE *f)
{
	const struct mvm_device_type **t;
	unsigned int i, n = mvm_device_types(&t);

	for (i = 0; i < n; i++) {
		if (!t[i]->cli)
			continue;
		fprintf(f, "      --%s%s%s%s\n", t[i]->cli,
			t[i]->cli_arg ? " " : "[=", t[i]->cli_arg ?: "OPTIONS",
			t[i]->cli_arg ? "[,OPTIONS]" : "]");
		fprintf(f, "                       %s%s\n", t[i]->summary ?: t[i]->name,
			t[i]->max == 1 ? "" : " (repeatable)");
		usage_opts(f, t[i]->opts, "");
	}
}
