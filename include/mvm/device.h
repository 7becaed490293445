/* SPDX-License-Identifier: MIT */
/*
 * Devices: the core owns their life cycle (DESIGN.md §1.3, the vfio_device
 * model).
 *
 *   dev = mvm_device_alloc(struct my_dev, core, vm, &my_ops, "name", args);
 *	allocates the containing struct (core part first), refcount 1, then
 *	calls ops->init. If init fails the core frees; drivers never free.
 *   mvm_device_register(dev)   claims its I/O ranges on the buses and lists
 *	it in the VM's devices (what `mvm devices` shows);
 *   mvm_device_unregister(dev) undoes that;
 *   mvm_device_get/put         the last put calls ops->release, then frees.
 *
 * The VM owns the initial reference of every device it lists: vm_destroy()
 * unregisters and puts each. In-flight I/O holds a reference of its own.
 */
#ifndef MVM_DEVICE_H
#define MVM_DEVICE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/bus.h"
#include "mvm/compiler.h"
#include "mvm/err.h"
#include "mvm/list.h"
#include "mvm/stats.h"

struct vm;
struct mvm_device;

#define MVM_DEVICE_MAX_IO    4
#define MVM_DEVICE_NAME_SIZE 32

struct mvm_device_io {
	enum mvm_bus_type bus;
	uint64_t base;
	uint64_t len;
};

struct mvm_device_ops {
	const char *type;
	/* Private set-up; may call mvm_device_add_io(). 0 or -errno. */
	int (*init)(struct mvm_device *dev, const void *args);
	/*
	 * Optional: leave what the device joined itself beyond the core's
	 * buses (a PCI slot); first step of mvm_device_unregister().
	 */
	void (*unregister)(struct mvm_device *dev);
	/* Private clean-up; called once, on the last put, never after a failed init. */
	void (*release)(struct mvm_device *dev);
	/* Accesses to dev->io[io] at `offset` from its base, len 1..8 bytes. */
	void (*read)(struct mvm_device *dev, unsigned int io, uint64_t offset, void *data,
		     unsigned int len);
	void (*write)(struct mvm_device *dev, unsigned int io, uint64_t offset, const void *data,
		      unsigned int len);
};

struct mvm_device {
	const struct mvm_device_ops *ops;
	struct vm *vm;
	char name[MVM_DEVICE_NAME_SIZE];
	atomic_uint refcount;
	unsigned int nr_io;
	struct mvm_device_io io[MVM_DEVICE_MAX_IO];
	bool registered;
	struct list_head node; /* in vm->devices while registered */
	struct stats_node stats;
	mvm_counter_t reads;
	mvm_counter_t writes;
};

struct mvm_device *_mvm_device_alloc(size_t size, struct vm *vm, const struct mvm_device_ops *ops,
				     const char *name, const void *args);

/* The core part must come first so that ERR_PTR values pass through. */
#define mvm_device_alloc(type, member, vm, ops, name, args)                                   \
	((type *)_mvm_device_alloc(                                                           \
		sizeof(type) + 0 * sizeof(struct {                                            \
				       _Static_assert(                                        \
					       offsetof(type, member) == 0,                   \
					       "struct mvm_device must be the first member"); \
				       int dummy;                                             \
			       }),                                                            \
		(vm), (ops), (name), (args)))

/* Declares an I/O range; used by ops->init before registration. 0 or -errno. */
int mvm_device_add_io(struct mvm_device *dev, enum mvm_bus_type bus, uint64_t base, uint64_t len);
int mvm_device_register(struct mvm_device *dev);
void mvm_device_unregister(struct mvm_device *dev);
/*
 * For creators: registers a freshly allocated device (or passes an
 * ERR_PTR through). On failure drops the allocation's reference.
 * The device or ERR_PTR(-errno).
 */
struct mvm_device *mvm_device_register_or_put(struct mvm_device *dev);
void mvm_device_get(struct mvm_device *dev);
void mvm_device_put(struct mvm_device *dev);

#endif
