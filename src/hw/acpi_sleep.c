// SPDX-License-Identifier: MIT
/*
 * The ACPI sleep control and status registers of a hardware-reduced ACPI
 * platform (ACPI 6.x, FADT SLEEP_CONTROL_REG / SLEEP_STATUS_REG): one byte
 * each, at base and base + 1. The guest enters S5 (power off) by writing
 * SLP_TYPx of \_S5 with SLP_EN; mvm ends the VM with status 0.
 */
#include <string.h>

#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vm.h"

#define SLP_TYP_SHIFT 2
#define SLP_TYP_MASK  0x7
#define SLP_EN	      0x20

static void acpi_sleep_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
			    unsigned int len)
{
	/* Neither register has anything to report: no wake events. */
	memset(data, 0, len);
}

static void acpi_sleep_write(struct mvm_device *dev, unsigned int io, uint64_t off,
			     const void *data, unsigned int len)
{
	uint8_t v = *(const uint8_t *)data;

	if (off != 0 || !(v & SLP_EN))
		return; /* the status register, or a write without SLP_EN */
	if (((v >> SLP_TYP_SHIFT) & SLP_TYP_MASK) == ACPI_SLP_TYP_S5) {
		pr_info("guest powered off (ACPI S5)");
		vm_request_stop(dev->vm, VM_STOP_POWEROFF, 0);
	} else {
		pr_warn_ratelimited("guest asked for ACPI sleep type %u, which mvm does not offer",
				    (v >> SLP_TYP_SHIFT) & SLP_TYP_MASK);
	}
}

static const struct mvm_device_ops acpi_sleep_ops = {
	.type = "acpi-sleep",
	.init = platform_device_claim_io,
	.save = mvm_device_save_none,
	.restore = mvm_device_restore_none,
	.read = acpi_sleep_read,
	.write = acpi_sleep_write,
};

struct mvm_device *acpi_sleep_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct mvm_device *dev =
		mvm_device_alloc(struct mvm_device, ops, vm, &acpi_sleep_ops, d->name, d);

	return mvm_device_register_or_put(dev);
}

MVM_PLATFORM_DEVICE_TYPE(acpi_sleep_type, "acpi-sleep", acpi_sleep_create, NULL);
