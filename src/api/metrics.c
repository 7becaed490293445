// SPDX-License-Identifier: MIT
/*
 * Firecracker's metrics (PUT /metrics, FlushMetrics): one JSON object per
 * line, written to the metrics path on every FlushMetrics, every 60 seconds
 * and at exit. A line is Firecracker's: "utc_timestamp_ms" and its groups
 * with every field (fc_metrics.c), counters as the change since the
 * previous line, store metrics (startup times, latencies, min/max) as they
 * are. Before InstanceStart the VM's fields are 0.
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

#include "api_internal.h"
#include "fc_metrics.h"
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
	json_t *prev;			  /* the last cumulative values, for deltas */
	const struct fc_api_metrics *api; /* the VMM's request counters, or NULL */
	json_t *ids;			  /* the configured devices' ids (per-device groups) */
	uint64_t fails;			  /* lines that could not be written */
};

void metrics_set_api(struct metrics *m, const struct fc_api_metrics *api)
{
	pthread_mutex_lock(&m->lock);
	m->api = api;
	pthread_mutex_unlock(&m->lock);
}

void metrics_set_devices(struct metrics *m, json_t *ids)
{
	pthread_mutex_lock(&m->lock);
	json_decref(m->ids);
	m->ids = ids;
	pthread_mutex_unlock(&m->lock);
}

/* cur - prev for counters, cur for store metrics; prev may be NULL (since the start). */
static json_t *metrics_delta(const char *group, json_t *cur, json_t *prev)
{
	json_t *out = json_object(), *v;
	const char *key;

	if (!out)
		return NULL;
	json_object_foreach (cur, key, v) {
		json_t *pv = prev ? json_object_get(prev, key) : NULL, *d;

		if (json_is_object(v))
			d = metrics_delta(group ? group : key, v, pv);
		else if (!group || fc_metrics_is_store(group, key) || !json_is_integer(pv))
			d = json_incref(v);
		else
			d = json_integer(json_integer_value(v) - json_integer_value(pv));
		if (!d || json_object_set_new(out, key, d)) {
			json_decref(out);
			return NULL;
		}
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
static json_t *metrics_line(struct vm *vm, const json_t *ids, const struct fc_api_metrics *api,
			    uint64_t fails, json_t **prev)
{
	json_t *line, *cur, *d;

	line = json_pack("{s:I}", "utc_timestamp_ms", (json_int_t)utc_ms());
	cur = fc_metrics_counters(vm, ids, api, fails);
	if (!line || !cur)
		goto err;
	d = metrics_delta(NULL, cur, prev ? *prev : NULL);
	if (!d || json_object_update(line, d)) {
		json_decref(d);
		goto err;
	}
	json_decref(d);
	if (prev) {
		json_decref(*prev);
		*prev = cur;
	} else {
		json_decref(cur);
	}
	return line;
err:
	json_decref(cur);
	json_decref(line);
	return NULL;
}

int metrics_write_line(int fd, struct vm *vm)
{
	json_t *line = metrics_line(vm, NULL, NULL, 0, NULL);
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
	json_t *line = metrics_line(m->vm, m->ids, m->api, m->fails, &m->prev);
	int err;

	if (!line)
		return -ENOMEM;
	err = write_json_line(m->fd, line);
	json_decref(line);
	if (err) {
		m->fails++;
		pr_warn("writing metrics: %s", strerror(-err));
	}
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
	json_decref(m->ids);
	pthread_cond_destroy(&m->cond);
	pthread_mutex_destroy(&m->lock);
	close(m->fd);
	free(m);
}
