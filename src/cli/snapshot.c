// SPDX-License-Identifier: MIT
/*
 * mvm snapshot info FILE            what a snapshot state file holds
 * mvm snapshot ID --out DIR [--diff] [--stop]
 *	pauses the running VM through its API socket, writes DIR/state and
 *	DIR/memory (PUT /snapshot/create), then resumes it (or stops it).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "cli.h"
#include "client.h"
#include "mvm/snapshot.h"

static int request(const struct runtime_entry *e, const char *id, const char *method,
		   const char *path, const char *body)
{
	struct api_reply r;
	char err[512];

	if (api_request(e->sock, method, path, body, &r)) {
		fprintf(stderr, "mvm snapshot %s: %s: %s\n", id, e->sock, r.error);
		return MVM_EXIT_FAILURE;
	}
	if (r.status < 200 || r.status >= 300) {
		fprintf(stderr, "mvm snapshot %s: %s %s: %s\n", id, method, path,
			api_reply_fault(&r, err, sizeof(err)));
		api_reply_free(&r);
		return MVM_EXIT_FAILURE;
	}
	api_reply_free(&r);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: mvm snapshot info FILE\n"
		   "       mvm snapshot ID --out DIR [--diff] [--stop]\n"
		   "  --out DIR   write DIR/state and DIR/memory (DIR is created)\n"
		   "  --diff      only the pages dirtied since the last snapshot (needs\n"
		   "              track_dirty_pages in the machine configuration)\n"
		   "  --stop      stop the VM afterwards instead of resuming it\n");
}

static int take(const char *id, const char *dir, bool diff, bool stop)
{
	char state[PATH_MAX], mem[PATH_MAX], real[PATH_MAX], err[256];
	struct runtime_entry e;
	bool was_paused;
	json_t *j;
	char *body;
	int rc;

	if (mkdir(dir, 0700) && errno != EEXIST) {
		fprintf(stderr, "mvm snapshot %s: creating '%s': %s\n", id, dir, strerror(errno));
		return MVM_EXIT_FAILURE;
	}
	/* The VMM may run elsewhere (cwd): give it absolute paths. */
	if (!realpath(dir, real) || snprintf(state, sizeof(state), "%s/state", real) >= PATH_MAX ||
	    snprintf(mem, sizeof(mem), "%s/memory", real) >= PATH_MAX) {
		fprintf(stderr, "mvm snapshot %s: '%s': %s\n", id, dir,
			strerror(errno ?: ENAMETOOLONG));
		return MVM_EXIT_FAILURE;
	}
	if (vmm_find(id, &e))
		return MVM_EXIT_FAILURE;
	j = json_pack("{s:s,s:s,s:s}", "snapshot_type", diff ? "Diff" : "Full", "snapshot_path",
		      state, "mem_file_path", mem);
	body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!body) {
		fprintf(stderr, "mvm snapshot %s: out of memory\n", id);
		return MVM_EXIT_FAILURE;
	}
	/* A VM paused before stays paused. */
	if (api_get_json(e.sock, "/", &j, err, sizeof(err))) {
		fprintf(stderr, "mvm snapshot %s: %s\n", id, err);
		rc = MVM_EXIT_FAILURE;
		goto out;
	}
	was_paused = !strcmp(json_string_value(json_object_get(j, "state")) ?: "", "Paused");
	json_decref(j);
	rc = request(&e, id, "PATCH", "/vm", "{\"state\": \"Paused\"}");
	if (rc)
		goto out;
	rc = request(&e, id, "PUT", "/snapshot/create", body);
	/* Stopped only once the snapshot is written; resumed either way otherwise. */
	if (stop && !rc)
		rc = request(&e, id, "PUT", "/actions", "{\"action_type\": \"Stop\"}");
	else if (!was_paused && request(&e, id, "PATCH", "/vm", "{\"state\": \"Resumed\"}"))
		rc = MVM_EXIT_FAILURE;
	if (!rc)
		printf("%s\n", real);
out:
	free(body);
	return rc;
}

int cmd_snapshot(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "diff", no_argument, NULL, 'd' },
		{ "stop", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL;
	bool diff = false, stop = false;
	int c;

	if (argc == 3 && !strcmp(argv[1], "info"))
		return mvm_snapshot_describe(argv[2], stdout, stderr) ? MVM_EXIT_FAILURE : 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'd':
			diff = true;
			break;
		case 's':
			stop = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return MVM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1 || !out) {
		usage(stderr);
		return MVM_EXIT_USAGE;
	}
	return take(argv[optind], out, diff, stop);
}
