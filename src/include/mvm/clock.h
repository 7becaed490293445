/* SPDX-License-Identifier: MIT */
/* Reading a clock as one number: what timers, deadlines and rate limits compare. */
#ifndef MVM_CLOCK_H
#define MVM_CLOCK_H

#include <stdint.h>
#include <time.h>

/* Clock `id` (CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, ...) in nanoseconds. */
static inline uint64_t mvm_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

#endif
