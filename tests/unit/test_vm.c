// SPDX-License-Identifier: MIT
/* VM identity and creation on the fake KVM. */
#include <errno.h>
#include <string.h>

#include "fake.h"
#include "mvm/err.h"
#include "mvm/fault.h"
#include "mvm/vm.h"
#include "unit.h"

static void test_vm_names_unique(void **state)
{
	struct mvm_config cfg;
	struct vm *a, *b, *c;

	(void)state;
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.console_out = -1;
	a = vm_create(&cfg);
	b = vm_create(&cfg);
	assert_false(IS_ERR(a));
	assert_false(IS_ERR(b));
	assert_string_not_equal(a->name, b->name);

	cfg.name = "web";
	c = vm_create(&cfg);
	assert_false(IS_ERR(c));
	assert_string_equal(c->name, "web");
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EEXIST);
	vm_destroy(c);
	/* Released with the VM: the name is free again. */
	c = vm_create(&cfg);
	assert_false(IS_ERR(c));
	vm_destroy(c);

	cfg.name = "a/b";
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
	vm_destroy(b);
	vm_destroy(a);
}

static void test_vm_config_checked(void **state)
{
	struct mvm_config cfg;

	(void)state;
	fake_reset();
	mvm_config_init(&cfg);
	cfg.console_out = -1;
	cfg.mem_size = 4096;
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
	cfg.mem_size = (4ULL << 20) + 1;
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
	cfg.mem_size = 4ULL << 20;
	cfg.cpus = 0;
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
	cfg.cpus = MVM_MAX_VCPUS + 1;
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
	/* More than KVM allows (fake: 8). */
	cfg.cpus = 9;
	assert_int_equal(PTR_ERR(vm_create(&cfg)), -EINVAL);
}

static void test_vm_create_each_failure_point(void **state)
{
	struct mvm_config cfg;
	unsigned long calls, i;
	struct vm *vm;

	(void)state;
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.console_out = -1;
	cfg.name = "fp";
	fault_begin(0);
	vm = vm_boot(&cfg);
	calls = fault_end();
	assert_false(IS_ERR(vm));
	vm_destroy(vm);
	assert_true(calls > 10);
	for (i = 1; i <= calls; i++) {
		fault_begin(i);
		vm = vm_boot(&cfg);
		fault_end();
		assert_true(fault_fired());
		assert_true(IS_ERR(vm));
	}
	/* Every failure unwound: the name is free and a VM can be made. */
	vm = vm_boot(&cfg);
	assert_false(IS_ERR(vm));
	vm_destroy(vm);
}

int run_vm_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_names_unique),
		cmocka_unit_test(test_vm_config_checked),
		cmocka_unit_test(test_vm_create_each_failure_point),
	};

	return cmocka_run_group_tests_name("vm", tests, NULL, NULL);
}
