/* SPDX-License-Identifier: MIT */
/*
 * vCPUs (DESIGN.md §1.2). Common code validates, allocates the KVM vCPU, its
 * kvm_run mapping, its stats fd and its thread stack, then calls the one arch
 * hook arch_vcpu_create(), then publishes. Teardown is the mirror with the
 * one arch_vcpu_destroy().
 */
#ifndef MVM_VCPU_H
#define MVM_VCPU_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>

#include "arch/mvm_arch.h"
#include "mvm/stats.h"

struct vm;

/* mvm's per-vCPU exit counters (KVM's own exit stats are in the KVM node). */
enum vcpu_exit_stat {
	VCPU_EXIT_IO,
	VCPU_EXIT_MMIO,
	VCPU_EXIT_INTR, /* KVM_RUN interrupted by a signal (kicks) */
	VCPU_EXIT_SHUTDOWN,
	VCPU_EXIT_INTERNAL_ERROR,
	VCPU_EXIT_SYSTEM_EVENT,
	VCPU_EXIT_OTHER,
	VCPU_EXIT_NR,
};

/* Firecracker's exit kinds, each with its handling time (µs) since the start. */
enum vcpu_io_kind {
	VCPU_IO_IN,
	VCPU_IO_OUT,
	VCPU_MMIO_READ,
	VCPU_MMIO_WRITE,
	VCPU_IO_NR,
};

struct vcpu_io_stat {
	mvm_counter_t count;
	mvm_counter_t sum_us, min_us, max_us; /* min_us: 0 until the first */
};

struct vcpu {
	struct vm *vm;
	unsigned int id;
	int fd;
	struct kvm_run *run;
	void *stack; /* mmap'd thread stack, owned here so nothing outlives the vCPU */
	size_t stack_size;
	pthread_t thread;
	bool thread_started;
	struct stats_node stats;
	mvm_counter_t exits[VCPU_EXIT_NR];
	struct vcpu_io_stat io[VCPU_IO_NR]; /* written by the vCPU's thread only */
	struct arch_vcpu arch;
};

/*
 * Creates vCPU `id`: -EINVAL (id >= max id, or no vCPU slot left), -EEXIST
 * (id in use), checked before anything is allocated; other -errno from
 * allocation or KVM. Published only when fully built.
 */
int vcpu_create(struct vm *vm, unsigned int id);
/* Destroys every vCPU, newest first (threads must be stopped). */
void vcpus_destroy(struct vm *vm);

/* Thread control, used by vm_run(). */
int vcpu_start(struct vcpu *vcpu);
void vcpu_kick(struct vcpu *vcpu);
void vcpu_join(struct vcpu *vcpu);

#endif
