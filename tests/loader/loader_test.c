// SPDX-License-Identifier: MIT
/*
 * Boot loader tests (no KVM): images are loaded into a plain anonymous
 * mapping standing in for guest RAM, then every field the boot protocols
 * define is checked against the image and against the protocol.
 *
 *   MVM_TEST_VMLINUZ  a distribution bzImage (Debian's cloud kernel, fetched
 *                     by tests/loader/fetch-kernel.sh)
 *   GUESTS            the guest kit's build dir (hello.elf for PVH)
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../src/arch/x86/boot/aml.h"
#include "../../src/arch/x86/boot/boot.h"
#include "../../src/arch/x86/boot/zeropage.h"
#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/vm.h"

static const char *vmlinuz;
static const char *guests;
static char tmpdir[] = "/tmp/mvm-loader-XXXXXX";

/* ---- a VM that is only RAM, and a UART's firmware description ---- */

/* What the 16550 at 0x3f8 tells the table writers (src/hw/serial8250.c fills the same). */
static struct mvm_device uart = {
	.name = "serial0",
	.fw = { .acpi_hid = "PNP0501",
		.acpi_name = "COM1",
		.nr_res = 2,
		.res = { { MVM_FW_PIO, 0x3f8, 8, false }, { MVM_FW_IRQ, 4, 1, false } } },
};

/* A virtio-mmio device's description, as the transport fills it. */
static struct mvm_device mmio_dev = {
	.name = "virtio-blk0",
	.fw = { .acpi_hid = "LNRO0005",
		.virtio_mmio = true,
		.nr_res = 2,
		.res = { { MVM_FW_MMIO, 0xe0100000ULL, 0x1000, false },
			 { MVM_FW_IRQ, 5, 1, false } } },
};

static struct vm *ram_vm(uint64_t mem, unsigned int cpus, const char *kernel, const char *cmdline,
			 const char *initrd)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	uint8_t *ram;

	assert_non_null(vm);
	assert_true(mem <= 0xc0000000ULL); /* one region below the MMIO hole */
	mvm_config_init(&vm->cfg);
	vm->cfg.mem_size = mem;
	vm->cfg.cpus = cpus;
	vm->cfg.kernel = kernel;
	vm->cfg.cmdline = cmdline;
	vm->cfg.initrd = initrd;
	ram = mmap(NULL, mem, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	assert_true(ram != MAP_FAILED);
	vm->mem.fd = -1;
	vm->mem.base = ram;
	vm->mem.size = mem;
	vm->mem.nr_regions = 1;
	vm->mem.regions[0] = (struct mem_region){ 0, mem, ram, 0 };
	pthread_mutex_init(&vm->lock, NULL);
	list_init(&vm->devices);
	list_add_tail(&uart.node, &vm->devices);
	return vm;
}

static void ram_vm_free(struct vm *vm)
{
	list_del_init(&uart.node);
	munmap(vm->mem.base, vm->mem.size);
	free(vm);
}

static uint8_t *gpa(struct vm *vm, uint64_t addr, uint64_t len)
{
	uint8_t *p = mem_ptr(&vm->mem, addr, len);

	assert_non_null(p);
	return p;
}

/* ---- files ---- */

static uint8_t *read_file(const char *path, size_t *len)
{
	struct stat st;
	uint8_t *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	buf = malloc(st.st_size ? st.st_size : 1);
	assert_non_null(buf);
	assert_int_equal(pread(fd, buf, st.st_size, 0), st.st_size);
	close(fd);
	*len = st.st_size;
	return buf;
}

static char *write_tmp(const char *name, const void *data, size_t len)
{
	char *path;
	int fd;

	assert_true(asprintf(&path, "%s/%s", tmpdir, name) > 0);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

/* An initrd of `len` bytes with a recognisable pattern. */
static char *make_initrd(size_t len)
{
	uint8_t *b = malloc(len);
	char *path;
	size_t i;

	assert_non_null(b);
	for (i = 0; i < len; i++)
		b[i] = (uint8_t)(i * 7 + (i >> 12));
	path = write_tmp("initrd", b, len);
	free(b);
	return path;
}

/* ---- stderr capture: the loader's one-line errors ---- */

static int saved_stderr = -1;
static char err_path[64];

static void capture_begin(void)
{
	int fd;

	snprintf(err_path, sizeof(err_path), "%s/stderr", tmpdir);
	fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static char *capture_end(void)
{
	size_t len;
	uint8_t *b;
	char *s;

	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	b = read_file(err_path, &len);
	s = calloc(1, len + 1);
	memcpy(s, b, len);
	free(b);
	return s;
}

/* Loading fails with `err`, and says so in one line naming the file and `why`. */
static void expect_load_error(struct vm *vm, int err, const char *path, const char *why)
{
	char *msg;
	int r;

	capture_begin();
	r = arch_vm_load_kernel(vm);
	msg = capture_end();
	if (r != err || !strstr(msg, path) || !strstr(msg, why) ||
	    strchr(msg, '\n') != msg + strlen(msg) - 1)
		fail_msg("want %d mentioning '%s' and '%s' in one line; got %d: %s", err, path, why,
			 r, msg);
	free(msg);
}

/* ---- the Debian bzImage ---- */

static uint8_t *kimg;
static size_t kimg_len;

static void check_e820(struct vm *vm, const uint8_t *zp)
{
	const uint8_t *e = zp + ZP_E820_TABLE;

	assert_int_equal(zp_get8(zp, ZP_E820_ENTRIES), 3);
	/* RAM below the EBDA, the legacy hole reserved, RAM from 1 MiB to the end */
	assert_int_equal(zp_get64(e, 0), 0);
	assert_int_equal(zp_get64(e, 8), 0x9fc00);
	assert_int_equal(zp_get32(e, 16), E820_RAM);
	e += ZP_E820_ENTRY_SIZE;
	assert_int_equal(zp_get64(e, 0), 0x9fc00);
	assert_int_equal(zp_get64(e, 8), 0x100000 - 0x9fc00);
	assert_int_equal(zp_get32(e, 16), E820_RESERVED);
	e += ZP_E820_ENTRY_SIZE;
	assert_int_equal(zp_get64(e, 0), 0x100000);
	assert_int_equal(zp_get64(e, 8), vm->cfg.mem_size - 0x100000);
	assert_int_equal(zp_get32(e, 16), E820_RAM);
}

/* A file mapped above RAM (virtio-pmem) is reserved in the memory map, after RAM. */
static void test_memmap_reserves_files(void **state)
{
	struct vm *vm = ram_vm(64ULL << 20, 1, "none", NULL, NULL);
	struct boot_mem_entry map[16];
	unsigned int n;

	(void)state;
	vm->mem.nr_files = 2;
	vm->mem.files[0] =
		(struct mem_file){ .gpa = 1ULL << 32, .size = 4ULL << 20, .reserved = true };
	/* Hot-plug memory is the device's to announce: not in the map. */
	vm->mem.files[1] = (struct mem_file){ .gpa = 2ULL << 32, .size = 4ULL << 20 };
	n = boot_memmap(vm, map, 16);
	assert_int_equal(n, 4);
	assert_int_equal(map[2].type, E820_RAM);
	assert_int_equal(map[3].addr, 1ULL << 32);
	assert_int_equal(map[3].size, 4ULL << 20);
	assert_int_equal(map[3].type, E820_RESERVED);
	ram_vm_free(vm);
}

/* A device's own kernel parameters (a pmem root) come before the user's, who may override. */
static void test_device_cmdline(void **state)
{
	static struct mvm_device pmem = { .name = "virtio-pmem0",
					  .fw = { .cmdline = "root=/dev/pmem0 rw" } };
	struct vm *vm = ram_vm(64ULL << 20, 1, "none", "root=/dev/vda", NULL);
	const char *cmd;

	(void)state;
	list_add_tail(&pmem.node, &vm->devices);
	assert_int_equal(boot_cmdline_write(vm, "k", true, 2048), 0);
	cmd = (const char *)gpa(vm, BOOT_CMDLINE, 256);
	assert_non_null(strstr(cmd, ARCH_LINUX_CMDLINE " root=/dev/pmem0 rw root=/dev/vda"));
	/* Not for a test guest: it gets the user's text alone. */
	assert_int_equal(boot_cmdline_write(vm, "k", false, 2048), 0);
	assert_string_equal((const char *)gpa(vm, BOOT_CMDLINE, 32), "root=/dev/vda");
	list_del_init(&pmem.node);
	ram_vm_free(vm);
}

/* The 64-bit entry state the protocol asks for: identity map, flat GDT. */
static void check_long_mode_tables(struct vm *vm)
{
	const uint64_t *pml4 = (const uint64_t *)gpa(vm, BOOT_PML4, 4096);
	const uint64_t *pdpt = (const uint64_t *)gpa(vm, BOOT_PDPT, 4096);
	const uint64_t *gdt = (const uint64_t *)gpa(vm, BOOT_GDT, 32);
	unsigned int i, j;

	assert_int_equal(pml4[0] & ~0xfffULL, BOOT_PDPT);
	assert_true(pml4[0] & 1);
	for (i = 0; i < 4; i++) {
		const uint64_t *pd;

		assert_int_equal(pdpt[i] & ~0xfffULL, BOOT_PD + i * 4096);
		pd = (const uint64_t *)gpa(vm, pdpt[i] & ~0xfffULL, 4096);
		for (j = 0; j < 512; j++) {
			assert_int_equal(pd[j] & ~0xfffULL,
					 ((uint64_t)i << 30) | ((uint64_t)j << 21));
			assert_int_equal(pd[j] & 0x83, 0x83); /* present, writable, 2 MiB */
		}
	}
	/* __BOOT_CS: 64-bit code (L=1, D=0), present, DPL 0; __BOOT_DS: data */
	assert_int_equal((gdt[2] >> 53) & 1, 1);
	assert_int_equal((gdt[2] >> 54) & 1, 0);
	assert_int_equal((gdt[2] >> 40) & 0x9a, 0x9a);
	assert_int_equal((gdt[3] >> 40) & 0x92, 0x92);
}

static void test_bzimage_zero_page(void **state)
{
	const char *cmdline = "root=/dev/vda ro";
	uint64_t mem = 512ULL << 20, load, init_size, rd, rd_size, limit;
	uint16_t version = zp_get16(kimg, ZP_VERSION);
	unsigned int setup_sects = zp_get8(kimg, ZP_SETUP_SECTS) ?: 4, hdr_end, off;
	size_t rd_len = 3 * 1024 * 1024 + 123;
	char *initrd = make_initrd(rd_len);
	struct vm *vm = ram_vm(mem, 2, vmlinuz, cmdline, initrd);
	const uint8_t *zp;
	uint8_t *rd_file;
	size_t n;
	char want[256];

	(void)state;
	assert_int_equal(zp_get32(kimg, ZP_HEADER), ZP_HDRS_MAGIC);
	assert_true(version >= 0x020c);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	zp = gpa(vm, BOOT_ZERO_PAGE, ZP_SIZE);

	/* Placement: at pref_address (it fits in 512 MiB), entry at +0x200. */
	load = zp_get64(kimg, ZP_PREF_ADDRESS);
	init_size = zp_get32(kimg, ZP_INIT_SIZE);
	assert_int_equal(load % zp_get32(kimg, ZP_KERNEL_ALIGNMENT), 0);
	assert_int_equal(vm->arch.boot.mode, X86_BOOT_LINUX64);
	assert_int_equal(vm->arch.boot.entry, load + 0x200);
	assert_int_equal(vm->arch.boot.info, BOOT_ZERO_PAGE);
	off = (setup_sects + 1) * 512;
	assert_memory_equal(gpa(vm, load, kimg_len - off), kimg + off, kimg_len - off);

	/* The setup header is the image's, byte for byte, but for what a loader writes. */
	hdr_end = ZP_HEADER + kimg[ZP_JUMP + 1];
	for (n = ZP_SETUP_SECTS; n < hdr_end; n++) {
		bool ours = (n >= ZP_VID_MODE && n < ZP_VID_MODE + 2) || n == ZP_TYPE_OF_LOADER ||
			    n == ZP_LOADFLAGS ||
			    (n >= ZP_CODE32_START && n < ZP_RAMDISK_SIZE + 4) ||
			    (n >= ZP_CMD_LINE_PTR && n < ZP_CMD_LINE_PTR + 4) ||
			    (n >= ZP_SETUP_DATA && n < ZP_SETUP_DATA + 8);

		if (!ours && zp[n] != kimg[n])
			fail_msg("zero page byte 0x%zx: 0x%02x, image has 0x%02x", n, zp[n],
				 kimg[n]);
	}
	assert_int_equal(zp_get16(zp, ZP_VID_MODE), 0xffff);
	assert_int_equal(zp_get8(zp, ZP_TYPE_OF_LOADER), 0xff);
	assert_true(zp_get8(zp, ZP_LOADFLAGS) & LOADED_HIGH);
	assert_false(zp_get8(zp, ZP_LOADFLAGS) & (KEEP_SEGMENTS | CAN_USE_HEAP));
	assert_int_equal(zp_get32(zp, ZP_CODE32_START), load);
	assert_int_equal(zp_get64(zp, ZP_SETUP_DATA), 0);

	/* Command line: mvm's Linux defaults, then the user's. */
	assert_int_equal(zp_get32(zp, ZP_CMD_LINE_PTR), BOOT_CMDLINE);
	assert_int_equal(zp_get32(zp, ZP_EXT_CMD_LINE_PTR), 0);
	snprintf(want, sizeof(want), "%s %s", ARCH_LINUX_CMDLINE, cmdline);
	assert_string_equal((const char *)gpa(vm, BOOT_CMDLINE, strlen(want) + 1), want);

	/* Initrd: as high as initrd_addr_max and RAM allow, page aligned, above the kernel. */
	rd = zp_get32(zp, ZP_RAMDISK_IMAGE) | (uint64_t)zp_get32(zp, ZP_EXT_RAMDISK_IMAGE) << 32;
	rd_size = zp_get32(zp, ZP_RAMDISK_SIZE) | (uint64_t)zp_get32(zp, ZP_EXT_RAMDISK_SIZE) << 32;
	limit = zp_get16(kimg, ZP_XLOADFLAGS) & XLF_CAN_BE_LOADED_ABOVE_4G
			? mem
			: MIN(mem, (uint64_t)zp_get32(kimg, ZP_INITRD_ADDR_MAX) + 1);
	assert_int_equal(rd_size, rd_len);
	assert_int_equal(rd % 4096, 0);
	assert_true(rd >= load + init_size);
	assert_true(rd + rd_size <= limit);
	assert_true(limit - (rd + rd_size) < 4096);
	rd_file = read_file(initrd, &n);
	assert_memory_equal(gpa(vm, rd, rd_size), rd_file, n);
	free(rd_file);

	check_e820(vm, zp);
	check_long_mode_tables(vm);
	/* ACPI: the RSDP's address, where the signature is. */
	assert_int_equal(zp_get64(zp, ZP_ACPI_RSDP_ADDR), BOOT_ACPI_START);
	assert_memory_equal(gpa(vm, BOOT_ACPI_START, 8), "RSD PTR ", 8);
	ram_vm_free(vm);
	free(initrd);
}

/* Too little RAM for pref_address: a relocatable kernel moves down, aligned. */
static void test_bzimage_relocates(void **state)
{
	uint64_t align = zp_get32(kimg, ZP_KERNEL_ALIGNMENT);
	uint64_t init_size = MAX((uint64_t)zp_get32(kimg, ZP_INIT_SIZE), kimg_len);
	uint64_t low = ALIGN_UP(BOOT_DATA_END, align);
	uint64_t mem = ALIGN_UP(low + init_size, SZ_1M) + SZ_1M;
	struct vm *vm;

	(void)state;
	if (!zp_get8(kimg, ZP_RELOCATABLE_KERNEL))
		skip();
	assert_true(mem < zp_get64(kimg, ZP_PREF_ADDRESS) + init_size);
	vm = ram_vm(mem, 1, vmlinuz, NULL, NULL);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	assert_int_equal(vm->arch.boot.entry, low + 0x200);
	ram_vm_free(vm);

	/* And with less than that: a clear error, not a partial load. */
	vm = ram_vm(ALIGN_UP(low + init_size, SZ_1M) - 2 * SZ_1M, 1, vmlinuz, NULL, NULL);
	expect_load_error(vm, -ENOEXEC, vmlinuz, "give more --mem");
	ram_vm_free(vm);
}

static void test_bzimage_initrd_too_big(void **state)
{
	char *initrd = make_initrd(100 << 20);
	struct vm *vm = ram_vm(128ULL << 20, 1, vmlinuz, NULL, initrd);

	(void)state;
	expect_load_error(vm, -E2BIG, initrd, "do not fit");
	ram_vm_free(vm);
	free(initrd);
}

static void test_bzimage_cmdline_too_long(void **state)
{
	size_t max = zp_get32(kimg, ZP_CMDLINE_SIZE);
	char *cmdline = malloc(max + 1);
	struct vm *vm;

	(void)state;
	memset(cmdline, 'x', max);
	cmdline[max] = 0;
	vm = ram_vm(256ULL << 20, 1, vmlinuz, cmdline, NULL);
	expect_load_error(vm, -E2BIG, vmlinuz, "command line too long");
	ram_vm_free(vm);
	free(cmdline);
}

/* Corrupt copies of the real image: each refused with its reason. */
static void corrupt_case(const char *name, size_t len, unsigned int off, const void *bytes,
			 size_t n, int err, const char *why)
{
	uint8_t *copy = malloc(kimg_len);
	char *path;
	struct vm *vm;

	memcpy(copy, kimg, kimg_len);
	if (bytes)
		memcpy(copy + off, bytes, n);
	path = write_tmp(name, copy, len);
	vm = ram_vm(256ULL << 20, 1, path, NULL, NULL);
	expect_load_error(vm, err, path, why);
	ram_vm_free(vm);
	free(path);
	free(copy);
}

static void test_bzimage_corrupt(void **state)
{
	const uint16_t old_version = 0x0206, no_flag = 0x1234;
	const uint16_t xlf = zp_get16(kimg, ZP_XLOADFLAGS) & ~XLF_KERNEL_64;
	const uint8_t sects = 200;

	(void)state;
	corrupt_case("truncated", kimg_len / 2, 0, NULL, 0, -ENOEXEC, "truncated");
	corrupt_case("header-only", 1024, 0, NULL, 0, -ENOEXEC, "truncated");
	corrupt_case("bad-magic", kimg_len, ZP_HEADER, "HdrX", 4, -ENOEXEC, "not a bootable image");
	corrupt_case("old-protocol", kimg_len, ZP_VERSION, &old_version, 2, -ENOEXEC,
		     "too old for a 64-bit boot");
	corrupt_case("bad-boot-flag", kimg_len, ZP_BOOT_FLAG, &no_flag, 2, -ENOEXEC,
		     "boot-sector signature");
	corrupt_case("no-64bit", kimg_len, ZP_XLOADFLAGS, &xlf, 2, -ENOEXEC,
		     "no 64-bit entry point");
	corrupt_case("setup-sects", kimg_len, ZP_SETUP_SECTS, &sects, 1, -ENOEXEC, "setup sectors");
}

/* ---- PVH: the start info, the module list, the firmware tables ---- */

static void check_sum(const void *p, size_t len, const char *what)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	while (len--)
		sum += *b++;
	if (sum)
		fail_msg("%s checksum is off by 0x%02x", what, sum);
}

static const uint8_t *acpi_table(struct vm *vm, uint64_t addr, const char *sig)
{
	const uint8_t *h = gpa(vm, addr, 36);
	uint32_t len;

	assert_memory_equal(h, sig, 4);
	memcpy(&len, h + 4, 4);
	assert_true(len >= 36 && len < 65536);
	h = gpa(vm, addr, len);
	check_sum(h, len, sig);
	return h;
}

static void check_acpi(struct vm *vm, uint64_t rsdp_addr, unsigned int cpus)
{
	const uint8_t *rsdp = gpa(vm, rsdp_addr, 36), *xsdt, *fadt = NULL, *madt = NULL, *dsdt;
	uint64_t xsdt_addr, entry, dsdt_addr;
	uint32_t len, flags, n, lapics = 0, ioapics = 0;
	unsigned int i;

	assert_memory_equal(rsdp, "RSD PTR ", 8);
	check_sum(rsdp, 20, "RSDP");
	check_sum(rsdp, 36, "RSDP extended");
	assert_int_equal(rsdp[15], 2);
	memcpy(&xsdt_addr, rsdp + 24, 8);
	xsdt = acpi_table(vm, xsdt_addr, "XSDT");
	memcpy(&len, xsdt + 4, 4);
	for (i = 36; i + 8 <= len; i += 8) {
		memcpy(&entry, xsdt + i, 8);
		if (!memcmp(gpa(vm, entry, 4), "FACP", 4))
			fadt = acpi_table(vm, entry, "FACP");
		else if (!memcmp(gpa(vm, entry, 4), "APIC", 4))
			madt = acpi_table(vm, entry, "APIC");
	}
	assert_non_null(fadt);
	assert_non_null(madt);

	memcpy(&flags, fadt + 112, 4);
	assert_true(flags & (1U << 20)); /* HW_REDUCED_ACPI */
	assert_int_equal(fadt[244], 1);	 /* sleep control: system I/O */
	memcpy(&entry, fadt + 248, 8);
	assert_int_equal(entry, 0x600);
	memcpy(&dsdt_addr, fadt + 140, 8);
	dsdt = acpi_table(vm, dsdt_addr, "DSDT");
	memcpy(&len, dsdt + 4, 4);
	assert_non_null(memmem(dsdt, len, "_S5_", 4));
	assert_non_null(memmem(dsdt, len, "COM1", 4));
	assert_non_null(memmem(dsdt, len, "\x0c\x41\xd0\x05\x01", 5)); /* EisaId PNP0501 */

	memcpy(&len, madt + 4, 4);
	for (i = 44; i + 2 <= len; i += madt[i + 1]) {
		assert_true(madt[i + 1] >= 2);
		if (madt[i] == 0) {
			memcpy(&n, madt + i + 4, 4);
			assert_int_equal(madt[i + 3], lapics); /* APIC id = vCPU index */
			assert_true(n & 1);		       /* enabled */
			lapics++;
		} else if (madt[i] == 1) {
			memcpy(&n, madt + i + 4, 4);
			assert_int_equal(n, 0xfec00000);
			ioapics++;
		}
	}
	assert_int_equal(lapics, cpus);
	assert_int_equal(ioapics, 1);
}

static void check_mptable(struct vm *vm, unsigned int cpus)
{
	const uint8_t *mpf = gpa(vm, BOOT_MPTABLE, 16), *mpc;
	uint32_t mpc_addr;
	uint16_t len, count;
	unsigned int i, off, procs = 0;

	assert_memory_equal(mpf, "_MP_", 4);
	check_sum(mpf, 16, "MP floating pointer");
	memcpy(&mpc_addr, mpf + 4, 4);
	mpc = gpa(vm, mpc_addr, 44);
	assert_memory_equal(mpc, "PCMP", 4);
	memcpy(&len, mpc + 4, 2);
	memcpy(&count, mpc + 34, 2);
	mpc = gpa(vm, mpc_addr, len);
	check_sum(mpc, len, "MP configuration table");
	for (i = 0, off = 44; i < count; i++) {
		assert_true(off < len);
		if (mpc[off] == 0) {
			assert_int_equal(mpc[off + 1], procs);
			assert_int_equal(mpc[off + 3] & 2, procs == 0 ? 2 : 0); /* BSP flag */
			procs++;
		}
		off += mpc[off] == 0 ? 20 : 8;
	}
	assert_int_equal(off, len);
	assert_int_equal(procs, cpus);
}

struct hvm_start_info_v1 {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

static void test_pvh_start_info(void **state)
{
	const struct hvm_start_info_v1 *si;
	char *elf, *initrd = make_initrd(200000);
	uint64_t mod[4];
	uint8_t *file;
	size_t n;
	struct vm *vm;

	(void)state;
	assert_true(asprintf(&elf, "%s/hello.elf", guests) > 0);
	vm = ram_vm(64ULL << 20, 4, elf, "hello there", initrd);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	assert_int_equal(vm->arch.boot.mode, X86_BOOT_PVH32);
	si = (const struct hvm_start_info_v1 *)gpa(vm, vm->arch.boot.info, sizeof(*si));
	assert_int_equal(si->magic, 0x336ec578);
	assert_int_equal(si->version, 1);
	/* A test guest is not Linux: its command line is the user's alone. */
	assert_string_equal((const char *)gpa(vm, si->cmdline_paddr, 12), "hello there");
	assert_int_equal(si->nr_modules, 1);
	memcpy(mod, gpa(vm, si->modlist_paddr, sizeof(mod)), sizeof(mod));
	assert_int_equal(mod[1], 200000);
	assert_int_equal(mod[0] % 4096, 0);
	assert_true(mod[0] + mod[1] <= vm->cfg.mem_size);
	file = read_file(initrd, &n);
	assert_memory_equal(gpa(vm, mod[0], mod[1]), file, n);
	free(file);
	assert_int_equal(si->memmap_entries, 3);
	assert_int_equal(si->rsdp_paddr, BOOT_ACPI_START);
	check_acpi(vm, si->rsdp_paddr, 4);
	check_mptable(vm, 4);
	ram_vm_free(vm);
	free(elf);
	free(initrd);
}

/* ---- PVH ELF files built here: both classes, and what is refused ---- */

#define ELF_LOAD_ADDR 0x100000u
#define ELF_ENTRY     0x100004u
#define ELF_PAYLOAD   16
#define ELF_MEMSZ     0x3000u
#define ELF_NOTE_DESC 4

/* A PVH note: "Xen\0", type 18 (XEN_ELFNOTE_PHYS32_ENTRY), a 32-bit entry. */
struct pvh_note {
	uint32_t namesz, descsz, type;
	char name[4];
	uint32_t entry;
};

/*
 * A minimal PVH image of ELF class 32 or 64: header, a PT_NOTE and a PT_LOAD
 * of ELF_PAYLOAD bytes (0x40, 0x41, ...) at ELF_LOAD_ADDR with bss to
 * ELF_MEMSZ. machine 0: the class's own. Returns the file; *len its size.
 */
static uint8_t *pvh_elf(int cls, unsigned int machine, size_t *len)
{
	const size_t ehsz = cls == 64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	const size_t phsz = cls == 64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	const size_t note_off = ehsz + 2 * phsz, load_off = note_off + sizeof(struct pvh_note);
	struct pvh_note note = { 4, ELF_NOTE_DESC, 18, "Xen", ELF_ENTRY };
	uint8_t *f = calloc(1, load_off + ELF_PAYLOAD);
	unsigned int i;

	assert_non_null(f);
	memcpy(f + note_off, &note, sizeof(note));
	for (i = 0; i < ELF_PAYLOAD; i++)
		f[load_off + i] = (uint8_t)(0x40 + i);
	if (cls == 64) {
		Elf64_Ehdr eh = { .e_type = ET_EXEC,
				  .e_machine = machine ?: EM_X86_64,
				  .e_version = EV_CURRENT,
				  .e_entry = ELF_ENTRY,
				  .e_phoff = sizeof(Elf64_Ehdr),
				  .e_ehsize = sizeof(Elf64_Ehdr),
				  .e_phentsize = sizeof(Elf64_Phdr),
				  .e_phnum = 2 };
		Elf64_Phdr ph[2] = {
			{ .p_type = PT_NOTE,
			  .p_offset = note_off,
			  .p_filesz = sizeof(note),
			  .p_memsz = sizeof(note),
			  .p_align = 4 },
			{ .p_type = PT_LOAD,
			  .p_offset = load_off,
			  .p_vaddr = ELF_LOAD_ADDR,
			  .p_paddr = ELF_LOAD_ADDR,
			  .p_filesz = ELF_PAYLOAD,
			  .p_memsz = ELF_MEMSZ,
			  .p_flags = PF_R | PF_X,
			  .p_align = 16 },
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS64;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(f, &eh, sizeof(eh));
		memcpy(f + ehsz, ph, sizeof(ph));
	} else {
		Elf32_Ehdr eh = { .e_type = ET_EXEC,
				  .e_machine = machine ?: EM_386,
				  .e_version = EV_CURRENT,
				  .e_entry = ELF_ENTRY,
				  .e_phoff = sizeof(Elf32_Ehdr),
				  .e_ehsize = sizeof(Elf32_Ehdr),
				  .e_phentsize = sizeof(Elf32_Phdr),
				  .e_phnum = 2 };
		Elf32_Phdr ph[2] = {
			{ .p_type = PT_NOTE,
			  .p_offset = note_off,
			  .p_filesz = sizeof(note),
			  .p_memsz = sizeof(note),
			  .p_align = 4 },
			{ .p_type = PT_LOAD,
			  .p_offset = load_off,
			  .p_vaddr = ELF_LOAD_ADDR,
			  .p_paddr = ELF_LOAD_ADDR,
			  .p_filesz = ELF_PAYLOAD,
			  .p_memsz = ELF_MEMSZ,
			  .p_flags = PF_R | PF_X,
			  .p_align = 16 },
		};

		memcpy(eh.e_ident, ELFMAG, SELFMAG);
		eh.e_ident[EI_CLASS] = ELFCLASS32;
		eh.e_ident[EI_DATA] = ELFDATA2LSB;
		eh.e_ident[EI_VERSION] = EV_CURRENT;
		memcpy(f, &eh, sizeof(eh));
		memcpy(f + ehsz, ph, sizeof(ph));
	}
	*len = load_off + ELF_PAYLOAD;
	return f;
}

static void check_pvh_elf_loads(int cls)
{
	size_t len;
	uint8_t *f = pvh_elf(cls, 0, &len), *seg;
	char name[32], *path;
	struct vm *vm;
	unsigned int i;

	snprintf(name, sizeof(name), "pvh%d.elf", cls);
	path = write_tmp(name, f, len);
	vm = ram_vm(16ULL << 20, 1, path, "x", NULL);
	/* Stale bytes where the bss goes: the loader must zero them. */
	memset(gpa(vm, ELF_LOAD_ADDR, ELF_MEMSZ + 16), 0xee, ELF_MEMSZ + 16);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	assert_int_equal(vm->arch.boot.mode, X86_BOOT_PVH32);
	assert_int_equal(vm->arch.boot.entry, ELF_ENTRY);
	assert_int_equal(vm->arch.boot.info, BOOT_START_INFO);
	seg = gpa(vm, ELF_LOAD_ADDR, ELF_MEMSZ + 16);
	for (i = 0; i < ELF_PAYLOAD; i++)
		assert_int_equal(seg[i], 0x40 + i);
	for (; i < ELF_MEMSZ; i++)
		if (seg[i])
			fail_msg("ELF%d bss byte at +0x%x is 0x%02x", cls, i, seg[i]);
	assert_int_equal(seg[ELF_MEMSZ], 0xee); /* nothing past p_memsz */
	assert_int_equal(*(uint32_t *)gpa(vm, BOOT_START_INFO, 4), 0x336ec578);
	assert_string_equal((const char *)gpa(vm, BOOT_CMDLINE, 2), "x");
	ram_vm_free(vm);
	free(path);
	free(f);
}

static void test_pvh_elf32_and_elf64(void **state)
{
	char *elf64, *elf32;
	struct x86_boot boot;
	struct vm *vm;
	uint8_t *ram;

	(void)state;
	check_pvh_elf_loads(32);
	check_pvh_elf_loads(64);
	/* The guest kit's hello guest and its ELF32 copy (objcopy) leave the same memory. */
	assert_true(asprintf(&elf64, "%s/hello.elf", guests) > 0);
	assert_true(asprintf(&elf32, "%s/hello32.elf", guests) > 0);
	/* One at a time: a VM here lists the shared UART description. */
	vm = ram_vm(16ULL << 20, 1, elf64, "same", NULL);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	boot = vm->arch.boot;
	ram = malloc(vm->mem.size);
	assert_non_null(ram);
	memcpy(ram, vm->mem.base, vm->mem.size);
	ram_vm_free(vm);
	vm = ram_vm(16ULL << 20, 1, elf32, "same", NULL);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	assert_int_equal(vm->arch.boot.mode, boot.mode);
	assert_int_equal(vm->arch.boot.entry, boot.entry);
	assert_true(memcmp(ram, vm->mem.base, vm->mem.size) == 0);
	ram_vm_free(vm);
	free(ram);
	free(elf64);
	free(elf32);
}

/* Writes f (len bytes, patched by fn) and expects its load to fail with `why`. */
static void elf_refused(const char *name, uint8_t *f, size_t len, const char *why)
{
	char *path = write_tmp(name, f, len);
	struct vm *vm = ram_vm(16ULL << 20, 1, path, NULL, NULL);

	expect_load_error(vm, -ENOEXEC, path, why);
	ram_vm_free(vm);
	free(path);
}

static void test_pvh_elf_refused(void **state)
{
	size_t len32, len64;
	uint8_t *e32 = pvh_elf(32, 0, &len32), *e64 = pvh_elf(64, 0, &len64), *f;
	Elf32_Ehdr *h32;
	Elf64_Ehdr *h64;

	(void)state;
	/* Class and machine must agree: i386 for ELF32, x86-64 for ELF64. */
	f = pvh_elf(32, EM_X86_64, &len32);
	elf_refused("x32.elf", f, len32, "32-bit ELF file for machine 62, not i386");
	free(f);
	f = pvh_elf(64, EM_386, &len64);
	elf_refused("elf64-i386.elf", f, len64, "64-bit ELF file for machine 3, not x86-64");
	free(f);
	f = pvh_elf(32, EM_ARM, &len32);
	elf_refused("arm.elf", f, len32, "machine 40");
	free(f);
	/* No other class, no big-endian file. */
	e32[EI_CLASS] = 3;
	elf_refused("class3.elf", e32, len32, "not a 32- or 64-bit ELF file (ELF class 3)");
	e32[EI_CLASS] = ELFCLASSNONE;
	elf_refused("class0.elf", e32, len32, "ELF class 0");
	e32[EI_CLASS] = ELFCLASS32;
	e32[EI_DATA] = ELFDATA2MSB;
	elf_refused("msb.elf", e32, len32, "not a little-endian ELF file");
	e32[EI_DATA] = ELFDATA2LSB;
	/* Truncated: inside the file header, inside the program headers, inside a segment. */
	elf_refused("short32.elf", e32, sizeof(Elf32_Ehdr) - 1, "truncated");
	elf_refused("short64.elf", e64, sizeof(Elf64_Ehdr) - 1, "truncated");
	elf_refused("ident.elf", e32, 8, "truncated");
	elf_refused("phdrs32.elf", e32, sizeof(Elf32_Ehdr) + 10, "truncated");
	elf_refused("phdrs64.elf", e64, sizeof(Elf64_Ehdr) + 10, "truncated");
	elf_refused("seg32.elf", e32, len32 - 1, "truncated");
	/* A program header size that is not its class's. */
	h32 = (Elf32_Ehdr *)e32;
	h32->e_phentsize = sizeof(Elf64_Phdr);
	elf_refused("phentsize32.elf", e32, len32, "bad ELF program header table");
	h32->e_phentsize = sizeof(Elf32_Phdr);
	h64 = (Elf64_Ehdr *)e64;
	h64->e_phentsize = sizeof(Elf32_Phdr);
	elf_refused("phentsize64.elf", e64, len64, "bad ELF program header table");
	h64->e_phentsize = sizeof(Elf64_Phdr);
	/* Not executable; no program headers; the entry outside RAM. */
	h32->e_type = ET_REL;
	elf_refused("rel.elf", e32, len32, "not an executable");
	h32->e_type = ET_EXEC;
	h32->e_phnum = 0;
	elf_refused("nophdr.elf", e32, len32, "bad ELF program header table (0 entries)");
	h32->e_phnum = 2;
	((struct pvh_note *)(e32 + sizeof(Elf32_Ehdr) + 2 * sizeof(Elf32_Phdr)))->entry =
		0xfffffff0u;
	elf_refused("entry.elf", e32, len32, "not in guest RAM");
	free(e32);
	free(e64);
}

/* ---- a raw firmware image: where it goes, what is refused ---- */

static void test_firmware_layout(void **state)
{
	static const struct {
		uint64_t size, rom_gpa, rom_size, image_off, low_gpa;
	} cases[] = {
		{ 16, 0xfffff000, 0x1000, 0xff0, 0xffff0 },
		{ 5000, 0xffffe000, 0x2000, 0x2000 - 5000, 0x100000 - 5000 },
		{ 0x10000, 0xffff0000, 0x10000, 0, 0xf0000 },
		{ 0x40000, 0xfffc0000, 0x40000, 0, 0xc0000 },
	};
	struct firmware_layout l;
	unsigned int i;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		firmware_layout(cases[i].size, &l);
		assert_int_equal(l.rom_gpa, cases[i].rom_gpa);
		assert_int_equal(l.rom_size, cases[i].rom_size);
		assert_int_equal(l.image_off, cases[i].image_off);
		assert_int_equal(l.low_gpa, cases[i].low_gpa);
		/* Both copies end where they must: the last 16 bytes hold the reset vector. */
		assert_int_equal(l.rom_gpa + l.image_off + cases[i].size, 0x100000000ULL);
		assert_int_equal(l.low_gpa + cases[i].size, 0x100000);
		assert_int_equal(l.rom_gpa + l.image_off + cases[i].size - 16, 0xfffffff0);
		/* Clear of the TSS and identity map pages KVM needs below it. */
		assert_true(l.rom_gpa >= 0xfffc0000);
	}
}

static void firmware_size_case(size_t size, bool good)
{
	uint8_t *img = calloc(1, size + 1);
	char name[32], *path, *msg;
	struct boot_image bi;
	int r;

	assert_non_null(img);
	snprintf(name, sizeof(name), "fw-%zu.bin", size);
	path = write_tmp(name, img, size);
	assert_int_equal(boot_image_open(&bi, "firmware", path), 0);
	capture_begin();
	r = firmware_check(&bi);
	msg = capture_end();
	boot_image_close(&bi);
	if (good) {
		assert_int_equal(r, 0);
		assert_string_equal(msg, "");
	} else if (r != -ENOEXEC || !strstr(msg, path) || !strstr(msg, "16 bytes to 256 KiB") ||
		   strchr(msg, '\n') != msg + strlen(msg) - 1) {
		fail_msg("%zu bytes: want one line naming %s; got %d: %s", size, path, r, msg);
	}
	free(msg);
	free(path);
	free(img);
}

static void test_firmware_sizes(void **state)
{
	(void)state;
	firmware_size_case(0, false);
	firmware_size_case(15, false);
	firmware_size_case(16, true);
	firmware_size_case(0x40000, true);
	firmware_size_case(0x40001, false);
}

/* The boot copy: from the read-only mapping to RAM below 1 MiB, and nothing else written. */
static void test_firmware_load(void **state)
{
	const size_t size = 5000;
	struct firmware_layout l;
	uint8_t *rom, *low;
	struct vm *vm;
	unsigned int i;

	(void)state;
	firmware_layout(size, &l);
	rom = calloc(1, l.rom_size);
	assert_non_null(rom);
	for (i = 0; i < size; i++)
		rom[l.image_off + i] = (uint8_t)(i * 7 + 1);
	vm = ram_vm(16ULL << 20, 1, NULL, "ignored", NULL);
	vm->cfg.firmware = "fw.bin";
	vm->mem.files[0] = (struct mem_file){ .gpa = l.rom_gpa,
					      .size = l.rom_size,
					      .hva = rom,
					      .fd = -1,
					      .read_only = true,
					      .owner = "firmware" };
	vm->mem.nr_files = 1;
	vm->arch.firmware_size = size;
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	assert_int_equal(vm->arch.boot.mode, X86_BOOT_RESET);
	assert_int_equal(vm->arch.boot.entry, 0xfffffff0);
	low = gpa(vm, 0, 0x100000);
	assert_memory_equal(low + l.low_gpa, rom + l.image_off, size);
	/* No boot data, command line or tables: RAM is zero outside the image. */
	for (i = 0; i < l.low_gpa; i++)
		if (low[i])
			fail_msg("byte at 0x%x written (0x%02x)", i, low[i]);
	/* A kernel as well: refused. */
	vm->cfg.kernel = "vmlinuz";
	capture_begin();
	assert_int_equal(arch_vm_load_kernel(vm), -EINVAL);
	free(capture_end());
	vm->mem.nr_files = 0;
	ram_vm_free(vm);
	free(rom);
}

/*
 * A virtio-mmio device is announced from its description alone: on a Linux
 * command line (after the user's), as an LNRO0005 device in the DSDT with
 * its window and GSI, and without a PCI host no MCFG, PCI0 or PCI bus.
 */
static void test_virtio_mmio_announced(void **state)
{
	const char *want = "virtio_mmio.device=4K@0xe0100000:5";
	const uint8_t mem32[] = { 0x86, 9, 0, 1, 0x00, 0x00, 0x10, 0xe0, 0x00, 0x10, 0x00, 0x00 };
	const uint8_t *rsdp, *xsdt, *fadt = NULL, *dsdt;
	uint64_t rsdp_addr, dsdt_addr, entry;
	uint32_t len, xlen, i;
	struct vm *vm;
	char *cmd;

	(void)state;
	if (!vmlinuz)
		skip();
	vm = ram_vm(256ULL << 20, 1, vmlinuz, "console=ttyS0 pci=off", NULL);
	list_add_tail(&mmio_dev.node, &vm->devices);
	assert_int_equal(arch_vm_load_kernel(vm), 0);
	cmd = (char *)gpa(vm, BOOT_CMDLINE, 256);
	assert_non_null(strstr(cmd, "pci=off"));
	assert_non_null(strstr(cmd, want));
	assert_true(strstr(cmd, want) > strstr(cmd, "pci=off")); /* after the user's */

	assert_int_equal(boot_platform_tables(vm, &rsdp_addr), 0);
	rsdp = gpa(vm, rsdp_addr, 36);
	memcpy(&entry, rsdp + 24, 8);
	xsdt = acpi_table(vm, entry, "XSDT");
	memcpy(&xlen, xsdt + 4, 4);
	for (i = 36; i + 8 <= xlen; i += 8) {
		const uint8_t *t;

		memcpy(&entry, xsdt + i, 8);
		t = gpa(vm, entry, 4);
		assert_false(!memcmp(t, "MCFG", 4)); /* no PCI host: no ECAM */
		if (!memcmp(t, "FACP", 4))
			fadt = acpi_table(vm, entry, "FACP");
	}
	assert_non_null(fadt);
	memcpy(&dsdt_addr, fadt + 140, 8);
	dsdt = acpi_table(vm, dsdt_addr, "DSDT");
	memcpy(&len, dsdt + 4, 4);
	assert_non_null(memmem(dsdt, len, "LNRO0005", 8));
	assert_non_null(memmem(dsdt, len, mem32, sizeof(mem32)));
	assert_null(memmem(dsdt, len, "PCI0", 4));
	assert_non_null(memmem(dsdt, len, "COM1", 4));
	list_del_init(&mmio_dev.node);
	ram_vm_free(vm);
}

/* A device that hot-plugs memory (virtio-mem's description): the region it may plug. */
static struct mvm_device vmem_dev = {
	.name = "virtio-mem",
	.fw = { .hotplug_mem = { 0x100000000ULL, 1ULL << 30 } },
};

/* The SRAT of the platform tables at rsdp, or NULL when the XSDT lists none. */
static const uint8_t *find_srat(struct vm *vm, uint64_t rsdp_addr)
{
	const uint8_t *rsdp = gpa(vm, rsdp_addr, 36), *xsdt;
	uint64_t entry;
	uint32_t len, i;

	memcpy(&entry, rsdp + 24, 8);
	xsdt = acpi_table(vm, entry, "XSDT");
	memcpy(&len, xsdt + 4, 4);
	for (i = 36; i + 8 <= len; i += 8) {
		memcpy(&entry, xsdt + i, 8);
		if (!memcmp(gpa(vm, entry, 4), "SRAT", 4))
			return acpi_table(vm, entry, "SRAT");
	}
	return NULL;
}

/*
 * virtio-mem's region is announced in an SRAT as hot-pluggable memory, with
 * the vCPUs and RAM in the same proximity domain; no such device, no SRAT.
 */
static void test_srat_hotplug_region(void **state)
{
	struct vm *vm = ram_vm(16ULL << 20, 2, NULL, NULL, NULL);
	const uint8_t *srat, *e;
	uint64_t rsdp, base, len;
	uint32_t tlen, v, flags;
	unsigned int i;

	(void)state;
	assert_int_equal(boot_platform_tables(vm, &rsdp), 0);
	assert_null(find_srat(vm, rsdp));
	check_acpi(vm, rsdp, 2);

	list_add_tail(&vmem_dev.node, &vm->devices);
	memset(gpa(vm, BOOT_ACPI_START, BOOT_ACPI_END - BOOT_ACPI_START), 0,
	       BOOT_ACPI_END - BOOT_ACPI_START);
	assert_int_equal(boot_platform_tables(vm, &rsdp), 0);
	check_acpi(vm, rsdp, 2); /* every other table as before */
	srat = find_srat(vm, rsdp);
	assert_non_null(srat); /* found: its length and checksum are checked */
	memcpy(&tlen, srat + 4, 4);
	assert_int_equal(tlen, 36 + 12 + 2 * 16 + 2 * 40);
	assert_int_equal(srat[8], 3); /* revision */
	memcpy(&v, srat + 36, 4);
	assert_int_equal(v, 1); /* the reserved field Linux expects as 1 */
	e = srat + 48;
	for (i = 0; i < 2; i++, e += 16) {
		assert_int_equal(e[0], 0); /* processor local APIC affinity */
		assert_int_equal(e[1], 16);
		assert_int_equal(e[2], 0); /* proximity domain 0 */
		assert_int_equal(e[3], i); /* APIC id */
		memcpy(&flags, e + 4, 4);
		assert_int_equal(flags, 1);
	}
	for (i = 0; i < 2; i++, e += 40) {
		assert_int_equal(e[0], 1); /* memory affinity */
		assert_int_equal(e[1], 40);
		memcpy(&v, e + 2, 4);
		assert_int_equal(v, 0);
		memcpy(&base, e + 8, 8);
		memcpy(&len, e + 16, 8);
		memcpy(&flags, e + 28, 4);
		if (i == 0) { /* RAM */
			assert_int_equal(base, 0);
			assert_int_equal(len, 16ULL << 20);
			assert_int_equal(flags, 1);
		} else { /* the device's region: enabled, hot-pluggable */
			assert_int_equal(base, 0x100000000ULL);
			assert_int_equal(len, 1ULL << 30);
			assert_int_equal(flags, 1 | 2);
		}
	}
	assert_true(e == srat + tlen);
	list_del_init(&vmem_dev.node);
	ram_vm_free(vm);
}

static void test_tables_scale_with_cpus(void **state)
{
	static const unsigned int counts[] = { 1, 2, 8, 64 };
	unsigned int i;
	uint64_t rsdp;

	(void)state;
	for (i = 0; i < ARRAY_SIZE(counts); i++) {
		struct vm *vm = ram_vm(16ULL << 20, counts[i], NULL, NULL, NULL);

		assert_int_equal(boot_platform_tables(vm, &rsdp), 0);
		check_acpi(vm, rsdp, counts[i]);
		check_mptable(vm, counts[i]);
		ram_vm_free(vm);
	}
}

/* ---- AML encoding ---- */

static void test_aml_pkglength(void **state)
{
	static struct aml a;
	uint8_t big[100] = { 0 };

	(void)state;
	/* Short: one PkgLength byte counting itself, the name and the body. */
	aml_init(&a);
	aml_scope_open(&a, "\\_SB_");
	aml_close(&a);
	assert_int_equal(aml_error(&a), 0);
	assert_int_equal(a.len, 7);
	assert_memory_equal(a.buf, "\x10\x06\\_SB_", 7);

	/* Long: two bytes, low nibble first, then the rest. */
	aml_init(&a);
	aml_buffer_open(&a);
	aml_bytes(&a, big, sizeof(big));
	aml_close(&a);
	assert_int_equal(aml_error(&a), 0);
	/* 0x11, PkgLength(2 bytes), BytePrefix 100, 100 bytes: length 2 + 2 + 100 */
	assert_int_equal(a.len, 1 + 104);
	assert_int_equal(a.buf[1], 0x40 | (104 & 0xf));
	assert_int_equal(a.buf[2], 104 >> 4);
	assert_int_equal(a.buf[3], 0x0a);
	assert_int_equal(a.buf[4], 100);

	/* Errors stick: an unbalanced close, a bad name. */
	aml_init(&a);
	aml_close(&a);
	assert_int_equal(aml_error(&a), -EINVAL);
	aml_init(&a);
	aml_name(&a, "ABC");
	assert_int_equal(aml_error(&a), -EINVAL);
	assert_int_equal(aml_eisaid("PNP0501"), 0x0105d041);
}

/* Bridge windows, byte for byte as ACPI 6.5 §6.4.3.5 lays them out. */
static void test_aml_address_descriptors(void **state)
{
	static struct aml a;
	static const uint8_t bus[16] = { 0x88, 13, 0, 2, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0 };
	static const uint8_t io[16] = { 0x88, 13,   0,	  1,	0x0c, 3, 0,    0,
					0x00, 0xc0, 0xff, 0xff, 0,    0, 0x00, 0x40 };
	static const uint8_t mem[26] = { 0x87, 23,   0,	   0,	 0x0c, 1, 0, 0, 0, 0, 0, 0, 0,
					 0xc0, 0xff, 0xff, 0xff, 0xdf, 0, 0, 0, 0, 0, 0, 0, 0x20 };

	(void)state;
	aml_init(&a);
	aml_res_bus_numbers(&a, 0, 0);
	aml_res_io_window(&a, 0xc000, 0x4000);
	aml_res_mem32_window(&a, 0xc0000000, 0x20000000);
	assert_int_equal(aml_error(&a), 0);
	assert_int_equal(a.len, sizeof(bus) + sizeof(io) + sizeof(mem));
	assert_memory_equal(a.buf, bus, sizeof(bus));
	assert_memory_equal(a.buf + sizeof(bus), io, sizeof(io));
	assert_memory_equal(a.buf + sizeof(bus) + sizeof(io), mem, sizeof(mem));
}

int main(void)
{
	const struct CMUnitTest bz[] = {
		cmocka_unit_test(test_bzimage_zero_page),
		cmocka_unit_test(test_bzimage_relocates),
		cmocka_unit_test(test_bzimage_initrd_too_big),
		cmocka_unit_test(test_bzimage_cmdline_too_long),
		cmocka_unit_test(test_bzimage_corrupt),
	};
	const struct CMUnitTest other[] = {
		cmocka_unit_test(test_pvh_start_info),
		cmocka_unit_test(test_pvh_elf32_and_elf64),
		cmocka_unit_test(test_pvh_elf_refused),
		cmocka_unit_test(test_firmware_layout),
		cmocka_unit_test(test_firmware_sizes),
		cmocka_unit_test(test_firmware_load),
		cmocka_unit_test(test_tables_scale_with_cpus),
		cmocka_unit_test(test_srat_hotplug_region),
		cmocka_unit_test(test_virtio_mmio_announced),
		cmocka_unit_test(test_aml_pkglength),
		cmocka_unit_test(test_aml_address_descriptors),
		cmocka_unit_test(test_memmap_reserves_files),
		cmocka_unit_test(test_device_cmdline),
	};
	int failed;

	vmlinuz = getenv("MVM_TEST_VMLINUZ");
	guests = getenv("GUESTS");
	if (!vmlinuz || !guests) {
		fprintf(stderr, "loader-test: set MVM_TEST_VMLINUZ (a bzImage, see "
				"tests/loader/fetch-kernel.sh) and GUESTS (the guest kit)\n");
		return 2;
	}
	assert_non_null(mkdtemp(tmpdir));
	kimg = read_file(vmlinuz, &kimg_len);
	mvm_log_set_level(MVM_LOG_ERROR);
	printf("# bzImage under test: %s (%zu bytes, protocol %u.%02u)\n", vmlinuz, kimg_len,
	       zp_get16(kimg, ZP_VERSION) >> 8, zp_get16(kimg, ZP_VERSION) & 0xff);
	failed = cmocka_run_group_tests_name("bzImage", bz, NULL, NULL);
	failed += cmocka_run_group_tests_name("PVH and firmware tables", other, NULL, NULL);
	free(kimg);
	{
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "loader-test: could not remove %s\n", tmpdir);
	}
	return failed ? 1 : 0;
}
