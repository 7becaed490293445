// SPDX-License-Identifier: MIT
/* Helpers of the platform devices (src/hw/): the arch places them. */
#include "mvm/hw.h"

int platform_device_claim_io(struct mvm_device *dev, const void *args)
{
	const struct platform_device_desc *d = args;

	return mvm_device_add_io(dev, d->bus, d->base, d->len);
}
