// SPDX-License-Identifier: MIT
/*
 * The x86 snapshot code (src/arch/x86/snapshot.c) against the fake KVM's
 * state ioctls (tests/unit/fake_state.c): a vCPU's and a VM's state saved
 * and restored into new fds comes back the same (kvmclock without its
 * flags, so that it goes on from its value); malformed records (truncated,
 * unknown, twice, the wrong size, a PIT the configuration lacks) are refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "fake.h"
#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct pair {
	struct vm *vm;
	struct vcpu *vcpu;
};

static void pair_make(struct pair *p, bool pit)
{
	p->vm = calloc(1, sizeof(*p->vm));
	p->vcpu = calloc(1, sizeof(*p->vcpu));
	assert_non_null(p->vm);
	assert_non_null(p->vcpu);
	p->vm->kvm_fd = mvm_open("/dev/kvm", O_RDWR);
	assert_true(p->vm->kvm_fd >= 0);
	p->vm->vm_fd = mvm_ioctl(p->vm->kvm_fd, KVM_CREATE_VM, 0);
	assert_true(p->vm->vm_fd >= 0);
	p->vm->cfg.pit = pit;
	p->vcpu->vm = p->vm;
	p->vcpu->id = 1;
	p->vcpu->fd = mvm_ioctl(p->vm->vm_fd, KVM_CREATE_VCPU, 1);
	assert_true(p->vcpu->fd >= 0);
}

static void pair_free(struct pair *p)
{
	close(p->vcpu->fd);
	close(p->vm->vm_fd);
	close(p->vm->kvm_fd);
	free(p->vcpu);
	free(p->vm);
}

static void set(int fd, unsigned long req, void *arg)
{
	assert_true(mvm_ioctl(fd, req, arg) >= 0);
}

/* A vCPU and VM with state in every structure the save reads. */
static void fill(struct pair *p)
{
	struct kvm_regs regs = { .rip = 0x1234, .rax = 41 };
	struct kvm_sregs sregs = { .cr3 = 0x5000, .efer = 0x500 };
	struct kvm_fpu fpu = { .fcw = 0x37f, .mxcsr = 0x1f80 };
	struct kvm_xsave xsave = { .region = { 1, 2, 3 } };
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = 7 } } };
	struct kvm_debugregs dr = { .dr7 = 0x400 };
	struct kvm_lapic_state lapic = { .regs = { [0x20] = 5 } };
	struct kvm_vcpu_events ev = { .nmi = { .pending = 1 } };
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_HALTED };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs = { .hdr.nmsrs = 2,
		   .e = { { .index = 0x10, .data = 999 },
			  { .index = 0x4b564d01, .data = 0x8001 } } };
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[2];
	} cpuid = { .hdr.nent = 2,
		    .e = { { .function = 0, .ebx = 0x756e6547 },
			   { .function = 1, .ecx = 0x80000000 } } };
	struct kvm_clock_data clock = { .clock = 777777, .flags = KVM_CLOCK_TSC_STABLE };
	struct kvm_pit_state2 pit = { .flags = 1 };
	unsigned int c;

	set(p->vcpu->fd, KVM_SET_REGS, &regs);
	set(p->vcpu->fd, KVM_SET_SREGS, &sregs);
	set(p->vcpu->fd, KVM_SET_FPU, &fpu);
	set(p->vcpu->fd, KVM_SET_XSAVE, &xsave);
	set(p->vcpu->fd, KVM_SET_XCRS, &xcrs);
	set(p->vcpu->fd, KVM_SET_DEBUGREGS, &dr);
	set(p->vcpu->fd, KVM_SET_LAPIC, &lapic);
	set(p->vcpu->fd, KVM_SET_VCPU_EVENTS, &ev);
	set(p->vcpu->fd, KVM_SET_MP_STATE, &mp);
	set(p->vcpu->fd, KVM_SET_MSRS, &msrs);
	set(p->vcpu->fd, KVM_SET_CPUID2, &cpuid);
	for (c = 0; c < 3; c++) {
		struct kvm_irqchip chip = { .chip_id = c };

		chip.chip.dummy[0] = (char)(10 + c);
		set(p->vm->vm_fd, KVM_SET_IRQCHIP, &chip);
	}
	set(p->vm->vm_fd, KVM_SET_CLOCK, &clock);
	if (p->vm->cfg.pit)
		set(p->vm->vm_fd, KVM_SET_PIT2, &pit);
}

static void save(struct pair *p, struct snap_buf *vm, struct snap_buf *vcpu)
{
	snap_buf_init(vm);
	snap_buf_init(vcpu);
	assert_int_equal(arch_vm_save(p->vm, vm), 0);
	assert_int_equal(arch_vcpu_save(p->vcpu, vcpu), 0);
}

static void setup(void)
{
	memset(&fake_kvm, 0, sizeof(fake_kvm));
	fake_kvm.max_vcpus = 8;
	fake_kvm.max_vcpu_id = 16;
	fake_kvm.x86_state = true;
	fake_state_reset();
}

static void test_round_trip(void **state)
{
	struct pair a, b;
	struct snap_buf vm, vcpu;
	struct snap_cur c;
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_mp_state mp;
	struct kvm_clock_data clock;
	struct kvm_vcpu_events ev;
	struct kvm_irqchip chip = { .chip_id = 2 };
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs = { .hdr.nmsrs = 2, .e = { { .index = 0x10 }, { .index = 0x4b564d01 } } };
	struct {
		struct kvm_cpuid2 hdr;
		struct kvm_cpuid_entry2 e[8];
	} cpuid = { .hdr.nent = 8 };

	(void)state;
	setup();
	pair_make(&a, true);
	fill(&a);
	save(&a, &vm, &vcpu);
	pair_make(&b, true);
	snap_cur_init(&c, vm.data, vm.len);
	assert_int_equal(arch_vm_restore(b.vm, &c), 0);
	snap_cur_init(&c, vcpu.data, vcpu.len);
	assert_int_equal(arch_vcpu_restore(b.vcpu, &c), 0);

	set(b.vcpu->fd, KVM_GET_REGS, &regs);
	assert_true(regs.rip == 0x1234 && regs.rax == 41);
	set(b.vcpu->fd, KVM_GET_SREGS, &sregs);
	assert_true(sregs.cr3 == 0x5000 && sregs.efer == 0x500);
	set(b.vcpu->fd, KVM_GET_XCRS, &xcrs);
	assert_true(xcrs.nr_xcrs == 1 && xcrs.xcrs[0].value == 7);
	set(b.vcpu->fd, KVM_GET_MP_STATE, &mp);
	assert_int_equal(mp.mp_state, KVM_MP_STATE_HALTED);
	set(b.vcpu->fd, KVM_GET_VCPU_EVENTS, &ev);
	assert_int_equal(ev.nmi.pending, 1);
	assert_int_equal(mvm_ioctl(b.vcpu->fd, KVM_GET_MSRS, &msrs), 2);
	assert_true(msrs.e[0].data == 999 && msrs.e[1].data == 0x8001);
	set(b.vcpu->fd, KVM_GET_CPUID2, &cpuid);
	assert_int_equal(cpuid.hdr.nent, 2);
	assert_int_equal(cpuid.e[1].ecx, 0x80000000);
	set(b.vm->vm_fd, KVM_GET_IRQCHIP, &chip);
	assert_int_equal(chip.chip.dummy[0], 12);
	/* kvmclock goes on from its value; the flags are not passed back. */
	set(b.vm->vm_fd, KVM_GET_CLOCK, &clock);
	assert_true(clock.clock == 777777);
	assert_int_equal(clock.flags, 0);

	snap_buf_free(&vm);
	snap_buf_free(&vcpu);
	pair_free(&a);
	pair_free(&b);
}

static void test_malformed_refused(void **state)
{
	struct pair a, b;
	struct snap_buf vm, vcpu, bad;
	struct snap_cur c;
	size_t n;

	(void)state;
	setup();
	mvm_log_set_level(-1);
	pair_make(&a, false);
	fill(&a);
	save(&a, &vm, &vcpu);
	pair_make(&b, false);
	/* Every truncation of the vCPU's state. */
	for (n = 0; n < vcpu.len; n++) {
		snap_cur_init(&c, vcpu.data, n);
		assert_int_not_equal(arch_vcpu_restore(b.vcpu, &c), 0);
	}
	for (n = 0; n < vm.len; n++) {
		snap_cur_init(&c, vm.data, n);
		assert_int_not_equal(arch_vm_restore(b.vm, &c), 0);
	}
	/* A record kind from a newer mvm. */
	snap_buf_init(&bad);
	snap_put(&bad, vcpu.data, vcpu.len);
	snap_put_u32(&bad, 99);
	snap_put_blob(&bad, "x", 1);
	snap_cur_init(&c, bad.data, bad.len);
	assert_int_equal(arch_vcpu_restore(b.vcpu, &c), -EPROTONOSUPPORT);
	snap_buf_free(&bad);
	/* A record twice. */
	snap_buf_init(&bad);
	snap_put(&bad, vcpu.data, vcpu.len);
	snap_put(&bad, vcpu.data, 8 + sizeof(uint32_t)); /* the TSC rate record again */
	snap_cur_init(&c, bad.data, bad.len);
	assert_int_equal(arch_vcpu_restore(b.vcpu, &c), -EPROTONOSUPPORT);
	snap_buf_free(&bad);
	/* A record of the wrong size: the TSC rate as 2 bytes. */
	snap_buf_init(&bad);
	snap_put_u32(&bad, 1);
	snap_put_blob(&bad, "ab", 2);
	snap_put(&bad, vcpu.data + 12, vcpu.len - 12);
	snap_cur_init(&c, bad.data, bad.len);
	assert_int_equal(arch_vcpu_restore(b.vcpu, &c), -EBADMSG);
	snap_buf_free(&bad);
	/* A PIT the configuration does not have. */
	pair_free(&b);
	pair_make(&b, true);
	snap_cur_init(&c, vm.data, vm.len);
	assert_int_equal(arch_vm_restore(b.vm, &c), -EINVAL);

	snap_buf_free(&vm);
	snap_buf_free(&vcpu);
	pair_free(&a);
	pair_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_malformed_refused),
	};
	int r;

	mvm_log_set_level(-1);
	r = cmocka_run_group_tests_name("x86 snapshot state", tests, NULL, NULL);
	fake_state_reset();
	return r;
}
