// SPDX-License-Identifier: MIT
/* The device life cycle: alloc/init, register, ref counting, release once. */
#include <errno.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/fault.h"
#include "mvm/vm.h"
#include "unit.h"

struct test_dev {
	struct mvm_device dev;
	int value;
	unsigned int refs_in_read; /* refcount seen inside a read */
};

static int inits, releases;
static int init_result;

static int test_init(struct mvm_device *dev, const void *args)
{
	const uint64_t *base = args;
	int err;

	inits++;
	if (init_result)
		return init_result;
	err = mvm_device_add_io(dev, MVM_BUS_PIO, *base, 4);
	if (err)
		return err;
	container_of(dev, struct test_dev, dev)->value = 42;
	return 0;
}

static void test_release(struct mvm_device *dev)
{
	(void)dev;
	releases++;
}

static void test_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
		      unsigned int len)
{
	struct test_dev *t = container_of(dev, struct test_dev, dev);

	(void)io;
	t->refs_in_read = atomic_load(&dev->refcount);
	memset(data, (int)off, len);
}

static const struct mvm_device_ops test_ops = {
	.type = "test",
	.init = test_init,
	.release = test_release,
	.read = test_read,
};

static int device_setup(void **state)
{
	inits = releases = init_result = 0;
	*state = unit_vm(1);
	return 0;
}

static int device_teardown(void **state)
{
	vm_destroy(*state);
	return 0;
}

static struct test_dev *new_dev(struct vm *vm, uint64_t base, const char *name)
{
	return mvm_device_alloc(struct test_dev, dev, vm, &test_ops, name, &base);
}

static unsigned int listed(struct vm *vm)
{
	struct mvm_device *d;
	unsigned int n = 0;

	list_for_each_entry (d, &vm->devices, node)
		n++;
	return n;
}

static void test_release_on_last_put(void **state)
{
	struct test_dev *t = new_dev(*state, 0x500, "t0");

	assert_false(IS_ERR(t));
	assert_int_equal(inits, 1);
	assert_int_equal(t->value, 42);
	assert_int_equal(atomic_load(&t->dev.refcount), 1);
	mvm_device_get(&t->dev);
	mvm_device_get(&t->dev);
	mvm_device_put(&t->dev);
	mvm_device_put(&t->dev);
	assert_int_equal(releases, 0);
	mvm_device_put(&t->dev); /* the last one */
	assert_int_equal(releases, 1);
}

static void test_init_failure_frees(void **state)
{
	struct test_dev *t;

	init_result = -ENODEV;
	t = new_dev(*state, 0x500, "t0");
	assert_true(IS_ERR(t));
	assert_int_equal(PTR_ERR(t), -ENODEV);
	/* The core freed it (ASan/LSan would see a leak) without a release. */
	assert_int_equal(releases, 0);
}

static void test_alloc_failure(void **state)
{
	struct test_dev *t;

	fault_begin(1);
	t = new_dev(*state, 0x500, "t0");
	fault_end();
	assert_true(IS_ERR(t));
	assert_int_equal(PTR_ERR(t), -ENOMEM);
	assert_int_equal(inits, 0);
}

static void test_bad_names(void **state)
{
	assert_true(IS_ERR(new_dev(*state, 0x500, "a-name-much-longer-than-thirty-one-chars")));
	assert_int_equal(inits, 0);
}

static void test_register_lists_and_claims(void **state)
{
	struct vm *vm = *state;
	unsigned int before = listed(vm);
	struct test_dev *t = new_dev(vm, 0x500, "t0");
	uint8_t data[4];

	assert_int_equal(mvm_device_register(&t->dev), 0);
	assert_int_equal(listed(vm), before + 1);
	assert_true(bus_access(&vm->buses[MVM_BUS_PIO], 0x502, data, 2, false));
	assert_int_equal(data[0], 2);
	/* The access held a reference of its own while in the device. */
	assert_int_equal(t->refs_in_read, 2);
	assert_int_equal(atomic_load(&t->dev.refcount), 1);

	mvm_device_unregister(&t->dev);
	assert_int_equal(listed(vm), before);
	assert_false(bus_access(&vm->buses[MVM_BUS_PIO], 0x502, data, 2, false));
	assert_int_equal(releases, 0);
	mvm_device_put(&t->dev);
	assert_int_equal(releases, 1);
}

static void test_register_overlap_rolls_back(void **state)
{
	struct vm *vm = *state;
	unsigned int before = listed(vm);
	struct test_dev *a = new_dev(vm, 0x500, "a");
	struct test_dev *b = new_dev(vm, 0x600, "b");
	uint8_t data[4];

	/* b claims 0x600 and then a range that overlaps a's. */
	assert_int_equal(mvm_device_add_io(&b->dev, MVM_BUS_PIO, 0x502, 1), 0);
	assert_int_equal(mvm_device_register(&a->dev), 0);
	assert_int_equal(mvm_device_register(&b->dev), -EBUSY);
	assert_false(b->dev.registered);
	assert_int_equal(listed(vm), before + 1);
	/* b's first range was given back. */
	assert_false(bus_access(&vm->buses[MVM_BUS_PIO], 0x600, data, 1, false));
	mvm_device_put(&b->dev);
	assert_int_equal(releases, 1);
	/* vm_destroy() releases a: the VM owns listed devices. */
}

static void test_vm_destroy_releases_devices(void **state)
{
	struct vm *vm = unit_vm(1);
	struct test_dev *t = new_dev(vm, 0x700, "t");

	(void)state;
	assert_int_equal(mvm_device_register(&t->dev), 0);
	vm_destroy(vm);
	assert_int_equal(releases, 1);
}

int run_device_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_release_on_last_put, device_setup,
						device_teardown),
		cmocka_unit_test_setup_teardown(test_init_failure_frees, device_setup,
						device_teardown),
		cmocka_unit_test_setup_teardown(test_alloc_failure, device_setup, device_teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, device_setup, device_teardown),
		cmocka_unit_test_setup_teardown(test_register_lists_and_claims, device_setup,
						device_teardown),
		cmocka_unit_test_setup_teardown(test_register_overlap_rolls_back, device_setup,
						device_teardown),
		cmocka_unit_test_setup_teardown(test_vm_destroy_releases_devices, device_setup,
						device_teardown),
	};

	return cmocka_run_group_tests_name("device", tests, NULL, NULL);
}
