// SPDX-License-Identifier: MIT
/*
 * CPUID: what KVM supports on this host, with a hypervisor leaf, the
 * hypervisor bit, TSC-deadline when the in-kernel LAPIC has it, and each
 * vCPU's own APIC id. PV features that need a VMCALL to work are hidden:
 * on some nested hosts a VMCALL never completes (shared/guest-kernel).
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "x86.h"

#define CPUID_MAX_ENTRIES 512

#define CPUID_1_ECX_TSC_DEADLINE      (1U << 24)
#define CPUID_1_ECX_HYPERVISOR	      (1U << 31)
#define CPUID_1_EDX_HTT		      (1U << 28)
#define CPUID_80000001_ECX_CMP_LEGACY (1U << 1)
#define CPUID_80000001_ECX_TOPOEXT    (1U << 22)

#define KVM_CPUID_SIGNATURE 0x40000000U
#define KVM_CPUID_FEATURES  0x40000001U
/* KVM PV features that are hypercalls (VMCALL) */
#define KVM_FEATURE_PV_SEND_IPI_BIT	 11
#define KVM_FEATURE_PV_SCHED_YIELD_BIT	 13
#define KVM_FEATURE_HC_MAP_GPA_RANGE_BIT 16

static struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	uint32_t i;

	for (i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn && c->entries[i].index == idx)
			return &c->entries[i];
	return NULL;
}

/* Sets fn.idx to the given registers, adding the entry if KVM had none. */
static void cpuid_set(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx, uint32_t eax, uint32_t ebx,
		      uint32_t ecx, uint32_t edx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);

	if (!e) {
		if (c->nent == CPUID_MAX_ENTRIES)
			return;
		e = &c->entries[c->nent++];
		*e = (struct kvm_cpuid_entry2){ .function = fn, .index = idx };
	}
	e->flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
	e->eax = eax;
	e->ebx = ebx;
	e->ecx = ecx;
	e->edx = edx;
}

/*
 * The topology the MADT and MP table describe: one package of `cpus`
 * logical CPUs, APIC ids 0..cpus-1; one thread per core, or two with SMT
 * (machine-config.smt, bit 0 of the APIC id is then the thread), as
 * Firecracker lays them out. KVM hands out the host's counts; every leaf
 * that carries one is made to agree (the APIC id fields are per vCPU:
 * x86_cpuid_set).
 */
static void cpuid_topology(struct vm *vm, struct kvm_cpuid2 *c)
{
	uint32_t cpus = vm->cfg.cpus ? vm->cfg.cpus : 1, bits = 0, i;
	uint32_t thread_bits = vm->cfg.smt && cpus > 1 ? 1 : 0, threads = 1U << thread_bits;
	struct kvm_cpuid_entry2 *e;

	while ((1U << bits) < cpus)
		bits++;
	e = cpuid_find(c, 1, 0);
	if (e) {
		e->ebx = (e->ebx & ~0x00ff0000U) | ((1U << bits) << 16);
		if (cpus > 1)
			e->edx |= CPUID_1_EDX_HTT;
		else
			e->edx &= ~CPUID_1_EDX_HTT;
	}
	/*
	 * Deterministic cache parameters: L1 and L2 shared by a core's
	 * threads, L3 by the package; cores per package.
	 */
	for (i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		if ((e->function != 4 && e->function != 0x8000001d) || !(e->eax & 0x1f))
			continue;
		e->eax &= 0x00003fffU;
		if (((e->eax >> 5) & 7) == 3)
			e->eax |= ((1U << bits) - 1) << 14;
		else
			e->eax |= (threads - 1) << 14;
		if (e->function == 4)
			e->eax |= (((1U << bits) >> thread_bits) - 1) << 26;
	}
	/* Extended topology: SMT level (threads per core), core level (all CPUs). */
	cpuid_set(c, 0xb, 0, thread_bits, threads, 0x100, 0);
	cpuid_set(c, 0xb, 1, bits, cpus, 0x201, 0);
	cpuid_set(c, 0xb, 2, 0, 0, 2, 0);
	if (cpuid_find(c, 0x1f, 0)) {
		cpuid_set(c, 0x1f, 0, thread_bits, threads, 0x100, 0);
		cpuid_set(c, 0x1f, 1, bits, cpus, 0x201, 0);
		cpuid_set(c, 0x1f, 2, 0, 0, 2, 0);
	}
	/* AMD: core count and APIC id size; no TOPOEXT (leaf 0x8000001e is empty). */
	e = cpuid_find(c, 0x80000008, 0);
	if (e)
		e->ecx = (e->ecx & ~0xf0ffU) | (bits << 12) | (cpus - 1);
	e = cpuid_find(c, 0x80000001, 0);
	if (e) {
		e->ecx &= ~CPUID_80000001_ECX_TOPOEXT;
		if (cpus > 1)
			e->ecx |= CPUID_80000001_ECX_CMP_LEGACY;
		else
			e->ecx &= ~CPUID_80000001_ECX_CMP_LEGACY;
	}
}

static void cpuid_adjust(struct vm *vm, struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *e;

	e = cpuid_find(c, 0, 0);
	vm->arch.amd = e && !memcmp(&e->ebx, "Auth", 4);
	cpuid_topology(vm, c);

	e = cpuid_find(c, 1, 0);
	if (e) {
		e->ecx |= CPUID_1_ECX_HYPERVISOR;
		if (vm->arch.tsc_deadline)
			e->ecx |= CPUID_1_ECX_TSC_DEADLINE;
	}
	e = cpuid_find(c, KVM_CPUID_SIGNATURE, 0);
	if (e) {
		/* "KVMKVMKVM\0\0\0": guests find kvmclock and friends here. */
		e->eax = KVM_CPUID_FEATURES;
		memcpy(&e->ebx, "KVMK", 4);
		memcpy(&e->ecx, "VMKV", 4);
		memcpy(&e->edx, "M\0\0\0", 4);
	}
	e = cpuid_find(c, KVM_CPUID_FEATURES, 0);
	if (e)
		e->eax &= ~((1U << KVM_FEATURE_PV_SEND_IPI_BIT) |
			    (1U << KVM_FEATURE_PV_SCHED_YIELD_BIT) |
			    (1U << KVM_FEATURE_HC_MAP_GPA_RANGE_BIT));
}

int x86_cpuid_init(struct vm *vm)
{
	size_t size =
		sizeof(struct kvm_cpuid2) + CPUID_MAX_ENTRIES * sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c;
	int r;

	r = x86_cpu_template_check_caps(vm);
	if (r)
		return r;
	r = mvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER);
	if (r < 0) {
		r = -errno;
		pr_err("KVM_CHECK_EXTENSION TSC_DEADLINE_TIMER: %s", strerror(-r));
		return r;
	}
	vm->arch.tsc_deadline = r > 0;

	c = mvm_zalloc(size);
	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (mvm_ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		r = -errno;
		pr_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-r));
		free(c);
		return r;
	}
	cpuid_adjust(vm, c);
	r = x86_cpu_template_cpuid(vm->cfg.cpu_template, c);
	if (r) {
		free(c);
		return r;
	}
	vm->arch.cpuid = c;
	return 0;
}

void x86_cpuid_fini(struct vm *vm)
{
	free(vm->arch.cpuid);
	vm->arch.cpuid = NULL;
}

int x86_cpuid_set(struct vcpu *vcpu)
{
	const struct kvm_cpuid2 *tmpl = vcpu->vm->arch.cpuid;
	size_t size = sizeof(*tmpl) + tmpl->nent * sizeof(tmpl->entries[0]);
	uint32_t apic = vcpu->arch.apic_id, i;
	struct kvm_cpuid2 *c;
	int err = 0;

	/* A private copy: vCPUs may be created concurrently. */
	c = mvm_zalloc(size);
	if (!c)
		return -ENOMEM;
	memcpy(c, tmpl, size);
	for (i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffU) | (apic << 24);
		else if (e->function == 0xb || e->function == 0x1f)
			e->edx = apic; /* x2APIC id, every subleaf */
	}
	if (mvm_ioctl(vcpu->fd, KVM_SET_CPUID2, c) < 0) {
		err = -errno;
		pr_err("KVM_SET_CPUID2 on vCPU %u: %s", vcpu->id, strerror(-err));
	}
	free(c);
	return err;
}
