// SPDX-License-Identifier: MIT
/*
 * mvm --api-sock PATH [--config-file FILE] [--id ID]: a VMM process driven
 * through Firecracker's API (src/api/). The API thread configures and builds
 * the VM; this (main) thread runs it, then tears everything down: the
 * process exits when the guest ends, with mvm run's exit status, after
 * removing its socket and its runtime entry. SIGINT/SIGTERM end it the same
 * way, before or after InstanceStart.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "mvm/api.h"
#include "mvm/control.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/vm.h"

static void vmm_usage(FILE *f)
{
	fprintf(f, "usage: mvm --api-sock PATH [--config-file FILE] [--id ID] [options]\n"
		   "       mvm --config-file FILE [--no-api] [--id ID] [options]\n"
		   "\n"
		   "Starts a VMM that serves Firecracker's API (HTTP over the Unix socket PATH)\n"
		   "and boots on PUT /actions InstanceStart, or straight from FILE (Firecracker's\n"
		   "JSON configuration). It exits when the guest ends, with mvm run's status.\n"
		   "\n"
		   "      --api-sock PATH      the API socket (default with --config-file:\n"
		   "                           <runtime dir>/<id>.sock)\n"
		   "      --config-file FILE   configure from FILE and boot at once\n"
		   "      --no-api             with --config-file: serve no API\n"
		   "      --id ID              instance id (default mvm-<pid>)\n"
		   "      --api-timeout SECS   idle API connections are closed after SECS (10)\n"
		   "      --no-seccomp         no seccomp filters (as --seccomp off)\n"
		   "      --seccomp-filter FILE\n"
		   "                           allow-lists from FILE (JSON, see README.md)\n"
		   "      --seccomp on|off|log each thread under its filter (on, default); log:\n"
		   "                           forbidden calls are allowed and logged (audit)\n"
		   "  -v, --verbose            more log messages (repeat for debug)\n"
		   "  -h, --help               this help\n");
}

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

int cmd_vmm(int argc, char **argv)
{
	enum {
		OPT_SOCK = 256,
		OPT_CONFIG,
		OPT_ID,
		OPT_NO_API,
		OPT_TIMEOUT,
		OPT_NO_SECCOMP,
		OPT_SECCOMP_FILTER,
		OPT_SECCOMP
	};
	static const struct option opts[] = {
		{ "api-sock", required_argument, NULL, OPT_SOCK },
		{ "config-file", required_argument, NULL, OPT_CONFIG },
		{ "id", required_argument, NULL, OPT_ID },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "api-timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
		{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *sock = NULL, *config = NULL, *id = NULL, *filter = NULL;
	enum sandbox_mode sb = SANDBOX_ON;
	struct api_server_opts sopts = { 0 };
	struct api_server *srv = NULL;
	int verbosity = MVM_LOG_WARN, c, r, sigfd, console_in;
	int status = MVM_EXIT_FAILURE;
	char sock_buf[108];
	bool no_api = false, registered = false;
	struct vm *vm = NULL;
	struct vmm *vmm;
	sigset_t set;
	char *end;
	long t;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCK:
			sock = optarg;
			break;
		case OPT_CONFIG:
			config = optarg;
			break;
		case OPT_ID:
			id = optarg;
			break;
		case OPT_NO_API:
			no_api = true;
			break;
		case OPT_TIMEOUT:
			t = strtol(optarg, &end, 10);
			if (*end || end == optarg || t < 1 || t > 3600) {
				fprintf(stderr, "mvm: --api-timeout '%s': give 1 to 3600 seconds\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			sopts.timeout_s = (unsigned int)t;
			break;
		case OPT_NO_SECCOMP:
			sb = SANDBOX_OFF;
			break;
		case OPT_SECCOMP_FILTER:
			filter = optarg;
			break;
		case OPT_SECCOMP:
			if (sandbox_mode_parse(optarg, &sb)) {
				fprintf(stderr, "mvm: --seccomp '%s': give on, off or log\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			vmm_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mvm: try 'mvm --help'\n");
			return MVM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mvm: unexpected argument '%s'; try 'mvm --help'\n", argv[optind]);
		return MVM_EXIT_USAGE;
	}
	if (!sock && !config) {
		fprintf(stderr, "mvm: give --api-sock PATH or --config-file FILE\n");
		return MVM_EXIT_USAGE;
	}
	if (no_api && (sock || !config)) {
		fprintf(stderr, "mvm: --no-api goes with --config-file and without --api-sock\n");
		return MVM_EXIT_USAGE;
	}
	mvm_log_set_level(verbosity > MVM_LOG_DEBUG ? MVM_LOG_DEBUG : verbosity);
	if (filter && sb == SANDBOX_OFF) {
		fprintf(stderr, "mvm: --seccomp-filter and --no-seccomp exclude each other\n");
		return MVM_EXIT_USAGE;
	}
	if (sandbox_configure(sb, filter))
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

	vmm = vmm_create(id);
	if (IS_ERR(vmm))
		goto out_sig;
	mvm_log_set_id(vmm_id(vmm));
	console_in = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	vmm_set_console(vmm, console_in, STDOUT_FILENO);

	if (!sock && !no_api) {
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
	/* The API thread serves under its filter already; this one enters its own. */
	if (sandbox_enter(SANDBOX_VMM))
		goto out_server;
	if (config && vmm_load_config_file(vmm, config))
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
