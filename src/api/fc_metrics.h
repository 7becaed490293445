/* SPDX-License-Identifier: MIT */
/*
 * Firecracker's metrics line: its groups and field names (what its clients
 * and its tests read), filled from mvm's counters. A field mvm does not
 * measure is 0 (README lists them).
 */
#ifndef MVM_API_FC_METRICS_H
#define MVM_API_FC_METRICS_H

#include <stdbool.h>

#include <jansson.h>

#include "mvm/stats.h"

struct vm;

enum fc_req_method { FC_REQ_GET, FC_REQ_PUT, FC_REQ_PATCH, FC_REQ_NR };

/* The resources of Firecracker's {get,put,patch}_api_requests groups. */
enum fc_req_res {
	FC_RES_NONE,
	FC_RES_ACTIONS,
	FC_RES_BOOT_SOURCE,
	FC_RES_DRIVE,
	FC_RES_LOGGER,
	FC_RES_MACHINE_CFG,
	FC_RES_CPU_CFG,
	FC_RES_METRICS,
	FC_RES_NETWORK,
	FC_RES_MMDS,
	FC_RES_VSOCK,
	FC_RES_PMEM,
	FC_RES_SERIAL,
	FC_RES_HOTPLUG_MEMORY,
	FC_RES_INSTANCE_INFO,
	FC_RES_VMM_VERSION,
	FC_RES_NR,
};

/* What the API side counts (the VMM's; atomics: read by the metrics thread unlocked). */
struct fc_api_metrics {
	mvm_counter_t count[FC_REQ_NR][FC_RES_NR];
	mvm_counter_t fails[FC_REQ_NR][FC_RES_NR];
	mvm_counter_t deprecated;		  /* requests that used a deprecated field */
	mvm_counter_t startup_us, startup_cpu_us; /* from --start-time-us & co */
	mvm_counter_t pause_us, resume_us;	  /* the last PATCH /vm's */
};

/* The resource a request path counts under ("/drives/x" -> FC_RES_DRIVE). */
enum fc_req_res fc_req_res_of(const char *path);
/* Counts a request and its outcome. */
void fc_api_count(struct fc_api_metrics *a, const char *method, const char *path,
		  unsigned int status, bool deprecated);

/*
 * The cumulative counters in Firecracker's shape (every group, every field),
 * for vm (NULL: none yet) and api (NULL: none); NULL on ENOMEM. ids
 * (fc_metrics_device_ids(), may be NULL) names the per-device groups
 * ("block_<drive_id>", "net_<iface_id>", "pmem_<id>") before there is a
 * VM; a VM's own configuration names them once there is one.
 */
json_t *fc_metrics_counters(struct vm *vm, const json_t *ids, const struct fc_api_metrics *api,
			    uint64_t metrics_fails);
/* The ids of cfg's devices that have per-device groups: {"block": [...], ...}; NULL: ENOMEM. */
struct mvm_config;
json_t *fc_metrics_device_ids(const struct mvm_config *cfg);
/* Whether a field keeps its value across lines (Firecracker's store metrics), else a delta. */
bool fc_metrics_is_store(const char *group, const char *field);

#endif
