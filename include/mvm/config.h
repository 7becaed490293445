/* SPDX-License-Identifier: MIT */
/* What a VM is made of: filled by the CLI (and later the API), read by vm_create(). */
#ifndef MVM_CONFIG_H
#define MVM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/devtype.h"

struct mmds;
struct mvm_cpu_template;

#define MVM_DEFAULT_MEM (128ULL << 20)
#define MVM_MIN_MEM	(2ULL << 20)

enum mvm_console_kind {
	MVM_CONSOLE_SERIAL = 0, /* the 16550 UART at 0x3f8 (ttyS0) */
	MVM_CONSOLE_VIRTIO,	/* virtio-console (hvc0) */
};

/* What backs guest RAM (machine-config.huge_pages). */
enum mvm_huge_pages {
	MVM_HUGE_NONE = 0, /* 4 KiB pages of a memfd */
	MVM_HUGE_2M,	   /* hugetlbfs: 2 MiB pages reserved up front */
	MVM_HUGE_THP,	   /* a memfd with MADV_HUGEPAGE: where the host's shmem THP allows */
};

/* How virtio devices reach the guest (DESIGN.md §3). */
enum mvm_transport {
	MVM_TRANSPORT_PCI = 0, /* virtio-pci on a PCI host bridge (mvm run's default) */
	MVM_TRANSPORT_MMIO,    /* virtio-mmio windows, no PCI (Firecracker's default) */
};

/* Where the interrupt controllers are (DESIGN.md §3). */
enum mvm_irqchip {
	MVM_IRQCHIP_KERNEL = 0, /* LAPICs, IOAPIC and PIC in KVM (KVM_CREATE_IRQCHIP) */
	MVM_IRQCHIP_SPLIT,	/* LAPICs in KVM, the IOAPIC in mvm (src/hw/ioapic.c), no PIC */
};

struct mvm_config {
	const char *name;		/* VM id; NULL: derived from the pid */
	const char *kernel;		/* boot image */
	const char *firmware;		/* x86: a raw image run from the reset vector, or NULL */
	const char *cmdline;		/* kernel command line, may be NULL */
	const char *initrd;		/* initial ramdisk, may be NULL */
	bool no_default_cmdline;	/* Linux gets cmdline alone, without mvm's defaults */
	uint64_t mem_size;		/* bytes of guest RAM */
	enum mvm_huge_pages huge_pages; /* what backs it */
	unsigned int cpus;		/* vCPUs to create */
	bool smt;			/* two threads per core (machine-config.smt) */
	/* CPUID/MSR changes for every vCPU (PUT /cpu-config), owned by the front end; NULL: none.
	 */
	const struct mvm_cpu_template *cpu_template;
	bool boot_timer;	       /* Firecracker's boot timer device (--boot-timer) */
	enum mvm_irqchip irqchip;      /* kernel (default) or split */
	bool pit;		       /* create KVM's in-kernel PIT (costly; off by default) */
	bool track_dirty_pages;	       /* KVM's dirty log on RAM, for Diff snapshots */
	int console_in;		       /* serial input fd, -1 for none */
	int console_out;	       /* serial output fd */
	enum mvm_console_kind console; /* where console_in/out are connected */
	enum mvm_transport transport;  /* of every virtio device of the VM */
	/* The devices asked for, each with its type's options (mvm/devtype.h). */
	unsigned int nr_devices;
	struct mvm_devcfg devices[MVM_MAX_DEVICES];
	/* The metadata service's store, owned by the front end (mvm/mmds.h); NULL: none. */
	struct mmds *mmds;
};

void mvm_config_init(struct mvm_config *cfg);

#endif
