/* SPDX-License-Identifier: MIT */
/*
 * Containment: each thread type of a VMM process runs under its own seccomp
 * allow-list (src/sandbox/filters.c), installed by the thread itself with
 * sandbox_enter() before it touches guest- or client-controlled data.
 *
 * sandbox_configure() runs once on the main thread before any other thread
 * exists: it compiles every thread type's filter (so that entering costs
 * two system calls), and installs the SIGSYS handler that names the thread
 * type and the system call on one line of stderr, then ends the process.
 * The library's default is SANDBOX_OFF (unit and fault tests); the mvm
 * program turns it on.
 */
#ifndef MVM_SANDBOX_H
#define MVM_SANDBOX_H

#include <stdbool.h>

#include <stdio.h>

enum sandbox_thread {
	SANDBOX_VMM,	 /* main thread: builds and tears down the VM, runs its event loop */
	SANDBOX_API,	 /* the API server's threads (libmicrohttpd) */
	SANDBOX_VCPU,	 /* each vCPU thread */
	SANDBOX_METRICS, /* the metrics flush timer */
	SANDBOX_NR,
};

enum sandbox_mode {
	SANDBOX_OFF, /* no filters (no_new_privs is still set) */
	SANDBOX_ON,  /* a forbidden system call ends the process */
	SANDBOX_LOG, /* forbidden calls are allowed and logged by the kernel (audit) */
};

/*
 * Compiles the filters; filter_file (NULL: none) replaces the built-in
 * allow-lists of the thread types it names (format: sandbox_load_file()).
 * 0 or -errno, after logging why.
 */
int sandbox_configure(enum sandbox_mode mode, const char *filter_file);
/* Sets no_new_privs and installs type's filter on the calling thread. 0 or -errno. */
int sandbox_enter(enum sandbox_thread type);
/*
 * Whether the calling thread runs under a seccomp filter: one it entered,
 * or one inherited from the thread that made it (seen in
 * /proc/thread-self/status; without /proc, as in a jail, only the first).
 * Such a thread may map no library. Library loads are once per process
 * (pthread_once), so only a first attempt on a filtered thread is a risk.
 */
bool sandbox_thread_filtered(void);
enum sandbox_mode sandbox_mode(void);
const char *sandbox_thread_name(enum sandbox_thread type);
/* "on", "off", "log". 0 or -EINVAL. */
int sandbox_mode_parse(const char *s, enum sandbox_mode *mode);
/* Each thread type's allow-list, one "type syscall [args]" line per rule. */
void sandbox_print(FILE *f);

/* Frees the compiled filters (tests). */
void sandbox_reset(void);
/* Names the calling thread's type for the SIGSYS line, when it inherited its filter. */
void sandbox_note_thread(enum sandbox_thread type);

#endif
