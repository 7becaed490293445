// SPDX-License-Identifier: MIT
/* Builds the arch's fixed platform devices from its table. */
#include <errno.h>
#include <string.h>

#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vm.h"

struct platform_type {
	const char *type;
	struct mvm_device *(*create)(struct vm *vm, const struct platform_device_desc *d);
};

static const struct platform_type platform_types[] = {
	{ "serial8250", serial8250_create }, { "i8042", i8042_create },
	{ "debug-exit", debug_exit_create }, { "acpi-sleep", acpi_sleep_create },
	{ "pci-host", pci_host_create },
};

int platform_device_claim_io(struct mvm_device *dev, const void *args)
{
	const struct platform_device_desc *d = args;

	return mvm_device_add_io(dev, d->bus, d->base, d->len);
}

int platform_devices_create(struct vm *vm)
{
	unsigned int i, j;

	for (i = 0; i < arch_nr_platform_devices; i++) {
		const struct platform_device_desc *d = &arch_platform_devices[i];
		struct mvm_device *dev = NULL;

		for (j = 0; j < ARRAY_SIZE(platform_types); j++)
			if (!strcmp(platform_types[j].type, d->type))
				dev = platform_types[j].create(vm, d);
		if (!dev) {
			pr_err("platform device type '%s' is unknown", d->type);
			return -EINVAL;
		}
		/* Devices made so far stay listed: vm_create()'s unwind releases them. */
		if (IS_ERR(dev))
			return (int)PTR_ERR(dev);
	}
	return 0;
}
