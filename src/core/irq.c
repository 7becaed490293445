// SPDX-License-Identifier: MIT
/*
 * Interrupt routing, irqfd and ioeventfd: the core helpers devices use
 * instead of KVM fds (DESIGN.md §2).
 *
 * KVM_SET_GSI_ROUTING replaces the whole table, and each call waits for an
 * SRCU grace period of the VM's irq_srcu: one table is kept here (the arch's
 * irqchip routes + the MSI routes in use) and written once per change.
 * Devices make their routes lazily, when a vector first fires, so a guest
 * that never uses a vector costs nothing.
 */
#include <errno.h>
#include <linux/kvm.h>
#include <string.h>

#include "mvm/arch.h"
#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#define IRQCHIP_ROUTES_MAX 64

void vm_irq_init(struct vm_irq *irq)
{
	memset(irq, 0, sizeof(*irq));
	pthread_mutex_init(&irq->lock, NULL);
}

void vm_irq_fini(struct vm_irq *irq)
{
	pthread_mutex_destroy(&irq->lock);
}

/* Writes the whole routing table. Called with irq->lock held. */
static int vm_irq_commit(struct vm *vm)
{
	/* The header and its entries[] in one buffer (a union: no struct around a flexible array).
	 */
	union {
		struct kvm_irq_routing hdr;
		uint8_t buf[sizeof(struct kvm_irq_routing) +
			    (IRQCHIP_ROUTES_MAX + VM_MAX_MSI_ROUTES) *
				    sizeof(struct kvm_irq_routing_entry)];
	} t;
	unsigned int i, n;

	memset(&t.hdr, 0, sizeof(t.hdr));
	n = arch_irq_routes(t.hdr.entries, IRQCHIP_ROUTES_MAX);
	for (i = 0; i < VM_MAX_MSI_ROUTES; i++) {
		const struct vm_msi_route *r = &vm->irq.msi[i];
		struct kvm_irq_routing_entry *e = &t.hdr.entries[n];

		if (!r->used)
			continue;
		memset(e, 0, sizeof(*e));
		e->gsi = ARCH_MSI_GSI_BASE + i;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)r->addr;
		e->u.msi.address_hi = (uint32_t)(r->addr >> 32);
		e->u.msi.data = r->data;
		n++;
	}
	t.hdr.nr = n;
	counter_inc(&vm->irq.commits);
	if (mvm_ioctl_nofault(vm->vm_fd, KVM_SET_GSI_ROUTING, &t) < 0)
		return -errno;
	return 0;
}

int vm_msi_route(struct vm *vm, int gsi_or_neg, uint64_t addr, uint32_t data, int *gsi_out)
{
	struct vm_msi_route *r, old;
	int idx = -1, err;

	pthread_mutex_lock(&vm->irq.lock);
	if (gsi_or_neg < 0) {
		for (idx = 0; idx < VM_MAX_MSI_ROUTES; idx++)
			if (!vm->irq.msi[idx].used)
				break;
		if (idx == VM_MAX_MSI_ROUTES) {
			err = -ENOSPC;
			goto out;
		}
	} else {
		idx = gsi_or_neg - ARCH_MSI_GSI_BASE;
		if (idx < 0 || idx >= VM_MAX_MSI_ROUTES || !vm->irq.msi[idx].used) {
			err = -EINVAL;
			goto out;
		}
	}
	r = &vm->irq.msi[idx];
	old = *r;
	*r = (struct vm_msi_route){ addr, data, true };
	err = vm_irq_commit(vm);
	if (err) {
		*r = old; /* a new GSI goes back to unused */
		pr_warn("KVM_SET_GSI_ROUTING: %s", strerror(-err));
		goto out;
	}
	if (gsi_out)
		*gsi_out = ARCH_MSI_GSI_BASE + idx;
out:
	pthread_mutex_unlock(&vm->irq.lock);
	return err;
}

void vm_msi_route_free(struct vm *vm, int gsi)
{
	int idx = gsi - ARCH_MSI_GSI_BASE;

	if (idx < 0 || idx >= VM_MAX_MSI_ROUTES)
		return;
	pthread_mutex_lock(&vm->irq.lock);
	vm->irq.msi[idx].used = false;
	pthread_mutex_unlock(&vm->irq.lock);
}

int vm_msi(struct vm *vm, uint64_t addr, uint32_t data)
{
	struct kvm_msi msi = {
		.address_lo = (uint32_t)addr,
		.address_hi = (uint32_t)(addr >> 32),
		.data = data,
	};

	/* > 0: delivered, 0: the guest blocked it (e.g. a masked LAPIC). */
	if (mvm_ioctl_nofault(vm->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		return -errno;
	return 0;
}

int vm_irqfd(struct vm *vm, int efd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (mvm_ioctl_nofault(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int vm_irqfd_assign(struct vm *vm, int efd, unsigned int gsi)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
	};

	if (mvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

int vm_irqfd_resample(struct vm *vm, int efd, int resample_fd, unsigned int gsi)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = KVM_IRQFD_FLAG_RESAMPLE,
		.resamplefd = (uint32_t)resample_fd,
	};

	if (mvm_ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return 0;
}

static int ioeventfd(struct vm *vm, int efd, enum mvm_bus_type bus, uint64_t addr, unsigned len,
		     bool match, uint64_t data, bool assign)
{
	struct kvm_ioeventfd io = {
		.datamatch = data,
		.addr = addr,
		.len = len,
		.fd = efd,
	};
	int r;

	if (bus == MVM_BUS_PIO)
		io.flags |= KVM_IOEVENTFD_FLAG_PIO;
	if (match)
		io.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (!assign) {
		/* Undo paths must not fail by injection: not a fault site. */
		io.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
		r = mvm_ioctl_nofault(vm->vm_fd, KVM_IOEVENTFD, &io);
	} else {
		r = mvm_ioctl(vm->vm_fd, KVM_IOEVENTFD, &io);
	}
	return r < 0 ? -errno : 0;
}

int vm_ioeventfd(struct vm *vm, int efd, enum mvm_bus_type bus, uint64_t addr, unsigned len,
		 bool assign)
{
	return ioeventfd(vm, efd, bus, addr, len, false, 0, assign);
}

int vm_ioeventfd_match(struct vm *vm, int efd, enum mvm_bus_type bus, uint64_t addr, unsigned len,
		       uint64_t data, bool assign)
{
	if (len != 1 && len != 2 && len != 4 && len != 8)
		return -EINVAL;
	return ioeventfd(vm, efd, bus, addr, len, true, data, assign);
}
