// SPDX-License-Identifier: MIT
/* The virtio devices a VM's configuration asks for, created by vm_create(). */
#include "mvm/log.h"
#include "mvm/vm.h"

#include "mvm/virtio.h"

int virtio_devices_create(struct vm *vm)
{
	const struct mvm_config *cfg = &vm->cfg;
	struct virtio_dev *vdev;
	unsigned int i;

	/* Devices made so far stay listed: vm_create()'s unwind releases them. */
	for (i = 0; i < cfg->nr_disks; i++) {
		vdev = virtio_blk_create(vm, &cfg->disks[i], i);
		if (IS_ERR(vdev))
			return (int)PTR_ERR(vdev);
	}
	if (cfg->rng) {
		vdev = virtio_rng_create(vm);
		if (IS_ERR(vdev))
			return (int)PTR_ERR(vdev);
	}
	if (cfg->console == MVM_CONSOLE_VIRTIO) {
		vdev = virtio_console_create(vm);
		if (IS_ERR(vdev))
			return (int)PTR_ERR(vdev);
	}
	return 0;
}
