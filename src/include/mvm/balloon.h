/* SPDX-License-Identifier: MIT */
/*
 * The VM's virtio-balloon as the control plane sees it (src/virtio/balloon.c):
 * the target size, the guest's statistics, free page hinting runs. Each
 * call finds the VM's balloon itself; -ENODEV when it has none. Any thread
 * except a vCPU's.
 */
#ifndef MVM_BALLOON_H
#define MVM_BALLOON_H

#include <stdbool.h>
#include <stdint.h>

struct vm;

/* Statistics tags (virtio 1.2 §5.5.6.3). */
enum balloon_stat_tag {
	BALLOON_S_SWAP_IN = 0,
	BALLOON_S_SWAP_OUT = 1,
	BALLOON_S_MAJFLT = 2,
	BALLOON_S_MINFLT = 3,
	BALLOON_S_MEMFREE = 4,
	BALLOON_S_MEMTOT = 5,
	BALLOON_S_AVAIL = 6,
	BALLOON_S_CACHES = 7,
	BALLOON_S_HTLB_PGALLOC = 8,
	BALLOON_S_HTLB_PGFAIL = 9,
	BALLOON_S_OOM_KILL = 10,
	BALLOON_S_ALLOC_STALL = 11,
	BALLOON_S_ASYNC_SCAN = 12,
	BALLOON_S_DIRECT_SCAN = 13,
	BALLOON_S_ASYNC_RECLAIM = 14,
	BALLOON_S_DIRECT_RECLAIM = 15,
	BALLOON_S_NR = 16, /* the first tag mvm does not know */
};

/* The guest's last statistics: a value per tag it sent. */
struct balloon_stats {
	uint32_t have;		    /* bit per tag present */
	uint64_t val[BALLOON_S_NR]; /* by tag */
};

/* The balloon now, in 4 KiB pages. */
struct balloon_status {
	uint32_t target_pages; /* what the host asks for */
	uint32_t actual_pages; /* what the driver says it holds */
	uint64_t held_pages;   /* what the device has seen inflated, net of deflates */
	bool stats_enabled;
	struct balloon_stats stats; /* valid when stats_enabled (have == 0: none yet) */
};

/* Free page hinting commands (virtio 1.2 §5.5.6.4): ids of runs start at 2. */
#define BALLOON_CMD_ID_STOP 0
#define BALLOON_CMD_ID_DONE 1
#define BALLOON_CMD_ID_MIN  2

struct balloon_hint_status {
	uint32_t host_cmd;  /* the last command the host gave */
	uint32_t guest_cmd; /* the last the guest sent */
	bool guest_seen;    /* the guest sent one since the run started */
};

/* Sets the target (MiB of guest RAM the guest should give up). 0, -EINVAL (more than RAM). */
int balloon_set_target_mib(struct vm *vm, uint64_t mib);
int balloon_get_status(struct vm *vm, struct balloon_status *st);
/*
 * A new statistics interval; the next update is asked for at once.
 * -EINVAL: statistics cannot be turned on or off after boot.
 */
int balloon_set_stats_interval(struct vm *vm, uint64_t seconds);
/* -EOPNOTSUPP when hinting was not enabled. */
int balloon_hint_start(struct vm *vm, bool ack_on_stop);
int balloon_hint_stop(struct vm *vm);
int balloon_hint_status(struct vm *vm, struct balloon_hint_status *st);

#endif
