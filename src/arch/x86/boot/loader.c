// SPDX-License-Identifier: MIT
/*
 * Boot images: recognise the format, hand it to its loader, and the helpers
 * every loader shares (reading the image with bounds checks, the memory
 * map, the command line). Every error is one line naming the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "boot.h"
#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "../x86.h"

int boot_image_open(struct boot_image *img, const char *path)
{
	off_t size;
	int err;

	img->path = path;
	img->fd = mvm_open(path, O_RDONLY);
	if (img->fd < 0) {
		err = -errno;
		pr_err("kernel %s: cannot open: %s", path, strerror(-err));
		return err;
	}
	if (mvm_fstat_size(img->fd, &size) < 0) {
		err = -errno;
		pr_err("kernel %s: cannot stat: %s", path, strerror(-err));
		close(img->fd);
		return err;
	}
	img->size = (uint64_t)size;
	return 0;
}

void boot_image_close(struct boot_image *img)
{
	close(img->fd);
	img->fd = -1;
}

int boot_image_read(struct boot_image *img, uint64_t off, void *buf, size_t len)
{
	if (off > img->size || len > img->size - off) {
		pr_err("kernel %s: truncated (needs bytes up to %llu, file has %llu)", img->path,
		       (unsigned long long)(off + len), (unsigned long long)img->size);
		return -ENOEXEC;
	}
	if (mvm_pread_full(img->fd, buf, len, (off_t)off) < 0) {
		int err = -errno;

		pr_err("kernel %s: read error: %s", img->path, strerror(-err));
		return err;
	}
	return 0;
}

unsigned int boot_memmap(const struct vm *vm, struct boot_mem_entry *e, unsigned int max)
{
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
	}
	return n;
}

int boot_cmdline_write(struct vm *vm, const char *path)
{
	const char *cmdline = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	size_t len = strlen(cmdline) + 1;

	if (len > BOOT_CMDLINE_MAX) {
		pr_err("kernel %s: command line too long (%zu bytes, at most %d)", path, len - 1,
		       BOOT_CMDLINE_MAX - 1);
		return -E2BIG;
	}
	return mem_write(&vm->mem, BOOT_CMDLINE, cmdline, len);
}

int arch_vm_load_kernel(struct vm *vm)
{
	struct boot_image img;
	int err;

	if (!vm->cfg.kernel) {
		pr_err("no kernel given");
		return -EINVAL;
	}
	err = boot_image_open(&img, vm->cfg.kernel);
	if (err)
		return err;
	if (pvh_probe(&img) > 0) {
		err = pvh_load(vm, &img);
	} else {
		pr_err("kernel %s: not a bootable image (mvm boots ELF files with a Xen PVH entry "
		       "note)",
		       img.path);
		err = -ENOEXEC;
	}
	boot_image_close(&img);
	return err;
}
