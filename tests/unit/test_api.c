// SPDX-License-Identifier: MIT
/*
 * The API's parsing and state machine, on the fake KVM: the router (404,
 * 405 + Allow, unsupported operations), the JSON checks and their messages,
 * each handler's effect on the pending configuration, pre-/post-boot rules,
 * InstanceStart (failed with the boot's reason, and successful with a fake
 * VM handed to a stand-in main thread), and --config-file.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "block/disk_config.h"
#include "fake.h"
#include "mvm/cpu_template.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/vsock.h"
#include "unit.h"

static char tmpdir[64];
static char disk[128], kernel[128];

/* ---- helpers ---- */

static struct vm *boot_fails(const struct mvm_config *cfg)
{
	pr_err("kernel %s: the loader says no", cfg->kernel);
	return ERR_PTR(-ENOEXEC);
}

/* What the last boot was given: the command line and the drives' order. */
static char booted_cmdline[256], booted_drives[64];
static int booted_console_out;

static struct vm *boot_capture(const struct mvm_config *cfg)
{
	unsigned int i;

	snprintf(booted_cmdline, sizeof(booted_cmdline), "%s", cfg->cmdline ? cfg->cmdline : "");
	booted_console_out = cfg->console_out;
	booted_drives[0] = '\0';
	for (i = 0; i < cfg->nr_devices; i++)
		snprintf(booted_drives + strlen(booted_drives),
			 sizeof(booted_drives) - strlen(booted_drives), "%s ",
			 mvm_devcfg_id(&cfg->devices[i]));
	return ERR_PTR(-ENOEXEC);
}

static unsigned int booted_cpus;

static struct vm *boot_fake(const struct mvm_config *cfg)
{
	struct mvm_config c = *cfg;

	booted_cpus = cfg->cpus;
	c.mem_size = 4ULL << 20;
	c.console_out = -1;
	c.console_in = -1;
	/* The fake arch has no PCI host: the API's part ends at cfg->devices. */
	c.nr_devices = 0;
	return vm_create(&c); /* no vCPUs: vm_run() returns at once */
}

static struct metrics *metrics_refused(const char *path)
{
	return ERR_PTR(-EACCES);
}

static int log_path_ok(const char *path)
{
	return 0;
}

static void no_exit(struct vmm *vmm)
{
}

static struct vmm *new_vmm(struct vm *(*boot)(const struct mvm_config *))
{
	struct vmm_hooks h = { .boot = boot,
			       .metrics_open = metrics_refused,
			       .log_set_path = log_path_ok,
			       .exit_request = no_exit };
	struct vmm *vmm = vmm_create_hooked("unit", &h);

	assert_false(IS_ERR(vmm));
	return vmm;
}

/* One request: the status; *out (if given) the parsed body. */
static unsigned int req(struct vmm *vmm, const char *method, const char *url, const char *body,
			json_t **out, struct api_response *keep)
{
	struct api_response r;
	unsigned int st;

	api_handle(vmm, method, url, body, body ? strlen(body) : 0, &r);
	st = r.status;
	if (out) {
		*out = r.body ? json_loads(r.body, 0, NULL) : NULL;
		assert_true(st == 204 || *out);
	}
	if (keep)
		*keep = r;
	else
		api_response_free(&r);
	return st;
}

/* The status, and fault_message contains want. */
static void expect_fault(struct vmm *vmm, const char *method, const char *url, const char *body,
			 unsigned int status, const char *want)
{
	json_t *j;
	const char *msg;

	assert_int_equal(req(vmm, method, url, body, &j, NULL), status);
	msg = json_string_value(json_object_get(j, "fault_message"));
	if (!msg || !strstr(msg, want))
		fail_msg("%s %s %s: fault_message '%s' lacks '%s'", method, url, body ? body : "",
			 msg ? msg : "(none)", want);
	json_decref(j);
}

static json_t *get(struct vmm *vmm, const char *url)
{
	json_t *j;

	assert_int_equal(req(vmm, "GET", url, NULL, &j, NULL), 200);
	return j;
}

/* ---- the router ---- */

static void test_router(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	struct api_response r;

	/* As Firecracker: an unknown path and a wrong method are both 400. */
	expect_fault(vmm, "GET", "/no/such/thing", NULL, 400,
		     "Invalid request method and/or path: GET /no/such/thing.");
	expect_fault(vmm, "GET", "/drives/", NULL, 400, "Invalid request method and/or path");
	expect_fault(vmm, "GET", "/drives/a/b", NULL, 400, "Invalid request method and/or path");
	expect_fault(vmm, "PATCH", "/boot-source", "{}", 400,
		     "Invalid request method and/or path: PATCH /boot-source.");
	assert_int_equal(req(vmm, "DELETE", "/machine-config", NULL, NULL, &r), 400);
	assert_string_equal(r.allow, "GET, PUT, PATCH");
	api_response_free(&r);
	assert_int_equal(req(vmm, "GET", "/drives/x", NULL, NULL, &r), 400);
	assert_string_equal(r.allow, "PUT, PATCH");
	api_response_free(&r);
	expect_fault(vmm, "GET", "/machine-config", "{}", 400, "GET request cannot have a body.");
	expect_fault(vmm, "PATCH", "/machine-config", NULL, 400, "Empty PATCH request.");
	expect_fault(vmm, "PUT", "/drives/a-b", "{}", 400,
		     "API Resource IDs can only contain alphanumeric characters and underscores.");
	expect_fault(vmm, "PUT", "/vsock", "{}", 400, "guest_cid");
	expect_fault(vmm, "PUT", "/balloon", "{}", 400, "missing field `amount_mib`");
	/* Served by the virtio-net type: its option table checks the body. */
	expect_fault(vmm, "PUT", "/network-interfaces/eth0", "{}", 400,
		     "missing field `host_dev_name`");
	expect_fault(vmm, "PUT", "/network-interfaces/eth0",
		     "{\"iface_id\": \"eth0\", \"host_dev_name\": \"mvm-no-such-tap\"}", 400,
		     "tap 'mvm-no-such-tap' does not exist");
	expect_fault(vmm, "GET", "/balloon", NULL, 400, "Device not found");
	/* A body is required and must be an object. */
	expect_fault(vmm, "PUT", "/machine-config", NULL, 400, "Empty PUT request.");
	expect_fault(vmm, "PUT", "/machine-config", "[1]", 400,
		     "An error occurred when deserializing the json body of a request: invalid "
		     "type: sequence, expected a map.");
	expect_fault(vmm, "PUT", "/machine-config", "{\"a\":", 400,
		     "An error occurred when deserializing the json body of a request: ");
	expect_fault(vmm, "PUT", "/machine-config", "{\"vcpu_count\":1,\"vcpu_count\":2}", 400,
		     "An error occurred when deserializing the json body of a request: ");
	/* serde_json's positions: the end of the object, after a key, after a value. */
	expect_fault(vmm, "PUT", "/machine-config", "{\"mem_size_mib\": 128}", 400,
		     "An error occurred when deserializing the json body of a request: missing "
		     "field `vcpu_count` at line 1 column 21.");
	expect_fault(vmm, "PUT", "/machine-config", "{\"vcpu_count\": 2}", 400,
		     "An error occurred when deserializing the json body of a request: missing "
		     "field `mem_size_mib` at line 1 column 17.");
	expect_fault(vmm, "PUT", "/machine-config", "{\"foo\": 1}", 400,
		     "An error occurred when deserializing the json body of a request: unknown "
		     "field `foo`, expected one of `vcpu_count`, `mem_size_mib`, `smt`, "
		     "`track_dirty_pages`, `cpu_template`, `huge_pages` at line 1 column 6.");
	expect_fault(vmm, "PUT", "/machine-config", "{\n\"vcpu_count\": \"12\"}", 400,
		     "An error occurred when deserializing the json body of a request: invalid "
		     "type: string \"12\", expected an unsigned integer at line 2 "
		     "column 18.");
	/* A URL that is not UTF-8 still gets a JSON answer. */
	expect_fault(vmm, "GET", "/\xff\xfe", NULL, 400,
		     "Invalid request method and/or path: GET /?"
		     "?.");
	vmm_destroy(vmm);
}

/* ---- JSON checks ---- */

static void jc_expect(const struct jc_field *f, const char *json, const char *want)
{
	/* JSON_ALLOW_NUL: the check itself must refuse NULs (the router's parser does too). */
	json_t *j = json_loads(json, JSON_ALLOW_NUL, NULL);
	char msg[256];
	int r;

	assert_non_null(j);
	r = jc_check(j, f, msg, sizeof(msg));
	json_decref(j);
	if (!want) {
		if (r)
			fail_msg("%s: refused: %s", json, msg);
		return;
	}
	assert_int_equal(r, -EINVAL);
	if (strcmp(msg, want))
		fail_msg("%s: message '%s', want '%s'", json, msg, want);
}

static void test_json_check(void **state)
{
	static const char *const colours[] = { "Red", "Green", NULL };
	static const struct jc_field inner[] = {
		{ .name = "size", .type = JC_INT, .required = true, .min = 0, .max = 10 },
		{ .name = NULL },
	};
	static const struct jc_field f[] = {
		{ .name = "n", .type = JC_INT, .required = true, .min = 1, .max = 32 },
		{ .name = "s", .type = JC_STRING },
		{ .name = "b", .type = JC_BOOL },
		{ .name = "c", .type = JC_STRING, .enums = colours, .nocase = true },
		{ .name = "o", .type = JC_OBJECT, .sub = inner },
		{ .name = "m", .type = JC_STRMAP },
		{ .name = NULL },
	};

	jc_expect(f, "{\"n\": 1}", NULL);
	jc_expect(f, "{\"n\": 32, \"s\": null, \"c\": \"green\", \"o\": {\"size\": 3}, \"m\": {}}",
		  NULL);
	jc_expect(f, "{}",
		  "An error occurred when deserializing the json body of a request: missing field "
		  "`n`.");
	jc_expect(f, "{\"n\": null}",
		  "An error occurred when deserializing the json body of a request: missing field "
		  "`n`.");
	jc_expect(f, "{\"n\": 33}",
		  "An error occurred when deserializing the json body of a request: invalid value: "
		  "integer `33`, expected an integer from 1 to 32.");
	jc_expect(f, "{\"n\": 0}",
		  "An error occurred when deserializing the json body of a request: invalid value: "
		  "integer `0`, expected an integer from 1 to 32.");
	jc_expect(f, "{\"n\": \"1\"}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "string \"1\", expected an unsigned integer.");
	jc_expect(f, "{\"n\": 1.5}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "floating point `1.5`, expected an unsigned integer.");
	jc_expect(f, "{\"n\": 1, \"b\": 1}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "integer `1`, expected a boolean.");
	jc_expect(f, "{\"n\": 1, \"s\": []}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "sequence, expected a string.");
	jc_expect(f, "{\"n\": 1, \"x\": 1}",
		  "An error occurred when deserializing the json body of a request: unknown field "
		  "`x`, expected one of `n`, `s`, `b`, `c`, `o`, `m`.");
	jc_expect(f, "{\"n\": 1, \"c\": \"Blue\"}",
		  "An error occurred when deserializing the json body of a request: unknown "
		  "variant `Blue`, expected `Red` or `Green`.");
	jc_expect(f, "{\"n\": 1, \"o\": {\"size\": 11}}",
		  "An error occurred when deserializing the json body of a request: invalid value: "
		  "integer `11`, expected an integer from 0 to 10.");
	jc_expect(f, "{\"n\": 1, \"o\": {}}",
		  "An error occurred when deserializing the json body of a request: missing field "
		  "`size`.");
	jc_expect(f, "{\"n\": 1, \"o\": {\"size\": 1, \"z\": 0}}",
		  "An error occurred when deserializing the json body of a request: unknown field "
		  "`z`, expected `size`.");
	jc_expect(f, "{\"n\": 1, \"o\": 3}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "integer `3`, expected a map.");
	jc_expect(f, "{\"n\": 1, \"m\": {\"k\": 1}}",
		  "An error occurred when deserializing the json body of a request: invalid type: "
		  "integer `1`, expected a string.");
	jc_expect(f, "{\"n\": 1, \"s\": \"a\\u0000b\"}",
		  "An error occurred when deserializing the json body of a request: invalid value: "
		  "string with a NUL character, expected a string.");
}

/* ---- configuration handlers ---- */

static void test_machine_config(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	struct api_response r;
	json_t *j = get(vmm, "/machine-config");

	assert_int_equal(json_integer_value(json_object_get(j, "vcpu_count")), 1);
	assert_int_equal(json_integer_value(json_object_get(j, "mem_size_mib")), 128);
	json_decref(j);
	assert_int_equal(req(vmm, "PUT", "/machine-config",
			     "{\"vcpu_count\": 4, \"mem_size_mib\": 256}", NULL, NULL),
			 204);
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 2}", NULL, NULL),
			 204);
	/* Refused requests change nothing. */
	expect_fault(vmm, "PUT", "/machine-config", "{\"vcpu_count\": 8}", 400,
		     "missing field `mem_size_mib`");
	/* SMT: 1 or an even number of vCPUs, checked against the count in force. */
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 3, \"smt\": true}", 400,
		     "Machine config error: The number of vCPUs must be greater than 0, less than "
		     "32 and must be 1 or an even number if SMT is enabled.");
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"smt\": true}", NULL, NULL), 204);
	assert_true(vmm->cfg.smt);
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 5}", 400,
		     "must be 1 or an even number if SMT is enabled.");
	j = get(vmm, "/machine-config");
	assert_true(json_is_true(json_object_get(j, "smt")));
	json_decref(j);
	/* PUT resets it to Firecracker's default. */
	assert_int_equal(req(vmm, "PUT", "/machine-config",
			     "{\"vcpu_count\": 2, \"mem_size_mib\": 256}", NULL, NULL),
			 204);
	assert_false(vmm->cfg.smt);
	expect_fault(vmm, "PATCH", "/machine-config",
		     "{\"huge_pages\": \"2M\", \"mem_size_mib\": 257}", 400,
		     "\"2M\" needs mem_size_mib to be a multiple of 2");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}", 400,
		     "unknown variant `1G`");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"mem_size_mib\": 1}", 400,
		     "needs at least 2 MiB");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"mem_size_mib\": 0}", 400,
		     "Machine config error: The memory size (MiB) is either 0, or not a multiple "
		     "of the configured page size.");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 33}", 400,
		     "Machine config error: The number of vCPUs must be greater than 0, less than "
		     "32 and must be 1 or an even number if SMT is enabled.");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 0}", 400,
		     "The number of vCPUs must be greater than 0");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 256}", 400,
		     "invalid value: integer `256`");
	/* The deprecated cpu_template: accepted ("None"), answered with Deprecation. */
	assert_int_equal(
		req(vmm, "PATCH", "/machine-config", "{\"cpu_template\": \"None\"}", NULL, &r),
		204);
	assert_true(r.deprecated);
	api_response_free(&r);
	j = get(vmm, "/machine-config");
	assert_string_equal(json_string_value(json_object_get(j, "cpu_template")), "None");
	json_decref(j);
	/* A static template: accepted (deprecated), echoed; V1N1 is aarch64's. */
	assert_int_equal(
		req(vmm, "PATCH", "/machine-config", "{\"cpu_template\": \"T2\"}", NULL, &r), 204);
	assert_true(r.deprecated);
	api_response_free(&r);
	j = get(vmm, "/machine-config");
	assert_string_equal(json_string_value(json_object_get(j, "cpu_template")), "T2");
	json_decref(j);
	expect_fault(vmm, "PATCH", "/machine-config", "{\"cpu_template\": \"V1N1\"}", 400,
		     "unknown variant `V1N1`, expected one of `C3`, `T2`, `T2S`, `None`, `T2CL`, "
		     "`T2A`");
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 2}", NULL, &r),
			 204);
	assert_false(r.deprecated);
	api_response_free(&r);
	j = get(vmm, "/machine-config");
	assert_int_equal(json_integer_value(json_object_get(j, "vcpu_count")), 2);
	assert_int_equal(json_integer_value(json_object_get(j, "mem_size_mib")), 256);
	json_decref(j);
	assert_int_equal(vmm->cfg.cpus, 2);
	assert_int_equal(vmm->cfg.mem_size, 256ULL << 20);
	assert_int_equal(vmm->cfg.huge_pages, MVM_HUGE_NONE);

	/* Huge pages: PATCH keeps them, PUT without the field resets them (Firecracker's default).
	 */
	assert_int_equal(
		req(vmm, "PATCH", "/machine-config", "{\"huge_pages\": \"2M\"}", NULL, NULL), 204);
	assert_int_equal(vmm->cfg.huge_pages, MVM_HUGE_2M);
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 1}", NULL, NULL),
			 204);
	j = get(vmm, "/machine-config");
	assert_string_equal(json_string_value(json_object_get(j, "huge_pages")), "2M");
	json_decref(j);
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"huge_pages\": \"Transparent\"}",
			     NULL, NULL),
			 204);
	assert_int_equal(vmm->cfg.huge_pages, MVM_HUGE_THP);
	assert_int_equal(req(vmm, "PUT", "/machine-config",
			     "{\"vcpu_count\": 1, \"mem_size_mib\": 256}", NULL, NULL),
			 204);
	assert_int_equal(vmm->cfg.huge_pages, MVM_HUGE_NONE);
	vmm_destroy(vmm);
}

static void test_boot_source_and_drives(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	char body[512], id[16], url[32];
	json_t *j, *d;
	int i;

	expect_fault(
		vmm, "PUT", "/boot-source", "{\"kernel_image_path\": \"/no/such/kernel\"}", 400,
		"Boot source error: The kernel file cannot be opened: No such file or directory "
		"(os error 2)");
	expect_fault(vmm, "PUT", "/boot-source", "{\"kernel_image_path\": \"/\"}", 400,
		     "Is a directory (os error 21)");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"a=b\"}",
		 kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	assert_string_equal(vmm->kernel, kernel);
	assert_string_equal(vmm->cmdline, "a=b");

	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"root\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 disk);
	expect_fault(vmm, "PUT", "/drives/other", body, 400,
		     "The id from the path does not match the id from the body!");
	assert_int_equal(req(vmm, "PUT", "/drives/root", body, NULL, NULL), 204);
	/* The same id again replaces it; a second root device is refused. */
	assert_int_equal(req(vmm, "PUT", "/drives/root", body, NULL, NULL), 204);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 disk);
	expect_fault(vmm, "PUT", "/drives/data", body, 400, "A root block device already exists!");
	expect_fault(vmm, "PUT", "/drives/data",
		     "{\"drive_id\": \"data\", \"is_root_device\": false, \"socket\": \"/s\"}", 400,
		     "vhost-user-block");
	expect_fault(vmm, "PUT", "/drives/data",
		     "{\"drive_id\": \"data\", \"is_root_device\": false}", 400,
		     "missing field `path_on_host`");
	expect_fault(vmm, "PUT", "/drives/a.b",
		     "{\"drive_id\": \"a.b\", \"is_root_device\": false, \"path_on_host\": \"/x\"}",
		     400, "API Resource IDs can only contain");
	for (i = 1; i < MVM_MAX_DISKS; i++) {
		snprintf(id, sizeof(id), "d%d", i);
		snprintf(body, sizeof(body),
			 "{\"drive_id\": \"%s\", \"path_on_host\": \"%s\", \"is_root_device\": "
			 "false, \"is_read_only\": true, \"cache_type\": \"Writeback\"}",
			 id, disk);
		snprintf(url, sizeof(url), "/drives/%s", id);
		assert_int_equal(req(vmm, "PUT", url, body, NULL, NULL), 204);
	}
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"full\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 disk);
	expect_fault(vmm, "PUT", "/drives/full", body, 400, "too many drives");
	expect_fault(vmm, "PATCH", "/drives/root", "{\"drive_id\": \"root\"}", 400,
		     "The requested operation is not supported before starting the microVM.");

	j = get(vmm, "/vm/config");
	d = json_object_get(j, "drives");
	assert_int_equal(json_array_size(d), MVM_MAX_DISKS);
	assert_string_equal(json_string_value(json_object_get(json_array_get(d, 0), "drive_id")),
			    "root");
	assert_true(json_is_true(json_object_get(json_array_get(d, 0), "is_root_device")));
	assert_string_equal(json_string_value(json_object_get(json_array_get(d, 1), "cache_type")),
			    "Writeback");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "boot-source"), "boot_args")),
		"a=b");
	json_decref(j);
	vmm_destroy(vmm);
}

static void test_logger_metrics(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	enum mvm_log_level saved = mvm_log_get_level();
	json_t *j;

	expect_fault(vmm, "PUT", "/logger", "{\"level\": \"Loud\"}", 400,
		     "unknown variant `Loud`, expected one of `Error`, `Warning`, `Info`, `Debug`, "
		     "`Trace`, `Off` at line 1 column 16.");
	expect_fault(vmm, "PUT", "/logger", "{\"module\": \"x\"}", 400, "module");
	assert_int_equal(req(vmm, "PUT", "/logger", "{\"level\": \"debug\", \"log_path\": \"/l\"}",
			     NULL, NULL),
			 204);
	assert_int_equal(mvm_log_get_level(), MVM_LOG_DEBUG);
	mvm_log_set_level(saved);
	mvm_log_set_options(true, false);
	expect_fault(vmm, "PUT", "/metrics", "{\"metrics_path\": \"/m\"}", 400,
		     "Metrics error: Cannot initialize the metrics system due to bad user input: "
		     "Failed to open target file: Permission denied (os error 13)");
	expect_fault(vmm, "PUT", "/metrics", "{\"metrics_path\": \"/m\", \"emit_id\": true}", 400,
		     "not supported");
	/* As Firecracker: FlushMetrics is post-boot only. */
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400,
		     "The requested operation is not supported before starting the microVM.");
	j = get(vmm, "/vm/config");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "logger"), "level")), "debug");
	assert_true(json_is_null(json_object_get(j, "metrics")));
	json_decref(j);
	vmm_destroy(vmm);
}

/* GET /vm/config: every section of Firecracker's, unset ones null or [] as it answers them. */
static void test_vm_config_shape(void **state)
{
	static const char *const nulls[] = { "balloon", "cpu-config",	  "mmds-config",
					     "vsock",	"memory-hotplug", "logger",
					     "metrics", "entropy" };
	static const char *const lists[] = { "drives", "network-interfaces", "pmem" };
	struct vmm *vmm = new_vmm(boot_fails);
	json_t *j = get(vmm, "/vm/config"), *bs, *mc;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(nulls); i++)
		if (!json_is_null(json_object_get(j, nulls[i])))
			fail_msg("GET /vm/config: '%s' is not null", nulls[i]);
	for (i = 0; i < ARRAY_SIZE(lists); i++)
		if (json_array_size(json_object_get(j, lists[i])) != 0 ||
		    !json_is_array(json_object_get(j, lists[i])))
			fail_msg("GET /vm/config: '%s' is not []", lists[i]);
	bs = json_object_get(j, "boot-source");
	assert_string_equal(json_string_value(json_object_get(bs, "kernel_image_path")), "");
	assert_true(json_is_null(json_object_get(bs, "initrd_path")));
	assert_true(json_is_null(json_object_get(bs, "boot_args")));
	mc = json_object_get(j, "machine-config");
	assert_int_equal(json_object_size(mc), 5);
	assert_false(json_is_true(json_object_get(mc, "smt")));
	assert_string_equal(json_string_value(json_object_get(mc, "huge_pages")), "None");
	json_decref(j);
	vmm_destroy(vmm);
}

/* is_root_device: the drive becomes the first, the command line gets root= and ro/rw. */
static void test_root_device(void **state)
{
	struct vmm *vmm = new_vmm(boot_capture);
	char body[512];

	snprintf(body, sizeof(body),
		 "{\"kernel_image_path\": \"%s\", \"boot_args\": \"console=ttyS0\"}", kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": false}",
		 disk);
	assert_int_equal(req(vmm, "PUT", "/drives/data", body, NULL, NULL), 204);
	/* No root drive: the command line as given. */
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL, NULL),
		400);
	assert_string_equal(booted_cmdline, "console=ttyS0");
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"is_read_only\": true}",
		 disk);
	assert_int_equal(req(vmm, "PUT", "/drives/rootfs", body, NULL, NULL), 204);
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL, NULL),
		400);
	assert_string_equal(booted_cmdline, "console=ttyS0 root=/dev/vda ro");
	assert_string_equal(booted_drives, "rootfs data ");
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"rootfs\", \"path_on_host\": \"%s\", \"is_root_device\": true, "
		 "\"partuuid\": \"0eaa91a0-01\"}",
		 disk);
	assert_int_equal(req(vmm, "PUT", "/drives/rootfs", body, NULL, NULL), 204);
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL, NULL),
		400);
	assert_string_equal(booted_cmdline, "console=ttyS0 root=PARTUUID=0eaa91a0-01 rw");
	vmm_destroy(vmm);
}

/* PUT /serial: the guest's serial output goes to serial_out_path. */
static void test_serial(void **state)
{
	struct vmm *vmm = new_vmm(boot_capture);
	char body[512], path[160];
	struct stat a, b;

	snprintf(path, sizeof(path), "%s/serial.out", tmpdir);
	expect_fault(vmm, "PUT", "/serial", "{\"serial_out_path\": 1}", 400,
		     "invalid type: integer `1`, expected a string");
	expect_fault(
		vmm, "PUT", "/serial", "{\"serial_out_path\": \"/no/such/dir/x\"}", 400,
		"Failed to open the serial output file: No such file or directory (os error 2)");
	snprintf(body, sizeof(body),
		 "{\"serial_out_path\": \"%s\", \"rate_limiter\": {\"size\": 1, \"refill_time\": "
		 "1}}",
		 path);
	expect_fault(vmm, "PUT", "/serial", body, 400, "rate limiting the serial output");
	snprintf(body, sizeof(body), "{\"serial_out_path\": \"%s\"}", path);
	assert_int_equal(req(vmm, "PUT", "/serial", body, NULL, NULL), 204);
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL, NULL),
		400);
	/* The boot was given the file as its console output. */
	assert_int_equal(fstat(booted_console_out, &a), 0);
	assert_int_equal(stat(path, &b), 0);
	assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	vmm_destroy(vmm);
	unlink(path);
}

/* ---- InstanceStart ---- */

static void test_start_fails(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	char body[256];
	json_t *j;

	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "Start microvm error: Cannot start microvm without kernel configuration.");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	/* The answer carries what the boot logged, whatever the log level. */
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "the loader says no");
	j = get(vmm, "/");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Not started");
	json_decref(j);
	expect_fault(vmm, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400,
		     "The requested operation is not supported before starting the microVM.");
	expect_fault(vmm, "GET", "/stats", NULL, 400, "not supported before starting");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400,
		     "not supported before starting");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400,
		     "unknown variant `Reboot`, expected one of `FlushMetrics`, `InstanceStart`, "
		     "`SendCtrlAltDel`, `Stop`");
	vmm_destroy(vmm);
}

/* Stands in for mvm's main thread: takes the VM, runs it (no vCPUs: at once). */
static void *main_thread(void *arg)
{
	struct vmm *vmm = arg;
	struct vm *vm;

	assert_int_equal(vmm_wait_start(vmm, -1, &vm), 0);
	assert_non_null(vm);
	assert_int_equal(vmm_run_vm(vmm, vm), -EINVAL);
	return NULL;
}

static void test_start_runs(void **state)
{
	struct vmm *vmm = new_vmm(boot_fake);
	struct api_response r;
	pthread_t main_t;
	char body[256];
	struct vm *vm;
	json_t *j;

	fake_reset();
	fake_kvm.binary_stats = true;
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	assert_int_equal(req(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 3}", NULL, NULL),
			 204);
	assert_int_equal(pthread_create(&main_t, NULL, main_thread, vmm), 0);
	/* Answered once the main thread has run the VM. */
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", NULL, NULL),
		204);
	pthread_join(main_t, NULL);
	assert_int_equal(booted_cpus, 3);
	j = get(vmm, "/");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Running");
	assert_string_equal(json_string_value(json_object_get(j, "id")), "unit");
	json_decref(j);

	/* Pre-boot requests are refused now, and change nothing. */
	expect_fault(vmm, "PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64}",
		     400, "The requested operation is not supported after starting the microVM.");
	expect_fault(vmm, "PUT", "/boot-source", body, 400, "not supported after starting");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "not supported after starting");
	expect_fault(vmm, "PUT", "/logger", "{}", 400, "not supported after starting");
	/* A CPU template: its body is parsed first, as Firecracker's; then refused. */
	expect_fault(vmm, "PUT", "/cpu-config", "{\"kvm_capabilities\": [\"x\"]}", 400,
		     "as a kvm capability");
	expect_fault(vmm, "PUT", "/cpu-config", "{}", 400, "not supported after starting");
	/* FlushMetrics without PUT /metrics: nothing to write, as Firecracker. */
	assert_int_equal(
		req(vmm, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", NULL, NULL),
		204);
	assert_int_equal(vmm->cfg.cpus, 3);

	/* Post-boot requests reach the VM. */
	j = get(vmm, "/stats");
	assert_string_equal(json_string_value(json_object_get(j, "name")), "unit");
	json_decref(j);
	j = get(vmm, "/devices");
	assert_true(json_is_array(j));
	json_decref(j);
	assert_int_equal(req(vmm, "GET", "/metrics/prometheus", NULL, NULL, &r), 200);
	assert_string_equal(r.content_type, "text/plain; version=0.0.4");
	assert_non_null(strstr(r.body, "mvm_vm_paused"));
	api_response_free(&r);
	/* Its vCPUs are not running (it has none): pausing is refused. */
	expect_fault(vmm, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400, "pausing the VM");
	expect_fault(vmm, "PATCH", "/drives/nope", "{\"drive_id\": \"nope\"}", 400,
		     "Device not found");
	assert_int_equal(req(vmm, "PUT", "/actions", "{\"action_type\": \"Stop\"}", NULL, NULL),
			 204);
	assert_int_equal(vmm->vm->stop_reason, VM_STOP_API);

	vm = vmm_detach_vm(vmm);
	assert_non_null(vm);
	expect_fault(vmm, "GET", "/stats", NULL, 400, "The microVM has stopped.");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"Stop\"}", 400,
		     "The microVM has stopped.");
	j = get(vmm, "/");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Stopped");
	json_decref(j);
	vm_destroy(vm);
	vmm_destroy(vmm);
}

/* ---- --config-file ---- */

static int config(struct vmm *vmm, const char *text)
{
	char path[128];
	FILE *f;
	int r;

	snprintf(path, sizeof(path), "%s/vm.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	r = vmm_load_config_file(vmm, path);
	unlink(path);
	return r;
}

static void test_config_file(void **state)
{
	struct vmm *vmm = new_vmm(boot_fake);
	char text[512];
	struct vm *vm;

	assert_int_equal(config(vmm, "{"), -EINVAL);
	assert_int_equal(config(vmm, "[]"), -EINVAL);
	assert_int_equal(config(vmm, "{\"boot-sauce\": {}}"), -EINVAL);
	assert_int_equal(config(vmm, "{\"vsock\": {\"guest_cid\": 2, \"uds_path\": \"/v\"}}"),
			 -EINVAL);
	assert_int_equal(config(vmm, "{\"vsock\": [{\"guest_cid\": 3, \"uds_path\": \"/v\"}]}"),
			 -EINVAL);
	assert_int_equal(config(vmm, "{\"network-interfaces\": [{\"iface_id\": \"eth0\"}]}"),
			 -EINVAL);
	assert_int_equal(config(vmm, "{\"drives\": {}}"), -EINVAL);
	assert_int_equal(
		config(vmm, "{\"machine-config\": {\"vcpu_count\": 0, \"mem_size_mib\": 8}}"),
		-EINVAL);
	/* No boot source: nothing to start. */
	assert_int_equal(
		config(vmm, "{\"machine-config\": {\"vcpu_count\": 2, \"mem_size_mib\": 8}}"),
		-EINVAL);
	assert_int_equal(vmm->state, VMM_NOT_STARTED);
	snprintf(
		text, sizeof(text),
		"{\"boot-source\": {\"kernel_image_path\": \"%s\"}, \"machine-config\": "
		"{\"vcpu_count\": 2, \"mem_size_mib\": 8}, \"drives\": [{\"drive_id\": \"r\", "
		"\"path_on_host\": \"%s\", \"is_root_device\": true}], \"network-interfaces\": [], "
		"\"balloon\": null, \"vsock\": {\"guest_cid\": 5, \"uds_path\": \"%s/v.sock\"}}",
		kernel, disk, tmpdir);
	fake_reset();
	assert_int_equal(config(vmm, text), 0);
	assert_int_equal(vmm->state, VMM_RUNNING);
	assert_int_equal(booted_cpus, 2);
	assert_int_equal(vmm->cfg.nr_devices, 2);
	assert_string_equal(vmm->cfg.devices[0].type->name, "virtio-blk");
	assert_string_equal(((const struct mvm_disk_config *)vmm->cfg.devices[0].blob)->path, disk);
	assert_string_equal(vmm->cfg.devices[1].type->name, "virtio-vsock");
	assert_int_equal(((const struct vsock_config *)vmm->cfg.devices[1].blob)->guest_cid, 5);
	/* Pre-boot only. */
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 6, \"uds_path\": \"/v\"}", 400,
		     "not supported after starting the microVM");
	vm = vmm_detach_vm(vmm);
	vm_destroy(vm);
	vmm_destroy(vmm);
}

/* PUT /cpu-config: parsed as Firecracker's, replaces machine-config's static template. */
static void test_cpu_config(void **state)
{
	static const char tmpl[] =
		"{\"kvm_capabilities\": [\"171\", \"!172\"], \"cpuid_modifiers\": [{\"leaf\": "
		"\"0x7\", \"subleaf\": \"0b0\", \"flags\": 1, \"modifiers\": [{\"register\": "
		"\"ebx\", \"bitmap\": \"0b1x_0\"}, {\"register\": \"edx\", \"bitmap\": "
		"\"0bx1\"}]}], \"msr_modifiers\": [{\"addr\": \"0x10A\", \"bitmap\": "
		"\"0b0000000000000000000000000000000000000000000000000000000000000001\"}]}";
	struct vmm *vmm = new_vmm(boot_capture);
	const struct mvm_cpu_template *t;
	json_t *j, *cc;
	char *text;

	assert_int_equal(
		req(vmm, "PATCH", "/machine-config", "{\"cpu_template\": \"C3\"}", NULL, NULL),
		204);
	assert_int_equal(req(vmm, "PUT", "/cpu-config", tmpl, NULL, NULL), 204);
	t = vmm->cfg.cpu_template;
	assert_non_null(t);
	assert_int_equal(t->nr_caps, 2);
	assert_int_equal(t->caps[0].cap, 171);
	assert_false(t->caps[0].remove);
	assert_true(t->caps[1].remove);
	assert_int_equal(t->nr_cpuid, 1);
	assert_int_equal(t->cpuid[0].leaf, 7);
	assert_int_equal(t->cpuid[0].flags, 1);
	assert_int_equal(t->cpuid[0].nr_regs, 2);
	assert_int_equal(t->cpuid[0].regs[0].reg, MVM_CPUID_EBX);
	assert_int_equal(t->cpuid[0].regs[0].bits.filter, 0x5);
	assert_int_equal(t->cpuid[0].regs[0].bits.value, 0x4);
	assert_int_equal(t->cpuid[0].regs[1].bits.filter, 0x1);
	assert_int_equal(t->msrs[0].addr, 0x10a);
	assert_int_equal(t->msrs[0].bits.filter, ~0ULL);
	assert_int_equal(t->msrs[0].bits.value, 1);
	/* The custom template replaced the static one. */
	j = get(vmm, "/machine-config");
	assert_null(json_object_get(j, "cpu_template"));
	json_decref(j);
	/* GET /vm/config writes it back as Firecracker writes templates; it parses the same. */
	j = get(vmm, "/vm/config");
	cc = json_object_get(j, "cpu-config");
	text = json_dumps(cc, JSON_COMPACT);
	assert_non_null(text);
	assert_non_null(strstr(text, "\"kvm_capabilities\":[\"171\",\"!172\"]"));
	assert_non_null(strstr(text, "\"leaf\":\"0x7\",\"subleaf\":\"0x0\",\"flags\":1"));
	assert_non_null(strstr(text, "\"bitmap\":\"0bxxxxxxxxxxxxxxxxxxxxxxxxxxxxx1x0\""));
	assert_non_null(strstr(text, "\"addr\":\"0x10a\""));
	json_decref(j);
	assert_int_equal(req(vmm, "PUT", "/cpu-config", text, NULL, NULL), 204);
	free(text);
	assert_int_equal(vmm->cfg.cpu_template->cpuid[0].regs[0].bits.filter, 0x5);
	/* Firecracker's messages. */
	expect_fault(vmm, "PUT", "/cpu-config", "{\"reg_modifiers\": []}", 400,
		     "unknown field `reg_modifiers`, expected one of `kvm_capabilities`, "
		     "`cpuid_modifiers`, `msr_modifiers`");
	expect_fault(vmm, "PUT", "/cpu-config", "{\"kvm_capabilities\": [\"!x\"]}", 400,
		     "Failed to parse string [!x] as a kvm capability - can not convert to "
		     "numeric: invalid digit found in string");
	expect_fault(vmm, "PUT", "/cpu-config", "{\"kvm_capabilities\": [\"4294967296\"]}", 400,
		     "number too large to fit in target type");
	expect_fault(vmm, "PUT", "/cpu-config",
		     "{\"cpuid_modifiers\": [{\"leaf\": \"7\", \"subleaf\": \"0x0\", \"flags\": 0, "
		     "\"modifiers\": []}]}",
		     400,
		     "No supported number system prefix found in value [7]. Make sure to prefix "
		     "the number with '0x' for hexadecimal numbers or '0b' for binary numbers.");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x\", \"subleaf\": \"0x0\", \"flags\": 0, "
		"\"modifiers\": []}]}",
		400,
		"Failed to parse string [0x] as a number for CPU template - ParseIntError { "
		"kind: Empty }");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"flags\": 0, \"modifiers\": []}]}",
		400, "missing field `subleaf`");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": -1, "
		"\"modifiers\": []}]}",
		400, "invalid value: integer `-1`, expected u32");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
		"\"modifiers\": [{\"register\": \"rax\", \"bitmap\": \"0b1\"}]}]}",
		400, "Invalid CPUID register. Must be one of [eax, ebx, ecx, edx]");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
		"\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b12\"}]}]}",
		400, "Failed to parse string [0b12] as a bitmap - unknown character: 50");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
		"\"modifiers\": [{\"register\": \"eax\", \"bitmap\": "
		"\"0b111111111111111111111111111111111\"}]}]}",
		400,
		"Failed to parse string [0b111111111111111111111111111111111] as a bitmap - "
		"string is too long");
	expect_fault(vmm, "PUT", "/cpu-config", "{\"msr_modifiers\": {}}", 400,
		     "invalid type: map, expected a sequence");
	expect_fault(
		vmm, "PUT", "/cpu-config",
		"{\"cpuid_modifiers\": [{\"leaf\": \"0x1\", \"subleaf\": \"0x0\", \"flags\": 0, "
		"\"modifiers\": [{\"register\": \"eax\", \"bitmap\": \"0b1\"}, "
		"{\"register\": \"eax\", \"bitmap\": \"0b1\"}, {\"register\": \"eax\", "
		"\"bitmap\": \"0b1\"}, {\"register\": \"eax\", \"bitmap\": \"0b1\"}, "
		"{\"register\": \"eax\", \"bitmap\": \"0b1\"}, {\"register\": \"eax\", "
		"\"bitmap\": \"0b1\"}, {\"register\": \"eax\", \"bitmap\": \"0b1\"}, "
		"{\"register\": \"eax\", \"bitmap\": \"0b1\"}, {\"register\": \"ebx\", "
		"\"bitmap\": \"0b1\"}]}]}",
		400, "mvm takes at most 8 modifiers of a CPUID leaf");
	/* The refused ones left the template as it was; "None" drops it, as Firecracker. */
	assert_int_equal(vmm->cfg.cpu_template->nr_msrs, 1);
	assert_int_equal(
		req(vmm, "PATCH", "/machine-config", "{\"cpu_template\": \"None\"}", NULL, NULL),
		204);
	assert_null(vmm->cfg.cpu_template);
	j = get(vmm, "/vm/config");
	assert_true(json_is_null(json_object_get(j, "cpu-config")));
	json_decref(j);
	vmm_destroy(vmm);
}

/* The config file's "cpu-config": the template inline, or the path of a file holding it. */
static void test_cpu_config_file(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	char text[512], path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/tmpl.json", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"msr_modifiers\": [{\"addr\": \"0x1a0\", \"bitmap\": \"0b1\"}]}", f);
	fclose(f);
	/* Inline, then from the file (the boot itself fails: no kernel). */
	assert_int_equal(config(vmm, "{\"cpu-config\": {\"kvm_capabilities\": [\"7\"]}}"), -EINVAL);
	assert_int_equal(vmm->cfg.cpu_template->caps[0].cap, 7);
	snprintf(text, sizeof(text), "{\"cpu-config\": \"%s\"}", path);
	assert_int_equal(config(vmm, text), -EINVAL);
	assert_int_equal(vmm->cfg.cpu_template->nr_caps, 0);
	assert_int_equal(vmm->cfg.cpu_template->msrs[0].addr, 0x1a0);
	/* A bad template, a missing file: refused before any boot. */
	assert_int_equal(config(vmm, "{\"cpu-config\": {\"kvm_capabilities\": [\"x\"]}}"), -EINVAL);
	assert_int_equal(config(vmm, "{\"cpu-config\": \"/nonexistent/tmpl.json\"}"), -EINVAL);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[]", f);
	fclose(f);
	assert_int_equal(config(vmm, text), -EINVAL); /* a file that holds no object */
	assert_int_equal(vmm->cfg.cpu_template->msrs[0].addr, 0x1a0);
	unlink(path);
	vmm_destroy(vmm);
}

static void test_vsock_api(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct api_response r;
	char body[512], path[160];
	json_t *j, *v;
	int fd;

	expect_fault(vmm, "PUT", "/vsock", "{\"uds_path\": \"/tmp/v\"}", 400,
		     "missing field `guest_cid`");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 3}", 400, "missing field `uds_path`");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v\"}", 400,
		     "expected an integer from 3 to 4294967294");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 4294967295, \"uds_path\": \"/tmp/v\"}",
		     400, "expected an integer from 3 to 4294967294");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": \"3\", \"uds_path\": \"/tmp/v\"}", 400,
		     "invalid type: string \"3\"");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/no/such/dir/v\"}",
		     400, "does not exist");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"\"}", 400,
		     "field 'uds_path'");
	expect_fault(vmm, "PUT", "/vsock", "{\"guest_cid\": 3, \"uds_path\": \"/v\", \"x\": 1}",
		     400, "unknown field `x`");
	/* A live socket at uds_path: refused, with why. */
	snprintf(path, sizeof(path), "%s/live.sock", tmpdir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 1), 0);
	snprintf(body, sizeof(body), "{\"guest_cid\": 3, \"uds_path\": \"%s\"}", path);
	expect_fault(vmm, "PUT", "/vsock", body, 400, "is in use");
	close(fd);
	unlink(path);
	j = get(vmm, "/vm/config");
	assert_true(json_is_null(json_object_get(j, "vsock")));
	json_decref(j);

	snprintf(body, sizeof(body),
		 "{\"guest_cid\": 3, \"uds_path\": \"%s/v.sock\", \"vsock_id\": \"vsock0\"}",
		 tmpdir);
	/* vsock_id is deprecated in Firecracker: taken, answered with Deprecation. */
	assert_int_equal(req(vmm, "PUT", "/vsock", body, NULL, &r), 204);
	assert_true(r.deprecated);
	api_response_free(&r);
	/* Again: replaces it. */
	snprintf(body, sizeof(body), "{\"guest_cid\": 42, \"uds_path\": \"%s/w.sock\"}", tmpdir);
	assert_int_equal(req(vmm, "PUT", "/vsock", body, NULL, &r), 204);
	assert_false(r.deprecated);
	api_response_free(&r);
	j = get(vmm, "/vm/config");
	v = json_object_get(j, "vsock");
	assert_true(json_is_object(v));
	assert_int_equal(json_integer_value(json_object_get(v, "guest_cid")), 42);
	snprintf(path, sizeof(path), "%s/w.sock", tmpdir);
	assert_string_equal(json_string_value(json_object_get(v, "uds_path")), path);
	assert_true(json_is_null(json_object_get(v, "vsock_id")));
	json_decref(j);
	assert_int_equal(vmm->cfg.nr_devices, 1);
	vmm_destroy(vmm);
}

static int api_setup(void **state)
{
	FILE *f;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mvm-unit-api-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(disk, sizeof(disk), "%s/disk.img", tmpdir);
	snprintf(kernel, sizeof(kernel), "%s/kernel.elf", tmpdir);
	f = fopen(disk, "w");
	if (!f)
		return -1;
	fclose(f);
	f = fopen(kernel, "w");
	if (!f)
		return -1;
	fclose(f);
	return 0;
}

static int api_teardown(void **state)
{
	unlink(disk);
	unlink(kernel);
	rmdir(tmpdir);
	return 0;
}

int run_api_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_router),
		cmocka_unit_test(test_json_check),
		cmocka_unit_test(test_machine_config),
		cmocka_unit_test(test_boot_source_and_drives),
		cmocka_unit_test(test_logger_metrics),
		cmocka_unit_test(test_vm_config_shape),
		cmocka_unit_test(test_root_device),
		cmocka_unit_test(test_serial),
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_start_runs),
		cmocka_unit_test(test_config_file),
		cmocka_unit_test(test_vsock_api),
		cmocka_unit_test(test_cpu_config),
		cmocka_unit_test(test_cpu_config_file),
	};

	return cmocka_run_group_tests_name("api", tests, api_setup, api_teardown);
}
