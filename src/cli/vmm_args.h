/* SPDX-License-Identifier: MIT */
/*
 * The command line of a VMM driven by Firecracker's API: `mvm --api-sock
 * ...` and mvm invoked as `firecracker`, which takes exactly Firecracker's
 * options (and its defaults, --version and exit codes).
 */
#ifndef MVM_CLI_VMM_ARGS_H
#define MVM_CLI_VMM_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Firecracker's exit code for a command line it cannot parse. */
#define FC_EXIT_ARG_PARSING 153

struct vmm_args {
	bool firecracker; /* invoked as `firecracker` */
	const char *sock, *config, *id;
	bool no_api, pci;
	bool boot_timer;	/* --boot-timer */
	unsigned int timeout_s; /* --api-timeout (mvm's), 0: default */
	int verbosity;		/* -v (mvm's) */
	size_t max_payload;	/* --http-api-max-payload-size, 0: default */
	const char *log_path;	/* --log-path */
	const char *level;	/* --level */
	const char *module;	/* --module */
	bool show_level, show_log_origin;
	const char *metrics_path;   /* --metrics-path */
	int seccomp;		    /* enum sandbox_mode: --no-seccomp, --seccomp (mvm's) */
	const char *seccomp_filter; /* --seccomp-filter FILE */
	const char *metadata;	    /* --metadata: the MMDS store's first contents */
	size_t mmds_limit;	    /* --mmds-size-limit, 0: default */
	/* --start-time-us, --start-time-cpu-us, --parent-cpu-time-us; -1: not given */
	int64_t start_time_us, start_time_cpu_us, parent_cpu_time_us;
	const char *restore; /* --restore DIR (mvm's): DIR/state and DIR/memory loaded */
	bool resume;	     /* --resume: the restored VM runs at once */
};

/*
 * Parses argv into a. -1: run the VMM; otherwise the process's exit status
 * (after --help, --version, or a usage error already printed).
 */
int vmm_args_parse(struct vmm_args *a, int argc, char **argv, bool firecracker);

#endif
