// SPDX-License-Identifier: MIT
/*
 * Ring-3 start (guest_start), boot information, exit, ring-0 calls and the
 * unexpected-exception report.
 */
#include "guest.h"
#include "layout.h"

#define CMDLINE_MAX	  4096
#define BELOW_4G(pa, len) ((pa) != 0 && (pa) < (1ull << 32) && (len) <= (1ull << 32) - (pa))

/* runtime/tables.S: EBX at the PVH entry */
extern uint32_t guest_start_info_pa;

static char cmdline[CMDLINE_MAX];
/* cmdline again, each word NUL-terminated: guest_cmdline_get() points here */
static char words[CMDLINE_MAX];
static size_t words_len;

const struct hvm_start_info *guest_start_info(void)
{
	const struct hvm_start_info *si;

	si = (const void *)(uintptr_t)guest_start_info_pa;
	if (!si || si->magic != HVM_START_MAGIC_VALUE)
		return NULL;
	return si;
}

const char *guest_cmdline(void)
{
	return cmdline;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

static void cmdline_init(void)
{
	const struct hvm_start_info *si = guest_start_info();
	const char *src;
	size_t i;

	if (!si || !BELOW_4G(si->cmdline_paddr, CMDLINE_MAX))
		return;
	src = (const char *)(uintptr_t)si->cmdline_paddr;
	for (i = 0; i < CMDLINE_MAX - 1 && src[i]; i++)
		cmdline[i] = src[i];
	cmdline[i] = '\0';

	for (i = 0; cmdline[i]; i++)
		words[i] = is_space(cmdline[i]) ? '\0' : cmdline[i];
	words_len = i;
}

const char *guest_cmdline_get(const char *key)
{
	size_t klen = strlen(key);
	const char *found = NULL;
	size_t i = 0;

	/* walk the words; a later occurrence overrides an earlier one */
	while (i < words_len) {
		const char *w = &words[i];
		size_t wlen = strlen(w);

		if (wlen >= klen && !strncmp(w, key, klen)) {
			if (w[klen] == '=')
				found = w + klen + 1;
			else if (w[klen] == '\0')
				found = w + klen; /* bare key: "" */
		}
		i += wlen + 1;
	}
	return found;
}

unsigned long guest_cmdline_ulong(const char *key, unsigned long def)
{
	const char *v = guest_cmdline_get(key);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

const struct hvm_memmap_table_entry *guest_memmap(unsigned int *n)
{
	const struct hvm_start_info *si = guest_start_info();
	uint64_t len;

	*n = 0;
	if (!si || si->version < 1 || !si->memmap_entries)
		return NULL;
	len = (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_table_entry);
	if (!BELOW_4G(si->memmap_paddr, len))
		return NULL;
	*n = si->memmap_entries;
	return (const void *)(uintptr_t)si->memmap_paddr;
}

void guest_ring0_call(void (*fn)(void *), void *arg)
{
	if (guest_cpl() == 0) { /* already there (a ring-0 caller) */
		fn(arg);
		return;
	}
	/* ring0_call_entry (entry.S) calls fn(arg) and iretq's back */
	__asm__ volatile("int %[vec]"
			 : "+D"(fn), "+S"(arg)
			 : [vec] "i"(RING0_CALL_VECTOR)
			 : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
}

static void halt_forever(void *unused)
{
	(void)unused;
	for (;;)
		__asm__ volatile("cli; hlt");
}

void guest_exit(int code)
{
	outb(GUEST_EXIT_PORT, (uint8_t)code);
	/* the VMM did not stop us: park the vCPU */
	for (;;)
		guest_ring0_call(halt_forever, NULL);
}

/* Called by user_entry (entry.S) in ring 3 on the user stack. */
__attribute__((noreturn, used)) void guest_start(void);
void guest_start(void)
{
	cmdline_init();
	guest_exit(main());
}

/* What exc_common (entry.S) hands over: stub pushes, then the CPU's frame. */
struct guest_exc_frame {
	uint64_t vector;
	uint64_t error;
	uint64_t rip;
	uint64_t cs;
	uint64_t rflags;
	uint64_t rsp;
	uint64_t ss;
};

static const char exc_names[32][4] = {
	"DE", "DB", "NMI", "BP", "OF", "BR", "UD", "NM", "DF", "MP", "TS",
	"NP", "SS", "GP",  "PF", "15", "MF", "AC", "MC", "XM", "VE", "CP",
	"22", "23", "24",  "25", "26", "27", "HV", "VC", "SX", "31",
};

/* Ring 0, failure path: slow here (emulated) but runs once. */
__attribute__((noreturn, used)) void guest_exception(const struct guest_exc_frame *f);
void guest_exception(const struct guest_exc_frame *f)
{
	static bool reporting;
	unsigned int vec = f->vector & 31;
	uint64_t cr2;

	if (reporting) /* faulted while reporting: just leave */
		guest_exit(GUEST_EXC_STATUS_BASE + vec);
	reporting = true;

	printf("guest: unexpected exception vector=%u (#%s) error=0x%llx "
	       "rip=0x%llx cs=0x%llx rflags=0x%llx rsp=0x%llx",
	       vec, exc_names[vec], (unsigned long long)f->error, (unsigned long long)f->rip,
	       (unsigned long long)f->cs, (unsigned long long)f->rflags,
	       (unsigned long long)f->rsp);
	if (vec == 14) {
		__asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
		printf(" cr2=0x%llx", (unsigned long long)cr2);
	}
	printf("\n");
	guest_exit(GUEST_EXC_STATUS_BASE + vec);
}
