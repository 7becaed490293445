// SPDX-License-Identifier: MIT
/* vCPU creation: validation before allocation, one arch hook, publication. */
#include <errno.h>

#include "fake.h"
#include "mvm/fault.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "unit.h"

static int vcpu_setup(void **state)
{
	fake_reset();
	*state = unit_vm(4);
	return 0;
}

static int vcpu_teardown(void **state)
{
	vm_destroy(*state);
	return 0;
}

/* Runs vcpu_create while counting faultable calls (allocations, ioctls, ...). */
static int create_counting(struct vm *vm, unsigned int id, unsigned long *calls)
{
	int err;

	fault_begin(0);
	err = vcpu_create(vm, id);
	*calls = fault_end();
	return err;
}

static void test_vcpu_create_publishes(void **state)
{
	struct vm *vm = *state;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		assert_int_equal(vcpu_create(vm, i), 0);
		assert_int_equal(vm_online_vcpus(vm), i + 1);
		assert_non_null(vm_vcpu_by_id(vm, i));
		assert_ptr_equal(vm_vcpu(vm, i), vm_vcpu_by_id(vm, i));
	}
	assert_int_equal(fake_arch.vcpu_creates, 4);
	assert_true(fake_arch.saw_unpublished);
	assert_false(fake_arch.saw_published);
}

static void test_vcpu_id_out_of_range(void **state)
{
	struct vm *vm = *state;
	unsigned long calls;

	/* fake KVM_CAP_MAX_VCPU_ID is 16. */
	assert_int_equal(create_counting(vm, 16, &calls), -EINVAL);
	assert_int_equal(calls, 0);
	assert_int_equal(create_counting(vm, 1000, &calls), -EINVAL);
	assert_int_equal(calls, 0);
	assert_int_equal(create_counting(vm, 15, &calls), 0);
	assert_true(calls > 0);
	assert_int_equal(fake_arch.vcpu_creates, 1);
}

static void test_vcpu_duplicate_id(void **state)
{
	struct vm *vm = *state;
	unsigned long calls;
	int kvm_before;

	assert_int_equal(vcpu_create(vm, 3), 0);
	kvm_before = fake_kvm.vcpus_created;
	assert_int_equal(create_counting(vm, 3, &calls), -EEXIST);
	assert_int_equal(calls, 0); /* nothing allocated, no KVM call */
	assert_int_equal(fake_kvm.vcpus_created, kvm_before);
	assert_int_equal(vm_online_vcpus(vm), 1);
	assert_int_equal(fake_arch.vcpu_creates, 1);
}

static void test_vcpu_too_many(void **state)
{
	struct vm *vm = *state;
	unsigned long calls;
	unsigned int i;

	/* The VM was created for 4 vCPUs. */
	for (i = 0; i < 4; i++)
		assert_int_equal(vcpu_create(vm, i * 2), 0);
	assert_int_equal(create_counting(vm, 9, &calls), -EINVAL);
	assert_int_equal(calls, 0);
	assert_int_equal(vm_online_vcpus(vm), 4);
}

static void test_vcpu_precreate_veto(void **state)
{
	struct vm *vm = *state;
	unsigned long calls;

	fake_arch.veto_id = 2;
	assert_int_equal(create_counting(vm, 2, &calls), -EPERM);
	assert_int_equal(calls, 0);
	assert_int_equal(fake_arch.vcpu_creates, 0);
	assert_int_equal(vcpu_create(vm, 1), 0);
}

static void test_vcpu_arch_failure_unwinds(void **state)
{
	struct vm *vm = *state;

	fake_arch.fail_create_id = 1;
	assert_int_equal(vcpu_create(vm, 1), -EIO);
	assert_int_equal(vm_online_vcpus(vm), 0);
	assert_null(vm_vcpu_by_id(vm, 1));
	/* The id and the slot were given back. */
	fake_arch.fail_create_id = -1;
	assert_int_equal(vcpu_create(vm, 1), 0);
	assert_int_equal(vm_online_vcpus(vm), 1);
	/* The failed hook has no destroy to match; the good one does (teardown). */
	assert_int_equal(fake_arch.vcpu_destroys, 0);
}

static void test_vcpu_each_failure_point_unwinds(void **state)
{
	struct vm *vm = *state;
	unsigned long calls, i;

	assert_int_equal(create_counting(vm, 0, &calls), 0);
	assert_true(calls >= 3);
	for (i = 1; i <= calls; i++) {
		int err;

		fault_begin(i);
		err = vcpu_create(vm, 1);
		fault_end();
		assert_true(fault_fired());
		assert_true(err < 0);
		assert_int_equal(vm_online_vcpus(vm), 1);
		assert_null(vm_vcpu_by_id(vm, 1));
	}
	assert_int_equal(vcpu_create(vm, 1), 0);
	assert_int_equal(vm_online_vcpus(vm), 2);
}

static void test_vcpu_destroy_calls_arch_once(void **state)
{
	struct vm *vm = unit_vm(3);
	unsigned int i;

	(void)state;
	for (i = 0; i < 3; i++)
		assert_int_equal(vcpu_create(vm, i), 0);
	vm_destroy(vm);
	assert_int_equal(fake_arch.vcpu_destroys, 3);
}

int run_vcpu_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_vcpu_create_publishes, vcpu_setup,
						vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_id_out_of_range, vcpu_setup,
						vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_duplicate_id, vcpu_setup, vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_too_many, vcpu_setup, vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_precreate_veto, vcpu_setup,
						vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_arch_failure_unwinds, vcpu_setup,
						vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_each_failure_point_unwinds, vcpu_setup,
						vcpu_teardown),
		cmocka_unit_test_setup_teardown(test_vcpu_destroy_calls_arch_once, vcpu_setup,
						vcpu_teardown),
	};

	return cmocka_run_group_tests_name("vcpu", tests, NULL, NULL);
}
