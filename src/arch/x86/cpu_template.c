// SPDX-License-Identifier: MIT
/*
 * A CPU template (mvm/cpu_template.h) on x86: the KVM capabilities it adds
 * are checked when the VM is made, its CPUID changes go into the VM's CPUID
 * table (after mvm's own adjustments, so the template has the last word),
 * its MSR changes into the MSRs each vCPU starts with. As in Firecracker, a
 * change to a CPUID leaf or an MSR that KVM does not have is an error, not
 * an addition. The messages are Firecracker's.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "mvm/cpu_template.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "x86.h"

int x86_cpu_template_check_caps(struct vm *vm)
{
	const struct mvm_cpu_template *t = vm->cfg.cpu_template;
	unsigned int i;
	int r;

	for (i = 0; t && i < t->nr_caps; i++) {
		if (t->caps[i].remove)
			continue;
		r = mvm_ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, (unsigned long)t->caps[i].cap);
		if (r < 0) {
			r = -errno;
			pr_err("KVM_CHECK_EXTENSION %u: %s", t->caps[i].cap, strerror(-r));
			return r;
		}
		if (r == 0) {
			pr_err("Missing KVM capabilities: %#x", t->caps[i].cap);
			return -ENOTSUP;
		}
	}
	return 0;
}

static uint32_t *cpuid_reg(struct kvm_cpuid_entry2 *e, enum mvm_cpuid_reg reg)
{
	switch (reg) {
	case MVM_CPUID_EAX:
		return &e->eax;
	case MVM_CPUID_EBX:
		return &e->ebx;
	case MVM_CPUID_ECX:
		return &e->ecx;
	case MVM_CPUID_EDX:
		break;
	}
	return &e->edx;
}

int x86_cpu_template_cpuid(const struct mvm_cpu_template *t, struct kvm_cpuid2 *c)
{
	unsigned int i, j;
	uint32_t k;

	for (i = 0; t && i < t->nr_cpuid; i++) {
		const struct mvm_cpuid_modifier *m = &t->cpuid[i];
		struct kvm_cpuid_entry2 *e = NULL;

		for (k = 0; k < c->nent && !e; k++)
			if (c->entries[k].function == m->leaf && c->entries[k].index == m->subleaf)
				e = &c->entries[k];
		if (!e) {
			pr_err("Template changes a CPUID entry not supported by KVM: Leaf: %x, "
			       "Subleaf: %x",
			       m->leaf, m->subleaf);
			return -EINVAL;
		}
		e->flags = m->flags;
		for (j = 0; j < m->nr_regs; j++) {
			uint32_t *r = cpuid_reg(e, m->regs[j].reg);

			*r = (uint32_t)mvm_bitmap_apply(&m->regs[j].bits, *r);
		}
	}
	return 0;
}

int x86_cpu_template_msrs(struct vcpu *vcpu, struct kvm_msr_entry *e, unsigned int *n,
			  unsigned int max)
{
	const struct mvm_cpu_template *t = vcpu->vm->cfg.cpu_template;
	unsigned int i, k;

	for (i = 0; t && i < t->nr_msrs; i++) {
		const struct mvm_msr_modifier *m = &t->msrs[i];
		struct {
			struct kvm_msrs hdr;
			struct kvm_msr_entry e;
		} get = { .hdr.nmsrs = 1, .e.index = m->addr };
		int r;

		for (k = 0; k < *n && e[k].index != m->addr; k++)
			;
		if (k == *n) {
			/* Not one mvm sets: the template changes KVM's value of it. */
			if (*n == max)
				return -ENOSPC;
			r = mvm_ioctl(vcpu->fd, KVM_GET_MSRS, &get);
			if (r < 0) {
				r = -errno;
				pr_err("KVM_GET_MSRS 0x%x on vCPU %u: %s", m->addr, vcpu->id,
				       strerror(-r));
				return r;
			}
			if (r != 1) {
				pr_err("Template changes an MSR entry not supported by KVM: "
				       "Register "
				       "Address: %x",
				       m->addr);
				return -EINVAL;
			}
			e[(*n)++] = get.e;
		}
		e[k].data = mvm_bitmap_apply(&m->bits, e[k].data);
	}
	return 0;
}
