/* SPDX-License-Identifier: MIT */
/* virtio-blk: its options (struct mvm_disk_config) and direct creation for tests. */
#ifndef MVM_VIRTIO_BLK_H
#define MVM_VIRTIO_BLK_H

#include "block/disk_config.h"

struct vm;
struct virtio_dev;

/* One disk as the device type's create does (index: its number, "virtio-blk<index>"). */
struct virtio_dev *virtio_blk_create(struct vm *vm, const struct mvm_disk_config *disk,
				     unsigned int index);

#endif
