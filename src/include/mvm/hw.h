/* SPDX-License-Identifier: MIT */
/* Platform devices (src/hw/): created from the arch's table by vm_create(). */
#ifndef MVM_HW_H
#define MVM_HW_H

#include <pthread.h>
#include <stdint.h>

#include "mvm/arch.h"
#include "mvm/device.h"
#include "mvm/devtype.h"
#include "mvm/irq.h"
#include "mvm/stats.h"

struct vm;

/*
 * Registers a platform device type (mvm/devtype.h) whose instances the arch
 * places (arch_platform_devices[]): fn(vm, desc) creates and registers one.
 * wanted_fn: NULL, or whether this VM has the device.
 */
#define MVM_PLATFORM_DEVICE_TYPE(ident, type_name, fn, wanted_fn)                      \
	static int ident##_create(struct vm *vm, const void *desc, unsigned int index) \
	{                                                                              \
		return PTR_ERR_OR_ZERO(fn(vm, desc));                                  \
	}                                                                              \
	static const struct mvm_device_type ident = {                                  \
		.name = (type_name),                                                   \
		.order = MVM_ORDER_PLATFORM,                                           \
		.platform = true,                                                      \
		.wanted = (wanted_fn),                                                 \
		.create = ident##_create,                                              \
	};                                                                             \
	MVM_DEVICE_TYPE(ident)
/* An init op for devices that only claim the I/O range of their table entry. */
int platform_device_claim_io(struct mvm_device *dev, const void *args);

/* Each creates, initialises and registers one device: the device or ERR_PTR. */
struct mvm_device *serial8250_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *i8042_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *debug_exit_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *acpi_sleep_create(struct vm *vm, const struct platform_device_desc *d);

/*
 * The user-space IOAPIC of the split irqchip (ioapic.c): registers and
 * redirection-entry bits, as the 82093AA datasheet names them.
 */
#define IOAPIC_PINS		   VM_IRQCHIP_PINS
#define IOAPIC_VERSION		   0x11
#define IOAPIC_IOREGSEL		   0x00
#define IOAPIC_IOWIN		   0x10
#define IOAPIC_REG_ID		   0x00
#define IOAPIC_REG_VER		   0x01
#define IOAPIC_REG_ARB		   0x02
#define IOAPIC_REG_RTE		   0x10 /* pin n: 0x10 + 2n (low), 0x11 + 2n (high) */
#define IOAPIC_RTE_VECTOR	   0xffULL
#define IOAPIC_RTE_DELIVERY_MODE   0x700ULL
#define IOAPIC_RTE_DEST_LOGICAL	   (1ULL << 11)
#define IOAPIC_RTE_DELIVERY_STATUS (1ULL << 12) /* read-only; always idle here */
#define IOAPIC_RTE_POLARITY_LOW	   (1ULL << 13)
#define IOAPIC_RTE_REMOTE_IRR	   (1ULL << 14) /* read-only */
#define IOAPIC_RTE_LEVEL	   (1ULL << 15)
#define IOAPIC_RTE_MASK		   (1ULL << 16)
#define IOAPIC_RTE_DEST_SHIFT	   56
#define IOAPIC_RTE_DEST		   (0xffULL << IOAPIC_RTE_DEST_SHIFT)
/* The guest-writable bits of an entry's low word; the rest reads as 0 or is read-only. */
#define IOAPIC_RTE_WRITABLE_LO                                                    \
	(IOAPIC_RTE_VECTOR | IOAPIC_RTE_DELIVERY_MODE | IOAPIC_RTE_DEST_LOGICAL | \
	 IOAPIC_RTE_POLARITY_LOW | IOAPIC_RTE_LEVEL | IOAPIC_RTE_MASK)
#define IOAPIC_MSI_ADDR_BASE 0xfee00000ULL

struct ioapic {
	struct mvm_device dev;
	pthread_mutex_t lock;
	uint32_t regsel; /* IOREGSEL */
	uint8_t id;	 /* bits 24-27 of the ID register */
	uint64_t rte[IOAPIC_PINS];
	uint32_t line; /* the inputs' levels, a bit per pin */
	uint32_t irr;  /* pending: asserted levels, latched edges */
	mvm_counter_t delivered;
	mvm_counter_t eois;
};

/* The MSI an entry sends: address (destination, mode) and data (vector, delivery, trigger). */
uint64_t ioapic_msi_addr(uint64_t rte);
uint32_t ioapic_msi_data(uint64_t rte);
struct mvm_device *ioapic_create(struct vm *vm, const struct platform_device_desc *d);

/* The SLP_TYP value of \_S5 in the DSDT, which acpi-sleep turns into a power-off. */
#define ACPI_SLP_TYP_S5 5
/* The PCI host bridge (src/pci/host.c); d gives the conf1 ports. */
struct mvm_device *pci_host_create(struct vm *vm, const struct platform_device_desc *d);

#endif
