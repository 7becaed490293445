/* SPDX-License-Identifier: MIT */
/* Boot-image loaders of the x86 arch and what they share. */
#ifndef MVM_X86_BOOT_H
#define MVM_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/mvm_arch.h"
#include "mvm/device.h"

struct vm;
struct boot_image;

/* Where mvm puts its boot data; a loaded image must stay clear of it. */
#define BOOT_DATA_START	 0x5000ULL
#define BOOT_START_INFO	 0x5000ULL /* PVH hvm_start_info */
#define BOOT_MODLIST	 0x5040ULL /* PVH module list: the initrd */
#define BOOT_MEMMAP	 0x6000ULL /* PVH memory map */
#define BOOT_MEMMAP_MAX	 128
#define BOOT_ZERO_PAGE	 0x7000ULL /* Linux boot_params */
#define BOOT_GDT	 0x8000ULL
#define BOOT_PML4	 0x9000ULL /* identity map of the low 4 GiB: PML4, PDPT, */
#define BOOT_PDPT	 0xa000ULL /* and four page directories of 2 MiB pages */
#define BOOT_PD		 0xb000ULL
#define BOOT_CMDLINE	 0x20000ULL
#define BOOT_CMDLINE_MAX 4096 /* bytes, with the NUL */
#define BOOT_DATA_END	 (BOOT_CMDLINE + BOOT_CMDLINE_MAX)

/* Firmware tables, in the reserved legacy area below 1 MiB where guests look. */
#define BOOT_ACPI_START	 0xe0000ULL /* RSDP first, then the tables */
#define BOOT_ACPI_END	 0xf0000ULL
#define BOOT_MPTABLE	 0xf0000ULL /* MP floating pointer + configuration table */
#define BOOT_MPTABLE_END 0xf1000ULL

/* What Linux gets on its command line unless --no-default-cmdline. */
#define BOOT_LINUX_CMDLINE ARCH_LINUX_CMDLINE

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
/*
 * Writes the command line to BOOT_CMDLINE: for a Linux kernel the default
 * BOOT_LINUX_CMDLINE, then cfg->cmdline. At most max bytes with the NUL.
 * 0 or -errno (one line printed).
 */
int boot_cmdline_write(struct vm *vm, const char *path, bool linux_kernel, size_t max);
/* End of the RAM that starts at 0 (below the MMIO hole). */
uint64_t boot_low_ram_end(const struct vm *vm);

/*
 * Loads cfg->initrd at the highest page-aligned address that fits below
 * `limit` (exclusive) and at or above `floor`. Sets *addr and *size (0, 0
 * without an initrd). 0 or -errno (one line printed naming the file).
 */
int boot_initrd_load(struct vm *vm, uint64_t floor, uint64_t limit, uint64_t *addr, uint64_t *size);

/* ---- a raw firmware image run from the reset vector (firmware.c) ---- */
#define FIRMWARE_MIN_SIZE 16	       /* the reset vector's 16 bytes */
#define FIRMWARE_MAX_SIZE (256u << 10) /* 0xc0000-0xfffff below 1 MiB */

/* Where an image of `size` bytes goes. */
struct firmware_layout {
	uint64_t rom_gpa, rom_size; /* the read-only slot that ends at 4 GiB */
	uint64_t image_off;	    /* the image's offset in it: it ends at the slot's end */
	uint64_t low_gpa;	    /* its copy in RAM, which ends at 1 MiB */
};
void firmware_layout(uint64_t size, struct firmware_layout *l);
/* Refuses an image of the wrong size, in one line. 0 or -ENOEXEC. */
int firmware_check(const struct boot_image *img);
/* Maps cfg->firmware to end at 4 GiB (before the irqchip: a slot). 0 or -errno. */
int firmware_map(struct vm *vm);
/* Copies it to end at 1 MiB and starts the boot vCPU at the reset vector. 0 or -errno. */
int firmware_load(struct vm *vm);

/*
 * The platform tables firmware would leave: an MP table (for kernels
 * without ACPI) and ACPI (RSDP, XSDT, FADT, MADT, DSDT). Sets *rsdp.
 */
int mptable_write(struct vm *vm);
/* PCI INTx routes for the MP table and the DSDT's _PRT. */
struct boot_intx {
	unsigned int slot, pin, gsi; /* pin: 1 = INTA# */
};
#define BOOT_MAX_INTX 32
/* The INTx routes of the VM's PCI devices (none without PCI). Their count. */
unsigned int boot_pci_intx(struct vm *vm, struct boot_intx *r, unsigned int max);

/* ---- the devices' firmware descriptions (fwdesc.c) ---- */
#define BOOT_MAX_FW 64
/* The descriptions of the VM's listed devices, in creation order. Their count. */
unsigned int boot_fw_devices(struct vm *vm, const struct mvm_fw_desc **out, unsigned int max);
/* The PCI host bridge's description, or NULL (no PCI). */
const struct mvm_fw_pci_host *boot_pci_host(struct vm *vm);
/* The first resource of that kind, or NULL. */
const struct mvm_fw_res *boot_fw_res(const struct mvm_fw_desc *fw, enum mvm_fw_res_kind kind);
/* "virtio_mmio.device=..." for every virtio-mmio device ("" for none). 0 or -E2BIG. */
int boot_virtio_mmio_cmdline(struct vm *vm, char *buf, size_t len);
/* The devices' own kernel parameters (mvm_fw_desc.cmdline), space-separated. 0 or -E2BIG. */
int boot_devices_cmdline(struct vm *vm, char *buf, size_t len);

/* The byte that makes an ACPI or MP table sum to zero. */
uint8_t boot_checksum(const void *p, size_t len);
int acpi_write(struct vm *vm, uint64_t *rsdp);
int boot_platform_tables(struct vm *vm, uint64_t *rsdp);

/* An open boot image and the reporting of what is wrong with it. */
struct boot_image {
	const char *what; /* "kernel", "initrd": how errors name it */
	const char *path;
	int fd;
	uint64_t size;
};

int boot_image_open(struct boot_image *img, const char *what, const char *path);
void boot_image_close(struct boot_image *img);
/* Reads [off, off + len) of the image, which must lie inside it. 0 or -errno. */
int boot_image_read(struct boot_image *img, uint64_t off, void *buf, size_t len);

/* Says in one line what is wrong with the image (naming it); -ENOEXEC. */
int bad_image(const struct boot_image *img, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Loaders: -ENOEXEC when the image is not theirs, after saying why. */
int pvh_load(struct vm *vm, struct boot_image *img);
/* True if the image starts like an ELF file. */
int pvh_probe(struct boot_image *img);
int bzimage_load(struct vm *vm, struct boot_image *img);
/* True if the image has a Linux setup header ("HdrS" at 0x202). */
int bzimage_probe(struct boot_image *img);

#endif
