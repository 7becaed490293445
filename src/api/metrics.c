// SPDX-License-Identifier: MIT
/*
 * Firecracker-style metrics (PUT /metrics, FlushMetrics): one JSON object
 * per line, written to the metrics path on every FlushMetrics and every 60
 * seconds. As Firecracker's, a line holds "utc_timestamp_ms" and groups of
 * counters whose values are the change since the previous line:
 *
 *   {"utc_timestamp_ms": ..., "vmm": {"paused": 0|1, "vcpu_count": n},
 *    "vcpu": {"exit_io": .., "exit_mmio": .., "kicks": .., "failures": ..,
 *             "kvm_exits": .., "kvm_halt_exits": .., ...},      (all vCPUs)
 *    "vm": {"pio_unclaimed_reads": .., ...},
 *    "<device name>": {"read_count": .., "write_count": ..}, ...}
 *
 * Gauges ("vmm") are not deltas. Before InstanceStart a line has the
 * timestamp and "vmm" only.
 *
 * The 60 s timer (metrics_open_period() for another period) is a thread sleeping on a condition
 * variable with a deadline (no polling); metrics_close() wakes it and joins it. Runtime code (PUT
 * /metrics happens on a running VMM), so it uses libc directly.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mvm/control.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

#define METRICS_PERIOD_MS 60000

struct metrics {
	int fd;
	pthread_mutex_t lock; /* vm, prev, stop; one writer at a time */
	pthread_cond_t cond;  /* CLOCK_MONOTONIC */
	pthread_t thread;
	unsigned int period_ms;
	bool stop;
	struct vm *vm;
	json_t *prev; /* the last cumulative values, for deltas */
};

static void add_to(json_t *group, const char *key, uint64_t v)
{
	json_t *old = json_object_get(group, key);
	json_int_t sum = (json_int_t)v + (old ? json_integer_value(old) : 0);

	json_object_set_new(group, key, json_integer(sum));
}

static void vcpu_kvm_one(void *opaque, const struct stats_node *node, enum stats_source src,
			 const char *name, const uint64_t *vals, unsigned int n)
{
	char key[96];

	(void)node;
	/* The exit counters of KVM's vCPU stats: "exits", "io_exits", "halt_exits"... */
	if (src != STATS_KVM || n != 1 || !strstr(name, "exits"))
		return;
	snprintf(key, sizeof(key), "kvm_%s", name);
	add_to(opaque, key, vals[0]);
}

static void mvm_counters_one(void *opaque, const struct stats_node *node, enum stats_source src,
			     const char *name, const uint64_t *vals, unsigned int n)
{
	(void)node;
	if (src == STATS_MVM && n == 1)
		add_to(opaque, name, vals[0]);
}

/* The cumulative counters: {"vcpu": {...}, "vm": {...}, "<device>": {...}}. */
static json_t *metrics_counters(struct vm *vm)
{
	json_t *root = json_object(), *vcpu = json_object(), *vmg = json_object();
	unsigned int i, n = vm_online_vcpus(vm);
	struct mvm_device *dev;

	if (!root || !vcpu || !vmg)
		goto err;
	for (i = 0; i < n; i++) {
		struct vcpu *c = vm_vcpu(vm, i);

		add_to(vcpu, "exit_io", counter_read(&c->exits[VCPU_EXIT_IO]));
		add_to(vcpu, "exit_mmio", counter_read(&c->exits[VCPU_EXIT_MMIO]));
		add_to(vcpu, "kicks", counter_read(&c->exits[VCPU_EXIT_INTR]));
		add_to(vcpu, "exit_system_event", counter_read(&c->exits[VCPU_EXIT_SYSTEM_EVENT]));
		add_to(vcpu, "failures",
		       counter_read(&c->exits[VCPU_EXIT_INTERNAL_ERROR]) +
			       counter_read(&c->exits[VCPU_EXIT_SHUTDOWN]) +
			       counter_read(&c->exits[VCPU_EXIT_OTHER]));
		stats_node_visit(&c->stats, vcpu_kvm_one, vcpu);
	}
	stats_node_visit(&vm->stats, mvm_counters_one, vmg);
	json_object_set_new(root, "vcpu", vcpu);
	json_object_set_new(root, "vm", vmg);
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		json_t *d =
			json_pack("{s:I, s:I}", "read_count", (json_int_t)counter_read(&dev->reads),
				  "write_count", (json_int_t)counter_read(&dev->writes));

		if (d)
			json_object_set_new(root, dev->name, d);
	}
	pthread_mutex_unlock(&vm->lock);
	return root;
err:
	json_decref(root);
	json_decref(vcpu);
	json_decref(vmg);
	return NULL;
}

/* cur - prev, group by group (prev may be NULL: everything since boot). */
static json_t *metrics_delta(json_t *cur, json_t *prev)
{
	json_t *out = json_object(), *group;
	const char *gname;

	if (!out)
		return NULL;
	json_object_foreach (cur, gname, group) {
		json_t *pg = prev ? json_object_get(prev, gname) : NULL, *og = json_object(), *v;
		const char *key;

		if (!og)
			break;
		json_object_foreach (group, key, v) {
			json_t *pv = pg ? json_object_get(pg, key) : NULL;
			json_int_t d = json_integer_value(v) - (pv ? json_integer_value(pv) : 0);

			json_object_set_new(og, key, json_integer(d));
		}
		json_object_set_new(out, gname, og);
	}
	return out;
}

static uint64_t utc_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Writes obj as one line. 0 or -errno (a full FIFO is -EAGAIN: the line is dropped). */
static int write_json_line(int fd, json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT);
	size_t len, off = 0;
	int err = 0;

	if (!s)
		return -ENOMEM;
	len = strlen(s);
	s[len++] = '\n'; /* replaces the NUL: written by length */
	while (off < len) {
		ssize_t w = write(fd, s + off, len - off);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			err = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(s);
	return err;
}

/* The line for vm (NULL: not started) with counters delta'd against *prev. */
static json_t *metrics_line(struct vm *vm, json_t **prev)
{
	json_t *line, *cur, *d;

	line = json_pack("{s:I}", "utc_timestamp_ms", (json_int_t)utc_ms());
	if (!line || !vm)
		return line;
	json_object_set_new(line, "vmm",
			    json_pack("{s:i, s:I}", "paused", vm_is_paused(vm) ? 1 : 0,
				      "vcpu_count", (json_int_t)vm_online_vcpus(vm)));
	cur = metrics_counters(vm);
	if (!cur)
		return line;
	d = metrics_delta(cur, prev ? *prev : NULL);
	if (d)
		json_object_update(line, d);
	json_decref(d);
	if (prev) {
		json_decref(*prev);
		*prev = cur;
	} else {
		json_decref(cur);
	}
	return line;
}

int metrics_write_line(int fd, struct vm *vm)
{
	json_t *line = metrics_line(vm, NULL);
	int err;

	if (!line)
		return -ENOMEM;
	err = write_json_line(fd, line);
	json_decref(line);
	return err;
}

/* Under m->lock. */
static int metrics_flush_locked(struct metrics *m)
{
	json_t *line = metrics_line(m->vm, &m->prev);
	int err;

	if (!line)
		return -ENOMEM;
	err = write_json_line(m->fd, line);
	json_decref(line);
	if (err)
		pr_warn("writing metrics: %s", strerror(-err));
	return err;
}

int metrics_flush(struct metrics *m)
{
	int err;

	pthread_mutex_lock(&m->lock);
	err = metrics_flush_locked(m);
	pthread_mutex_unlock(&m->lock);
	return err;
}

void metrics_set_vm(struct metrics *m, struct vm *vm)
{
	pthread_mutex_lock(&m->lock);
	if (m->vm && !vm)
		metrics_flush_locked(m); /* the last figures of the VM that goes away */
	m->vm = vm;
	json_decref(m->prev);
	m->prev = NULL;
	pthread_mutex_unlock(&m->lock);
}

static void *metrics_thread(void *arg)
{
	struct metrics *m = arg;
	struct timespec deadline;

	pthread_setname_np(pthread_self(), "metrics");
	if (sandbox_enter(SANDBOX_METRICS)) {
		pr_err("metrics: no sandbox for the timer thread: metrics are written on "
		       "FlushMetrics only");
		return NULL;
	}
	pthread_mutex_lock(&m->lock);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	while (!m->stop) {
		deadline.tv_sec += m->period_ms / 1000;
		deadline.tv_nsec += (long)(m->period_ms % 1000) * 1000000;
		if (deadline.tv_nsec >= 1000000000) {
			deadline.tv_sec++;
			deadline.tv_nsec -= 1000000000;
		}
		while (!m->stop &&
		       pthread_cond_timedwait(&m->cond, &m->lock, &deadline) != ETIMEDOUT)
			;
		if (!m->stop)
			metrics_flush_locked(m);
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

struct metrics *metrics_open(const char *path)
{
	return metrics_open_period(path, METRICS_PERIOD_MS);
}

struct metrics *metrics_open_period(const char *path, unsigned int period_ms)
{
	pthread_condattr_t ca;
	struct metrics *m;
	sigset_t all, old;
	int err;

	if (!period_ms)
		return ERR_PTR(-EINVAL);
	m = calloc(1, sizeof(*m));
	if (!m)
		return ERR_PTR(-ENOMEM);
	m->period_ms = period_ms;
	m->fd = sink_open(path);
	if (m->fd < 0) {
		err = m->fd;
		pr_err("metrics path '%s': %s", path, strerror(-err));
		goto err_free;
	}
	pthread_mutex_init(&m->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&m->cond, &ca);
	pthread_condattr_destroy(&ca);
	/* Host signals are for the main thread, not this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&m->thread, NULL, metrics_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("metrics thread: %s", strerror(-err));
		goto err_close;
	}
	return m;

err_close:
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	close(m->fd);
err_free:
	free(m);
	return ERR_PTR(err);
}

void metrics_close(struct metrics *m)
{
	if (IS_ERR_OR_NULL(m))
		return;
	pthread_mutex_lock(&m->lock);
	m->stop = true;
	pthread_cond_signal(&m->cond);
	metrics_flush_locked(m);
	pthread_mutex_unlock(&m->lock);
	pthread_join(m->thread, NULL);
	json_decref(m->prev);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	close(m->fd);
	free(m);
}
