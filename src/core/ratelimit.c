// SPDX-License-Identifier: MIT
/*
 * A log rate limit per call site (the kernel's ___ratelimit, simplified): a
 * guest looping on an error gets burst lines per interval, and the next line
 * that goes out is preceded by the count of those it suppressed.
 */
#include <stdbool.h>
#include <stdint.h>

#include "mvm/log.h"

bool mvm_ratelimit_allow(struct mvm_ratelimit *rl, uint64_t now_ns, unsigned int *suppressed)
{
	bool ok;

	/* Any thread may log: a spin lock keeps it allocation- and init-free. */
	while (__atomic_exchange_n(&rl->lock, 1, __ATOMIC_ACQUIRE))
		;
	if (!rl->begin_ns || now_ns - rl->begin_ns >= rl->interval_ns) {
		rl->begin_ns = now_ns ? now_ns : 1;
		rl->printed = 0;
	}
	ok = rl->printed < rl->burst;
	if (ok) {
		rl->printed++;
		*suppressed = rl->suppressed;
		rl->suppressed = 0;
	} else {
		rl->suppressed++;
	}
	__atomic_store_n(&rl->lock, 0, __ATOMIC_RELEASE);
	return ok;
}
