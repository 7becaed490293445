/* SPDX-License-Identifier: MIT */
/* Knobs of the fake KVM (fake_sys.c) and fake arch (fake_arch.c). */
#ifndef MVM_TEST_FAKE_H
#define MVM_TEST_FAKE_H

#include <stdbool.h>

struct fake_kvm {
	int max_vcpus;	 /* KVM_CAP_MAX_VCPUS */
	int max_vcpu_id; /* KVM_CAP_MAX_VCPU_ID */
	int vcpus_created;
	/*
	 * KVM_GET_STATS_FD answers with a binary stats file (fake_stats_fd):
	 * "exits" (cumulative) = 42 + fd kind, "pages_4k" (instant) = 7,
	 * "halt_wait_hist" (log2 histogram, 4 buckets) = {1, 2, 0, 3},
	 * "wait_lin_hist" (linear, bucket 10, 3 buckets) = {5, 0, 1}.
	 * Off by default: an old kernel without binary stats.
	 */
	bool binary_stats;
};

struct fake_arch {
	int vcpu_creates;
	int vcpu_destroys;
	int veto_id;	      /* arch_vcpu_precreate refuses this id (-EPERM) */
	int fail_create_id;   /* arch_vcpu_create fails for this id (-EIO) */
	bool saw_unpublished; /* every create hook ran before publication */
	bool saw_published;   /* some create hook saw its vCPU already visible */
};

extern struct fake_kvm fake_kvm;
extern struct fake_arch fake_arch;

void fake_reset(void);

#endif
