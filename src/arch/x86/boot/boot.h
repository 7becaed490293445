/* SPDX-License-Identifier: MIT */
/* Boot-image loaders of the x86 arch and what they share. */
#ifndef MVM_X86_BOOT_H
#define MVM_X86_BOOT_H

#include <stddef.h>
#include <stdint.h>

struct vm;

/* Where mvm puts its boot data; a loaded image must stay clear of it. */
#define BOOT_DATA_START	 0x5000ULL
#define BOOT_START_INFO	 0x5000ULL /* PVH hvm_start_info (+ module list) */
#define BOOT_MEMMAP	 0x6000ULL /* PVH memory map */
#define BOOT_MEMMAP_MAX	 128
#define BOOT_CMDLINE	 0x20000ULL
#define BOOT_CMDLINE_MAX 4096 /* bytes, with the NUL */
#define BOOT_DATA_END	 (BOOT_CMDLINE + BOOT_CMDLINE_MAX)

/* E820 types, shared by the PVH memmap and the Linux zero page. */
#define E820_RAM      1
#define E820_RESERVED 2

struct boot_mem_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
};

/* The guest's memory map: RAM regions minus the legacy hole. Entry count. */
unsigned int boot_memmap(const struct vm *vm, struct boot_mem_entry *e, unsigned int max);
/* Copies the command line to BOOT_CMDLINE. 0 or -errno (one line printed). */
int boot_cmdline_write(struct vm *vm, const char *path);

/* An open boot image and the reporting of what is wrong with it. */
struct boot_image {
	const char *path;
	int fd;
	uint64_t size;
};

int boot_image_open(struct boot_image *img, const char *path);
void boot_image_close(struct boot_image *img);
/* Reads [off, off + len) of the image, which must lie inside it. 0 or -errno. */
int boot_image_read(struct boot_image *img, uint64_t off, void *buf, size_t len);

/* Loaders: -ENOEXEC when the image is not theirs, after saying why. */
int pvh_load(struct vm *vm, struct boot_image *img);
/* True if the image starts like an ELF file. */
int pvh_probe(struct boot_image *img);

#endif
