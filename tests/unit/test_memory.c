// SPDX-License-Identifier: MIT
/* The checked guest-memory accessors: range, overflow, region boundaries. */
#include <errno.h>
#include <string.h>

#include "mvm/memory.h"
#include "unit.h"

static uint8_t low[0x10000], high[0x1000];

static struct vm_memory two_regions(void)
{
	struct vm_memory m = { .fd = -1, .nr_regions = 2 };

	m.regions[0] = (struct mem_region){ 0, sizeof(low), low, 0 };
	m.regions[1] = (struct mem_region){ 1ULL << 32, sizeof(high), high, 1 };
	return m;
}

static void test_mem_ptr_in_range(void **state)
{
	struct vm_memory m = two_regions();

	(void)state;
	assert_ptr_equal(mem_ptr(&m, 0, 1), low);
	assert_ptr_equal(mem_ptr(&m, 0x100, 0x10), low + 0x100);
	assert_ptr_equal(mem_ptr(&m, 0, sizeof(low)), low);
	assert_ptr_equal(mem_ptr(&m, sizeof(low) - 4, 4), low + sizeof(low) - 4);
	assert_ptr_equal(mem_ptr(&m, (1ULL << 32) + 8, 8), high + 8);
}

static void test_mem_ptr_out_of_range(void **state)
{
	struct vm_memory m = two_regions();

	(void)state;
	assert_null(mem_ptr(&m, sizeof(low), 1));      /* just past low RAM */
	assert_null(mem_ptr(&m, sizeof(low) - 4, 5));  /* straddles the end */
	assert_null(mem_ptr(&m, 0, sizeof(low) + 1));  /* longer than the region */
	assert_null(mem_ptr(&m, (1ULL << 32) - 1, 2)); /* just below high RAM */
	assert_null(mem_ptr(&m, (1ULL << 32) + sizeof(high), 1));
	assert_null(mem_ptr(&m, 0x1000, UINT64_MAX)); /* length wraps */
	assert_null(mem_ptr(&m, UINT64_MAX - 1, 4));  /* address + length wraps */
	assert_null(mem_ptr(&m, UINT64_MAX, 1));
}

static void test_mem_read_write(void **state)
{
	struct vm_memory m = two_regions();
	uint32_t v = 0xdeadbeef, r = 0;

	(void)state;
	assert_int_equal(mem_write(&m, 0x200, &v, sizeof(v)), 0);
	assert_int_equal(mem_read(&m, 0x200, &r, sizeof(r)), 0);
	assert_int_equal(r, 0xdeadbeef);
	assert_int_equal(mem_write(&m, sizeof(low) - 2, &v, sizeof(v)), -EFAULT);
	assert_int_equal(mem_read(&m, UINT64_MAX - 2, &r, sizeof(r)), -EFAULT);
	/* A failed write leaves memory as it was. */
	memset(low + sizeof(low) - 2, 0x5a, 2);
	assert_int_equal(mem_write(&m, sizeof(low) - 2, &v, sizeof(v)), -EFAULT);
	assert_int_equal(low[sizeof(low) - 1], 0x5a);
}

static void test_mem_avail(void **state)
{
	struct vm_memory m = two_regions();

	(void)state;
	assert_int_equal(mem_avail(&m, 0), sizeof(low));
	assert_int_equal(mem_avail(&m, sizeof(low) - 1), 1);
	assert_int_equal(mem_avail(&m, sizeof(low)), 0);
	assert_int_equal(mem_avail(&m, (1ULL << 32) + 0x10), sizeof(high) - 0x10);
}

int run_memory_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mem_ptr_in_range),
		cmocka_unit_test(test_mem_ptr_out_of_range),
		cmocka_unit_test(test_mem_read_write),
		cmocka_unit_test(test_mem_avail),
	};

	return cmocka_run_group_tests_name("memory", tests, NULL, NULL);
}
