/* SPDX-License-Identifier: MIT */
/*
 * The control plane's view of a VM (libmvm-api: src/api/): the stats tree
 * as JSON and as Prometheus text, Firecracker-style metrics lines, the
 * devices listing, and the host's runtime registry of VMMs; used by the API
 * server and the management commands (src/cli/). Pause, resume and stop are
 * the core's (mvm/vm.h).
 *
 * Routes the management commands (mvm ls/stat/top/devices/pause/resume/stop)
 * expect from the API server; all are served on the VMM's API socket:
 *   GET  /                    InstanceInfo: {"id", "state", "vmm_version", "app_name"}
 *                             state is "Not started" | "Running" | "Paused"
 *   GET  /vm/config           FullVmConfiguration: machine-config.vcpu_count and
 *                             machine-config.mem_size_mib are read by `mvm ls`
 *   GET  /stats               200, body = vm_stats_json(vm); 400 fault_message before
 *                             InstanceStart
 *   GET  /devices             200, body = vm_devices_json(vm); 400 before InstanceStart
 *   GET  /metrics/prometheus  200, Content-Type "text/plain; version=0.0.4",
 *                             body = vm_stats_prometheus(vm)
 *   PATCH /vm {"state": "Paused"|"Resumed"}  -> vm_pause()/vm_resume(): 204;
 *                             -EALREADY is answered 204 too (idempotent, like Firecracker);
 *                             -EINVAL (not started) 400
 *   PUT  /actions {"action_type": "Stop"}    mvm extension, used by `mvm stop`:
 *                             vm_request_stop(vm, VM_STOP_API, 0) then 204 at once
 *                             (works from Paused too); before InstanceStart the
 *                             VMM process itself exits (answer 204 first). The
 *                             VMM exits 0 after an API stop.
 *   PUT  /actions {"action_type": "SendCtrlAltDel"} -> vm_send_ctrl_alt_del(vm)
 *   PUT  /actions {"action_type": "FlushMetrics"}   -> metrics_flush()
 *   PUT  /logger {"log_path", "level", "show_level", "show_log_origin"}
 *                             -> mvm_log_set_path() / mvm_log_level_parse() (mvm/log.h)
 */
#ifndef MVM_CONTROL_H
#define MVM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

#include "mvm/vm.h"

struct vm;

/* ---- stats and devices (src/api/stats_json.c, src/api/prometheus.c) ---- */

/*
 * The stats tree (DESIGN.md §1.1) as a new JSON object:
 *   { "id": "kvm-<pid>", "name": <vm name>, "paused": bool,
 *     "kvm": { <KVM binary stat>: number | [histogram buckets] },
 *     "mvm": { <mvm counter>: number },
 *     "vcpus":   [ { "index", "id": "kvm-<pid>/vcpu-<n>", "kvm": {...}, "mvm": {...} } ],
 *     "devices": [ { "name", "type", "id", "mvm": {...} } ] }
 * NULL on allocation failure. Caller json_decref()s.
 */
json_t *vm_stats_json(struct vm *vm);
/*
 * The VM's registered devices:
 *   [ { "name", "type", "bound": true, "ranges": [ { "bus": "pio"|"mmio"|"pci",
 *       "base": "0x3f8", "len": 8 } ] } ]
 * NULL on allocation failure. Caller json_decref()s.
 */
json_t *vm_devices_json(struct vm *vm);
/* The stats tree in Prometheus text exposition format 0.0.4; malloc'd, NULL on ENOMEM. */
char *vm_stats_prometheus(struct vm *vm);

/* ---- Firecracker-style metrics (src/api/metrics.c) ---- */

/*
 * A metrics sink: the path set by PUT /metrics (a file or a FIFO), written one
 * JSON line per flush: on FlushMetrics and every 60 s from a thread of its own.
 * Counters are deltas since the previous line, as Firecracker's.
 */
struct metrics;

/* Opens path (O_WRONLY|O_APPEND|O_CREAT; a FIFO must have a reader) and starts the 60 s timer. */
/*
 * Opens an existing log or metrics file or FIFO for appending, as Firecracker
 * does: never created or truncated; a symlink (-ELOOP) or anything but a
 * regular file or FIFO (-EINVAL) is refused; a FIFO without reader is -ENXIO.
 * The fd (O_NONBLOCK: a full FIFO drops lines) or -errno.
 */
int sink_open(const char *path);
struct metrics *metrics_open(const char *path); /* or ERR_PTR(-errno) */
/* The same with another period than 60 s (tests); period_ms > 0. */
struct metrics *metrics_open_period(const char *path, unsigned int period_ms);
/* The VM to report on, NULL before InstanceStart and before vm_destroy(). Any thread. */
void metrics_set_vm(struct metrics *m, struct vm *vm);
/* Writes one line now. 0 or -errno. */
int metrics_flush(struct metrics *m);
/* Writes a last line, stops the timer, closes. NULL is a no-op. */
void metrics_close(struct metrics *m);
/* One Firecracker-style metrics JSON line (with '\n') for vm (may be NULL) on fd. 0 or -errno. */
int metrics_write_line(int fd, struct vm *vm);

/* ---- runtime registry (src/api/runtime.c) ---- */

/*
 * One entry per VMM: <rundir>/<id>.json = {"id", "pid", "start_time", "socket"},
 * where rundir is $XDG_RUNTIME_DIR/mvm if XDG_RUNTIME_DIR is set, else /run/mvm
 * (created 0700). Entries whose pid is dead (or reused: start_time differs)
 * are stale: ls ignores and removes them.
 *
 * Who registers: `mvm --api-sock` when the VMM starts, before any VM exists
 * (src/cli/vmm.c); `mvm run` before vm_boot(), with the id it then gives the
 * VM as its name, so the identity is reserved before anything costly is
 * built (DESIGN.md §1.1). Not vm_create() itself: libmvm creates no files
 * outside mvm/sys.h, and the unit and fault tests build VMs that nobody
 * should list. Both unregister on every exit path (guest end, Stop,
 * SIGINT/SIGTERM, failed boot).
 */
#define MVM_RUNTIME_ID_SIZE 64

struct runtime_entry {
	char id[MVM_RUNTIME_ID_SIZE];
	pid_t pid;
	char sock[108]; /* sun_path */
};

/* rundir into buf (creating it). 0 or -errno (-ENAMETOOLONG). */
int runtime_dir(char *buf, size_t len);
/* The default API socket of a VM: <rundir>/<id>.sock. 0 or -errno. */
int runtime_sock_path(const char *id, char *buf, size_t len);
/*
 * Registers this process as VMM `id` with its API socket. -EEXIST if a live
 * process has the id (a stale entry is replaced), -EINVAL for a bad id
 * (empty, '/', leading '.', too long). 0 or -errno.
 */
int runtime_register(const char *id, const char *sock_path);
/* Removes the entry of `id` if it is this process's. Safe to call twice. */
void runtime_unregister(const char *id);
/* Looks up a live VMM by id. 0, -ENOENT (none, or stale). */
int runtime_lookup(const char *id, struct runtime_entry *e);
/*
 * Calls fn for each live entry (sorted by id), removing stale ones.
 * Returns the number of live entries or -errno.
 */
int runtime_list(int (*fn)(void *opaque, const struct runtime_entry *e), void *opaque);

#endif
