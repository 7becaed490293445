/* SPDX-License-Identifier: MIT */
/* Inside the API server: the VMM's state, the router, the JSON checks. */
#ifndef MVM_API_INTERNAL_H
#define MVM_API_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "fc_metrics.h"
#include "mvm/api.h"
#include "mvm/config.h"
#include "mvm/vm.h"

struct metrics;
struct mvm_snapshot;
struct mem_backend;

/* Firecracker's instance states, plus the end. Paused is read off the VM. */
enum vmm_state {
	VMM_NOT_STARTED,
	VMM_RUNNING,
	VMM_STOPPED,
};

/*
 * What the VMM does with the outside world, replaceable so that the fuzzer
 * runs the router without booting VMs or creating files.
 */
struct vmm_hooks {
	struct vm *(*boot)(const struct mvm_config *cfg);
	struct metrics *(*metrics_open)(const char *path);
	int (*log_set_path)(const char *path);
	/* PUT /serial's serial_out_path: an fd to write the guest's output to, or -errno. */
	int (*serial_open)(const char *path);
	/* PUT /snapshot/load: the VM of cfg restored from the snapshot (vm_restore()). */
	struct vm *(*restore)(const struct mvm_config *cfg, const struct mvm_snapshot *s,
			      const struct mem_backend *backend, char *err, size_t errlen);
	/* Called when a Stop arrives before any VM exists: the process ends. */
	void (*exit_request)(struct vmm *vmm);
};

struct vmm {
	pthread_mutex_t lock; /* everything below; handlers run under it */
	char id[MVM_VM_NAME_SIZE];
	const char *app_name, *app_version; /* GET / */
	/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us; -1: not given */
	int64_t start_us, start_cpu_us, parent_cpu_us;
	enum vmm_state state;
	struct vm *vm; /* from InstanceStart (or attach) until detach */

	/*
	 * The pending configuration, devices included (their option blobs own
	 * their strings); cfg's boot strings point to the ones below.
	 */
	struct mvm_config cfg;
	char *kernel, *cmdline, *initrd;
	char *boot_cmdline; /* cmdline with the root device's arguments, from InstanceStart */
	bool boot_source_set;
	bool cpu_template_set;	 /* machine-config's deprecated cpu_template was given */
	char static_template[8]; /* machine-config's static cpu_template ("T2"), "": none */
	struct mvm_cpu_template *cpu_template; /* PUT /cpu-config's, NULL: none */
	/* A boot resource was configured (or a load failed): PUT /snapshot/load is refused. */
	bool boot_path;

	/* PUT /logger, echoed by GET /vm/config */
	bool logger_set;
	char *log_path;
	char log_level[8];
	bool show_level, show_log_origin;

	/* The MMDS store (PUT/PATCH/GET /mmds, PUT /mmds/config), for the VMM's life. */
	struct mmds *mmds;
	int serial_fd; /* PUT /serial's serial_out_path, -1: the console's */

	/* PUT /metrics */
	struct metrics *metrics;
	struct fc_api_metrics api_metrics; /* what the metrics lines report of the API */
	char *metrics_path;

	int start_fd; /* eventfd: InstanceStart handed a VM to the main thread */
	/*
	 * The hand-over to the main thread, under run_lock (not lock: the API
	 * thread waits under lock until the main thread has the vCPUs running,
	 * so that a PATCH /vm right after InstanceStart finds them).
	 */
	pthread_mutex_t run_lock;
	pthread_cond_t run_cond;
	struct vm *handoff; /* the VM InstanceStart built */
	bool exit_asked;    /* Stop before InstanceStart */
	int run_state;	    /* 0: not yet, 1: vCPUs started, -1: ended or never will */
	struct vmm_hooks hooks;
};

/* The VMM's API counters in the metrics lines (before the first flush). */
void metrics_set_api(struct metrics *m, const struct fc_api_metrics *api);
/* The configured devices' ids for the per-device groups (steals ids, may be NULL). */
void metrics_set_devices(struct metrics *m, json_t *ids);

/* ---- responses ---- */

struct api_response {
	unsigned int status;
	char *body;		  /* malloc'd, may be NULL (204) */
	const char *content_type; /* static */
	char allow[32];		  /* the path's methods when the method is wrong, else empty */
	bool deprecated;	  /* the request used a deprecated field: "Deprecation: true" */
};

void api_response_free(struct api_response *r);
/* {"fault_message": <printf>} with status. */
void api_fault(struct api_response *r, unsigned int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* 200 with a JSON body; steals j (NULL: 500). */
void api_json(struct api_response *r, json_t *j);
void api_no_content(struct api_response *r);

/*
 * The router: answers one request. method and url as the HTTP request line
 * has them (the url without its query), body may be NULL for none. Takes
 * vmm->lock. Never fails: every outcome is a response.
 */
void api_handle(struct vmm *vmm, const char *method, const char *url, const char *body, size_t len,
		struct api_response *r);

/* The log's lines for a request and its answer (request_log.c). */
void api_log_request(const char *method, const char *url, const char *body, size_t len);
void api_log_response(const struct api_response *r);

/* ---- JSON validation (json_check.c) ---- */

enum jc_type {
	JC_STRING,
	JC_BOOL,
	JC_INT,
	JC_OBJECT,   /* nested, checked against sub */
	JC_STRMAP,   /* object whose values are all strings */
	JC_OBJARRAY, /* array of objects, each checked against sub */
};

struct jc_field {
	const char *name;
	enum jc_type type;
	bool required;
	long long min, max;	    /* JC_INT: inclusive range */
	const char *const *enums;   /* JC_STRING: allowed values (NULL-ended), NULL: any */
	bool nocase;		    /* enums compare case-insensitively */
	const struct jc_field *sub; /* JC_OBJECT: fields, ended by a NULL name */
};

/*
 * Checks obj against fields (ended by a NULL name): an object, no unknown
 * member, every required one present, each of the right type, in range,
 * one of the enum values; strings hold no NUL and at most 4095 bytes. A
 * member set to null counts as absent (as serde's Option). 0, or -EINVAL
 * with msg = "field 'a.b': why".
 */
int jc_check(const json_t *obj, const struct jc_field *fields, char *msg, size_t len);
/* Member name of obj as a string, or NULL if absent/null. */
const char *jc_str(const json_t *obj, const char *name);
/* Member name as bool/int, def if absent/null (after jc_check). */
bool jc_bool(const json_t *obj, const char *name, bool def);
long long jc_int(const json_t *obj, const char *name, long long def);
/*
 * The text of the body being checked on this thread (NULL: none), for the
 * line and column of a fault, as serde_json gives them.
 */
void jc_source(const char *text, size_t len);
/* Parses body as a JSON object: the object or NULL with msg set. */
json_t *jc_parse_object(const char *body, size_t len, char *msg, size_t msglen);

/* A resource id in a path or a body: 1-64 of [A-Za-z0-9_], as Firecracker's. */
bool api_id_valid(const char *id);

/* ---- handlers (handlers.c), called by the router under vmm->lock ---- */

/* Pre-boot-only / post-boot-only requests: true, or false with the answer in r. */
bool vmm_preboot(struct vmm *vmm, const char *what, struct api_response *r);
bool vmm_postboot(struct vmm *vmm, const char *what, struct api_response *r);

/* ---- device types through the API (devtype_json.c) ---- */

/* Checks body against t's options and fills blob (defaults already in it). 0 or -errno + msg. */
int devtype_from_json(const struct mvm_device_type *t, const json_t *body, void *blob, bool patch,
		      char *msg, size_t len);
json_t *devtype_to_json(const struct mvm_device_type *t, const void *blob);
/* PUT /<api>[/{id}] (pre-boot) and PATCH (post-boot) of a device type's instance. */
void h_device_put(struct vmm *vmm, const struct mvm_device_type *t, const char *param, json_t *body,
		  struct api_response *r);
void h_device_patch(struct vmm *vmm, const struct mvm_device_type *t, const char *param,
		    json_t *body, struct api_response *r);
/* GET /<api>[/{id}]: the instance as configured. */
void h_device_get(struct vmm *vmm, const struct mvm_device_type *t, const char *param, json_t *body,
		  struct api_response *r);
/* Adds every type's instances to a GET /vm/config object. 0 or -ENOMEM. */
int devtype_vm_config(struct vmm *vmm, json_t *j);

typedef void (*api_handler_fn)(struct vmm *vmm, const char *param, json_t *body,
			       struct api_response *r);

void h_describe_instance(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_version(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_boot_source(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_get_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_machine_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_patch_machine_config(struct vmm *vmm, const char *param, json_t *body,
			    struct api_response *r);
void h_put_logger(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_metrics(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_serial(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_actions(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_patch_vm(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_get_vm_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_stats(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_prometheus(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_devices(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_patch_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_get_mmds(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_put_mmds_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
/* The "mmds-config" object of GET /vm/config, or NULL when not configured. */
json_t *mmds_config_json(struct vmm *vmm);
/* PUT|PATCH|GET /hotplug/memory: virtio-mem (hotplug.c). */
void h_put_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_patch_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_get_hotplug(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
/* The balloon's statistics and hinting runs (balloon.c). */
void h_get_balloon_stats(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_patch_balloon_stats(struct vmm *vmm, const char *param, json_t *body,
			   struct api_response *r);
void h_balloon_hint_start(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_balloon_hint_stop(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_balloon_hint_status(struct vmm *vmm, const char *param, json_t *body,
			   struct api_response *r);

/* PUT /cpu-config (cpu_config.c): Firecracker's custom CPU template. */
struct mvm_cpu_template;
void h_put_cpu_config(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
/* Parses a template body: 0, or -EINVAL with Firecracker's message in msg. */
int cpu_template_from_json(const json_t *j, struct mvm_cpu_template *t, char *msg, size_t len);
/* The template as Firecracker writes one (hex strings, "0bx..." bitmaps); NULL: no memory. */
json_t *cpu_template_to_json(const struct mvm_cpu_template *t);
/* machine-config's cpu_template: a static template's name, or "None". */
void cpu_template_select_static(struct vmm *vmm, const char *name);
/* GET /vm/config's "cpu-config": the custom template, or null. */
json_t *cpu_config_json(struct vmm *vmm);

/*
 * Boots the pending configuration (InstanceStart), under vmm->lock. With
 * wait, answers once the main thread has started the vCPUs (or ended).
 */
void vmm_instance_start(struct vmm *vmm, struct api_response *r, bool wait);
/*
 * Firecracker's root device (root_device.c): moves the drive with
 * is_root_device first among the drives and sets *out to cmdline with its
 * root= and ro/rw (malloc'd), or NULL without a root drive. 0 or -ENOMEM.
 */
int vmm_root_device(struct mvm_config *cfg, const char *cmdline, char **out);
/*
 * Hands a built VM (InstanceStart's, a restored one) to the main thread,
 * which runs it; with wait, returns once its vCPUs run. Under vmm->lock.
 */
void vmm_hand_off(struct vmm *vmm, struct vm *vm, bool wait);
/*
 * Applies a GET /vm/config object to the pending configuration through the
 * handlers of its sections, except the host-side ones (boot-source, logger,
 * metrics). Under vmm->lock. 0, or -EINVAL with the first fault in msg.
 */
int vmm_apply_vm_config(struct vmm *vmm, json_t *j, char *msg, size_t len);
/* PUT /snapshot/create, PUT /snapshot/load (snapshot.c). */
void h_snapshot_create(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);
void h_snapshot_load(struct vmm *vmm, const char *param, json_t *body, struct api_response *r);

/* Stop before InstanceStart: the main thread ends the process. */
void vmm_ask_exit(struct vmm *vmm);
const char *vmm_state_name(struct vmm *vmm);
/* A vmm with hooks (the fuzzer's); NULL hooks keep the defaults. */
struct vmm *vmm_create_hooked(const char *id, const struct vmm_hooks *hooks);

#endif
