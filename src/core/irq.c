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
#include <sys/epoll.h>
#include <unistd.h>

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

static void msi_entry(struct kvm_irq_routing_entry *e, unsigned int gsi,
		      const struct vm_msi_route *r)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	e->u.msi.address_lo = (uint32_t)r->addr;
	e->u.msi.address_hi = (uint32_t)(r->addr >> 32);
	e->u.msi.data = r->data;
}

/* The user-space irqchip's pin routes (GSI = pin). Fills at most VM_IRQCHIP_PINS. */
static unsigned int vm_irq_pin_entries(struct vm *vm, struct kvm_irq_routing_entry *e)
{
	unsigned int pin, n = 0;

	for (pin = 0; pin < VM_IRQCHIP_PINS; pin++)
		if (vm->irq.pins[pin].used)
			msi_entry(&e[n++], pin, &vm->irq.pins[pin]);
	return n;
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
	n = vm->irq.chip_ops ? vm_irq_pin_entries(vm, t.hdr.entries)
			     : arch_irq_routes(t.hdr.entries, IRQCHIP_ROUTES_MAX);
	for (i = 0; i < VM_MAX_MSI_ROUTES; i++) {
		if (!vm->irq.msi[i].used)
			continue;
		msi_entry(&t.hdr.entries[n++], ARCH_MSI_GSI_BASE + i, &vm->irq.msi[i]);
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

/* ---- irqfds on the pins of a user-space irqchip ---- */

static bool vm_irqfd_relayed(struct vm *vm, unsigned int gsi)
{
	return vm->irq.chip_ops && gsi < VM_IRQCHIP_PINS;
}

static void relay_fire(struct loop_handler *h, uint32_t events)
{
	struct vm_irqfd_relay *r = container_of(h, struct vm_irqfd_relay, h);
	struct vm *vm = r->vm;
	uint64_t n;

	(void)events;
	if (read(h->fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
		return;
	/* What KVM does for an irqfd on an irqchip pin: assert, then deassert. */
	vm->irq.chip_ops->set_line(vm->irq.chip, r->gsi, 1);
	vm->irq.chip_ops->set_line(vm->irq.chip, r->gsi, 0);
}

static int relay_add(struct vm *vm, int efd, unsigned int gsi)
{
	struct vm_irqfd_relay *r = NULL;
	unsigned int i;
	int err;

	pthread_mutex_lock(&vm->irq.lock);
	for (i = 0; i < ARRAY_SIZE(vm->irq.relays) && !r; i++)
		if (!vm->irq.relays[i].used)
			r = &vm->irq.relays[i];
	if (r)
		*r = (struct vm_irqfd_relay){ { efd, relay_fire }, vm, gsi, true };
	pthread_mutex_unlock(&vm->irq.lock);
	if (!r)
		return -ENOSPC;
	err = loop_add(&vm->loop, &r->h, EPOLLIN);
	if (err) {
		pthread_mutex_lock(&vm->irq.lock);
		r->used = false;
		pthread_mutex_unlock(&vm->irq.lock);
	}
	return err;
}

static int relay_del(struct vm *vm, int efd, unsigned int gsi)
{
	struct vm_irqfd_relay *r = NULL;
	unsigned int i;

	pthread_mutex_lock(&vm->irq.lock);
	for (i = 0; i < ARRAY_SIZE(vm->irq.relays) && !r; i++)
		if (vm->irq.relays[i].used && vm->irq.relays[i].h.fd == efd &&
		    vm->irq.relays[i].gsi == gsi)
			r = &vm->irq.relays[i];
	if (r)
		r->used = false;
	pthread_mutex_unlock(&vm->irq.lock);
	if (!r)
		return -ENOENT;
	loop_del(&vm->loop, &r->h);
	return 0;
}

int vm_irqfd(struct vm *vm, int efd, unsigned int gsi, bool assign)
{
	struct kvm_irqfd irqfd = {
		.fd = (uint32_t)efd,
		.gsi = gsi,
		.flags = assign ? 0 : KVM_IRQFD_FLAG_DEASSIGN,
	};

	if (vm_irqfd_relayed(vm, gsi))
		return assign ? relay_add(vm, efd, gsi) : relay_del(vm, efd, gsi);
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

	if (vm_irqfd_relayed(vm, gsi))
		return relay_add(vm, efd, gsi);
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

int vm_irqchip_attach(struct vm *vm, const struct vm_irqchip_ops *ops, void *chip)
{
	int err = 0;

	pthread_mutex_lock(&vm->irq.lock);
	if (vm->irq.chip_ops) {
		err = -EBUSY;
	} else {
		vm->irq.chip = chip;
		vm->irq.chip_ops = ops;
	}
	pthread_mutex_unlock(&vm->irq.lock);
	return err;
}

void vm_irqchip_detach(struct vm *vm, void *chip)
{
	pthread_mutex_lock(&vm->irq.lock);
	if (vm->irq.chip == chip) {
		vm->irq.chip_ops = NULL;
		vm->irq.chip = NULL;
		memset(vm->irq.pins, 0, sizeof(vm->irq.pins));
	}
	pthread_mutex_unlock(&vm->irq.lock);
}

void vm_irq_eoi(struct vm *vm, unsigned int vector)
{
	/* Attached before the vCPUs run and detached after they are gone. */
	if (vm->irq.chip_ops)
		vm->irq.chip_ops->eoi(vm->irq.chip, vector);
}

int vm_irq_pin_route(struct vm *vm, unsigned int pin, bool present, uint64_t addr, uint32_t data)
{
	struct vm_msi_route *r, old;
	int err = 0;

	if (pin >= VM_IRQCHIP_PINS)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq.lock);
	r = &vm->irq.pins[pin];
	old = *r;
	*r = present ? (struct vm_msi_route){ addr, data, true } : (struct vm_msi_route){ 0 };
	if (old.used != r->used || old.addr != r->addr || old.data != r->data) {
		err = vm_irq_commit(vm);
		if (err) {
			*r = old;
			pr_warn("KVM_SET_GSI_ROUTING: %s", strerror(-err));
		}
	}
	pthread_mutex_unlock(&vm->irq.lock);
	return err;
}
