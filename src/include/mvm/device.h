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
struct snap_buf;
struct snap_cur;

#define MVM_DEVICE_MAX_IO    4
#define MVM_DEVICE_NAME_SIZE 32

struct mvm_device_io {
	enum mvm_bus_type bus;
	uint64_t base;
	uint64_t len;
};

/*
 * How a device appears to the guest's firmware tables and kernel command
 * line, as data: the arch's writers (ACPI, MP table, virtio_mmio.device=)
 * read it from every listed device and never call into a device. Filled by
 * the device (or its bus/transport) before it is registered.
 */
enum mvm_fw_res_kind {
	MVM_FW_PIO,  /* I/O ports [base, base + len) */
	MVM_FW_MMIO, /* guest-physical [base, base + len) */
	MVM_FW_IRQ,  /* GSI `base`; `level`: level-triggered, else edge */
};

struct mvm_fw_res {
	enum mvm_fw_res_kind kind;
	uint64_t base;
	uint64_t len;
	bool level;
};

#define MVM_FW_MAX_RES 4

/* A PCI host bridge: what MCFG, the DSDT's PCI0 and the e820 map describe. */
struct mvm_fw_pci_host {
	uint64_t ecam_base, ecam_size; /* segment 0, buses bus_first..bus_last */
	uint8_t bus_first, bus_last;
	uint16_t conf1_port;
	uint64_t io_base, io_size;
	uint64_t mem32_base, mem32_size;
};

struct mvm_fw_desc {
	const char *acpi_hid;	/* e.g. "PNP0501", "LNRO0005"; NULL: not in the DSDT */
	char acpi_name[5];	/* its DSDT name ("COM1"); empty: the writer numbers it */
	const char *compatible; /* device-tree compatible, for architectures with one */
	bool virtio_mmio;	/* announce as virtio_mmio.device=<len>@<base>:<gsi> */
	unsigned int nr_res;
	struct mvm_fw_res res[MVM_FW_MAX_RES];
	/* A PCI function: where it sits and the GSI its INTx pin drives. */
	struct {
		bool present;
		uint8_t bus, slot, func;
		uint8_t intx_pin; /* 1 = INTA .. 4 = INTD; 0: no INTx */
		unsigned int intx_gsi;
	} pci;
	const struct mvm_fw_pci_host *pci_host; /* non-NULL for a host bridge */
	/* Kernel parameters the device asks for ("root=/dev/pmem0 rw"); empty: none. */
	char cmdline[64];
	/*
	 * Guest-physical memory the device plugs into the guest later
	 * (virtio-mem): the ACPI SRAT's hot-pluggable range. len 0: none.
	 */
	struct {
		uint64_t base, len;
	} hotplug_mem;
};

/* Adds a resource to dev->fw. 0 or -ENOSPC. */
struct mvm_device;
int mvm_device_fw_add(struct mvm_device *dev, enum mvm_fw_res_kind kind, uint64_t base,
		      uint64_t len, bool level);

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
	/*
	 * Optional: the device's part of a guest-visible event the core
	 * raises without knowing which device serves it (a keyboard's
	 * Ctrl-Alt-Del). 0, or -errno if it could not be delivered.
	 */
	int (*ctrl_alt_del)(struct mvm_device *dev);
	/*
	 * Snapshots (optional, both or neither): save appends the device's
	 * state while the VM is paused; restore takes it back into a device
	 * just created from the same configuration, before any vCPU runs, and
	 * must refuse (-EBADMSG, -EINVAL) what it cannot use, with a message.
	 * A device without them makes a snapshot fail, naming it. 0 or -errno.
	 */
	int (*save)(struct mvm_device *dev, struct snap_buf *out);
	int (*restore)(struct mvm_device *dev, struct snap_cur *in);
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
	struct mvm_fw_desc fw; /* its firmware view, read by the arch's table writers */
	const char *type;      /* the listing's type: "virtio-blk", not its transport */
	const char *transport; /* "pci", "mmio", or NULL (a platform device) */
	const char *host;      /* the host resource it is bound to (a socket, a host PCI address) */
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
/* ops->save / ops->restore of a device without state of its own. */
int mvm_device_save_none(struct mvm_device *dev, struct snap_buf *out);
int mvm_device_restore_none(struct mvm_device *dev, struct snap_cur *in);
void mvm_device_put(struct mvm_device *dev);

#endif
