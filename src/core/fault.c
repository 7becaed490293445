// SPDX-License-Identifier: MIT
/* Fault injection state: see src/include/mvm/fault.h. */
#include <stdatomic.h>
#include <stddef.h>

#include "mvm/fault.h"

atomic_bool fault_armed;

static atomic_ulong fault_calls;
static unsigned long fault_fail_at;
static const struct fault_site *_Atomic fault_site_fired;

/* One site always exists, so the section (and its bounds) always exist. */
static struct fault_site fault_anchor = { "anchor", __FILE__, __LINE__, 0, 0 };
static struct fault_site *fault_anchor_ref __attribute__((used, section("mvm_fault_sites"))) =
	&fault_anchor;

extern struct fault_site *__start_mvm_fault_sites[];
extern struct fault_site *__stop_mvm_fault_sites[];

bool __fault_should_fail(struct fault_site *site)
{
	unsigned long n = atomic_fetch_add(&fault_calls, 1) + 1;

	__atomic_fetch_add(&site->hits, 1, __ATOMIC_RELAXED);
	if (n != fault_fail_at)
		return false;
	__atomic_fetch_add(&site->injected, 1, __ATOMIC_RELAXED);
	atomic_store(&fault_site_fired, site);
	return true;
}

void fault_begin(unsigned long fail_at)
{
	atomic_store(&fault_calls, 0);
	atomic_store(&fault_site_fired, NULL);
	fault_fail_at = fail_at;
	atomic_store(&fault_armed, true);
}

unsigned long fault_end(void)
{
	atomic_store(&fault_armed, false);
	return atomic_load(&fault_calls);
}

bool fault_fired(void)
{
	return atomic_load(&fault_site_fired) != NULL;
}

const struct fault_site *fault_fired_site(void)
{
	return atomic_load(&fault_site_fired);
}

struct fault_site **fault_sites_begin(void)
{
	(void)fault_anchor_ref;
	return __start_mvm_fault_sites;
}

struct fault_site **fault_sites_end(void)
{
	return __stop_mvm_fault_sites;
}
