/* SPDX-License-Identifier: MIT */
/* What a VM is made of: filled by the CLI (and later the API), read by vm_create(). */
#ifndef MVM_CONFIG_H
#define MVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#define MVM_DEFAULT_MEM (128ULL << 20)
#define MVM_MIN_MEM	(2ULL << 20)

struct mvm_config {
	const char *name;    /* VM id; NULL: derived from the pid */
	const char *kernel;  /* boot image */
	const char *cmdline; /* kernel command line, may be NULL */
	uint64_t mem_size;   /* bytes of guest RAM */
	unsigned int cpus;   /* vCPUs to create */
	bool pit;	     /* create KVM's in-kernel PIT (costly; off by default) */
	int console_in;	     /* serial input fd, -1 for none */
	int console_out;     /* serial output fd */
};

void mvm_config_init(struct mvm_config *cfg);

#endif
