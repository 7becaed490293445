/* SPDX-License-Identifier: MIT */
/*
 * Xen PVH start-of-day ABI, as far as a guest booted by a VMM needs it.
 * Written from the public description of the ABI (xen/include/public/
 * arch-x86/hvm/start_info.h): the layout is fixed, version 1 adds the memmap.
 */
#ifndef GUEST_PVH_H
#define GUEST_PVH_H

#include <stdint.h>

#define HVM_START_MAGIC_VALUE	 0x336ec578u
#define XEN_ELFNOTE_PHYS32_ENTRY 18

/* memmap entry types (same values as e820) */
#define HVM_MEMMAP_RAM	    1
#define HVM_MEMMAP_RESERVED 2
#define HVM_MEMMAP_ACPI	    3
#define HVM_MEMMAP_NVS	    4
#define HVM_MEMMAP_UNUSABLE 5

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	/* version >= 1 */
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap layout");

#endif
