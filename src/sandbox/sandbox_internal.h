/* SPDX-License-Identifier: MIT */
/* The sandbox's internal contract: the allow-list data and its compiler. */
#ifndef MVM_SANDBOX_INTERNAL_H
#define MVM_SANDBOX_INTERNAL_H

#include <stdint.h>

#include <seccomp.h>

#include "mvm/sandbox.h"

/* A rule holds if (arg & mask) == value for each of its checks. */
struct sandbox_check {
	unsigned int arg;
	uint64_t mask, value;
};

/* Reached only once a VM exists (a KVM call, a guest's I/O): needs /dev/kvm to test. */
#define SB_GUEST 1u

struct sandbox_rule {
	int nr;
	const char *name;
	const char *args; /* the checks, for people: "prot without PROT_EXEC" */
	unsigned int flags;
	unsigned int nr_checks;
	struct sandbox_check checks[2];
	int err; /* 0: allow; else fail with this errno (not a kill) */
};

struct sandbox_list {
	const struct sandbox_rule *rules;
	unsigned int nr;
};

extern const struct sandbox_list sandbox_builtin[SANDBOX_NR];

/*
 * Every thread needs these to install its filter and to report a kill:
 * they are added to each list, the built-in and a file's alike.
 */
extern const struct sandbox_list sandbox_floor;

/*
 * Builds the BPF program of one list (extra, the floor, added); a trap
 * returns tag as its data (the SIGSYS handler's si_errno). 0 or -errno.
 */
struct sock_fprog;
int sandbox_compile(const struct sandbox_list *list, const struct sandbox_list *extra,
		    uint32_t default_action, uint16_t tag, struct sock_fprog *prog);

/* A --seccomp-filter file: lists (rules allocated) for the types it names. 0 or -errno. */
int sandbox_load_file(const char *path, struct sandbox_list lists[SANDBOX_NR]);
void sandbox_free_lists(struct sandbox_list lists[SANDBOX_NR]);

#endif
