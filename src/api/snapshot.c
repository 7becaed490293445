// SPDX-License-Identifier: MIT
/*
 * PUT /snapshot/create and PUT /snapshot/load, as Firecracker's: create on
 * a paused VM; load only into a fresh VMM (nothing configured for a boot),
 * building the VM from the configuration the snapshot stored, with the
 * request's host-side overrides (taps, the vsock socket).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/memory.h"
#include "mvm/snapshot.h"

static const char *const snapshot_types[] = { "Full", "Diff", NULL };
static const char *const backend_types[] = { "File", "Uffd", NULL };
static const char *const load_huge_pages[] = { "Snapshot", "None", "Transparent", "2M", NULL };

static const struct jc_field create_fields[] = {
	{ .name = "snapshot_type", .type = JC_STRING, .enums = snapshot_types },
	{ .name = "snapshot_path", .type = JC_STRING, .required = true },
	{ .name = "mem_file_path", .type = JC_STRING, .required = true },
	{ .name = NULL },
};

static const struct jc_field backend_fields[] = {
	{ .name = "backend_path", .type = JC_STRING, .required = true },
	{ .name = "backend_type", .type = JC_STRING, .required = true, .enums = backend_types },
	{ .name = NULL },
};

static const struct jc_field net_override_fields[] = {
	{ .name = "iface_id", .type = JC_STRING, .required = true },
	{ .name = "host_dev_name", .type = JC_STRING, .required = true },
	{ .name = NULL },
};

static const struct jc_field vsock_override_fields[] = {
	{ .name = "uds_path", .type = JC_STRING, .required = true },
	{ .name = NULL },
};

static const struct jc_field load_fields[] = {
	{ .name = "snapshot_path", .type = JC_STRING, .required = true },
	{ .name = "mem_file_path", .type = JC_STRING },
	{ .name = "mem_backend", .type = JC_OBJECT, .sub = backend_fields },
	{ .name = "enable_diff_snapshots", .type = JC_BOOL },
	{ .name = "track_dirty_pages", .type = JC_BOOL },
	{ .name = "resume_vm", .type = JC_BOOL },
	{ .name = "network_overrides", .type = JC_OBJARRAY, .sub = net_override_fields },
	{ .name = "vsock_override", .type = JC_OBJECT, .sub = vsock_override_fields },
	{ .name = "clock_realtime", .type = JC_BOOL },
	{ .name = "huge_pages", .type = JC_STRING, .enums = load_huge_pages },
	{ .name = NULL },
};

static bool body_ok(json_t *body, const struct jc_field *fields, struct api_response *r)
{
	char msg[1024];

	if (!jc_check(body, fields, msg, sizeof(msg)))
		return true;
	api_fault(r, 400, "%s", msg);
	return false;
}

/*
 * What GET /vm/config does not say but the VM's devices depend on (the
 * transport, the PIT, where the console is), under a key of mvm's own.
 */
#define PLATFORM_KEY "mvm-platform"

static char *config_with_platform(struct vmm *vmm, const char *text)
{
	json_t *j = json_loads(text, 0, NULL), *p;
	char *out = NULL;

	p = json_pack("{s:s, s:b, s:s}", "transport",
		      vmm->cfg.transport == MVM_TRANSPORT_PCI ? "pci" : "mmio", "pit", vmm->cfg.pit,
		      "console", vmm->cfg.console == MVM_CONSOLE_VIRTIO ? "virtio" : "serial");
	if (j && p && !json_object_set_new(j, PLATFORM_KEY, p))
		out = json_dumps(j, JSON_COMPACT);
	else
		json_decref(p);
	json_decref(j);
	return out;
}

/* The platform part back into the pending configuration. 0 or -EINVAL. */
static int platform_apply(struct vmm *vmm, json_t *cfg)
{
	json_t *p = json_object_get(cfg, PLATFORM_KEY);
	const char *t, *c;

	if (!p)
		return 0;
	t = json_string_value(json_object_get(p, "transport"));
	c = json_string_value(json_object_get(p, "console"));
	if (!json_is_object(p) || !t || !c || !json_is_boolean(json_object_get(p, "pit")))
		return -EINVAL;
	vmm->cfg.transport = !strcmp(t, "pci") ? MVM_TRANSPORT_PCI : MVM_TRANSPORT_MMIO;
	vmm->cfg.console = !strcmp(c, "virtio") ? MVM_CONSOLE_VIRTIO : MVM_CONSOLE_SERIAL;
	vmm->cfg.pit = json_is_true(json_object_get(p, "pit"));
	return 0;
}

void h_snapshot_create(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const char *type = jc_str(body, "snapshot_type");
	bool diff = type && !strcmp(type, "Diff");
	struct api_response cfg = { 0 };
	char err[1024], *json;
	int rc;

	if (!body_ok(body, create_fields, r) || !vmm_postboot(vmm, "PUT /snapshot/create", r))
		return;
	if (!vm_is_paused(vmm->vm)) {
		api_fault(r, 400, MSG_SNAP_RUNNING);
		return;
	}
	if (diff)
		pr_warn("Virtual machine diff snapshots is in development preview.");
	/* The configuration a restore builds the VM from: GET /vm/config's answer. */
	h_get_vm_config(vmm, NULL, NULL, &cfg);
	json = cfg.status == 200 && cfg.body ? config_with_platform(vmm, cfg.body) : NULL;
	api_response_free(&cfg);
	if (!json) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	rc = vm_snapshot_create(vmm->vm, json, diff ? MVM_SNAPSHOT_DIFF : MVM_SNAPSHOT_FULL,
				jc_str(body, "snapshot_path"), jc_str(body, "mem_file_path"), err,
				sizeof(err));
	free(json);
	if (rc == -EOPNOTSUPP)
		api_fault(r, 400, MSG_SNAP_NO_SUPPORT, err);
	else if (rc)
		api_fault(r, 400, MSG_SNAP_CREATE, err);
	else
		api_no_content(r);
}

/* The request's host-side overrides, into the stored configuration. 0, or the fault sent. */
static int apply_overrides(json_t *cfg, json_t *body, struct api_response *r)
{
	json_t *nets = json_object_get(cfg, "network-interfaces"), *o, *n = NULL;
	json_t *vs = json_object_get(body, "vsock_override");
	size_t i, k;

	json_array_foreach (json_object_get(body, "network_overrides"), i, o) {
		const char *id = jc_str(o, "iface_id");

		k = 0;
		json_array_foreach (nets, k, n)
			if (json_is_string(json_object_get(n, "iface_id")) &&
			    !strcmp(json_string_value(json_object_get(n, "iface_id")), id))
				break;
		if (!json_is_array(nets) || k == json_array_size(nets) || !n) {
			api_fault(r, 400, MSG_SNAP_UNKNOWN_NET);
			return -EINVAL;
		}
		if (json_object_set_new(n, "host_dev_name",
					json_string(jc_str(o, "host_dev_name"))))
			goto nomem;
	}
	if (vs && !json_is_null(vs)) {
		json_t *v = json_object_get(cfg, "vsock");

		if (!json_is_object(v)) {
			api_fault(r, 400, MSG_SNAP_UNKNOWN_VSOCK);
			return -EINVAL;
		}
		if (json_object_set_new(v, "uds_path", json_string(jc_str(vs, "uds_path"))))
			goto nomem;
	}
	return 0;
nomem:
	api_fault(r, 500, MSG_OUT_OF_MEMORY);
	return -ENOMEM;
}

/* Builds and hands off the restored VM; the VMM is no longer fresh after a try. */
static void load(struct vmm *vmm, json_t *body, const struct mvm_snapshot *snap,
		 const struct mem_backend *backend, bool wait, struct api_response *r)
{
	json_t *cfgj = json_loads(mvm_snapshot_config(snap), JSON_REJECT_DUPLICATES, NULL);
	struct mvm_config cfg;
	char err[1024];
	struct vm *vm;

	vmm->boot_path = true;
	if (!cfgj) {
		api_fault(r, 400, MSG_SNAP_LOAD, "the snapshot's configuration is not JSON");
		return;
	}
	if (apply_overrides(cfgj, body, r))
		goto out;
	if (platform_apply(vmm, cfgj)) {
		api_fault(r, 400, MSG_SNAP_LOAD, "the snapshot's platform settings are malformed");
		goto out;
	}
	if (vmm_apply_vm_config(vmm, cfgj, err, sizeof(err))) {
		api_fault(r, 400, MSG_SNAP_LOAD, err);
		goto out;
	}
	vmm->cfg.track_dirty_pages = jc_bool(body, "track_dirty_pages", false) ||
				     jc_bool(body, "enable_diff_snapshots", false);
	cfg = vmm->cfg;
	cfg.name = vmm->id;
	cfg.kernel = NULL;
	if (vmm->serial_fd >= 0)
		cfg.console_out = vmm->serial_fd;
	vm = vmm->hooks.restore(&cfg, snap, backend, err, sizeof(err));
	if (IS_ERR_OR_NULL(vm)) {
		api_fault(r, 400, MSG_SNAP_LOAD, vm ? err : "out of memory");
		goto out;
	}
	if (!jc_bool(body, "resume_vm", false) && vm_pause_before_run(vm)) {
		vm_destroy(vm);
		api_fault(r, 400, MSG_SNAP_RESUME, "the VM could not start paused");
		goto out;
	}
	vmm->cfg = cfg;
	vmm_hand_off(vmm, vm, wait);
	api_no_content(r);
out:
	json_decref(cfgj);
}

static void snapshot_load(struct vmm *vmm, json_t *body, bool wait, struct api_response *r)
{
	json_t *mb = json_object_get(body, "mem_backend");
	const char *mem_file = jc_str(body, "mem_file_path"), *hp;
	struct mem_backend backend = { MEM_BACKEND_FILE, mem_file };
	struct mvm_snapshot *snap;
	char err[1024];

	if (!body_ok(body, load_fields, r))
		return;
	if (json_is_null(mb))
		mb = NULL;
	if (!mb == !mem_file) {
		api_fault(r, 400, MSG_DESERIALIZE,
			  mb ? MSG_SNAP_TOO_MANY_MEM : MSG_SNAP_MISSING_MEM, "");
		return;
	}
	if (mem_file || jc_bool(body, "enable_diff_snapshots", false)) {
		r->deprecated = true;
		pr_warn(MSG_SNAP_LOAD_DEPRECATED);
	}
	if (!vmm_preboot(vmm, "PUT /snapshot/load", r))
		return;
	if (vmm->boot_path) {
		api_fault(r, 400, MSG_SNAP_LOAD_NOT_ALLOWED);
		return;
	}
	if (jc_bool(body, "clock_realtime", false)) {
		api_fault(r, 400, MSG_SNAP_UNSUPPORTED, "clock_realtime: true");
		return;
	}
	hp = jc_str(body, "huge_pages");
	if (hp && strcmp(hp, "Snapshot") && strcmp(hp, "None")) {
		api_fault(r, 400, MSG_SNAP_UNSUPPORTED, "restoring into huge pages");
		return;
	}
	if (mb) {
		backend.path = jc_str(mb, "backend_path");
		if (!strcmp(jc_str(mb, "backend_type"), "Uffd"))
			backend.kind = MEM_BACKEND_UFFD;
	}
	if (mvm_snapshot_open(jc_str(body, "snapshot_path"), &snap, err, sizeof(err))) {
		api_fault(r, 400, MSG_SNAP_LOAD_FILE, err);
		return;
	}
	load(vmm, body, snap, &backend, wait, r);
	mvm_snapshot_close(snap);
}

void h_snapshot_load(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	snapshot_load(vmm, body, true, r);
}

int vmm_load_snapshot_dir(struct vmm *vmm, const char *dir, bool resume)
{
	struct api_response r = { 0 };
	char state[4096], mem[4096];
	json_t *body, *f;
	int err = 0;

	if (snprintf(state, sizeof(state), "%s/state", dir) >= (int)sizeof(state) ||
	    snprintf(mem, sizeof(mem), "%s/memory", dir) >= (int)sizeof(mem)) {
		fprintf(stderr, "mvm: --restore '%s': path too long\n", dir);
		return -EINVAL;
	}
	body = json_pack("{s:s, s:{s:s, s:s}, s:b}", "snapshot_path", state, "mem_backend",
			 "backend_type", "File", "backend_path", mem, "resume_vm", resume);
	if (!body)
		return -ENOMEM;
	pthread_mutex_lock(&vmm->lock);
	/* On the main thread, which runs the VM next: no waiting for it. */
	snapshot_load(vmm, body, false, &r);
	pthread_mutex_unlock(&vmm->lock);
	json_decref(body);
	if (r.status >= 300) {
		f = r.body ? json_loads(r.body, 0, NULL) : NULL;
		fprintf(stderr, "mvm: --restore '%s': %s\n", dir,
			json_string_value(json_object_get(f, "fault_message")) ?: "failed");
		json_decref(f);
		err = -EINVAL;
	}
	api_response_free(&r);
	return err;
}
