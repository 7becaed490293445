// SPDX-License-Identifier: MIT
/*
 * The I/O APIC in user space, for the split irqchip (KVM_CAP_SPLIT_IRQCHIP:
 * the LAPICs stay in KVM). An 82093AA-style IOAPIC as KVM's own emulates it:
 * version 0x11, 24 pins, IOREGSEL at +0x00 and IOWIN at +0x10.
 *
 * A pin delivers as an MSI composed from its redirection entry
 * (KVM_SIGNAL_MSI through vm_msi). A level-triggered pin sets its remote IRR
 * on delivery and is not delivered again until the guest's EOI of its vector
 * (KVM_EXIT_IOAPIC_EOI); KVM exits on that EOI only for the vectors it finds
 * level-triggered in the pins' MSI routes (GSI = pin), which vm_irq_pin_route
 * keeps in the routing table for each unmasked level-triggered pin.
 *
 * Input levels are logical (1 = asserted), as devices give them through
 * vm_irq_line: the polarity bit is kept for the guest and not applied, as
 * in KVM's and QEMU's IOAPICs.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mvm/hw.h"
#include "mvm/irq.h"
#include "mvm/log.h"
#include "mvm/vm.h"

static void ioapic_deliver(struct ioapic *io, unsigned int pin);

static struct ioapic *to_ioapic(struct mvm_device *dev)
{
	return (struct ioapic *)dev;
}

uint64_t ioapic_msi_addr(uint64_t rte)
{
	return IOAPIC_MSI_ADDR_BASE | (rte >> IOAPIC_RTE_DEST_SHIFT) << 12 |
	       ((rte & IOAPIC_RTE_DEST_LOGICAL) ? 1u << 2 : 0);
}

uint32_t ioapic_msi_data(uint64_t rte)
{
	return (uint32_t)(rte & (IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELIVERY_MODE)) |
	       ((rte & IOAPIC_RTE_LEVEL) ? 1u << 15 | 1u << 14 : 0);
}

static bool rte_level(uint64_t rte)
{
	return rte & IOAPIC_RTE_LEVEL;
}

static bool rte_masked(uint64_t rte)
{
	return rte & IOAPIC_RTE_MASK;
}

/* KVM must know the pin's vector is level-triggered to exit on its EOI. Under io->lock. */
static void ioapic_update_route(struct ioapic *io, unsigned int pin)
{
	uint64_t rte = io->rte[pin];
	bool present = rte_level(rte) && !rte_masked(rte);

	if (vm_irq_pin_route(io->dev.vm, pin, present, ioapic_msi_addr(rte), ioapic_msi_data(rte)))
		pr_warn("ioapic: pin %u: its EOIs may not reach mvm", pin);
}

/* Sends the pin's interrupt if its entry lets it through. Under io->lock. */
static void ioapic_deliver(struct ioapic *io, unsigned int pin)
{
	uint64_t rte = io->rte[pin];
	int err;

	if (!(io->irr & 1u << pin) || rte_masked(rte))
		return;
	if (rte_level(rte)) {
		if (rte & IOAPIC_RTE_REMOTE_IRR)
			return;
		io->rte[pin] |= IOAPIC_RTE_REMOTE_IRR;
	} else {
		io->irr &= ~(1u << pin); /* an edge is consumed by its delivery */
	}
	counter_inc(&io->delivered);
	err = vm_msi(io->dev.vm, ioapic_msi_addr(rte), ioapic_msi_data(rte));
	if (err)
		pr_warn_ratelimited("ioapic: pin %u: KVM_SIGNAL_MSI: %s", pin, strerror(-err));
}

static int ioapic_set_line(void *chip, unsigned int pin, int level)
{
	struct ioapic *io = chip;
	uint32_t bit = 1u << pin;

	if (pin >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	/* As KVM's IOAPIC: an edge is latched while masked, but not past its line's fall. */
	if (!level)
		io->irr &= ~bit;
	else if (rte_level(io->rte[pin]) || !(io->line & bit))
		io->irr |= bit;
	io->line = level ? io->line | bit : io->line & ~bit;
	ioapic_deliver(io, pin);
	pthread_mutex_unlock(&io->lock);
	return 0;
}

static void ioapic_eoi(void *chip, unsigned int vector)
{
	struct ioapic *io = chip;
	unsigned int pin;

	pthread_mutex_lock(&io->lock);
	for (pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t rte = io->rte[pin];

		if ((rte & IOAPIC_RTE_VECTOR) != vector || !rte_level(rte))
			continue;
		io->rte[pin] &= ~IOAPIC_RTE_REMOTE_IRR;
		counter_inc(&io->eois);
		/* Still asserted: the line interrupts again. */
		ioapic_deliver(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

static const struct vm_irqchip_ops ioapic_chip_ops = {
	.set_line = ioapic_set_line,
	.eoi = ioapic_eoi,
};

/* The register IOREGSEL selects. Under io->lock. */
static uint32_t ioapic_reg_read(struct ioapic *io)
{
	unsigned int reg = io->regsel, pin;

	switch (reg) {
	case IOAPIC_REG_ID:
	case IOAPIC_REG_ARB:
		return (uint32_t)io->id << 24;
	case IOAPIC_REG_VER:
		return (IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
	}
	if (reg < IOAPIC_REG_RTE || reg >= IOAPIC_REG_RTE + 2 * IOAPIC_PINS)
		return 0;
	pin = (reg - IOAPIC_REG_RTE) / 2;
	return (uint32_t)(io->rte[pin] >> ((reg & 1) ? 32 : 0));
}

static void ioapic_rte_write(struct ioapic *io, unsigned int pin, bool high, uint32_t val)
{
	uint64_t old = io->rte[pin], rte;

	if (high)
		rte = (old & 0xffffffffULL) | ((uint64_t)val << 32 & IOAPIC_RTE_DEST);
	else
		rte = (old & (0xffffffff00000000ULL | IOAPIC_RTE_REMOTE_IRR)) |
		      (val & IOAPIC_RTE_WRITABLE_LO);
	/* Remote IRR belongs to level-triggered delivery only. */
	if (!rte_level(rte))
		rte &= ~IOAPIC_RTE_REMOTE_IRR;
	io->rte[pin] = rte;
	if (rte != old)
		ioapic_update_route(io, pin);
	/* A level that is still asserted, or an edge latched while masked, goes out now. */
	if (rte_level(rte) && (io->line & 1u << pin))
		io->irr |= 1u << pin;
	ioapic_deliver(io, pin);
}

/* A write of IOWIN to the selected register. Under io->lock. */
static void ioapic_reg_write(struct ioapic *io, uint32_t val)
{
	unsigned int reg = io->regsel;

	if (reg == IOAPIC_REG_ID) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (reg < IOAPIC_REG_RTE || reg >= IOAPIC_REG_RTE + 2 * IOAPIC_PINS)
		return; /* version, arbitration and unknown registers are read-only */
	ioapic_rte_write(io, (reg - IOAPIC_REG_RTE) / 2, reg & 1, val);
}

static void ioapic_mmio_read(struct mvm_device *dev, unsigned int idx, uint64_t off, void *data,
			     unsigned int len)
{
	struct ioapic *io = to_ioapic(dev);
	uint32_t v = 0;
	unsigned int shift = (off & 3) * 8;

	(void)idx;
	memset(data, 0, len);
	if ((off & 3) + len > 4)
		return; /* a read across a register: nothing there */
	pthread_mutex_lock(&io->lock);
	if ((off & ~3ULL) == IOAPIC_IOREGSEL)
		v = io->regsel;
	else if ((off & ~3ULL) == IOAPIC_IOWIN)
		v = ioapic_reg_read(io);
	pthread_mutex_unlock(&io->lock);
	v >>= shift;
	memcpy(data, &v, len);
}

static void ioapic_mmio_write(struct mvm_device *dev, unsigned int idx, uint64_t off,
			      const void *data, unsigned int len)
{
	struct ioapic *io = to_ioapic(dev);
	uint32_t v = 0;

	(void)idx;
	if (len > 4)
		len = 4; /* a 64-bit store writes the register with its low half */
	memcpy(&v, data, len);
	pthread_mutex_lock(&io->lock);
	if (off == IOAPIC_IOREGSEL)
		io->regsel = v & 0xff;
	else if (off == IOAPIC_IOWIN && len == 4)
		ioapic_reg_write(io, v);
	pthread_mutex_unlock(&io->lock);
}

static const struct mvm_counter_desc ioapic_counters[] = {
	{ "delivered", offsetof(struct ioapic, delivered) },
	{ "eois", offsetof(struct ioapic, eois) },
};

static int ioapic_init(struct mvm_device *dev, const void *args)
{
	struct ioapic *io = to_ioapic(dev);
	unsigned int pin;

	pthread_mutex_init(&io->lock, NULL);
	/* KVM's reset state: id 0, every pin masked. */
	for (pin = 0; pin < IOAPIC_PINS; pin++)
		io->rte[pin] = IOAPIC_RTE_MASK;
	stats_node_init(&dev->stats, dev->stats.id, ioapic_counters, ARRAY_SIZE(ioapic_counters),
			io);
	return platform_device_claim_io(dev, args);
}

static void ioapic_unregister(struct mvm_device *dev)
{
	vm_irqchip_detach(dev->vm, dev);
}

static void ioapic_release(struct mvm_device *dev)
{
	pthread_mutex_destroy(&to_ioapic(dev)->lock);
}

static const struct mvm_device_ops ioapic_ops = {
	.type = "ioapic",
	.init = ioapic_init,
	.unregister = ioapic_unregister,
	.release = ioapic_release,
	.read = ioapic_mmio_read,
	.write = ioapic_mmio_write,
};

struct mvm_device *ioapic_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct ioapic *io = mvm_device_alloc(struct ioapic, dev, vm, &ioapic_ops, d->name, d);
	struct mvm_device *dev;
	int err;

	if (IS_ERR(io))
		return (struct mvm_device *)io;
	err = vm_irqchip_attach(vm, &ioapic_chip_ops, io);
	if (err) {
		pr_err("ioapic: the VM has an irqchip already");
		mvm_device_put(&io->dev);
		return ERR_PTR(err);
	}
	dev = mvm_device_register_or_put(&io->dev);
	if (IS_ERR(dev))
		vm_irqchip_detach(vm, io);
	return dev;
}

static bool ioapic_wanted(const struct mvm_config *cfg)
{
	return cfg->irqchip == MVM_IRQCHIP_SPLIT;
}

static int ioapic_type_create(struct vm *vm, const void *desc, unsigned int index)
{
	(void)index;
	return PTR_ERR_OR_ZERO(ioapic_create(vm, desc));
}

/* Before the other platform devices: the lines they raise reach it from the start. */
static const struct mvm_device_type ioapic_type = {
	.name = "ioapic",
	.order = MVM_ORDER_PLATFORM - 1,
	.platform = true,
	.wanted = ioapic_wanted,
	.create = ioapic_type_create,
};
MVM_DEVICE_TYPE(ioapic_type);
