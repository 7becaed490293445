/* SPDX-License-Identifier: MIT */
/*
 * The Linux zero page (struct boot_params) and its setup header, as byte
 * offsets (Documentation/arch/x86/boot.rst, zero-page.rst): the image's
 * header is read and the zero page written with these, so neither depends
 * on a C struct's layout matching the kernel's.
 */
#ifndef MVM_X86_ZEROPAGE_H
#define MVM_X86_ZEROPAGE_H

#include <stdint.h>
#include <string.h>

#define ZP_SIZE 4096

/* boot_params */
#define ZP_ACPI_RSDP_ADDR    0x070 /* u64, protocol 2.14 */
#define ZP_EXT_RAMDISK_IMAGE 0x0c0 /* u32: high 32 bits */
#define ZP_EXT_RAMDISK_SIZE  0x0c4
#define ZP_EXT_CMD_LINE_PTR  0x0c8
#define ZP_E820_ENTRIES	     0x1e8 /* u8 */
#define ZP_E820_TABLE	     0x2d0 /* struct boot_e820_entry[128] */
#define ZP_E820_ENTRY_SIZE   20	   /* u64 addr, u64 size, u32 type, packed */
#define ZP_E820_MAX	     128

/* setup_header, at 0x1f1 */
#define ZP_SETUP_SECTS	      0x1f1 /* u8 */
#define ZP_SYSSIZE	      0x1f4 /* u32, 16-byte units */
#define ZP_VID_MODE	      0x1fa /* u16 */
#define ZP_BOOT_FLAG	      0x1fe /* u16, 0xaa55 */
#define ZP_JUMP		      0x200 /* u16: EB xx, xx = header length - 2 */
#define ZP_HEADER	      0x202 /* u32, "HdrS" */
#define ZP_VERSION	      0x206 /* u16 */
#define ZP_TYPE_OF_LOADER     0x210 /* u8 */
#define ZP_LOADFLAGS	      0x211 /* u8 */
#define ZP_CODE32_START	      0x214 /* u32 */
#define ZP_RAMDISK_IMAGE      0x218 /* u32 */
#define ZP_RAMDISK_SIZE	      0x21c /* u32 */
#define ZP_HEAP_END_PTR	      0x224 /* u16 */
#define ZP_CMD_LINE_PTR	      0x228 /* u32 */
#define ZP_INITRD_ADDR_MAX    0x22c /* u32 */
#define ZP_KERNEL_ALIGNMENT   0x230 /* u32 */
#define ZP_RELOCATABLE_KERNEL 0x234 /* u8 */
#define ZP_XLOADFLAGS	      0x236 /* u16 */
#define ZP_CMDLINE_SIZE	      0x238 /* u32 */
#define ZP_SETUP_DATA	      0x250 /* u64 */
#define ZP_PREF_ADDRESS	      0x258 /* u64 */
#define ZP_INIT_SIZE	      0x260 /* u32 */
#define ZP_HDR_END	      0x26c /* end of the 2.15 header */
#define ZP_HDR_MAX	      0x290 /* edd_mbr_sig_buffer: a header never reaches it */

#define ZP_HDRS_MAGIC 0x53726448U /* "HdrS" */

/* loadflags */
#define LOADED_HIGH   0x01
#define KEEP_SEGMENTS 0x40
#define CAN_USE_HEAP  0x80
/* xloadflags */
#define XLF_KERNEL_64		   0x0001
#define XLF_CAN_BE_LOADED_ABOVE_4G 0x0002

static inline uint8_t zp_get8(const uint8_t *zp, unsigned int off)
{
	return zp[off];
}

static inline uint16_t zp_get16(const uint8_t *zp, unsigned int off)
{
	uint16_t v;

	memcpy(&v, zp + off, sizeof(v));
	return v;
}

static inline uint32_t zp_get32(const uint8_t *zp, unsigned int off)
{
	uint32_t v;

	memcpy(&v, zp + off, sizeof(v));
	return v;
}

static inline uint64_t zp_get64(const uint8_t *zp, unsigned int off)
{
	uint64_t v;

	memcpy(&v, zp + off, sizeof(v));
	return v;
}

static inline void zp_put8(uint8_t *zp, unsigned int off, uint8_t v)
{
	zp[off] = v;
}

static inline void zp_put16(uint8_t *zp, unsigned int off, uint16_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

static inline void zp_put32(uint8_t *zp, unsigned int off, uint32_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

static inline void zp_put64(uint8_t *zp, unsigned int off, uint64_t v)
{
	memcpy(zp + off, &v, sizeof(v));
}

#endif
