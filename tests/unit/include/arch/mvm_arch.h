/* SPDX-License-Identifier: MIT */
/*
 * The fake architecture of the unit tests: the core builds against it
 * exactly as against src/arch/x86, which shows the arch interface is all a
 * new architecture needs.
 */
#ifndef MVM_ARCH_FAKE_H
#define MVM_ARCH_FAKE_H

#include <stdbool.h>

struct arch_vm {
	int loaded;
};

struct arch_vcpu {
	bool created;
};

#endif
