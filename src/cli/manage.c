// SPDX-License-Identifier: MIT
/*
 * mvm ls, stat, devices, pause, resume, stop: clients of the VMMs of this
 * host, found in the runtime registry (mvm/control.h), talking to each over
 * its API socket.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "mvm/control.h"

/* ---- mvm ls ---- */

struct ls_ctx {
	bool json;
	json_t *arr;
};

static int ls_one(void *opaque, const struct runtime_entry *e)
{
	struct ls_ctx *ctx = opaque;
	json_t *info = NULL, *cfg = NULL;
	const char *state = "unreachable";
	json_int_t vcpus = -1, mem = -1;
	char err[256];

	if (api_get_json(e->sock, "/", &info, err, sizeof(err)) == 0) {
		const char *s = json_string_value(json_object_get(info, "state"));

		state = s ? s : "?";
		if (api_get_json(e->sock, "/vm/config", &cfg, err, sizeof(err)) == 0) {
			json_t *mc = json_object_get(cfg, "machine-config");

			vcpus = json_integer_value(json_object_get(mc, "vcpu_count"));
			mem = json_integer_value(json_object_get(mc, "mem_size_mib"));
		}
	}
	if (ctx->json) {
		json_array_append_new(ctx->arr,
				      json_pack("{s:s, s:i, s:s, s:I, s:I, s:s}", "id", e->id,
						"pid", (int)e->pid, "state", state, "vcpus", vcpus,
						"mem_size_mib", mem, "socket", e->sock));
	} else {
		char v[16] = "-", m[24] = "-";

		if (vcpus >= 0)
			snprintf(v, sizeof(v), "%" JSON_INTEGER_FORMAT, vcpus);
		if (mem >= 0)
			snprintf(m, sizeof(m), "%" JSON_INTEGER_FORMAT "M", mem);
		printf("%-20s %8d  %-12s %5s %8s  %s\n", e->id, (int)e->pid, state, v, m, e->sock);
	}
	json_decref(info);
	json_decref(cfg);
	return 0;
}

int cmd_ls(int argc, char **argv)
{
	struct ls_ctx ctx = { 0 };
	int n;

	if (argc > 1 && !strcmp(argv[1], "--json"))
		ctx.json = true;
	else if (argc > 1) {
		fprintf(stderr, "usage: mvm ls [--json]\n");
		return MVM_EXIT_USAGE;
	}
	if (ctx.json)
		ctx.arr = json_array();
	else
		printf("%-20s %8s  %-12s %5s %8s  %s\n", "ID", "PID", "STATE", "VCPUS", "MEMORY",
		       "SOCKET");
	n = runtime_list(ls_one, &ctx);
	if (n < 0) {
		fprintf(stderr, "mvm ls: runtime directory: %s\n", strerror(-n));
		json_decref(ctx.arr);
		return MVM_EXIT_FAILURE;
	}
	if (ctx.json) {
		json_dumpf(ctx.arr, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(ctx.arr);
	}
	return 0;
}

/* ---- helpers for the commands that take an ID ---- */

/* Parses "CMD [--json] ID": the id, or NULL after a usage message. */
static const char *one_id(int argc, char **argv, bool *json)
{
	const char *id = NULL;
	int i;

	*json = false;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			*json = true;
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			goto usage; /* an unknown option, or a second ID */
	}
	if (id)
		return id;
usage:
	fprintf(stderr, "usage: mvm %s [--json] ID\n", argv[0]);
	return NULL;
}

static void print_values(const char *src, json_t *obj)
{
	const char *k;
	json_t *v;

	json_object_foreach (obj, k, v) {
		if (json_is_integer(v)) {
			printf("  %s.%s %" JSON_INTEGER_FORMAT "\n", src, k, json_integer_value(v));
		} else if (json_is_array(v)) {
			size_t i, last = 0;
			json_t *b;

			/* Histograms: buckets up to the last non-empty one. */
			json_array_foreach (v, i, b)
				if (json_integer_value(b))
					last = i + 1;
			printf("  %s.%s [", src, k);
			for (i = 0; i < last; i++)
				printf("%s%" JSON_INTEGER_FORMAT, i ? " " : "",
				       json_integer_value(json_array_get(v, i)));
			printf("]\n");
		}
	}
}

static void print_node(json_t *n)
{
	printf("%s\n", json_string_value(json_object_get(n, "id")));
	print_values("kvm", json_object_get(n, "kvm"));
	print_values("mvm", json_object_get(n, "mvm"));
}

/* ---- mvm stat ID ---- */

int cmd_stat(int argc, char **argv)
{
	struct runtime_entry e;
	json_t *st, *n;
	char err[256];
	bool json;
	size_t i;
	const char *id = one_id(argc, argv, &json);

	if (!id)
		return MVM_EXIT_USAGE;
	if (vmm_find(id, &e))
		return MVM_EXIT_FAILURE;
	if (api_get_json(e.sock, "/stats", &st, err, sizeof(err))) {
		fprintf(stderr, "mvm stat %s: %s\n", id, err);
		return MVM_EXIT_FAILURE;
	}
	if (json) {
		json_dumpf(st, stdout, JSON_INDENT(2));
		putchar('\n');
	} else {
		/* The same shape as `mvm run --stats`: the VM, its vCPUs, its devices. */
		printf("# VM %s, %s\n", json_string_value(json_object_get(st, "name")),
		       json_is_true(json_object_get(st, "paused")) ? "paused" : "running");
		print_node(st);
		json_array_foreach (json_object_get(st, "vcpus"), i, n)
			print_node(n);
		json_array_foreach (json_object_get(st, "devices"), i, n)
			print_node(n);
	}
	json_decref(st);
	return 0;
}

/* ---- mvm devices ID ---- */

int cmd_devices(int argc, char **argv)
{
	struct runtime_entry e;
	json_t *devs, *d, *r;
	char err[256];
	bool json;
	size_t i, j;
	const char *id = one_id(argc, argv, &json);

	if (!id)
		return MVM_EXIT_USAGE;
	if (vmm_find(id, &e))
		return MVM_EXIT_FAILURE;
	if (api_get_json(e.sock, "/devices", &devs, err, sizeof(err))) {
		fprintf(stderr, "mvm devices %s: %s\n", id, err);
		return MVM_EXIT_FAILURE;
	}
	if (json) {
		json_dumpf(devs, stdout, JSON_INDENT(2));
		putchar('\n');
		json_decref(devs);
		return 0;
	}
	printf("%-14s %-14s %-9s %-26s %-4s %s\n", "NAME", "TYPE", "TRANSPORT", "ADDRESS", "GSI",
	       "BOUND");
	json_array_foreach (devs, i, d) {
		json_t *ranges = json_object_get(d, "ranges"), *bars = json_object_get(d, "bars");
		const char *address = json_string_value(json_object_get(d, "address"));
		json_t *gsi = json_object_get(d, "gsi") ?: json_object_get(d, "intx_gsi");
		char addr[256] = "", irq[16] = "-";
		size_t off = 0;

		/* A PCI function: its address and BARs; else its window or ports. */
		if (address)
			off += (size_t)snprintf(addr, sizeof(addr), "%s", address);
		json_array_foreach (bars, j, r)
			if (off < sizeof(addr))
				off += (size_t)snprintf(
					addr + off, sizeof(addr) - off, " BAR%lld=%s",
					(long long)json_integer_value(json_object_get(r, "bar")),
					json_string_value(json_object_get(r, "base")) ?: "?");
		json_array_foreach (address ? NULL : ranges, j, r) {
			json_int_t len = json_integer_value(json_object_get(r, "len"));
			unsigned long long base = strtoull(
				json_string_value(json_object_get(r, "base")) ?: "0", NULL, 0);

			if (off < sizeof(addr))
				off += (size_t)snprintf(addr + off, sizeof(addr) - off,
							"%s%s:0x%llx-0x%llx", j ? "," : "",
							json_string_value(json_object_get(r, "bus"))
								?: "?",
							base, base + (unsigned long long)len - 1);
		}
		if (json_is_integer(gsi))
			snprintf(irq, sizeof(irq), "%lld", (long long)json_integer_value(gsi));
		/* A passthrough function: what it is bound to on the host. */
		if (json_is_string(json_object_get(d, "host")) && off < sizeof(addr))
			off += (size_t)snprintf(addr + off, sizeof(addr) - off, " host=%s",
						json_string_value(json_object_get(d, "host")));
		printf("%-14s %-14s %-9s %-26s %-4s %s\n",
		       json_string_value(json_object_get(d, "name")) ?: "?",
		       json_string_value(json_object_get(d, "type")) ?: "?",
		       json_string_value(json_object_get(d, "transport")) ?: "platform",
		       *addr ? addr : "-", irq,
		       json_is_true(json_object_get(d, "bound")) ? "yes" : "no");
	}
	json_decref(devs);
	return 0;
}

/* ---- mvm pause / resume / stop ID ---- */

static int simple_request(const char *cmd, const char *id, const char *method, const char *path,
			  const char *body)
{
	struct runtime_entry e;
	struct api_reply r;
	char err[512];

	if (vmm_find(id, &e))
		return MVM_EXIT_FAILURE;
	if (api_request(e.sock, method, path, body, &r)) {
		fprintf(stderr, "mvm %s %s: %s: %s\n", cmd, id, e.sock, r.error);
		return MVM_EXIT_FAILURE;
	}
	if (r.status < 200 || r.status >= 300) {
		fprintf(stderr, "mvm %s %s: %s\n", cmd, id, api_reply_fault(&r, err, sizeof(err)));
		api_reply_free(&r);
		return MVM_EXIT_FAILURE;
	}
	api_reply_free(&r);
	return 0;
}

int cmd_pause(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mvm pause ID\n");
		return MVM_EXIT_USAGE;
	}
	return simple_request("pause", argv[1], "PATCH", "/vm", "{\"state\": \"Paused\"}");
}

int cmd_resume(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: mvm resume ID\n");
		return MVM_EXIT_USAGE;
	}
	return simple_request("resume", argv[1], "PATCH", "/vm", "{\"state\": \"Resumed\"}");
}

/* Waits for pid to exit (a pidfd: no polling loop), at most timeout_ms. 0 or -ETIMEDOUT. */
static int wait_pid_exit(pid_t pid, int timeout_ms)
{
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	int r;

	if (fd < 0)
		return errno == ESRCH ? 0 : -errno;
	p.fd = fd;
	p.events = POLLIN;
	do
		r = poll(&p, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	close(fd);
	return r > 0 ? 0 : -ETIMEDOUT;
}

int cmd_stop(int argc, char **argv)
{
	struct runtime_entry e;
	const char *id = NULL;
	bool wait = true;
	int i, err;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--no-wait"))
			wait = false;
		else if (!id && argv[i][0] != '-')
			id = argv[i];
		else
			goto usage;
	}
	if (!id)
		goto usage;
	if (vmm_find(id, &e))
		return MVM_EXIT_FAILURE;
	/* PUT /actions {"action_type": "Stop"}: mvm's extension (mvm/control.h). */
	err = simple_request("stop", id, "PUT", "/actions", "{\"action_type\": \"Stop\"}");
	if (err || !wait)
		return err;
	if (wait_pid_exit(e.pid, 30000)) {
		fprintf(stderr, "mvm stop %s: pid %d still runs after 30 s\n", id, (int)e.pid);
		return MVM_EXIT_FAILURE;
	}
	return 0;

usage:
	fprintf(stderr, "usage: mvm stop [--no-wait] ID\n");
	return MVM_EXIT_USAGE;
}
