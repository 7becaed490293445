/* SPDX-License-Identifier: MIT */
/* Snapshots as the front ends see them (the format is in src/include/mvm/snap_format.h). */
#ifndef MVM_SNAPSHOT_H
#define MVM_SNAPSHOT_H

#include <stdio.h>

/*
 * Prints what the state file at path holds: its format version, the mvm
 * that wrote it, the CPU it needs, its sections. 0, or -errno with the one
 * reason printed to err.
 */
int mvm_snapshot_describe(const char *path, FILE *out, FILE *err);

#endif
