/* SPDX-License-Identifier: MIT */
/*
 * PCI (src/hw/pci*.c): one host bridge on bus 0, configuration mechanism #1
 * (ports 0xcf8/0xcfc) and ECAM, BARs placed in the arch's windows
 * (ARCH_PCI_* in arch/mvm_arch.h), legacy INTx on the IOAPIC and MSI-X.
 *
 * A PCI device embeds struct pci_dev first (which embeds struct mvm_device
 * first) and is an ordinary mvm_device: allocated by the core with its
 * mvm_device_ops, then pci_dev_register() binds it to a free slot of bus 0
 * and lists it in the VM (mvm_device_register); mvm_device_unregister()
 * (or the VM's teardown) unbinds it through ops->unregister. The host bridge claims the ECAM, the
 * conf1 ports and the BAR windows on the VM's buses and dispatches BAR accesses to the device that
 * decodes them, holding a device reference meanwhile; BARs may be moved by the guest at any time.
 */
#ifndef MVM_PCI_H
#define MVM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "mvm/device.h"

struct vm;
struct pci_dev;
struct pci_host;

#define PCI_CFG_SIZE	     4096 /* extended (ECAM) config space */
#define PCI_MAX_SLOTS	     32
#define PCI_NUM_BARS	     6
#define PCI_MSIX_MAX_VECTORS 32

/* Standard header (type 0) offsets and bits. */
#define PCI_VENDOR_ID		 0x00
#define PCI_DEVICE_ID		 0x02
#define PCI_COMMAND		 0x04
#define PCI_COMMAND_IO		 0x0001
#define PCI_COMMAND_MEMORY	 0x0002
#define PCI_COMMAND_MASTER	 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS		 0x06
#define PCI_STATUS_INTERRUPT	 0x0008
#define PCI_STATUS_CAP_LIST	 0x0010
#define PCI_REVISION_ID		 0x08
#define PCI_CLASS_PROG		 0x09
#define PCI_CLASS_DEVICE	 0x0a
#define PCI_HEADER_TYPE		 0x0e
#define PCI_BASE_ADDRESS_0	 0x10
#define PCI_SUBSYSTEM_VENDOR_ID	 0x2c
#define PCI_SUBSYSTEM_ID	 0x2e
#define PCI_CAPABILITY_LIST	 0x34
#define PCI_INTERRUPT_LINE	 0x3c
#define PCI_INTERRUPT_PIN	 0x3d

#define PCI_BAR_IO	     0x1
#define PCI_BAR_MEM_TYPE_64  0x4
#define PCI_BAR_MEM_PREFETCH 0x8

#define PCI_CAP_ID_MSIX		    0x11
#define PCI_CAP_ID_VNDR		    0x09
#define PCI_MSIX_FLAGS		    2 /* offset of Message Control in the capability */
#define PCI_MSIX_ENABLE		    0x8000
#define PCI_MSIX_MASKALL	    0x4000
#define PCI_MSIX_ENTRY_SIZE	    16
#define PCI_MSIX_ENTRY_CTRL_MASKBIT 1

struct pci_dev_ops {
	/* Accesses inside BAR `bar` at `off` (len 1..8), on a vCPU thread. */
	void (*bar_read)(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
			 unsigned int len);
	void (*bar_write)(struct pci_dev *pdev, unsigned int bar, uint64_t off, const void *data,
			  unsigned int len);
	/*
	 * Optional: BAR `bar` is now at `addr` (0: the device is going away),
	 * e.g. to move ioeventfds. Called when the device is bound (an error
	 * fails the binding), when the guest moves an enabled BAR (an error is
	 * logged; accesses then reach bar_write) and when it is unbound.
	 * Called with the device's lock held. 0 or -errno.
	 */
	int (*bar_remap)(struct pci_dev *pdev, unsigned int bar, uint64_t addr);
	/*
	 * Optional: a config space access the device handles itself (e.g. a
	 * window into a BAR); true if it did. Called without the device's lock
	 * on every config access, before the generic handling.
	 */
	bool (*cfg_access)(struct pci_dev *pdev, unsigned int off, void *data, unsigned int len,
			   bool write);
	/* Optional: MSI-X was enabled/disabled or its function mask changed. */
	void (*msix_changed)(struct pci_dev *pdev);
	/*
	 * Optional: the device is being unregistered, after the unbind:
	 * stop its work. In-flight I/O holds device references that the event
	 * loop would drop, and the loop no longer runs at teardown.
	 */
	void (*unregister)(struct pci_dev *pdev);
};

struct pci_bar {
	uint64_t size; /* a power of two; 0: BAR not implemented */
	enum mvm_bus_type bus;
	bool is64;	 /* takes this and the next BAR register */
	uint64_t mapped; /* address last given to pops->bar_remap */
};

struct pci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;
};

struct pci_msix {
	unsigned int nr; /* vectors; 0: no MSI-X */
	unsigned int bar;
	uint32_t table_off, pba_off;
	uint16_t cap; /* config offset of the capability */
	bool enabled, masked;
	struct pci_msix_entry table[PCI_MSIX_MAX_VECTORS];
	uint64_t pending[(PCI_MSIX_MAX_VECTORS + 63) / 64];
	/* Delivery: a GSI route + irqfd per vector, made on first use. */
	int gsi[PCI_MSIX_MAX_VECTORS];
	int efd[PCI_MSIX_MAX_VECTORS];
	bool route_stale[PCI_MSIX_MAX_VECTORS];
};

struct pci_dev {
	struct mvm_device dev; /* first */
	const struct pci_dev_ops *pops;
	struct pci_host *host;
	int slot;	      /* -1 while not bound */
	pthread_mutex_t lock; /* config space, BARs, MSI-X state */

	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];   /* bits the guest may write */
	uint8_t w1cmask[PCI_CFG_SIZE]; /* bits a guest 1 clears */
	uint16_t cap_last;	       /* offset of the last capability, 0: none */
	uint16_t cap_end;	       /* where the next capability goes */

	struct pci_bar bars[PCI_NUM_BARS];
	struct pci_msix msix;

	unsigned int intx_pin; /* 1 = INTA ... 4 = INTD, 0: none */
	unsigned int intx_gsi;
	bool intx_level;    /* what the device asks for */
	bool intx_asserted; /* what the host bridge was told */
};

/* Little-endian stores into config space images. */
static inline void pci_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void pci_put32(uint8_t *p, uint32_t v)
{
	pci_put16(p, (uint16_t)v);
	pci_put16(p + 2, (uint16_t)(v >> 16));
}

static inline struct pci_dev *to_pci_dev(struct mvm_device *dev)
{
	return (struct pci_dev *)dev;
}

/*
 * Set-up, from the device's init (before registration): identity, BARs,
 * capabilities. class_code is class << 16 | subclass << 8 | prog-if. After
 * pci_dev_init, the device's init calls pci_dev_release on its error path
 * and its release op calls it on the way out.
 */
struct snap_buf;
struct snap_cur;
/*
 * Snapshots: the configuration space (BARs included), INTx and the MSI-X
 * table and pending bits; restore checks it is the same function, then
 * moves the BARs and turns MSI-X on as the state says. 0 or -errno.
 */
int pci_dev_save(struct pci_dev *pdev, struct snap_buf *out);
int pci_dev_restore(struct pci_dev *pdev, struct snap_cur *in);

void pci_dev_init(struct pci_dev *pdev, const struct pci_dev_ops *pops, uint16_t vendor,
		  uint16_t device, uint8_t revision, uint32_t class_code, uint16_t subsys_vendor,
		  uint16_t subsys_id);
int pci_dev_add_bar(struct pci_dev *pdev, unsigned int bar, enum mvm_bus_type bus, uint64_t size,
		    bool is64);
/* Appends a capability of len bytes (id and next filled in); its offset or -errno. */
int pci_dev_add_cap(struct pci_dev *pdev, const void *cap, unsigned int len);
/* MSI-X with nr vectors, table and PBA in BAR `bar` at the given offsets. 0 or -errno. */
int pci_dev_add_msix(struct pci_dev *pdev, unsigned int nr, unsigned int bar, uint32_t table_off,
		     uint32_t pba_off);
/* Device's INTx pin (1..4); the GSI follows from the slot. */
void pci_dev_set_intx(struct pci_dev *pdev, unsigned int pin);
/* Undoes pci_dev_init and what pci_dev_add_msix allocated. */
void pci_dev_release(struct pci_dev *pdev);

/*
 * Binds to a free slot (places the BARs, routes INTx), registers the device
 * (mvm_device_register) and makes it visible to the guest. The device's
 * mvm_device_ops must have .unregister = pci_dev_unregister_op, so that the
 * core's mvm_device_unregister (also vm_destroy's) unbinds it first.
 * 0 or -errno (-ENOSPC: no free slot, -ENODEV: no PCI host).
 */
int pci_dev_register(struct pci_dev *pdev);
void pci_dev_unregister_op(struct mvm_device *dev);
/* Same as mvm_device_unregister(&pdev->dev). */
void pci_dev_unregister(struct pci_dev *pdev);

/* Config space access as the guest sees it (used by the host bridge, tests); off + len <= 4096. */
void pci_cfg_read(struct pci_dev *pdev, unsigned int off, void *data, unsigned int len);
void pci_cfg_write(struct pci_dev *pdev, unsigned int off, const void *data, unsigned int len);

/* Interrupts. Both are no-ops when the function cannot interrupt. */
void pci_intx_set(struct pci_dev *pdev, bool level);
/* Fires MSI-X vector v (or sets it pending while masked). 0 or -errno. */
int pci_msix_notify(struct pci_dev *pdev, unsigned int v);
/* True when MSI-X is enabled (the driver uses it instead of INTx). */
bool pci_msix_enabled(struct pci_dev *pdev);

/*
 * The host bridge: created with the platform devices (arch table type
 * "pci-host"). For ACPI / MP tables: every bound device's INTx route,
 * GSI = 16 + ((slot + pin - 1) % 8), level-triggered, active high.
 */
int pci_for_each_intx(struct vm *vm,
		      void (*fn)(void *opaque, unsigned slot, unsigned pin, unsigned gsi),
		      void *opaque);
unsigned int pci_intx_gsi(unsigned int slot, unsigned int pin);

/* The guest's view of a device's BAR: its access path (host bridge, tests). */
void pci_bar_access(struct pci_dev *pdev, unsigned int bar, uint64_t off, void *data,
		    unsigned int len, bool write);
/* A BAR as the device listing shows it. */
struct pci_bar_view {
	unsigned int index;
	uint64_t addr, size;
	bool io;
};
/* The implemented BARs of a PCI device (dev must be one: fw.pci.present). Their count. */
unsigned int pci_dev_bars(struct mvm_device *dev, struct pci_bar_view *out, unsigned int max);

/* The address BAR `bar` holds now (flag bits masked off). */
uint64_t pci_bar_addr(const struct pci_dev *pdev, unsigned int bar);

#endif
