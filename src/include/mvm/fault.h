/* SPDX-License-Identifier: MIT */
/*
 * Fault injection for the create paths (DESIGN.md §5).
 *
 * Every call on a create path that can fail (allocation, ioctl, mmap, open,
 * thread creation, ...) goes through a wrapper in mvm/sys.h, and each call
 * site declares a struct fault_site in the "mvm_fault_sites" section. The
 * fault test enumerates those sites, counts the faultable calls a create
 * path makes, then makes the 1st, 2nd, ... Nth call fail in turn and checks
 * that nothing leaked. A site that no test reached is reported as uncovered.
 *
 * In production nothing is armed and a check costs one relaxed load.
 */
#ifndef MVM_FAULT_H
#define MVM_FAULT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

struct fault_site {
	const char *what; /* e.g. "ioctl KVM_CREATE_VCPU" */
	const char *file;
	int line;
	unsigned long hits;	/* calls while counting */
	unsigned long injected; /* failures injected here */
};

/* Declares a site in the section the fault test walks. */
#define FAULT_SITE(var, what_)                                                \
	static struct fault_site var = { (what_), __FILE__, __LINE__, 0, 0 }; \
	static struct fault_site *var##_ref __attribute__((used, section("mvm_fault_sites"))) = &var

extern atomic_bool fault_armed;

bool __fault_should_fail(struct fault_site *site);

static inline bool fault_should_fail(struct fault_site *site)
{
	if (__builtin_expect(!atomic_load_explicit(&fault_armed, memory_order_relaxed), 1))
		return false;
	return __fault_should_fail(site);
}

/* In a wrapper: fail the way the real call would when this site is chosen. */
#define FAIL_IF_INJECTED(site, err, ret)       \
	do {                                   \
		if (fault_should_fail(site)) { \
			errno = (err);         \
			return (ret);          \
		}                              \
	} while (0)

/*
 * Start counting faultable calls; if fail_at is non-zero, the fail_at-th
 * call (1-based) fails. fault_end() stops and returns the number of calls.
 */
void fault_begin(unsigned long fail_at);
unsigned long fault_end(void);
/* True once the armed failure has been injected in this round. */
bool fault_fired(void);
/* The site that failed in this round, or NULL. */
const struct fault_site *fault_fired_site(void);

/* All sites linked into this program. */
struct fault_site **fault_sites_begin(void);
struct fault_site **fault_sites_end(void);

#endif
