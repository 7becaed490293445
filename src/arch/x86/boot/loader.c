// SPDX-License-Identifier: MIT
/*
 * Boot images: recognise the format, hand it to its loader, and the helpers
 * every loader shares (reading the image with bounds checks, the memory
 * map, the command line). Every error is one line naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "boot.h"

#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "../x86.h"

int boot_image_open(struct boot_image *img, const char *what, const char *path)
{
	struct stat st;
	off_t size;
	int err;

	img->what = what;
	img->path = path;
	/* O_NONBLOCK: a FIFO (which would wait for a writer) is refused below instead. */
	img->fd = mvm_open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY);
	if (img->fd < 0) {
		err = -errno;
		pr_err("%s %s: cannot open: %s", what, path, strerror(-err));
		return err;
	}
	/* fstat cannot fail on an open fd: not a failure point of its own. */
	if (fstat(img->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		pr_err("%s %s: not a regular file", what, path);
		close(img->fd);
		return -EINVAL;
	}
	if (mvm_fstat_size(img->fd, &size) < 0) {
		err = -errno;
		pr_err("%s %s: cannot stat: %s", what, path, strerror(-err));
		close(img->fd);
		return err;
	}
	img->size = (uint64_t)size;
	return 0;
}

int bad_image(const struct boot_image *img, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pr_err("%s %s: %s", img->what, img->path, msg);
	return -ENOEXEC;
}

void boot_image_close(struct boot_image *img)
{
	close(img->fd);
	img->fd = -1;
}

int boot_image_read(struct boot_image *img, uint64_t off, void *buf, size_t len)
{
	if (off > img->size || len > img->size - off) {
		pr_err("%s %s: truncated (needs bytes up to %llu, file has %llu)", img->what,
		       img->path, (unsigned long long)(off + len), (unsigned long long)img->size);
		return -ENOEXEC;
	}
	if (mvm_pread_full(img->fd, buf, len, (off_t)off) < 0) {
		int err = -errno;

		pr_err("%s %s: read error: %s", img->what, img->path, strerror(-err));
		return err;
	}
	return 0;
}

unsigned int boot_memmap(const struct vm *vm, struct boot_mem_entry *e, unsigned int max)
{
	/* The list lock is the only thing written: the VM is not changed. */
	const struct mvm_fw_pci_host *pci = boot_pci_host((struct vm *)vm);
	const struct vm_memory *mem = &vm->mem;
	unsigned int i, n = 0;

	for (i = 0; i < mem->nr_regions && n + 3 <= max; i++) {
		const struct mem_region *r = &mem->regions[i];

		if (r->gpa == 0 && r->size > X86_HIGH_MEMORY) {
			/* Low RAM, the legacy hole (EBDA, VGA, BIOS), RAM above 1 MiB. */
			e[n++] = (struct boot_mem_entry){ 0, X86_EBDA_START, E820_RAM };
			e[n++] = (struct boot_mem_entry){ X86_EBDA_START,
							  X86_HIGH_MEMORY - X86_EBDA_START,
							  E820_RESERVED };
			e[n++] = (struct boot_mem_entry){ X86_HIGH_MEMORY,
							  r->size - X86_HIGH_MEMORY, E820_RAM };
		} else {
			e[n++] = (struct boot_mem_entry){ r->gpa, r->size, E820_RAM };
		}
		/* PCI's ECAM, after low RAM: Linux uses MMCONFIG only where e820 reserves it. */
		if (r->gpa == 0 && pci && n < max)
			e[n++] = (struct boot_mem_entry){ pci->ecam_base, pci->ecam_size,
							  E820_RESERVED };
	}
	/*
	 * Files mapped above RAM (virtio-pmem gives their address in its config
	 * space): reserved, so that nothing else is placed there and the guest
	 * may map them as device memory.
	 */
	for (i = 0; i < mem->nr_files && n < max; i++)
		if (mem->files[i].reserved)
			e[n++] = (struct boot_mem_entry){ mem->files[i].gpa, mem->files[i].size,
							  E820_RESERVED };
	return n;
}

uint64_t boot_low_ram_end(const struct vm *vm)
{
	const struct vm_memory *mem = &vm->mem;
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++)
		if (mem->regions[i].gpa == 0)
			return mem->regions[i].size;
	return 0;
}

int boot_cmdline_write(struct vm *vm, const char *path, bool linux_kernel, size_t max)
{
	const char *user = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	const char *def = linux_kernel && !vm->cfg.no_default_cmdline ? BOOT_LINUX_CMDLINE : "";
	char buf[BOOT_CMDLINE_MAX], mmio[BOOT_CMDLINE_MAX] = "", devs[BOOT_CMDLINE_MAX] = "";
	int len;

	/* A Linux kernel finds virtio-mmio devices on its command line, after the user's. */
	if (linux_kernel && boot_virtio_mmio_cmdline(vm, mmio, sizeof(mmio))) {
		pr_err("kernel %s: too many virtio-mmio devices for the command line", path);
		return -E2BIG;
	}
	/* The devices' parameters (a root device) go before the user's, who may override. */
	if (linux_kernel && boot_devices_cmdline(vm, devs, sizeof(devs))) {
		pr_err("kernel %s: the devices' parameters do not fit on the command line", path);
		return -E2BIG;
	}
	len = snprintf(buf, sizeof(buf), "%s%s%s%s%s%s%s", def, *def && *devs ? " " : "", devs,
		       (*def || *devs) && *user ? " " : "", user,
		       (*def || *devs || *user) && *mmio ? " " : "", mmio);
	if (len < 0 || (size_t)len + 1 > MIN(max, sizeof(buf))) {
		pr_err("kernel %s: command line too long (%d bytes, the kernel takes at most %zu)",
		       path, len, MIN(max, sizeof(buf)) - 1);
		return -E2BIG;
	}
	return mem_write(&vm->mem, BOOT_CMDLINE, buf, (size_t)len + 1);
}

int boot_initrd_load(struct vm *vm, uint64_t floor, uint64_t limit, uint64_t *addr, uint64_t *size)
{
	struct boot_image img;
	uint64_t top, start;
	void *dst;
	int err;

	*addr = *size = 0;
	if (!vm->cfg.initrd)
		return 0;
	err = boot_image_open(&img, "initrd", vm->cfg.initrd);
	if (err)
		return err;
	/* As high as RAM below the MMIO hole and the kernel's limit allow. */
	top = MIN(boot_low_ram_end(vm), limit);
	floor = ALIGN_UP(MAX(floor, X86_HIGH_MEMORY), 4096);
	if (img.size == 0) {
		pr_err("initrd %s: file is empty", img.path);
		err = -EINVAL;
		goto out;
	}
	if (top < floor || top - floor < img.size) {
		pr_err("initrd %s: %llu KiB do not fit in guest RAM above the kernel (%llu KiB "
		       "free below 0x%llx): give more --mem",
		       img.path, (unsigned long long)(img.size >> 10),
		       (unsigned long long)(top > floor ? (top - floor) >> 10 : 0),
		       (unsigned long long)top);
		err = -E2BIG;
		goto out;
	}
	start = (top - img.size) & ~4095ULL;
	dst = mem_ptr(&vm->mem, start, img.size);
	if (!dst) {
		pr_err("initrd %s: no guest RAM at 0x%llx", img.path, (unsigned long long)start);
		err = -E2BIG;
		goto out;
	}
	err = boot_image_read(&img, 0, dst, img.size);
	if (err)
		goto out;
	*addr = start;
	*size = img.size;
out:
	boot_image_close(&img);
	return err;
}

int boot_platform_tables(struct vm *vm, uint64_t *rsdp)
{
	int err = mptable_write(vm);

	if (err)
		return err;
	return acpi_write(vm, rsdp);
}

int arch_vm_load_kernel(struct vm *vm)
{
	struct boot_image img;
	int err;

	if (vm->cfg.firmware)
		return firmware_load(vm);
	if (!vm->cfg.kernel) {
		pr_err("no kernel given");
		return -EINVAL;
	}
	err = boot_image_open(&img, "kernel", vm->cfg.kernel);
	if (err)
		return err;
	if (pvh_probe(&img) > 0) {
		err = pvh_load(vm, &img);
	} else if (bzimage_probe(&img) > 0) {
		err = bzimage_load(vm, &img);
	} else {
		pr_err("kernel %s: not a bootable image (mvm boots a Linux bzImage or an ELF file "
		       "with a Xen PVH entry note)",
		       img.path);
		err = -ENOEXEC;
	}
	boot_image_close(&img);
	return err;
}
