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
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "block/disk_config.h"
#include "fake.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "unit.h"

static char tmpdir[64];
static char disk[128], kernel[128];

/* ---- helpers ---- */

static struct vm *boot_fails(const struct mvm_config *cfg)
{
	pr_err("kernel %s: the loader says no", cfg->kernel);
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

	expect_fault(vmm, "GET", "/no/such/thing", NULL, 404, "no such resource");
	expect_fault(vmm, "GET", "/drives/", NULL, 404, "no such resource");
	expect_fault(vmm, "GET", "/drives/a/b", NULL, 404, "no such resource");
	assert_int_equal(req(vmm, "DELETE", "/machine-config", NULL, NULL, &r), 405);
	assert_string_equal(r.allow, "GET, PUT, PATCH");
	api_response_free(&r);
	assert_int_equal(req(vmm, "GET", "/drives/x", NULL, NULL, &r), 405);
	assert_string_equal(r.allow, "PUT, PATCH");
	api_response_free(&r);
	expect_fault(vmm, "PUT", "/vsock", "{}", 400,
		     "putGuestVsock (PUT /vsock) is not supported");
	expect_fault(vmm, "PUT", "/network-interfaces/eth0", "{}", 400,
		     "putGuestNetworkInterfaceByID");
	expect_fault(vmm, "PUT", "/snapshot/create", "{}", 400, "createSnapshot");
	expect_fault(vmm, "GET", "/balloon", NULL, 400, "no balloon device is configured");
	/* A body is required and must be an object. */
	expect_fault(vmm, "PUT", "/machine-config", NULL, 400, "needs a JSON body");
	expect_fault(vmm, "PUT", "/machine-config", "[1]", 400,
		     "must be a JSON object, got an array");
	expect_fault(vmm, "PUT", "/machine-config", "{\"a\":", 400, "not valid JSON");
	expect_fault(vmm, "PUT", "/machine-config", "{\"vcpu_count\":1,\"vcpu_count\":2}", 400,
		     "not valid JSON");
	/* A URL that is not UTF-8 still gets a JSON answer. */
	expect_fault(vmm, "GET", "/\xff\xfe", NULL, 404,
		     "no such resource: '/?"
		     "?'");
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
	jc_expect(f, "{}", "missing required field 'n'");
	jc_expect(f, "{\"n\": null}", "missing required field 'n'");
	jc_expect(f, "{\"n\": 33}", "field 'n': 33 is out of range: 1 to 32");
	jc_expect(f, "{\"n\": 0}", "field 'n': 0 is out of range: 1 to 32");
	jc_expect(f, "{\"n\": \"1\"}", "field 'n': must be an integer, got a string");
	jc_expect(f, "{\"n\": 1.5}", "field 'n': must be an integer, got a number with a fraction");
	jc_expect(f, "{\"n\": 1, \"b\": 1}", "field 'b': must be a boolean, got an integer");
	jc_expect(f, "{\"n\": 1, \"s\": []}", "field 's': must be a string, got an array");
	jc_expect(f, "{\"n\": 1, \"x\": 1}", "unknown field 'x'");
	jc_expect(f, "{\"n\": 1, \"c\": \"Blue\"}",
		  "field 'c': \"Blue\" is not one of \"Red\", \"Green\"");
	jc_expect(f, "{\"n\": 1, \"o\": {\"size\": 11}}",
		  "field 'o.size': 11 is out of range: 0 to 10");
	jc_expect(f, "{\"n\": 1, \"o\": {}}", "missing required field 'o.size'");
	jc_expect(f, "{\"n\": 1, \"o\": {\"size\": 1, \"z\": 0}}", "unknown field 'o.z' in o");
	jc_expect(f, "{\"n\": 1, \"o\": 3}", "field 'o': must be an object, got an integer");
	jc_expect(f, "{\"n\": 1, \"m\": {\"k\": 1}}",
		  "field 'm.k': must be a string, got an integer");
	jc_expect(f, "{\"n\": 1, \"s\": \"a\\u0000b\"}",
		  "field 's': must not contain a NUL character");
}

/* ---- configuration handlers ---- */

static void test_machine_config(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
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
		     "missing required field 'mem_size_mib'");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"vcpu_count\": 8, \"smt\": true}", 400,
		     "field 'smt': true is not supported");
	expect_fault(vmm, "PATCH", "/machine-config",
		     "{\"huge_pages\": \"2M\", \"mem_size_mib\": 257}", 400,
		     "\"2M\" needs mem_size_mib to be a multiple of 2");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"huge_pages\": \"1G\"}", 400,
		     "field 'huge_pages'");
	expect_fault(vmm, "PATCH", "/machine-config", "{\"mem_size_mib\": 1}", 400,
		     "field 'mem_size_mib': 1 is out of range");
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

	expect_fault(vmm, "PUT", "/boot-source", "{\"kernel_image_path\": \"/no/such/kernel\"}",
		     400, "field 'kernel_image_path': cannot use '/no/such/kernel'");
	expect_fault(vmm, "PUT", "/boot-source", "{\"kernel_image_path\": \"/\"}", 400,
		     "is not a regular file");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\", \"boot_args\": \"a=b\"}",
		 kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	assert_string_equal(vmm->kernel, kernel);
	assert_string_equal(vmm->cmdline, "a=b");

	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"root\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 disk);
	expect_fault(vmm, "PUT", "/drives/other", body, 400, "differs from the path's 'other'");
	assert_int_equal(req(vmm, "PUT", "/drives/root", body, NULL, NULL), 204);
	/* The same id again replaces it; a second root device is refused. */
	assert_int_equal(req(vmm, "PUT", "/drives/root", body, NULL, NULL), 204);
	snprintf(body, sizeof(body),
		 "{\"drive_id\": \"data\", \"path_on_host\": \"%s\", \"is_root_device\": true}",
		 disk);
	expect_fault(vmm, "PUT", "/drives/data", body, 400, "drive 'root' is the root device");
	expect_fault(vmm, "PUT", "/drives/data",
		     "{\"drive_id\": \"data\", \"is_root_device\": false, \"socket\": \"/s\"}", 400,
		     "vhost-user-block");
	expect_fault(vmm, "PUT", "/drives/data",
		     "{\"drive_id\": \"data\", \"is_root_device\": false}", 400,
		     "missing required field 'path_on_host'");
	expect_fault(vmm, "PUT", "/drives/a.b",
		     "{\"drive_id\": \"a.b\", \"is_root_device\": false, \"path_on_host\": \"/x\"}",
		     400, "is not valid");
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
	expect_fault(vmm, "PATCH", "/drives/root", "{\"drive_id\": \"root\"}", 400, "post-boot");

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

	expect_fault(vmm, "PUT", "/logger", "{\"level\": \"Loud\"}", 400, "field 'level'");
	expect_fault(vmm, "PUT", "/logger", "{\"module\": \"x\"}", 400, "module");
	assert_int_equal(req(vmm, "PUT", "/logger", "{\"level\": \"debug\", \"log_path\": \"/l\"}",
			     NULL, NULL),
			 204);
	assert_int_equal(mvm_log_get_level(), MVM_LOG_DEBUG);
	mvm_log_set_level(saved);
	mvm_log_set_options(true, false);
	expect_fault(vmm, "PUT", "/metrics", "{\"metrics_path\": \"/m\"}", 400,
		     "cannot open '/m': Permission denied");
	expect_fault(vmm, "PUT", "/metrics", "{\"metrics_path\": \"/m\", \"emit_id\": true}", 400,
		     "not supported");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"FlushMetrics\"}", 400,
		     "not initialized");
	j = get(vmm, "/vm/config");
	assert_string_equal(
		json_string_value(json_object_get(json_object_get(j, "logger"), "level")), "debug");
	assert_null(json_object_get(j, "metrics"));
	json_decref(j);
	vmm_destroy(vmm);
}

/* ---- InstanceStart ---- */

static void test_start_fails(void **state)
{
	struct vmm *vmm = new_vmm(boot_fails);
	char body[256];
	json_t *j;

	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "needs a boot source");
	snprintf(body, sizeof(body), "{\"kernel_image_path\": \"%s\"}", kernel);
	assert_int_equal(req(vmm, "PUT", "/boot-source", body, NULL, NULL), 204);
	/* The answer carries what the boot logged, whatever the log level. */
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "the loader says no");
	j = get(vmm, "/");
	assert_string_equal(json_string_value(json_object_get(j, "state")), "Not started");
	json_decref(j);
	expect_fault(vmm, "PATCH", "/vm", "{\"state\": \"Paused\"}", 400,
		     "send InstanceStart first");
	expect_fault(vmm, "GET", "/stats", NULL, 400, "needs a started VM");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"SendCtrlAltDel\"}", 400,
		     "needs a started VM");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"Reboot\"}", 400,
		     "field 'action_type': \"Reboot\" is not one of");
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
		     400, "pre-boot request: the VM has already started");
	expect_fault(vmm, "PUT", "/boot-source", body, 400, "pre-boot");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", 400,
		     "pre-boot");
	expect_fault(vmm, "PUT", "/logger", "{}", 400, "pre-boot");
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
	expect_fault(vmm, "PATCH", "/drives/nope", "{\"drive_id\": \"nope\"}", 400, "no drive");
	assert_int_equal(req(vmm, "PUT", "/actions", "{\"action_type\": \"Stop\"}", NULL, NULL),
			 204);
	assert_int_equal(vmm->vm->stop_reason, VM_STOP_API);

	vm = vmm_detach_vm(vmm);
	assert_non_null(vm);
	expect_fault(vmm, "GET", "/stats", NULL, 400, "the VM has stopped");
	expect_fault(vmm, "PUT", "/actions", "{\"action_type\": \"Stop\"}", 400, "stopped already");
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
	assert_int_equal(config(vmm, "{\"vsock\": {\"guest_cid\": 3, \"uds_path\": \"/v\"}}"),
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
		"\"balloon\": null}",
		kernel, disk);
	fake_reset();
	assert_int_equal(config(vmm, text), 0);
	assert_int_equal(vmm->state, VMM_RUNNING);
	assert_int_equal(booted_cpus, 2);
	assert_int_equal(vmm->cfg.nr_devices, 1);
	assert_string_equal(vmm->cfg.devices[0].type->name, "virtio-blk");
	assert_string_equal(((const struct mvm_disk_config *)vmm->cfg.devices[0].blob)->path, disk);
	vm = vmm_detach_vm(vmm);
	vm_destroy(vm);
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
		cmocka_unit_test(test_start_fails),
		cmocka_unit_test(test_start_runs),
		cmocka_unit_test(test_config_file),
	};

	return cmocka_run_group_tests_name("api", tests, api_setup, api_teardown);
}
