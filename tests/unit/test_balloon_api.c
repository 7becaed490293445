// SPDX-License-Identifier: MIT
/*
 * The balloon through Firecracker's API and mvm's command line: PUT, PATCH
 * and GET /balloon, /balloon/statistics and the hinting routes, before boot
 * (the pending configuration) and after (a fake VM with the balloon on
 * virtio-pci attached to the VMM), GET /vm/config, the config file's section.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "fake.h"
#include "mvm/balloon.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/vm.h"
#include "unit.h"

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static struct vmm *vmm_new(void)
{
	struct vmm *vmm = vmm_create_hooked("unit-balloon", NULL);

	assert_false(IS_ERR(vmm));
	vmm->cfg.mem_size = 4ULL << 20;
	return vmm;
}

static unsigned int call(struct vmm *vmm, const char *method, const char *url, const char *body,
			 json_t **out)
{
	struct api_response r;
	unsigned int st;

	api_handle(vmm, method, url, body, body ? strlen(body) : 0, &r);
	st = r.status;
	if (out)
		*out = r.body ? json_loads(r.body, 0, NULL) : NULL;
	api_response_free(&r);
	return st;
}

static void expect(struct vmm *vmm, const char *method, const char *url, const char *body,
		   unsigned int status, const char *want)
{
	json_t *j = NULL;
	const char *msg;

	assert_int_equal(call(vmm, method, url, body, &j), status);
	msg = json_string_value(json_object_get(j, "fault_message"));
	if (!msg || !strstr(msg, want))
		fail_msg("%s %s: fault_message '%s' lacks '%s'", method, url, msg ? msg : "(none)",
			 want);
	json_decref(j);
}

static long long get_int(struct vmm *vmm, const char *url, const char *field)
{
	json_t *j = NULL;
	long long v;

	assert_int_equal(call(vmm, "GET", url, NULL, &j), 200);
	assert_true(json_is_integer(json_object_get(j, field)));
	v = json_integer_value(json_object_get(j, field));
	json_decref(j);
	return v;
}

/* Boots what the pending configuration asks for: a fake VM with a PCI host and its balloon. */
static void attach_vm(struct vmm *vmm)
{
	const struct mvm_device_type *t = mvm_device_type_by_api("balloon");
	struct mvm_devcfg *d = mvm_config_find_device(&vmm->cfg, t, NULL);
	struct vm *vm;

	fake_reset();
	vm = unit_vm(1);
	assert_false(IS_ERR(pci_host_create(vm, &host_desc)));
	assert_non_null(d);
	assert_int_equal(t->create(vm, d->blob, 0), 0);
	vmm->vm = vm;
	vmm->state = VMM_RUNNING;
}

static void detach_vm(struct vmm *vmm)
{
	vm_destroy(vmm->vm);
	vmm->vm = NULL;
	vmm->state = VMM_STOPPED;
}

static void test_preboot(void **state)
{
	struct vmm *vmm = vmm_new();
	json_t *j = NULL, *b;

	(void)state;
	expect(vmm, "GET", "/balloon", NULL, 400, "Device not found");
	expect(vmm, "PUT", "/balloon", "{\"amount_mib\": 1}", 400,
	       "missing field `deflate_on_oom`");
	expect(vmm, "PUT", "/balloon", "{\"amount_mib\": 5, \"deflate_on_oom\": false}", 400,
	       "more than the VM's 4 MiB");
	expect(vmm, "PUT", "/balloon", "{\"amount_mib\": -1, \"deflate_on_oom\": false}", 400,
	       "expected an integer from 0 to");
	/* As Firecracker: both PATCHes are post-boot, their bodies checked first. */
	expect(vmm, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 1}", 400,
	       "The requested operation is not supported before starting the microVM.");
	expect(vmm, "PATCH", "/balloon", "{\"amount_mib\": 1}", 400,
	       "The requested operation is not supported before starting the microVM.");
	expect(vmm, "PATCH", "/balloon", "{\"amount_mib\": \"x\"}", 400,
	       "An error occurred when deserializing the json body of a request: invalid type: "
	       "string \"x\"");
	expect(vmm, "PATCH", "/balloon", "{\"deflate_on_oom\": true}", 400,
	       "cannot be changed after boot");
	assert_int_equal(call(vmm, "PUT", "/balloon",
			      "{\"amount_mib\": 2, \"deflate_on_oom\": true, "
			      "\"stats_polling_interval_s\": 1, \"free_page_reporting\": true}",
			      NULL),
			 204);
	assert_int_equal(get_int(vmm, "/balloon", "amount_mib"), 2);
	/* With the balloon configured: still post-boot, the configuration unchanged. */
	expect(vmm, "PATCH", "/balloon", "{\"amount_mib\": 1}", 400,
	       "not supported before starting the microVM");
	expect(vmm, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 3}", 400,
	       "The requested operation is not supported before starting the microVM.");
	assert_int_equal(get_int(vmm, "/balloon", "amount_mib"), 2);
	assert_int_equal(get_int(vmm, "/balloon", "stats_polling_interval_s"), 1);
	expect(vmm, "PATCH", "/balloon/statistics", "{}", 400,
	       "missing field `stats_polling_interval_s`");
	expect(vmm, "PATCH", "/balloon/statistics", "{\"amount_mib\": 1}", 400, "unknown field");
	expect(vmm, "GET", "/balloon/statistics", NULL, 400, "before starting the microVM");
	expect(vmm, "PATCH", "/balloon/hinting/start", NULL, 400, "before starting the microVM");
	expect(vmm, "GET", "/balloon/hinting/status", NULL, 400, "before starting the microVM");

	/* GET /vm/config echoes it. */
	assert_int_equal(call(vmm, "GET", "/vm/config", NULL, &j), 200);
	b = json_object_get(j, "balloon");
	assert_int_equal(json_integer_value(json_object_get(b, "amount_mib")), 2);
	assert_true(json_is_true(json_object_get(b, "deflate_on_oom")));
	assert_true(json_is_true(json_object_get(b, "free_page_reporting")));
	assert_true(json_is_false(json_object_get(b, "free_page_hinting")));
	json_decref(j);
	vmm_destroy(vmm);
}

static void test_postboot(void **state)
{
	struct vmm *vmm = vmm_new();
	struct balloon_status st;
	json_t *j = NULL;

	(void)state;
	assert_int_equal(call(vmm, "PUT", "/balloon",
			      "{\"amount_mib\": 1, \"deflate_on_oom\": false, "
			      "\"stats_polling_interval_s\": 1, \"free_page_hinting\": true}",
			      NULL),
			 204);
	attach_vm(vmm);
	expect(vmm, "PUT", "/balloon", "{\"amount_mib\": 1, \"deflate_on_oom\": false}", 400,
	       "not supported after starting the microVM");
	/* The target reaches the device. */
	assert_int_equal(call(vmm, "PATCH", "/balloon", "{\"amount_mib\": 3}", NULL), 204);
	assert_int_equal(balloon_get_status(vmm->vm, &st), 0);
	assert_int_equal(st.target_pages, 3 * 256);
	assert_int_equal(get_int(vmm, "/balloon", "amount_mib"), 3);
	expect(vmm, "PATCH", "/balloon", "{\"amount_mib\": 9}", 400, "more than the VM's");
	expect(vmm, "PATCH", "/balloon", "{\"deflate_on_oom\": true}", 400,
	       "cannot be changed after boot");
	assert_int_equal(get_int(vmm, "/balloon/statistics", "target_pages"), 3 * 256);
	assert_int_equal(get_int(vmm, "/balloon/statistics", "actual_mib"), 0);
	/* No guest statistics yet: only the sizes. */
	assert_int_equal(call(vmm, "GET", "/balloon/statistics", NULL, &j), 200);
	assert_null(json_object_get(j, "free_memory"));
	json_decref(j);
	assert_int_equal(call(vmm, "PATCH", "/balloon/statistics",
			      "{\"stats_polling_interval_s\": 5}", NULL),
			 204);
	assert_int_equal(get_int(vmm, "/balloon", "stats_polling_interval_s"), 5);
	expect(vmm, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 0}", 400,
	       "cannot be turned on or off after boot");
	assert_int_equal(get_int(vmm, "/balloon", "stats_polling_interval_s"), 5);

	/* Hinting runs. */
	assert_int_equal(call(vmm, "PATCH", "/balloon/hinting/start", NULL, NULL), 204);
	assert_int_equal(get_int(vmm, "/balloon/hinting/status", "host_cmd"), BALLOON_CMD_ID_MIN);
	assert_int_equal(call(vmm, "PATCH", "/balloon/hinting/start",
			      "{\"acknowledge_on_stop\": true}", NULL),
			 204);
	assert_int_equal(get_int(vmm, "/balloon/hinting/status", "host_cmd"),
			 BALLOON_CMD_ID_MIN + 1);
	expect(vmm, "PATCH", "/balloon/hinting/start", "{\"acknowledge_on_stop\": 1}", 400,
	       "expected a boolean");
	expect(vmm, "PATCH", "/balloon/hinting/start", "[]", 400, "expected a map");
	assert_int_equal(call(vmm, "PATCH", "/balloon/hinting/stop", NULL, NULL), 204);
	assert_int_equal(get_int(vmm, "/balloon/hinting/status", "host_cmd"), BALLOON_CMD_ID_DONE);
	detach_vm(vmm);
	expect(vmm, "GET", "/balloon/statistics", NULL, 400, "stopped");
	vmm_destroy(vmm);
}

static void test_postboot_disabled_features(void **state)
{
	struct vmm *vmm = vmm_new();

	(void)state;
	assert_int_equal(call(vmm, "PUT", "/balloon",
			      "{\"amount_mib\": 0, \"deflate_on_oom\": false}", NULL),
			 204);
	attach_vm(vmm);
	expect(vmm, "GET", "/balloon/statistics", NULL, 400, "statistics were not enabled");
	expect(vmm, "PATCH", "/balloon/statistics", "{\"stats_polling_interval_s\": 2}", 400,
	       "cannot be turned on or off after boot");
	expect(vmm, "PATCH", "/balloon/hinting/start", NULL, 400,
	       "free page hinting was not enabled");
	expect(vmm, "GET", "/balloon/hinting/status", NULL, 400, "not enabled");
	expect(vmm, "PATCH", "/balloon/hinting/stop", NULL, 400, "not enabled");
	detach_vm(vmm);
	vmm_destroy(vmm);
}

static void test_cli_and_config_file(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-balloon");
	char msg[256], path[] = "/tmp/mvm-balloon-cfg-XXXXXX";
	struct mvm_config cfg;
	struct vmm *vmm;
	FILE *f;
	int fd;

	(void)state;
	mvm_config_init(&cfg);
	assert_int_equal(mvm_config_parse_device(&cfg, t,
						 "64,deflate_on_oom,stats_polling_interval_s=2,"
						 "free_page_reporting",
						 msg, sizeof(msg)),
			 0);
	/* One balloon: a second --balloon replaces the first. */
	assert_int_equal(mvm_config_parse_device(&cfg, t, "32", msg, sizeof(msg)), 0);
	assert_int_equal(mvm_config_count(&cfg, t), 1);
	mvm_config_init(&cfg);
	assert_int_equal(mvm_config_parse_device(&cfg, t, "200", msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "more than the VM's 128 MiB"));
	assert_int_equal(mvm_config_parse_device(&cfg, t, "1,bogus", msg, sizeof(msg)), -EINVAL);

	/* The config file's "balloon" section. */
	vmm = vmm_new();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "{\"balloon\": {\"amount_mib\": 1, \"deflate_on_oom\": true, "
		   "\"free_page_hinting\": true}}");
	fclose(f);
	/* The boot fails (no boot source); the section was read before. */
	vmm_load_config_file(vmm, path);
	unlink(path);
	assert_non_null(mvm_config_find_device(&vmm->cfg, mvm_device_type_by_api("balloon"), NULL));
	vmm_destroy(vmm);
}

int run_balloon_api_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_preboot),
		cmocka_unit_test(test_postboot),
		cmocka_unit_test(test_postboot_disabled_features),
		cmocka_unit_test(test_cli_and_config_file),
	};

	return cmocka_run_group_tests_name("balloon-api", tests, NULL, NULL);
}
