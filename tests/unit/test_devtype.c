// SPDX-License-Identifier: MIT
/*
 * Device types and their option tables (mvm/devtype.h): one test type with
 * a field of every kind drives the command-line parser, the API's checks
 * and echo, the config file's section and vm_create()'s creation loop.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "fake.h"
#include "mvm/devtype.h"
#include "mvm/err.h"
#include "mvm/vm.h"
#include "unit.h"

struct widget_limit {
	uint64_t size;
	uint64_t refill_time;
};

struct widget {
	char id[17];
	char file[128];
	bool shiny;
	uint64_t count;
	unsigned int mode;
	uint8_t mac[6];
	bool limit_given;
	struct widget_limit limit;
};

static unsigned int widgets_created;
static int widget_create_err;
static char widget_order[64];

static int widget_create(struct vm *vm, const void *blob, unsigned int index)
{
	const struct widget *w = blob;
	size_t n = strlen(widget_order);

	if (widget_create_err)
		return widget_create_err;
	widgets_created++;
	snprintf(widget_order + n, sizeof(widget_order) - n, "%s%u:%s", n ? "," : "", index, w->id);
	return 0;
}

static int widget_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
			size_t len)
{
	const struct widget *w = blob;

	if (w->count == 13) {
		snprintf(msg, len, "13 widgets bring bad luck");
		return -EINVAL;
	}
	return 0;
}

static const struct mvm_opt_choice widget_modes[] = { { "a", "Alpha" },
						      { "b", "Beta" },
						      { "cli-only", "" },
						      { NULL } };

static const struct mvm_opt limit_opts[] = {
	{ MVM_OPT("size", NULL, MVM_OPT_UINT, 0, offsetof(struct widget_limit, size)),
	  .max = 1000 },
	{ MVM_OPT("refill_time", NULL, MVM_OPT_UINT, 0, offsetof(struct widget_limit, refill_time)),
	  .max = 1000 },
	MVM_OPT_END,
};

static const struct mvm_opt widget_opts[] = {
	{ MVM_OPT("file", "path_on_host", MVM_OPT_STR,
		  MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED | MVM_OPT_HOST_FILE,
		  offsetof(struct widget, file)),
	  .max = 127 },
	{ MVM_OPT("id", "widget_id", MVM_OPT_STR, MVM_OPT_ID, offsetof(struct widget, id)),
	  .max = 16 },
	{ MVM_OPT("shiny", "is_shiny", MVM_OPT_BOOL, MVM_OPT_PATCH,
		  offsetof(struct widget, shiny)) },
	{ MVM_OPT("count", NULL, MVM_OPT_UINT, 0, offsetof(struct widget, count)), .min = 1,
	  .max = 64, .def = "2" },
	{ MVM_OPT("mode", NULL, MVM_OPT_ENUM, 0, offsetof(struct widget, mode)),
	  .choices = widget_modes, .def = "a", .api_def = "b" },
	{ MVM_OPT("mac", "guest_mac", MVM_OPT_MAC, 0, offsetof(struct widget, mac)) },
	{ MVM_OPT("limit", "rate_limiter", MVM_OPT_OBJECT, MVM_OPT_PATCH,
		  offsetof(struct widget, limit)),
	  .sub = limit_opts, .set_offset = offsetof(struct widget, limit_given) },
	{ MVM_OPT("socket", NULL, MVM_OPT_UNSUPPORTED, MVM_OPT_API_ONLY, 0),
	  .help = "sockets are not for widgets" },
	MVM_OPT_END,
};

static const struct mvm_device_type widget_type = {
	.name = "unit-widget",
	.summary = "a widget for the unit tests",
	.order = 99,
	.cli = "widget",
	.cli_arg = "FILE",
	.api = "widgets",
	.api_noun = "widget",
	.max = 3,
	.config_size = sizeof(struct widget),
	.opts = widget_opts,
	.check = widget_check,
	.create = widget_create,
};
MVM_DEVICE_TYPE(widget_type);

static char file[64];

static int devtype_setup(void **state)
{
	int fd;

	snprintf(file, sizeof(file), "/tmp/mvm-devtype-XXXXXX");
	fd = mkstemp(file);
	if (fd < 0)
		return -1;
	close(fd);
	widgets_created = 0;
	widget_create_err = 0;
	widget_order[0] = '\0';
	return 0;
}

static int devtype_teardown(void **state)
{
	unlink(file);
	return 0;
}

/* Parses arg (with %s for the file) into cfg; the message when it fails. */
static int parse(struct mvm_config *cfg, const char *fmt, char *msg)
{
	char arg[512];

	snprintf(arg, sizeof(arg), fmt, file);
	msg[0] = '\0';
	return mvm_config_parse_device(cfg, &widget_type, arg, msg, 256);
}

static const struct widget *last_widget(const struct mvm_config *cfg)
{
	assert_true(cfg->nr_devices > 0);
	assert_ptr_equal(cfg->devices[cfg->nr_devices - 1].type, &widget_type);
	return (const void *)cfg->devices[cfg->nr_devices - 1].blob;
}

static void expect_parse_error(const char *fmt, const char *want)
{
	struct mvm_config cfg;
	char msg[256];

	mvm_config_init(&cfg);
	assert_int_equal(parse(&cfg, fmt, msg), -EINVAL);
	if (!strstr(msg, want))
		fail_msg("'%s': message '%s' lacks '%s'", fmt, msg, want);
	assert_int_equal(cfg.nr_devices, 0); /* nothing half-added */
}

static void test_registry(void **state)
{
	const struct mvm_device_type **t;
	unsigned int i, n = mvm_device_types(&t);

	(void)state;
	assert_true(n >= 4);
	for (i = 1; i < n; i++)
		assert_true(
			t[i - 1]->order < t[i]->order ||
			(t[i - 1]->order == t[i]->order && strcmp(t[i - 1]->name, t[i]->name) < 0));
	assert_ptr_equal(mvm_device_type_find("unit-widget"), &widget_type);
	assert_ptr_equal(mvm_device_type_by_api("widgets"), &widget_type);
	assert_ptr_equal(mvm_device_type_by_api("drives"), mvm_device_type_find("virtio-blk"));
	assert_null(mvm_device_type_find("no-such-type"));
	/* Platform devices before the PCI host before virtio devices. */
	assert_true(mvm_device_type_find("serial8250")->order <
		    mvm_device_type_find("pci-host")->order);
	assert_true(mvm_device_type_find("pci-host")->order <
		    mvm_device_type_find("virtio-blk")->order);
}

static void test_cli_values(void **state)
{
	const struct widget *w;
	struct mvm_config cfg;
	char msg[256];

	(void)state;
	mvm_config_init(&cfg);
	/* Defaults only. */
	assert_int_equal(parse(&cfg, "%s", msg), 0);
	w = last_widget(&cfg);
	assert_string_equal(w->file, file);
	assert_string_equal(w->id, "");
	assert_false(w->shiny);
	assert_int_equal(w->count, 2);
	assert_int_equal(w->mode, 0);
	assert_false(w->limit_given);
	/* Every kind of value. */
	assert_int_equal(parse(&cfg,
			       "%s,id=w1,shiny,count=0x10,mode=b,mac=02:00:00:aa:bb:cc,"
			       "limit.size=5,limit.refill_time=100",
			       msg),
			 0);
	w = last_widget(&cfg);
	assert_string_equal(w->id, "w1");
	assert_true(w->shiny);
	assert_int_equal(w->count, 16);
	assert_int_equal(w->mode, 1);
	assert_memory_equal(w->mac, "\x02\x00\x00\xaa\xbb\xcc", 6);
	assert_true(w->limit_given);
	assert_int_equal(w->limit.size, 5);
	assert_int_equal(w->limit.refill_time, 100);
	assert_int_equal(parse(&cfg, "%s,shiny=off,mode=cli-only", msg), 0);
	assert_false(last_widget(&cfg)->shiny);
	assert_int_equal(last_widget(&cfg)->mode, 2);
	/* The type's maximum (3), and ids stay unique. */
	assert_int_equal(parse(&cfg, "%s", msg), -ENOSPC);
	assert_non_null(strstr(msg, "too many widgets: at most 3"));
	mvm_config_init(&cfg);
	assert_int_equal(parse(&cfg, "%s,id=x", msg), 0);
	assert_int_equal(parse(&cfg, "%s,id=x", msg), -EINVAL);
	assert_non_null(strstr(msg, "given twice"));
}

static void test_cli_errors(void **state)
{
	(void)state;
	expect_parse_error("%s,colour=red", "unknown option 'colour'");
	expect_parse_error("%s,socket=/s", "unknown option 'socket'"); /* API only */
	expect_parse_error("%s,count=many",
			   "'count': 'many' is not valid: give a number from 1 to 64");
	expect_parse_error("%s,count=65", "from 1 to 64");
	expect_parse_error("%s,count=0", "from 1 to 64");
	expect_parse_error("%s,count=-1", "from 1 to 64");
	expect_parse_error("%s,shiny=maybe", "give on or off");
	expect_parse_error("%s,mode=c", "give a|b|cli-only");
	expect_parse_error("%s,mac=02:00:00:aa:bb", "MAC address");
	expect_parse_error("%s,mac=02:00:00:aa:bb:cc:dd", "MAC address");
	expect_parse_error("%s,id=0123456789abcdefX", "1 to 16 characters");
	expect_parse_error("%s,limit=3", "name.field");
	expect_parse_error("%s,limit.size=1001", "from 0 to 1000");
	expect_parse_error("%s,limit.colour=1", "unknown option 'limit.colour'");
	expect_parse_error("id=w", "needs a file first");
	expect_parse_error("/nonexistent/widget", "No such file or directory");
	expect_parse_error("/dev/null", "not a regular file or block device");
	expect_parse_error("%s,count=13", "bad luck"); /* the type's own check */
}

/* ---- the API and the config file ---- */

static struct vm *boot_none(const struct mvm_config *cfg)
{
	return ERR_PTR(-ENOSYS);
}

static struct vmm *widget_vmm(void)
{
	struct vmm_hooks h = { .boot = boot_none };
	struct vmm *vmm = vmm_create_hooked("unit-devtype", &h);

	assert_false(IS_ERR(vmm));
	return vmm;
}

static unsigned int put(struct vmm *vmm, const char *url, const char *fmt, char *fault)
{
	struct api_response r;
	char body[1024];
	unsigned int st;

	snprintf(body, sizeof(body), fmt, file);
	api_handle(vmm, "PUT", url, body, strlen(body), &r);
	st = r.status;
	fault[0] = '\0';
	if (r.body) {
		json_t *j = json_loads(r.body, 0, NULL);

		snprintf(fault, 256, "%s",
			 json_string_value(json_object_get(j, "fault_message")) ?: "");
		json_decref(j);
	}
	api_response_free(&r);
	return st;
}

static void expect_put_fault(struct vmm *vmm, const char *url, const char *fmt, const char *want)
{
	char fault[256];

	assert_int_equal(put(vmm, url, fmt, fault), 400);
	if (!strstr(fault, want))
		fail_msg("PUT %s %s: '%s' lacks '%s'", url, fmt, fault, want);
}

static void test_api(void **state)
{
	struct vmm *vmm = widget_vmm();
	const struct widget *w;
	struct api_response r;
	char fault[256];
	json_t *j, *a, *e;

	(void)state;
	assert_int_equal(
		put(vmm, "/widgets/w1",
		    "{\"widget_id\": \"w1\", \"path_on_host\": \"%s\", \"is_shiny\": true, "
		    "\"count\": 7, \"guest_mac\": \"06:00:00:00:00:01\", "
		    "\"rate_limiter\": {\"size\": 10, \"refill_time\": 20}}",
		    fault),
		204);
	assert_int_equal(vmm->cfg.nr_devices, 1);
	w = (const void *)vmm->cfg.devices[0].blob;
	assert_true(w->shiny);
	assert_int_equal(w->count, 7);
	assert_int_equal(w->mode, 1); /* the API's default: Beta */
	assert_true(w->limit_given);
	assert_int_equal(w->limit.refill_time, 20);
	/* The same id again replaces it. */
	assert_int_equal(
		put(vmm, "/widgets/w1",
		    "{\"widget_id\": \"w1\", \"path_on_host\": \"%s\", \"mode\": \"Alpha\"}",
		    fault),
		204);
	assert_int_equal(vmm->cfg.nr_devices, 1);
	assert_int_equal(((const struct widget *)(const void *)vmm->cfg.devices[0].blob)->mode, 0);

	/* One test per kind of bad value. */
	expect_put_fault(vmm, "/widgets/w2", "{\"widget_id\": \"w2\"}",
			 "missing field `path_on_host` at line 1 column 19.");
	expect_put_fault(vmm, "/widgets/w2", "{\"path_on_host\": \"%s\"}",
			 "missing field `widget_id`");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"colour\": 1}",
			 "unknown field `colour`, expected one of `path_on_host`, `widget_id`");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"count\": \"7\"}",
			 "invalid type: string \"7\", expected an unsigned integer");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"count\": 65}",
			 "invalid value: integer `65`, expected an integer from 1 to 64");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"is_shiny\": 1}",
			 "invalid type: integer `1`, expected a boolean");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"mode\": \"a\"}",
			 "unknown variant `a`, expected `Alpha` or `Beta`");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"guest_mac\": \"x\"}",
			 "not a MAC address");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"rate_limiter\": "
			 "{\"size\": -1}}",
			 "invalid value: integer `-1`, expected an integer from 0 to");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"socket\": \"/s\"}",
			 "field 'socket': sockets are not for widgets");
	expect_put_fault(vmm, "/widgets/w2", "{\"widget_id\": \"w3\", \"path_on_host\": \"%s\"}",
			 "The id from the path does not match the id from the body!");
	expect_put_fault(
		vmm, "/widgets/w.2", "{\"widget_id\": \"w.2\", \"path_on_host\": \"%s\"}",
		"API Resource IDs can only contain alphanumeric characters and underscores.");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"/dev/null\"}",
			 "field 'path_on_host': '/dev/null' is not a regular file");
	expect_put_fault(vmm, "/widgets/w2",
			 "{\"widget_id\": \"w2\", \"path_on_host\": \"%s\", \"count\": 13}",
			 "bad luck");
	assert_int_equal(vmm->cfg.nr_devices, 1); /* none of them was added */

	/* PATCH is post-boot. */
	api_handle(vmm, "PATCH", "/widgets/w1", "{\"widget_id\": \"w1\"}", 19, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "not supported before starting the microVM"));
	api_response_free(&r);

	/* GET /vm/config echoes it with the API's spellings; unset fields null. */
	api_handle(vmm, "GET", "/vm/config", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	api_response_free(&r);
	a = json_object_get(j, "widgets");
	assert_int_equal(json_array_size(a), 1);
	e = json_array_get(a, 0);
	assert_string_equal(json_string_value(json_object_get(e, "widget_id")), "w1");
	assert_string_equal(json_string_value(json_object_get(e, "mode")), "Alpha");
	assert_string_equal(json_string_value(json_object_get(e, "guest_mac")),
			    "00:00:00:00:00:00");
	assert_true(json_is_null(json_object_get(e, "rate_limiter")));
	assert_true(json_is_null(json_object_get(e, "socket")));
	assert_int_equal(json_integer_value(json_object_get(e, "count")), 2);
	json_decref(j);
	vmm_destroy(vmm);
}

static void test_config_file_section(void **state)
{
	struct vmm *vmm = widget_vmm();
	char path[64], text[512];
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s.json", file);
	snprintf(text, sizeof(text),
		 "{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"widgets\": "
		 "[{\"widget_id\": \"a\", \"path_on_host\": \"%s\"}, {\"widget_id\": \"b\", "
		 "\"path_on_host\": \"%s\", \"count\": 3}]}",
		 file, file, file);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	/* The sections apply; the boot hook then refuses, which is the file's error. */
	assert_int_equal(vmm_load_config_file(vmm, path), -EINVAL);
	assert_int_equal(vmm->cfg.nr_devices, 2);
	assert_int_equal(((const struct widget *)(const void *)vmm->cfg.devices[1].blob)->count, 3);
	vmm_destroy(vmm);

	vmm = widget_vmm();
	snprintf(text, sizeof(text), "{\"widgets\": [{\"path_on_host\": \"%s\"}]}", file);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
	assert_int_equal(vmm_load_config_file(vmm, path), -EINVAL);
	assert_int_equal(vmm->cfg.nr_devices, 0);
	vmm_destroy(vmm);
	unlink(path);
}

/* vm_create() creates the configured instances of each type, in order; a failure unwinds. */
static void test_vm_creates_instances(void **state)
{
	struct mvm_config cfg;
	char msg[256];
	struct vm *vm;

	(void)state;
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.console_out = -1;
	assert_int_equal(parse(&cfg, "%s,id=first", msg), 0);
	assert_int_equal(parse(&cfg, "%s,id=second", msg), 0);
	vm = vm_create(&cfg);
	assert_false(IS_ERR(vm));
	assert_int_equal(widgets_created, 2);
	assert_string_equal(widget_order, "0:first,1:second");
	vm_destroy(vm);

	widget_create_err = -EIO;
	assert_ptr_equal(vm_create(&cfg), ERR_PTR(-EIO));
}

int run_devtype_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registry),
		cmocka_unit_test_setup_teardown(test_cli_values, devtype_setup, devtype_teardown),
		cmocka_unit_test_setup_teardown(test_cli_errors, devtype_setup, devtype_teardown),
		cmocka_unit_test_setup_teardown(test_api, devtype_setup, devtype_teardown),
		cmocka_unit_test_setup_teardown(test_config_file_section, devtype_setup,
						devtype_teardown),
		cmocka_unit_test_setup_teardown(test_vm_creates_instances, devtype_setup,
						devtype_teardown),
	};

	return cmocka_run_group_tests_name("devtype", tests, NULL, NULL);
}
