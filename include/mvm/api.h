/* SPDX-License-Identifier: MIT */
/*
 * The control plane (src/api/): a VMM process's state (struct vmm) and the
 * Firecracker-compatible HTTP API that drives it over a Unix socket.
 *
 * A VMM started with `mvm --api-sock PATH` is configured through the API,
 * boots on PUT /actions {"action_type": "InstanceStart"} (vm_boot() on the
 * API thread) and hands the VM to the process's main thread, which runs it:
 *
 *	vmm = vmm_create(id);
 *	srv = api_server_start(vmm, path, NULL);
 *	if (vmm_wait_start(vmm, sigfd, &vm) == 0 && vm) vmm_run_vm(vmm, vm);
 *	vm = vmm_detach_vm(vmm); api_server_stop(srv); vm_destroy(vm); vmm_destroy(vmm);
 *
 * `mvm run` serves the same API for a VM it built itself: vmm_attach_vm().
 *
 * mvm extensions beside Firecracker's routes: GET /stats (JSON stats tree),
 * GET /metrics/prometheus (text), GET /devices, and the action
 * PUT /actions {"action_type": "Stop"} (ends the VM as SIGTERM does; there
 * is no Firecracker equivalent, Firecracker's clients kill the process).
 */
#ifndef MVM_API_H
#define MVM_API_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/config.h"
#include <stddef.h>

struct vm;
struct vmm;
struct api_server;

#define MVM_API_BODY_MAX (50 * 1024) /* Firecracker's limit: 51200 bytes */

/* A VMM process's state; id is its instance id (NULL: "mvm-<pid>"). */
struct vmm *vmm_create(const char *id);
/* Frees the VMM; its VM (if any) must have been destroyed first. */
void vmm_destroy(struct vmm *vmm);
const char *vmm_id(const struct vmm *vmm);
/* The guest console: serial input fd (-1: none) and output fd (default: stdout). */
void vmm_set_console(struct vmm *vmm, int in, int out);
/* GET /'s app_name and vmm_version (default: "mvm" and mvm's version). Static strings. */
void vmm_set_app(struct vmm *vmm, const char *app_name, const char *version);
/*
 * The process's start as Firecracker's --start-time-us, --start-time-cpu-us
 * and --parent-cpu-time-us give it (-1: not given), for the api_server
 * metrics process_startup_time_us and process_startup_time_cpu_us.
 */
void vmm_set_start_times(struct vmm *vmm, int64_t start_us, int64_t start_cpu_us,
			 int64_t parent_cpu_us);
/*
 * Runs one request as if it came on the API socket: the command line's
 * logger and metrics options are PUT /logger and PUT /metrics, checked
 * and answered the same way. 0, or -EINVAL with the fault_message in err.
 */
int vmm_request(struct vmm *vmm, const char *method, const char *url, const char *body, char *err,
		size_t len);
/* How the VM's virtio devices reach the guest (default: virtio-mmio, as Firecracker). */
void vmm_set_transport(struct vmm *vmm, enum mvm_transport transport);
/* --boot-timer: the VM gets Firecracker's boot timer device. */
void vmm_set_boot_timer(struct vmm *vmm, bool on);

/*
 * Waits (main thread) until InstanceStart built a VM (0, *vm set) or a
 * signal arrives on sigfd (a signalfd; returns the signal number).
 * -errno on error.
 */
int vmm_wait_start(struct vmm *vmm, int sigfd, struct vm **vm);
/*
 * Runs the VM vmm_wait_start() gave (vm_run() on the calling thread); lets
 * the waiting InstanceStart answer once the vCPUs run. vm_run()'s result.
 */
int vmm_run_vm(struct vmm *vmm, struct vm *vm);
/* For a VM started without InstanceStart (mvm run): state Running. 0 / -EBUSY. */
int vmm_attach_vm(struct vmm *vmm, struct vm *vm);
/*
 * The VM has stopped (vm_run() returned), or the process ends: from now on no
 * request uses the VM and the state is final (InstanceStart is refused).
 * Waits for a request using it to finish. Returns the VM (NULL if none) for
 * the caller to vm_destroy().
 */
struct vm *vmm_detach_vm(struct vmm *vmm);

/*
 * Applies a Firecracker-style JSON configuration file (boot-source,
 * machine-config, drives, logger, metrics, ...; what the API refuses it
 * refuses), then boots as InstanceStart does. 0 or -errno, with the reason
 * printed to stderr.
 */
int vmm_load_config_file(struct vmm *vmm, const char *path);
/*
 * On the main thread, as PUT /snapshot/load of dir/state with dir/memory
 * (the File backend): the restored VM is handed to vmm_wait_start(),
 * paused unless resume. 0, or -EINVAL with the fault printed.
 */
int vmm_load_snapshot_dir(struct vmm *vmm, const char *dir, bool resume);

/*
 * The MMDS store's size limit in bytes (--mmds-size-limit; before anything
 * is stored) and its initial contents from a JSON file (--metadata; path
 * may be NULL). 0, or -errno with the reason printed to stderr.
 */
int vmm_mmds_setup(struct vmm *vmm, size_t limit, const char *path);

struct api_server_opts {
	unsigned int timeout_s; /* idle connection timeout, 0: default (10 s) */
	unsigned int max_conns; /* concurrent connections, 0: default (256) */
	size_t max_payload;	/* bytes of a request body, 0: MVM_API_BODY_MAX */
};

/*
 * Creates, binds and listens on the Unix socket at path (an existing path is
 * refused unless it is a stale socket nobody listens on, which is replaced),
 * and serves the API on it from libmicrohttpd's own thread. The library is
 * loaded and its server started on the first connection (until then the
 * socket accepts into its backlog), by a thread made here: call this before
 * the calling thread enters its sandbox, which forbids mapping code. The
 * server or ERR_PTR(-errno), the reason printed with pr_err.
 */
struct api_server *api_server_start(struct vmm *vmm, const char *path,
				    const struct api_server_opts *opts);
/*
 * Loads the HTTP library now (the first connection does it otherwise): a
 * thread that enters its sandbox before it starts a server calls it first.
 * 0 or -ENOSYS.
 */
int api_server_preload(void);
/* Stops serving, closes and removes the socket. NULL/ERR_PTR is a no-op. */
void api_server_stop(struct api_server *srv);

#endif
