// SPDX-License-Identifier: MIT
/*
 * srcu-order - time raw KVM VM life cycles built and torn down in different
 * orders, to find the order that waits least for SRCU grace periods.
 *
 * Several KVM ioctls change an SRCU-protected table (memory slots, I/O
 * buses, IRQ routing).  KVM_SET_USER_MEMORY_REGION waits for a grace period
 * of kvm->srcu (synchronize_srcu_expedited).  Since Linux 6.18 (commit
 * 7d9a0273c459), registering an I/O-bus device (the PIC and IOAPIC of
 * KVM_CREATE_IRQCHIP, the PIT, every KVM_IOEVENTFD) no longer waits: it
 * frees the old bus with call_srcu(), a normal, slow grace period.  The wait
 * does not go away, it moves: a later memory slot waits for that pending
 * grace period (several ms on a nested host) and so does the VM's destroy
 * (KVM waits for pending callbacks before it frees the srcu_struct), unless
 * the VM lived long enough for the grace period to end on its own.
 *
 * This program builds the same small VM (128 MiB memfd RAM, one vCPU) in
 * several orders and reports min/median/max per step and per phase.
 *
 * Variants are interleaved within every repetition (and their order rotated
 * from one repetition to the next) so that machine noise hits all of them
 * alike.
 *
 * Build: gcc -std=gnu11 -O2 -Wall -Wextra -Werror -o srcu-order srcu-order.c
 * Run:   ./srcu-order [-n REPS] [-p MS] [-v VARIANTS]   (needs /dev/kvm)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#define RAM_SIZE     (128UL << 20)
#define HIGH_SIZE    (64UL << 20)
#define HIGH_GPA     (4UL << 30)
#define TSS_ADDR     0xfffbd000UL
#define IDMAP_ADDR   0xfffbc000UL
#define IOEVENT_BASE 0xd0000000UL /* MMIO notify addresses, 4 KiB apart */
#define MAX_IOEVENTS 4
#define MAX_STEPS    24

/* What one variant does differently from the baseline (variant A). */
struct variant {
	char id;
	const char *what;
	bool mem_first; /* memory slot before KVM_CREATE_IRQCHIP */
	bool pit;	/* KVM_CREATE_PIT2 right after the irqchip */
	bool split;	/* KVM_CAP_SPLIT_IRQCHIP (24 IOAPIC pins) instead of KVM_CREATE_IRQCHIP */
	bool routes;	/* split: one KVM_SET_GSI_ROUTING of 24 pin MSI routes after the vCPU */
	bool high_slot; /* second memory slot right after slot 0 */
	int ioevents;	/* ioeventfds registered after the vCPU */
	bool runs;	/* sleep pause_ms (untimed) before teardown */
	char teardown;	/* 'A', 'C' or 'D', see teardown() */
};

/* How long variant H lets its VM "run" between create and teardown. */
static int pause_ms = 50;

static const struct variant variants[] = {
	{ 'A', "irqchip, slot0, vcpu; close vcpu, vm, then RAM", .teardown = 'A' },
	{ 'B', "slot0, irqchip, vcpu; as A", .mem_first = true, .teardown = 'A' },
	{ 'C', "as A; RAM unmapped before the VM fd is closed", .teardown = 'C' },
	{ 'D', "as A; VM fd closed first, vCPU close destroys", .teardown = 'D' },
	{ 'E', "as A + KVM_CREATE_PIT2 after the irqchip", .pit = true, .teardown = 'A' },
	{ 'F', "as A + slot1 (64 MiB @4 GiB) after slot0", .high_slot = true, .teardown = 'A' },
	{ 'H', "as B + 4 ioeventfds; idle -p ms (untimed) before teardown", .mem_first = true,
	  .ioevents = 4, .runs = true, .teardown = 'A' },
	{ 'I', "as A + 1 ioeventfd after the vcpu", .ioevents = 1, .teardown = 'A' },
	{ 'J', "as A + 4 ioeventfds after the vcpu", .ioevents = 4, .teardown = 'A' },
	{ 'S', "slot0, split irqchip (LAPIC in KVM, IOAPIC in user space), vcpu; as A",
	  .mem_first = true, .split = true, .teardown = 'A' },
	{ 'T', "split irqchip, slot0, vcpu; as A", .split = true, .teardown = 'A' },
	{ 'U', "as S + GSI routing of the 24 IOAPIC pins after the vcpu", .mem_first = true,
	  .split = true, .routes = true, .teardown = 'A' },
};
#define NR_VARIANTS (int)(sizeof(variants) / sizeof(variants[0]))

/* Step timings of one variant over all repetitions. */
struct record {
	const char *name[MAX_STEPS];
	double *us[MAX_STEPS]; /* [rep] */
	double *create_us, *teardown_us;
	int nsteps;
};

/* One life cycle in progress. */
struct vm {
	int kvm, vm, vcpu, memfd;
	int evfd[MAX_IOEVENTS];
	void *ram;
	size_t ram_size;
	struct kvm_run *run;
	/* timing */
	struct record *rec;
	int rep, step;
	struct timespec last;
	double phase_us;
};

static long vcpu_mmap_size;

static double ts_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1e6 + (b->tv_nsec - a->tv_nsec) / 1e3;
}

static void mark_start(struct vm *v)
{
	v->phase_us = 0;
	clock_gettime(CLOCK_MONOTONIC, &v->last);
}

/* Charge the time since the previous mark to step @name. */
static void mark(struct vm *v, const char *name)
{
	struct record *r = v->rec;
	struct timespec now;
	double us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = ts_us(&v->last, &now);
	v->phase_us += us;

	if (v->step >= MAX_STEPS) {
		fprintf(stderr, "too many steps\n");
		exit(1);
	}
	/* Step names must not change from one repetition to the next. */
	if (v->step == r->nsteps) {
		r->name[r->nsteps++] = name;
	} else if (strcmp(r->name[v->step], name)) {
		fprintf(stderr, "step %d: %s != %s\n", v->step, name, r->name[v->step]);
		exit(1);
	}
	r->us[v->step++][v->rep] = us;
	/* Do not charge the bookkeeping above to the next step. */
	clock_gettime(CLOCK_MONOTONIC, &v->last);
}

static int set_slot(struct vm *v, uint32_t slot, uint64_t gpa, uint64_t size, void *hva)
{
	struct kvm_userspace_memory_region mr = {
		.slot = slot,
		.guest_phys_addr = gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)hva,
	};

	if (ioctl(v->vm, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
		perror("KVM_SET_USER_MEMORY_REGION");
		return -1;
	}
	return 0;
}

static int add_ram(struct vm *v, const struct variant *var)
{
	v->ram_size = RAM_SIZE + (var->high_slot ? HIGH_SIZE : 0);
	v->memfd = memfd_create("srcu-order-ram", MFD_CLOEXEC);
	if (v->memfd < 0) {
		perror("memfd_create");
		return -1;
	}
	if (ftruncate(v->memfd, v->ram_size) < 0) {
		perror("ftruncate");
		return -1;
	}
	v->ram = mmap(NULL, v->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->memfd, 0);
	if (v->ram == MAP_FAILED) {
		v->ram = NULL;
		perror("mmap ram");
		return -1;
	}
	mark(v, "ram alloc (memfd+mmap)");

	if (set_slot(v, 0, 0, RAM_SIZE, v->ram))
		return -1;
	mark(v, "SET_USER_MEMORY_REGION 0");

	if (!var->high_slot)
		return 0;
	if (set_slot(v, 1, HIGH_GPA, HIGH_SIZE, (char *)v->ram + RAM_SIZE))
		return -1;
	mark(v, "SET_USER_MEMORY_REGION 1");
	return 0;
}

static int add_irqchip(struct vm *v, const struct variant *var)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };

	if (var->split) {
		struct kvm_enable_cap cap = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = 24 };

		if (ioctl(v->vm, KVM_ENABLE_CAP, &cap) < 0) {
			perror("KVM_ENABLE_CAP(KVM_CAP_SPLIT_IRQCHIP)");
			return -1;
		}
		mark(v, "ENABLE_CAP SPLIT_IRQCHIP");
		return 0;
	}
	if (ioctl(v->vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		perror("KVM_CREATE_IRQCHIP");
		return -1;
	}
	mark(v, "CREATE_IRQCHIP");

	if (!var->pit)
		return 0;
	if (ioctl(v->vm, KVM_CREATE_PIT2, &pit) < 0) {
		perror("KVM_CREATE_PIT2");
		return -1;
	}
	mark(v, "CREATE_PIT2");
	return 0;
}

static int add_ioevents(struct vm *v, int n)
{
	static const char *const names[MAX_IOEVENTS] = {
		"IOEVENTFD #1",
		"IOEVENTFD #2",
		"IOEVENTFD #3",
		"IOEVENTFD #4",
	};
	int i;

	for (i = 0; i < n; i++) {
		struct kvm_ioeventfd io = {
			.addr = IOEVENT_BASE + i * 0x1000UL,
			.len = 4,
		};

		/* eventfd() is charged to the registration: virtio pays it too. */
		v->evfd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (v->evfd[i] < 0) {
			perror("eventfd");
			return -1;
		}
		io.fd = v->evfd[i];
		if (ioctl(v->vm, KVM_IOEVENTFD, &io) < 0) {
			perror("KVM_IOEVENTFD");
			return -1;
		}
		mark(v, names[i]);
	}
	return 0;
}

/* What a user-space IOAPIC's level-triggered pins cost: one table with an MSI route per pin. */
static int add_pin_routes(struct vm *v)
{
	union {
		struct kvm_irq_routing hdr;
		char buf[sizeof(struct kvm_irq_routing) +
			 24 * sizeof(struct kvm_irq_routing_entry)];
	} t;
	unsigned int pin;

	memset(&t, 0, sizeof(t));
	for (pin = 0; pin < 24; pin++) {
		struct kvm_irq_routing_entry *e = &t.hdr.entries[pin];

		e->gsi = pin;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = 0xfee00000;
		e->u.msi.data = 0xc000 | (0x30 + pin); /* level-triggered, asserted */
	}
	t.hdr.nr = 24;
	if (ioctl(v->vm, KVM_SET_GSI_ROUTING, &t) < 0) {
		perror("KVM_SET_GSI_ROUTING");
		return -1;
	}
	mark(v, "SET_GSI_ROUTING (24 pins)");
	return 0;
}

static int create(struct vm *v, const struct variant *var)
{
	v->kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (v->kvm < 0) {
		perror("/dev/kvm");
		return -1;
	}
	mark(v, "open /dev/kvm");

	v->vm = ioctl(v->kvm, KVM_CREATE_VM, 0);
	if (v->vm < 0) {
		perror("KVM_CREATE_VM");
		return -1;
	}
	mark(v, "CREATE_VM");

	if (ioctl(v->vm, KVM_SET_TSS_ADDR, TSS_ADDR) < 0) {
		perror("KVM_SET_TSS_ADDR");
		return -1;
	}
	mark(v, "SET_TSS_ADDR");

	uint64_t idmap = IDMAP_ADDR;

	if (ioctl(v->vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0) {
		perror("KVM_SET_IDENTITY_MAP_ADDR");
		return -1;
	}
	mark(v, "SET_IDENTITY_MAP_ADDR");

	if (var->mem_first) {
		if (add_ram(v, var) || add_irqchip(v, var))
			return -1;
	} else {
		if (add_irqchip(v, var) || add_ram(v, var))
			return -1;
	}

	v->vcpu = ioctl(v->vm, KVM_CREATE_VCPU, 0);
	if (v->vcpu < 0) {
		perror("KVM_CREATE_VCPU");
		return -1;
	}
	mark(v, "CREATE_VCPU");

	v->run = mmap(NULL, vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->vcpu, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		perror("mmap kvm_run");
		return -1;
	}
	mark(v, "mmap kvm_run");

	if (var->routes && add_pin_routes(v))
		return -1;
	return add_ioevents(v, var->ioevents);
}

/* Small helpers so that teardown() reads as the order it measures. */
static void put_run(struct vm *v, const char *name)
{
	munmap(v->run, vcpu_mmap_size);
	v->run = NULL;
	mark(v, name);
}

static void put_fd(struct vm *v, int *fd, const char *name)
{
	close(*fd);
	*fd = -1;
	mark(v, name);
}

static void put_ram(struct vm *v, const char *name)
{
	munmap(v->ram, v->ram_size);
	v->ram = NULL;
	mark(v, name);
}

/*
 * The VM is destroyed (kvm_destroy_vm) when its last reference goes: the VM
 * fd, every vCPU fd, and every mapping of a vCPU fd each hold one.  The step
 * that drops the last one is named "... [destroys VM]".
 */
static void teardown(struct vm *v, const struct variant *var)
{
	int i;

	switch (var->teardown) {
	case 'A': /* vCPU, VM, then the RAM behind it */
		put_run(v, "munmap kvm_run");
		put_fd(v, &v->vcpu, "close vcpu");
		put_fd(v, &v->vm, "close vm [destroys VM]");
		put_ram(v, "munmap ram");
		put_fd(v, &v->memfd, "close memfd");
		break;
	case 'C': /* RAM goes while the VM still exists */
		put_run(v, "munmap kvm_run");
		put_fd(v, &v->vcpu, "close vcpu");
		put_ram(v, "munmap ram");
		put_fd(v, &v->memfd, "close memfd");
		put_fd(v, &v->vm, "close vm [destroys VM]");
		break;
	case 'D': /* VM fd first: the vCPU still pins the VM */
		put_fd(v, &v->vm, "close vm (vcpu pins it)");
		put_run(v, "munmap kvm_run");
		put_fd(v, &v->vcpu, "close vcpu [destroys VM]");
		put_ram(v, "munmap ram");
		put_fd(v, &v->memfd, "close memfd");
		break;
	}
	/* ioeventfds are unhooked by the VM's destruction; now just fds. */
	for (i = 0; i < var->ioevents; i++)
		close(v->evfd[i]);
	if (var->ioevents)
		mark(v, "close eventfds");
	put_fd(v, &v->kvm, "close /dev/kvm");
}

/* Best-effort cleanup after a failed create(): nothing is timed. */
static void cleanup(struct vm *v)
{
	int i;

	if (v->run)
		munmap(v->run, vcpu_mmap_size);
	if (v->vcpu >= 0)
		close(v->vcpu);
	if (v->vm >= 0)
		close(v->vm);
	if (v->ram)
		munmap(v->ram, v->ram_size);
	if (v->memfd >= 0)
		close(v->memfd);
	for (i = 0; i < MAX_IOEVENTS; i++)
		if (v->evfd[i] >= 0)
			close(v->evfd[i]);
	if (v->kvm >= 0)
		close(v->kvm);
}

static int run_once(const struct variant *var, struct record *rec, int rep)
{
	struct vm v = {
		.kvm = -1,
		.vm = -1,
		.vcpu = -1,
		.memfd = -1,
		.evfd = { -1, -1, -1, -1 },
		.rec = rec,
		.rep = rep,
	};

	mark_start(&v);
	if (create(&v, var)) {
		cleanup(&v);
		return -1;
	}
	rec->create_us[rep] = v.phase_us;

	/* Stands in for the guest's run time: deferred SRCU work can finish. */
	if (var->runs)
		nanosleep(&(struct timespec){ .tv_sec = pause_ms / 1000,
					      .tv_nsec = pause_ms % 1000 * 1000000L },
			  NULL);

	mark_start(&v);
	teardown(&v, var);
	rec->teardown_us[rep] = v.phase_us;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

struct stat3 {
	double min, med, max;
};

static struct stat3 stats(const double *samples, int n)
{
	double *s = malloc(n * sizeof(*s));
	struct stat3 st;

	if (!s) {
		perror("malloc");
		exit(1);
	}
	memcpy(s, samples, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	st.min = s[0];
	st.max = s[n - 1];
	st.med = n & 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	free(s);
	return st;
}

static void print_row(const char *name, struct stat3 st)
{
	printf("  %-28s %9.1f %9.1f %9.1f\n", name, st.min, st.med, st.max);
}

/*
 * KVM_CREATE_IRQCHIP once a vCPU exists is refused by KVM (the in-kernel
 * LAPIC has to be created together with each vCPU).  Show it rather than
 * just say it.
 */
static void show_irqchip_after_vcpu(void)
{
	int kvm, vm, vcpu;

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0)
		goto out_kvm;
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0)
		goto out_vm;
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0)
		printf("G. irqchip after vcpu: KVM_CREATE_IRQCHIP fails with %s "
		       "(irqchip must precede vCPUs; not timed)\n",
		       strerrorname_np(errno) ?: strerror(errno));
	else
		printf("G. irqchip after vcpu: unexpectedly accepted\n");
	close(vcpu);
out_vm:
	close(vm);
out_kvm:
	close(kvm);
}

static struct record *alloc_records(int reps)
{
	struct record *recs = calloc(NR_VARIANTS, sizeof(*recs));
	int i, j;

	if (!recs)
		goto oom;
	for (i = 0; i < NR_VARIANTS; i++) {
		recs[i].create_us = calloc(reps, sizeof(double));
		recs[i].teardown_us = calloc(reps, sizeof(double));
		if (!recs[i].create_us || !recs[i].teardown_us)
			goto oom;
		for (j = 0; j < MAX_STEPS; j++) {
			recs[i].us[j] = calloc(reps, sizeof(double));
			if (!recs[i].us[j])
				goto oom;
		}
	}
	return recs;
oom:
	perror("calloc");
	exit(1);
}

static void free_records(struct record *recs)
{
	int i, j;

	for (i = 0; i < NR_VARIANTS; i++) {
		free(recs[i].create_us);
		free(recs[i].teardown_us);
		for (j = 0; j < MAX_STEPS; j++)
			free(recs[i].us[j]);
	}
	free(recs);
}

static bool selected(const char *sel, char id)
{
	return !sel || strchr(sel, id);
}

/* Median of a per-rep sum of two arrays. */
static double med_sum(const double *a, const double *b, int n)
{
	double *s = malloc(n * sizeof(*s));
	double m;
	int i;

	if (!s) {
		perror("malloc");
		exit(1);
	}
	for (i = 0; i < n; i++)
		s[i] = a[i] + b[i];
	m = stats(s, n).med;
	free(s);
	return m;
}

static int find(char id)
{
	int i;

	for (i = 0; i < NR_VARIANTS; i++)
		if (variants[i].id == id)
			return i;
	return -1;
}

static double med_step(const struct record *r, const char *name, int reps)
{
	int i;

	for (i = 0; i < r->nsteps; i++)
		if (!strcmp(r->name[i], name))
			return stats(r->us[i], reps).med;
	return 0;
}

static double med_create(const struct record *recs, char id, int reps)
{
	return stats(recs[find(id)].create_us, reps).med;
}

static double med_teardown(const struct record *recs, char id, int reps)
{
	return stats(recs[find(id)].teardown_us, reps).med;
}

/*
 * The verdict line, then the figures behind it; each part only when the
 * variants it compares were run.
 */
static void conclude(const struct record *recs, const char *sel, int reps)
{
	double ca, cb, ta, tb, tc, td, lo, hi;
	char best;

	if (!selected(sel, 'A') || !selected(sel, 'B'))
		return;
	ca = med_create(recs, 'A', reps);
	cb = med_create(recs, 'B', reps);
	ta = med_teardown(recs, 'A', reps);
	tb = med_teardown(recs, 'B', reps);
	printf("\nConclusion: create %s first: %.0f us vs %.0f us (%.1fx) to a "
	       "runnable vCPU (A irqchip-first, B slot-first, medians)",
	       cb <= ca ? "memory slots" : "the irqchip", cb, ca, cb <= ca ? ca / cb : cb / ca);
	/* Pending io-bus SRCU callbacks are waited for by the destroy. */
	printf("; teardown B %.0f us vs A %.0f us", tb, ta);
	if (selected(sel, 'H'))
		printf(", %.0f us if the VM has lived %d ms first (H)",
		       med_teardown(recs, 'H', reps), pause_ms);
	printf(".\n");

	if (selected(sel, 'C') && selected(sel, 'D')) {
		tc = med_teardown(recs, 'C', reps);
		td = med_teardown(recs, 'D', reps);
		lo = ta < tc ? (ta < td ? ta : td) : (tc < td ? tc : td);
		hi = ta > tc ? (ta > td ? ta : td) : (tc > td ? tc : td);
		best = lo == ta ? 'A' : lo == tc ? 'C' : 'D';
		printf("  teardown order: vcpu,vm,RAM (A) %.0f us / vcpu,RAM,vm "
		       "(C) %.0f us / vm,vcpu,RAM (D) %.0f us: %c fastest, "
		       "medians %.0f%% apart\n",
		       ta, tc, td, best, (hi - lo) * 100 / lo);
	}
	if (selected(sel, 'E'))
		printf("  PIT2: %.0f us in the ioctl, teardown %.0f us vs A "
		       "%.0f us\n",
		       med_step(&recs[find('E')], "CREATE_PIT2", reps),
		       med_teardown(recs, 'E', reps), ta);
	if (selected(sel, 'F'))
		printf("  2nd slot after the 1st: %.0f us\n",
		       med_step(&recs[find('F')], "SET_USER_MEMORY_REGION 1", reps));
	if (selected(sel, 'I') && selected(sel, 'J'))
		printf("  ioeventfd: #1 %.0f us, #2-#4 %.0f us each in the ioctl;"
		       " teardown with 1 / 4 of them %.0f / %.0f us vs A %.0f us\n",
		       med_step(&recs[find('J')], "IOEVENTFD #1", reps),
		       med_step(&recs[find('J')], "IOEVENTFD #2", reps),
		       med_teardown(recs, 'I', reps), med_teardown(recs, 'J', reps), ta);
	if (selected(sel, 'S') && selected(sel, 'T'))
		printf("  split irqchip: create %.0f us (S, slot first) / %.0f us (T); teardown "
		       "%.0f / %.0f us vs B %.0f us\n",
		       med_create(recs, 'S', reps), med_create(recs, 'T', reps),
		       med_teardown(recs, 'S', reps), med_teardown(recs, 'T', reps), tb);
	if (selected(sel, 'U'))
		printf("  split irqchip + the pins' GSI routes: %.0f us in the ioctl, teardown "
		       "%.0f us\n",
		       med_step(&recs[find('U')], "SET_GSI_ROUTING (24 pins)", reps),
		       med_teardown(recs, 'U', reps));
}

static void report(const struct record *recs, const char *sel, int reps)
{
	int i, j;

	printf("\n%d repetitions, times in microseconds (CLOCK_MONOTONIC)\n", reps);
	for (i = 0; i < NR_VARIANTS; i++) {
		const struct record *r = &recs[i];

		if (!selected(sel, variants[i].id))
			continue;
		printf("\n%c. %s\n  %-28s %9s %9s %9s\n", variants[i].id, variants[i].what, "step",
		       "min", "median", "max");
		for (j = 0; j < r->nsteps; j++)
			print_row(r->name[j], stats(r->us[j], reps));
		print_row("= create", stats(r->create_us, reps));
		print_row("= teardown", stats(r->teardown_us, reps));
	}

	printf("\nTotals (median us)   create  teardown     total\n");
	for (i = 0; i < NR_VARIANTS; i++) {
		const struct record *r = &recs[i];

		if (!selected(sel, variants[i].id))
			continue;
		printf("  %c %15s %9.1f %9.1f %9.1f\n", variants[i].id, "",
		       stats(r->create_us, reps).med, stats(r->teardown_us, reps).med,
		       med_sum(r->create_us, r->teardown_us, reps));
	}
	printf("\n");
	show_irqchip_after_vcpu();
	conclude(recs, sel, reps);
}

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-n REPS] [-p MS] [-v VARIANTS]\n"
		"  -n REPS      repetitions per variant (default 20)\n"
		"  -p MS        variant H's idle time before teardown (default 50)\n"
		"  -v VARIANTS  letters of the variants to run (default all: ",
		prog);
	for (int i = 0; i < NR_VARIANTS; i++)
		fputc(variants[i].id, stderr);
	fprintf(stderr, ")\n");
}

int main(int argc, char **argv)
{
	const char *sel = NULL;
	struct record *recs;
	int reps = 20, opt, rep, k, kvm;

	while ((opt = getopt(argc, argv, "n:p:v:h")) != -1) {
		switch (opt) {
		case 'p':
			pause_ms = atoi(optarg);
			break;
		case 'n':
			reps = atoi(optarg);
			break;
		case 'v':
			sel = optarg;
			break;
		default:
			usage(argv[0]);
			return 2;
		}
	}
	if (reps < 1 || optind != argc) {
		usage(argv[0]);
		return 2;
	}
	/* Conclusions compare against A and B. */
	if (sel && (!strchr(sel, 'A') || !strchr(sel, 'B')))
		fprintf(stderr, "note: without A and B there is no conclusion\n");

	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0 && (errno == ENOENT || errno == EACCES || errno == ENODEV)) {
		printf("SKIP: /dev/kvm: %s: srcu-order needs KVM\n", strerror(errno));
		return 0;
	}
	if (kvm < 0) {
		perror("/dev/kvm");
		return 1;
	}
	vcpu_mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
	close(kvm);
	if (vcpu_mmap_size <= 0) {
		perror("KVM_GET_VCPU_MMAP_SIZE");
		return 1;
	}

	recs = alloc_records(reps);
	for (rep = 0; rep < reps; rep++) {
		/* A B C ... then B C ... A: no variant always runs first. */
		for (k = 0; k < NR_VARIANTS; k++) {
			int i = (rep + k) % NR_VARIANTS;

			if (!selected(sel, variants[i].id))
				continue;
			if (run_once(&variants[i], &recs[i], rep)) {
				free_records(recs);
				return 1;
			}
		}
		fprintf(stderr, "\rrep %d/%d", rep + 1, reps);
	}
	fprintf(stderr, "\n");
	report(recs, sel, reps);
	free_records(recs);
	return 0;
}
