// SPDX-License-Identifier: MIT
/* The MSR, FPU and local APIC state a vCPU starts with. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/cpu_template.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "x86.h"

#define MSR_IA32_SYSENTER_CS  0x174
#define MSR_IA32_SYSENTER_ESP 0x175
#define MSR_IA32_SYSENTER_EIP 0x176
#define MSR_IA32_MISC_ENABLE  0x1a0
#define MSR_MTRR_DEF_TYPE     0x2ff
#define MSR_STAR	      0xc0000081
#define MSR_LSTAR	      0xc0000082
#define MSR_CSTAR	      0xc0000083
#define MSR_SYSCALL_MASK      0xc0000084
#define MSR_KERNEL_GS_BASE    0xc0000102
#define MSR_K7_HWCR	      0xc0010015
#define HWCR_TSC_FREQ_SEL     (1ULL << 24)

#define MISC_ENABLE_FAST_STRING 0x1ULL
/* MTRRs enabled, default type write-back: RAM is cached as on real hardware. */
#define MTRR_DEF_TYPE_E_WB (0x800ULL | 0x6ULL)

static const struct kvm_msr_entry boot_msrs[] = {
	{ .index = MSR_IA32_SYSENTER_CS },
	{ .index = MSR_IA32_SYSENTER_ESP },
	{ .index = MSR_IA32_SYSENTER_EIP },
	{ .index = MSR_STAR },
	{ .index = MSR_LSTAR },
	{ .index = MSR_CSTAR },
	{ .index = MSR_SYSCALL_MASK },
	{ .index = MSR_KERNEL_GS_BASE },
	{ .index = MSR_IA32_MISC_ENABLE, .data = MISC_ENABLE_FAST_STRING },
	{ .index = MSR_MTRR_DEF_TYPE, .data = MTRR_DEF_TYPE_E_WB },
};

/*
 * AMD: HWCR.TscFreqSel says the TSC counts at the P0 frequency, as on every
 * AMD CPU since family 10h; without it Linux logs a firmware bug. KVMs older
 * than 6.7 refuse the bit: the guest then only warns, so go on without it.
 */
static int amd_hwcr_set(struct vcpu *vcpu)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e;
	} msr = { .hdr.nmsrs = 1, .e = { .index = MSR_K7_HWCR, .data = HWCR_TSC_FREQ_SEL } };
	int r = mvm_ioctl(vcpu->fd, KVM_SET_MSRS, &msr);

	if (r < 0) {
		r = -errno;
		pr_err("KVM_SET_MSRS HWCR on vCPU %u: %s", vcpu->id, strerror(-r));
		return r;
	}
	if (r == 0)
		pr_debug("KVM refuses HWCR.TscFreqSel: the guest will warn about its TSC");
	return 0;
}

int x86_msrs_set(struct vcpu *vcpu)
{
	unsigned int max = ARRAY_SIZE(boot_msrs) + MVM_CPU_TEMPLATE_MAX_MSRS, n;
	struct kvm_msrs *msrs;
	int r;

	msrs = mvm_zalloc(sizeof(*msrs) + max * sizeof(msrs->entries[0]));
	if (!msrs)
		return -ENOMEM;
	n = ARRAY_SIZE(boot_msrs);
	memcpy(msrs->entries, boot_msrs, sizeof(boot_msrs));
	r = x86_cpu_template_msrs(vcpu, msrs->entries, &n, max);
	if (r)
		goto out;
	msrs->nmsrs = n;
	r = mvm_ioctl(vcpu->fd, KVM_SET_MSRS, msrs);
	if (r < 0) {
		r = -errno;
		pr_err("KVM_SET_MSRS on vCPU %u: %s", vcpu->id, strerror(-r));
		goto out;
	}
	/* KVM stops at the first MSR it refuses and returns how many it set. */
	if ((unsigned int)r != n) {
		pr_err("KVM_SET_MSRS on vCPU %u: MSR 0x%x refused", vcpu->id,
		       msrs->entries[r].index);
		r = -EINVAL;
		goto out;
	}
	r = vcpu->vm->arch.amd ? amd_hwcr_set(vcpu) : 0;
out:
	free(msrs);
	return r;
}

int x86_fpu_set(struct vcpu *vcpu)
{
	struct kvm_fpu fpu;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;    /* x87: all exceptions masked, 64-bit precision */
	fpu.mxcsr = 0x1f80; /* SSE: all exceptions masked */
	if (mvm_ioctl(vcpu->fd, KVM_SET_FPU, &fpu) < 0) {
		int err = -errno;

		pr_err("KVM_SET_FPU on vCPU %u: %s", vcpu->id, strerror(-err));
		return err;
	}
	return 0;
}

#define APIC_LVT_LINT0	 0x350
#define APIC_LVT_LINT1	 0x360
#define APIC_DM_NMI	 0x400
#define APIC_DM_EXTINT	 0x700
#define APIC_LVT_DM_MASK 0x700

static void lapic_set_lvt(struct kvm_lapic_state *l, unsigned int reg, uint32_t mode)
{
	uint32_t v;

	memcpy(&v, &l->regs[reg], sizeof(v));
	v = (v & ~APIC_LVT_DM_MASK) | mode;
	memcpy(&l->regs[reg], &v, sizeof(v));
}

/* LINT0 takes the PIC's interrupts (ExtINT), LINT1 the NMI: the PC wiring. */
int x86_lapic_set(struct vcpu *vcpu)
{
	struct kvm_lapic_state lapic;
	int err;

	if (mvm_ioctl(vcpu->fd, KVM_GET_LAPIC, &lapic) < 0)
		goto err;
	lapic_set_lvt(&lapic, APIC_LVT_LINT0, APIC_DM_EXTINT);
	lapic_set_lvt(&lapic, APIC_LVT_LINT1, APIC_DM_NMI);
	if (mvm_ioctl(vcpu->fd, KVM_SET_LAPIC, &lapic) < 0)
		goto err;
	return 0;
err:
	err = -errno;
	pr_err("setting the local APIC of vCPU %u: %s", vcpu->id, strerror(-err));
	return err;
}
