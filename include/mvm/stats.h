/* SPDX-License-Identifier: MIT */
/*
 * Stats nodes (DESIGN.md §1.1): every VM, vCPU and device owns one. A node
 * carries KVM's binary stats (KVM_GET_STATS_FD) when the object is a KVM
 * object, under the id KVM reports ("kvm-<pid>", "kvm-<pid>/vcpu-<n>"), plus
 * mvm's own counters, described by a table of names and offsets into the
 * owning object.
 */
#ifndef MVM_STATS_H
#define MVM_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <linux/kvm.h>

/* Room for KVM's ids (KVM_STATS_NAME_SIZE, 48) and "<vm id>/<device>". */
#define MVM_STATS_ID_SIZE 96

typedef _Atomic uint64_t mvm_counter_t;

static inline void counter_inc(mvm_counter_t *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static inline uint64_t counter_read(const mvm_counter_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* One mvm counter: its name and the offset of an mvm_counter_t in the owner. */
struct mvm_counter_desc {
	const char *name;
	size_t offset;
};

struct stats_node {
	char id[MVM_STATS_ID_SIZE];
	int fd; /* KVM stats fd or -1 */
	struct kvm_stats_header hdr;
	uint8_t *desc; /* hdr.num_desc descriptors of desc_size bytes */
	size_t desc_size;
	const struct mvm_counter_desc *counters;
	unsigned int nr_counters;
	const void *owner;
};

/* A node with mvm counters only (a device). Allocates nothing. */
void stats_node_init(struct stats_node *n, const char *id, const struct mvm_counter_desc *c,
		     unsigned int nr, const void *owner);
/*
 * A node for a KVM VM or vCPU fd: opens its stats fd and reads the header,
 * id and descriptors. A kernel without binary stats (ENOTTY/EINVAL) leaves a
 * node with mvm counters only, named fallback_id. 0 or -errno.
 */
int stats_node_open_kvm(struct stats_node *n, int kvm_obj_fd, const char *fallback_id,
			const struct mvm_counter_desc *c, unsigned int nr, const void *owner);
void stats_node_release(struct stats_node *n);

enum stats_source { STATS_KVM, STATS_MVM };

/* Called for each value of a node; vals has n entries (histograms n > 1). */
typedef void (*stats_visit_fn)(void *opaque, const struct stats_node *node, enum stats_source src,
			       const char *name, const uint64_t *vals, unsigned int n);
/* Reads the current values and calls fn for each. 0 or -errno. */
int stats_node_visit(const struct stats_node *n, stats_visit_fn fn, void *opaque);

/*
 * The KVM descriptor behind a STATS_KVM visit (the name pointer the visitor
 * got), for its type, unit and bucket size; NULL if name is not one of n's.
 */
const struct kvm_stats_desc *stats_node_kvm_desc(const struct stats_node *n, const char *name);

/* Prints a node as "id" then "  source.name value" lines. */
void stats_node_print(const struct stats_node *n, FILE *f);

#endif
