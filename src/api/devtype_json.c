// SPDX-License-Identifier: MIT
/*
 * Device types through the API (mvm/devtype.h): the body of PUT and PATCH
 * /<api>[/{id}] checked against the type's option table and turned into its
 * option blob, the GET /vm/config echo, and the config file's sections. No
 * device is named here: a new type with an `api` resource is served as is.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/log.h"

/* The jc_field tables (json_check.c) an option table stands for. */
struct jc_gen {
	struct jc_field f[96];
	unsigned int nf;
	const char *e[256];
	unsigned int ne;
};

static const char *opt_api(const struct mvm_opt *o)
{
	return o->api ? o->api : o->name;
}

static const char *choice_api(const struct mvm_opt_choice *c)
{
	return c->api ? c->api : c->cli;
}

/* Builds the table of opts; body gives the JSON types of unsupported fields. */
static const struct jc_field *jc_gen_table(struct jc_gen *g, const struct mvm_opt *opts,
					   const json_t *body, bool patch, bool id_required)
{
	const struct mvm_opt *o;
	struct jc_field *start;
	unsigned int n = 0;

	for (o = opts; o && o->name; o++)
		n += !(o->flags & MVM_OPT_CLI_ONLY);
	if (g->nf + n + 1 > ARRAY_SIZE(g->f))
		return NULL;
	start = &g->f[g->nf];
	g->nf += n + 1;
	n = 0;
	for (o = opts; o && o->name; o++) {
		struct jc_field *f = &start[n];
		const struct mvm_opt_choice *c;

		if (o->flags & MVM_OPT_CLI_ONLY)
			continue;
		n++;
		*f = (struct jc_field){ .name = opt_api(o) };
		f->required = !patch && ((o->flags & MVM_OPT_REQUIRED) ||
					 ((o->flags & MVM_OPT_ID) && id_required));
		if (patch && (o->flags & MVM_OPT_ID))
			f->required = id_required;
		switch (o->kind) {
		case MVM_OPT_BOOL:
			f->type = JC_BOOL;
			break;
		case MVM_OPT_UINT:
			f->type = JC_INT;
			f->min = (long long)o->min;
			f->max = o->max > (uint64_t)INT64_MAX ? INT64_MAX : (long long)o->max;
			break;
		case MVM_OPT_STR:
		case MVM_OPT_MAC:
			f->type = JC_STRING;
			break;
		case MVM_OPT_ENUM:
			f->type = JC_STRING;
			f->enums = &g->e[g->ne];
			for (c = o->choices; c->cli && g->ne + 1 < ARRAY_SIZE(g->e); c++)
				if (*choice_api(c))
					g->e[g->ne++] = choice_api(c);
			g->e[g->ne++] = NULL;
			break;
		case MVM_OPT_OBJECT:
			f->type = JC_OBJECT;
			f->sub = jc_gen_table(g, o->sub, json_object_get(body, f->name), false,
					      false);
			if (!f->sub)
				return NULL;
			break;
		case MVM_OPT_UNSUPPORTED:
			/* Refused before the check when given: here it is absent or null. */
			f->type = JC_STRING;
			f->required = false;
			break;
		}
	}
	start[n] = (struct jc_field){ .name = NULL };
	return start;
}

/* Stores the checked JSON value v into option o of blob. */
static int json_to_opt(const struct mvm_opt *o, void *blob, const json_t *v, const char *path,
		       char *msg, size_t len)
{
	const struct mvm_opt_choice *c;
	const struct mvm_opt *s;
	const char *str;

	switch (o->kind) {
	case MVM_OPT_BOOL:
		*(bool *)mvm_opt_ptr(blob, o) = json_is_true(v);
		return 0;
	case MVM_OPT_UINT:
		*(uint64_t *)mvm_opt_ptr(blob, o) = (uint64_t)json_integer_value(v);
		return 0;
	case MVM_OPT_STR:
		str = json_string_value(v);
		if (!*str || strlen(str) > o->max) {
			snprintf(msg, len, "field '%s': give 1 to %llu characters", path,
				 (unsigned long long)o->max);
			return -EINVAL;
		}
		memcpy(mvm_opt_ptr(blob, o), str, strlen(str) + 1);
		return 0;
	case MVM_OPT_ENUM:
		for (c = o->choices; c->cli; c++)
			if (*choice_api(c) && !strcmp(choice_api(c), json_string_value(v))) {
				*(unsigned int *)mvm_opt_ptr(blob, o) =
					(unsigned int)(c - o->choices);
				return 0;
			}
		break;
	case MVM_OPT_MAC:
		if (mvm_opt_set_str(o, blob, json_string_value(v), msg, len)) {
			snprintf(msg, len,
				 "field '%s': '%.32s' is not a MAC address (aa:bb:cc:dd:ee:ff)",
				 path, json_string_value(v));
			return -EINVAL;
		}
		return 0;
	case MVM_OPT_OBJECT:
		if (o->set_offset)
			*((bool *)blob + o->set_offset) = true;
		for (s = o->sub; s->name; s++) {
			const json_t *m = json_object_get(v, opt_api(s));
			char sub[128];
			struct mvm_opt shifted = *s;

			if (!m || json_is_null(m))
				continue;
			shifted.offset += o->offset;
			if (shifted.set_offset)
				shifted.set_offset += o->offset;
			snprintf(sub, sizeof(sub), "%s.%s", path, opt_api(s));
			if (json_to_opt(&shifted, blob, m, sub, msg, len))
				return -EINVAL;
		}
		return 0;
	case MVM_OPT_UNSUPPORTED:
		break;
	}
	snprintf(msg, len, "field '%s': %s", path, o->help ? o->help : "not supported");
	return -EINVAL;
}

int devtype_from_json(const struct mvm_device_type *t, const json_t *body, void *blob, bool patch,
		      char *msg, size_t len)
{
	struct jc_gen *g;
	const struct jc_field *table;
	const struct mvm_opt *o;
	int err = 0;

	/* Fields mvm knows but cannot serve yet: named, refused. */
	for (o = t->opts; o && o->name; o++) {
		const json_t *v = json_object_get(body, opt_api(o));

		if (o->kind == MVM_OPT_UNSUPPORTED && v && !json_is_null(v)) {
			snprintf(msg, len, "field '%s': %s", opt_api(o), o->help);
			return -EINVAL;
		}
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	table = jc_gen_table(g, t->opts, body, patch, !t->singleton);
	if (!table) {
		snprintf(msg, len, "the %s option table is too large", t->name);
		err = -EINVAL;
		goto out;
	}
	err = jc_check(body, table, msg, len);
	if (err)
		goto out;
	for (o = t->opts; o && o->name; o++) {
		const json_t *v = json_object_get(body, opt_api(o));

		if ((o->flags & MVM_OPT_CLI_ONLY) || !v || json_is_null(v))
			continue;
		if (patch && !(o->flags & (MVM_OPT_PATCH | MVM_OPT_ID))) {
			snprintf(msg, len, "field '%s' cannot be changed after boot", opt_api(o));
			err = -EINVAL;
			goto out;
		}
		err = json_to_opt(o, blob, v, opt_api(o), msg, len);
		if (err)
			goto out;
	}
out:
	free(g);
	return err;
}

static json_t *opts_to_json(const struct mvm_opt *opts, const void *blob, size_t base)
{
	json_t *j = json_object();
	const struct mvm_opt *o;

	for (o = opts; j && o && o->name; o++) {
		struct mvm_opt shifted = *o;
		json_t *v = NULL;
		char buf[64];

		if (o->flags & MVM_OPT_CLI_ONLY)
			continue;
		shifted.offset += base;
		switch (o->kind) {
		case MVM_OPT_BOOL:
			v = json_boolean(*(const bool *)mvm_opt_ptr(blob, &shifted));
			break;
		case MVM_OPT_UINT:
			v = json_integer((json_int_t) *
					 (const uint64_t *)mvm_opt_ptr(blob, &shifted));
			break;
		case MVM_OPT_STR:
			/* Unset strings are null, as Firecracker's optional fields. */
			if (*(const char *)mvm_opt_ptr(blob, &shifted))
				v = json_string(mvm_opt_ptr(blob, &shifted));
			else
				v = json_null();
			break;
		case MVM_OPT_ENUM:
			v = json_string(choice_api(
				&o->choices[*(const unsigned int *)mvm_opt_ptr(blob, &shifted)]));
			break;
		case MVM_OPT_MAC:
			mvm_opt_format(&shifted, blob, buf, sizeof(buf));
			v = json_string(buf);
			break;
		case MVM_OPT_OBJECT:
			if (o->set_offset && !*((const bool *)blob + base + o->set_offset))
				v = json_null();
			else
				v = opts_to_json(o->sub, blob, base + o->offset);
			break;
		case MVM_OPT_UNSUPPORTED:
			v = json_null();
			break;
		}
		if (json_object_set_new(j, opt_api(o), v)) {
			json_decref(j);
			return NULL;
		}
	}
	return j;
}

json_t *devtype_to_json(const struct mvm_device_type *t, const void *blob)
{
	return opts_to_json(t->opts, blob, 0);
}

/* ---- the handlers ---- */

/* The body's id field must name the path's instance. */
static bool id_matches(const struct mvm_device_type *t, const char *param, const void *blob,
		       struct api_response *r)
{
	const struct mvm_opt *ido = mvm_type_id_opt(t);
	const char *id;

	if (t->singleton || !ido)
		return true;
	id = mvm_opt_ptr(blob, ido);
	if (strcmp(id, param)) {
		api_fault(r, 400, MSG_ID_MISMATCH);
		return false;
	}
	if (!api_id_valid(id)) {
		api_fault(r, 400, MSG_INVALID_ID);
		return false;
	}
	return true;
}

/* A deprecated field in the body: Firecracker's warning line and "Deprecation: true". */
static void note_deprecated(const struct mvm_device_type *t, const char *what, json_t *body,
			    struct api_response *r)
{
	const struct mvm_opt *o;

	for (o = t->opts; o->name; o++) {
		const char *field = o->api ? o->api : o->name;

		if (!(o->flags & MVM_OPT_DEPRECATED) ||
		    json_is_null(json_object_get(body, field)) || !json_object_get(body, field))
			continue;
		r->deprecated = true;
		pr_warn("%s: %s field is deprecated.", what, field);
	}
}

void h_device_put(struct vmm *vmm, const struct mvm_device_type *t, const char *param, json_t *body,
		  struct api_response *r)
{
	unsigned char *blob;
	char msg[512], what[64];

	snprintf(what, sizeof(what), "PUT /%s", t->api);
	if (!vmm_preboot(vmm, what, r))
		return;
	blob = calloc(1, MVM_DEVCFG_SIZE);
	if (!blob) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	mvm_opts_defaults(t, blob, true);
	if (devtype_from_json(t, body, blob, false, msg, sizeof(msg))) {
		api_fault(r, 400, "%s", msg);
		free(blob);
		return;
	}
	note_deprecated(t, what, body, r);
	if (id_matches(t, param, blob, r) &&
	    mvm_config_put_device(&vmm->cfg, t, blob, true, msg, sizeof(msg)))
		api_fault(r, 400, "%s", msg);
	else if (!r->status)
		api_no_content(r);
	/* The metrics lines get a group per configured disk and interface. */
	if (r->status == 204 && vmm->metrics)
		metrics_set_devices(vmm->metrics, fc_metrics_device_ids(&vmm->cfg));
	free(blob);
}

void h_device_patch(struct vmm *vmm, const struct mvm_device_type *t, const char *param,
		    json_t *body, struct api_response *r)
{
	struct mvm_devcfg *d;
	unsigned char *blob;
	char msg[512], what[64];

	snprintf(what, sizeof(what), "PATCH /%s", t->api);
	d = mvm_config_find_device(&vmm->cfg, t, t->singleton ? NULL : param);
	blob = malloc(MVM_DEVCFG_SIZE);
	if (!blob) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	/* As Firecracker: the body is checked first (against defaults without an instance). */
	if (d)
		memcpy(blob, d->blob, MVM_DEVCFG_SIZE);
	else
		mvm_opts_defaults(t, blob, true);
	if (devtype_from_json(t, body, blob, true, msg, sizeof(msg))) {
		api_fault(r, 400, "%s", msg);
	} else if (!id_matches(t, param, blob, r)) {
		/* answered */
	} else if (!vmm_postboot(vmm, what, r)) {
		/* answered */
	} else if (!d) {
		api_fault(r, 400, MSG_DEVICE_UNKNOWN);
	} else if (!memcmp(blob, d->blob, t->config_size)) {
		api_no_content(r);
	} else if (!t->update) {
		api_fault(r, 400, MSG_NOT_IMPLEMENTED, "A change after boot", "PATCH", t->api);
	} else if (t->update(vmm->vm, mvm_devcfg_id(d), blob, msg, sizeof(msg))) {
		api_fault(r, 400, MSG_DEVICE_UPDATE, t->api_noun ? t->api_noun : t->name, msg);
	} else {
		memcpy(d->blob, blob, t->config_size);
		api_no_content(r);
	}
	free(blob);
}

void h_device_get(struct vmm *vmm, const struct mvm_device_type *t, const char *param, json_t *body,
		  struct api_response *r)
{
	struct mvm_devcfg *d = mvm_config_find_device(&vmm->cfg, t, t->singleton ? NULL : param);

	if (!d) {
		api_fault(r, 400, MSG_DEVICE_UNKNOWN);
		return;
	}
	api_json(r, devtype_to_json(t, d->blob));
}

int devtype_vm_config(struct vmm *vmm, json_t *j)
{
	const struct mvm_device_type **types;
	unsigned int i, k, n = mvm_device_types(&types);

	for (i = 0; i < n; i++) {
		const struct mvm_device_type *t = types[i];
		json_t *v;

		if (!t->api)
			continue;
		v = t->singleton ? json_null() : json_array();
		for (k = 0; v && k < vmm->cfg.nr_devices; k++) {
			json_t *e;

			if (vmm->cfg.devices[k].type != t)
				continue;
			e = devtype_to_json(t, vmm->cfg.devices[k].blob);
			if (t->singleton) {
				json_decref(v);
				v = e;
			} else if (json_array_append_new(v, e)) {
				json_decref(v);
				v = NULL;
			}
		}
		if (!v || json_object_set_new(j, t->api, v))
			return -ENOMEM;
	}
	return 0;
}
