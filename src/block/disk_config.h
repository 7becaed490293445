/* SPDX-License-Identifier: MIT */
/* A disk's options: the option blob of the virtio-blk device type. */
#ifndef MVM_BLOCK_DISK_CONFIG_H
#define MVM_BLOCK_DISK_CONFIG_H

#include <stdbool.h>

#include "mvm/rate_limiter.h"

#define MVM_DISK_PATH_MAX 4095
#define MVM_DISK_ID_MAX	  64
#define MVM_MAX_DISKS	  16

enum mvm_disk_cache {
	MVM_DISK_CACHE_WRITEBACK = 0, /* page cache; flush = fdatasync */
	MVM_DISK_CACHE_NONE,	      /* O_DIRECT */
	MVM_DISK_CACHE_UNSAFE,	      /* Firecracker's "Unsafe": the page cache, as writeback */
};

enum mvm_disk_io {
	MVM_DISK_IO_URING = 0, /* io_uring, with the synchronous engine as fallback */
	MVM_DISK_IO_SYNC,      /* the synchronous engine */
};

struct mvm_disk_config {
	char path[MVM_DISK_PATH_MAX + 1];
	char id[MVM_DISK_ID_MAX + 1]; /* drive id; the guest's serial is its first 20 bytes */
	bool read_only;
	unsigned int cache; /* enum mvm_disk_cache */
	unsigned int io;    /* enum mvm_disk_io */
	bool root;	    /* Firecracker's is_root_device */
	char partuuid[MVM_DISK_ID_MAX + 1];
	struct mvm_rate_limiter_config rate_limiter; /* one op per request, data bytes */
	bool rate_limiter_set;
};

#endif
