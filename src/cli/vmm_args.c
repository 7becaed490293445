// SPDX-License-Identifier: MIT
/*
 * Firecracker's command line, for `mvm --api-sock ...` and for mvm invoked
 * as `firecracker`. Every Firecracker option is known and has
 * Firecracker's meaning. As `firecracker`, mvm's own
 * options (--api-timeout, -v) are not accepted, the defaults are
 * Firecracker's (/run/firecracker.socket, "anonymous-instance"), and a bad
 * command line exits 153 as Firecracker does.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mvm/api.h"
#include "mvm/snapshot.h"
#include "mvm/version.h"
#include "mvm/sandbox.h"
#include "vmm_args.h"

#define FC_DEFAULT_SOCK "/run/firecracker.socket"
#define FC_DEFAULT_ID	"anonymous-instance"

enum {
	OPT_SOCK = 256,
	OPT_CONFIG,
	OPT_ID,
	OPT_NO_API,
	OPT_ENABLE_PCI,
	OPT_LOG_PATH,
	OPT_LEVEL,
	OPT_MODULE,
	OPT_SHOW_LEVEL,
	OPT_SHOW_ORIGIN,
	OPT_METRICS_PATH,
	OPT_MAX_PAYLOAD,
	OPT_START_TIME,
	OPT_START_CPU_TIME,
	OPT_PARENT_CPU_TIME,
	OPT_VERSION,
	OPT_HELP,
	OPT_METADATA,
	OPT_MMDS_SIZE_LIMIT,
	OPT_NO_SECCOMP,
	OPT_SECCOMP_FILTER,
	OPT_BOOT_TIMER,
	OPT_DESCRIBE_SNAPSHOT,
	OPT_SNAPSHOT_VERSION,
	/* mvm's own */
	OPT_TIMEOUT = 512,
	OPT_SECCOMP,
	OPT_RESTORE,
	OPT_RESUME,
};

static const struct option fc_opts[] = {
	{ "api-sock", required_argument, NULL, OPT_SOCK },
	{ "id", required_argument, NULL, OPT_ID },
	{ "config-file", required_argument, NULL, OPT_CONFIG },
	{ "no-api", no_argument, NULL, OPT_NO_API },
	{ "enable-pci", no_argument, NULL, OPT_ENABLE_PCI },
	{ "log-path", required_argument, NULL, OPT_LOG_PATH },
	{ "level", required_argument, NULL, OPT_LEVEL },
	{ "module", required_argument, NULL, OPT_MODULE },
	{ "show-level", no_argument, NULL, OPT_SHOW_LEVEL },
	{ "show-log-origin", no_argument, NULL, OPT_SHOW_ORIGIN },
	{ "metrics-path", required_argument, NULL, OPT_METRICS_PATH },
	{ "http-api-max-payload-size", required_argument, NULL, OPT_MAX_PAYLOAD },
	{ "start-time-us", required_argument, NULL, OPT_START_TIME },
	{ "start-time-cpu-us", required_argument, NULL, OPT_START_CPU_TIME },
	{ "parent-cpu-time-us", required_argument, NULL, OPT_PARENT_CPU_TIME },
	{ "boot-timer", no_argument, NULL, OPT_BOOT_TIMER },
	{ "describe-snapshot", required_argument, NULL, OPT_DESCRIBE_SNAPSHOT },
	{ "snapshot-version", no_argument, NULL, OPT_SNAPSHOT_VERSION },
	{ "no-seccomp", no_argument, NULL, OPT_NO_SECCOMP },
	{ "seccomp-filter", required_argument, NULL, OPT_SECCOMP_FILTER },
	{ "metadata", required_argument, NULL, OPT_METADATA },
	{ "mmds-size-limit", required_argument, NULL, OPT_MMDS_SIZE_LIMIT },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
};

/* mvm's own, after Firecracker's (not accepted as `firecracker`). */
static const struct option mvm_opts[] = {
	{ "api-timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "restore", required_argument, NULL, OPT_RESTORE },
	{ "resume", no_argument, NULL, OPT_RESUME },
	{ "verbose", no_argument, NULL, 'v' },
};

static const struct {
	const char *opt, *help;
} fc_help[] = {
	{ "--api-sock <api-sock>", "Path to unix domain socket used by the API. [default: "
				   "\"" FC_DEFAULT_SOCK "\"]" },
	{ "--boot-timer", "Whether or not to load boot timer device for logging elapsed time "
			  "since InstanceStart command." },
	{ "--config-file <config-file>",
	  "Path to a file that contains the microVM configuration in JSON format." },
	{ "--describe-snapshot <describe-snapshot>",
	  "Print the data format version of the provided snapshot state file." },
	{ "--enable-pci", "Enables PCIe support." },
	{ "--help", "Show the help message." },
	{ "--http-api-max-payload-size <http-api-max-payload-size>",
	  "Http API request payload max size, in bytes. [default: \"51200\"]" },
	{ "--id <id>", "MicroVM unique identifier. [default: \"" FC_DEFAULT_ID "\"]" },
	{ "--level <level>", "Set the logger level." },
	{ "--log-path <log-path>",
	  "Path to a fifo or a file used for configuring the logger on startup." },
	{ "--metadata <metadata>", "Path to a file that contains metadata in JSON format to add "
				   "to the mmds." },
	{ "--metrics-path <metrics-path>",
	  "Path to a fifo or a file used for configuring the metrics on startup." },
	{ "--mmds-size-limit <mmds-size-limit>",
	  "Mmds data store limit, in bytes. [default: \"51200\"]" },
	{ "--module <module>", "Set the logger module filter." },
	{ "--no-api", "Optional parameter which allows starting and using a microVM without an "
		      "active API socket." },
	{ "--no-seccomp", "Optional parameter which allows starting and using a microVM without "
			  "seccomp filtering. Not recommended." },
	{ "--parent-cpu-time-us <parent-cpu-time-us>",
	  "Parent process CPU time (wall clock, microseconds). This parameter is optional." },
	{ "--seccomp-filter <seccomp-filter>",
	  "Optional parameter which allows specifying the path to a custom seccomp filter. For "
	  "advanced users. (mvm: a JSON allow-list file, see README)" },
	{ "--show-level", "Whether or not to output the level in the logs." },
	{ "--show-log-origin", "Whether or not to include the file path and line number of the "
			       "log's origin." },
	{ "--snapshot-version", "Print the supported data format version." },
	{ "--start-time-cpu-us <start-time-cpu-us>",
	  "Process start CPU time (wall clock, microseconds). This parameter is optional." },
	{ "--start-time-us <start-time-us>",
	  "Process start time (wall clock, microseconds). This parameter is optional." },
	{ "--version", "Print the binary version number." },
};

static void usage(FILE *f, bool firecracker)
{
	size_t i;

	if (firecracker)
		fprintf(f, "Firecracker v%s\n\n", MVM_FIRECRACKER_VERSION);
	else
		fprintf(f, "usage: mvm --api-sock PATH [--config-file FILE] [--id ID] [options]\n"
			   "       mvm --config-file FILE --no-api [--id ID] [options]\n"
			   "\n"
			   "Starts a VMM that serves Firecracker's API (HTTP over the Unix socket "
			   "PATH)\n"
			   "and boots on PUT /actions InstanceStart, or straight from FILE "
			   "(Firecracker's\n"
			   "JSON configuration). It exits when the guest ends, with mvm run's "
			   "status.\n"
			   "Firecracker's options (invoked as `firecracker`, mvm takes exactly "
			   "these):\n\n");
	for (i = 0; i < sizeof(fc_help) / sizeof(fc_help[0]); i++)
		fprintf(f, "  %s\n        %s\n", fc_help[i].opt, fc_help[i].help);
	if (!firecracker)
		fprintf(f, "\nmvm's own:\n"
			   "  --api-timeout SECS\n        idle API connections are closed after "
			   "SECS (10)\n"
			   "  -v, --verbose\n        more log messages (repeat for debug)\n"
			   "  --restore DIR [--resume]\n        load the snapshot DIR/state with "
			   "its memory DIR/memory (PUT /snapshot/load)\n"
			   "\nWithout --api-sock, --config-file serves the API on <runtime "
			   "dir>/<id>.sock.\n");
}

/* A bad command line: Firecracker's words and exit code as firecracker, mvm's else. */
static int bad_usage(bool firecracker, const char *fmt, const char *arg)
{
	if (firecracker) {
		fprintf(stderr, "Arguments parsing error: ");
		fprintf(stderr, fmt, arg);
		fprintf(stderr, " \n\nFor more information try --help.\n");
		return FC_EXIT_ARG_PARSING;
	}
	fprintf(stderr, "mvm: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "; try 'mvm --api-sock x --help'\n");
	return MVM_EXIT_USAGE;
}

/* A u64 option's value; -1 if malformed. */
static int64_t parse_u64(const char *s)
{
	unsigned long long v;
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v > INT64_MAX)
		return -1;
	return (int64_t)v;
}

int vmm_args_parse(struct vmm_args *a, int argc, char **argv, bool firecracker)
{
	struct option opts[sizeof(fc_opts) / sizeof(fc_opts[0]) +
			   sizeof(mvm_opts) / sizeof(mvm_opts[0]) + 1];
	size_t n = 0;
	int64_t v;
	int c;

	memset(a, 0, sizeof(*a));
	a->firecracker = firecracker;
	a->verbosity = -1;
	a->seccomp = SANDBOX_ON;
	a->start_time_us = a->start_time_cpu_us = a->parent_cpu_time_us = -1;
	memcpy(opts, fc_opts, sizeof(fc_opts));
	n = sizeof(fc_opts) / sizeof(fc_opts[0]);
	if (!firecracker) {
		memcpy(opts + n, mvm_opts, sizeof(mvm_opts));
		n += sizeof(mvm_opts) / sizeof(mvm_opts[0]);
	}
	memset(&opts[n], 0, sizeof(opts[n]));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, firecracker ? ":" : ":v", opts, NULL)) != -1) {
		switch (c) {
		case OPT_SOCK:
			a->sock = optarg;
			break;
		case OPT_CONFIG:
			a->config = optarg;
			break;
		case OPT_ID:
			a->id = optarg;
			break;
		case OPT_NO_API:
			a->no_api = true;
			break;
		case OPT_ENABLE_PCI:
			a->pci = true;
			break;
		case OPT_BOOT_TIMER:
			a->boot_timer = true;
			break;
		case OPT_LOG_PATH:
			a->log_path = optarg;
			break;
		case OPT_LEVEL:
			a->level = optarg;
			break;
		case OPT_MODULE:
			a->module = optarg;
			break;
		case OPT_SHOW_LEVEL:
			a->show_level = true;
			break;
		case OPT_SHOW_ORIGIN:
			a->show_log_origin = true;
			break;
		case OPT_METRICS_PATH:
			a->metrics_path = optarg;
			break;
		case OPT_NO_SECCOMP:
			a->seccomp = SANDBOX_OFF;
			break;
		case OPT_SECCOMP_FILTER:
			a->seccomp_filter = optarg;
			break;
		case OPT_SECCOMP: {
			enum sandbox_mode m;

			if (sandbox_mode_parse(optarg, &m))
				return bad_usage(firecracker, "--seccomp '%s': give on, off or log",
						 optarg);
			a->seccomp = m;
			break;
		}
		case OPT_METADATA:
			a->metadata = optarg;
			break;
		case OPT_MMDS_SIZE_LIMIT:
			v = parse_u64(optarg);
			if (v < 1 || v > (1LL << 30))
				return bad_usage(firecracker,
						 "'mmds-size-limit' parameter expected to be of "
						 "'usize' type from 1 to 1073741824, got '%s'",
						 optarg);
			a->mmds_limit = (size_t)v;
			break;
		case OPT_MAX_PAYLOAD:
			v = parse_u64(optarg);
			if (v < 1)
				return bad_usage(firecracker,
						 "'http-api-max-payload-size' parameter expected "
						 "to be of 'usize' type, got '%s'",
						 optarg);
			a->max_payload = (size_t)v;
			break;
		case OPT_START_TIME:
		case OPT_START_CPU_TIME:
		case OPT_PARENT_CPU_TIME:
			v = parse_u64(optarg);
			if (v < 0)
				return bad_usage(firecracker,
						 "a time in microseconds is expected to be of "
						 "'u64' type, got '%s'",
						 optarg);
			if (c == OPT_START_TIME)
				a->start_time_us = v;
			else if (c == OPT_START_CPU_TIME)
				a->start_time_cpu_us = v;
			else
				a->parent_cpu_time_us = v;
			break;
		case OPT_SNAPSHOT_VERSION:
			printf("v%u.0.0\n", MVM_SNAPSHOT_FORMAT_VERSION);
			return 0;
		case OPT_DESCRIBE_SNAPSHOT: {
			int ver = mvm_snapshot_format_version(optarg, stderr);

			if (ver < 0)
				return MVM_EXIT_FAILURE;
			printf("v%d.0.0\n", ver);
			return 0;
		}
		case OPT_VERSION:
			if (firecracker)
				printf("Firecracker v%s\n\n", MVM_FIRECRACKER_VERSION);
			else
				printf("mvm %s (Firecracker API v%s)\n", MVM_VERSION,
				       MVM_FIRECRACKER_VERSION);
			return 0;
		case OPT_HELP:
			usage(stdout, firecracker);
			return 0;
		case OPT_RESTORE:
			a->restore = optarg;
			break;
		case OPT_RESUME:
			a->resume = true;
			break;
		case OPT_TIMEOUT:
			v = parse_u64(optarg);
			if (v < 1 || v > 3600)
				return bad_usage(false,
						 "--api-timeout '%s': give 1 to 3600 seconds",
						 optarg);
			a->timeout_s = (unsigned int)v;
			break;
		case 'v':
			a->verbosity++;
			break;
		case ':':
			return bad_usage(firecracker, "Argument '%s' requires a value",
					 argv[optind - 1]);
		default:
			return bad_usage(firecracker,
					 "Found argument '%s' which wasn't expected, or isn't "
					 "valid in this context.",
					 argv[optind - 1]);
		}
	}
	if (optind < argc)
		return bad_usage(
			firecracker,
			"Found argument '%s' which wasn't expected, or isn't valid in this "
			"context.",
			argv[optind]);
	/* mvm's PCI window starts where the boot timer is (0xc0000000 on x86). */
	if (a->boot_timer && a->pci)
		return bad_usage(firecracker, "--boot-timer cannot go with --enable-pci in mvm%s",
				 "");
	if (firecracker) {
		/* Firecracker's defaults: the API is on unless --no-api. */
		if (a->no_api)
			a->sock = NULL;
		else if (!a->sock)
			a->sock = FC_DEFAULT_SOCK;
		if (!a->id)
			a->id = FC_DEFAULT_ID;
		if (a->no_api && !a->config)
			return bad_usage(true, "Argument '%s' requires --config-file", "--no-api");
		return -1;
	}
	if (!a->sock && !a->config && !a->restore)
		return bad_usage(false, "give --api-sock PATH or --config-file FILE%s", "");
	if (a->no_api && (a->sock || !a->config))
		return bad_usage(false, "--no-api goes with --config-file and without --api-sock%s",
				 "");
	return -1;
}
