// SPDX-License-Identifier: MIT
/* The device life cycle: alloc/init, register, unregister, get/put/release. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/snap_format.h"
#include "mvm/device.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

static const struct mvm_counter_desc device_counters[] = {
	{ "reads", offsetof(struct mvm_device, reads) },
	{ "writes", offsetof(struct mvm_device, writes) },
};

struct mvm_device *_mvm_device_alloc(size_t size, struct vm *vm, const struct mvm_device_ops *ops,
				     const char *name, const void *args)
{
	struct mvm_device *dev;
	char id[MVM_STATS_ID_SIZE];
	int err;

	if (size < sizeof(*dev) || !ops || !name || strlen(name) >= MVM_DEVICE_NAME_SIZE)
		return ERR_PTR(-EINVAL);

	dev = mvm_zalloc(size);
	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->ops = ops;
	dev->type = ops->type;
	dev->vm = vm;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	atomic_init(&dev->refcount, 1);
	list_init(&dev->node);
	snprintf(id, sizeof(id), "%s/%s", vm ? vm->stats.id : "none", name);
	stats_node_init(&dev->stats, id, device_counters, ARRAY_SIZE(device_counters), dev);

	if (ops->init) {
		err = ops->init(dev, args);
		if (err) {
			/* The driver's init cleaned up after itself; the core frees. */
			free(dev);
			return ERR_PTR(err < 0 ? err : -EINVAL);
		}
	}
	return dev;
}

int mvm_device_add_io(struct mvm_device *dev, enum mvm_bus_type bus, uint64_t base, uint64_t len)
{
	if (dev->registered || dev->nr_io == MVM_DEVICE_MAX_IO || bus >= MVM_BUS_NR || !len)
		return -EINVAL;
	dev->io[dev->nr_io++] = (struct mvm_device_io){ bus, base, len };
	return 0;
}

int mvm_device_fw_add(struct mvm_device *dev, enum mvm_fw_res_kind kind, uint64_t base,
		      uint64_t len, bool level)
{
	if (dev->fw.nr_res == MVM_FW_MAX_RES)
		return -ENOSPC;
	dev->fw.res[dev->fw.nr_res++] = (struct mvm_fw_res){ kind, base, len, level };
	return 0;
}

static void device_unclaim(struct mvm_device *dev, unsigned int upto)
{
	unsigned int i;

	for (i = 0; i < upto; i++)
		bus_remove(&dev->vm->buses[dev->io[i].bus], dev);
}

int mvm_device_register(struct mvm_device *dev)
{
	struct vm *vm = dev->vm;
	unsigned int i;
	int err;

	if (dev->registered || !vm)
		return -EINVAL;
	for (i = 0; i < dev->nr_io; i++) {
		const struct mvm_device_io *io = &dev->io[i];

		err = bus_add(&vm->buses[io->bus], io->base, io->len, dev, i);
		if (err) {
			if (err == -EBUSY)
				pr_err("device %s: %s range 0x%llx+0x%llx overlaps another device",
				       dev->name, mvm_bus_name(io->bus),
				       (unsigned long long)io->base, (unsigned long long)io->len);
			device_unclaim(dev, i);
			return err;
		}
	}
	pthread_mutex_lock(&vm->lock);
	list_add_tail(&dev->node, &vm->devices);
	dev->registered = true;
	counter_inc(&vm->stat_devices);
	pthread_mutex_unlock(&vm->lock);
	return 0;
}

struct mvm_device *mvm_device_register_or_put(struct mvm_device *dev)
{
	int err;

	if (IS_ERR(dev))
		return dev;
	err = mvm_device_register(dev);
	if (err) {
		mvm_device_put(dev);
		return ERR_PTR(err);
	}
	return dev;
}

void mvm_device_unregister(struct mvm_device *dev)
{
	struct vm *vm = dev->vm;

	if (!dev->registered)
		return;
	if (dev->ops->unregister)
		dev->ops->unregister(dev);
	pthread_mutex_lock(&vm->lock);
	list_del_init(&dev->node);
	dev->registered = false;
	atomic_fetch_sub(&vm->stat_devices, 1);
	pthread_mutex_unlock(&vm->lock);
	device_unclaim(dev, dev->nr_io);
}

void mvm_device_get(struct mvm_device *dev)
{
	atomic_fetch_add_explicit(&dev->refcount, 1, memory_order_relaxed);
}

void mvm_device_put(struct mvm_device *dev)
{
	/* acq_rel: every access made under a reference happens before release. */
	if (atomic_fetch_sub_explicit(&dev->refcount, 1, memory_order_acq_rel) != 1)
		return;
	if (dev->ops->release)
		dev->ops->release(dev);
	stats_node_release(&dev->stats);
	free(dev);
}

int mvm_device_save_none(struct mvm_device *dev, struct snap_buf *out)
{
	(void)dev;
	(void)out;
	return 0;
}

int mvm_device_restore_none(struct mvm_device *dev, struct snap_cur *in)
{
	if (snap_cur_end(in)) {
		pr_err("%s: saved state is malformed (it has none)", dev->name);
		return -EBADMSG;
	}
	return 0;
}
