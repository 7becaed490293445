// SPDX-License-Identifier: MIT
/*
 * PUT /snapshot/create and PUT /snapshot/load through the API router, on
 * the fake KVM: Firecracker's rules (create needs a paused VM, load a fresh
 * VMM, exactly one of mem_backend and mem_file_path) and messages, then a
 * VM snapshotted by one VMM and loaded by another, with GET /vm/config.
 */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "fake.h"
#include "mvm/api.h"
#include "mvm/err.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "unit.h"

static void no_exit(struct vmm *vmm)
{
}

static struct vmm *fresh_vmm(void)
{
	struct vmm_hooks h = { .exit_request = no_exit };
	struct vmm *vmm = vmm_create_hooked("snap", &h);

	assert_false(IS_ERR(vmm));
	return vmm;
}

static unsigned int call(struct vmm *vmm, const char *method, const char *url, const char *body,
			 char *fault, size_t len)
{
	struct api_response r;
	unsigned int st;
	json_t *j;

	api_handle(vmm, method, url, body, body ? strlen(body) : 0, &r);
	st = r.status;
	if (fault) {
		j = r.body ? json_loads(r.body, 0, NULL) : NULL;
		snprintf(fault, len, "%s",
			 json_string_value(json_object_get(j, "fault_message")) ?: "");
		json_decref(j);
	}
	api_response_free(&r);
	return st;
}

static void expect(struct vmm *vmm, const char *method, const char *url, const char *body,
		   unsigned int status, const char *want)
{
	char fault[1024];

	assert_int_equal(call(vmm, method, url, body, fault, sizeof(fault)), status);
	if (want && !strstr(fault, want))
		fail_msg("%s %s: '%s' lacks '%s'", method, url, fault, want);
}

static void test_load_request_rules(void **state)
{
	struct vmm *vmm = fresh_vmm();

	(void)state;
	expect(vmm, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/x\"}", 400,
	       "An error occurred when deserializing the json body of a request: missing field: "
	       "either `mem_backend` or `mem_file_path` is required.");
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/x\", \"mem_file_path\": \"/m\", \"mem_backend\": "
	       "{\"backend_type\": \"File\", \"backend_path\": \"/m\"}}",
	       400, "too many fields: either `mem_backend` or `mem_file_path` exclusively");
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/x\", \"mem_backend\": {\"backend_type\": \"Disk\", "
	       "\"backend_path\": \"/m\"}}",
	       400, "unknown variant `Disk`, expected `File` or `Uffd`");
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/x\", \"mem_file_path\": \"/m\", \"network_overrides\": "
	       "[{\"iface_id\": \"eth0\"}]}",
	       400, "missing field `host_dev_name`");
	expect(vmm, "PUT", "/snapshot/load", "{\"snapshot_path\": \"/x\", \"mem_file_path\": 3}",
	       400, "invalid type: integer `3`, expected a string");
	/* Uffd: the state file is read first; a missing one fails before any handler is asked. */
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/x\", \"mem_backend\": {\"backend_type\": \"Uffd\", "
	       "\"backend_path\": \"/sock\"}}",
	       400, "cannot open '/x'");
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/nonexistent/state\", \"mem_file_path\": \"/m\"}", 400,
	       "Load snapshot error: Failed to restore from snapshot: Failed to get snapshot "
	       "state from file: Failed to load snapshot state from file: cannot open");
	/* Creating needs a VM. */
	expect(vmm, "PUT", "/snapshot/create",
	       "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\"}", 400,
	       "The requested operation is not supported before starting the microVM.");
	expect(vmm, "PUT", "/snapshot/create",
	       "{\"snapshot_path\": \"/s\", \"mem_file_path\": \"/m\", \"snapshot_type\": "
	       "\"Half\"}",
	       400, "unknown variant `Half`, expected `Full` or `Diff`");
	/* A configured boot resource: the VMM is not fresh any more. */
	expect(vmm, "PUT", "/machine-config",
	       "{\"vcpu_count\": 1, \"mem_size_mib\": 4, \"track_dirty_pages\": true}", 204, NULL);
	assert_true(vmm->cfg.track_dirty_pages);
	expect(vmm, "PUT", "/snapshot/load",
	       "{\"snapshot_path\": \"/nonexistent/state\", \"mem_file_path\": \"/m\"}", 400,
	       "Load snapshot error: Loading a microVM snapshot not allowed after configuring "
	       "boot-specific resources.");
	vmm_destroy(vmm);
}

/* Stands in for mvm's main thread: runs the restored VM until the test stops it. */
static void *main_thread(void *arg)
{
	struct vmm *vmm = arg;
	struct vm *vm;

	assert_int_equal(vmm_wait_start(vmm, -1, &vm), 0);
	assert_non_null(vm);
	vmm_run_vm(vmm, vm);
	return NULL;
}

static void test_create_then_load(void **state)
{
	char dir[] = "/tmp/mvm-snapapi-XXXXXX", body[512], path[2][128];
	struct vmm *a = fresh_vmm(), *b;
	struct mvm_config cfg;
	pthread_t main_t;
	struct vm *vm;
	struct api_response r;
	json_t *j;

	(void)state;
	fake_reset();
	assert_non_null(mkdtemp(dir));
	snprintf(path[0], sizeof(path[0]), "%s/state", dir);
	snprintf(path[1], sizeof(path[1]), "%s/memory", dir);
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.cpus = 1;
	cfg.console_out = -1;
	cfg.transport = MVM_TRANSPORT_MMIO;
	vm = vm_create(&cfg);
	assert_false(IS_ERR(vm));
	assert_int_equal(vcpu_create(vm, 0), 0);
	vm_vcpu(vm, 0)->arch.rip = 0xfeed;
	memcpy(vm->mem.base + 0x8000, "counter=41", 11);
	assert_int_equal(vmm_attach_vm(a, vm), 0);

	snprintf(body, sizeof(body), "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\"}",
		 path[0], path[1]);
	expect(a, "PUT", "/snapshot/create", body, 400,
	       "Create snapshot error: Cannot save the microVM state: Operation not allowed: "
	       "save/restore unavailable while running");
	assert_int_equal(vm_pause_before_run(vm), 0);
	snprintf(body, sizeof(body),
		 "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"%s\", \"mem_file_path\": "
		 "\"%s\"}",
		 path[0], path[1]);
	expect(a, "PUT", "/snapshot/create", body, 400, "track_dirty_pages");
	snprintf(body, sizeof(body),
		 "{\"snapshot_type\": \"Full\", \"snapshot_path\": \"%s\", \"mem_file_path\": "
		 "\"%s\"}",
		 path[0], path[1]);
	expect(a, "PUT", "/snapshot/create", body, 204, NULL);
	vm_destroy(vmm_detach_vm(a));
	vmm_destroy(a);

	/* A fresh VMM loads it, paused; an unknown tap override is refused first. */
	b = fresh_vmm();
	snprintf(body, sizeof(body),
		 "{\"snapshot_path\": \"%s\", \"mem_file_path\": \"%s\", \"network_overrides\": "
		 "[{\"iface_id\": \"eth9\", \"host_dev_name\": \"tap9\"}]}",
		 path[0], path[1]);
	expect(b, "PUT", "/snapshot/load", body, 400, "Unknown Network Device.");
	vmm_destroy(b);

	b = fresh_vmm();
	assert_int_equal(pthread_create(&main_t, NULL, main_thread, b), 0);
	snprintf(body, sizeof(body),
		 "{\"snapshot_path\": \"%s\", \"mem_backend\": {\"backend_type\": \"File\", "
		 "\"backend_path\": \"%s\"}, \"resume_vm\": false}",
		 path[0], path[1]);
	expect(b, "PUT", "/snapshot/load", body, 204, NULL);
	vm = b->vm;
	assert_non_null(vm);
	assert_true(vm_is_paused(vm));
	assert_true(vm_vcpu(vm, 0)->arch.rip == 0xfeed);
	assert_string_equal((char *)vm->mem.base + 0x8000, "counter=41");
	/* GET /vm/config shows the restored machine. */
	api_handle(b, "GET", "/vm/config", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	api_response_free(&r);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "machine-config"),
							    "mem_size_mib")),
			 4);
	json_decref(j);
	/* Loaded once: pre-boot requests and a second load are refused. */
	expect(b, "PUT", "/snapshot/load", body, 400, "not supported after starting");
	vm_request_stop(vm, VM_STOP_API, 0);
	pthread_join(main_t, NULL);
	vm_destroy(vmm_detach_vm(b));
	vmm_destroy(b);
	unlink(path[0]);
	unlink(path[1]);
	assert_int_equal(rmdir(dir), 0);
}

int run_snapshot_api_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_request_rules),
		cmocka_unit_test(test_create_then_load),
	};

	return cmocka_run_group_tests_name("snapshot API", tests, NULL, NULL);
}
