// SPDX-License-Identifier: MIT
/* The x86 vCPU: the one create hook, the one destroy hook, exit helpers. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include "mvm/arch.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "x86.h"

/* xAPIC ids are 8 bits and 0xff is the broadcast id. */
#define X86_MAX_XAPIC_ID 0xfe

int arch_vcpu_precreate(struct vm *vm, unsigned int id)
{
	(void)vm;
	return id > X86_MAX_XAPIC_ID ? -EINVAL : 0;
}

int arch_vcpu_create(struct vcpu *vcpu)
{
	int err;

	vcpu->arch.apic_id = vcpu->id;
	err = x86_cpuid_set(vcpu);
	if (err)
		return err;
	err = x86_msrs_set(vcpu);
	if (err)
		return err;
	err = x86_fpu_set(vcpu);
	if (err)
		return err;
	err = x86_lapic_set(vcpu);
	if (err)
		return err;
	/* Only the boot vCPU starts at the image's entry; APs wait for INIT/SIPI. */
	if (vcpu->id == 0)
		return x86_boot_regs_set(vcpu);
	return 0;
}

void arch_vcpu_destroy(struct vcpu *vcpu)
{
	/* Nothing of its own yet: KVM state goes with the vCPU fd. */
	(void)vcpu;
}

int arch_vcpu_handle_exit(struct vcpu *vcpu)
{
	(void)vcpu;
	return -ENOSYS;
}

void arch_vcpu_describe(struct vcpu *vcpu, char *buf, size_t len)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;

	if (mvm_ioctl_nofault(vcpu->fd, KVM_GET_REGS, &regs) < 0 ||
	    mvm_ioctl_nofault(vcpu->fd, KVM_GET_SREGS, &sregs) < 0) {
		snprintf(buf, len, "registers unreadable");
		return;
	}
	snprintf(buf, len,
		 "RIP=0x%llx RSP=0x%llx RFLAGS=0x%llx CS=0x%x (CPL %u) CR0=0x%llx CR3=0x%llx "
		 "CR4=0x%llx EFER=0x%llx",
		 (unsigned long long)regs.rip, (unsigned long long)regs.rsp,
		 (unsigned long long)regs.rflags, sregs.cs.selector, sregs.cs.selector & 3,
		 (unsigned long long)sregs.cr0, (unsigned long long)sregs.cr3,
		 (unsigned long long)sregs.cr4, (unsigned long long)sregs.efer);
}
