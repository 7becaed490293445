// SPDX-License-Identifier: MIT
/*
 * PUT|PATCH|GET /hotplug/memory: the virtio-mem device type (its resource
 * is "memory-hotplug", the config file's and GET /vm/config's name) served
 * on Firecracker's path; GET after boot adds what the guest has plugged.
 */
#include <errno.h>

#include "api_internal.h"
#include "mvm/vmem.h"

static const struct mvm_device_type *vmem_type(struct api_response *r)
{
	const struct mvm_device_type *t = mvm_device_type_by_api("memory-hotplug");

	if (!t)
		api_fault(r, 500, "no virtio-mem device type");
	return t;
}

void h_put_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const struct mvm_device_type *t = vmem_type(r);

	if (t)
		h_device_put(vmm, t, NULL, body, r);
}

void h_patch_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const struct mvm_device_type *t = vmem_type(r);

	if (t)
		h_device_patch(vmm, t, NULL, body, r);
}

void h_get_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	const struct mvm_device_type *t = vmem_type(r);
	struct mvm_devcfg *d;
	uint64_t plugged, requested;
	json_t *j;

	if (!t)
		return;
	d = mvm_config_find_device(&vmm->cfg, t, NULL);
	if (!d) {
		api_fault(r, 400, "no memory hot-plug device is configured (PUT /hotplug/memory)");
		return;
	}
	j = devtype_to_json(t, d->blob);
	if (j && vmm->state == VMM_RUNNING && !vmem_status(vmm->vm, &plugged, &requested) &&
	    (json_object_set_new(j, "plugged_size_mib",
				 json_integer((json_int_t)(plugged >> 20))) ||
	     json_object_set_new(j, "requested_size_mib",
				 json_integer((json_int_t)(requested >> 20))))) {
		json_decref(j);
		j = NULL;
	}
	api_json(r, j);
}
