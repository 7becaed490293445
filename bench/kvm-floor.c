// SPDX-License-Identifier: MIT
/*
 * kvm-floor - run a PVH ELF guest the cheapest way KVM allows.
 *
 * This is the floor that mvm's boot and exit costs are compared against: one
 * VM, one memory slot, one vCPU, no irqchip, no PIT, no devices.  It knows
 * just enough to run mvm's test guests:
 *
 *   out 0x3f8      byte goes to stdout (COM1 transmit)
 *   in  0x3fd      0x60 (COM1 line status: transmitter empty)
 *   out 0xf4       exit with the value written as status (debug-exit)
 *   other in/MMIO  reads return all-ones, writes are dropped
 *
 * Any other exit (HLT, SHUTDOWN, INTERNAL_ERROR, ...) is reported on stderr
 * with the vCPU's RIP, and the program exits with status 1.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o kvm-floor kvm-floor.c
 * Run:   ./kvm-floor [--mem MiB] [--time] FILE.elf
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define TSS_ADDR    0xfffbd000UL
#define MAX_MEM_MIB 3072 /* RAM stays below the 32-bit hole */

/* Boot data page(s): GDT at 0x5000, start info + memmap + cmdline at 0x6000. */
#define BOOT_DATA_START 0x5000UL
#define BOOT_DATA_END	0x7000UL
#define GDT_ADDR	0x5000UL
#define START_INFO_ADDR 0x6000UL
#define MEMMAP_ADDR	0x6040UL
#define CMDLINE_ADDR	0x6080UL

#define SEL_CODE 0x08
#define SEL_DATA 0x10
#define SEL_TSS	 0x18

#define PORT_COM1     0x3f8
#define PORT_COM1_LSR 0x3fd
#define PORT_EXIT     0xf4

/* Xen PVH start-of-day ABI (xen/include/public/arch-x86/hvm/start_info.h) */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC		 0x336ec578u

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr; /* version >= 1 */
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

_Static_assert(sizeof(struct hvm_start_info) == 56, "hvm_start_info");
_Static_assert(sizeof(struct hvm_memmap_entry) == 24, "memmap entry");
_Static_assert(START_INFO_ADDR + sizeof(struct hvm_start_info) <= MEMMAP_ADDR,
	       "start info overlaps memmap");
_Static_assert(MEMMAP_ADDR + sizeof(struct hvm_memmap_entry) <= CMDLINE_ADDR,
	       "memmap overlaps cmdline");

struct floor {
	int kvm, vm, vcpu;
	uint8_t *mem;
	size_t mem_size;
	struct kvm_run *run;
	long run_size;
	uint32_t entry;
	unsigned long exits;
};

static void die_errno(const char *what)
{
	fprintf(stderr, "kvm-floor: %s: %s\n", what, strerror(errno));
}

/* Is [off, off + len) inside a buffer of @size bytes?  Overflow-safe. */
static bool in_bounds(uint64_t off, uint64_t len, uint64_t size)
{
	return off <= size && len <= size - off;
}

/* ---- ELF loading ---- */

/* Find the XEN_ELFNOTE_PHYS32_ENTRY note in one PT_NOTE segment. */
static int find_pvh_entry(const uint8_t *note, uint64_t len, uint32_t *entry)
{
	uint64_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		const Elf64_Nhdr *nh = (const void *)(note + off);
		uint64_t name_off = off + sizeof(*nh);
		uint64_t name_len = ((uint64_t)nh->n_namesz + 3) & ~3ULL;
		uint64_t desc_off = name_off + name_len;
		uint64_t desc_len = ((uint64_t)nh->n_descsz + 3) & ~3ULL;

		if (!in_bounds(name_off, name_len, len) || !in_bounds(desc_off, desc_len, len))
			return -1;
		if (nh->n_namesz == 4 && !memcmp(note + name_off, "Xen", 4) &&
		    nh->n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh->n_descsz >= 4) {
			/* 4 bytes; an 8-byte note holds it in its low half. */
			memcpy(entry, note + desc_off, 4);
			return 0;
		}
		off = desc_off + desc_len;
	}
	return -1;
}

static int load_phdr(struct floor *f, const uint8_t *img, size_t size, const Elf64_Phdr *ph,
		     bool *have_entry)
{
	if (ph->p_type == PT_NOTE) {
		if (!in_bounds(ph->p_offset, ph->p_filesz, size)) {
			fprintf(stderr, "kvm-floor: PT_NOTE outside the file\n");
			return -1;
		}
		if (!*have_entry && !find_pvh_entry(img + ph->p_offset, ph->p_filesz, &f->entry))
			*have_entry = true;
		return 0;
	}
	if (ph->p_type != PT_LOAD || !ph->p_memsz)
		return 0;

	if (ph->p_filesz > ph->p_memsz || !in_bounds(ph->p_offset, ph->p_filesz, size) ||
	    !in_bounds(ph->p_paddr, ph->p_memsz, f->mem_size)) {
		fprintf(stderr, "kvm-floor: bad PT_LOAD at paddr 0x%llx\n",
			(unsigned long long)ph->p_paddr);
		return -1;
	}
	/* The boot data page(s) must stay ours. */
	if (ph->p_paddr < BOOT_DATA_END && ph->p_paddr + ph->p_memsz > BOOT_DATA_START) {
		fprintf(stderr, "kvm-floor: PT_LOAD overlaps boot data at 0x%lx\n",
			BOOT_DATA_START);
		return -1;
	}
	memcpy(f->mem + ph->p_paddr, img + ph->p_offset, ph->p_filesz);
	/* Anonymous memory is zero already; a re-used page would not be. */
	memset(f->mem + ph->p_paddr + ph->p_filesz, 0, ph->p_memsz - ph->p_filesz);
	return 0;
}

static int load_elf_image(struct floor *f, const uint8_t *img, size_t size)
{
	const Elf64_Ehdr *eh = (const void *)img;
	bool have_entry = false;
	unsigned int i;

	if (size < sizeof(*eh) || memcmp(eh->e_ident, ELFMAG, SELFMAG) ||
	    eh->e_ident[EI_CLASS] != ELFCLASS64 || eh->e_ident[EI_DATA] != ELFDATA2LSB ||
	    eh->e_machine != EM_X86_64) {
		fprintf(stderr, "kvm-floor: not an x86-64 ELF64 file\n");
		return -1;
	}
	if (eh->e_phentsize != sizeof(Elf64_Phdr) ||
	    !in_bounds(eh->e_phoff, (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr), size)) {
		fprintf(stderr, "kvm-floor: bad program header table\n");
		return -1;
	}
	for (i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;

		/* e_phoff need not be aligned: copy, do not cast. */
		memcpy(&ph, img + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (load_phdr(f, img, size, &ph, &have_entry))
			return -1;
	}
	if (!have_entry) {
		fprintf(stderr, "kvm-floor: no Xen PHYS32_ENTRY note (not PVH)\n");
		return -1;
	}
	return 0;
}

static int load_elf(struct floor *f, const char *path)
{
	struct stat st;
	void *img;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		die_errno(path);
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		die_errno("fstat");
		goto out_close;
	}
	if (st.st_size == 0) {
		fprintf(stderr, "kvm-floor: %s: empty file\n", path);
		goto out_close;
	}
	img = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (img == MAP_FAILED) {
		die_errno("mmap ELF");
		goto out_close;
	}
	ret = load_elf_image(f, img, st.st_size);
	munmap(img, st.st_size);
out_close:
	close(fd);
	return ret;
}

/* ---- boot data and vCPU state (PVH: 32-bit protected mode, no paging) ---- */

static void write_boot_data(struct floor *f)
{
	/* null, flat 32-bit code, flat data, busy 32-bit TSS (base 0, limit 0x67) */
	static const uint64_t gdt[] = {
		0,
		0x00cf9b000000ffffULL,
		0x00cf93000000ffffULL,
		0x00008b0000000067ULL,
	};
	struct hvm_start_info si = {
		.magic = HVM_START_MAGIC,
		.version = 1,
		.cmdline_paddr = CMDLINE_ADDR,
		.memmap_paddr = MEMMAP_ADDR,
		.memmap_entries = 1,
	};
	struct hvm_memmap_entry ram = {
		.addr = 0, .size = f->mem_size, .type = 1, /* RAM */
	};

	memcpy(f->mem + GDT_ADDR, gdt, sizeof(gdt));
	memcpy(f->mem + START_INFO_ADDR, &si, sizeof(si));
	memcpy(f->mem + MEMMAP_ADDR, &ram, sizeof(ram));
	f->mem[CMDLINE_ADDR] = '\0'; /* empty command line */
}

static void flat_segment(struct kvm_segment *s, uint16_t sel, uint8_t type)
{
	*s = (struct kvm_segment){
		.base = 0,
		.limit = 0xffffffff,
		.selector = sel,
		.type = type,
		.present = 1,
		.db = 1,
		.s = 1,
		.g = 1,
	};
}

static int set_vcpu_state(struct floor *f)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = {
		.rflags = 0x2,
		.rip = f->entry,
		.rbx = START_INFO_ADDR,
	};

	if (ioctl(f->vcpu, KVM_GET_SREGS, &sregs) < 0) {
		die_errno("KVM_GET_SREGS");
		return -1;
	}
	flat_segment(&sregs.cs, SEL_CODE, 0xb); /* exec/read, accessed */
	flat_segment(&sregs.ds, SEL_DATA, 0x3); /* read/write, accessed */
	sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
	/* VMX refuses to enter with anything but a busy TSS in TR. */
	sregs.tr = (struct kvm_segment){
		.base = 0,
		.limit = 0x67,
		.selector = SEL_TSS,
		.type = 11,
		.present = 1,
	};
	sregs.gdt.base = GDT_ADDR;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.cr0 = 0x11; /* PE | ET */
	sregs.cr3 = 0;
	sregs.cr4 = 0;
	sregs.efer = 0;

	if (ioctl(f->vcpu, KVM_SET_SREGS, &sregs) < 0) {
		die_errno("KVM_SET_SREGS");
		return -1;
	}
	if (ioctl(f->vcpu, KVM_SET_REGS, &regs) < 0) {
		die_errno("KVM_SET_REGS");
		return -1;
	}
	return 0;
}

/* Hand the guest what KVM supports, unfiltered. */
static int set_cpuid(struct floor *f)
{
	struct kvm_cpuid2 *cpuid;
	/* KVM's own limit (KVM_MAX_CPUID_ENTRIES): one call, no E2BIG retry. */
	int nent = 256, ret = -1;

	for (;;) {
		cpuid = calloc(1, sizeof(*cpuid) + nent * sizeof(struct kvm_cpuid_entry2));
		if (!cpuid) {
			die_errno("calloc");
			return -1;
		}
		cpuid->nent = nent;
		if (!ioctl(f->kvm, KVM_GET_SUPPORTED_CPUID, cpuid))
			break;
		free(cpuid);
		if (errno != E2BIG || nent >= 4096) {
			die_errno("KVM_GET_SUPPORTED_CPUID");
			return -1;
		}
		nent *= 2;
	}
	if (ioctl(f->vcpu, KVM_SET_CPUID2, cpuid) < 0)
		die_errno("KVM_SET_CPUID2");
	else
		ret = 0;
	free(cpuid);
	return ret;
}

/* ---- VM life cycle ---- */

static int floor_create(struct floor *f, const char *path)
{
	struct kvm_userspace_memory_region region = { .slot = 0 };

	f->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (f->kvm < 0) {
		die_errno("/dev/kvm");
		return -1;
	}
	if (ioctl(f->kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		fprintf(stderr, "kvm-floor: unexpected KVM API version\n");
		goto err_kvm;
	}
	f->run_size = ioctl(f->kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (f->run_size < (long)sizeof(struct kvm_run)) {
		die_errno("KVM_GET_VCPU_MMAP_SIZE");
		goto err_kvm;
	}

	f->vm = ioctl(f->kvm, KVM_CREATE_VM, 0);
	if (f->vm < 0) {
		die_errno("KVM_CREATE_VM");
		goto err_kvm;
	}
	/* Intel needs three pages for the real-mode TSS; harmless elsewhere. */
	if (ioctl(f->vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0) {
		die_errno("KVM_SET_TSS_ADDR");
		goto err_vm;
	}

	f->mem = mmap(NULL, f->mem_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->mem == MAP_FAILED) {
		die_errno("mmap guest memory");
		goto err_vm;
	}
	region.memory_size = f->mem_size;
	region.userspace_addr = (uintptr_t)f->mem;
	if (ioctl(f->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
		die_errno("KVM_SET_USER_MEMORY_REGION");
		goto err_mem;
	}

	if (load_elf(f, path))
		goto err_mem;
	write_boot_data(f);

	f->vcpu = ioctl(f->vm, KVM_CREATE_VCPU, 0);
	if (f->vcpu < 0) {
		die_errno("KVM_CREATE_VCPU");
		goto err_mem;
	}
	f->run = mmap(NULL, f->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, f->vcpu, 0);
	if (f->run == MAP_FAILED) {
		die_errno("mmap kvm_run");
		goto err_vcpu;
	}
	if (set_cpuid(f) || set_vcpu_state(f))
		goto err_run;
	return 0;

err_run:
	munmap(f->run, f->run_size);
err_vcpu:
	close(f->vcpu);
err_mem:
	munmap(f->mem, f->mem_size);
err_vm:
	close(f->vm);
err_kvm:
	close(f->kvm);
	return -1;
}

/* The mirror of floor_create(): vCPU, VM, then the memory behind it. */
static void floor_destroy(struct floor *f)
{
	munmap(f->run, f->run_size);
	close(f->vcpu);
	close(f->vm);
	munmap(f->mem, f->mem_size);
	close(f->kvm);
}

/* ---- exits ---- */

static const char *exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "EXCEPTION",
		[KVM_EXIT_IO] = "IO",
		[KVM_EXIT_HYPERCALL] = "HYPERCALL",
		[KVM_EXIT_DEBUG] = "DEBUG",
		[KVM_EXIT_HLT] = "HLT",
		[KVM_EXIT_MMIO] = "MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "SHUTDOWN (triple fault)",
		[KVM_EXIT_FAIL_ENTRY] = "FAIL_ENTRY",
		[KVM_EXIT_INTR] = "INTR",
		[KVM_EXIT_SET_TPR] = "SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "TPR_ACCESS",
		[KVM_EXIT_INTERNAL_ERROR] = "INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "SYSTEM_EVENT",
	};

	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "?";
}

/* Port I/O.  Returns -1 to go on running, else the exit status. */
static int handle_io(struct floor *f)
{
	struct kvm_run *run = f->run;
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	size_t len = (size_t)run->io.size * run->io.count;
	uint32_t i, val = 0;

	if (run->io.direction == KVM_EXIT_IO_IN) {
		memset(data, 0xff, len);
		if (run->io.port == PORT_COM1_LSR && run->io.size == 1)
			memset(data, 0x60, len); /* THR and TSR empty */
		return -1;
	}
	switch (run->io.port) {
	case PORT_COM1:
		for (i = 0; i < run->io.count; i++)
			putchar(data[i * run->io.size]);
		return -1;
	case PORT_EXIT:
		/* The first (only) value; little-endian, 1 to 4 bytes. */
		memcpy(&val, data, run->io.size < 4 ? run->io.size : 4);
		return val & 0xff;
	default:
		return -1;
	}
}

static void report_exit(struct floor *f)
{
	struct kvm_run *run = f->run;
	struct kvm_sregs sregs;
	struct kvm_regs regs;

	fflush(stdout);
	fprintf(stderr, "kvm-floor: unhandled exit %u (%s)", run->exit_reason,
		exit_name(run->exit_reason));
	if (!ioctl(f->vcpu, KVM_GET_REGS, &regs))
		fprintf(stderr, " rip=0x%llx rsp=0x%llx rflags=0x%llx",
			(unsigned long long)regs.rip, (unsigned long long)regs.rsp,
			(unsigned long long)regs.rflags);
	if (!ioctl(f->vcpu, KVM_GET_SREGS, &sregs))
		fprintf(stderr, " cs=0x%x cr0=0x%llx efer=0x%llx", sregs.cs.selector,
			(unsigned long long)sregs.cr0, (unsigned long long)sregs.efer);
	switch (run->exit_reason) {
	case KVM_EXIT_INTERNAL_ERROR:
		fprintf(stderr, " suberror=%u", run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		fprintf(stderr, " hardware_entry_failure_reason=0x%llx",
			(unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	}
	fprintf(stderr, "\n");
}

/* Run until the guest writes the exit port.  Returns the exit status. */
static int run_guest(struct floor *f)
{
	struct kvm_run *run = f->run;
	int status;

	for (;;) {
		if (ioctl(f->vcpu, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			fflush(stdout);
			die_errno("KVM_RUN");
			return 1;
		}
		f->exits++;

		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			status = handle_io(f);
			if (status >= 0)
				return status;
			break;
		case KVM_EXIT_MMIO:
			if (!run->mmio.is_write)
				memset(run->mmio.data, 0xff, run->mmio.len);
			break;
		default:
			report_exit(f);
			return 1;
		}
	}
}

static double elapsed_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_nsec - a->tv_nsec) / 1e3;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: kvm-floor [--mem MiB] [--time] FILE.elf\n"
		"  --mem MiB  guest RAM, 1..%d (default 128)\n"
		"  --time     print setup/run times and the exit count on stderr\n",
		MAX_MEM_MIB);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = { { "mem", required_argument, NULL, 'm' },
					      { "time", no_argument, NULL, 't' },
					      { "help", no_argument, NULL, 'h' },
					      { 0 } };
	struct floor f = { .mem_size = 128UL << 20 };
	struct timespec t0, t1, t2, t3;
	bool timing = false;
	unsigned long mib;
	char *end;
	int opt, status;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while ((opt = getopt_long(argc, argv, "m:th", opts, NULL)) != -1) {
		switch (opt) {
		case 'm':
			errno = 0;
			mib = strtoul(optarg, &end, 0);
			if (errno || *end || !mib || mib > MAX_MEM_MIB) {
				usage();
				return 2;
			}
			f.mem_size = mib << 20;
			break;
		case 't':
			timing = true;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage();
		return 2;
	}
	/*
	 * A write per byte, as a VMM's UART does (mvm's too): "first output"
	 * then compares like with like.
	 */
	setvbuf(stdout, NULL, _IONBF, 0);

	if (floor_create(&f, argv[optind]))
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	status = run_guest(&f);
	clock_gettime(CLOCK_MONOTONIC, &t2);
	fflush(stdout);
	floor_destroy(&f);
	clock_gettime(CLOCK_MONOTONIC, &t3);

	if (timing)
		fprintf(stderr,
			"kvm-floor: setup %.0f us, run %.0f us "
			"(%lu exits), teardown %.0f us, status %d\n",
			elapsed_us(&t0, &t1), elapsed_us(&t1, &t2), f.exits, elapsed_us(&t2, &t3),
			status);
	return status;
}
