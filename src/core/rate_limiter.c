// SPDX-License-Identifier: MIT
/*
 * Token buckets and rate limiters (mvm/rate_limiter.h). The bucket is pure
 * arithmetic on a time the caller gives, so that tests drive the clock; the
 * limiter adds a lock, the monotonic clock and a timerfd that resumes a
 * throttled user from the event loop.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/compiler.h"
#include "mvm/log.h"
#include "mvm/rate_limiter.h"
#include "mvm/sys.h"

#define NS_PER_MS 1000000ULL

static const struct mvm_opt bucket_opts[] = {
	{ MVM_OPT("size", NULL, MVM_OPT_UINT, MVM_OPT_REQUIRED,
		  offsetof(struct mvm_token_bucket_config, size)),
	  .max = MVM_TOKEN_BUCKET_MAX, .help = "tokens the bucket holds (0: no limit)" },
	{ MVM_OPT("one_time_burst", NULL, MVM_OPT_UINT, 0,
		  offsetof(struct mvm_token_bucket_config, one_time_burst)),
	  .max = MVM_TOKEN_BUCKET_MAX, .help = "extra tokens spent first, never refilled" },
	{ MVM_OPT("refill_time", NULL, MVM_OPT_UINT, MVM_OPT_REQUIRED,
		  offsetof(struct mvm_token_bucket_config, refill_time)),
	  .max = MVM_TOKEN_REFILL_MAX_MS, .help = "ms to refill the whole bucket (0: no limit)" },
	MVM_OPT_END,
};

const struct mvm_opt mvm_rate_limiter_opts[] = {
	{ MVM_OPT("bandwidth", NULL, MVM_OPT_OBJECT, 0,
		  offsetof(struct mvm_rate_limiter_config, bandwidth)),
	  .sub = bucket_opts, .set_offset = offsetof(struct mvm_rate_limiter_config, bandwidth_set),
	  .help = "bytes" },
	{ MVM_OPT("ops", NULL, MVM_OPT_OBJECT, 0, offsetof(struct mvm_rate_limiter_config, ops)),
	  .sub = bucket_opts, .set_offset = offsetof(struct mvm_rate_limiter_config, ops_set),
	  .help = "requests" },
	MVM_OPT_END,
};

void token_bucket_init(struct token_bucket *tb, const struct mvm_token_bucket_config *cfg,
		       uint64_t now)
{
	memset(tb, 0, sizeof(*tb));
	if (!cfg->size || !cfg->refill_time)
		return; /* no limit */
	tb->size = cfg->size;
	tb->refill_ns = cfg->refill_time * NS_PER_MS;
	tb->budget = (int64_t)cfg->size;
	tb->burst = cfg->one_time_burst;
	tb->last = now;
}

static void token_bucket_refill(struct token_bucket *tb, uint64_t now)
{
	unsigned __int128 add;

	if (now <= tb->last)
		return;
	add = (unsigned __int128)(now - tb->last) * tb->size / tb->refill_ns;
	if ((__int128)tb->budget + (__int128)add >= (__int128)tb->size) {
		tb->budget = (int64_t)tb->size;
		tb->last = now;
	} else if (add) {
		tb->budget += (int64_t)add;
		/* Only the time those whole tokens took: fractions carry over. */
		tb->last += (uint64_t)((add * tb->refill_ns + tb->size - 1) / tb->size);
	}
}

uint64_t token_bucket_wait(struct token_bucket *tb, uint64_t n, uint64_t now)
{
	unsigned __int128 need, ns;
	uint64_t rest;

	if (!tb->size || n <= tb->burst)
		return 0;
	token_bucket_refill(tb, now);
	rest = n - tb->burst;
	if ((__int128)tb->budget >= (__int128)rest)
		return 0;
	if (rest > tb->size && tb->budget == (int64_t)tb->size)
		return 0; /* larger than the bucket: passes when full, leaves a debt */
	need = (unsigned __int128)((__int128)MIN(rest, tb->size) - tb->budget);
	ns = (need * tb->refill_ns + tb->size - 1) / tb->size;
	/* Part of the next token has accrued since the last refill. */
	ns = ns > now - tb->last ? ns - (now - tb->last) : 1;
	return (uint64_t)ns;
}

void token_bucket_take(struct token_bucket *tb, uint64_t n)
{
	uint64_t b;

	if (!tb->size)
		return;
	b = MIN(tb->burst, n);
	tb->burst -= b;
	tb->budget -= (int64_t)(n - b);
}

bool rate_limiter_config_active(const struct mvm_rate_limiter_config *cfg)
{
	return (cfg->bandwidth_set && cfg->bandwidth.size && cfg->bandwidth.refill_time) ||
	       (cfg->ops_set && cfg->ops.size && cfg->ops.refill_time);
}

static uint64_t now_ns(void)
{
	return mvm_clock_ns(CLOCK_MONOTONIC);
}

static void buckets_set(struct rate_limiter *rl, const struct mvm_rate_limiter_config *cfg)
{
	static const struct mvm_token_bucket_config none;
	uint64_t now = now_ns();

	token_bucket_init(&rl->bw, cfg && cfg->bandwidth_set ? &cfg->bandwidth : &none, now);
	token_bucket_init(&rl->ops, cfg && cfg->ops_set ? &cfg->ops : &none, now);
}

static void timer_arm(struct rate_limiter *rl, uint64_t ns)
{
	struct itimerspec its = { 0 };

	its.it_value.tv_sec = (time_t)(ns / 1000000000ULL);
	its.it_value.tv_nsec = (long)(ns % 1000000000ULL);
	if (timerfd_settime(rl->timer_fd, 0, &its, NULL) < 0)
		pr_warn("rate limiter: timerfd_settime: %s", strerror(errno));
}

/* Event-loop thread: the wait is over (or the buckets changed). */
static void rate_limiter_timer(struct loop_handler *h, uint32_t events)
{
	struct rate_limiter *rl = container_of(h, struct rate_limiter, timer);
	uint64_t v;

	(void)events;
	if (read(rl->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pr_warn("rate limiter: timerfd read: %s", strerror(errno));
	pthread_mutex_lock(&rl->lock);
	rl->blocked = false;
	pthread_mutex_unlock(&rl->lock);
	if (rl->resume)
		rl->resume(rl);
}

int rate_limiter_init(struct rate_limiter *rl, const struct mvm_rate_limiter_config *cfg,
		      struct mvm_loop *loop, void (*resume)(struct rate_limiter *rl))
{
	int err;

	memset(rl, 0, sizeof(*rl));
	rl->timer_fd = mvm_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (rl->timer_fd < 0)
		return -errno;
	rl->loop = loop;
	rl->resume = resume;
	rl->timer.fd = rl->timer_fd;
	rl->timer.fn = rate_limiter_timer;
	err = loop_add(loop, &rl->timer, EPOLLIN);
	if (err) {
		close(rl->timer_fd);
		rl->timer_fd = -1;
		return err;
	}
	pthread_mutex_init(&rl->lock, NULL);
	buckets_set(rl, cfg);
	return 0;
}

void rate_limiter_fini(struct rate_limiter *rl)
{
	if (rl->timer_fd < 0)
		return;
	loop_del(rl->loop, &rl->timer);
	close(rl->timer_fd);
	rl->timer_fd = -1;
	pthread_mutex_destroy(&rl->lock);
}

uint64_t rate_limiter_wait_at(struct rate_limiter *rl, uint64_t bytes, uint64_t now)
{
	uint64_t w =
		MAX(token_bucket_wait(&rl->bw, bytes, now), token_bucket_wait(&rl->ops, 1, now));

	if (!w) {
		token_bucket_take(&rl->bw, bytes);
		token_bucket_take(&rl->ops, 1);
	}
	return w;
}

bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes)
{
	uint64_t w;

	pthread_mutex_lock(&rl->lock);
	if (rl->blocked) {
		pthread_mutex_unlock(&rl->lock);
		return false;
	}
	if (!rl->bw.size && !rl->ops.size) {
		pthread_mutex_unlock(&rl->lock);
		return true;
	}
	w = rate_limiter_wait_at(rl, bytes, now_ns());
	if (w) {
		rl->blocked = true;
		counter_inc(&rl->throttled);
		timer_arm(rl, w);
	}
	pthread_mutex_unlock(&rl->lock);
	return !w;
}

void rate_limiter_update(struct rate_limiter *rl, const struct mvm_rate_limiter_config *cfg)
{
	pthread_mutex_lock(&rl->lock);
	buckets_set(rl, cfg);
	if (rl->blocked)
		timer_arm(rl, 1); /* resume now, against the new buckets */
	pthread_mutex_unlock(&rl->lock);
}

bool rate_limiter_blocked(struct rate_limiter *rl)
{
	bool b;

	pthread_mutex_lock(&rl->lock);
	b = rl->blocked;
	pthread_mutex_unlock(&rl->lock);
	return b;
}
