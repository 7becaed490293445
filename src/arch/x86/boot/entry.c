// SPDX-License-Identifier: MIT
/* The boot vCPU's register state for the boot protocol the loader chose. */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "../x86.h"
#include "boot.h"

#define X86_CR0_PE   0x1ULL
#define X86_CR0_ET   0x10ULL
#define X86_CR0_PG   0x80000000ULL
#define X86_CR4_PAE  0x20ULL
#define X86_EFER_LME 0x100ULL
#define X86_EFER_LMA 0x400ULL
#define BOOT_CS	     0x10 /* Linux's __BOOT_CS and __BOOT_DS */
#define BOOT_DS	     0x18

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.dpl = 0,
		.db = 1,
		.s = 1,
		.l = 0,
		.g = 1,
	};
}

/*
 * PVH: 32-bit protected mode, paging off; CS a flat 32-bit code segment, the
 * data segments flat, TR a 32-bit busy TSS (VMX requires a usable TR), EBX
 * the start info, EFLAGS with only the reserved bit.
 */
static void pvh_state(struct vm *vm, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	flat_segment(&sregs->cs, 0x10, 0xb);
	flat_segment(&sregs->ds, 0x18, 0x3);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1
	};
	sregs->cr0 = X86_CR0_PE | X86_CR0_ET;
	sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = vm->arch.boot.entry;
	regs->rbx = vm->arch.boot.info;
	regs->rflags = 0x2;
}

/*
 * Linux 64-bit boot protocol: long mode with the identity map the loader
 * wrote, the loader's flat GDT (__BOOT_CS, __BOOT_DS), interrupts off,
 * RSI = zero page.
 */
static void linux64_state(struct vm *vm, struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	flat_segment(&sregs->cs, BOOT_CS, 0xb);
	sregs->cs.db = 0;
	sregs->cs.l = 1;
	flat_segment(&sregs->ds, BOOT_DS, 0x3);
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr = (struct kvm_segment){
		.base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb, .present = 1
	};
	sregs->gdt.base = BOOT_GDT;
	sregs->gdt.limit = 4 * 8 - 1;
	sregs->cr3 = BOOT_PML4;
	sregs->cr4 = X86_CR4_PAE;
	sregs->cr0 = X86_CR0_PE | X86_CR0_PG | X86_CR0_ET;
	sregs->efer = X86_EFER_LME | X86_EFER_LMA;

	memset(regs, 0, sizeof(*regs));
	regs->rip = vm->arch.boot.entry;
	regs->rsi = vm->arch.boot.info;
	regs->rflags = 0x2;
}

/*
 * The reset vector, as the processor's RESET leaves it (SDM vol. 3, 9.1.1):
 * real mode, CS selector 0xf000 with base 0xffff0000, IP 0xfff0, the other
 * segments 0 with 64 KiB limits. KVM's initial vCPU state is the same;
 * written out so that the boot vCPU is there whatever ran before.
 */
static void reset_state(struct kvm_regs *regs, struct kvm_sregs *sregs)
{
	const struct kvm_segment data = { .limit = 0xffff, .type = 0x3, .present = 1, .s = 1 };

	sregs->cs = (struct kvm_segment){ .base = 0xffff0000,
					  .limit = 0xffff,
					  .selector = 0xf000,
					  .type = 0xb,
					  .present = 1,
					  .s = 1 };
	sregs->ds = sregs->es = sregs->fs = sregs->gs = sregs->ss = data;
	sregs->tr = (struct kvm_segment){ .limit = 0xffff, .type = 0xb, .present = 1 };
	sregs->ldt = (struct kvm_segment){ .limit = 0xffff, .type = 0x2, .present = 1 };
	sregs->gdt = (struct kvm_dtable){ .limit = 0xffff };
	sregs->idt = (struct kvm_dtable){ .limit = 0xffff };
	sregs->cr0 = X86_CR0_ET | 0x60000000ULL; /* CD, NW */
	sregs->cr2 = sregs->cr3 = sregs->cr4 = 0;
	sregs->efer = 0;

	memset(regs, 0, sizeof(*regs));
	regs->rip = 0xfff0;
	regs->rflags = 0x2;
	regs->rdx = 0x600; /* the processor's signature, as after RESET */
}

int x86_boot_regs_set(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	int err;

	if (vm->arch.boot.mode == X86_BOOT_NONE)
		return 0;
	if (mvm_ioctl(vcpu->fd, KVM_GET_SREGS, &sregs) < 0)
		goto err;
	if (vm->arch.boot.mode == X86_BOOT_LINUX64)
		linux64_state(vm, &regs, &sregs);
	else if (vm->arch.boot.mode == X86_BOOT_RESET)
		reset_state(&regs, &sregs);
	else
		pvh_state(vm, &regs, &sregs);
	if (mvm_ioctl(vcpu->fd, KVM_SET_SREGS, &sregs) < 0)
		goto err;
	if (mvm_ioctl(vcpu->fd, KVM_SET_REGS, &regs) < 0)
		goto err;
	return 0;
err:
	err = -errno;
	pr_err("setting the boot registers of vCPU %u: %s", vcpu->id, strerror(-err));
	return err;
}
