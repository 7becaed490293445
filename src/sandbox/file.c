// SPDX-License-Identifier: MIT
/*
 * --seccomp-filter FILE: allow-lists that replace the built-in ones of the
 * thread types the file names (the others keep theirs). A JSON object:
 *
 *   { "vmm": [ "read", "write", ... ],
 *     "vcpu": [ "futex", { "syscall": "ioctl",
 *                          "args": [ { "index": 1, "mask": 4294967295,
 *                                      "value": 44672 } ] } ],
 *     "api": [...], "metrics": [...] }
 *
 * An entry is a system call's name (allowed whatever its arguments) or an
 * object whose "args" (at most 2) must all hold: (arg[index] & mask) ==
 * value. Unknown types, names or keys are errors: a typo must not open a
 * hole or close one silently. Firecracker's own --seccomp-filter takes a
 * compiled BPF file (seccompiler-bin's output); mvm takes this instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "mvm/log.h"
#include "sandbox_internal.h"

static int parse_check(json_t *j, struct sandbox_check *c)
{
	json_t *idx = json_object_get(j, "index"), *mask = json_object_get(j, "mask"),
	       *val = json_object_get(j, "value");

	if (!json_is_object(j) || json_object_size(j) != 3 || !json_is_integer(idx) ||
	    !json_is_integer(mask) || !json_is_integer(val) || json_integer_value(idx) < 0 ||
	    json_integer_value(idx) > 5)
		return -EINVAL;
	c->arg = (unsigned int)json_integer_value(idx);
	c->mask = (uint64_t)json_integer_value(mask);
	c->value = (uint64_t)json_integer_value(val);
	return 0;
}

static int parse_rule(json_t *j, struct sandbox_rule *r)
{
	json_t *name = j, *args = NULL, *a;
	size_t i;

	memset(r, 0, sizeof(*r));
	if (json_is_object(j)) {
		name = json_object_get(j, "syscall");
		args = json_object_get(j, "args");
		if (json_object_size(j) != (args ? 2u : 1u) || (args && !json_is_array(args)) ||
		    json_array_size(args) > 2)
			return -EINVAL;
	}
	if (!json_is_string(name))
		return -EINVAL;
	r->name = json_string_value(name);
	r->nr = seccomp_syscall_resolve_name(r->name);
	if (r->nr == __NR_SCMP_ERROR)
		return -ENOENT;
	json_array_foreach (args, i, a) {
		if (parse_check(a, &r->checks[i]))
			return -EINVAL;
		r->nr_checks++;
	}
	r->args = r->nr_checks ? "from the filter file" : NULL;
	return 0;
}

void sandbox_free_lists(struct sandbox_list lists[SANDBOX_NR])
{
	unsigned int t;

	for (t = 0; t < SANDBOX_NR; t++) {
		free((void *)lists[t].rules);
		lists[t].rules = NULL;
		lists[t].nr = 0;
	}
}

static json_t *file_root;

int sandbox_load_file(const char *path, struct sandbox_list lists[SANDBOX_NR])
{
	json_error_t jerr;
	const char *key;
	json_t *arr;
	int err = 0;

	json_decref(file_root);
	file_root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!file_root) {
		pr_err("seccomp filter file %s: line %d: %s", path, jerr.line, jerr.text);
		return -EINVAL;
	}
	if (!json_is_object(file_root)) {
		pr_err("seccomp filter file %s: not a JSON object", path);
		return -EINVAL;
	}
	json_object_foreach (file_root, key, arr) {
		struct sandbox_rule *rules;
		unsigned int t;
		size_t i;
		json_t *e;

		for (t = 0; t < SANDBOX_NR; t++)
			if (!strcmp(key, sandbox_thread_name(t)))
				break;
		if (t == SANDBOX_NR || !json_is_array(arr)) {
			pr_err("seccomp filter file %s: '%s' is not a thread type with a list "
			       "(vmm, api, vcpu, metrics)",
			       path, key);
			err = -EINVAL;
			break;
		}
		rules = calloc(json_array_size(arr) + 1, sizeof(*rules));
		if (!rules) {
			err = -ENOMEM;
			break;
		}
		free((void *)lists[t].rules);
		lists[t].rules = rules;
		lists[t].nr = (unsigned int)json_array_size(arr);
		json_array_foreach (arr, i, e) {
			err = parse_rule(e, &rules[i]);
			if (err) {
				pr_err("seccomp filter file %s: %s entry %zu: %s", path, key, i,
				       err == -ENOENT ? "unknown system call"
						      : "give a name or {\"syscall\", \"args\"}");
				break;
			}
		}
		if (err)
			break;
	}
	if (err)
		sandbox_free_lists(lists);
	/* The rules point into file_root's strings: it lives as long as the process. */
	return err;
}
