// SPDX-License-Identifier: MIT
/*
 * A test double of the KVM kernel interface for the real mvm program
 * (build/tests/mvm-fakekvm): tests/unit/fake_sys.c stands in for /dev/kvm
 * and its fds, and this file adds what the real x86 code asks of a kernel:
 * supported CPUID, the VM's irqchip/PIT/TSS set-up, each vCPU's registers,
 * MSRs, FPU and local APIC (KVM_GET_* give back what was set), and KVM_RUN,
 * which runs a scripted guest (fake_guest.c). No guest code ever runs.
 *
 * Every KVM ioctl is also made as a system call on its fake fd, so the
 * seccomp filters of the API, VMM and vCPU threads judge it as they would
 * the real one. The program refuses to start unless MVM_FAKE_KVM=1.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../unit/fake.h"
#include "fake_kvm.h"

static pthread_mutex_t vcpus_lock = PTHREAD_MUTEX_INITIALIZER;
static struct fake_vcpu vcpus[FAKEKVM_MAX_VCPUS];
unsigned int fake_kbd_irqs;

struct fake_vcpu *fake_vcpu_of(int fd)
{
	struct fake_vcpu *v = NULL;
	unsigned int i;

	pthread_mutex_lock(&vcpus_lock);
	for (i = 0; i < FAKEKVM_MAX_VCPUS && !v; i++)
		if (vcpus[i].used && vcpus[i].fd == fd)
			v = &vcpus[i];
	pthread_mutex_unlock(&vcpus_lock);
	return v;
}

struct fake_vcpu *fake_vcpu_of_index(unsigned int i)
{
	struct fake_vcpu *v = NULL;

	pthread_mutex_lock(&vcpus_lock);
	if (i < FAKEKVM_MAX_VCPUS && vcpus[i].used)
		v = &vcpus[i];
	pthread_mutex_unlock(&vcpus_lock);
	return v;
}

/* A local APIC after reset: its id, version 0x14 with 6 LVTs, every LVT masked. */
static void lapic_reset(struct kvm_lapic_state *l, unsigned int id)
{
	static const unsigned int lvts[] = { 0x320, 0x330, 0x340, 0x350, 0x360, 0x370 };
	uint32_t v;
	unsigned int i;

	memset(l, 0, sizeof(*l));
	v = id << 24;
	memcpy(&l->regs[0x20], &v, 4);
	v = 0x00050014;
	memcpy(&l->regs[0x30], &v, 4);
	v = 0xffffffff;
	memcpy(&l->regs[0xe0], &v, 4); /* DFR: flat model */
	v = 0xff;
	memcpy(&l->regs[0xf0], &v, 4); /* SVR: spurious vector 0xff, APIC soft-disabled */
	v = 0x00010000;
	for (i = 0; i < sizeof(lvts) / sizeof(lvts[0]); i++)
		memcpy(&l->regs[lvts[i]], &v, 4);
}

static void vcpu_created(int fd, unsigned int id)
{
	unsigned int i;

	pthread_mutex_lock(&vcpus_lock);
	/* A closed vCPU's fd number may come back: that slot is the new vCPU's. */
	for (i = 0; i < FAKEKVM_MAX_VCPUS; i++)
		if (vcpus[i].used && vcpus[i].fd == fd)
			vcpus[i].used = false;
	for (i = 0; i < FAKEKVM_MAX_VCPUS; i++) {
		if (vcpus[i].used)
			continue;
		memset(&vcpus[i], 0, sizeof(vcpus[i]));
		vcpus[i].used = true;
		vcpus[i].fd = fd;
		vcpus[i].id = id;
		lapic_reset(&vcpus[i].lapic, id);
		vcpus[i].regs.rflags = 0x2;
		vcpus[i].regs.rip = 0xfff0;
		vcpus[i].sregs.cr0 = 0x60000010;
		vcpus[i].sregs.cs.selector = 0xf000;
		vcpus[i].sregs.cs.base = 0xffff0000;
		vcpus[i].sregs.apic_base = 0xfee00000 | (id ? 0 : 0x100) | 0x800;
		break;
	}
	pthread_mutex_unlock(&vcpus_lock);
}

static void vcpu_mapped(int fd, void *run)
{
	struct fake_vcpu *v = fake_vcpu_of(fd);

	if (v)
		v->run = run;
}

static void irq_line(unsigned int gsi, int level)
{
	/* The i8042 pulses GSI 1: a keyboard interrupt wakes the boot vCPU. */
	if (gsi == 1 && level) {
		__atomic_add_fetch(&fake_kbd_irqs, 1, __ATOMIC_RELEASE);
		fake_guest_wake_all();
	}
}

/* A small CPUID table as KVM_GET_SUPPORTED_CPUID gives it on a recent Intel host. */
static const struct kvm_cpuid_entry2 supported_cpuid[] = {
	/* max basic leaf 0xd, "GenuineIntel" */
	{ .function = 0, .eax = 0xd, .ebx = 0x756e6547, .ecx = 0x6c65746e, .edx = 0x49656e69 },
	/* family 6 model 0x55; SSE3..AVX, x2APIC, TSC-deadline capable; FPU..SSE2 */
	{ .function = 1,
	  .eax = 0x00050654,
	  .ebx = 0x00000800,
	  .ecx = 0xf7fa3223,
	  .edx = 0x078bfbff },
	{ .function = 4,
	  .index = 0,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x00000121,
	  .ebx = 0x01c0003f,
	  .ecx = 0x3f },
	{ .function = 4,
	  .index = 1,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x00000122,
	  .ebx = 0x01c0003f,
	  .ecx = 0x3f },
	{ .function = 4,
	  .index = 2,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x00000143,
	  .ebx = 0x03c0003f,
	  .ecx = 0x3ff },
	{ .function = 4,
	  .index = 3,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x00000163,
	  .ebx = 0x0280003f,
	  .ecx = 0xdfff },
	{ .function = 7, .index = 0, .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX, .ebx = 0xd19f4fbb },
	{ .function = 0xb,
	  .index = 0,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 1,
	  .ebx = 1,
	  .ecx = 0x100 },
	{ .function = 0xd,
	  .index = 0,
	  .flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
	  .eax = 0x7,
	  .ebx = 0x340,
	  .ecx = 0x340 },
	{ .function = 0x40000000, .eax = 0x40000001 },
	{ .function = 0x40000001, .eax = 0x01007afb },
	{ .function = 0x80000000, .eax = 0x80000008 },
	{ .function = 0x80000001, .ecx = 0x121, .edx = 0x2c100800 },
	{ .function = 0x80000008, .eax = 0x3030 },
};

static int get_supported_cpuid(struct kvm_cpuid2 *c)
{
	unsigned int n = sizeof(supported_cpuid) / sizeof(supported_cpuid[0]);

	if (c->nent < n) {
		c->nent = n;
		errno = E2BIG;
		return -1;
	}
	c->nent = n;
	memcpy(c->entries, supported_cpuid, sizeof(supported_cpuid));
	return 0;
}

static int check_extension(long cap)
{
	switch (cap) {
	case KVM_CAP_MAX_VCPUS:
		return fake_kvm.max_vcpus;
	case KVM_CAP_MAX_VCPU_ID:
		return fake_kvm.max_vcpu_id;
	case KVM_CAP_TSC_DEADLINE_TIMER:
	case KVM_CAP_IRQCHIP:
	case KVM_CAP_IRQFD:
	case KVM_CAP_IOEVENTFD:
	case KVM_CAP_IMMEDIATE_EXIT:
	case KVM_CAP_USER_MEMORY:
	case KVM_CAP_SET_TSS_ADDR:
	case KVM_CAP_PIT2:
	case KVM_CAP_SIGNAL_MSI:
		return 1;
	}
	return 0;
}

static int set_msrs(struct fake_vcpu *v, const struct kvm_msrs *m)
{
	unsigned int i, j;

	for (i = 0; i < m->nmsrs; i++) {
		for (j = 0; j < v->nmsrs; j++)
			if (v->msrs[j].index == m->entries[i].index)
				break;
		if (j == v->nmsrs) {
			if (v->nmsrs == FAKEKVM_MAX_MSRS)
				return (int)i; /* KVM stops at the first MSR it refuses */
			v->nmsrs++;
		}
		v->msrs[j] = m->entries[i];
	}
	return (int)m->nmsrs;
}

static int vcpu_ioctl(int fd, unsigned long req, void *arg)
{
	struct fake_vcpu *v = fake_vcpu_of(fd);

	if (!v) {
		errno = EBADF;
		return -1;
	}
	switch (req) {
	case KVM_RUN:
		return fake_guest_run(v);
	case KVM_SET_CPUID2:
		v->cpuid_nent = ((const struct kvm_cpuid2 *)arg)->nent;
		return 0;
	case KVM_SET_MSRS:
		return set_msrs(v, arg);
	case KVM_SET_REGS:
		memcpy(&v->regs, arg, sizeof(v->regs));
		return 0;
	case KVM_GET_REGS:
		memcpy(arg, &v->regs, sizeof(v->regs));
		return 0;
	case KVM_SET_SREGS:
		memcpy(&v->sregs, arg, sizeof(v->sregs));
		return 0;
	case KVM_GET_SREGS:
		memcpy(arg, &v->sregs, sizeof(v->sregs));
		return 0;
	case KVM_SET_FPU:
		memcpy(&v->fpu, arg, sizeof(v->fpu));
		return 0;
	case KVM_GET_FPU:
		memcpy(arg, &v->fpu, sizeof(v->fpu));
		return 0;
	case KVM_SET_LAPIC:
		memcpy(&v->lapic, arg, sizeof(v->lapic));
		return 0;
	case KVM_GET_LAPIC:
		memcpy(arg, &v->lapic, sizeof(v->lapic));
		return 0;
	}
	errno = ENOTTY;
	return -1;
}

static int fake_ioctl(enum fake_fd_kind kind, int fd, unsigned long req, void *arg)
{
	switch (kind) {
	case FD_KVM:
		if (req == KVM_GET_SUPPORTED_CPUID)
			return get_supported_cpuid(arg);
		if (req == KVM_CHECK_EXTENSION)
			return check_extension((long)arg);
		break;
	case FD_VM:
		switch (req) {
		case KVM_SET_TSS_ADDR:
		case KVM_SET_IDENTITY_MAP_ADDR:
		case KVM_CREATE_IRQCHIP:
		case KVM_CREATE_PIT2:
		case KVM_ENABLE_CAP: /* KVM_CAP_SPLIT_IRQCHIP */
			return 0;
		}
		break;
	case FD_VCPU:
		return vcpu_ioctl(fd, req, arg);
	default: /* not a KVM fd: the unit fake's (its host VFIO) */
		break;
	}
	errno = ENOTTY;
	return -1;
}

static const struct fake_kvm_ops fakekvm_ops = {
	.ioctl = fake_ioctl,
	.vcpu_created = vcpu_created,
	.vcpu_mapped = vcpu_mapped,
	.irq_line = irq_line,
	.syscall_probe = true,
};

/* Before main(): refuse to run by accident, and say what this is. */
__attribute__((constructor)) static void fakekvm_init(void)
{
	const char *on = getenv("MVM_FAKE_KVM");

	if (!on || strcmp(on, "1")) {
		fprintf(stderr, "mvm-fakekvm: refusing to run: this is mvm on a TEST DOUBLE of KVM "
				"(no guest runs); only tests use it, with MVM_FAKE_KVM=1\n");
		exit(2);
	}
	fprintf(stderr, "mvm-fakekvm: TEST DOUBLE of KVM: a scripted guest, not a VM\n");
	fake_kvm.max_vcpus = 288;
	fake_kvm.max_vcpu_id = 1024;
	fake_kvm.binary_stats = true;
	/* What this double does not keep itself (XSAVE, events, clocks...) the unit fake does. */
	fake_kvm.x86_state = true;
	fake_guest_setup();
	fake_kvm_ops = &fakekvm_ops;
}
