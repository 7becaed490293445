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
#include <time.h>
#include <unistd.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/control.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/version.h"

/* Guest RAM bounds for mem_size_mib: mvm's minimum, and 1 TiB (a sanity cap). */
#define MEM_MIB_MIN ((long long)(MVM_MIN_MEM >> 20))
#define MEM_MIB_MAX (1LL << 20)

#define MSG_LEN 512

/* x86's static templates, in Firecracker's order (its "expected one of" list). */
static const char *const cpu_templates[] = { "C3", "T2", "T2S", "None", "T2CL", "T2A", NULL };
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

/*
 * The JSON types' ranges (Firecracker's u8 and usize); the values are then
 * checked with Firecracker's own messages (machine_config_apply).
 */
static const struct jc_field machine_config_put[] = {
	F_INT("vcpu_count", true, 0, 255),
	F_INT("mem_size_mib", true, 0, JC_INT64_MAX),
	F_BOOL("smt", false),
	F_BOOL("track_dirty_pages", false),
	F_ENUM("cpu_template", false, cpu_templates),
	F_ENUM("huge_pages", false, huge_pages),
	F_END,
};

/* PATCH: the same fields, none required. */
static const struct jc_field machine_config_patch[] = {
	F_INT("vcpu_count", false, 0, 255),
	F_INT("mem_size_mib", false, 0, JC_INT64_MAX),
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

/* TokenBucket: parsed so that a bad one is named, refused while mvm has no limiter. */
static const struct jc_field token_bucket_fields[] = {
	F_INT("size", true, 0, JC_INT64_MAX),
	F_INT("one_time_burst", false, 0, JC_INT64_MAX),
	F_INT("refill_time", true, 0, JC_INT64_MAX),
	F_END,
};

static const struct jc_field serial_fields[] = {
	F_STR("serial_out_path", false),
	F_OBJ("rate_limiter", false, token_bucket_fields),
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
	api_fault(r, 400, MSG_PREBOOT_ONLY);
	return false;
}

/* Post-boot-only requests: need the running VM. */
bool vmm_postboot(struct vmm *vmm, const char *what, struct api_response *r)
{
	if (vmm->state == VMM_RUNNING && vmm->vm)
		return true;
	if (vmm->state == VMM_NOT_STARTED)
		api_fault(r, 400, MSG_POSTBOOT_ONLY);
	else
		api_fault(r, 400, MSG_VM_STOPPED);
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

/*
 * A boot file the VMM will read: it opens, and is a regular file or a block
 * device (a FIFO would block the boot). 0 or -errno with the answer in r.
 */
static int check_boot_file(const char *fmt, const char *path, struct api_response *r)
{
	struct stat st;
	int err = 0;

	if (stat(path, &st) || access(path, R_OK))
		err = errno;
	else if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
		err = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
	if (err)
		api_fault(r, 400, fmt, strerror(err), err);
	return -err;
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
	api_json(r, json_pack("{s:s, s:s, s:s, s:s}", "app_name", vmm->app_name, "id", vmm->id,
			      "state", vmm_state_name(vmm), "vmm_version", vmm->app_version));
}

void h_version(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	/* The Firecracker API version mvm speaks, as `firecracker --version` says it. */
	api_json(r, json_pack("{s:s}", "firecracker_version", MVM_FIRECRACKER_VERSION));
}

/* ---- PUT /boot-source ---- */

void h_put_boot_source(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *kernel, *initrd;

	if (!checked(body, boot_source_fields, r) || !vmm_preboot(vmm, "PUT /boot-source", r))
		return;
	kernel = jc_str(body, "kernel_image_path");
	initrd = jc_str(body, "initrd_path");
	if (check_boot_file(MSG_KERNEL_OPEN, kernel, r))
		return;
	if (initrd && check_boot_file(MSG_INITRD_OPEN, initrd, r))
		return;
	if (set_str(&vmm->kernel, kernel) || set_str(&vmm->cmdline, jc_str(body, "boot_args")) ||
	    set_str(&vmm->initrd, initrd)) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	vmm->boot_source_set = true;
	api_no_content(r);
}

/* ---- /machine-config ---- */

/* machine-config.huge_pages, by enum mvm_huge_pages. */
static const char *const huge_pages_names[] = { "None", "2M", "Transparent" };

/*
 * Firecracker's MachineConfig; cpu_template once one was given: the static
 * template's name, or "None" (a custom template from PUT /cpu-config is not
 * a machine-config field).
 */
static json_t *machine_config_json(struct vmm *vmm)
{
	json_t *j = json_pack("{s:i, s:I, s:b, s:b, s:s}", "vcpu_count", (int)vmm->cfg.cpus,
			      "mem_size_mib", (json_int_t)(vmm->cfg.mem_size >> 20), "smt",
			      vmm->cfg.smt, "track_dirty_pages", vmm->cfg.track_dirty_pages,
			      "huge_pages", huge_pages_names[vmm->cfg.huge_pages]);
	const char *tmpl = vmm->static_template[0] ? vmm->static_template : "None";

	if (j && ((vmm->cpu_template_set && !vmm->cpu_template) || vmm->static_template[0]) &&
	    json_object_set_new(j, "cpu_template", json_string(tmpl))) {
		json_decref(j);
		return NULL;
	}
	return j;
}

void h_get_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	api_json(r, machine_config_json(vmm));
}

/*
 * Applies a checked machine-config body (PUT: whole, PATCH: absent fields
 * keep their values; PUT resets huge_pages to None, Firecracker's default),
 * with Firecracker's checks and messages. What mvm cannot do is refused
 * rather than ignored.
 */
static void machine_config_apply(struct vmm *vmm, json_t *body, const char *method,
				 struct api_response *r)
{
	const char *tmpl = jc_str(body, "cpu_template"), *hp = jc_str(body, "huge_pages");
	long long cpus = jc_int(body, "vcpu_count", vmm->cfg.cpus);
	long long mib = jc_int(body, "mem_size_mib", (long long)(vmm->cfg.mem_size >> 20));
	enum mvm_huge_pages huge = !strcmp(method, "PUT") ? MVM_HUGE_NONE : vmm->cfg.huge_pages;
	bool smt = jc_bool(body, "smt", !strcmp(method, "PUT") ? false : vmm->cfg.smt);
	unsigned int i;

	/* As Firecracker: with SMT, 1 or an even number of vCPUs (two threads a core). */
	if (cpus < 1 || cpus > 32 || (smt && cpus > 1 && cpus % 2)) {
		api_fault(r, 400, MSG_VCPU_COUNT);
		return;
	}
	if (mib == 0) {
		api_fault(r, 400, MSG_MEM_SIZE);
		return;
	}
	if (mib < MEM_MIB_MIN || mib > MEM_MIB_MAX) {
		if (mib < MEM_MIB_MIN)
			api_fault(r, 400, MSG_MEM_TOO_SMALL, MEM_MIB_MIN);
		else
			api_fault(r, 400, MSG_MEM_TOO_LARGE, MEM_MIB_MAX);
		return;
	}
	if (tmpl) {
		/* Deprecated, as in Firecracker: said in the log and the answer's header. */
		r->deprecated = true;
		pr_warn(MSG_CPU_TEMPLATE_DEPRECATED, method);
	}
	for (i = 0; hp && i < ARRAY_SIZE(huge_pages_names); i++)
		if (!strcmp(hp, huge_pages_names[i]))
			huge = (enum mvm_huge_pages)i;
	if (huge == MVM_HUGE_2M && mib % 2) {
		api_fault(r, 400,
			  "field 'huge_pages': \"2M\" needs mem_size_mib to be a multiple of 2 "
			  "(it is %lld)",
			  mib);
		return;
	}
	vmm->cfg.cpus = (unsigned int)cpus;
	vmm->cfg.mem_size = (uint64_t)mib << 20;
	vmm->cfg.huge_pages = huge;
	vmm->cfg.smt = smt;
	/* KVM's dirty log on RAM, for Diff snapshots (PUT resets it, as Firecracker's default). */
	vmm->cfg.track_dirty_pages = jc_bool(body, "track_dirty_pages",
					     strcmp(method, "PUT") && vmm->cfg.track_dirty_pages);
	if (tmpl || !strcmp(method, "PUT"))
		vmm->cpu_template_set = tmpl != NULL;
	if (tmpl)
		cpu_template_select_static(vmm, tmpl);
	api_no_content(r);
}

void h_put_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	if (!checked(body, machine_config_put, r) || !vmm_preboot(vmm, "PUT /machine-config", r))
		return;
	machine_config_apply(vmm, body, "PUT", r);
}

void h_patch_machine_config(struct vmm *vmm, const char *param, json_t *body,
			    struct api_response *r)
{
	if (!checked(body, machine_config_patch, r) ||
	    !vmm_preboot(vmm, "PATCH /machine-config", r))
		return;
	machine_config_apply(vmm, body, "PATCH", r);
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
		api_fault(r, 400, MSG_LOGGER_MODULE);
		return;
	}
	/* The spec's default level is Info. */
	if (mvm_log_level_parse(lvl ? lvl : "Info", &level, &off)) {
		api_fault(r, 400, MSG_LOGGER_LEVEL, lvl);
		return;
	}
	if (path) {
		err = vmm->hooks.log_set_path(path);
		if (err) {
			api_fault(r, 400, MSG_LOGGER_OPEN, strerror(-err), -err);
			return;
		}
	}
	if (set_str(&vmm->log_path, path)) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
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
		api_fault(r, 400, MSG_METRICS_INIT, MSG_METRICS_TWICE);
		return;
	}
	if (jc_bool(body, "emit_id", false) || (json_is_object(props) && json_object_size(props))) {
		api_fault(r, 400, MSG_METRICS_INIT, MSG_METRICS_EXTRA);
		return;
	}
	if (!*path) {
		api_fault(r, 400, MSG_METRICS_INIT, "the metrics path is empty");
		return;
	}
	m = vmm->hooks.metrics_open(path);
	if (IS_ERR_OR_NULL(m)) {
		int err = m ? (int)-PTR_ERR(m) : ENOMEM;
		char why[128];

		snprintf(why, sizeof(why), MSG_METRICS_OPEN, strerror(err), err);
		api_fault(r, 400, MSG_METRICS_INIT, why);
		return;
	}
	if (set_str(&vmm->metrics_path, path)) {
		metrics_close(m);
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	metrics_set_api(m, &vmm->api_metrics);
	metrics_set_devices(m, fc_metrics_device_ids(&vmm->cfg));
	vmm->metrics = m;
	api_no_content(r);
}

/* ---- PUT /serial ---- */

/* The guest's serial output goes to serial_out_path (hooks.serial_open) instead of stdout. */
void h_put_serial(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *path = jc_str(body, "serial_out_path");
	int fd = -1;

	if (!checked(body, serial_fields, r) || !vmm_preboot(vmm, "PUT /serial", r))
		return;
	if (json_is_object(json_object_get(body, "rate_limiter"))) {
		api_fault(r, 400, MSG_SERIAL_RATE_LIMITER);
		return;
	}
	if (path) {
		fd = vmm->hooks.serial_open(path);
		if (fd < 0) {
			api_fault(r, 400, MSG_SERIAL_OPEN, strerror(-fd), -fd);
			return;
		}
	}
	if (vmm->serial_fd >= 0)
		close(vmm->serial_fd);
	vmm->serial_fd = fd;
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
			api_fault(r, 400, MSG_CTRL_ALT_DEL, strerror(-err));
		else
			api_no_content(r);
	} else if (!strcmp(a, "FlushMetrics")) {
		/* As Firecracker: post-boot only; without PUT /metrics, nothing to write. */
		if (!vmm_postboot(vmm, "FlushMetrics", r))
			return;
		err = vmm->metrics ? metrics_flush(vmm->metrics) : 0;
		if (err)
			api_fault(r, 400, MSG_METRICS_FLUSH, strerror(-err));
		else
			api_no_content(r);
	} else { /* Stop, an mvm extension */
		if (vmm->state == VMM_STOPPED) {
			api_fault(r, 400, MSG_VM_STOPPED);
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
	struct timespec t0, t1;
	bool pause;
	int err;

	if (!checked(body, vm_fields, r) || !vmm_postboot(vmm, "PATCH /vm", r))
		return;
	pause = !strcmp(jc_str(body, "state"), "Paused");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	err = pause ? vm_pause(vmm->vm) : vm_resume(vmm->vm);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	/* Firecracker's latencies_us pause_vm / resume_vm: the last one's. */
	atomic_store(
		pause ? &vmm->api_metrics.pause_us : &vmm->api_metrics.resume_us,
		(uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000 + (t1.tv_nsec - t0.tv_nsec) / 1000));
	/* Idempotent, as Firecracker: pausing a paused VM is no error. */
	if (err && err != -EALREADY) {
		api_fault(r, 400, MSG_VM_PAUSE, pause ? "pausing" : "resuming", strerror(-err));
		return;
	}
	api_no_content(r);
}

/* ---- GET /vm/config ---- */

/*
 * The sections of Firecracker's full configuration that no device type of
 * mvm serves (yet): null, or [] for the lists, as Firecracker answers them
 * when unset. A device type serving one replaces its default.
 */
static const struct {
	const char *key;
	bool list;
} vm_config_defaults[] = {
	{ "balloon", false },		{ "drives", true },
	{ "cpu-config", false },	{ "mmds-config", false },
	{ "network-interfaces", true }, { "vsock", false },
	{ "entropy", false },		{ "pmem", true },
	{ "memory-hotplug", false },
};

/* Firecracker's BootSourceConfig: the kernel path ("" before PUT /boot-source), nulls. */
static json_t *boot_source_json(struct vmm *vmm)
{
	return json_pack("{s:s, s:s?, s:s?}", "kernel_image_path",
			 vmm->boot_source_set ? vmm->kernel : "", "initrd_path",
			 vmm->boot_source_set ? vmm->initrd : NULL, "boot_args",
			 vmm->boot_source_set ? vmm->cmdline : NULL);
}

/* Firecracker answers null for both; mvm echoes what PUT /logger and /metrics set. */
static json_t *logger_json(struct vmm *vmm)
{
	if (!vmm->logger_set)
		return json_null();
	return json_pack("{s:s?, s:s, s:b, s:b, s:n}", "log_path", vmm->log_path, "level",
			 vmm->log_level, "show_level", vmm->show_level, "show_log_origin",
			 vmm->show_log_origin, "module");
}

static json_t *metrics_json(struct vmm *vmm)
{
	if (!vmm->metrics_path)
		return json_null();
	return json_pack("{s:s, s:b}", "metrics_path", vmm->metrics_path, "emit_id", 0);
}

void h_get_vm_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	json_t *j = json_object(), *v;
	size_t i;

	if (!j || json_object_set_new(j, "boot-source", boot_source_json(vmm)) ||
	    json_object_set_new(j, "machine-config", machine_config_json(vmm)) ||
	    json_object_set_new(j, "logger", logger_json(vmm)) ||
	    json_object_set_new(j, "metrics", metrics_json(vmm)))
		goto err;
	/* Every device type with an API resource: its instances, [] or null for none. */
	if (devtype_vm_config(vmm, j))
		goto err;
	if (json_object_set_new(j, "cpu-config", cpu_config_json(vmm)))
		goto err;
	v = mmds_config_json(vmm);
	if (v && json_object_set_new(j, "mmds-config", v))
		goto err;
	for (i = 0; i < ARRAY_SIZE(vm_config_defaults); i++)
		if (!json_object_get(j, vm_config_defaults[i].key) &&
		    json_object_set_new(j, vm_config_defaults[i].key,
					vm_config_defaults[i].list ? json_array() : json_null()))
			goto err;
	api_json(r, j);
	return;
err:
	json_decref(j);
	api_fault(r, 500, MSG_OUT_OF_MEMORY);
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
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
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
