// SPDX-License-Identifier: MIT
/*
 * The balloon's routes beyond its own resource (PUT/PATCH/GET /balloon are
 * the device type's, src/api/devtype_json.c): GET|PATCH /balloon/statistics
 * and the free page hinting runs, PATCH /balloon/hinting/start|stop and
 * GET /balloon/hinting/status, as Firecracker answers them: all post-boot,
 * a body checked before the state.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "mvm/balloon.h"

/* Firecracker's names of the guest's statistics, by virtio tag. */
static const char *const stat_names[BALLOON_S_NR] = {
	[BALLOON_S_SWAP_IN] = "swap_in",
	[BALLOON_S_SWAP_OUT] = "swap_out",
	[BALLOON_S_MAJFLT] = "major_faults",
	[BALLOON_S_MINFLT] = "minor_faults",
	[BALLOON_S_MEMFREE] = "free_memory",
	[BALLOON_S_MEMTOT] = "total_memory",
	[BALLOON_S_AVAIL] = "available_memory",
	[BALLOON_S_CACHES] = "disk_caches",
	[BALLOON_S_HTLB_PGALLOC] = "hugetlb_allocations",
	[BALLOON_S_HTLB_PGFAIL] = "hugetlb_failures",
	[BALLOON_S_OOM_KILL] = "oom_kill",
	[BALLOON_S_ALLOC_STALL] = "alloc_stall",
	[BALLOON_S_ASYNC_SCAN] = "async_scan",
	[BALLOON_S_DIRECT_SCAN] = "direct_scan",
	[BALLOON_S_ASYNC_RECLAIM] = "async_reclaim",
	[BALLOON_S_DIRECT_RECLAIM] = "direct_reclaim",
};

static const struct mvm_device_type *balloon_type(void)
{
	return mvm_device_type_by_api("balloon");
}

/* The configured balloon, or NULL with the answer in r. */
static struct mvm_devcfg *balloon_cfg(struct vmm *vmm, struct api_response *r)
{
	const struct mvm_device_type *t = balloon_type();
	struct mvm_devcfg *d = t ? mvm_config_find_device(&vmm->cfg, t, NULL) : NULL;

	if (!d)
		api_fault(r, 400, "no balloon device is configured (PUT /balloon before boot)");
	return d;
}

/* An error of a post-boot balloon call, as a 400 naming what. */
static void balloon_fault(struct api_response *r, const char *what, int err)
{
	if (err == -ENODEV)
		api_fault(r, 400, "%s: the VM has no balloon device", what);
	else if (err == -EOPNOTSUPP)
		api_fault(r, 400,
			  "%s: free page hinting was not enabled when the balloon was configured "
			  "(free_page_hinting)",
			  what);
	else
		api_fault(r, 400, "%s: %s", what, strerror(-err));
}

void h_get_balloon_stats(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	struct balloon_status st;
	unsigned int i;
	json_t *j;
	int err;

	if (!balloon_cfg(vmm, r) || !vmm_postboot(vmm, "GET /balloon/statistics", r))
		return;
	err = balloon_get_status(vmm->vm, &st);
	if (err) {
		balloon_fault(r, "GET /balloon/statistics", err);
		return;
	}
	if (!st.stats_enabled) {
		api_fault(r, 400,
			  "GET /balloon/statistics: statistics were not enabled when the balloon "
			  "was configured (stats_polling_interval_s)");
		return;
	}
	j = json_pack("{s:I, s:I, s:I, s:I}", "target_pages", (json_int_t)st.target_pages,
		      "actual_pages", (json_int_t)st.actual_pages, "target_mib",
		      (json_int_t)(st.target_pages / 256), "actual_mib",
		      (json_int_t)(st.actual_pages / 256));
	for (i = 0; j && i < BALLOON_S_NR; i++)
		if ((st.stats.have >> i & 1) &&
		    json_object_set_new(j, stat_names[i],
					json_integer((json_int_t)st.stats.val[i]))) {
			json_decref(j);
			j = NULL;
		}
	api_json(r, j);
}

void h_patch_balloon_stats(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	static const struct jc_field fields[] = {
		{ .name = "stats_polling_interval_s",
		  .type = JC_INT,
		  .required = true,
		  .min = 0,
		  .max = 86400 },
		{ .name = NULL },
	};
	const struct mvm_device_type *t = balloon_type();
	struct mvm_devcfg *d;
	unsigned char *blob;
	char msg[512];

	/* As Firecracker: the body is checked first; then this is a post-boot request. */
	if (jc_check(body, fields, msg, sizeof(msg))) {
		api_fault(r, 400, "%s", msg);
		return;
	}
	if (!vmm_postboot(vmm, "PATCH /balloon/statistics", r))
		return;
	d = balloon_cfg(vmm, r);
	if (!d)
		return;
	blob = malloc(MVM_DEVCFG_SIZE);
	if (!blob) {
		api_fault(r, 500, "out of memory");
		return;
	}
	/* The type's own table sets the field; after boot its update hook applies it. */
	memcpy(blob, d->blob, MVM_DEVCFG_SIZE);
	if (devtype_from_json(t, body, blob, true, msg, sizeof(msg)))
		api_fault(r, 400, "%s", msg);
	else if (t->update && t->update(vmm->vm, "", blob, msg, sizeof(msg)))
		api_fault(r, 400, "PATCH /balloon/statistics: %s", msg);
	else {
		memcpy(d->blob, blob, t->config_size);
		api_no_content(r);
	}
	free(blob);
}

void h_balloon_hint_start(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	static const struct jc_field fields[] = {
		{ .name = "acknowledge_on_stop", .type = JC_BOOL },
		{ .name = NULL },
	};
	char msg[512];
	int err;

	/* The body is optional: none, or a BalloonStartCmd. */
	if (body && jc_check(body, fields, msg, sizeof(msg))) {
		api_fault(r, 400, "%s", msg);
		return;
	}
	if (!balloon_cfg(vmm, r) || !vmm_postboot(vmm, "PATCH /balloon/hinting/start", r))
		return;
	err = balloon_hint_start(vmm->vm, body && jc_bool(body, "acknowledge_on_stop", false));
	if (err)
		balloon_fault(r, "PATCH /balloon/hinting/start", err);
	else
		api_no_content(r);
}

void h_balloon_hint_stop(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	int err;

	if (!balloon_cfg(vmm, r) || !vmm_postboot(vmm, "PATCH /balloon/hinting/stop", r))
		return;
	err = balloon_hint_stop(vmm->vm);
	if (err)
		balloon_fault(r, "PATCH /balloon/hinting/stop", err);
	else
		api_no_content(r);
}

void h_balloon_hint_status(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	struct balloon_hint_status st;
	json_t *j;
	int err;

	if (!balloon_cfg(vmm, r) || !vmm_postboot(vmm, "GET /balloon/hinting/status", r))
		return;
	err = balloon_hint_status(vmm->vm, &st);
	if (err) {
		balloon_fault(r, "GET /balloon/hinting/status", err);
		return;
	}
	j = json_pack("{s:I}", "host_cmd", (json_int_t)st.host_cmd);
	if (j && st.guest_seen &&
	    json_object_set_new(j, "guest_cmd", json_integer((json_int_t)st.guest_cmd))) {
		json_decref(j);
		j = NULL;
	}
	api_json(r, j);
}
