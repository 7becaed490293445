// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness over the API's request router and JSON validation
 * (api_handle(): route table, body parsing, schema checks, handlers) on a
 * VMM that has not booted. The input is
 *
 *	<method> ' ' <url> '\n' <body>
 *
 * and a sequence of such requests separated by "\n--\n" runs on one VMM,
 * so that stateful paths (a boot source, then drives, then InstanceStart)
 * are reached. Booting, metrics files and the log file are replaced by
 * hooks (struct vmm_hooks): the fuzzer never starts a VM nor creates files.
 * Paths in bodies are only stat()ed/access()ed by the handlers.
 *
 * Every response must be a status the API gives (200, 204, 400; 500
 * never) and, but for 204, a JSON body; 4xx bodies carry a string
 * fault_message. Anything else aborts.
 *
 * Build and run: make fuzz-api [FUZZ_TIME=30]
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "mvm/err.h"
#include "mvm/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct vm *fake_boot(const struct mvm_config *cfg)
{
	/* As a failed boot would: the VMM stays in Not started. */
	(void)cfg;
	return ERR_PTR(-ENOEXEC);
}

static struct metrics *fake_metrics_open(const char *path)
{
	(void)path;
	return ERR_PTR(-EACCES);
}

static int fake_log_set_path(const char *path)
{
	(void)path;
	return -EACCES;
}

static void fake_exit_request(struct vmm *vmm)
{
	(void)vmm;
}

static int fake_serial_open(const char *path)
{
	return -EACCES;
}

static const struct vmm_hooks hooks = {
	.boot = fake_boot,
	.metrics_open = fake_metrics_open,
	.log_set_path = fake_log_set_path,
	.serial_open = fake_serial_open,
	.exit_request = fake_exit_request,
};

static void check_response(const struct api_response *r)
{
	json_t *j = NULL;

	switch (r->status) {
	case 200:
	case 400:
		break;
	case 204:
		if (r->body)
			abort();
		return;
	default:
		abort();
	}
	if (!r->body)
		abort();
	j = json_loads(r->body, 0, NULL);
	if (!j)
		abort();
	if (r->status != 200 && !json_is_string(json_object_get(j, "fault_message")))
		abort();
	json_decref(j);
}

static void one_request(struct vmm *vmm, const char *req, size_t len)
{
	static const char *const methods[] = { "GET", "PUT", "PATCH", "POST", "DELETE" };
	const char *sp = memchr(req, ' ', len), *nl;
	char method[16], url[512];
	struct api_response r;
	size_t n;

	if (!sp)
		return;
	n = (size_t)(sp - req);
	/* A number picks a real method, else the bytes are the method. */
	if (n == 1 && req[0] >= '0' && req[0] <= '4')
		snprintf(method, sizeof(method), "%s", methods[req[0] - '0']);
	else if (n < sizeof(method))
		memcpy(method, req, n), method[n] = '\0';
	else
		return;
	req = sp + 1;
	len -= n + 1;
	nl = memchr(req, '\n', len);
	n = nl ? (size_t)(nl - req) : len;
	if (n >= sizeof(url) || memchr(req, '\0', n))
		return;
	memcpy(url, req, n);
	url[n] = '\0';
	req += nl ? n + 1 : n;
	len -= nl ? n + 1 : n;
	api_handle(vmm, method, url, len ? req : NULL, len, &r);
	check_response(&r);
	api_response_free(&r);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	mvm_log_set_off(true);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	struct vmm *vmm = vmm_create_hooked("fuzz", &hooks);

	if (IS_ERR(vmm))
		abort();
	while (p < end) {
		const char *sep = memmem(p, (size_t)(end - p), "\n--\n", 4);
		size_t n = sep ? (size_t)(sep - p) : (size_t)(end - p);

		one_request(vmm, p, n);
		p += n + (sep ? 4 : 0);
	}
	vmm_destroy(vmm);
	/* PUT /logger may have turned logging back on: keep the fuzzer quiet. */
	mvm_log_set_off(true);
	return 0;
}
