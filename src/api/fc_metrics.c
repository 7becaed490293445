// SPDX-License-Identifier: MIT
/*
 * Firecracker's metrics line (docs/metrics.md of Firecracker, and what its
 * tests validate): a table of its groups and their fields, every one always
 * present, then filled from mvm's counters: the vCPUs' exits, the devices'
 * stats nodes (a device type's counters named as Firecracker's fields), the
 * API's request counts, the logger's lost lines. "_agg" fields are latency
 * aggregates {min_us, max_us, sum_us}.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fc_metrics.h"
#include "mvm/mmds.h"
#include "mvm/device.h"
#include "mvm/log.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

#define LIST(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *const block_fields[] = { "activate_fails",
					    "cfg_fails",
					    "no_avail_buffer",
					    "event_fails",
					    "execute_fails",
					    "invalid_reqs_count",
					    "flush_count",
					    "queue_event_count",
					    "rate_limiter_event_count",
					    "update_count",
					    "update_fails",
					    "read_bytes",
					    "write_bytes",
					    "read_count",
					    "write_count",
					    "rate_limiter_throttled_events",
					    "io_engine_throttled_events",
					    "remaining_reqs_count",
					    "read_agg",
					    "write_agg",
					    NULL };

static const char *const net_fields[] = { "activate_fails",
					  "cfg_fails",
					  "no_rx_avail_buffer",
					  "no_tx_avail_buffer",
					  "event_fails",
					  "rx_queue_event_count",
					  "rx_event_rate_limiter_count",
					  "rx_rate_limiter_throttled",
					  "rx_tap_event_count",
					  "rx_bytes_count",
					  "rx_packets_count",
					  "rx_fails",
					  "rx_count",
					  "tap_read_fails",
					  "tap_write_fails",
					  "tx_bytes_count",
					  "tx_malformed_frames",
					  "tx_fails",
					  "tx_count",
					  "tx_packets_count",
					  "tx_queue_event_count",
					  "tx_rate_limiter_event_count",
					  "tx_rate_limiter_throttled",
					  "tx_spoofed_mac_count",
					  "tx_remaining_reqs_count",
					  "tap_write_agg",
					  NULL };

/* Firecracker's resource names in the *_api_requests groups, by enum fc_req_res. */
static const char *const res_names[FC_RES_NR] = {
	[FC_RES_ACTIONS] = "actions",
	[FC_RES_BOOT_SOURCE] = "boot_source",
	[FC_RES_DRIVE] = "drive",
	[FC_RES_LOGGER] = "logger",
	[FC_RES_MACHINE_CFG] = "machine_cfg",
	[FC_RES_CPU_CFG] = "cpu_cfg",
	[FC_RES_METRICS] = "metrics",
	[FC_RES_NETWORK] = "network",
	[FC_RES_MMDS] = "mmds",
	[FC_RES_VSOCK] = "vsock",
	[FC_RES_PMEM] = "pmem",
	[FC_RES_SERIAL] = "serial",
	[FC_RES_HOTPLUG_MEMORY] = "hotplug_memory",
	[FC_RES_INSTANCE_INFO] = "instance_info",
	[FC_RES_VMM_VERSION] = "vmm_version",
};

/* Which resources each method's group has (Firecracker's order). */
static const enum fc_req_res get_res[] = { FC_RES_INSTANCE_INFO, FC_RES_MACHINE_CFG, FC_RES_MMDS,
					   FC_RES_VMM_VERSION, FC_RES_HOTPLUG_MEMORY };
static const enum fc_req_res put_res[] = { FC_RES_ACTIONS,	 FC_RES_BOOT_SOURCE, FC_RES_DRIVE,
					   FC_RES_LOGGER,	 FC_RES_MACHINE_CFG, FC_RES_CPU_CFG,
					   FC_RES_METRICS,	 FC_RES_NETWORK,     FC_RES_MMDS,
					   FC_RES_VSOCK,	 FC_RES_PMEM,	     FC_RES_SERIAL,
					   FC_RES_HOTPLUG_MEMORY };
static const enum fc_req_res patch_res[] = { FC_RES_DRIVE,	    FC_RES_NETWORK,
					     FC_RES_MACHINE_CFG,    FC_RES_MMDS,
					     FC_RES_HOTPLUG_MEMORY, FC_RES_PMEM };

struct fc_group {
	const char *name;
	const char *const *fields; /* NULL: an api_requests group, from the tables above */
	const char *device_type;   /* the devices whose stats nodes fill it */
};

static const struct fc_group groups[] = {
	{ "api_server", LIST("process_startup_time_us", "process_startup_time_cpu_us"), NULL },
	{ "balloon",
	  LIST("activate_fails", "inflate_count", "stats_updates_count", "stats_update_fails",
	       "deflate_count", "event_fails", "free_page_report_count", "free_page_report_freed",
	       "free_page_report_fails", "free_page_hint_count", "free_page_hint_freed",
	       "free_page_hint_fails"),
	  "virtio-balloon" },
	{ "block", block_fields, "virtio-blk" },
	{ "deprecated_api", LIST("deprecated_http_api_calls"), NULL },
	{ "get_api_requests", NULL, NULL },
	{ "i8042",
	  LIST("error_count", "missed_read_count", "missed_write_count", "read_count",
	       "reset_count", "write_count"),
	  "i8042" },
	{ "latencies_us",
	  LIST("full_create_snapshot", "diff_create_snapshot", "load_snapshot", "pause_vm",
	       "resume_vm", "vmm_full_create_snapshot", "vmm_diff_create_snapshot",
	       "vmm_load_snapshot", "vmm_pause_vm", "vmm_resume_vm"),
	  NULL },
	{ "logger",
	  LIST("missed_metrics_count", "metrics_fails", "missed_log_count",
	       "rate_limited_log_count"),
	  NULL },
	{ "mmds",
	  LIST("rx_accepted", "rx_accepted_err", "rx_accepted_unusual", "rx_bad_eth",
	       "rx_invalid_token", "rx_no_token", "rx_count", "tx_bytes", "tx_count", "tx_errors",
	       "tx_frames", "connections_created", "connections_destroyed"),
	  NULL },
	{ "net", net_fields, "virtio-net" },
	{ "patch_api_requests", NULL, NULL },
	{ "put_api_requests", NULL, NULL },
	{ "seccomp", LIST("num_faults"), NULL },
	{ "vcpu",
	  LIST("exit_io_in", "exit_io_out", "exit_mmio_read", "exit_mmio_write", "failures",
	       "kvmclock_ctrl_fails", "exit_io_in_agg", "exit_io_out_agg", "exit_mmio_read_agg",
	       "exit_mmio_write_agg"),
	  NULL },
	{ "vmm", LIST("panic_count"), NULL },
	{ "uart",
	  LIST("error_count", "flush_count", "missed_read_count", "missed_write_count",
	       "read_count", "write_count", "rate_limiter_dropped_bytes"),
	  "serial8250" },
	{ "signals", LIST("sigbus", "sigsegv", "sigxfsz", "sigxcpu", "sigpipe", "sighup", "sigill"),
	  NULL },
	{ "vsock",
	  LIST("activate_fails", "cfg_fails", "rx_queue_event_fails", "tx_queue_event_fails",
	       "ev_queue_event_fails", "muxer_event_fails", "conn_event_fails",
	       "rx_queue_event_count", "tx_queue_event_count", "rx_bytes_count", "tx_bytes_count",
	       "rx_packets_count", "tx_packets_count", "conns_added", "conns_killed",
	       "conns_removed", "killq_resync", "tx_flush_fails", "tx_write_fails",
	       "rx_read_fails"),
	  "virtio-vsock" },
	{ "entropy",
	  LIST("activate_fails", "entropy_event_fails", "entropy_event_count", "entropy_bytes",
	       "host_rng_fails", "entropy_rate_limiter_throttled", "rate_limiter_event_count"),
	  "virtio-rng" },
	{ "interrupts", LIST("triggers", "config_updates"), NULL },
	{ "pmem",
	  LIST("activate_fails", "cfg_fails", "event_fails", "queue_event_count",
	       "rate_limiter_throttled_events", "rate_limiter_event_count"),
	  "virtio-pmem" },
	{ "memory_hotplug",
	  LIST("activate_fails", "queue_event_fails", "queue_event_count", "plug_count",
	       "plug_bytes", "plug_fails", "plug_agg", "unplug_count", "unplug_bytes",
	       "unplug_fails", "unplug_discard_fails", "unplug_agg", "state_count", "state_fails",
	       "state_agg", "unplug_all_count", "unplug_all_fails", "unplug_all_agg"),
	  "virtio-mem" },
};

enum fc_req_res fc_req_res_of(const char *path)
{
	static const struct {
		const char *prefix;
		enum fc_req_res res;
	} map[] = {
		{ "/actions", FC_RES_ACTIONS },
		{ "/boot-source", FC_RES_BOOT_SOURCE },
		{ "/drives", FC_RES_DRIVE },
		{ "/logger", FC_RES_LOGGER },
		{ "/machine-config", FC_RES_MACHINE_CFG },
		{ "/cpu-config", FC_RES_CPU_CFG },
		{ "/metrics", FC_RES_METRICS },
		{ "/network-interfaces", FC_RES_NETWORK },
		{ "/mmds", FC_RES_MMDS },
		{ "/vsock", FC_RES_VSOCK },
		{ "/pmem", FC_RES_PMEM },
		{ "/serial", FC_RES_SERIAL },
		{ "/hotplug/memory", FC_RES_HOTPLUG_MEMORY },
		{ "/version", FC_RES_VMM_VERSION },
	};
	size_t i, n;

	if (!strcmp(path, "/"))
		return FC_RES_INSTANCE_INFO;
	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		n = strlen(map[i].prefix);
		if (!strncmp(path, map[i].prefix, n) && (path[n] == '\0' || path[n] == '/'))
			return map[i].res;
	}
	return FC_RES_NONE;
}

void fc_api_count(struct fc_api_metrics *a, const char *method, const char *path,
		  unsigned int status, bool deprecated)
{
	enum fc_req_res res = fc_req_res_of(path);
	int m = !strcmp(method, "GET")	   ? FC_REQ_GET
		: !strcmp(method, "PUT")   ? FC_REQ_PUT
		: !strcmp(method, "PATCH") ? FC_REQ_PATCH
					   : -1;

	if (deprecated)
		counter_inc(&a->deprecated);
	if (m < 0 || res == FC_RES_NONE)
		return;
	counter_inc(&a->count[m][res]);
	if (status >= 300)
		counter_inc(&a->fails[m][res]);
}

static json_t *agg_json(uint64_t min, uint64_t max, uint64_t sum)
{
	return json_pack("{s:I, s:I, s:I}", "min_us", (json_int_t)min, "max_us", (json_int_t)max,
			 "sum_us", (json_int_t)sum);
}

static bool is_agg(const char *field)
{
	size_t n = strlen(field);

	return n > 4 && !strcmp(field + n - 4, "_agg");
}

static void set(json_t *group, const char *field, uint64_t v)
{
	json_object_set_new(group, field, json_integer((json_int_t)v));
}

static void add(json_t *group, const char *field, uint64_t v)
{
	json_t *old = json_object_get(group, field);

	if (json_is_integer(old))
		set(group, field, (uint64_t)json_integer_value(old) + v);
}

static json_t *api_group(const struct fc_api_metrics *a, int method)
{
	const enum fc_req_res *res = method == FC_REQ_GET   ? get_res
				     : method == FC_REQ_PUT ? put_res
							    : patch_res;
	size_t i, n = method == FC_REQ_GET   ? sizeof(get_res) / sizeof(get_res[0])
		      : method == FC_REQ_PUT ? sizeof(put_res) / sizeof(put_res[0])
					     : sizeof(patch_res) / sizeof(patch_res[0]);
	json_t *g = json_object();
	char key[48];

	for (i = 0; g && i < n; i++) {
		snprintf(key, sizeof(key), "%s_count", res_names[res[i]]);
		set(g, key, a ? counter_read(&a->count[method][res[i]]) : 0);
		if (method == FC_REQ_GET)
			continue;
		snprintf(key, sizeof(key), "%s_fails", res_names[res[i]]);
		set(g, key, a ? counter_read(&a->fails[method][res[i]]) : 0);
	}
	return g;
}

/*
 * A device's counters into its group, by name. A legacy device's (UART,
 * i8042) register reads and writes are its read_count and write_count; a
 * virtio device's are not its requests (those it counts under their names).
 */
/* virtio-net's counters under Firecracker's names; others are named as Firecracker's already. */
static const char *fc_counter_name(const char *name)
{
	static const char *const names[][2] = {
		{ "rx_bytes", "rx_bytes_count" },
		{ "rx_packets", "rx_packets_count" },
		{ "rx_dropped", "rx_fails" },
		{ "rx_throttled", "rx_rate_limiter_throttled" },
		{ "tx_bytes", "tx_bytes_count" },
		{ "tx_packets", "tx_packets_count" },
		{ "tx_dropped", "tx_fails" },
		{ "tx_malformed", "tx_malformed_frames" },
		{ "tx_throttled", "tx_rate_limiter_throttled" },
	};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i][0]))
			return names[i][1];
	return name;
}

static void device_one(void *opaque, const struct stats_node *node, enum stats_source src,
		       const char *name, const uint64_t *vals, unsigned int n)
{
	json_t *g = opaque;
	bool is_virtio = json_object_get(g, "activate_fails") != NULL;

	(void)node;
	if (src != STATS_MVM || n != 1)
		return;
	if (!strcmp(name, "reads") || !strcmp(name, "writes")) {
		if (is_virtio)
			return;
		name = name[0] == 'r' ? "read_count" : "write_count";
	}
	add(g, fc_counter_name(name), vals[0]);
}

/* Also one "<name>_<id>" group per instance: Firecracker's per-device metrics. */
static bool per_device(const struct fc_group *gr)
{
	return !strcmp(gr->name, "block") || !strcmp(gr->name, "net") || !strcmp(gr->name, "pmem");
}

/*
 * The per-device group of dev (a group's type): "<group>_<id>" of its
 * configuration, the instance whose per-type index the device's name ends
 * with ("virtio-blk1" is the second drive), or NULL.
 */
static json_t *device_group(json_t *line, const json_t *ids, const struct fc_group *gr,
			    const struct mvm_device *dev)
{
	size_t n = strlen(dev->type);
	const char *id;
	char name[128], *end;
	unsigned long k;

	if (!per_device(gr) || strncmp(dev->name, dev->type, n) || !dev->name[n])
		return NULL;
	k = strtoul(dev->name + n, &end, 10);
	id = json_string_value(json_array_get(json_object_get(ids, gr->name), k));
	if (*end || !id)
		return NULL;
	snprintf(name, sizeof(name), "%s_%s", gr->name, id);
	return json_object_get(line, name);
}

static void fill_devices(json_t *line, struct vm *vm, const json_t *ids)
{
	struct mvm_device *dev;
	json_t *g;
	size_t i;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
			if (!groups[i].device_type || !dev->type ||
			    strcmp(groups[i].device_type, dev->type))
				continue;
			stats_node_visit(&dev->stats, device_one,
					 json_object_get(line, groups[i].name));
			g = device_group(line, ids, &groups[i], dev);
			if (g)
				stats_node_visit(&dev->stats, device_one, g);
		}
	}
	pthread_mutex_unlock(&vm->lock);
}

json_t *fc_metrics_device_ids(const struct mvm_config *cfg)
{
	json_t *ids = json_object(), *a;
	unsigned int j;
	size_t i;

	for (i = 0; ids && i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (!per_device(&groups[i]))
			continue;
		a = json_array();
		for (j = 0; a && j < cfg->nr_devices; j++)
			if (!strcmp(cfg->devices[j].type->name, groups[i].device_type) &&
			    json_array_append_new(a,
						  json_string(mvm_devcfg_id(&cfg->devices[j])))) {
				json_decref(a);
				a = NULL;
			}
		if (!a || json_object_set_new(ids, groups[i].name, a)) {
			json_decref(ids);
			return NULL;
		}
	}
	return ids;
}

/* A group with every field of gr at 0. */
static json_t *zero_group(const struct fc_group *gr)
{
	json_t *g = json_object();
	const char *const *f;

	for (f = gr->fields; g && *f; f++)
		if (json_object_set_new(g, *f, is_agg(*f) ? agg_json(0, 0, 0) : json_integer(0))) {
			json_decref(g);
			return NULL;
		}
	return g;
}

/* "<group>_<id>" for every configured instance of the per-device groups. 0 or -ENOMEM. */
static int add_device_groups(json_t *line, const json_t *ids)
{
	char name[128];
	size_t i, k;
	json_t *id;

	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		if (!per_device(&groups[i]))
			continue;
		json_array_foreach (json_object_get(ids, groups[i].name), k, id) {
			snprintf(name, sizeof(name), "%s_%s", groups[i].name,
				 json_string_value(id));
			if (json_object_set_new(line, name, zero_group(&groups[i])))
				return -ENOMEM;
		}
	}
	return 0;
}

static void fill_vcpus(json_t *g, struct vm *vm)
{
	static const char *const names[VCPU_IO_NR] = { "exit_io_in", "exit_io_out",
						       "exit_mmio_read", "exit_mmio_write" };
	unsigned int i, k, n = vm_online_vcpus(vm);
	char agg[32];

	for (k = 0; k < VCPU_IO_NR; k++) {
		uint64_t count = 0, sum = 0, min = 0, max = 0;

		for (i = 0; i < n; i++) {
			const struct vcpu_io_stat *st = &vm_vcpu(vm, i)->io[k];
			uint64_t m = counter_read(&st->min_us);

			count += counter_read(&st->count);
			sum += counter_read(&st->sum_us);
			if (m && (!min || m < min))
				min = m;
			if (counter_read(&st->max_us) > max)
				max = counter_read(&st->max_us);
		}
		set(g, names[k], count);
		snprintf(agg, sizeof(agg), "%s_agg", names[k]);
		json_object_set_new(g, agg, agg_json(min, max, sum));
	}
	for (i = 0; i < n; i++) {
		struct vcpu *c = vm_vcpu(vm, i);

		add(g, "failures",
		    counter_read(&c->exits[VCPU_EXIT_INTERNAL_ERROR]) +
			    counter_read(&c->exits[VCPU_EXIT_SHUTDOWN]) +
			    counter_read(&c->exits[VCPU_EXIT_OTHER]));
	}
}

static void fill_mmds(json_t *g, struct mmds_stats *st)
{
	set(g, "rx_accepted", counter_read(&st->rx_frames));
	set(g, "tx_frames", counter_read(&st->tx_frames));
	set(g, "rx_count", counter_read(&st->requests));
	set(g, "tx_errors", counter_read(&st->errors));
	set(g, "rx_invalid_token", counter_read(&st->bad_tokens));
}

json_t *fc_metrics_counters(struct vm *vm, const json_t *ids, const struct fc_api_metrics *api,
			    uint64_t metrics_fails)
{
	json_t *line = json_object(), *g, *vm_ids = NULL;
	size_t i;

	if (!line)
		return NULL;
	for (i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const struct fc_group *gr = &groups[i];

		if (!gr->fields) {
			g = api_group(api, !strcmp(gr->name, "get_api_requests")   ? FC_REQ_GET
					   : !strcmp(gr->name, "put_api_requests") ? FC_REQ_PUT
										   : FC_REQ_PATCH);
		} else {
			g = zero_group(gr);
		}
		if (!g || json_object_set_new(line, gr->name, g)) {
			json_decref(line);
			return NULL;
		}
	}
	/* A VM's devices are its configuration's, whatever the caller's list says. */
	if (vm)
		ids = vm_ids = fc_metrics_device_ids(&vm->cfg);
	if ((vm && !vm_ids) || (ids && add_device_groups(line, ids))) {
		json_decref(vm_ids);
		json_decref(line);
		return NULL;
	}
	if (api) {
		g = json_object_get(line, "api_server");
		set(g, "process_startup_time_us", counter_read(&api->startup_us));
		set(g, "process_startup_time_cpu_us", counter_read(&api->startup_cpu_us));
		set(json_object_get(line, "deprecated_api"), "deprecated_http_api_calls",
		    counter_read(&api->deprecated));
		g = json_object_get(line, "latencies_us");
		set(g, "pause_vm", counter_read(&api->pause_us));
		set(g, "vmm_pause_vm", counter_read(&api->pause_us));
		set(g, "resume_vm", counter_read(&api->resume_us));
		set(g, "vmm_resume_vm", counter_read(&api->resume_us));
	}
	g = json_object_get(line, "logger");
	set(g, "missed_log_count", mvm_log_missed());
	set(g, "metrics_fails", metrics_fails);
	set(g, "missed_metrics_count", metrics_fails);
	if (vm) {
		fill_vcpus(json_object_get(line, "vcpu"), vm);
		fill_devices(line, vm, ids);
		if (vm->cfg.mmds)
			fill_mmds(json_object_get(line, "mmds"), mmds_stats(vm->cfg.mmds));
	}
	json_decref(vm_ids);
	return line;
}

bool fc_metrics_is_store(const char *group, const char *field)
{
	if (!strcmp(field, "min_us") || !strcmp(field, "max_us"))
		return true;
	if (!strcmp(group, "signals"))
		return strcmp(field, "sigpipe") != 0;
	return !strcmp(group, "api_server") || !strcmp(group, "latencies_us") ||
	       !strcmp(group, "seccomp") || !strcmp(group, "vmm");
}
