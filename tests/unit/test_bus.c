// SPDX-License-Identifier: MIT
/* Buses: overlap rejection, lookup, unclaimed accesses. */
#include <errno.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/device.h"
#include "unit.h"

static struct mvm_device devs[4];

static int bus_setup(void **state)
{
	static struct mvm_bus bus;
	static const struct mvm_device_ops ops = { .type = "test" };
	unsigned int i;

	bus_init(&bus, MVM_BUS_PIO);
	for (i = 0; i < 4; i++) {
		memset(&devs[i], 0, sizeof(devs[i]));
		devs[i].ops = &ops;
		atomic_init(&devs[i].refcount, 1);
	}
	*state = &bus;
	return 0;
}

static int bus_teardown(void **state)
{
	bus_fini(*state);
	return 0;
}

static void test_bus_overlap(void **state)
{
	struct mvm_bus *bus = *state;

	assert_int_equal(bus_add(bus, 0x100, 0x10, &devs[0], 0), 0);
	assert_int_equal(bus_add(bus, 0x100, 0x10, &devs[1], 0), -EBUSY); /* same */
	assert_int_equal(bus_add(bus, 0xf8, 0x10, &devs[1], 0), -EBUSY);  /* left edge */
	assert_int_equal(bus_add(bus, 0x10f, 0x1, &devs[1], 0), -EBUSY);  /* last byte */
	assert_int_equal(bus_add(bus, 0x104, 0x2, &devs[1], 0), -EBUSY);  /* inside */
	assert_int_equal(bus_add(bus, 0x0, 0x1000, &devs[1], 0), -EBUSY); /* around */
	assert_int_equal(bus_add(bus, 0xf0, 0x10, &devs[1], 0), 0);	  /* adjacent below */
	assert_int_equal(bus_add(bus, 0x110, 0x10, &devs[2], 0), 0);	  /* adjacent above */
	assert_int_equal(bus->nr, 3);
	/* Sorted by base. */
	assert_int_equal(bus->ranges[0].base, 0xf0);
	assert_int_equal(bus->ranges[1].base, 0x100);
	assert_int_equal(bus->ranges[2].base, 0x110);
}

static void test_bus_invalid_ranges(void **state)
{
	struct mvm_bus *bus = *state;

	assert_int_equal(bus_add(bus, 0x100, 0, &devs[0], 0), -EINVAL);
	assert_int_equal(bus_add(bus, UINT64_MAX - 1, 4, &devs[0], 0), -EINVAL);
	assert_int_equal(bus_add(bus, UINT64_MAX, 1, &devs[0], 0), 0); /* the very last byte */
	assert_int_equal(bus->nr, 1);
}

static void test_bus_many_ranges(void **state)
{
	struct mvm_bus *bus = *state;
	unsigned int i;

	/* Inserted out of order; growth of the range array included. */
	for (i = 0; i < 40; i++)
		assert_int_equal(bus_add(bus, ((i * 7) % 40) * 0x10, 0x8, &devs[i % 4], 0), 0);
	for (i = 1; i < bus->nr; i++)
		assert_true(bus->ranges[i - 1].base < bus->ranges[i].base);
	bus_remove(bus, &devs[0]);
	assert_int_equal(bus->nr, 30);
	for (i = 0; i < bus->nr; i++)
		assert_ptr_not_equal(bus->ranges[i].dev, &devs[0]);
}

static void test_bus_unclaimed(void **state)
{
	struct mvm_bus *bus = *state;
	uint8_t data[8];
	uint32_t v = 0x12345678;

	assert_int_equal(bus_add(bus, 0x100, 0x10, &devs[0], 0), 0);
	memset(data, 0, sizeof(data));
	assert_false(bus_access(bus, 0x200, data, 4, false));
	assert_memory_equal(data, "\xff\xff\xff\xff\0\0\0\0", 8);
	assert_false(bus_access(bus, 0x200, &v, 4, true));
	/* Straddles the end of a claimed range: nobody claims it wholly. */
	assert_false(bus_access(bus, 0x10e, data, 4, false));
	assert_int_equal(counter_read(&bus->unclaimed_reads), 2);
	assert_int_equal(counter_read(&bus->unclaimed_writes), 1);
	/* Claimed: a device without read op reads as all-ones, counted on the device. */
	memset(data, 0, sizeof(data));
	assert_true(bus_access(bus, 0x10c, data, 4, false));
	assert_memory_equal(data, "\xff\xff\xff\xff", 4);
	assert_int_equal(counter_read(&devs[0].reads), 1);
	assert_int_equal(counter_read(&bus->unclaimed_reads), 2);
}

int run_bus_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_bus_overlap, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_bus_invalid_ranges, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_bus_many_ranges, bus_setup, bus_teardown),
		cmocka_unit_test_setup_teardown(test_bus_unclaimed, bus_setup, bus_teardown),
	};

	return cmocka_run_group_tests_name("bus", tests, NULL, NULL);
}
