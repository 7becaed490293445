/* SPDX-License-Identifier: MIT */
/*
 * I/O buses (port I/O and MMIO): sorted, non-overlapping address ranges, each
 * claimed by one device. Lookups run on vCPU threads under a read lock and
 * take a device reference for the duration of the access, so a device that
 * is unregistered meanwhile is released only after in-flight I/O ends.
 */
#ifndef MVM_BUS_H
#define MVM_BUS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/stats.h"

struct mvm_device;

enum mvm_bus_type {
	MVM_BUS_PIO,
	MVM_BUS_MMIO,
	MVM_BUS_NR,
};

struct mvm_bus_range {
	uint64_t base;
	uint64_t len;
	struct mvm_device *dev;
	unsigned int io; /* index of the range in dev->io[] */
};

struct mvm_bus {
	enum mvm_bus_type type;
	pthread_rwlock_t lock;
	struct mvm_bus_range *ranges; /* sorted by base */
	unsigned int nr, cap;
	mvm_counter_t unclaimed_reads;
	mvm_counter_t unclaimed_writes;
};

const char *mvm_bus_name(enum mvm_bus_type type);

void bus_init(struct mvm_bus *bus, enum mvm_bus_type type);
void bus_fini(struct mvm_bus *bus);
/* Claims [base, base + len) for dev. -EINVAL (empty/wrapping), -EBUSY (overlap), -ENOMEM. */
int bus_add(struct mvm_bus *bus, uint64_t base, uint64_t len, struct mvm_device *dev,
	    unsigned int io);
/* Drops every range dev holds on this bus. */
void bus_remove(struct mvm_bus *bus, struct mvm_device *dev);
/*
 * Dispatches one access of len bytes (1..8). An access that no device
 * claims wholly is counted; its read returns all-ones, its write is dropped.
 * Returns true when a device claimed it.
 */
bool bus_access(struct mvm_bus *bus, uint64_t addr, void *data, unsigned int len, bool write);

#endif
