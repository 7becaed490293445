// SPDX-License-Identifier: MIT
/*
 * The MMDS through the API: PUT/PATCH/GET /mmds (the store, pre- and
 * post-boot) and PUT /mmds/config (pre-boot: the version, the address and
 * the interfaces the guest reaches it through).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "mvm/mmds.h"

int vmm_mmds_setup(struct vmm *vmm, size_t limit, const char *path)
{
	char msg[512];
	int err = 0;

	pthread_mutex_lock(&vmm->lock);
	if (limit && limit != mmds_limit(vmm->mmds)) {
		struct mmds *m = mmds_create(limit);

		if (!m) {
			err = -ENOMEM;
			snprintf(msg, sizeof(msg), "out of memory");
			goto out;
		}
		mmds_destroy(vmm->mmds);
		vmm->mmds = vmm->cfg.mmds = m;
	}
	if (path)
		err = mmds_load_file(vmm->mmds, path, msg, sizeof(msg));
out:
	pthread_mutex_unlock(&vmm->lock);
	if (err)
		fprintf(stderr, "mvm: --metadata %s\n", msg);
	return err;
}

void h_put_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	char msg[256];

	if (mmds_put(vmm->mmds, body, msg, sizeof(msg)))
		api_fault(r, 400, "%s", msg);
	else
		api_no_content(r);
}

void h_patch_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	char msg[256];

	if (mmds_patch(vmm->mmds, body, msg, sizeof(msg)))
		api_fault(r, 400, "%s", msg);
	else
		api_no_content(r);
}

void h_get_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	api_json(r, mmds_get(vmm->mmds));
}

/* A link-local address 169.254.[1-254].[0-255], as the spec's pattern. */
static bool ipv4_ok(const char *s, uint32_t *addr)
{
	struct in_addr a;
	uint32_t h;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	h = ntohl(a.s_addr);
	if (h >> 16 != (169u << 8 | 254u) || ((h >> 8) & 0xff) == 0 || ((h >> 8) & 0xff) == 255)
		return false;
	*addr = a.s_addr;
	return true;
}

/* The network-interfaces type's instance named id, configured in cfg? */
static bool iface_configured(struct mvm_config *cfg, const char *id)
{
	const struct mvm_device_type *t = mvm_device_type_by_api("network-interfaces");

	return t && mvm_config_find_device(cfg, t, id) != NULL;
}

void h_put_mmds_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r)
{
	static const char *const versions[] = { "V1", "V2", NULL };
	static const struct jc_field fields[] = {
		{ .name = "version", .type = JC_STRING, .enums = versions },
		{ .name = "ipv4_address", .type = JC_STRING },
		{ .name = "imds_compat", .type = JC_BOOL },
		{ .name = "network_interfaces", .type = JC_STRING }, /* checked below */
		{ .name = NULL },
	};
	json_t *ifaces = json_object_get(body, "network_interfaces"), *copy, *v;
	struct mmds_config c = { 0 };
	const char *ip;
	char msg[256];
	size_t i;

	if (!vmm_preboot(vmm, "PUT /mmds/config", r))
		return;
	if (!json_is_array(ifaces)) {
		api_fault(r, 400, "field 'network_interfaces': %s",
			  ifaces ? "must be an array of interface ids" : "is required");
		return;
	}
	/* The other fields through the common check (the array is not its kind). */
	copy = json_copy(body);
	if (!copy) {
		api_fault(r, 500, "out of memory");
		return;
	}
	json_object_del(copy, "network_interfaces");
	if (jc_check(copy, fields, msg, sizeof(msg))) {
		json_decref(copy);
		api_fault(r, 400, "%s", msg);
		return;
	}
	json_decref(copy);
	if (!json_array_size(ifaces) || json_array_size(ifaces) > MMDS_MAX_IFACES) {
		api_fault(r, 400, "field 'network_interfaces': give 1 to %d interface ids",
			  MMDS_MAX_IFACES);
		return;
	}
	json_array_foreach (ifaces, i, v) {
		const char *id = json_string_value(v);

		if (!id || !*id || strlen(id) > MMDS_IFACE_ID_MAX) {
			api_fault(r, 400,
				  "field 'network_interfaces[%zu]': must be an interface id", i);
			return;
		}
		if (!iface_configured(&vmm->cfg, id)) {
			api_fault(r, 400,
				  "field 'network_interfaces[%zu]': no network interface '%.64s': "
				  "PUT "
				  "/network-interfaces/%.64s first",
				  i, id, id);
			return;
		}
		snprintf(c.ifaces[c.nr_ifaces++], sizeof(c.ifaces[0]), "%s", id);
	}
	ip = jc_str(body, "ipv4_address");
	if (!ipv4_ok(ip ? ip : MMDS_DEFAULT_IPV4, &c.ipv4)) {
		api_fault(r, 400,
			  "field 'ipv4_address': '%.64s' is not a link-local address "
			  "169.254.[1-254].[0-255]",
			  ip);
		return;
	}
	c.version = jc_str(body, "version") && !strcmp(jc_str(body, "version"), "V2") ? MMDS_V2
										      : MMDS_V1;
	c.imds_compat = jc_bool(body, "imds_compat", false);
	mmds_set_config(vmm->mmds, &c);
	api_no_content(r);
}

json_t *mmds_config_json(struct vmm *vmm)
{
	struct mmds_config c;
	char ip[INET_ADDRSTRLEN];
	json_t *j, *a;

	mmds_get_config(vmm->mmds, &c);
	if (!c.set)
		return NULL;
	a = json_array();
	for (unsigned int i = 0; a && i < c.nr_ifaces; i++)
		json_array_append_new(a, json_string(c.ifaces[i]));
	inet_ntop(AF_INET, &c.ipv4, ip, sizeof(ip));
	j = json_pack("{s:s, s:o, s:s, s:b}", "version", c.version == MMDS_V2 ? "V2" : "V1",
		      "network_interfaces", a ? a : json_array(), "ipv4_address", ip, "imds_compat",
		      c.imds_compat);
	return j;
}
