// SPDX-License-Identifier: MIT
/* --disk PATH[,ro][,id=NAME][,cache=none|writeback][,io=sync|uring] */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mvm/config.h"

int parse_disk_opt(struct mvm_config *cfg, char *arg)
{
	struct mvm_disk_config *d;
	char *opt;

	if (cfg->nr_disks == MVM_MAX_DISKS) {
		fprintf(stderr, "mvm run: at most %d disks\n", MVM_MAX_DISKS);
		return -1;
	}
	d = &cfg->disks[cfg->nr_disks];
	memset(d, 0, sizeof(*d));
	d->path = strsep(&arg, ",");
	if (!d->path || !*d->path) {
		fprintf(stderr, "mvm run: --disk needs a PATH\n");
		return -1;
	}
	while ((opt = strsep(&arg, ","))) {
		if (!strcmp(opt, "ro")) {
			d->read_only = true;
		} else if (!strncmp(opt, "id=", 3) && opt[3] && strlen(opt + 3) <= 20) {
			d->id = opt + 3;
		} else if (!strcmp(opt, "cache=none")) {
			d->cache = MVM_DISK_CACHE_NONE;
		} else if (!strcmp(opt, "cache=writeback")) {
			d->cache = MVM_DISK_CACHE_WRITEBACK;
		} else if (!strcmp(opt, "io=sync")) {
			d->sync_io = true;
		} else if (!strcmp(opt, "io=uring")) {
			d->sync_io = false;
		} else {
			fprintf(stderr,
				"mvm run: --disk %s: unknown option '%s' (ro, id=NAME of at most "
				"20 "
				"characters, cache=none|writeback, io=sync|uring)\n",
				d->path, opt);
			return -1;
		}
	}
	cfg->nr_disks++;
	return 0;
}
