/* SPDX-License-Identifier: MIT */
/* The mvm program: subcommands and their shared helpers. */
#ifndef MVM_CLI_H
#define MVM_CLI_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/loop.h"

struct vm;
struct mvm_config;

/* Exit statuses of mvm itself (a guest's own status passes through as is). */
#define MVM_EXIT_FAILURE 1 /* the VM could not be built, or it crashed */
#define MVM_EXIT_USAGE	 2 /* bad command line */

int cmd_run(int argc, char **argv);
/* Management commands (manage.c, top.c): argv[0] is the command's name. */
int cmd_ls(int argc, char **argv);
int cmd_stat(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_devices(int argc, char **argv);
int cmd_pause(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_stop(int argc, char **argv);
/* mvm run --restore DIR, mvm clone DIR -n N (restore.c). */
bool run_wants_restore(int argc, char **argv);
int cmd_run_restore(int argc, char **argv);
int cmd_clone(int argc, char **argv);
/* mvm snapshot info FILE | ID --out DIR (snapshot.c). */
int cmd_snapshot(int argc, char **argv);
/*
 * mvm --api-sock PATH / --config-file FILE, or mvm invoked as firecracker
 * (Firecracker's command line exactly): a VMM driven by the API (vmm.c).
 */
int cmd_vmm(int argc, char **argv, bool firecracker);
/* mvm jailer / jailer: Firecracker's jailer (jailer.c). */
int cmd_jailer(int argc, char **argv);

/* "128M", "1G", "512K", "4096" (MiB): bytes, or -1 if malformed. */
int64_t parse_size(const char *s);
/* Puts the terminal on fd into raw mode until term_restore() (also at exit). */
/*
 * The VM stops on a signal read from sigfd (status 128 + signal) while the
 * watch is on its event loop. The caller owns sigfd. 0 or -errno.
 */
struct signal_stop {
	struct loop_handler h;
	struct vm *vm;
};
int signal_stop_watch(struct signal_stop *s, struct vm *vm, int sigfd);
void signal_stop_unwatch(struct signal_stop *s);

/* Writes to fd (stdout, stderr) never block from now on (sink.c). */
void sink_nonblocking(int fd);

void term_raw(int fd);
void term_restore(void);

#endif
