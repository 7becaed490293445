/* SPDX-License-Identifier: MIT */
/*
 * A CPU template, in the shape of Firecracker's custom CPU templates (x86):
 * KVM capabilities the VM needs (or no longer needs), and bit-level changes
 * of CPUID leaves and of MSRs, which the arch applies to every vCPU it
 * creates. A bitmap sets the bits of `filter` to those of `value`:
 * reg = (reg & ~filter) | value.
 */
#ifndef MVM_CPU_TEMPLATE_H
#define MVM_CPU_TEMPLATE_H

#include <stdbool.h>
#include <stdint.h>

#define MVM_CPU_TEMPLATE_MAX_CAPS   64
#define MVM_CPU_TEMPLATE_MAX_LEAVES 256
#define MVM_CPU_TEMPLATE_MAX_REGS   8 /* register changes per leaf */
#define MVM_CPU_TEMPLATE_MAX_MSRS   256

enum mvm_cpuid_reg {
	MVM_CPUID_EAX,
	MVM_CPUID_EBX,
	MVM_CPUID_ECX,
	MVM_CPUID_EDX,
};

struct mvm_bitmap {
	uint64_t filter; /* the bits the template sets */
	uint64_t value;	 /* their values (a subset of filter) */
};

struct mvm_cpuid_modifier {
	uint32_t leaf, subleaf;
	uint32_t flags; /* KVM_CPUID_FLAG_* of the entry */
	unsigned int nr_regs;
	struct {
		enum mvm_cpuid_reg reg;
		struct mvm_bitmap bits;
	} regs[MVM_CPU_TEMPLATE_MAX_REGS];
};

struct mvm_msr_modifier {
	uint32_t addr;
	struct mvm_bitmap bits;
};

struct mvm_cpu_template {
	unsigned int nr_caps;
	struct {
		uint32_t cap;
		bool remove; /* "!N": not needed (mvm checks what it uses itself) */
	} caps[MVM_CPU_TEMPLATE_MAX_CAPS];
	unsigned int nr_cpuid;
	struct mvm_cpuid_modifier cpuid[MVM_CPU_TEMPLATE_MAX_LEAVES];
	unsigned int nr_msrs;
	struct mvm_msr_modifier msrs[MVM_CPU_TEMPLATE_MAX_MSRS];
};

static inline uint64_t mvm_bitmap_apply(const struct mvm_bitmap *b, uint64_t v)
{
	return (v & ~b->filter) | (b->value & b->filter);
}

#endif
