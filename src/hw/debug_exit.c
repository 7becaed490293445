// SPDX-License-Identifier: MIT
/*
 * The debug-exit port (I/O 0xf4, as QEMU's isa-debug-exit): a guest write
 * of value V ends the VM, and `mvm run` exits with status V (its low byte).
 * Unlike QEMU, V is not turned into 2V+1: a guest's 0 is a success.
 */
#include <string.h>

#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vm.h"

static void debug_exit_write(struct mvm_device *dev, unsigned int io, uint64_t off,
			     const void *data, unsigned int len)
{
	uint64_t v = 0;

	(void)io;
	(void)off;
	memcpy(&v, data, len);
	pr_info("guest wrote 0x%llx to the debug-exit port", (unsigned long long)v);
	vm_request_stop(dev->vm, VM_STOP_EXIT_PORT, (int)(v & 0xff));
}

static const struct mvm_device_ops debug_exit_ops = {
	.type = "debug-exit",
	.init = platform_device_claim_io,
	.save = mvm_device_save_none,
	.restore = mvm_device_restore_none,
	.write = debug_exit_write,
};

struct mvm_device *debug_exit_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct mvm_device *dev =
		mvm_device_alloc(struct mvm_device, ops, vm, &debug_exit_ops, d->name, d);

	return mvm_device_register_or_put(dev);
}

MVM_PLATFORM_DEVICE_TYPE(debug_exit_type, "debug-exit", debug_exit_create, NULL);
