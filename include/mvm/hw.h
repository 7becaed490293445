/* SPDX-License-Identifier: MIT */
/* Platform devices (src/hw/): created from the arch's table by vm_create(). */
#ifndef MVM_HW_H
#define MVM_HW_H

#include "mvm/arch.h"
#include "mvm/device.h"

struct vm;

/* Creates and registers every device of arch_platform_devices[]. 0 or -errno. */
int platform_devices_create(struct vm *vm);

/* Each creates, initialises and registers one device: the device or ERR_PTR. */
struct mvm_device *serial8250_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *i8042_create(struct vm *vm, const struct platform_device_desc *d);
struct mvm_device *debug_exit_create(struct vm *vm, const struct platform_device_desc *d);
/* The PCI host bridge (src/hw/pci_host.c); d gives the conf1 ports. */
struct mvm_device *pci_host_create(struct vm *vm, const struct platform_device_desc *d);

#endif
