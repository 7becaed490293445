// SPDX-License-Identifier: MIT
/*
 * PVH boot (the Xen PVH start-of-day ABI, as QEMU's -kernel and Linux's
 * CONFIG_PVH use it): an ELF file whose PT_NOTE holds XEN_ELFNOTE_PHYS32_ENTRY,
 * either ELF64 for x86-64 or ELF32 for i386 (as QEMU takes both); the
 * 32-bit headers are widened to their 64-bit form on reading.
 * Its PT_LOAD segments go to their physical addresses; the boot vCPU starts
 * in 32-bit protected mode, paging off, EBX = struct hvm_start_info.
 *
 * The image is untrusted: every offset and size is checked against the file
 * and every destination against guest RAM before a byte is copied.
 */
#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "boot.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC		 0x336ec578U
#define PVH_MAX_PHDRS		 64
#define PVH_MAX_NOTES_SIZE	 65536

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version 1 on */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info layout");
_Static_assert(sizeof(struct hvm_modlist_entry) == 32, "modlist entry layout");
_Static_assert(BOOT_START_INFO + sizeof(struct hvm_start_info) <= BOOT_MODLIST,
	       "start info and module list overlap");
_Static_assert(sizeof(struct hvm_memmap_table_entry) == 24, "memmap entry layout");

int pvh_probe(struct boot_image *img)
{
	unsigned char magic[SELFMAG];

	if (img->size < SELFMAG)
		return 0;
	if (boot_image_read(img, 0, magic, SELFMAG))
		return -EIO;
	return memcmp(magic, ELFMAG, SELFMAG) == 0;
}

/* The file header, either class, as its 64-bit form. 0 or -errno (one line printed). */
static int pvh_read_ehdr(struct boot_image *img, Elf64_Ehdr *eh)
{
	unsigned char ident[EI_NIDENT];
	Elf32_Ehdr e32;
	int err;

	err = boot_image_read(img, 0, ident, sizeof(ident));
	if (err)
		return err;
	if (ident[EI_CLASS] == ELFCLASS64)
		return boot_image_read(img, 0, eh, sizeof(*eh));
	if (ident[EI_CLASS] != ELFCLASS32)
		return bad_image(img, "not a 32- or 64-bit ELF file (ELF class %u)",
				 ident[EI_CLASS]);
	err = boot_image_read(img, 0, &e32, sizeof(e32));
	if (err)
		return err;
	memset(eh, 0, sizeof(*eh));
	memcpy(eh->e_ident, e32.e_ident, EI_NIDENT);
	eh->e_type = e32.e_type;
	eh->e_machine = e32.e_machine;
	eh->e_version = e32.e_version;
	eh->e_entry = e32.e_entry;
	eh->e_phoff = e32.e_phoff;
	eh->e_flags = e32.e_flags;
	eh->e_phnum = e32.e_phnum;
	/* Checked as the 32-bit size; the table is widened when read. */
	eh->e_phentsize = e32.e_phentsize == sizeof(Elf32_Phdr) ? sizeof(Elf64_Phdr) : 0;
	return 0;
}

static int pvh_check_ehdr(struct boot_image *img, const Elf64_Ehdr *eh)
{
	bool is64 = eh->e_ident[EI_CLASS] == ELFCLASS64;

	if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
		return bad_image(img, "not a little-endian ELF file");
	if (is64 && eh->e_machine != EM_X86_64)
		return bad_image(img, "a 64-bit ELF file for machine %u, not x86-64 (%u)",
				 eh->e_machine, EM_X86_64);
	if (!is64 && eh->e_machine != EM_386)
		return bad_image(img, "a 32-bit ELF file for machine %u, not i386 (%u)",
				 eh->e_machine, EM_386);
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN)
		return bad_image(img, "ELF file is not an executable (type %u)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr) || eh->e_phnum == 0 ||
	    eh->e_phnum > PVH_MAX_PHDRS)
		return bad_image(img, "bad ELF program header table (%u entries)", eh->e_phnum);
	return 0;
}

/* The program headers, either class, as their 64-bit form. 0 or -errno. */
static int pvh_read_phdrs(struct boot_image *img, const Elf64_Ehdr *eh, Elf64_Phdr *ph)
{
	Elf32_Phdr p32[PVH_MAX_PHDRS];
	unsigned int i;
	int err;

	if (eh->e_ident[EI_CLASS] == ELFCLASS64)
		return boot_image_read(img, eh->e_phoff, ph, eh->e_phnum * sizeof(*ph));
	err = boot_image_read(img, eh->e_phoff, p32, eh->e_phnum * sizeof(*p32));
	if (err)
		return err;
	for (i = 0; i < eh->e_phnum; i++)
		ph[i] = (Elf64_Phdr){
			.p_type = p32[i].p_type,
			.p_flags = p32[i].p_flags,
			.p_offset = p32[i].p_offset,
			.p_vaddr = p32[i].p_vaddr,
			.p_paddr = p32[i].p_paddr,
			.p_filesz = p32[i].p_filesz,
			.p_memsz = p32[i].p_memsz,
			.p_align = p32[i].p_align,
		};
	return 0;
}

/*
 * Looks through one PT_NOTE segment for the PHYS32_ENTRY note (sets *entry)
 * and for notes named "Linux" (sets *linux_kernel). 0 or -errno.
 */
static int pvh_scan_notes(struct boot_image *img, const Elf64_Phdr *ph, uint64_t *entry,
			  bool *found, bool *linux_kernel)
{
	uint8_t *notes;
	uint64_t off = 0;
	int ret = 0;

	if (ph->p_filesz > PVH_MAX_NOTES_SIZE)
		return bad_image(img, "ELF note segment too large (%llu bytes)",
				 (unsigned long long)ph->p_filesz);
	notes = mvm_zalloc(ph->p_filesz + 1);
	if (!notes)
		return -ENOMEM;
	ret = boot_image_read(img, ph->p_offset, notes, ph->p_filesz);
	if (ret)
		goto out;
	while (ph->p_filesz - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		uint64_t name_off, desc_off, next;

		memcpy(&nh, notes + off, sizeof(nh));
		name_off = off + sizeof(nh);
		desc_off = name_off + ALIGN_UP((uint64_t)nh.n_namesz, 4);
		next = desc_off + ALIGN_UP((uint64_t)nh.n_descsz, 4);
		if (next > ph->p_filesz) {
			ret = bad_image(img, "malformed ELF note at offset %llu",
					(unsigned long long)(ph->p_offset + off));
			goto out;
		}
		if (nh.n_namesz == 6 && !memcmp(notes + name_off, "Linux", 6))
			*linux_kernel = true;
		if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
		    !memcmp(notes + name_off, "Xen", 4) && !*found) {
			uint64_t v = 0;

			if (nh.n_descsz != 4 && nh.n_descsz != 8) {
				ret = bad_image(img, "PVH entry note has %u bytes, not 4 or 8",
						nh.n_descsz);
				goto out;
			}
			memcpy(&v, notes + desc_off, nh.n_descsz);
			*entry = v;
			*found = true;
		}
		off = next;
	}
out:
	free(notes);
	return ret;
}

static int pvh_load_segment(struct vm *vm, struct boot_image *img, const Elf64_Phdr *ph)
{
	uint8_t *dst;

	if (ph->p_filesz > ph->p_memsz)
		return bad_image(img, "ELF segment at 0x%llx has more file than memory bytes",
				 (unsigned long long)ph->p_paddr);
	dst = mem_ptr(&vm->mem, ph->p_paddr, ph->p_memsz);
	if (!dst)
		return bad_image(img,
				 "ELF segment 0x%llx-0x%llx does not fit in guest RAM (%llu MiB): "
				 "give more --mem",
				 (unsigned long long)ph->p_paddr,
				 (unsigned long long)(ph->p_paddr + ph->p_memsz),
				 (unsigned long long)(vm->cfg.mem_size >> 20));
	if (ph->p_paddr < BOOT_DATA_END && ph->p_paddr + ph->p_memsz > BOOT_DATA_START)
		return bad_image(img,
				 "ELF segment at 0x%llx overlaps mvm's boot data (0x%llx-0x%llx)",
				 (unsigned long long)ph->p_paddr, BOOT_DATA_START, BOOT_DATA_END);
	memset(dst + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return boot_image_read(img, ph->p_offset, dst, ph->p_filesz);
}

static int pvh_write_start_info(struct vm *vm, struct boot_image *img, bool linux_kernel,
				uint64_t image_end)
{
	struct boot_mem_entry map[BOOT_MEMMAP_MAX];
	struct hvm_memmap_table_entry e;
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = BOOT_CMDLINE,
		.memmap_paddr = BOOT_MEMMAP,
	};
	struct hvm_modlist_entry mod = { 0 };
	unsigned int i, n;
	int err;

	err = boot_cmdline_write(vm, img->path, linux_kernel, BOOT_CMDLINE_MAX);
	if (err)
		return err;
	/* The initrd is module 0, as Linux's PVH entry expects. */
	err = boot_initrd_load(vm, image_end, SZ_4G, &mod.paddr, &mod.size);
	if (err)
		return err;
	if (mod.size) {
		err = mem_write(&vm->mem, BOOT_MODLIST, &mod, sizeof(mod));
		if (err)
			return err;
		si.nr_modules = 1;
		si.modlist_paddr = BOOT_MODLIST;
	}
	err = boot_platform_tables(vm, &si.rsdp_paddr);
	if (err)
		return err;
	n = boot_memmap(vm, map, ARRAY_SIZE(map));
	for (i = 0; i < n; i++) {
		e = (struct hvm_memmap_table_entry){ map[i].addr, map[i].size, map[i].type, 0 };
		err = mem_write(&vm->mem, BOOT_MEMMAP + i * sizeof(e), &e, sizeof(e));
		if (err)
			return err;
	}
	si.memmap_entries = n;
	return mem_write(&vm->mem, BOOT_START_INFO, &si, sizeof(si));
}

int pvh_load(struct vm *vm, struct boot_image *img)
{
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	uint64_t entry = 0, image_end = 0;
	bool found = false, linux_kernel = false;
	unsigned int i;
	int err;

	err = pvh_read_ehdr(img, &eh);
	if (err)
		return err;
	err = pvh_check_ehdr(img, &eh);
	if (err)
		return err;
	ph = mvm_calloc(eh.e_phnum, sizeof(*ph));
	if (!ph)
		return -ENOMEM;
	err = pvh_read_phdrs(img, &eh, ph);
	if (err)
		goto out;

	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_NOTE)
			continue;
		err = pvh_scan_notes(img, &ph[i], &entry, &found, &linux_kernel);
		if (err)
			goto out;
	}
	if (!found) {
		err = bad_image(img,
				"ELF file has no Xen PVH entry note (XEN_ELFNOTE_PHYS32_ENTRY)");
		goto out;
	}
	if (!mem_ptr(&vm->mem, entry, 1) || entry >= SZ_4G) {
		err = bad_image(img, "PVH entry 0x%llx is not in guest RAM below 4 GiB",
				(unsigned long long)entry);
		goto out;
	}
	for (i = 0; i < eh.e_phnum; i++) {
		if (ph[i].p_type != PT_LOAD || ph[i].p_memsz == 0)
			continue;
		err = pvh_load_segment(vm, img, &ph[i]);
		if (err)
			goto out;
		image_end = MAX(image_end, ph[i].p_paddr + ph[i].p_memsz);
	}
	err = pvh_write_start_info(vm, img, linux_kernel, image_end);
	if (err)
		goto out;
	vm->arch.boot = (struct x86_boot){ X86_BOOT_PVH32, entry, BOOT_START_INFO };
out:
	free(ph);
	return err;
}
