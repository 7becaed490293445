/* SPDX-License-Identifier: MIT */
/*
 * Token buckets, as Firecracker's rate limiters: a limiter has a bandwidth
 * bucket (bytes) and an ops bucket (requests). Each bucket holds `size`
 * tokens, refills at size per `refill_time` ms, and may start with a
 * `one_time_burst` of extra tokens that is spent first and never refilled.
 * A bucket of size 0 or refill_time 0 does not limit.
 *
 * A throttled user stops and resumes from the limiter's timer (a timerfd on
 * the VM's event loop), never by polling. A limiter may be replaced while
 * throttled (PATCH after boot): the new buckets start full and the user is
 * resumed at once to try again against them.
 */
#ifndef MVM_RATE_LIMITER_H
#define MVM_RATE_LIMITER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/devtype.h"
#include "mvm/loop.h"
#include "mvm/stats.h"

/* Option blobs (API: {"size", "one_time_burst", "refill_time"}). */
struct mvm_token_bucket_config {
	uint64_t size;
	uint64_t one_time_burst;
	uint64_t refill_time; /* ms */
};

struct mvm_rate_limiter_config {
	struct mvm_token_bucket_config bandwidth; /* bytes */
	struct mvm_token_bucket_config ops;	  /* requests */
	bool bandwidth_set, ops_set;
};

/* The option table of a rate limiter object: {"bandwidth": {...}, "ops": {...}}. */
extern const struct mvm_opt mvm_rate_limiter_opts[];

/* Largest accepted size / burst / refill_time (keeps the arithmetic in 128 bits). */
#define MVM_TOKEN_BUCKET_MAX	(1ULL << 40)
#define MVM_TOKEN_REFILL_MAX_MS (1000ULL * 3600 * 24)

struct token_bucket {
	uint64_t size;	    /* 0: no limit */
	uint64_t refill_ns; /* time to refill size tokens */
	int64_t budget;	    /* may be negative: a request larger than size was let through */
	uint64_t burst;	    /* one-time extra tokens left */
	uint64_t last;	    /* time of the last refill (ns) */
};

/* A bucket from its configuration, full, at time now (ns). */
void token_bucket_init(struct token_bucket *tb, const struct mvm_token_bucket_config *cfg,
		       uint64_t now);
/*
 * How long (ns) until n tokens can be taken at time now; 0: they can be
 * now. A request larger than the bucket passes when the bucket is full, and
 * the debt it leaves is refilled before the next one passes.
 */
uint64_t token_bucket_wait(struct token_bucket *tb, uint64_t n, uint64_t now);
/* Takes n tokens (after token_bucket_wait() said 0). */
void token_bucket_take(struct token_bucket *tb, uint64_t n);

struct rate_limiter {
	pthread_mutex_t lock; /* the buckets: updates come from the API thread */
	struct token_bucket bw, ops;
	bool blocked; /* the timer is armed; the user waits for resume */
	int timer_fd;
	struct loop_handler timer;
	struct mvm_loop *loop;
	/* Called on the event-loop thread when a throttled user may go on. */
	void (*resume)(struct rate_limiter *rl);
	mvm_counter_t throttled; /* times a request was held back */
};

/* Sets rl up on loop (its timerfd is a loop handler). 0 or -errno. */
int rate_limiter_init(struct rate_limiter *rl, const struct mvm_rate_limiter_config *cfg,
		      struct mvm_loop *loop, void (*resume)(struct rate_limiter *rl));
void rate_limiter_fini(struct rate_limiter *rl);
/*
 * Takes one op and `bytes` tokens when both buckets allow; true. Else takes
 * nothing, arms the timer for when they will, and returns false: the user
 * stops until rl->resume runs. While blocked every call returns false.
 */
bool rate_limiter_consume(struct rate_limiter *rl, uint64_t bytes);
/* The same at a given time, without the timer (for tests). */
uint64_t rate_limiter_wait_at(struct rate_limiter *rl, uint64_t bytes, uint64_t now);
/* Replaces the buckets; a blocked user is resumed at once. */
void rate_limiter_update(struct rate_limiter *rl, const struct mvm_rate_limiter_config *cfg);
bool rate_limiter_blocked(struct rate_limiter *rl);
/* Whether cfg limits anything. */
bool rate_limiter_config_active(const struct mvm_rate_limiter_config *cfg);

#endif
