/* SPDX-License-Identifier: MIT */
/* Platform devices (src/hw/): created from the arch's table by vm_create(). */
#ifndef MVM_HW_H
#define MVM_HW_H

#include "mvm/arch.h"
#include "mvm/device.h"

struct vm;

/* Creates and registers every device of arch_platform_devices[]. 0 or -errno. */
int platform_devices_create(struct vm *vm);
/* An init op for devices that only claim the I/O range of their table entry. */
int platform_device_claim_io(struct mvm_device *dev, const void *args);

/* Each creates, initialises and registers one device: the device or ERR_PTR. */
struct mvm_device *serial8250_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *i8042_create(struct vm *vm, const struct platform_device_desc *d);
/* Queues Ctrl-Alt-Del for the guest, IRQ 1 if enabled. 0 or -ENOSPC. */
int i8042_send_ctrl_alt_del(struct mvm_device *dev);
struct mvm_device *debug_exit_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *acpi_sleep_create(struct vm *vm, const struct platform_device_desc *d);

/* The SLP_TYP value of \_S5 in the DSDT, which acpi-sleep turns into a power-off. */
#define ACPI_SLP_TYP_S5 5
/* The PCI host bridge (src/pci/host.c); d gives the conf1 ports. */
struct mvm_device *pci_host_create(struct vm *vm, const struct platform_device_desc *d);

#endif
