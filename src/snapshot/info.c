// SPDX-License-Identifier: MIT
/* mvm snapshot info FILE: the state file's header and sections. */
#include "mvm/snap_format.h"
#include "mvm/snapshot.h"

int mvm_snapshot_describe(const char *path, FILE *out, FILE *err)
{
	struct snap_file f;
	char msg[512];
	int r;

	r = snap_load(&f, path, msg, sizeof(msg));
	if (r) {
		fprintf(err, "mvm: snapshot '%s': %s\n", path, msg);
		return r;
	}
	snap_describe(&f, out);
	snap_file_free(&f);
	return 0;
}

int mvm_snapshot_format_version(const char *path, FILE *err)
{
	struct snap_file f;
	char msg[512];
	int r;

	r = snap_load(&f, path, msg, sizeof(msg));
	if (r) {
		fprintf(err, "snapshot '%s': %s\n", path, msg);
		return r;
	}
	r = (int)f.hdr.format_version;
	snap_file_free(&f);
	return r;
}
