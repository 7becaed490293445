// SPDX-License-Identifier: MIT
/*
 * A raw firmware image (--firmware, as kvmtool's --firmware and QEMU's
 * -bios): the boot vCPU starts at the x86 reset vector, in real mode with
 * CS selector 0xf000, base 0xffff0000 and IP 0xfff0, so at 0xfffffff0. The
 * image is mapped read-only to end at 4 GiB, and copied into RAM to end at
 * 1 MiB where real-mode code finds itself after its first far jump (the
 * legacy BIOS area). mvm writes no boot data or firmware tables then: they
 * are the firmware's job.
 */
#include <errno.h>
#include <string.h>

#include "boot.h"
#include "mvm/log.h"
#include "mvm/vm.h"
#include "../x86.h"

#define FIRMWARE_OWNER "firmware"

void firmware_layout(uint64_t size, struct firmware_layout *l)
{
	l->rom_size = ALIGN_UP(size, SZ_4K);
	l->rom_gpa = SZ_4G - l->rom_size;
	l->image_off = l->rom_size - size;
	l->low_gpa = X86_HIGH_MEMORY - size;
}

int firmware_check(const struct boot_image *img)
{
	if (img->size < FIRMWARE_MIN_SIZE || img->size > FIRMWARE_MAX_SIZE)
		return bad_image(img,
				 "%llu bytes: a firmware image has %u bytes to %u KiB (it ends at "
				 "the reset vector and below 1 MiB)",
				 (unsigned long long)img->size, FIRMWARE_MIN_SIZE,
				 FIRMWARE_MAX_SIZE >> 10);
	return 0;
}

int firmware_map(struct vm *vm)
{
	struct firmware_layout l;
	const struct mem_file *rom;
	struct boot_image img;
	int err;

	err = boot_image_open(&img, "firmware", vm->cfg.firmware);
	if (err)
		return err;
	err = firmware_check(&img);
	if (err)
		goto out;
	firmware_layout(img.size, &l);
	rom = vm_memory_map_rom(&vm->mem, vm->vm_fd, l.rom_gpa, l.rom_size, FIRMWARE_OWNER);
	if (IS_ERR(rom)) {
		err = PTR_ERR(rom);
		pr_err("firmware %s: cannot map it below 4 GiB: %s", img.path, strerror(-err));
		goto out;
	}
	/* The slot is read-only to the guest; its host pages are filled here once. */
	err = boot_image_read(&img, 0, rom->hva + l.image_off, img.size);
	if (!err)
		vm->arch.firmware_size = img.size;
out:
	boot_image_close(&img);
	return err;
}

int firmware_load(struct vm *vm)
{
	const struct mem_file *rom = vm_memory_file(&vm->mem, FIRMWARE_OWNER);
	struct firmware_layout l;
	uint64_t size;
	int err;

	if (vm->cfg.kernel) {
		pr_err("a firmware image and a kernel: give one (the firmware loads its own)");
		return -EINVAL;
	}
	if (!rom)
		return -ENOENT;
	size = vm->arch.firmware_size;
	firmware_layout(size, &l);
	err = mem_write(&vm->mem, l.low_gpa, rom->hva + l.image_off, size);
	if (err) {
		pr_err("firmware %s: no guest RAM below 1 MiB for it", vm->cfg.firmware);
		return err;
	}
	vm->arch.boot = (struct x86_boot){ X86_BOOT_RESET, X86_RESET_VECTOR, 0 };
	return 0;
}
