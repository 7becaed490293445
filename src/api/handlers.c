// SPDX-License-Identifier: MIT
/*
 * The handlers of the Firecracker routes mvm implements, and of its
 * extensions. Each runs under vmm->lock with a body that is already a JSON
 * object (for the routes that take one); it checks the body against the
 * spec's schema (jc_check), then the state (pre-boot / post-boot), then
 * applies. A refused request changes nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "mvm/control.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/version.h"

/* Guest RAM bounds for mem_size_mib: mvm's minimum, and 1 TiB (a sanity cap). */
#define MEM_MIB_MIN ((long long)(MVM_MIN_MEM >> 20))
#define MEM_MIB_MAX (1LL << 20)

#define MSG_LEN 512

static const char *const cpu_templates[] = {
	"C3", "T2", "T2S", "T2CL", "T2A", "V1N1", "None", NULL
};
static const char *const huge_pages[] = { "None", "Transparent", "2M", NULL };
static const char *const log_levels[] = {
	"Error", "Warning", "Info", "Debug", "Trace", "Off", NULL
};
static const char *const actions[] = { "FlushMetrics", "InstanceStart", "SendCtrlAltDel", "Stop",
				       NULL };
static const char *const vm_states[] = { "Paused", "Resumed", NULL };

#define JC_INT64_MAX 0x7fffffffffffffffLL

/* Table rows (designated, so that every other member is zero). */
#define F_STR(n, req)                                         \
	{                                                     \
		.name = n, .type = JC_STRING, .required = req \
	}
#define F_BOOL(n, req)                                      \
	{                                                   \
		.name = n, .type = JC_BOOL, .required = req \
	}
#define F_INT(n, req, lo, hi)                                                    \
	{                                                                        \
		.name = n, .type = JC_INT, .required = req, .min = lo, .max = hi \
	}
#define F_ENUM(n, req, list)                                                 \
	{                                                                    \
		.name = n, .type = JC_STRING, .required = req, .enums = list \
	}
#define F_OBJ(n, req, fields)                                                \
	{                                                                    \
		.name = n, .type = JC_OBJECT, .required = req, .sub = fields \
	}
#define F_END                \
	{                    \
		.name = NULL \
	}

static const struct jc_field boot_source_fields[] = {
	F_STR("kernel_image_path", true),
	F_STR("boot_args", false),
	F_STR("initrd_path", false),
	F_END,
};

static const struct jc_field machine_config_put[] = {
	F_INT("vcpu_count", true, 1, 32),
	F_INT("mem_size_mib", true, MEM_MIB_MIN, MEM_MIB_MAX),
	F_BOOL("smt", false),
	F_BOOL("track_dirty_pages", false),
	F_ENUM("cpu_template", false, cpu_templates),
	F_ENUM("huge_pages", false, huge_pages),
	F_END,
};

/* PATCH: the same fields, none required. */
static const struct jc_field machine_config_patch[] = {
	F_INT("vcpu_count", false, 1, 32),
	F_INT("mem_size_mib", false, MEM_MIB_MIN, MEM_MIB_MAX),
	F_BOOL("smt", false),
	F_BOOL("track_dirty_pages", false),
	F_ENUM("cpu_template", false, cpu_templates),
	F_ENUM("huge_pages", false, huge_pages),
	F_END,
};

static const struct jc_field logger_fields[] = {
	{ .name = "level", .type = JC_STRING, .enums = log_levels, .nocase = true },
	F_STR("log_path", false),
	F_BOOL("show_level", false),
	F_BOOL("show_log_origin", false),
	F_STR("module", false),
	F_END,
};

static const struct jc_field metrics_fields[] = {
	F_STR("metrics_path", true),
	F_BOOL("emit_id", false),
	{ .name = "properties", .type = JC_STRMAP },
	F_END,
};

static const struct jc_field action_fields[] = {
	F_ENUM("action_type", true, actions),
	F_END,
};

static const struct jc_field vm_fields[] = {
	F_ENUM("state", true, vm_states),
	F_END,
};

/* ---- helpers ---- */

static bool checked(json_t *body, const struct jc_field *fields, struct api_response *r)
{
	char msg[MSG_LEN];

	if (!jc_check(body, fields, msg, sizeof(msg)))
		return true;
	api_fault(r, 400, "%s", msg);
	return false;
}

/* Pre-boot-only requests: refused once InstanceStart has run. */
bool vmm_preboot(struct vmm *vmm, const char *what, struct api_response *r)
{
	if (vmm->state == VMM_NOT_STARTED)
		return true;
	api_fault(r, 400, "%s is a pre-boot request: the VM has %s", what,
		  vmm->state == VMM_RUNNING ? "already started" : "stopped");
	return false;
}

/* Post-boot-only requests: need the running VM. */
bool vmm_postboot(struct vmm *vmm, const char *what, struct api_response *r)
{
	if (vmm->state == VMM_RUNNING && vmm->vm)
		return true;
	if (vmm->state == VMM_NOT_STARTED)
		api_fault(r, 400, "%s needs a started VM: send InstanceStart first", what);
	else
		api_fault(r, 400, "%s: the VM has stopped", what);
	return false;
}

/* Replaces *slot by a copy of s (NULL clears). 0 or -ENOMEM. */
static int set_str(char **slot, const char *s)
{
	char *c = NULL;

	if (s && !(c = strdup(s)))
		return -ENOMEM;
	free(*slot);
	*slot = c;
	return 0;
}

/* A host file the VMM will read (or write): exists, regular or a block device. */
static int check_host_file(const char *field, const char *path, bool write, struct api_response *r)
{
	struct stat st;

	if (!*path) {
		api_fault(r, 400, "field '%s': must not be empty", field);
		return -EINVAL;
	}
	if (stat(path, &st) || access(path, write ? R_OK | W_OK : R_OK)) {
		api_fault(r, 400, "field '%s': cannot use '%s': %s", field, path, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		api_fault(r, 400, "field '%s': '%s' is not a regular file or block device", field,
			  path);
		return -EINVAL;
	}
	return 0;
}

const char *vmm_state_name(struct vmm *vmm)
{
	switch (vmm->state) {
	case VMM_NOT_STARTED:
		return "Not started";
	case VMM_RUNNING:
		return vmm->vm && vm_is_paused(vmm->vm) ? "Paused" : "Running";
	case VMM_STOPPED:
		/* Not in the spec's enum: seen only while the process exits. */
		return "Stopped";
	}
	return "?";
}

/* ---- GET / and GET /version ---- */

void h_describe_instance(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	api_json(r, json_pack("{s:s, s:s, s:s, s:s}", "app_name", "mvm", "id", vmm->id, "state",
			      vmm_state_name(vmm), "vmm_version", MVM_VERSION));
}

void h_version(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	api_json(r, json_pack("{s:s}", "firecracker_version", MVM_VERSION));
}

/* ---- PUT /boot-source ---- */

void h_put_boot_source(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *kernel, *initrd;

	if (!checked(body, boot_source_fields, r) || !vmm_preboot(vmm, "PUT /boot-source", r))
		return;
	kernel = jc_str(body, "kernel_image_path");
	initrd = jc_str(body, "initrd_path");
	if (check_host_file("kernel_image_path", kernel, false, r))
		return;
	if (initrd && check_host_file("initrd_path", initrd, false, r))
		return;
	if (set_str(&vmm->kernel, kernel) || set_str(&vmm->cmdline, jc_str(body, "boot_args")) ||
	    set_str(&vmm->initrd, initrd)) {
		api_fault(r, 500, "out of memory");
		return;
	}
	vmm->boot_source_set = true;
	api_no_content(r);
}

/* ---- /machine-config ---- */

/* machine-config.huge_pages, by enum mvm_huge_pages. */
static const char *const huge_pages_names[] = { "None", "2M", "Transparent" };

static json_t *machine_config_json(struct vmm *vmm)
{
	return json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)vmm->cfg.cpus,
			 "mem_size_mib", (json_int_t)(vmm->cfg.mem_size >> 20), "smt", 0,
			 "track_dirty_pages", 0, "huge_pages",
			 huge_pages_names[vmm->cfg.huge_pages]);
}

void h_get_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	api_json(r, machine_config_json(vmm));
}

/*
 * Applies a checked machine-config body; absent fields keep cpus/mem, and
 * huge_pages on PATCH (PUT resets it to None, as Firecracker's defaults).
 */
static void machine_config_apply(struct vmm *vmm, json_t *body, bool put, struct api_response *r)
{
	const char *tmpl = jc_str(body, "cpu_template"), *hp = jc_str(body, "huge_pages");
	enum mvm_huge_pages huge = put ? MVM_HUGE_NONE : vmm->cfg.huge_pages;
	uint64_t mem;
	unsigned int i;

	/* What mvm cannot do is refused rather than ignored. */
	if (jc_bool(body, "smt", false)) {
		api_fault(r, 400, "field 'smt': true is not supported by mvm yet");
		return;
	}
	if (jc_bool(body, "track_dirty_pages", false)) {
		api_fault(r, 400, "field 'track_dirty_pages': true is not supported by mvm yet");
		return;
	}
	if (tmpl && strcmp(tmpl, "None")) {
		api_fault(r, 400,
			  "field 'cpu_template': \"%s\" is not supported by mvm yet (only "
			  "\"None\")",
			  tmpl);
		return;
	}
	for (i = 0; hp && i < ARRAY_SIZE(huge_pages_names); i++)
		if (!strcmp(hp, huge_pages_names[i]))
			huge = (enum mvm_huge_pages)i;
	mem = (uint64_t)jc_int(body, "mem_size_mib", (long long)(vmm->cfg.mem_size >> 20)) << 20;
	if (huge == MVM_HUGE_2M && mem % SZ_2M) {
		api_fault(r, 400,
			  "field 'huge_pages': \"2M\" needs mem_size_mib to be a multiple of 2 "
			  "(it is %llu)",
			  (unsigned long long)(mem >> 20));
		return;
	}
	vmm->cfg.cpus = (unsigned int)jc_int(body, "vcpu_count", vmm->cfg.cpus);
	vmm->cfg.mem_size = mem;
	vmm->cfg.huge_pages = huge;
	api_no_content(r);
}

void h_put_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	if (!checked(body, machine_config_put, r) || !vmm_preboot(vmm, "PUT /machine-config", r))
		return;
	machine_config_apply(vmm, body, true, r);
}

void h_patch_machine_config(struct vmm *vmm, const char *param, json_t *body,
			    struct api_response *r)
{
	if (!checked(body, machine_config_patch, r) ||
	    !vmm_preboot(vmm, "PATCH /machine-config", r))
		return;
	machine_config_apply(vmm, body, false, r);
}

/* ---- PUT /logger, PUT /metrics ---- */

void h_put_logger(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *path = jc_str(body, "log_path"), *lvl = jc_str(body, "level");
	enum mvm_log_level level;
	bool off = false;
	int err;

	if (!checked(body, logger_fields, r) || !vmm_preboot(vmm, "PUT /logger", r))
		return;
	if (jc_str(body, "module")) {
		api_fault(r, 400, "field 'module': filtering by module is not supported by mvm");
		return;
	}
	/* The spec's default level is Info. */
	if (mvm_log_level_parse(lvl ? lvl : "Info", &level, &off)) {
		api_fault(r, 400, "field 'level': \"%s\" is not a level", lvl);
		return;
	}
	if (path) {
		err = vmm->hooks.log_set_path(path);
		if (err) {
			api_fault(r, 400, "field 'log_path': cannot open '%s': %s", path,
				  strerror(-err));
			return;
		}
	}
	if (set_str(&vmm->log_path, path)) {
		api_fault(r, 500, "out of memory");
		return;
	}
	mvm_log_set_off(off);
	if (!off)
		mvm_log_set_level(level);
	vmm->show_level = jc_bool(body, "show_level", false);
	vmm->show_log_origin = jc_bool(body, "show_log_origin", false);
	mvm_log_set_options(vmm->show_level, vmm->show_log_origin);
	snprintf(vmm->log_level, sizeof(vmm->log_level), "%s", lvl ? lvl : "Info");
	vmm->logger_set = true;
	api_no_content(r);
}

void h_put_metrics(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *path = jc_str(body, "metrics_path");
	json_t *props = json_object_get(body, "properties");
	struct metrics *m;

	if (!checked(body, metrics_fields, r) || !vmm_preboot(vmm, "PUT /metrics", r))
		return;
	if (vmm->metrics) {
		api_fault(r, 400, "the metrics system is already initialized (metrics_path '%s')",
			  vmm->metrics_path);
		return;
	}
	if (jc_bool(body, "emit_id", false) || (json_is_object(props) && json_object_size(props))) {
		api_fault(r, 400, "fields 'emit_id'/'properties' are not supported by mvm yet");
		return;
	}
	if (!*path) {
		api_fault(r, 400, "field 'metrics_path': must not be empty");
		return;
	}
	m = vmm->hooks.metrics_open(path);
	if (IS_ERR_OR_NULL(m)) {
		api_fault(r, 400, "field 'metrics_path': cannot open '%s': %s", path,
			  strerror(m ? (int)-PTR_ERR(m) : ENOMEM));
		return;
	}
	if (set_str(&vmm->metrics_path, path)) {
		metrics_close(m);
		api_fault(r, 500, "out of memory");
		return;
	}
	vmm->metrics = m;
	api_no_content(r);
}

/* ---- PUT /actions, PATCH /vm ---- */

void h_actions(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *a;
	int err;

	if (!checked(body, action_fields, r))
		return;
	a = jc_str(body, "action_type");
	if (!strcmp(a, "InstanceStart")) {
		if (vmm_preboot(vmm, "InstanceStart", r))
			vmm_instance_start(vmm, r, true);
	} else if (!strcmp(a, "SendCtrlAltDel")) {
		if (!vmm_postboot(vmm, "SendCtrlAltDel", r))
			return;
		err = vm_send_ctrl_alt_del(vmm->vm);
		if (err)
			api_fault(r, 400, "SendCtrlAltDel: %s", strerror(-err));
		else
			api_no_content(r);
	} else if (!strcmp(a, "FlushMetrics")) {
		if (!vmm->metrics) {
			api_fault(r, 400,
				  "FlushMetrics: the metrics system is not initialized: PUT "
				  "/metrics first");
			return;
		}
		err = metrics_flush(vmm->metrics);
		if (err)
			api_fault(r, 400, "FlushMetrics: %s", strerror(-err));
		else
			api_no_content(r);
	} else { /* Stop, an mvm extension */
		if (vmm->state == VMM_STOPPED) {
			api_fault(r, 400, "Stop: the VM has stopped already");
			return;
		}
		if (vmm->vm) {
			vm_request_stop(vmm->vm, VM_STOP_API, 0);
		} else {
			vmm_ask_exit(vmm);
		}
		api_no_content(r);
	}
}

void h_patch_vm(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	bool pause;
	int err;

	if (!checked(body, vm_fields, r) || !vmm_postboot(vmm, "PATCH /vm", r))
		return;
	pause = !strcmp(jc_str(body, "state"), "Paused");
	err = pause ? vm_pause(vmm->vm) : vm_resume(vmm->vm);
	/* Idempotent, as Firecracker: pausing a paused VM is no error. */
	if (err && err != -EALREADY) {
		api_fault(r, 400, "%s the VM: %s", pause ? "pausing" : "resuming", strerror(-err));
		return;
	}
	api_no_content(r);
}

/* ---- GET /vm/config ---- */

void h_get_vm_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	json_t *j = json_object(), *v;

	if (!j)
		goto err;
	if (vmm->boot_source_set) {
		v = json_pack("{s:s}", "kernel_image_path", vmm->kernel);
		if (v && vmm->cmdline)
			json_object_set_new(v, "boot_args", json_string(vmm->cmdline));
		if (v && vmm->initrd)
			json_object_set_new(v, "initrd_path", json_string(vmm->initrd));
		if (json_object_set_new(j, "boot-source", v))
			goto err;
	}
	if (json_object_set_new(j, "machine-config", machine_config_json(vmm)))
		goto err;
	/* Every device type with an API resource: its instances, [] or null for none. */
	if (devtype_vm_config(vmm, j))
		goto err;
	if (!json_object_get(j, "network-interfaces"))
		json_object_set_new(j, "network-interfaces", json_array());
	if (vmm->logger_set) {
		v = json_pack("{s:s, s:b, s:b}", "level", vmm->log_level, "show_level",
			      vmm->show_level, "show_log_origin", vmm->show_log_origin);
		if (v && vmm->log_path)
			json_object_set_new(v, "log_path", json_string(vmm->log_path));
		json_object_set_new(j, "logger", v);
	}
	if (vmm->metrics_path)
		json_object_set_new(j, "metrics",
				    json_pack("{s:s}", "metrics_path", vmm->metrics_path));
	api_json(r, j);
	return;
err:
	json_decref(j);
	api_fault(r, 500, "out of memory building the configuration");
}

/* ---- mvm extensions: stats, Prometheus, devices ---- */

void h_stats(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	if (vmm_postboot(vmm, "GET /stats", r))
		api_json(r, vm_stats_json(vmm->vm));
}

void h_prometheus(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	char *text;

	if (!vmm_postboot(vmm, "GET /metrics/prometheus", r))
		return;
	text = vm_stats_prometheus(vmm->vm);
	if (!text) {
		api_fault(r, 500, "out of memory building the exposition");
		return;
	}
	free(r->body);
	r->body = text;
	r->status = 200;
	r->content_type = "text/plain; version=0.0.4";
}

void h_devices(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	if (vmm_postboot(vmm, "GET /devices", r))
		api_json(r, vm_devices_json(vmm->vm));
}
