// SPDX-License-Identifier: MIT
/*
 * The x86 arch's CPU set-up (src/arch/x86/cpuid.c, msr.c, cpu_template.c)
 * on the fake KVM (tests/unit/fake_sys.c): a made-up host CPUID goes in
 * through KVM_GET_SUPPORTED_CPUID, and what each vCPU gets is read back
 * from the recorded KVM_SET_CPUID2 and KVM_SET_MSRS. No /dev/kvm needed.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/arch/x86/x86.h"
#include "../unit/fake.h"
#include "mvm/cpu_template.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

#define MSR_IA32_MISC_ENABLE	   0x1a0
#define MSR_IA32_ARCH_CAPABILITIES 0x10a

/* An Intel host: caches L1d, L1i, L2 (per core), L3 (shared); extended topology. */
static void fake_intel_host(void)
{
	static const struct fake_cpuid host[] = {
		{ 0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69 }, /* GenuineIntel */
		{ 0x1, 0, 0, 0x000306f2, 0x00010800, 0x7ffa3203, 0x178bfbff },
		{ 0x4, 0, 1, 0x1c004121, 0x01c0003f, 0x3f, 0 },
		{ 0x4, 1, 1, 0x1c004122, 0x01c0003f, 0x3f, 0 },
		{ 0x4, 2, 1, 0x1c004143, 0x01c0003f, 0x1ff, 0 },
		{ 0x4, 3, 1, 0x1c03c163, 0x03c0003f, 0x3fff, 6 },
		{ 0x7, 0, 1, 0, 0x029c6fbf, 0x40000000, 0xbc000400 },
		{ 0xb, 0, 1, 1, 2, 0x100, 0 },
		{ 0xb, 1, 1, 5, 32, 0x201, 0 },
		{ 0x40000000, 0, 0, 0x40000001, 0, 0, 0 },
		{ 0x40000001, 0, 0, 0x01007afb, 0, 0, 0 },
		{ 0x80000000, 0, 0, 0x80000008, 0, 0, 0 },
		{ 0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800 },
		{ 0x80000008, 0, 0, 0x3027, 0, 0, 0 },
	};

	memcpy(fake_kvm.cpuid, host, sizeof(host));
	fake_kvm.nr_cpuid = sizeof(host) / sizeof(host[0]);
	/* MSRs KVM knows beyond the ones mvm sets. */
	fake_kvm.msrs[0] = (struct fake_msr){ MSR_IA32_ARCH_CAPABILITIES, 0xff0ULL };
}

struct cpu_vm {
	struct vm vm;
	struct vcpu vcpus[4];
};

/* A VM with only what the CPU set-up reads: /dev/kvm, a VM fd, the config. */
static struct cpu_vm *cpu_vm_new(unsigned int cpus, bool smt, const struct mvm_cpu_template *t)
{
	struct cpu_vm *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	mvm_config_init(&c->vm.cfg);
	c->vm.cfg.cpus = cpus;
	c->vm.cfg.smt = smt;
	c->vm.cfg.cpu_template = t;
	c->vm.kvm_fd = mvm_open("/dev/kvm", O_RDWR);
	assert_true(c->vm.kvm_fd >= 0);
	c->vm.vm_fd = mvm_ioctl(c->vm.kvm_fd, KVM_CREATE_VM, 0);
	assert_true(c->vm.vm_fd >= 0);
	return c;
}

static int cpu_vm_vcpu(struct cpu_vm *c, unsigned int id)
{
	struct vcpu *v = &c->vcpus[id];

	v->vm = &c->vm;
	v->id = id;
	v->arch.apic_id = id;
	v->fd = mvm_ioctl(c->vm.vm_fd, KVM_CREATE_VCPU, (void *)(unsigned long)id);
	assert_true(v->fd >= 0);
	return x86_cpuid_set(v);
}

static void cpu_vm_free(struct cpu_vm *c)
{
	unsigned int i;

	x86_cpuid_fini(&c->vm);
	for (i = 0; i < 4; i++)
		if (c->vcpus[i].vm)
			close(c->vcpus[i].fd);
	close(c->vm.vm_fd);
	close(c->vm.kvm_fd);
	free(c);
}

/* The leaf a vCPU got with its last KVM_SET_CPUID2 (fails the test if absent). */
static const struct fake_cpuid *got(uint32_t fn, uint32_t idx)
{
	unsigned int i;

	for (i = 0; i < fake_kvm.nr_set_cpuid; i++)
		if (fake_kvm.set_cpuid[i].function == fn && fake_kvm.set_cpuid[i].index == idx)
			return &fake_kvm.set_cpuid[i];
	fail_msg("leaf 0x%x.%u not given to the vCPU", fn, idx);
	return NULL;
}

static uint64_t got_msr(uint32_t index)
{
	unsigned int i;

	for (i = 0; i < fake_kvm.nr_set_msrs; i++)
		if (fake_kvm.set_msrs[i].index == index)
			return fake_kvm.set_msrs[i].data;
	fail_msg("MSR 0x%x not set", index);
	return 0;
}

static int setup(void **state)
{
	memset(&fake_kvm, 0, sizeof(fake_kvm));
	fake_intel_host();
	return 0;
}

/* Without SMT: one thread a core, every core in the one package. */
static void test_topology_one_thread(void **state)
{
	struct cpu_vm *c = cpu_vm_new(4, false, NULL);

	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	assert_int_equal(cpu_vm_vcpu(c, 2), 0);
	assert_int_equal(got(0xb, 0)->eax, 0);
	assert_int_equal(got(0xb, 0)->ebx, 1);
	assert_int_equal(got(0xb, 1)->eax, 2);
	assert_int_equal(got(0xb, 1)->ebx, 4);
	assert_int_equal(got(0xb, 1)->edx, 2); /* this vCPU's x2APIC id */
	assert_int_equal((got(0x1, 0)->ebx >> 16) & 0xff, 4);
	assert_int_equal(got(0x1, 0)->ebx >> 24, 2);
	assert_true(got(0x1, 0)->edx & (1U << 28)); /* HTT: more than one logical CPU */
	/* L1d, L2: one thread each; L3: the package; 4 cores. */
	assert_int_equal((got(0x4, 0)->eax >> 14) & 0xfff, 0);
	assert_int_equal((got(0x4, 2)->eax >> 14) & 0xfff, 0);
	assert_int_equal((got(0x4, 3)->eax >> 14) & 0xfff, 3);
	assert_int_equal(got(0x4, 0)->eax >> 26, 3);
	cpu_vm_free(c);
}

/* machine-config.smt: two threads a core, as Firecracker's CPUID says it. */
static void test_topology_smt(void **state)
{
	struct cpu_vm *c = cpu_vm_new(4, true, NULL);

	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	assert_int_equal(cpu_vm_vcpu(c, 3), 0);
	assert_int_equal(got(0xb, 0)->eax, 1); /* one APIC id bit for the thread */
	assert_int_equal(got(0xb, 0)->ebx, 2);
	assert_int_equal(got(0xb, 0)->ecx, 0x100);
	assert_int_equal(got(0xb, 1)->eax, 2);
	assert_int_equal(got(0xb, 1)->ebx, 4);
	assert_int_equal(got(0xb, 1)->ecx, 0x201);
	assert_int_equal(got(0xb, 0)->edx, 3);
	assert_int_equal((got(0x1, 0)->ebx >> 16) & 0xff, 4);
	/* L1d, L1i, L2 shared by the core's two threads, L3 by all; 2 cores. */
	assert_int_equal((got(0x4, 0)->eax >> 14) & 0xfff, 1);
	assert_int_equal((got(0x4, 1)->eax >> 14) & 0xfff, 1);
	assert_int_equal((got(0x4, 2)->eax >> 14) & 0xfff, 1);
	assert_int_equal((got(0x4, 3)->eax >> 14) & 0xfff, 3);
	assert_int_equal(got(0x4, 0)->eax >> 26, 1);
	cpu_vm_free(c);
}

/* One vCPU with SMT on is still one thread (Firecracker: cpu_bits only when count > 1). */
static void test_topology_smt_one_vcpu(void **state)
{
	struct cpu_vm *c = cpu_vm_new(1, true, NULL);

	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	assert_int_equal(cpu_vm_vcpu(c, 0), 0);
	assert_int_equal(got(0xb, 0)->eax, 0);
	assert_int_equal(got(0xb, 0)->ebx, 1);
	assert_false(got(0x1, 0)->edx & (1U << 28));
	cpu_vm_free(c);
}

static void add_reg(struct mvm_cpuid_modifier *m, enum mvm_cpuid_reg reg, uint64_t filter,
		    uint64_t value)
{
	m->regs[m->nr_regs].reg = reg;
	m->regs[m->nr_regs++].bits = (struct mvm_bitmap){ filter, value };
}

/* A custom template's CPUID changes: bits set and cleared, the rest kept, flags replaced. */
static void test_template_cpuid(void **state)
{
	struct mvm_cpu_template *t = calloc(1, sizeof(*t));
	struct cpu_vm *c;
	uint32_t ecx1, ebx7;

	assert_non_null(t);
	t->cpuid[0] = (struct mvm_cpuid_modifier){ .leaf = 1, .subleaf = 0, .flags = 0 };
	/* ecx: clear bit 5 (VMX), set bit 2; eax: model/stepping forced to 0x...f2. */
	add_reg(&t->cpuid[0], MVM_CPUID_ECX, (1U << 5) | (1U << 2), 1U << 2);
	add_reg(&t->cpuid[0], MVM_CPUID_EAX, 0xff, 0x42);
	t->cpuid[1] = (struct mvm_cpuid_modifier){ .leaf = 7, .subleaf = 0, .flags = 1 };
	/* Two changes of one register apply in order. */
	add_reg(&t->cpuid[1], MVM_CPUID_EBX, 0xf, 0x0);
	add_reg(&t->cpuid[1], MVM_CPUID_EBX, 0x3, 0x1);
	t->nr_cpuid = 2;

	c = cpu_vm_new(2, false, t);
	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	assert_int_equal(cpu_vm_vcpu(c, 1), 0);
	ecx1 = got(0x1, 0)->ecx;
	assert_false(ecx1 & (1U << 5));
	assert_true(ecx1 & (1U << 2));
	assert_true(ecx1 & (1U << 31)); /* mvm's hypervisor bit: not in the filter, kept */
	assert_int_equal(got(0x1, 0)->eax, 0x00030642);
	assert_int_equal(got(0x1, 0)->flags, 0);
	assert_int_equal(got(0x1, 0)->ebx >> 24, 1); /* the APIC id is still the vCPU's */
	ebx7 = got(0x7, 0)->ebx;
	assert_int_equal(ebx7 & 0xf, 0x1);
	assert_int_equal(ebx7 & ~0xfU, 0x029c6fbfU & ~0xfU);
	assert_int_equal(got(0x7, 0)->flags, 1);
	cpu_vm_free(c);
	free(t);
}

/* A leaf KVM does not have: the VM is not made, with Firecracker's message. */
static void test_template_cpuid_unknown_leaf(void **state)
{
	struct mvm_cpu_template *t = calloc(1, sizeof(*t));
	struct cpu_vm *c;
	char why[256];

	assert_non_null(t);
	t->cpuid[0] = (struct mvm_cpuid_modifier){ .leaf = 0x1d, .subleaf = 1 };
	t->nr_cpuid = 1;
	c = cpu_vm_new(1, false, t);
	mvm_log_capture(why, sizeof(why));
	assert_int_equal(x86_cpuid_init(&c->vm), -EINVAL);
	mvm_log_capture(NULL, 0);
	assert_null(c->vm.arch.cpuid);
	assert_string_equal(why, "Template changes a CPUID entry not supported by KVM: Leaf: 1d, "
				 "Subleaf: 1");
	cpu_vm_free(c);
	free(t);
}

/* MSR changes: of one mvm sets, of one only KVM has; one nobody has is refused. */
static void test_template_msrs(void **state)
{
	struct mvm_cpu_template *t = calloc(1, sizeof(*t));
	struct cpu_vm *c;
	char why[256];

	assert_non_null(t);
	t->msrs[0] = (struct mvm_msr_modifier){ MSR_IA32_MISC_ENABLE, { 0x3, 0x2 } };
	t->msrs[1] = (struct mvm_msr_modifier){ MSR_IA32_ARCH_CAPABILITIES, { 0xf0, 0x0 } };
	t->nr_msrs = 2;
	c = cpu_vm_new(1, false, t);
	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	assert_int_equal(cpu_vm_vcpu(c, 0), 0);
	assert_int_equal(x86_msrs_set(&c->vcpus[0]), 0);
	/* mvm's fast-string bit (1) cleared, bit 1 set. */
	assert_int_equal(got_msr(MSR_IA32_MISC_ENABLE), 0x2);
	/* KVM's 0xff0 with bits 4-7 cleared. */
	assert_int_equal(got_msr(MSR_IA32_ARCH_CAPABILITIES), 0xf00);
	got_msr(0x2ff); /* mvm's own MSRs are still set */

	t->msrs[2] = (struct mvm_msr_modifier){ 0xdead, { 1, 1 } };
	t->nr_msrs = 3;
	mvm_log_capture(why, sizeof(why));
	assert_int_equal(x86_msrs_set(&c->vcpus[0]), -EINVAL);
	mvm_log_capture(NULL, 0);
	assert_string_equal(
		why, "Template changes an MSR entry not supported by KVM: Register Address: dead");
	cpu_vm_free(c);
	free(t);
}

/* kvm_capabilities: an added one KVM lacks stops the VM; a removed one is not checked. */
static void test_template_caps(void **state)
{
	struct mvm_cpu_template *t = calloc(1, sizeof(*t));
	struct cpu_vm *c;
	char why[256];

	assert_non_null(t);
	fake_kvm.caps[0] = 171;
	t->caps[0].cap = 171;
	t->caps[1].cap = 172;
	t->caps[1].remove = true;
	t->nr_caps = 2;
	c = cpu_vm_new(1, false, t);
	assert_int_equal(x86_cpuid_init(&c->vm), 0);
	x86_cpuid_fini(&c->vm);
	t->caps[1].remove = false;
	mvm_log_capture(why, sizeof(why));
	assert_int_equal(x86_cpuid_init(&c->vm), -ENOTSUP);
	mvm_log_capture(NULL, 0);
	assert_string_equal(why, "Missing KVM capabilities: 0xac");
	cpu_vm_free(c);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_topology_one_thread, setup),
		cmocka_unit_test_setup(test_topology_smt, setup),
		cmocka_unit_test_setup(test_topology_smt_one_vcpu, setup),
		cmocka_unit_test_setup(test_template_cpuid, setup),
		cmocka_unit_test_setup(test_template_cpuid_unknown_leaf, setup),
		cmocka_unit_test_setup(test_template_msrs, setup),
		cmocka_unit_test_setup(test_template_caps, setup),
	};

	mvm_log_set_level(-1);
	return cmocka_run_group_tests_name("x86 CPU set-up (fake KVM)", tests, NULL, NULL);
}
