/* SPDX-License-Identifier: MIT */
/*
 * The jailer (src/sandbox/jailer.c), as Firecracker's: builds the chroot
 * <chroot_base>/<exec name>/<id>/root, joins a network namespace and
 * cgroups, sets resource limits, pivots into the chroot in a new mount
 * namespace, closes inherited fds, drops to uid/gid with no capabilities
 * and execs the VMM there.
 */
#ifndef MVM_JAIL_H
#define MVM_JAIL_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#define JAIL_MAX_CGROUPS 16
#define JAIL_MAX_LIMITS	 4

struct jail_opts {
	const char *id;
	const char *exec_file;
	const char *chroot_base;   /* default /srv/jailer */
	const char *netns;	   /* a path such as /var/run/netns/NAME, or NULL */
	const char *parent_cgroup; /* default: the exec file's name */
	uid_t uid;
	gid_t gid;
	bool daemonize, new_pid_ns;
	int cgroup_version;		       /* 1 or 2 */
	const char *cgroups[JAIL_MAX_CGROUPS]; /* "file=value" */
	unsigned int nr_cgroups;
	struct {
		int resource;
		rlim_t value;
	} limits[JAIL_MAX_LIMITS];
	unsigned int nr_limits;
	char **vmm_argv; /* after "--" (NULL-terminated) */
	int vmm_argc;
};

/* Does everything and execs; returns only on failure (-errno, after one line on stderr). */
int jail_run(const struct jail_opts *o);

#endif
