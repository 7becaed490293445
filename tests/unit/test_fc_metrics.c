// SPDX-License-Identifier: MIT
/*
 * Firecracker's per-device metric groups (src/api/fc_metrics.c): beside the
 * aggregate "block", "net" and "pmem", one "block_<drive_id>" (...) group
 * per configured instance, each with the aggregate's fields, filled from
 * that device's own counters.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/api/fc_metrics.h"
#include "fake.h"
#include "mvm/config.h"
#include "mvm/device.h"
#include "mvm/devtype.h"
#include "mvm/err.h"
#include "mvm/vm.h"
#include "unit.h"

static char disk[] = "/tmp/mvm-fcm-XXXXXX";

static int disk_setup(void **state)
{
	int fd = mkstemp(disk);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	return 0;
}

static int disk_teardown(void **state)
{
	unlink(disk);
	return 0;
}

static void add_disk(struct mvm_config *cfg, const char *id)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-blk");
	char arg[256], msg[256];

	assert_non_null(t);
	snprintf(arg, sizeof(arg), "%s,id=%s", disk, id);
	if (mvm_config_parse_device(cfg, t, arg, msg, sizeof(msg)))
		fail_msg("%s", msg);
}

static json_int_t field(json_t *line, const char *group, const char *name)
{
	json_t *g = json_object_get(line, group);

	if (!g)
		fail_msg("no group '%s'", group);
	return json_integer_value(json_object_get(g, name));
}

/* Before boot: the groups come from the configured ids, all zero. */
static void test_groups_before_boot(void **state)
{
	struct mvm_config cfg;
	json_t *ids, *line;

	mvm_config_init(&cfg);
	add_disk(&cfg, "rootfs");
	add_disk(&cfg, "scratch");
	ids = fc_metrics_device_ids(&cfg);
	assert_non_null(ids);
	assert_int_equal(json_array_size(json_object_get(ids, "block")), 2);
	assert_int_equal(json_array_size(json_object_get(ids, "net")), 0);
	line = fc_metrics_counters(NULL, ids, NULL, 0);
	assert_non_null(line);
	assert_non_null(json_object_get(line, "block"));
	assert_int_equal(json_object_size(json_object_get(line, "block_rootfs")),
			 json_object_size(json_object_get(line, "block")));
	assert_non_null(json_object_get(line, "block_scratch"));
	assert_null(json_object_get(line, "block_0"));
	assert_non_null(json_object_get(json_object_get(line, "block_rootfs"), "read_agg"));
	json_decref(line);
	/* Without a list: the aggregate groups only, as before any device. */
	line = fc_metrics_counters(NULL, NULL, NULL, 0);
	assert_null(json_object_get(line, "block_rootfs"));
	json_decref(line);
	json_decref(ids);
}

/* A counter of one disk: in its own group and in the aggregate, not in the other disk's. */
static void bump(struct vm *vm, const char *dev_name, const char *counter, unsigned int times)
{
	struct mvm_device *dev;
	unsigned int i;

	list_for_each_entry (dev, &vm->devices, node) {
		if (strcmp(dev->name, dev_name))
			continue;
		for (i = 0; i < dev->stats.nr_counters; i++)
			if (!strcmp(dev->stats.counters[i].name, counter)) {
				mvm_counter_t *c = (mvm_counter_t *)((char *)dev->stats.owner +
								     dev->stats.counters[i].offset);

				while (times--)
					counter_inc(c);
				return;
			}
	}
	fail_msg("no counter %s of %s", counter, dev_name);
}

static void test_groups_of_a_vm(void **state)
{
	struct mvm_config cfg;
	struct vm *vm;
	json_t *line;

	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.console_out = -1;
	cfg.transport = MVM_TRANSPORT_MMIO;
	add_disk(&cfg, "rootfs");
	add_disk(&cfg, "scratch");
	vm = vm_create(&cfg);
	assert_false(IS_ERR(vm));
	bump(vm, "virtio-blk1", "write_count", 3);
	bump(vm, "virtio-blk0", "read_count", 1);
	/* The VM's own configuration names the groups, whatever list is given. */
	line = fc_metrics_counters(vm, NULL, NULL, 0);
	assert_non_null(line);
	assert_int_equal(field(line, "block_scratch", "write_count"), 3);
	assert_int_equal(field(line, "block_scratch", "read_count"), 0);
	assert_int_equal(field(line, "block_rootfs", "read_count"), 1);
	assert_int_equal(field(line, "block_rootfs", "write_count"), 0);
	assert_int_equal(field(line, "block", "write_count"), 3);
	assert_int_equal(field(line, "block", "read_count"), 1);
	json_decref(line);
	vm_destroy(vm);
}

int run_fc_metrics_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_groups_before_boot),
		cmocka_unit_test(test_groups_of_a_vm),
	};

	return cmocka_run_group_tests_name("per-device metrics", tests, disk_setup, disk_teardown);
}
