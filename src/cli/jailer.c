// SPDX-License-Identifier: MIT
/*
 * mvm jailer (or mvm installed as "jailer"): Firecracker's jailer command
 * line (its docs/jailer.md), then src/sandbox/jailer.c does the work:
 *
 *   jailer --id ID --exec-file FILE --uid UID --gid GID [--chroot-base-dir DIR]
 *          [--netns PATH] [--daemonize] [--new-pid-ns] [--cgroup-version 1|2]
 *          [--cgroup FILE=VALUE]... [--parent-cgroup NAME]
 *          [--resource-limit fsize=N|no-file=N]... [-- VMM ARGS...]
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "mvm/jail.h"

static void jailer_usage(FILE *f)
{
	fprintf(f,
		"usage: jailer --id ID --exec-file FILE --uid UID --gid GID [options] [-- ARGS]\n"
		"\n"
		"Runs FILE (mvm) as UID:GID with no capabilities, chrooted in\n"
		"<chroot-base-dir>/<exec file name>/ID/root, with `--id ID ARGS`.\n"
		"\n"
		"      --chroot-base-dir DIR  (default /srv/jailer)\n"
		"      --netns PATH           join this network namespace (/var/run/netns/NAME)\n"
		"      --daemonize            new session, stdio on /dev/null\n"
		"      --new-pid-ns           the VMM runs as pid 1 of a new pid namespace;\n"
		"                             its host pid is in <chroot>/<exec name>.pid\n"
		"      --cgroup-version 1|2   (default 1, as Firecracker)\n"
		"      --cgroup FILE=VALUE    e.g. cpuset.cpus=0, pids.max=64 (repeatable)\n"
		"      --parent-cgroup NAME   (default: the exec file's name)\n"
		"      --resource-limit fsize=N|no-file=N   (repeatable; no-file default 2048)\n");
}

static bool id_ok(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]) && id[i] != '-')
			return false;
	return true;
}

static int parse_uint(const char *s, unsigned long long max, unsigned long long *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' || *v > max ? -1 : 0;
}

static int add_limit(struct jail_opts *o, const char *arg)
{
	unsigned long long v;
	int res;

	if (!strncmp(arg, "fsize=", 6))
		res = RLIMIT_FSIZE;
	else if (!strncmp(arg, "no-file=", 8))
		res = RLIMIT_NOFILE;
	else
		return -1;
	if (parse_uint(strchr(arg, '=') + 1, RLIM_INFINITY, &v))
		return -1;
	for (unsigned int i = 0; i < o->nr_limits; i++)
		if (o->limits[i].resource == res) {
			o->limits[i].value = (rlim_t)v;
			return 0;
		}
	if (o->nr_limits == JAIL_MAX_LIMITS)
		return -1;
	o->limits[o->nr_limits].resource = res;
	o->limits[o->nr_limits++].value = (rlim_t)v;
	return 0;
}

int cmd_jailer(int argc, char **argv)
{
	enum {
		O_ID = 256,
		O_EXEC,
		O_UID,
		O_GID,
		O_BASE,
		O_NETNS,
		O_DAEMON,
		O_PIDNS,
		O_CGV,
		O_CG,
		O_PARENT,
		O_RLIMIT
	};
	static const struct option opts[] = {
		{ "id", required_argument, NULL, O_ID },
		{ "exec-file", required_argument, NULL, O_EXEC },
		{ "uid", required_argument, NULL, O_UID },
		{ "gid", required_argument, NULL, O_GID },
		{ "chroot-base-dir", required_argument, NULL, O_BASE },
		{ "netns", required_argument, NULL, O_NETNS },
		{ "daemonize", no_argument, NULL, O_DAEMON },
		{ "new-pid-ns", no_argument, NULL, O_PIDNS },
		{ "cgroup-version", required_argument, NULL, O_CGV },
		{ "cgroup", required_argument, NULL, O_CG },
		{ "parent-cgroup", required_argument, NULL, O_PARENT },
		{ "resource-limit", required_argument, NULL, O_RLIMIT },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct jail_opts o = { .cgroup_version = 1 };
	bool have_uid = false, have_gid = false;
	unsigned long long v;
	int c;

	/* Firecracker's default: 2048 open files. */
	o.limits[0].resource = RLIMIT_NOFILE;
	o.limits[0].value = 2048;
	o.nr_limits = 1;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case O_ID:
			o.id = optarg;
			break;
		case O_EXEC:
			o.exec_file = optarg;
			break;
		case O_UID:
		case O_GID:
			if (parse_uint(optarg, 0xfffffffeULL, &v)) {
				fprintf(stderr, "jailer: --%s '%s': not a number\n",
					c == O_UID ? "uid" : "gid", optarg);
				return MVM_EXIT_USAGE;
			}
			if (c == O_UID) {
				o.uid = (uid_t)v;
				have_uid = true;
			} else {
				o.gid = (gid_t)v;
				have_gid = true;
			}
			break;
		case O_BASE:
			o.chroot_base = optarg;
			break;
		case O_NETNS:
			o.netns = optarg;
			break;
		case O_DAEMON:
			o.daemonize = true;
			break;
		case O_PIDNS:
			o.new_pid_ns = true;
			break;
		case O_CGV:
			if (strcmp(optarg, "1") && strcmp(optarg, "2")) {
				fprintf(stderr, "jailer: --cgroup-version: give 1 or 2\n");
				return MVM_EXIT_USAGE;
			}
			o.cgroup_version = optarg[0] - '0';
			break;
		case O_CG:
			if (o.nr_cgroups == JAIL_MAX_CGROUPS) {
				fprintf(stderr, "jailer: at most %d --cgroup\n", JAIL_MAX_CGROUPS);
				return MVM_EXIT_USAGE;
			}
			o.cgroups[o.nr_cgroups++] = optarg;
			break;
		case O_PARENT:
			o.parent_cgroup = optarg;
			break;
		case O_RLIMIT:
			if (add_limit(&o, optarg)) {
				fprintf(stderr,
					"jailer: --resource-limit '%s': give fsize=N or "
					"no-file=N\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			break;
		case 'h':
			jailer_usage(stdout);
			return 0;
		default:
			jailer_usage(stderr);
			return MVM_EXIT_USAGE;
		}
	}
	if (!o.id || !o.exec_file || !have_uid || !have_gid) {
		fprintf(stderr, "jailer: --id, --exec-file, --uid and --gid are required\n");
		return MVM_EXIT_USAGE;
	}
	if (!id_ok(o.id)) {
		fprintf(stderr, "jailer: --id '%s': 1 to 64 letters, digits and '-'\n", o.id);
		return MVM_EXIT_USAGE;
	}
	if (o.parent_cgroup && (strstr(o.parent_cgroup, "..") || o.parent_cgroup[0] == '/')) {
		fprintf(stderr, "jailer: --parent-cgroup '%s': a relative name, no '..'\n",
			o.parent_cgroup);
		return MVM_EXIT_USAGE;
	}
	o.vmm_argv = argv + optind;
	o.vmm_argc = argc - optind;
	jail_run(&o);
	return MVM_EXIT_FAILURE;
}
