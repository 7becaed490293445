// SPDX-License-Identifier: MIT
/*
 * --config-file: Firecracker's JSON configuration file (the schema of GET
 * /vm/config, FullVmConfiguration). Each section goes through the handler
 * of its API route, so the file is checked exactly as the API checks
 * requests; then the VM boots as InstanceStart does. A section named after
 * a device type's API resource (mvm/devtype.h) is that type's: an array of
 * instances, or one object for a singleton.
 */
#include <errno.h>
#include <unistd.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"

struct section {
	const char *key;
	api_handler_fn fn; /* NULL: a device type's, or not supported by mvm yet */
	bool array;	   /* drives, network-interfaces, pmem */
};

#define MAX_SECTIONS 48

static const struct section sections[] = {
	{ "boot-source", h_put_boot_source, false },
	{ "machine-config", h_put_machine_config, false },
	{ "drives", NULL, true },
	{ "logger", h_put_logger, false },
	{ "metrics", h_put_metrics, false },
	{ "network-interfaces", NULL, true },
	{ "pmem", NULL, true },
	{ "balloon", NULL, false },
	{ "cpu-config", h_put_cpu_config, false },
	{ "memory-hotplug", NULL, false },
	{ "mmds-config", h_put_mmds_config, false },
	{ "vsock", NULL, false },
	{ "entropy", NULL, false },
	{ "serial", h_put_serial, false },
};

/* The table, then the device types' sections it does not list. Their count. */
static size_t config_sections(struct section *all)
{
	const struct mvm_device_type **types;
	unsigned int t, nt = mvm_device_types(&types);
	size_t i, n = ARRAY_SIZE(sections);

	memcpy(all, sections, sizeof(sections));
	for (t = 0; t < nt && n < MAX_SECTIONS; t++) {
		if (!types[t]->api)
			continue;
		for (i = 0; i < n && strcmp(all[i].key, types[t]->api); i++)
			;
		if (i == n)
			all[n++] = (struct section){ types[t]->api, NULL, !types[t]->singleton };
	}
	return n;
}

/* Runs one handler (fn, or t's PUT) under vmm->lock; 0, or -EINVAL with the fault in msg. */
static int config_apply_locked(struct vmm *vmm, api_handler_fn fn, const struct mvm_device_type *t,
			       const char *param, json_t *body, char *msg, size_t len)
{
	struct api_response r = { 0 };
	int err = 0;

	if (fn)
		fn(vmm, param, body, &r);
	else
		h_device_put(vmm, t, param, body, &r);
	if (r.status >= 300) {
		json_t *j = r.body ? json_loads(r.body, 0, NULL) : NULL;

		snprintf(msg, len, "%s",
			 json_string_value(json_object_get(j, "fault_message")) ?: "error");
		json_decref(j);
		err = -EINVAL;
	}
	api_response_free(&r);
	return err;
}

/* Runs one handler (fn, or t's PUT); 0, or -EINVAL with the fault printed. */
static int config_apply(struct vmm *vmm, const char *file, const char *what, api_handler_fn fn,
			const struct mvm_device_type *t, const char *param, json_t *body)
{
	char msg[1024];
	int err;

	pthread_mutex_lock(&vmm->lock);
	err = config_apply_locked(vmm, fn, t, param, body, msg, sizeof(msg));
	pthread_mutex_unlock(&vmm->lock);
	if (err)
		fprintf(stderr, "mvm: config file '%s': %s: %s\n", file, what, msg);
	return err;
}

/*
 * A JSON file (regular files only: a FIFO or a device would block the
 * start-up or never end). The value, or NULL with the reason printed;
 * what: the section it is for, NULL for the configuration file itself.
 */
static json_t *config_load(const char *path, const char *what)
{
	const char *prefix = what ? what : "config file";
	struct stat st;
	json_error_t e;
	json_t *j;
	int fd;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "mvm: %s '%s': %s\n", prefix, path,
			fd < 0 ? strerror(errno) : "not a regular file");
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	j = json_loadfd(fd, JSON_REJECT_DUPLICATES, &e);
	close(fd);
	if (!j)
		fprintf(stderr, "mvm: %s '%s': %s (line %d, column %d)\n", prefix, path, e.text,
			e.line, e.column);
	return j;
}

static int config_section(struct vmm *vmm, const char *file, const struct section *s, json_t *v)
{
	const struct mvm_device_type *t = s->fn ? NULL : mvm_device_type_by_api(s->key);
	const struct mvm_opt *ido = t ? mvm_type_id_opt(t) : NULL;
	const char *id_field = ido ? (ido->api ? ido->api : ido->name) : "id";
	char what[96];
	size_t i;
	json_t *e;

	if (json_is_null(v))
		return 0;
	/* As Firecracker's, "cpu-config" may be the path of a JSON file with the template. */
	if (s->fn == h_put_cpu_config && json_is_string(v)) {
		json_t *o = config_load(json_string_value(v), s->key);
		int err = -EINVAL;

		if (!o)
			return -EINVAL;
		if (json_is_object(o))
			err = config_apply(vmm, file, s->key, s->fn, t, NULL, o);
		else
			fprintf(stderr, "mvm: config file '%s': '%s': '%s' must hold an object\n",
				file, s->key, json_string_value(v));
		json_decref(o);
		return err;
	}
	if (s->array) {
		if (!json_is_array(v)) {
			fprintf(stderr, "mvm: config file '%s': '%s' must be an array\n", file,
				s->key);
			return -EINVAL;
		}
		if (!json_array_size(v))
			return 0;
	}
	if (!s->fn && !t) {
		fprintf(stderr, "mvm: config file '%s': '%s' is not supported by mvm yet\n", file,
			s->key);
		return -EINVAL;
	}
	if (!s->array) {
		if (!json_is_object(v)) {
			fprintf(stderr, "mvm: config file '%s': '%s' must be an object\n", file,
				s->key);
			return -EINVAL;
		}
		return config_apply(vmm, file, s->key, s->fn, t, NULL, v);
	}
	json_array_foreach (v, i, e) {
		const char *id = json_string_value(json_object_get(e, id_field));

		snprintf(what, sizeof(what), "%s[%zu]", s->key, i);
		if (!json_is_object(e) || !id) {
			fprintf(stderr,
				"mvm: config file '%s': %s: must be an object with a string "
				"'%s'\n",
				file, what, id_field);
			return -EINVAL;
		}
		if (config_apply(vmm, file, what, s->fn, t, id, e))
			return -EINVAL;
	}
	return 0;
}

int vmm_load_config_file(struct vmm *vmm, const char *path)
{
	struct api_response r = { 0 };
	struct section all[MAX_SECTIONS];
	const char *key;
	json_t *j, *v;
	size_t i, nr;
	int err = 0;

	j = config_load(path, NULL);
	if (!j)
		return -EINVAL;
	if (!json_is_object(j)) {
		fprintf(stderr, "mvm: config file '%s': must be a JSON object\n", path);
		err = -EINVAL;
		goto out;
	}
	nr = config_sections(all);
	json_object_foreach (j, key, v) {
		for (i = 0; i < nr; i++)
			if (!strcmp(all[i].key, key))
				break;
		if (i == nr) {
			fprintf(stderr, "mvm: config file '%s': unknown section '%s'\n", path, key);
			err = -EINVAL;
			goto out;
		}
	}
	/* In the order of the table: the logger (say) is set before the boot. */
	for (i = 0; i < nr; i++) {
		v = json_object_get(j, all[i].key);
		if (v) {
			err = config_section(vmm, path, &all[i], v);
			if (err)
				goto out;
		}
	}
	pthread_mutex_lock(&vmm->lock);
	/* On the main thread, which runs the VM next: no waiting for it. */
	vmm_instance_start(vmm, &r, false);
	pthread_mutex_unlock(&vmm->lock);
	if (r.status >= 300) {
		json_t *f = r.body ? json_loads(r.body, 0, NULL) : NULL;

		fprintf(stderr, "mvm: config file '%s': %s\n", path,
			json_string_value(json_object_get(f, "fault_message")) ?: "boot failed");
		json_decref(f);
		err = -EINVAL;
	}
	api_response_free(&r);
out:
	json_decref(j);
	return err;
}

int vmm_apply_vm_config(struct vmm *vmm, json_t *j, char *msg, size_t len)
{
	static const char *const host_side[] = { "boot-source", "logger", "metrics" };
	struct section all[MAX_SECTIONS];
	char fault[1024];
	size_t i, k, nr;
	json_t *v, *e;

	if (!json_is_object(j)) {
		snprintf(msg, len, "the configuration is not an object");
		return -EINVAL;
	}
	nr = config_sections(all);
	for (i = 0; i < nr; i++) {
		const struct mvm_device_type *t =
			all[i].fn ? NULL : mvm_device_type_by_api(all[i].key);
		const struct mvm_opt *ido = t ? mvm_type_id_opt(t) : NULL;
		const char *id_field = ido ? (ido->api ? ido->api : ido->name) : "id";

		for (k = 0; k < ARRAY_SIZE(host_side) && strcmp(all[i].key, host_side[k]); k++)
			;
		v = json_object_get(j, all[i].key);
		if (k < ARRAY_SIZE(host_side) || !v || json_is_null(v) ||
		    (json_is_array(v) && !json_array_size(v)))
			continue;
		if (!all[i].fn && !t) {
			snprintf(msg, len, "%s: not supported by mvm yet", all[i].key);
			return -EINVAL;
		}
		if (!all[i].array) {
			if (config_apply_locked(vmm, all[i].fn, t, NULL, v, fault, sizeof(fault)))
				goto fail;
			continue;
		}
		json_array_foreach (v, k, e) {
			const char *id = json_string_value(json_object_get(e, id_field));

			if (!id) {
				snprintf(fault, sizeof(fault), "an entry without its '%s'",
					 id_field);
				goto fail;
			}
			if (config_apply_locked(vmm, all[i].fn, t, id, e, fault, sizeof(fault)))
				goto fail;
		}
		continue;
	fail:
		snprintf(msg, len, "%s: %s", all[i].key, fault);
		return -EINVAL;
	}
	return 0;
}
