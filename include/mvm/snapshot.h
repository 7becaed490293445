/* SPDX-License-Identifier: MIT */
/* Snapshots as the front ends see them (the format is in src/include/mvm/snap_format.h). */
#ifndef MVM_SNAPSHOT_H
#define MVM_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The state file format this mvm writes (and the newest it reads). */
#define MVM_SNAPSHOT_FORMAT_VERSION 1

/*
 * Prints what the state file at path holds: its format version, the mvm
 * that wrote it, the CPU it needs, its sections. 0, or -errno with the one
 * reason printed to err.
 */
int mvm_snapshot_describe(const char *path, FILE *out, FILE *err);
/* The format version of the state file at path, or -errno with the reason printed to err. */
int mvm_snapshot_format_version(const char *path, FILE *err);

struct vm;
struct mvm_config;
struct mem_backend;

enum mvm_snapshot_type {
	MVM_SNAPSHOT_FULL, /* all of RAM (zero pages left as holes) */
	MVM_SNAPSHOT_DIFF, /* the pages written since the last snapshot (or the start) */
};

/*
 * Snapshots a paused VM: its state (and config_json, the configuration as
 * GET /vm/config's JSON, which a restore builds the VM from) to
 * state_path, its RAM to mem_path. A Diff writes only the dirtied pages
 * into mem_path, in place (the base's file, or a sparse new one) and needs
 * the VM created with track_dirty_pages. Nothing is changed in the VM, and
 * on failure no state file is left. 0 or -errno with the reason in err:
 * -EBUSY (not paused), -EOPNOTSUPP (a device cannot save; it is named),
 * -EINVAL (Diff without dirty tracking), others from the files.
 */
int vm_snapshot_create(struct vm *vm, const char *config_json, enum mvm_snapshot_type type,
		       const char *state_path, const char *mem_path, char *err, size_t errlen);

/* A snapshot state file, read and checked (format, sections, this host's CPU). */
struct mvm_snapshot;
int mvm_snapshot_open(const char *state_path, struct mvm_snapshot **out, char *err, size_t errlen);
void mvm_snapshot_close(struct mvm_snapshot *s);
/* The VM's configuration as the snapshot stored it (GET /vm/config's JSON). */
const char *mvm_snapshot_config(const struct mvm_snapshot *s);
/* RAM size and vCPU count the snapshot holds. */
uint64_t mvm_snapshot_mem_size(const struct mvm_snapshot *s);
unsigned int mvm_snapshot_vcpus(const struct mvm_snapshot *s);

/*
 * Builds the VM of cfg (the snapshot's configuration, with host-side
 * overrides) with RAM from backend, and puts every state back: VM,
 * vCPUs, devices. The VM is ready for vm_run(), not running. The VM, or
 * ERR_PTR(-errno) with err set and nothing left behind.
 */
struct vm *vm_restore(const struct mvm_config *cfg, const struct mvm_snapshot *s,
		      const struct mem_backend *backend, char *err, size_t errlen);

#endif
