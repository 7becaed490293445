// SPDX-License-Identifier: MIT
/*
 * The router: one table of method + path -> handler, the spec's operations
 * in its order. As Firecracker, a path the table does not know and a method
 * the path does not have are both 400 "Invalid request method and/or path"
 * (with Allow listing the path's methods where it has some); operations of
 * the spec mvm does not implement yet answer 400 with a fault_message naming
 * them (never a hang). A route without a handler whose resource a device type serves
 * (mvm/devtype.h: PUT/PATCH /drives/{id}, /entropy, ...) goes to the
 * device-type handlers. Bodies are parsed and must be JSON objects before a
 * handler runs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "messages.h"

struct route {
	const char *path; /* a trailing "{}" matches one non-empty path segment */
	const char *method;
	const char *op;	   /* the spec's operationId, or the extension's name */
	api_handler_fn fn; /* NULL: in the spec, not implemented by mvm yet */
	int body;	   /* 1 (true): a JSON object body is required; BODY_OPTIONAL */
};

/* A JSON object body may be given (it is parsed and checked when it is). */
#define BODY_OPTIONAL 2

static const struct route routes[] = {
	{ "/", "GET", "describeInstance", h_describe_instance, false },
	{ "/actions", "PUT", "createSyncAction", h_actions, true },
	{ "/balloon", "GET", "describeBalloonConfig", NULL, false },
	{ "/balloon", "PUT", "putBalloon", NULL, true },
	{ "/balloon", "PATCH", "patchBalloon", NULL, true },
	{ "/balloon/statistics", "GET", "describeBalloonStats", h_get_balloon_stats, false },
	{ "/balloon/statistics", "PATCH", "patchBalloonStatsInterval", h_patch_balloon_stats,
	  true },
	{ "/balloon/hinting/start", "PATCH", "startBalloonHinting", h_balloon_hint_start,
	  BODY_OPTIONAL },
	{ "/balloon/hinting/status", "GET", "describeBalloonHinting", h_balloon_hint_status,
	  false },
	{ "/balloon/hinting/stop", "PATCH", "stopBalloonHinting", h_balloon_hint_stop, false },
	{ "/boot-source", "PUT", "putGuestBootSource", h_put_boot_source, true },
	{ "/cpu-config", "PUT", "putCpuConfiguration", h_put_cpu_config, true },
	{ "/drives/{}", "PUT", "putGuestDriveByID", NULL, true },
	{ "/drives/{}", "PATCH", "patchGuestDriveByID", NULL, true },
	{ "/pmem/{}", "PUT", "putGuestPmemByID", NULL, true },
	{ "/pmem/{}", "PATCH", "patchGuestPmemByID", NULL, true },
	{ "/logger", "PUT", "putLogger", h_put_logger, true },
	{ "/machine-config", "GET", "getMachineConfiguration", h_get_machine_config, false },
	{ "/machine-config", "PUT", "putMachineConfiguration", h_put_machine_config, true },
	{ "/machine-config", "PATCH", "patchMachineConfiguration", h_patch_machine_config, true },
	{ "/metrics", "PUT", "putMetrics", h_put_metrics, true },
	{ "/mmds", "PUT", "putMmds", h_put_mmds, true },
	{ "/mmds", "PATCH", "patchMmds", h_patch_mmds, true },
	{ "/mmds", "GET", "getMmds", h_get_mmds, false },
	{ "/mmds/config", "PUT", "putMmdsConfig", h_put_mmds_config, true },
	{ "/entropy", "PUT", "putEntropyDevice", NULL, true },
	{ "/serial", "PUT", "putSerialDevice", h_put_serial, true },
	{ "/hotplug/memory", "PUT", "putMemoryHotplug", h_put_hotplug, true },
	{ "/hotplug/memory", "PATCH", "patchMemoryHotplug", h_patch_hotplug, true },
	{ "/hotplug/memory", "GET", "getMemoryHotplug", h_get_hotplug, false },
	{ "/network-interfaces/{}", "PUT", "putGuestNetworkInterfaceByID", NULL, true },
	{ "/network-interfaces/{}", "PATCH", "patchGuestNetworkInterfaceByID", NULL, true },
	{ "/snapshot/create", "PUT", "createSnapshot", h_snapshot_create, true },
	{ "/snapshot/load", "PUT", "loadSnapshot", h_snapshot_load, true },
	{ "/version", "GET", "getFirecrackerVersion", h_version, false },
	{ "/vm", "PATCH", "patchVm", h_patch_vm, true },
	{ "/vm/config", "GET", "getExportVmConfig", h_get_vm_config, false },
	{ "/vsock", "PUT", "putGuestVsock", NULL, true },
	/* mvm extensions */
	{ "/stats", "GET", "mvmStats", h_stats, false },
	{ "/metrics/prometheus", "GET", "mvmPrometheus", h_prometheus, false },
	{ "/devices", "GET", "mvmDevices", h_devices, false },
};

/* Routes that configure what a boot builds (Firecracker's boot path). */
static bool boot_resource(const char *path)
{
	static const char *const boot_paths[] = {
		"/boot-source",
		"/machine-config",
		"/mmds/config",
		"/hotplug/memory",
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(boot_paths); i++)
		if (!strcmp(path, boot_paths[i]))
			return true;
	return false;
}

/* Matches url against a route path; *param gets the {} segment (into buf). */
static bool path_match(const char *pattern, const char *url, char *buf, size_t len,
		       const char **param)
{
	size_t plen = strlen(pattern);
	const char *seg;

	if (plen < 2 || strcmp(pattern + plen - 2, "{}")) {
		*param = NULL;
		return !strcmp(pattern, url);
	}
	if (strncmp(pattern, url, plen - 2))
		return false;
	seg = url + plen - 2;
	if (!*seg || strchr(seg, '/') || strlen(seg) >= len)
		return false;
	snprintf(buf, len, "%s", seg);
	*param = buf;
	return true;
}

bool api_id_valid(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n > 64)
		return false;
	for (i = 0; i < n; i++)
		if (!(id[i] == '_' || (id[i] >= '0' && id[i] <= '9') ||
		      (id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')))
			return false;
	return true;
}

void api_response_free(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
}

void api_fault(struct api_response *r, unsigned int status, const char *fmt, ...)
{
	char msg[1024];
	json_t *j;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	free(r->body);
	r->status = status;
	r->content_type = "application/json";
	j = json_pack("{s:s}", "fault_message", msg);
	if (!j) {
		/* Not UTF-8 (a client's URL, say): keep ASCII, mark the rest. */
		char *p;

		for (p = msg; *p; p++)
			if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
				*p = '?';
		j = json_pack("{s:s}", "fault_message", msg);
	}
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body)
		r->body = strdup("{\"fault_message\":\"out of memory\"}");
}

void api_json(struct api_response *r, json_t *j)
{
	free(r->body);
	r->body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!r->body) {
		api_fault(r, 500, "out of memory building the response");
		return;
	}
	r->status = 200;
	r->content_type = "application/json";
}

void api_no_content(struct api_response *r)
{
	free(r->body);
	r->body = NULL;
	r->status = 204;
	r->content_type = NULL;
}

/* The device type serving a route's resource ("/drives/{}" -> "drives"), or NULL. */
static const struct mvm_device_type *route_device_type(const char *path)
{
	char res[64];
	size_t n;

	snprintf(res, sizeof(res), "%s", path + 1);
	n = strlen(res);
	if (n > 3 && !strcmp(res + n - 3, "/{}"))
		res[n - 3] = '\0';
	return strchr(res, '/') ? NULL : mvm_device_type_by_api(res);
}

/* "/<api>" of a singleton type or "/<api>/<id>" of another: the type and *param. */
static bool device_route(const char *url, char *buf, size_t len,
			 const struct mvm_device_type **type, const char **param)
{
	const char *slash = strchr(url + 1, '/');
	char res[64];

	if (url[0] != '/' || (size_t)(slash ? slash - url : (ptrdiff_t)strlen(url)) > sizeof(res))
		return false;
	snprintf(res, sizeof(res), "%.*s", (int)(slash ? slash - url - 1 : (ptrdiff_t)strlen(url)),
		 url + 1);
	*type = mvm_device_type_by_api(res);
	if (!*type || (*type)->singleton != !slash)
		return false;
	*param = NULL;
	if (!slash)
		return true;
	if (!slash[1] || strchr(slash + 1, '/') || strlen(slash + 1) >= len)
		return false;
	snprintf(buf, len, "%s", slash + 1);
	*param = buf;
	return true;
}

static void api_route(struct vmm *vmm, const char *method, const char *url, const char *body,
		      size_t len, struct api_response *r)
{
	const struct mvm_device_type *type = NULL;
	const struct route *match = NULL;
	struct route generic;
	const char *param = NULL;
	bool path_known = false;
	char seg[256], msg[512];
	json_t *j = NULL;
	size_t i, off = 0;

	memset(r, 0, sizeof(*r));
	for (i = 0; i < ARRAY_SIZE(routes); i++) {
		const char *p;

		if (!path_match(routes[i].path, url, seg, sizeof(seg), &p))
			continue;
		if (!path_known) {
			path_known = true;
			param = p;
		}
		if (!strstr(r->allow, routes[i].method))
			off += (size_t)snprintf(r->allow + off, sizeof(r->allow) - off, "%s%s",
						off ? ", " : "", routes[i].method);
		if (!strcmp(routes[i].method, method))
			match = &routes[i];
	}
	if (!path_known && device_route(url, seg, sizeof(seg), &type, &param)) {
		/* A type's resource the spec does not list: PUT, PATCH and GET. */
		snprintf(r->allow, sizeof(r->allow), "GET, PUT, PATCH");
		if (strcmp(method, "PUT") && strcmp(method, "PATCH") && strcmp(method, "GET")) {
			api_fault(r, 400, MSG_INVALID_PATH_METHOD, method, url);
			return;
		}
		generic =
			(struct route){ url, method, type->api, NULL, strcmp(method, "GET") != 0 };
		match = &generic;
		path_known = true;
	}
	if (!path_known)
		r->allow[0] = '\0';
	if (!match) {
		api_fault(r, 400, MSG_INVALID_PATH_METHOD, method, url);
		return;
	}
	r->allow[0] = '\0';
	if (!type)
		type = match->fn ? NULL : route_device_type(match->path);
	if (!match->fn && !type) {
		api_fault(r, 400, MSG_NOT_IMPLEMENTED, match->op, method, match->path);
		return;
	}
	if (!match->body && len) {
		if (!strcmp(method, "GET")) {
			api_fault(r, 400, MSG_GET_WITH_BODY);
			return;
		}
	} else if (match->body == true && !len) {
		api_fault(r, 400, strcmp(method, "PATCH") ? MSG_EMPTY_PUT : MSG_EMPTY_PATCH);
		return;
	}
	if (match->body == true || (match->body == BODY_OPTIONAL && body && len)) {
		j = jc_parse_object(body, len, msg, sizeof(msg));
		if (!j) {
			api_fault(r, 400, "%s", msg);
			return;
		}
	}
	if (param && !api_id_valid(param)) {
		json_decref(j);
		api_fault(r, 400, MSG_INVALID_ID);
		return;
	}
	jc_source(body, len);
	pthread_mutex_lock(&vmm->lock);
	if (match->fn)
		match->fn(vmm, param, j, r);
	else if (!strcmp(method, "PUT"))
		h_device_put(vmm, type, param, j, r);
	else if (!strcmp(method, "PATCH"))
		h_device_patch(vmm, type, param, j, r);
	else if (!strcmp(method, "GET"))
		h_device_get(vmm, type, param, j, r);
	else
		api_fault(r, 400, MSG_NOT_IMPLEMENTED, match->op, method, match->path);
	/* A boot resource configured: no snapshot can be loaded into this VMM any more. */
	if (r->status && r->status < 300 && strcmp(method, "GET") &&
	    (type || boot_resource(match->path)))
		vmm->boot_path = true;
	pthread_mutex_unlock(&vmm->lock);
	jc_source(NULL, 0);
	json_decref(j);
	if (!r->status)
		api_fault(r, 500, MSG_INTERNAL, match->op);
}

void api_handle(struct vmm *vmm, const char *method, const char *url, const char *body, size_t len,
		struct api_response *r)
{
	api_route(vmm, method, url, body, len, r);
	/* Firecracker's {get,put,patch}_api_requests and deprecated_api metrics. */
	fc_api_count(&vmm->api_metrics, method, url, r->status, r->deprecated);
}
