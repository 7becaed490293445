// SPDX-License-Identifier: MIT
/*
 * mvm --api-sock PATH [--config-file FILE] [--id ID], or mvm invoked as
 * firecracker (vmm_args.c parses both): a VMM process driven through
 * Firecracker's API (src/api/). The API thread configures and builds
 * the VM; this (main) thread runs it, then tears everything down: the
 * process exits when the guest ends, with mvm run's exit status, after
 * removing its socket and its runtime entry. SIGINT/SIGTERM end it the same
 * way, before or after InstanceStart.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>

#include "cli.h"
#include "mvm/api.h"
#include "mvm/control.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/mmds.h"
#include "mvm/sandbox.h"
#include "mvm/version.h"
#include "mvm/vm.h"
#include "vmm_args.h"

/* Runs the VM InstanceStart built, on this thread. The exit status. */
static int run_vm(struct vmm *vmm, struct vm *vm, int sigfd, int console_in)
{
	struct signal_stop ss;
	int err;

	if (signal_stop_watch(&ss, vm, sigfd))
		return MVM_EXIT_FAILURE;
	if (console_in >= 0)
		term_raw(console_in);
	err = vmm_run_vm(vmm, vm);
	term_restore();
	signal_stop_unwatch(&ss);
	if (err)
		return MVM_EXIT_FAILURE;
	pr_info("VM %s stopped: %s, status %d", vm->name, vm_stop_reason_name(vm_stop_reason(vm)),
		vm->stop_status);
	return vm->stop_status;
}

/*
 * The command line's logger and metrics options, as PUT /logger and PUT
 * /metrics (the same checks and messages). 0 or -EINVAL, printed.
 */
static int vmm_apply_args(struct vmm *vmm, const struct vmm_args *a)
{
	char err[512];
	json_t *j;
	char *body;
	int r = 0;

	vmm_set_start_times(vmm, a->start_time_us, a->start_time_cpu_us, a->parent_cpu_time_us);
	if (a->log_path || a->level || a->module || a->show_level || a->show_log_origin) {
		j = json_pack("{s:s?, s:s?, s:s?, s:b, s:b}", "log_path", a->log_path, "level",
			      a->level, "module", a->module, "show_level", a->show_level,
			      "show_log_origin", a->show_log_origin);
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		r = body ? vmm_request(vmm, "PUT", "/logger", body, err, sizeof(err)) : -ENOMEM;
		free(body);
		if (r) {
			fprintf(stderr, "%s: logger: %s\n", a->firecracker ? "firecracker" : "mvm",
				r == -ENOMEM ? strerror(ENOMEM) : err);
			return r;
		}
	}
	if (a->metrics_path) {
		j = json_pack("{s:s}", "metrics_path", a->metrics_path);
		body = j ? json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		r = body ? vmm_request(vmm, "PUT", "/metrics", body, err, sizeof(err)) : -ENOMEM;
		free(body);
		if (r) {
			fprintf(stderr, "%s: metrics: %s\n", a->firecracker ? "firecracker" : "mvm",
				r == -ENOMEM ? strerror(ENOMEM) : err);
			return r;
		}
	}
	return 0;
}

int cmd_vmm(int argc, char **argv, bool firecracker)
{
	struct api_server_opts sopts = { 0 };
	struct api_server *srv = NULL;
	int c, r, sigfd, console_in;
	int status = MVM_EXIT_FAILURE;
	char sock_buf[108];
	bool registered = false;
	struct vmm_args a;
	struct vm *vm = NULL;
	const char *sock;
	struct vmm *vmm;
	sigset_t set;

	c = vmm_args_parse(&a, argc, argv, firecracker);
	if (c >= 0)
		return c;
	sock = a.sock;
	sopts.timeout_s = a.timeout_s;
	sopts.max_payload = a.max_payload;
	/* Firecracker logs at Info by default; mvm at Warning, -v for more. */
	c = (firecracker ? MVM_LOG_INFO : MVM_LOG_WARN) + (a.verbosity + 1);
	mvm_log_set_level(c > MVM_LOG_DEBUG ? MVM_LOG_DEBUG : c);
	if (a.seccomp_filter && a.seccomp == SANDBOX_OFF) {
		fprintf(stderr, "%s: --seccomp-filter and --no-seccomp exclude each other\n",
			firecracker ? "firecracker" : "mvm");
		return MVM_EXIT_USAGE;
	}
	if (sandbox_configure(a.seccomp, a.seccomp_filter))
		return MVM_EXIT_FAILURE;
	/* A console or log reader that stops reading must not wedge the VMM. */
	sink_nonblocking(STDOUT_FILENO);
	sink_nonblocking(STDERR_FILENO);

	/* Before any thread exists: only the signalfd sees SIGINT/SIGTERM. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		fprintf(stderr, "mvm: signalfd: %s\n", strerror(errno));
		return MVM_EXIT_FAILURE;
	}

	vmm = vmm_create(a.id);
	if (IS_ERR(vmm))
		goto out_sig;
	mvm_log_set_id(vmm_id(vmm));
	if (firecracker) {
		vmm_set_app(vmm, "Firecracker", MVM_FIRECRACKER_VERSION);
		/* Firecracker's lines show neither level nor origin unless asked. */
		mvm_log_set_options(false, false);
	}
	if (vmm_apply_args(vmm, &a))
		goto out_vmm;
	if (firecracker)
		pr_info("Running Firecracker v%s", MVM_FIRECRACKER_VERSION);
	else
		pr_info("Running mvm v%s (Firecracker API v%s)", MVM_VERSION,
			MVM_FIRECRACKER_VERSION);
	console_in = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	vmm_set_console(vmm, console_in, STDOUT_FILENO);
	vmm_set_transport(vmm, a.pci ? MVM_TRANSPORT_PCI : MVM_TRANSPORT_MMIO);
	vmm_set_boot_timer(vmm, a.boot_timer);
	if ((a.metadata || a.mmds_limit) && vmm_mmds_setup(vmm, a.mmds_limit, a.metadata))
		goto out_vmm;

	if (!sock && !a.no_api) {
		r = runtime_sock_path(vmm_id(vmm), sock_buf, sizeof(sock_buf));
		if (r) {
			pr_err("no API socket path under the runtime directory: %s", strerror(-r));
			goto out_vmm;
		}
		sock = sock_buf;
	}
	/* The runtime entry exists before the VM: mvm ls sees a VMM waiting for InstanceStart. */
	r = runtime_register(vmm_id(vmm), sock ? sock : "");
	if (r == -EEXIST || r == -EINVAL) {
		pr_err("instance id '%s': %s", vmm_id(vmm),
		       r == -EEXIST ? "a running VMM has it already" : "not valid");
		goto out_vmm;
	}
	if (r)
		pr_warn("not registered in the runtime directory (%s): mvm ls will not list this "
			"VMM",
			strerror(-r));
	registered = !r;
	if (sock) {
		srv = api_server_start(vmm, sock, &sopts);
		if (IS_ERR(srv))
			goto out_unregister;
	}
	/* A configuration file's MMDS is built under this thread's filter. */
	if (a.config && mmds_net_preload())
		pr_warn("no MMDS: libslirp.so.0 cannot be loaded");
	/* The API thread serves under its filter already; this one enters its own. */
	if (sandbox_enter(SANDBOX_VMM))
		goto out_server;
	if (a.config && vmm_load_config_file(vmm, a.config))
		goto out_server;
	if (a.restore && vmm_load_snapshot_dir(vmm, a.restore, a.resume))
		goto out_server;

	r = vmm_wait_start(vmm, sigfd, &vm);
	if (r > 0) {
		pr_info("signal %d before InstanceStart: exiting", r);
		status = 128 + r;
	} else if (r < 0) {
		pr_err("waiting for InstanceStart: %s", strerror(-r));
	} else if (!vm) {
		status = 0; /* Stop before InstanceStart */
	} else {
		status = run_vm(vmm, vm, sigfd, console_in);
	}
	/* Also takes a VM an InstanceStart built while a signal was ending us. */
	vm = vmm_detach_vm(vmm);

out_server:
	api_server_stop(srv);
out_unregister:
	if (registered)
		runtime_unregister(vmm_id(vmm));
	vm_destroy(vm);
out_vmm:
	vmm_destroy(vmm);
out_sig:
	close(sigfd);
	return status;
}
