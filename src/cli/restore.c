// SPDX-License-Identifier: MIT
/*
 * mvm run --restore DIR [--resume] [--name ID] [--api-sock PATH] [-v]
 *	a VMM that loads the snapshot in DIR (state, memory) and serves the
 *	API for it: `mvm --restore DIR` under mvm run's option names.
 * mvm clone DIR -n N [--name BASE]
 *	N such VMMs at once, BASE-1 .. BASE-N, each resumed, with its own API
 *	socket and log (DIR/BASE-i.log); they share the memory file, mapped
 *	privately: a page is copied only when a clone writes it.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "mvm/control.h"

#define CLONE_MAX      1024
#define CLONE_WAIT_MS  10000
#define CLONE_ARGS_MAX 16

bool run_wants_restore(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--restore") || !strncmp(argv[i], "--restore=", 10))
			return true;
	return false;
}

int cmd_run_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "restore", required_argument, NULL, 'r' },
		{ "resume", no_argument, NULL, 'R' },
		{ "name", required_argument, NULL, 'n' },
		{ "api-sock", required_argument, NULL, 's' },
		{ "verbose", no_argument, NULL, 'v' },
		{ NULL, 0, NULL, 0 },
	};
	char *vargv[CLONE_ARGS_MAX];
	int c, n = 0;

	vargv[n++] = argv[0];
	optind = 1;
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			vargv[n++] = "--restore";
			vargv[n++] = optarg;
			break;
		case 'R':
			vargv[n++] = "--resume";
			break;
		case 'n':
			vargv[n++] = "--id";
			vargv[n++] = optarg;
			break;
		case 's':
			vargv[n++] = "--api-sock";
			vargv[n++] = optarg;
			break;
		case 'v':
			if (n < CLONE_ARGS_MAX - 1)
				vargv[n++] = "-v";
			break;
		default:
			fprintf(stderr, "usage: mvm run --restore DIR [--resume] [--name ID] "
					"[--api-sock PATH] [-v]\n");
			return MVM_EXIT_USAGE;
		}
		if (n >= CLONE_ARGS_MAX - 2)
			break;
	}
	if (optind != argc) {
		fprintf(stderr, "mvm run --restore: unexpected argument '%s'\n", argv[optind]);
		return MVM_EXIT_USAGE;
	}
	vargv[n] = NULL;
	return cmd_vmm(n, vargv, false);
}

/* Starts one clone in the background: 0 and its pid, or -errno. */
static int clone_start(const char *dir, const char *id, pid_t *pid)
{
	char log[PATH_MAX];
	int fd;

	if (snprintf(log, sizeof(log), "%s/%s.log", dir, id) >= (int)sizeof(log))
		return -ENAMETOOLONG;
	*pid = fork();
	if (*pid < 0)
		return -errno;
	if (*pid)
		return 0;
	setsid();
	fd = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	execl("/proc/self/exe", "mvm", "run", "--restore", dir, "--resume", "--name", id,
	      (char *)NULL);
	_exit(127);
}

/* Waits until the clone serves its API socket (or exits). 0, or -errno. */
static int clone_wait(const char *id, pid_t pid)
{
	struct timespec ts = { 0, 5 * 1000 * 1000 };
	struct runtime_entry e;
	struct stat st;
	int i, status;

	for (i = 0; i < CLONE_WAIT_MS / 5; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -ECHILD;
		if (!runtime_lookup(id, &e) && e.pid == pid && e.sock[0] && !stat(e.sock, &st) &&
		    S_ISSOCK(st.st_mode))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int cmd_clone(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'b' },
		{ NULL, 0, NULL, 0 },
	};
	const char *base = "clone", *dir;
	char real[PATH_MAX], id[MVM_RUNTIME_ID_SIZE];
	long n = 1, i;
	pid_t pid;
	char *end;
	int c, err, failed = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			errno = 0;
			n = strtol(optarg, &end, 10);
			if (errno || *end || n < 1 || n > CLONE_MAX) {
				fprintf(stderr, "mvm clone: -n '%s': give 1 to %d\n", optarg,
					CLONE_MAX);
				return MVM_EXIT_USAGE;
			}
			break;
		case 'b':
			base = optarg;
			break;
		default:
			fprintf(stderr, "usage: mvm clone DIR -n N [--name BASE]\n");
			return MVM_EXIT_USAGE;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: mvm clone DIR -n N [--name BASE]\n");
		return MVM_EXIT_USAGE;
	}
	dir = argv[optind];
	if (!realpath(dir, real)) {
		fprintf(stderr, "mvm clone: '%s': %s\n", dir, strerror(errno));
		return MVM_EXIT_FAILURE;
	}
	for (i = 1; i <= n; i++) {
		if (snprintf(id, sizeof(id), "%s-%ld", base, i) >= (int)sizeof(id)) {
			fprintf(stderr, "mvm clone: --name '%s' is too long\n", base);
			return MVM_EXIT_USAGE;
		}
		err = clone_start(real, id, &pid);
		if (!err)
			err = clone_wait(id, pid);
		if (err) {
			fprintf(stderr, "mvm clone: %s: %s (see %s/%s.log)\n", id,
				err == -ECHILD ? "exited" : strerror(-err), real, id);
			if (err == -ETIMEDOUT)
				kill(pid, SIGTERM);
			failed++;
			continue;
		}
		printf("%s %d\n", id, (int)pid);
		fflush(stdout);
	}
	return failed ? MVM_EXIT_FAILURE : 0;
}
