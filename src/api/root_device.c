// SPDX-License-Identifier: MIT
/*
 * Firecracker's root device: the drive with is_root_device becomes the
 * guest's first disk (/dev/vda), and the kernel command line gets
 * "root=/dev/vda" (or "root=PARTUUID=<partuuid>") and "ro" or "rw" as the
 * drive is read-only or not. Read through the drives' API echo, so no
 * device is named here but by its API resource.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"

/* The root drive's index in cfg->devices, or -1; *first: the first drive's. */
static int find_root(const struct mvm_config *cfg, const struct mvm_device_type *t, int *first,
		     json_t **echo)
{
	unsigned int i;

	*first = -1;
	for (i = 0; i < cfg->nr_devices; i++) {
		json_t *j;

		if (cfg->devices[i].type != t)
			continue;
		if (*first < 0)
			*first = (int)i;
		j = devtype_to_json(t, cfg->devices[i].blob);
		if (json_is_true(json_object_get(j, "is_root_device"))) {
			*echo = j;
			return (int)i;
		}
		json_decref(j);
	}
	return -1;
}

int vmm_root_device(struct mvm_config *cfg, const char *cmdline, char **out)
{
	const struct mvm_device_type *t = mvm_device_type_by_api("drives");
	struct mvm_devcfg *d;
	const char *uuid;
	json_t *echo = NULL;
	int root, first;
	char *s;

	*out = NULL;
	root = t ? find_root(cfg, t, &first, &echo) : -1;
	if (root < 0)
		return 0;
	/* First among the drives, so that it is the guest's vda. */
	if (root > first) {
		d = malloc(sizeof(*d));
		if (!d) {
			json_decref(echo);
			return -ENOMEM;
		}
		*d = cfg->devices[root];
		memmove(&cfg->devices[first + 1], &cfg->devices[first],
			(size_t)(root - first) * sizeof(*d));
		cfg->devices[first] = *d;
		free(d);
	}
	uuid = json_string_value(json_object_get(echo, "partuuid"));
	if (asprintf(&s, "%s%sroot=%s%s %s", cmdline ? cmdline : "", cmdline ? " " : "",
		     uuid ? "PARTUUID=" : "/dev/vda", uuid ? uuid : "",
		     json_is_true(json_object_get(echo, "is_read_only")) ? "ro" : "rw") < 0)
		s = NULL;
	json_decref(echo);
	*out = s;
	return s ? 0 : -ENOMEM;
}
