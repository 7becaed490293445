// SPDX-License-Identifier: MIT
/*
 * mvm top: a live view of the VMs of this host, like kvm_stat: KVM's exit
 * counters (and mvm's own) per second, by reason, per VM and per vCPU, from
 * each VMM's GET /stats. Refreshes every second (-d SECS); --once or -n N
 * print one or N frames and end (for scripts and tests).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "client.h"
#include "mvm/control.h"

#define TOP_MAX_VMS  64
#define TOP_MAX_ROWS 16

struct top_vm {
	struct runtime_entry e;
	json_t *prev; /* {"vm": {event: total}, "vcpus": [{event: total}]} */
	double prev_t;
	bool seen;
};

struct top {
	struct top_vm vms[TOP_MAX_VMS];
	unsigned int nr;
	char *const *ids; /* only these, or every VM if nr_ids == 0 */
	int nr_ids;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The counters that are events: KVM's exit-like stats, and all of mvm's. */
static bool kvm_event(const char *name)
{
	static const char *const extra[] = { "insn_emulation", "hypercalls",	 "halt_wakeup",
					     "irq_injections", "nmi_injections", NULL };
	unsigned int i;

	if (strstr(name, "exit"))
		return true;
	for (i = 0; extra[i]; i++)
		if (!strcmp(name, extra[i]))
			return true;
	return false;
}

static void add_events(json_t *dst, json_t *node)
{
	const char *k;
	json_t *v;
	char key[96];

	json_object_foreach (json_object_get(node, "kvm"), k, v)
		if (json_is_integer(v) && kvm_event(k))
			json_object_set(dst, k, v);
	json_object_foreach (json_object_get(node, "mvm"), k, v)
		if (json_is_integer(v)) {
			snprintf(key, sizeof(key), "mvm.%s", k);
			json_object_set(dst, key, v);
		}
}

/* {"vm": sum over vCPUs, "vcpus": [per vCPU], "paused", "name"} from a /stats answer. */
static json_t *top_sample(json_t *st)
{
	json_t *out = json_pack("{s:o, s:o, s:O}", "vm", json_object(), "vcpus", json_array(),
				"paused", json_object_get(st, "paused") ?: json_false());
	json_t *vm_ev, *arr, *n;
	size_t i;

	if (!out)
		return NULL;
	vm_ev = json_object_get(out, "vm");
	arr = json_object_get(out, "vcpus");
	json_array_foreach (json_object_get(st, "vcpus"), i, n) {
		json_t *ev = json_object();
		const char *k;
		json_t *v;

		add_events(ev, n);
		json_object_set_new(ev, "_index",
				    json_integer(json_integer_value(json_object_get(n, "index"))));
		json_object_foreach (ev, k, v) {
			json_int_t sum = json_integer_value(json_object_get(vm_ev, k));

			if (k[0] != '_')
				json_object_set_new(vm_ev, k,
						    json_integer(sum + json_integer_value(v)));
		}
		json_array_append_new(arr, ev);
	}
	return out;
}

struct row {
	const char *name;
	long long total;
	double rate;
};

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;

	if (x->rate != y->rate)
		return x->rate < y->rate ? 1 : -1;
	if (x->total != y->total)
		return x->total < y->total ? 1 : -1;
	return strcmp(x->name, y->name);
}

/* Rows of cur against prev (NULL: no rate yet), sorted by rate. Returns the count. */
static size_t make_rows(json_t *cur, json_t *prev, double dt, struct row *rows, size_t max)
{
	const char *k;
	json_t *v;
	size_t n = 0;

	json_object_foreach (cur, k, v) {
		long long total = json_integer_value(v);
		json_t *p = prev ? json_object_get(prev, k) : NULL;

		if (k[0] == '_' || n == max)
			continue;
		rows[n].name = k;
		rows[n].total = total;
		rows[n].rate =
			p && dt > 0 ? (double)(total - json_integer_value(p)) / dt : (double)NAN;
		n++;
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	return n;
}

static void print_vm(struct top_vm *t, json_t *cur, double dt)
{
	json_t *prev = t->prev;
	struct row rows[256];
	size_t n, i, j;
	json_t *c;

	printf("VM %s  pid %d  %s  %zu vCPUs\n", t->e.id, (int)t->e.pid,
	       json_is_true(json_object_get(cur, "paused")) ? "Paused" : "Running",
	       json_array_size(json_object_get(cur, "vcpus")));
	n = make_rows(json_object_get(cur, "vm"), prev ? json_object_get(prev, "vm") : NULL, dt,
		      rows, 256);
	printf("  %-32s %14s %10s\n", "EVENT", "TOTAL", "/s");
	for (i = 0; i < n && i < TOP_MAX_ROWS; i++) {
		if (!rows[i].total)
			continue;
		if (isnan(rows[i].rate))
			printf("  %-32s %14lld %10s\n", rows[i].name, rows[i].total, "-");
		else
			printf("  %-32s %14lld %10.0f\n", rows[i].name, rows[i].total,
			       rows[i].rate);
	}
	printf("  %-6s %10s  %s\n", "VCPU", "EXITS/S", "TOP REASONS (/s)");
	json_array_foreach (json_object_get(cur, "vcpus"), i, c) {
		json_t *pv = prev ? json_array_get(json_object_get(prev, "vcpus"), i) : NULL;
		json_t *ce = json_object_get(c, "exits"),
		       *pe = pv ? json_object_get(pv, "exits") : NULL;
		char reasons[256] = "";
		size_t off = 0, shown = 0;

		n = make_rows(c, pv, dt, rows, 256);
		for (j = 0; j < n && shown < 4; j++) {
			/* Reasons: the specific exits, not the total. */
			if (!strcmp(rows[j].name, "exits") || isnan(rows[j].rate) ||
			    rows[j].rate <= 0)
				continue;
			if (off < sizeof(reasons))
				off += (size_t)snprintf(reasons + off, sizeof(reasons) - off,
							"%s%s %.0f", shown ? ", " : "",
							rows[j].name, rows[j].rate);
			shown++;
		}
		if (pe && dt > 0)
			printf("  %-6lld %10.0f  %s\n",
			       (long long)json_integer_value(json_object_get(c, "_index")),
			       (double)(json_integer_value(ce) - json_integer_value(pe)) / dt,
			       reasons);
		else
			printf("  %-6lld %10s  %s\n",
			       (long long)json_integer_value(json_object_get(c, "_index")), "-",
			       reasons);
	}
}

static struct top_vm *top_vm_get(struct top *top, const struct runtime_entry *e)
{
	unsigned int i;

	for (i = 0; i < top->nr; i++)
		if (!strcmp(top->vms[i].e.id, e->id) && top->vms[i].e.pid == e->pid)
			return &top->vms[i];
	if (top->nr == TOP_MAX_VMS)
		return NULL;
	memset(&top->vms[top->nr], 0, sizeof(top->vms[0]));
	top->vms[top->nr].e = *e;
	return &top->vms[top->nr++];
}

static int top_mark(void *opaque, const struct runtime_entry *e)
{
	struct top *top = opaque;
	struct top_vm *t;
	int i;

	if (top->nr_ids) {
		for (i = 0; i < top->nr_ids; i++)
			if (!strcmp(top->ids[i], e->id))
				break;
		if (i == top->nr_ids)
			return 0;
	}
	t = top_vm_get(top, e);
	if (t)
		t->seen = true;
	return 0;
}

/* One pass: sample every VM; print a frame if print. */
static void top_pass(struct top *top, bool print)
{
	unsigned int i, shown = 0;
	char err[256];

	for (i = 0; i < top->nr; i++)
		top->vms[i].seen = false;
	runtime_list(top_mark, top);
	if (print) {
		time_t now = time(NULL);
		char ts[16];

		strftime(ts, sizeof(ts), "%H:%M:%S", localtime(&now));
		printf("mvm top - %s\n\n", ts);
	}
	for (i = 0; i < top->nr; i++) {
		struct top_vm *t = &top->vms[i];
		json_t *st, *cur;
		double now;

		if (!t->seen)
			continue;
		if (api_get_json(t->e.sock, "/stats", &st, err, sizeof(err))) {
			json_t *info = NULL;
			const char *state = NULL;
			char err2[64];

			/* No VM yet (Not started), or it just ended: say which. */
			if (!api_get_json(t->e.sock, "/", &info, err2, sizeof(err2)))
				state = json_string_value(json_object_get(info, "state"));
			if (print) {
				printf("VM %s  pid %d  %s\n\n", t->e.id, (int)t->e.pid,
				       state ? state : err);
				shown++;
			}
			json_decref(info);
			continue;
		}
		now = now_s();
		cur = top_sample(st);
		json_decref(st);
		if (!cur)
			continue;
		if (print) {
			print_vm(t, cur, now - t->prev_t);
			putchar('\n');
			shown++;
		}
		json_decref(t->prev);
		t->prev = cur;
		t->prev_t = now;
	}
	if (print && !shown)
		printf("no VMs (mvm ls lists them)\n");
	fflush(stdout);
}

int cmd_top(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, '1' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "delay", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct top *top;
	long frames = -1, i;
	double delay = 1.0;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "1n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case '1':
			frames = 1;
			break;
		case 'n':
			frames = strtol(optarg, &end, 10);
			if (*end || frames < 1)
				goto usage;
			break;
		case 'd':
			delay = strtod(optarg, &end);
			if (*end || !(delay >= 0.1 && delay <= 3600))
				goto usage;
			break;
		case 'h':
		default:
			goto usage;
		}
	}
	top = calloc(1, sizeof(*top));
	if (!top)
		return MVM_EXIT_FAILURE;
	top->ids = argv + optind;
	top->nr_ids = argc - optind;

	/* A first sample, so that every frame shows rates over `delay`. */
	top_pass(top, false);
	for (i = 0; frames < 0 || i < frames; i++) {
		struct timespec ts = { (time_t)delay, (long)((delay - (time_t)delay) * 1e9) };

		while (nanosleep(&ts, &ts) && errno == EINTR)
			;
		if (frames < 0 && isatty(STDOUT_FILENO))
			printf("\033[H\033[2J");
		top_pass(top, true);
	}
	for (i = 0; i < (long)top->nr; i++)
		json_decref(top->vms[i].prev);
	free(top);
	return 0;

usage:
	fprintf(stderr, "usage: mvm top [--once | -n N] [-d SECS] [ID...]\n"
			"  a live view of KVM exits per second by reason, per VM and per vCPU\n");
	return MVM_EXIT_USAGE;
}
