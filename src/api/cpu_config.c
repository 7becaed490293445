// SPDX-License-Identifier: MIT
/*
 * PUT /cpu-config: Firecracker's custom CPU template (x86 shape), parsed
 * and checked as Firecracker's serde code does, with its messages:
 *
 *   {"kvm_capabilities": ["171", "!172"],
 *    "cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0,
 *                         "modifiers": [{"register": "ecx", "bitmap": "0bx0xx..."}]}],
 *    "msr_modifiers": [{"addr": "0x10a", "bitmap": "0b...1x"}]}
 *
 * Numbers are strings with a 0x or 0b prefix; a bitmap is up to 32 (CPUID)
 * or 64 (MSR) of 0, 1 and x (keep), '_' ignored, the lowest bit last. The
 * template replaces any earlier one (and a static cpu_template of
 * machine-config), and is applied to every vCPU at InstanceStart.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/cpu_template.h"
#include "mvm/log.h"

#define MSG_LEN 512

/* Rust's integer parse errors (ParseIntError), by kind: Display and Debug. */
enum parse_kind { PARSE_OK, PARSE_EMPTY, PARSE_INVALID, PARSE_OVERFLOW };

static const char *const parse_display[] = {
	[PARSE_EMPTY] = "cannot parse integer from empty string",
	[PARSE_INVALID] = "invalid digit found in string",
	[PARSE_OVERFLOW] = "number too large to fit in target type",
};
static const char *const parse_debug[] = {
	[PARSE_EMPTY] = "ParseIntError { kind: Empty }",
	[PARSE_INVALID] = "ParseIntError { kind: InvalidDigit }",
	[PARSE_OVERFLOW] = "ParseIntError { kind: PosOverflow }",
};

/* An unsigned number of at most max in base (2, 10 or 16), as Rust's from_str_radix. */
static enum parse_kind parse_uint(const char *s, unsigned int base, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	unsigned int d;

	if (!*s)
		return PARSE_EMPTY;
	if (*s == '+' && s[1])
		s++;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9')
			d = (unsigned int)(*s - '0');
		else if (*s >= 'a' && *s <= 'f')
			d = (unsigned int)(*s - 'a' + 10);
		else if (*s >= 'A' && *s <= 'F')
			d = (unsigned int)(*s - 'A' + 10);
		else
			return PARSE_INVALID;
		if (d >= base)
			return PARSE_INVALID;
		if (v > (max - d) / base)
			return PARSE_OVERFLOW;
		v = v * base + d;
	}
	*out = v;
	return PARSE_OK;
}

/* serde's frame around a message (no position: the value's is not known here). */
static int fault(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fault(char *msg, size_t len, const char *fmt, ...)
{
	char what[MSG_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(msg, len, MSG_DESERIALIZE, what, "");
	return -EINVAL;
}

static const char *describe(const json_t *v, char *buf, size_t len)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "map";
	case JSON_ARRAY:
		return "sequence";
	case JSON_STRING:
		snprintf(buf, len, "string \"%.64s\"", json_string_value(v));
		return buf;
	case JSON_INTEGER:
		snprintf(buf, len, "integer `%lld`", (long long)json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "floating point `%g`", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "boolean `true`";
	case JSON_FALSE:
		return "boolean `false`";
	case JSON_NULL:
		break;
	}
	return "null";
}

static int want_string(const json_t *v, const char **s, char *msg, size_t len)
{
	char got[96];

	if (!json_is_string(v))
		return fault(msg, len, MSG_INVALID_TYPE, describe(v, got, sizeof(got)), "a string");
	*s = json_string_value(v);
	if (strlen(*s) != json_string_length(v))
		return fault(msg, len, MSG_NUL_IN_STRING);
	return 0;
}

/* A member of a (non-strict) object: missing is an error, as serde's. */
static int member(const json_t *obj, const char *name, json_t **v, char *msg, size_t len)
{
	*v = json_object_get(obj, name);
	if (!*v)
		return fault(msg, len, MSG_MISSING_FIELD, name);
	return 0;
}

/* "0x1f" or "0b101": Firecracker's deserialize_from_str. */
static int parse_number(const json_t *v, uint64_t max, uint64_t *out, char *msg, size_t len)
{
	enum parse_kind k;
	const char *s;

	if (want_string(v, &s, msg, len))
		return -EINVAL;
	if (!strncmp(s, "0b", 2))
		k = parse_uint(s + 2, 2, max, out);
	else if (!strncmp(s, "0x", 2))
		k = parse_uint(s + 2, 16, max, out);
	else
		return fault(msg, len, MSG_CPU_NUMBER_PREFIX, s);
	if (k != PARSE_OK)
		return fault(msg, len, MSG_CPU_NUMBER, s, parse_debug[k]);
	return 0;
}

/* "0b0x1_..." of at most bits characters besides '_': Firecracker's RegisterValueFilter. */
static int parse_bitmap(const json_t *v, unsigned int bits, struct mvm_bitmap *b, char *msg,
			size_t len)
{
	const char *s, *p;
	unsigned int i = 0;

	if (want_string(v, &s, msg, len))
		return -EINVAL;
	p = !strncmp(s, "0b", 2) ? s + 2 : s;
	*b = (struct mvm_bitmap){ 0 };
	for (size_t n = strlen(p); n-- > 0;) {
		if (i == bits)
			return fault(msg, len, MSG_CPU_BITMAP_LONG, s);
		switch (p[n]) {
		case '_':
			continue;
		case 'x':
			break;
		case '1':
			b->value |= 1ULL << i;
			/* fall through */
		case '0':
			b->filter |= 1ULL << i;
			break;
		default:
			return fault(msg, len, MSG_CPU_BITMAP_CHAR, s, (unsigned char)p[n]);
		}
		i++;
	}
	return 0;
}

static int want_array(const json_t *v, char *msg, size_t len)
{
	char got[96];

	if (json_is_array(v))
		return 0;
	return fault(msg, len, MSG_INVALID_TYPE, describe(v, got, sizeof(got)), "a sequence");
}

static int want_object(const json_t *v, const char *what, char *msg, size_t len)
{
	char got[96], want[64];

	if (json_is_object(v))
		return 0;
	snprintf(want, sizeof(want), "struct %s", what);
	return fault(msg, len, MSG_INVALID_TYPE, describe(v, got, sizeof(got)), want);
}

static int parse_caps(const json_t *a, struct mvm_cpu_template *t, char *msg, size_t len)
{
	enum parse_kind k;
	const char *s;
	uint64_t cap;
	size_t i;
	json_t *v;

	if (want_array(a, msg, len))
		return -EINVAL;
	json_array_foreach (a, i, v) {
		if (want_string(v, &s, msg, len))
			return -EINVAL;
		k = parse_uint(s[0] == '!' ? s + 1 : s, 10, UINT32_MAX, &cap);
		if (k != PARSE_OK)
			return fault(msg, len, MSG_CPU_CAPABILITY, s, parse_display[k]);
		if (t->nr_caps == MVM_CPU_TEMPLATE_MAX_CAPS)
			return fault(msg, len, MSG_CPU_TOO_MANY, MVM_CPU_TEMPLATE_MAX_CAPS,
				     "kvm_capabilities");
		t->caps[t->nr_caps].cap = (uint32_t)cap;
		t->caps[t->nr_caps++].remove = s[0] == '!';
	}
	return 0;
}

static int parse_register(const json_t *v, enum mvm_cpuid_reg *reg, char *msg, size_t len)
{
	static const char *const names[] = { "eax", "ebx", "ecx", "edx" };
	const char *s;
	unsigned int i;

	if (want_string(v, &s, msg, len))
		return -EINVAL;
	for (i = 0; i < 4; i++)
		if (!strcmp(s, names[i])) {
			*reg = (enum mvm_cpuid_reg)i;
			return 0;
		}
	return fault(msg, len, MSG_CPU_REGISTER);
}

static int parse_leaf(const json_t *o, struct mvm_cpuid_modifier *m, char *msg, size_t len)
{
	json_t *v, *mods, *r;
	uint64_t n;
	char got[96];
	size_t i;

	if (want_object(o, "CpuidLeafModifier", msg, len) || member(o, "leaf", &v, msg, len) ||
	    parse_number(v, UINT32_MAX, &n, msg, len))
		return -EINVAL;
	m->leaf = (uint32_t)n;
	if (member(o, "subleaf", &v, msg, len) || parse_number(v, UINT32_MAX, &n, msg, len))
		return -EINVAL;
	m->subleaf = (uint32_t)n;
	if (member(o, "flags", &v, msg, len))
		return -EINVAL;
	if (!json_is_integer(v))
		return fault(msg, len, MSG_INVALID_TYPE, describe(v, got, sizeof(got)), "u32");
	if (json_integer_value(v) < 0 || json_integer_value(v) > UINT32_MAX)
		return fault(msg, len, MSG_INVALID_VALUE, (long long)json_integer_value(v), "u32");
	m->flags = (uint32_t)json_integer_value(v);
	if (member(o, "modifiers", &mods, msg, len) || want_array(mods, msg, len))
		return -EINVAL;
	json_array_foreach (mods, i, r) {
		if (m->nr_regs == MVM_CPU_TEMPLATE_MAX_REGS)
			return fault(msg, len, MSG_CPU_TOO_MANY, MVM_CPU_TEMPLATE_MAX_REGS,
				     "modifiers of a CPUID leaf");
		if (want_object(r, "CpuidRegisterModifier", msg, len) ||
		    member(r, "register", &v, msg, len) ||
		    parse_register(v, &m->regs[m->nr_regs].reg, msg, len) ||
		    member(r, "bitmap", &v, msg, len) ||
		    parse_bitmap(v, 32, &m->regs[m->nr_regs].bits, msg, len))
			return -EINVAL;
		m->nr_regs++;
	}
	return 0;
}

static int parse_msr(const json_t *o, struct mvm_msr_modifier *m, char *msg, size_t len)
{
	uint64_t n;
	json_t *v;

	if (want_object(o, "RegisterModifier", msg, len) || member(o, "addr", &v, msg, len) ||
	    parse_number(v, UINT32_MAX, &n, msg, len))
		return -EINVAL;
	m->addr = (uint32_t)n;
	if (member(o, "bitmap", &v, msg, len) || parse_bitmap(v, 64, &m->bits, msg, len))
		return -EINVAL;
	return 0;
}

int cpu_template_from_json(const json_t *j, struct mvm_cpu_template *t, char *msg, size_t len)
{
	static const char *const fields[] = { "kvm_capabilities", "cpuid_modifiers",
					      "msr_modifiers" };
	const char *key;
	size_t i;
	json_t *v;

	memset(t, 0, sizeof(*t));
	json_object_foreach ((json_t *)j, key, v) {
		for (i = 0; i < 3 && strcmp(key, fields[i]); i++)
			;
		if (i == 3)
			return fault(msg, len, MSG_UNKNOWN_FIELD, key,
				     "one of `kvm_capabilities`, `cpuid_modifiers`, "
				     "`msr_modifiers`");
	}
	v = json_object_get(j, "kvm_capabilities");
	if (v && parse_caps(v, t, msg, len))
		return -EINVAL;
	v = json_object_get(j, "cpuid_modifiers");
	if (v) {
		json_t *e;

		if (want_array(v, msg, len))
			return -EINVAL;
		json_array_foreach (v, i, e) {
			if (t->nr_cpuid == MVM_CPU_TEMPLATE_MAX_LEAVES)
				return fault(msg, len, MSG_CPU_TOO_MANY,
					     MVM_CPU_TEMPLATE_MAX_LEAVES, "cpuid_modifiers");
			if (parse_leaf(e, &t->cpuid[t->nr_cpuid++], msg, len))
				return -EINVAL;
		}
	}
	v = json_object_get(j, "msr_modifiers");
	if (v) {
		json_t *e;

		if (want_array(v, msg, len))
			return -EINVAL;
		json_array_foreach (v, i, e) {
			if (t->nr_msrs == MVM_CPU_TEMPLATE_MAX_MSRS)
				return fault(msg, len, MSG_CPU_TOO_MANY, MVM_CPU_TEMPLATE_MAX_MSRS,
					     "msr_modifiers");
			if (parse_msr(e, &t->msrs[t->nr_msrs++], msg, len))
				return -EINVAL;
		}
	}
	return 0;
}

/* "0b" and bits characters, the highest bit first: x where the filter is clear. */
static json_t *bitmap_json(const struct mvm_bitmap *b, unsigned int bits)
{
	char s[2 + 64 + 1] = "0b";
	unsigned int i;

	for (i = 0; i < bits; i++) {
		uint64_t bit = 1ULL << (bits - 1 - i);

		s[2 + i] = !(b->filter & bit) ? 'x' : (b->value & bit) ? '1' : '0';
	}
	s[2 + bits] = '\0';
	return json_string(s);
}

static json_t *hex_json(uint32_t v)
{
	char s[16];

	snprintf(s, sizeof(s), "%#x", v);
	if (!v)
		snprintf(s, sizeof(s), "0x0");
	return json_string(s);
}

json_t *cpu_template_to_json(const struct mvm_cpu_template *t)
{
	static const char *const regs[] = { "eax", "ebx", "ecx", "edx" };
	json_t *j = json_pack("{s:[], s:[], s:[]}", "kvm_capabilities", "cpuid_modifiers",
			      "msr_modifiers");
	json_t *caps = json_object_get(j, "kvm_capabilities");
	json_t *leaves = json_object_get(j, "cpuid_modifiers");
	json_t *msrs = json_object_get(j, "msr_modifiers");
	unsigned int i, k;
	char s[16];

	if (!j)
		return NULL;
	for (i = 0; i < t->nr_caps; i++) {
		snprintf(s, sizeof(s), "%s%u", t->caps[i].remove ? "!" : "", t->caps[i].cap);
		if (json_array_append_new(caps, json_string(s)))
			goto err;
	}
	for (i = 0; i < t->nr_cpuid; i++) {
		const struct mvm_cpuid_modifier *m = &t->cpuid[i];
		json_t *mods = json_array();

		for (k = 0; mods && k < m->nr_regs; k++)
			if (json_array_append_new(
				    mods, json_pack("{s:s, s:o}", "register", regs[m->regs[k].reg],
						    "bitmap", bitmap_json(&m->regs[k].bits, 32)))) {
				json_decref(mods);
				goto err;
			}
		if (!mods ||
		    json_array_append_new(
			    leaves, json_pack("{s:o, s:o, s:I, s:o}", "leaf", hex_json(m->leaf),
					      "subleaf", hex_json(m->subleaf), "flags",
					      (json_int_t)m->flags, "modifiers", mods)))
			goto err;
	}
	for (i = 0; i < t->nr_msrs; i++)
		if (json_array_append_new(msrs,
					  json_pack("{s:o, s:o}", "addr", hex_json(t->msrs[i].addr),
						    "bitmap", bitmap_json(&t->msrs[i].bits, 64))))
			goto err;
	return j;
err:
	json_decref(j);
	return NULL;
}

void h_put_cpu_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	struct mvm_cpu_template *t;
	char msg[MSG_LEN];

	/* As Firecracker: the body is parsed first, then the state checked. */
	t = calloc(1, sizeof(*t));
	if (!t) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	if (cpu_template_from_json(body, t, msg, sizeof(msg))) {
		free(t);
		api_fault(r, 400, "%s", msg);
		return;
	}
	if (!vmm_preboot(vmm, "PUT /cpu-config", r)) {
		free(t);
		return;
	}
	/* One template at a time, as Firecracker's: this one replaces a static one. */
	free(vmm->cpu_template);
	vmm->cpu_template = t;
	vmm->cfg.cpu_template = t;
	vmm->static_template[0] = '\0';
	api_no_content(r);
}

json_t *cpu_config_json(struct vmm *vmm)
{
	return vmm->cpu_template ? cpu_template_to_json(vmm->cpu_template) : json_null();
}

void cpu_template_select_static(struct vmm *vmm, const char *name)
{
	/* As Firecracker: a static template replaces a custom one; "None" drops either. */
	free(vmm->cpu_template);
	vmm->cpu_template = NULL;
	vmm->cfg.cpu_template = NULL;
	if (!strcmp(name, "None")) {
		vmm->static_template[0] = '\0';
		return;
	}
	snprintf(vmm->static_template, sizeof(vmm->static_template), "%s", name);
	pr_warn("machine-config: the static CPU template %s is recorded, not applied: mvm gives "
		"the guest KVM's CPUID; PUT /cpu-config takes its custom equivalent",
		name);
}
