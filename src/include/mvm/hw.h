/* SPDX-License-Identifier: MIT */
/* Platform devices (src/hw/): created from the arch's table by vm_create(). */
#ifndef MVM_HW_H
#define MVM_HW_H

#include "mvm/arch.h"
#include "mvm/device.h"
#include "mvm/devtype.h"

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

/* The SLP_TYP value of \_S5 in the DSDT, which acpi-sleep turns into a power-off. */
#define ACPI_SLP_TYP_S5 5
/* The PCI host bridge (src/pci/host.c); d gives the conf1 ports. */
struct mvm_device *pci_host_create(struct vm *vm, const struct platform_device_desc *d);

#endif
