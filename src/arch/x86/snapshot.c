// SPDX-License-Identifier: MIT
/*
 * x86 state for snapshots: each vCPU's registers, FPU/XSAVE, XCRs, MSRs
 * (kvmclock and the TSC among them), LAPIC, pending events, MP state, debug
 * registers, CPUID and TSC rate; the VM's PICs, IOAPIC, PIT and clock.
 *
 * A state is a list of records {u32 kind, blob}: KVM's own structures,
 * whose layout is its stable ABI. Restore applies them in the order KVM
 * needs (CPUID before MSRs; MSRs before events), and refuses a record kind
 * it does not know, a length that is not its structure's, or a missing one.
 */
#include <cpuid.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/arch.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "x86.h"

enum vcpu_record {
	REC_TSC_KHZ = 1,
	REC_CPUID,
	REC_MP_STATE,
	REC_REGS,
	REC_SREGS,
	REC_FPU,
	REC_XSAVE,
	REC_XCRS,
	REC_DEBUGREGS,
	REC_LAPIC,
	REC_MSRS,
	REC_EVENTS,
	REC_VCPU_LAST = REC_EVENTS,
};

enum vm_record {
	REC_PIC_MASTER = 1,
	REC_PIC_SLAVE,
	REC_IOAPIC,
	REC_PIT,
	REC_CLOCK,
	REC_VM_LAST = REC_CLOCK,
};

#define X86_SNAP_MAX_MSRS  1024
#define X86_SNAP_MAX_CPUID 512
#define X86_SNAP_MAX_XSAVE (1u << 20)
#define X86_MSR_BATCH	   64

/* ---- the host CPU ---- */

/* mvm's feature bits: what a saved vCPU may have used, so the restoring host needs it. */
static const struct {
	uint32_t leaf, sub;
	char reg; /* 'b', 'c', 'd' */
	uint32_t bit;
} host_features[] = {
	{ 1, 0, 'c', 0 },  /* SSE3 */
	{ 1, 0, 'c', 9 },  /* SSSE3 */
	{ 1, 0, 'c', 19 }, /* SSE4.1 */
	{ 1, 0, 'c', 20 }, /* SSE4.2 */
	{ 1, 0, 'c', 26 }, /* XSAVE */
	{ 1, 0, 'c', 28 }, /* AVX */
	{ 1, 0, 'c', 25 }, /* AES */
	{ 1, 0, 'c', 1 },  /* PCLMULQDQ */
	{ 1, 0, 'c', 30 }, /* RDRAND */
	{ 1, 0, 'c', 12 }, /* FMA */
	{ 1, 0, 'c', 29 }, /* F16C */
	{ 7, 0, 'b', 0 },  /* FSGSBASE */
	{ 7, 0, 'b', 3 },  /* BMI1 */
	{ 7, 0, 'b', 5 },  /* AVX2 */
	{ 7, 0, 'b', 8 },  /* BMI2 */
	{ 7, 0, 'b', 16 }, /* AVX512F */
	{ 7, 0, 'b', 18 }, /* RDSEED */
	{ 7, 0, 'b', 29 }, /* SHA */
	{ 7, 0, 'c', 3 },  /* PKU */
	{ 7, 0, 'd', 24 }, /* AMX-TILE */
};

void arch_host_cpu(char vendor[16], uint64_t *features)
{
	unsigned int a, b, c, d, max, i;

	memset(vendor, 0, 16);
	*features = 0;
	if (!__get_cpuid(0, &max, &b, &c, &d))
		return;
	memcpy(vendor, &b, 4);
	memcpy(vendor + 4, &d, 4);
	memcpy(vendor + 8, &c, 4);
	for (i = 0; i < ARRAY_SIZE(host_features); i++) {
		uint32_t r;

		if (host_features[i].leaf > max)
			continue;
		__cpuid_count(host_features[i].leaf, host_features[i].sub, a, b, c, d);
		r = host_features[i].reg == 'b' ? b : host_features[i].reg == 'c' ? c : d;
		if (r & (1u << host_features[i].bit))
			*features |= 1ULL << i;
	}
	(void)a;
}

/* ---- records ---- */

static void put_rec(struct snap_buf *b, uint32_t kind, const void *p, size_t len)
{
	snap_put_u32(b, kind);
	snap_put_blob(b, p, len);
}

/* One vCPU ioctl of a snapshot (op "snapshot") or a restore ("restore"); 0 or -errno, logged. */
static int vcpu_call(struct vcpu *vcpu, const char *op, unsigned long req, void *arg,
		     const char *what)
{
	if (mvm_ioctl(vcpu->fd, req, arg) < 0) {
		int err = -errno;

		pr_err("%s: %s of vCPU %u: %s", op, what, vcpu->id, strerror(-err));
		return err;
	}
	return 0;
}

#define vcpu_get(vcpu, req, arg, what) vcpu_call(vcpu, "snapshot", req, arg, what)
#define vcpu_set(vcpu, req, arg, what) vcpu_call(vcpu, "restore", req, arg, what)

/* KVM's MSR list, then their values in batches; the ones KVM cannot read are left out. */
static int save_msrs(struct vcpu *vcpu, struct snap_buf *out)
{
	struct kvm_msr_list *list;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[X86_MSR_BATCH];
	} batch;
	struct snap_buf msrs;
	uint32_t i, j, n, nr_saved = 0;
	int r, err = 0;

	list = mvm_zalloc(sizeof(*list) + X86_SNAP_MAX_MSRS * sizeof(uint32_t));
	if (!list)
		return -ENOMEM;
	list->nmsrs = X86_SNAP_MAX_MSRS;
	if (mvm_ioctl(vcpu->vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list) < 0) {
		err = -errno;
		pr_err("snapshot: KVM_GET_MSR_INDEX_LIST: %s", strerror(-err));
		goto out;
	}
	snap_buf_init(&msrs);
	for (i = 0; i < list->nmsrs && i < X86_SNAP_MAX_MSRS; i += n) {
		n = MIN(list->nmsrs - i, (uint32_t)X86_MSR_BATCH);
		memset(&batch, 0, sizeof(batch));
		batch.hdr.nmsrs = n;
		for (j = 0; j < n; j++)
			batch.e[j].index = list->indices[i + j];
		r = mvm_ioctl(vcpu->fd, KVM_GET_MSRS, &batch);
		if (r < 0) {
			err = -errno;
			pr_err("snapshot: KVM_GET_MSRS of vCPU %u: %s", vcpu->id, strerror(-err));
			snap_buf_free(&msrs);
			goto out;
		}
		/* KVM stops at the first MSR it cannot read: skip it and go on after. */
		for (j = 0; j < (uint32_t)r; j++) {
			snap_put_u32(&msrs, batch.e[j].index);
			snap_put_u64(&msrs, batch.e[j].data);
			nr_saved++;
		}
		if ((uint32_t)r < n)
			n = (uint32_t)r + 1;
	}
	snap_put_u32(out, REC_MSRS);
	snap_put_u32(out, (uint32_t)(msrs.len + 4));
	snap_put_u32(out, nr_saved);
	snap_put(out, msrs.data, msrs.len);
	err = msrs.err;
	snap_buf_free(&msrs);
out:
	free(list);
	return err;
}

int arch_vcpu_save(struct vcpu *vcpu, struct snap_buf *out)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_cpuid2 *cpuid = NULL;
	void *xsave = NULL;
	int r, xsave_size, err;
	uint32_t khz;

	r = mvm_ioctl(vcpu->fd, KVM_GET_TSC_KHZ, 0);
	if (r < 0)
		return vcpu_get(vcpu, KVM_GET_TSC_KHZ, NULL, "KVM_GET_TSC_KHZ");
	khz = (uint32_t)r;
	put_rec(out, REC_TSC_KHZ, &khz, sizeof(khz));

	cpuid = mvm_zalloc(sizeof(*cpuid) + X86_SNAP_MAX_CPUID * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = X86_SNAP_MAX_CPUID;
	err = vcpu_get(vcpu, KVM_GET_CPUID2, cpuid, "KVM_GET_CPUID2");
	if (err)
		goto out;
	put_rec(out, REC_CPUID, cpuid->entries, cpuid->nent * sizeof(cpuid->entries[0]));

	err = vcpu_get(vcpu, KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
	if (!err) {
		put_rec(out, REC_MP_STATE, &mp, sizeof(mp));
		err = vcpu_get(vcpu, KVM_GET_REGS, &regs, "KVM_GET_REGS");
	}
	if (!err) {
		put_rec(out, REC_REGS, &regs, sizeof(regs));
		err = vcpu_get(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
	}
	if (!err) {
		put_rec(out, REC_SREGS, &sregs, sizeof(sregs));
		err = vcpu_get(vcpu, KVM_GET_FPU, &fpu, "KVM_GET_FPU");
	}
	if (err)
		goto out;
	put_rec(out, REC_FPU, &fpu, sizeof(fpu));

	/*
	 * XSAVE: KVM_GET_XSAVE2 with the size KVM says, else the legacy 4 KiB.
	 * Capability probes are no failure points: an error means "absent".
	 */
	xsave_size =
		mvm_ioctl_nofault(vcpu->vm->vm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_XSAVE2);
	if (xsave_size < (int)sizeof(struct kvm_xsave))
		xsave_size = mvm_ioctl_nofault(vcpu->vm->vm_fd, KVM_CHECK_EXTENSION,
					       (void *)KVM_CAP_XSAVE) > 0
				     ? (int)sizeof(struct kvm_xsave)
				     : 0;
	if (xsave_size > (int)X86_SNAP_MAX_XSAVE) {
		err = -E2BIG;
		goto out;
	}
	if (xsave_size) {
		xsave = mvm_zalloc((size_t)xsave_size);
		if (!xsave) {
			err = -ENOMEM;
			goto out;
		}
		err = vcpu_get(vcpu,
			       xsave_size > (int)sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2
									  : KVM_GET_XSAVE,
			       xsave, "KVM_GET_XSAVE");
		if (err)
			goto out;
		put_rec(out, REC_XSAVE, xsave, (size_t)xsave_size);
	}
	if (mvm_ioctl_nofault(vcpu->vm->vm_fd, KVM_CHECK_EXTENSION, (void *)KVM_CAP_XCRS) > 0) {
		err = vcpu_get(vcpu, KVM_GET_XCRS, &xcrs, "KVM_GET_XCRS");
		if (err)
			goto out;
		put_rec(out, REC_XCRS, &xcrs, sizeof(xcrs));
	}
	err = vcpu_get(vcpu, KVM_GET_DEBUGREGS, &dregs, "KVM_GET_DEBUGREGS");
	if (!err) {
		put_rec(out, REC_DEBUGREGS, &dregs, sizeof(dregs));
		err = vcpu_get(vcpu, KVM_GET_LAPIC, &lapic, "KVM_GET_LAPIC");
	}
	if (!err) {
		put_rec(out, REC_LAPIC, &lapic, sizeof(lapic));
		err = save_msrs(vcpu, out);
	}
	if (!err)
		err = vcpu_get(vcpu, KVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS");
	if (!err)
		put_rec(out, REC_EVENTS, &events, sizeof(events));
out:
	free(xsave);
	free(cpuid);
	return err ? err : out->err;
}

/* Records by kind, each seen at most once. */
struct records {
	const void *p[REC_VCPU_LAST + 1];
	size_t len[REC_VCPU_LAST + 1];
};

static int read_records(struct snap_cur *in, struct records *r, uint32_t last, const char *what)
{
	memset(r, 0, sizeof(*r));
	while (!in->err && in->off < in->len) {
		uint32_t kind = snap_get_u32(in);
		const void *p;
		size_t len = snap_get_blob(in, &p);

		if (in->err)
			break;
		if (kind < 1 || kind > last || r->p[kind]) {
			pr_err("restore: %s state: record %u %s", what, kind,
			       kind < 1 || kind > last ? "unknown (a newer mvm's?)" : "twice");
			return -EPROTONOSUPPORT;
		}
		r->p[kind] = p ? p : "";
		r->len[kind] = len;
	}
	if (snap_cur_end(in)) {
		pr_err("restore: %s state is malformed", what);
		return -EBADMSG;
	}
	return 0;
}

/* A fixed-size record into dst: present and of exactly its size. */
static int rec_fixed(const struct records *r, uint32_t kind, void *dst, size_t size,
		     const char *what)
{
	if (!r->p[kind] || r->len[kind] != size) {
		pr_err("restore: %s: %s", what, r->p[kind] ? "wrong size" : "missing");
		return -EBADMSG;
	}
	memcpy(dst, r->p[kind], size);
	return 0;
}

static int restore_msrs(struct vcpu *vcpu, const void *p, size_t len)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[X86_MSR_BATCH];
	} batch;
	struct snap_cur c;
	uint32_t n, i, k;
	int r;

	snap_cur_init(&c, p, len);
	n = snap_get_u32(&c);
	if (c.err || n > X86_SNAP_MAX_MSRS || (size_t)n * 12 != len - 4) {
		pr_err("restore: MSRs of vCPU %u: malformed", vcpu->id);
		return -EBADMSG;
	}
	for (i = 0; i < n; i += k) {
		memset(&batch, 0, sizeof(batch));
		c.off = 4 + (size_t)i * 12;
		for (k = 0; k < X86_MSR_BATCH && i + k < n; k++) {
			batch.e[k].index = snap_get_u32(&c);
			batch.e[k].data = snap_get_u64(&c);
		}
		batch.hdr.nmsrs = k;
		r = mvm_ioctl(vcpu->fd, KVM_SET_MSRS, &batch);
		if (r < 0) {
			r = -errno;
			pr_err("restore: KVM_SET_MSRS of vCPU %u: %s", vcpu->id, strerror(-r));
			return r;
		}
		/* KVM stops at an MSR it refuses (this host's KVM lacks it): skip it, go on. */
		if ((uint32_t)r < k) {
			pr_warn("restore: vCPU %u: MSR 0x%x not restored (refused by this host's "
				"KVM)",
				vcpu->id, batch.e[r].index);
			k = (uint32_t)r + 1;
		}
	}
	return 0;
}

int arch_vcpu_restore(struct vcpu *vcpu, struct snap_cur *in)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_fpu fpu;
	struct kvm_xcrs xcrs;
	struct kvm_debugregs dregs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_cpuid2 *cpuid;
	struct records r;
	uint32_t khz, nent;
	void *xsave;
	int err, size;

	err = read_records(in, &r, REC_VCPU_LAST, "vCPU");
	if (err)
		return err;
	err = rec_fixed(&r, REC_TSC_KHZ, &khz, sizeof(khz), "TSC rate");
	if (!err)
		err = rec_fixed(&r, REC_MP_STATE, &mp, sizeof(mp), "MP state");
	if (!err)
		err = rec_fixed(&r, REC_REGS, &regs, sizeof(regs), "registers");
	if (!err)
		err = rec_fixed(&r, REC_SREGS, &sregs, sizeof(sregs), "segment registers");
	if (!err)
		err = rec_fixed(&r, REC_FPU, &fpu, sizeof(fpu), "FPU");
	if (!err)
		err = rec_fixed(&r, REC_DEBUGREGS, &dregs, sizeof(dregs), "debug registers");
	if (!err)
		err = rec_fixed(&r, REC_LAPIC, &lapic, sizeof(lapic), "local APIC");
	if (!err)
		err = rec_fixed(&r, REC_EVENTS, &events, sizeof(events), "events");
	if (!err && (!r.p[REC_CPUID] || !r.p[REC_MSRS] ||
		     r.len[REC_CPUID] % sizeof(struct kvm_cpuid_entry2) ||
		     r.len[REC_CPUID] / sizeof(struct kvm_cpuid_entry2) > X86_SNAP_MAX_CPUID)) {
		pr_err("restore: vCPU %u: CPUID or MSRs missing or malformed", vcpu->id);
		err = -EBADMSG;
	}
	if (!err && r.p[REC_XCRS])
		err = rec_fixed(&r, REC_XCRS, &xcrs, sizeof(xcrs), "XCRs");
	if (err)
		return err;

	/*
	 * A different TSC rate here: KVM scales the guest's TSC (when the host
	 * can). Best effort, so no failure point: it only warns.
	 */
	if (khz && mvm_ioctl_nofault(vcpu->fd, KVM_GET_TSC_KHZ, NULL) != (int)khz &&
	    mvm_ioctl_nofault(vcpu->fd, KVM_SET_TSC_KHZ, (void *)(unsigned long)khz) < 0)
		pr_warn("restore: vCPU %u: TSC at %u kHz not possible here (%s); the guest's "
			"clock may drift",
			vcpu->id, khz, strerror(errno));

	nent = (uint32_t)(r.len[REC_CPUID] / sizeof(struct kvm_cpuid_entry2));
	cpuid = mvm_zalloc(sizeof(*cpuid) + nent * sizeof(cpuid->entries[0]));
	if (!cpuid)
		return -ENOMEM;
	cpuid->nent = nent;
	memcpy(cpuid->entries, r.p[REC_CPUID], r.len[REC_CPUID]);
	err = vcpu_set(vcpu, KVM_SET_CPUID2, cpuid, "KVM_SET_CPUID2");
	free(cpuid);
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_FPU, &fpu, "KVM_SET_FPU");
	if (err)
		return err;
	if (r.p[REC_XSAVE]) {
		/* This host's KVM may want a larger buffer than the saving host's. */
		size = mvm_ioctl_nofault(vcpu->vm->vm_fd, KVM_CHECK_EXTENSION,
					 (void *)KVM_CAP_XSAVE2);
		if (size < (int)sizeof(struct kvm_xsave))
			size = (int)sizeof(struct kvm_xsave);
		if (r.len[REC_XSAVE] > X86_SNAP_MAX_XSAVE ||
		    r.len[REC_XSAVE] < sizeof(struct kvm_xsave)) {
			pr_err("restore: vCPU %u: XSAVE state malformed", vcpu->id);
			return -EBADMSG;
		}
		xsave = mvm_zalloc(MAX((size_t)size, r.len[REC_XSAVE]));
		if (!xsave)
			return -ENOMEM;
		memcpy(xsave, r.p[REC_XSAVE], r.len[REC_XSAVE]);
		err = vcpu_set(vcpu, KVM_SET_XSAVE, xsave, "KVM_SET_XSAVE");
		free(xsave);
		if (err)
			return err;
	}
	if (r.p[REC_XCRS]) {
		err = vcpu_set(vcpu, KVM_SET_XCRS, &xcrs, "KVM_SET_XCRS");
		if (err)
			return err;
	}
	err = vcpu_set(vcpu, KVM_SET_DEBUGREGS, &dregs, "KVM_SET_DEBUGREGS");
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_LAPIC, &lapic, "KVM_SET_LAPIC");
	if (!err)
		err = restore_msrs(vcpu, r.p[REC_MSRS], r.len[REC_MSRS]);
	if (!err)
		err = vcpu_set(vcpu, KVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS");
	return err;
}

/* ---- the VM ---- */

static int vm_get(struct vm *vm, unsigned long req, void *arg, const char *what)
{
	if (mvm_ioctl(vm->vm_fd, req, arg) < 0) {
		int err = -errno;

		pr_err("snapshot: %s: %s", what, strerror(-err));
		return err;
	}
	return 0;
}

int arch_vm_save(struct vm *vm, struct snap_buf *out)
{
	static const uint32_t chips[] = { KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE,
					  KVM_IRQCHIP_IOAPIC };
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	unsigned int i;
	int err;

	for (i = 0; i < ARRAY_SIZE(chips); i++) {
		memset(&chip, 0, sizeof(chip));
		chip.chip_id = chips[i];
		err = vm_get(vm, KVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP");
		if (err)
			return err;
		put_rec(out, REC_PIC_MASTER + i, &chip, sizeof(chip));
	}
	if (vm->cfg.pit) {
		err = vm_get(vm, KVM_GET_PIT2, &pit, "KVM_GET_PIT2");
		if (err)
			return err;
		put_rec(out, REC_PIT, &pit, sizeof(pit));
	}
	memset(&clock, 0, sizeof(clock));
	err = vm_get(vm, KVM_GET_CLOCK, &clock, "KVM_GET_CLOCK");
	if (err)
		return err;
	put_rec(out, REC_CLOCK, &clock, sizeof(clock));
	return out->err;
}

int arch_vm_restore(struct vm *vm, struct snap_cur *in)
{
	struct kvm_irqchip chip;
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct records r;
	uint32_t i;
	int err;

	err = read_records(in, &r, REC_VM_LAST, "VM");
	if (err)
		return err;
	if (!r.p[REC_PIT] != !vm->cfg.pit) {
		pr_err("restore: the snapshot %s a PIT, the configuration %s",
		       r.p[REC_PIT] ? "has" : "has no", vm->cfg.pit ? "asks for one" : "not");
		return -EINVAL;
	}
	for (i = REC_PIC_MASTER; i <= REC_IOAPIC; i++) {
		err = rec_fixed(&r, i, &chip, sizeof(chip), "interrupt controller");
		if (err)
			return err;
		if (chip.chip_id != i - REC_PIC_MASTER) {
			pr_err("restore: interrupt controller %u: wrong id %u", i, chip.chip_id);
			return -EBADMSG;
		}
		err = vm_get(vm, KVM_SET_IRQCHIP, &chip, "KVM_SET_IRQCHIP");
		if (err)
			return err;
	}
	if (r.p[REC_PIT]) {
		err = rec_fixed(&r, REC_PIT, &pit, sizeof(pit), "PIT");
		if (!err)
			err = vm_get(vm, KVM_SET_PIT2, &pit, "KVM_SET_PIT2");
		if (err)
			return err;
	}
	err = rec_fixed(&r, REC_CLOCK, &clock, sizeof(clock), "clock");
	if (err)
		return err;
	/*
	 * kvmclock goes on from the value it had when the snapshot was taken:
	 * the guest's clock never runs backwards. Only the clock value is set
	 * (no realtime/host-TSC adjustment), so a stable TSC stays stable.
	 */
	clock.flags = 0;
	memset(clock.pad, 0, sizeof(clock.pad));
	return vm_get(vm, KVM_SET_CLOCK, &clock, "KVM_SET_CLOCK");
}
