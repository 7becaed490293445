// SPDX-License-Identifier: MIT
/*
 * The Linux x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit
 * entry: a bzImage's protected-mode kernel is loaded where its setup header
 * allows, the zero page (struct boot_params) gets the setup header, the
 * e820 map, the command line and the initrd, and the boot vCPU enters at
 * load address + 0x200 in long mode with identity-mapped page tables, a
 * flat GDT (__BOOT_CS 0x10, __BOOT_DS 0x18) and RSI = zero page.
 *
 * The image is untrusted: every header field that steers a copy is checked
 * against the file and against guest RAM first.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "mvm/log.h"
#include "mvm/vm.h"
#include "zeropage.h"
#include "../x86.h"

#define BZ_MIN_VERSION	       0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be trusted */
#define BZ_DEFAULT_SETUP_SECTS 4
#define BZ_MAX_SETUP_SECTS     64   /* the real-mode part is at most 32 KiB */
#define BZ_LOADER_ID	       0xff /* "undefined" boot loader */

int bzimage_probe(struct boot_image *img)
{
	uint32_t magic;

	if (img->size < ZP_HDR_END)
		return 0;
	if (boot_image_read(img, ZP_HEADER, &magic, sizeof(magic)))
		return -EIO;
	return magic == ZP_HDRS_MAGIC;
}

/* What the setup header says about where and how the kernel loads. */
struct bz_layout {
	uint64_t file_off; /* protected-mode kernel in the file */
	uint64_t file_len;
	uint64_t load;	    /* guest-physical load address */
	uint64_t init_size; /* bytes it needs from `load` (decompression in place) */
};

static int bz_check_header(struct boot_image *img, const uint8_t *zp, struct bz_layout *l)
{
	uint16_t version = zp_get16(zp, ZP_VERSION);
	uint16_t xlf = zp_get16(zp, ZP_XLOADFLAGS);
	unsigned int setup_sects = zp_get8(zp, ZP_SETUP_SECTS);
	uint32_t align = zp_get32(zp, ZP_KERNEL_ALIGNMENT);

	if (zp_get16(zp, ZP_BOOT_FLAG) != 0xaa55)
		return bad_image(img, "bad boot-sector signature 0x%04x (want 0xaa55)",
				 zp_get16(zp, ZP_BOOT_FLAG));
	if (version < BZ_MIN_VERSION)
		return bad_image(img,
				 "boot protocol %u.%02u is too old for a 64-bit boot (mvm needs "
				 "2.12 or later)",
				 version >> 8, version & 0xff);
	if (!(xlf & XLF_KERNEL_64))
		return bad_image(img, "kernel has no 64-bit entry point (XLF_KERNEL_64 unset)");
	if (!(zp_get8(zp, ZP_LOADFLAGS) & LOADED_HIGH))
		return bad_image(img, "not a bzImage (zImage kernels load below 1 MiB)");
	if (setup_sects == 0)
		setup_sects = BZ_DEFAULT_SETUP_SECTS;
	if (setup_sects > BZ_MAX_SETUP_SECTS)
		return bad_image(img, "setup header claims %u setup sectors", setup_sects);
	if (align == 0 || (align & (align - 1)) || align > SZ_1G)
		return bad_image(img, "bad kernel_alignment 0x%x", align);

	l->file_off = (uint64_t)(setup_sects + 1) * 512;
	if (l->file_off >= img->size)
		return bad_image(img, "truncated: no protected-mode kernel after %u setup sectors",
				 setup_sects);
	l->file_len = img->size - l->file_off;
	/* syssize counts 16-byte paragraphs of the protected-mode kernel. */
	if ((uint64_t)zp_get32(zp, ZP_SYSSIZE) * 16 > l->file_len)
		return bad_image(img, "truncated: header says %llu kernel bytes, file has %llu",
				 (unsigned long long)zp_get32(zp, ZP_SYSSIZE) * 16,
				 (unsigned long long)l->file_len);
	l->init_size = MAX((uint64_t)zp_get32(zp, ZP_INIT_SIZE), l->file_len);
	return 0;
}

/*
 * pref_address if the kernel fits there; otherwise, for a relocatable
 * kernel, the lowest kernel_alignment-aligned address above mvm's data.
 */
static int bz_place_kernel(struct vm *vm, struct boot_image *img, const uint8_t *zp,
			   struct bz_layout *l)
{
	uint64_t ram_end = boot_low_ram_end(vm);
	uint64_t align = zp_get32(zp, ZP_KERNEL_ALIGNMENT);
	uint64_t pref = zp_get64(zp, ZP_PREF_ADDRESS);

	if (pref < X86_HIGH_MEMORY)
		pref = X86_HIGH_MEMORY;
	l->load = pref;
	if (l->load + l->init_size > ram_end && zp_get8(zp, ZP_RELOCATABLE_KERNEL))
		l->load = ALIGN_UP(MAX(X86_HIGH_MEMORY, BOOT_DATA_END), align);
	if (l->load + l->init_size > ram_end)
		return bad_image(img,
				 "needs RAM up to %llu MiB (loaded at 0x%llx, init_size %llu KiB), "
				 "--mem gives %llu MiB: give more --mem",
				 (unsigned long long)((l->load + l->init_size + SZ_1M - 1) >> 20),
				 (unsigned long long)l->load,
				 (unsigned long long)(l->init_size >> 10),
				 (unsigned long long)(vm->cfg.mem_size >> 20));
	return 0;
}

/* 4 GiB identity map with 2 MiB pages, a flat GDT: the 64-bit entry state. */
static int bz_write_page_tables(struct vm *vm)
{
	uint64_t pml4[512] = { 0 }, pdpt[512] = { 0 }, pd[512];
	/* null, null, __BOOT_CS (64-bit code), __BOOT_DS (data) */
	const uint64_t gdt[4] = { 0, 0, 0x00af9b000000ffffULL, 0x00cf93000000ffffULL };
	unsigned int i, j;
	int err;

	pml4[0] = BOOT_PDPT | 0x3; /* present, writable */
	for (i = 0; i < 4; i++) {
		pdpt[i] = (BOOT_PD + i * 4096) | 0x3;
		for (j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30) + ((uint64_t)j << 21) + 0x83; /* 2M page */
		err = mem_write(&vm->mem, BOOT_PD + i * 4096, pd, sizeof(pd));
		if (err)
			return err;
	}
	err = mem_write(&vm->mem, BOOT_PML4, pml4, sizeof(pml4));
	if (!err)
		err = mem_write(&vm->mem, BOOT_PDPT, pdpt, sizeof(pdpt));
	if (!err)
		err = mem_write(&vm->mem, BOOT_GDT, gdt, sizeof(gdt));
	return err;
}

static void bz_fill_e820(struct vm *vm, uint8_t *zp)
{
	struct boot_mem_entry map[ZP_E820_MAX];
	unsigned int i, n = boot_memmap(vm, map, ZP_E820_MAX);

	for (i = 0; i < n; i++) {
		uint8_t *e = zp + ZP_E820_TABLE + i * ZP_E820_ENTRY_SIZE;

		zp_put64(e, 0, map[i].addr);
		zp_put64(e, 8, map[i].size);
		zp_put32(e, 16, map[i].type);
	}
	zp_put8(zp, ZP_E820_ENTRIES, n);
}

static int bz_load_initrd(struct vm *vm, const uint8_t *zp_hdr, uint8_t *zp,
			  const struct bz_layout *l)
{
	uint64_t limit = (uint64_t)zp_get32(zp_hdr, ZP_INITRD_ADDR_MAX) + 1;
	uint64_t addr, size;
	int err;

	/* Kernels that can be loaded above 4 GiB take an initrd there too. */
	if (zp_get16(zp_hdr, ZP_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G)
		limit = UINT64_MAX;
	err = boot_initrd_load(vm, l->load + l->init_size, limit, &addr, &size);
	if (err || !size)
		return err;
	zp_put32(zp, ZP_RAMDISK_IMAGE, (uint32_t)addr);
	zp_put32(zp, ZP_RAMDISK_SIZE, (uint32_t)size);
	zp_put32(zp, ZP_EXT_RAMDISK_IMAGE, (uint32_t)(addr >> 32));
	zp_put32(zp, ZP_EXT_RAMDISK_SIZE, (uint32_t)(size >> 32));
	return 0;
}

int bzimage_load(struct vm *vm, struct boot_image *img)
{
	uint8_t hdr[ZP_SIZE] = { 0 }, zp[ZP_SIZE] = { 0 };
	struct bz_layout l = { 0 };
	unsigned int hdr_end;
	uint64_t rsdp = 0;
	void *dst;
	int err;

	err = boot_image_read(img, 0, hdr, MIN((uint64_t)sizeof(hdr), img->size));
	if (err)
		return err;
	err = bz_check_header(img, hdr, &l);
	if (err)
		return err;
	err = bz_place_kernel(vm, img, hdr, &l);
	if (err)
		return err;

	/* The protected-mode kernel; the rest of init_size is the kernel's to zero. */
	dst = mem_ptr(&vm->mem, l.load, l.init_size);
	if (!dst)
		return bad_image(img, "kernel does not fit in guest RAM at 0x%llx",
				 (unsigned long long)l.load);
	err = boot_image_read(img, l.file_off, dst, l.file_len);
	if (err)
		return err;

	/* The zero page: the setup header as the image has it, then our fields. */
	hdr_end = ZP_HEADER + zp_get8(hdr, ZP_JUMP + 1);
	if (hdr_end > ZP_HDR_MAX || hdr_end < ZP_HDR_END)
		hdr_end = ZP_HDR_END;
	memcpy(zp + ZP_SETUP_SECTS, hdr + ZP_SETUP_SECTS, hdr_end - ZP_SETUP_SECTS);
	zp_put16(zp, ZP_VID_MODE, 0xffff); /* "normal" */
	zp_put8(zp, ZP_TYPE_OF_LOADER, BZ_LOADER_ID);
	zp_put8(zp, ZP_LOADFLAGS,
		(zp_get8(hdr, ZP_LOADFLAGS) & ~(KEEP_SEGMENTS | CAN_USE_HEAP)) | LOADED_HIGH);
	zp_put32(zp, ZP_CODE32_START, (uint32_t)l.load);
	zp_put32(zp, ZP_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE);
	zp_put32(zp, ZP_EXT_CMD_LINE_PTR, 0);
	zp_put32(zp, ZP_RAMDISK_IMAGE, 0);
	zp_put32(zp, ZP_RAMDISK_SIZE, 0);
	zp_put64(zp, ZP_SETUP_DATA, 0);

	err = boot_cmdline_write(
		vm, img->path, true,
		MIN((uint64_t)zp_get32(hdr, ZP_CMDLINE_SIZE) + 1, (uint64_t)BOOT_CMDLINE_MAX));
	if (err)
		return err;
	err = bz_load_initrd(vm, hdr, zp, &l);
	if (err)
		return err;
	bz_fill_e820(vm, zp);
	err = boot_platform_tables(vm, &rsdp);
	if (err)
		return err;
	zp_put64(zp, ZP_ACPI_RSDP_ADDR, rsdp);
	err = bz_write_page_tables(vm);
	if (err)
		return err;
	err = mem_write(&vm->mem, BOOT_ZERO_PAGE, zp, sizeof(zp));
	if (err)
		return err;
	vm->arch.boot = (struct x86_boot){ X86_BOOT_LINUX64, l.load + 0x200, BOOT_ZERO_PAGE };
	pr_info("kernel %s: bzImage protocol %u.%02u at 0x%llx (init_size %llu KiB)", img->path,
		zp_get16(hdr, ZP_VERSION) >> 8, zp_get16(hdr, ZP_VERSION) & 0xff,
		(unsigned long long)l.load, (unsigned long long)(l.init_size >> 10));
	return 0;
}
