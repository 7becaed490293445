// SPDX-License-Identifier: MIT
/*
 * The fake KVM's state ioctls (with fake_kvm.x86_state): what a KVM_SET_*
 * stores on a VM or vCPU fd, the matching KVM_GET_* gives back, so that the
 * x86 snapshot code's save and restore can be checked without KVM. MSRs are
 * kept one by one (KVM_GET_MSR_INDEX_LIST names FAKE_MSRS), CPUID as a
 * table, the rest as the structures they are.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>

#include "fake.h"

#define FAKE_STATE_FDS	 64
#define FAKE_STATE_SLOTS 16

static const uint32_t fake_msr_list[] = { 0x10, 0x174, 0x4b564d01, 0xc0000080 };

struct fake_state {
	int fd;
	struct {
		unsigned long req; /* the KVM_SET_* number */
		size_t len;
		void *data;
	} slot[FAKE_STATE_SLOTS];
	uint64_t msr[sizeof(fake_msr_list) / sizeof(fake_msr_list[0])];
	struct kvm_cpuid_entry2 cpuid[8];
	uint32_t nent;
};

static struct fake_state states[FAKE_STATE_FDS];

void fake_state_reset(void)
{
	unsigned int i, j;

	for (i = 0; i < FAKE_STATE_FDS; i++)
		for (j = 0; j < FAKE_STATE_SLOTS; j++)
			free(states[i].slot[j].data);
	memset(states, 0, sizeof(states));
}

static struct fake_state *state_of(int fd)
{
	unsigned int i;

	for (i = 0; i < FAKE_STATE_FDS; i++)
		if (states[i].fd == fd + 1)
			return &states[i];
	for (i = 0; i < FAKE_STATE_FDS; i++)
		if (!states[i].fd) {
			states[i].fd = fd + 1;
			return &states[i];
		}
	return NULL;
}

/* A GET's SET (the structure that both carry), or 0 for neither. */
static unsigned long set_of(unsigned long req)
{
	static const unsigned long pairs[][2] = {
		{ KVM_GET_REGS, KVM_SET_REGS },
		{ KVM_GET_SREGS, KVM_SET_SREGS },
		{ KVM_GET_FPU, KVM_SET_FPU },
		{ KVM_GET_XSAVE, KVM_SET_XSAVE },
		{ KVM_GET_XCRS, KVM_SET_XCRS },
		{ KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS },
		{ KVM_GET_LAPIC, KVM_SET_LAPIC },
		{ KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS },
		{ KVM_GET_MP_STATE, KVM_SET_MP_STATE },
		{ KVM_GET_PIT2, KVM_SET_PIT2 },
		{ KVM_GET_CLOCK, KVM_SET_CLOCK },
	};
	unsigned int i;

	for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++)
		if (req == pairs[i][0] || req == pairs[i][1])
			return pairs[i][1];
	return 0;
}

static int blob(struct fake_state *s, unsigned long key, void *arg, size_t len, bool set)
{
	unsigned int j;

	for (j = 0; j < FAKE_STATE_SLOTS && s->slot[j].req && s->slot[j].req != key; j++)
		;
	if (j == FAKE_STATE_SLOTS) {
		errno = ENOSPC;
		return -1;
	}
	if (set) {
		free(s->slot[j].data);
		s->slot[j].data = malloc(len);
		if (!s->slot[j].data) {
			errno = ENOMEM;
			return -1;
		}
		memcpy(s->slot[j].data, arg, len);
		s->slot[j].req = key;
		s->slot[j].len = len;
	} else if (s->slot[j].req) {
		memcpy(arg, s->slot[j].data, len < s->slot[j].len ? len : s->slot[j].len);
	} else {
		memset(arg, 0, len);
	}
	return 0;
}

static int msrs(struct fake_state *s, struct kvm_msrs *m, bool set)
{
	uint32_t i, k;

	for (i = 0; i < m->nmsrs; i++) {
		for (k = 0; k < sizeof(fake_msr_list) / sizeof(fake_msr_list[0]); k++)
			if (fake_msr_list[k] == m->entries[i].index)
				break;
		if (k == sizeof(fake_msr_list) / sizeof(fake_msr_list[0]))
			return (int)i; /* as KVM: stops at the first MSR it does not know */
		if (set)
			s->msr[k] = m->entries[i].data;
		else
			m->entries[i].data = s->msr[k];
	}
	return (int)i;
}

static int irqchip(struct fake_state *s, struct kvm_irqchip *c, bool set)
{
	if (c->chip_id > 2) {
		errno = EINVAL;
		return -1;
	}
	uint32_t id = c->chip_id;
	int r;

	/* One slot per chip: keyed by the chip id as well. */
	r = blob(s, KVM_SET_IRQCHIP + id, c, sizeof(*c), set);
	c->chip_id = id; /* as KVM: a chip never set still answers with its id */
	return r;
}

int fake_state_ioctl(int fd, unsigned long req, void *arg)
{
	struct fake_state *s = state_of(fd);
	struct kvm_cpuid2 *c = arg;
	unsigned long key = set_of(req);

	if (!s) {
		errno = ENOSPC;
		return -1;
	}
	if (key)
		return blob(s, key, arg, _IOC_SIZE(req), req == key);
	switch (req) {
	case KVM_GET_MSR_INDEX_LIST: {
		struct kvm_msr_list *l = arg;
		uint32_t n = sizeof(fake_msr_list) / sizeof(fake_msr_list[0]);

		if (l->nmsrs < n) {
			l->nmsrs = n;
			errno = E2BIG;
			return -1;
		}
		l->nmsrs = n;
		memcpy(l->indices, fake_msr_list, sizeof(fake_msr_list));
		return 0;
	}
	case KVM_GET_MSRS:
	case KVM_SET_MSRS:
		return msrs(s, arg, req == KVM_SET_MSRS);
	case KVM_SET_CPUID2:
		if (c->nent > 8) {
			errno = E2BIG;
			return -1;
		}
		s->nent = c->nent;
		memcpy(s->cpuid, c->entries, c->nent * sizeof(c->entries[0]));
		return 0;
	case KVM_GET_CPUID2:
		if (c->nent < s->nent) {
			errno = E2BIG;
			return -1;
		}
		c->nent = s->nent;
		memcpy(c->entries, s->cpuid, s->nent * sizeof(c->entries[0]));
		return 0;
	case KVM_GET_IRQCHIP:
	case KVM_SET_IRQCHIP:
		return irqchip(s, arg, req == KVM_SET_IRQCHIP);
	case KVM_GET_TSC_KHZ:
		return 2000000;
	case KVM_SET_TSC_KHZ:
		return 0;
	}
	errno = ENOTTY;
	return -1;
}
