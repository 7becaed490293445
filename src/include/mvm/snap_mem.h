/* SPDX-License-Identifier: MIT */
/* Guest RAM into a snapshot's memory file (src/snapshot/memfile.c). */
#ifndef MVM_SNAP_MEM_H
#define MVM_SNAP_MEM_H

#include <stdbool.h>
#include <stddef.h>

#include "mvm/memory.h"

/*
 * Writes RAM to path: Full (the file replaced, zero pages as holes) or
 * Diff (only the pages dirtied since the last snapshot, written in place).
 * With dirty tracking the dirty state restarts from here; on failure the
 * pages stay dirty. 0 or -errno with err.
 */
int snap_mem_write(struct vm_memory *mem, int vm_fd, bool diff, const char *path, char *err,
		   size_t errlen);

#endif
