/* SPDX-License-Identifier: MIT */
/*
 * VFIO devices: a PCI function of the guest backed by a VFIO device, in the
 * kernel (vfio-pci, src/vfio/kernel.c) or in another process (vfio-user,
 * src/vfio/user.c). The common part (src/vfio/device.c) builds the guest's
 * function from what the back end reports and serves it:
 *
 *   - config space: emulated (identity, BARs, the MSI-X capability and the
 *     interrupt pin come from the device's own config region; the command
 *     register's enables are forwarded), other capabilities are hidden;
 *   - BARs: mappable sparse areas are mmapped and lent to the guest as memory
 *     slots (mvm/dev_mem.h), the rest is trapped and forwarded;
 *   - MSI-X: table and PBA trapped and emulated by the PCI core; each vector
 *     has an eventfd the back end signals, relayed by the event loop to
 *     pci_msix_notify() (masking stays the core's); INTx is a KVM resample
 *     irqfd on the function's GSI whose resample fd is the device's unmask
 *     eventfd (level semantics, as VFIO masks INTx when it fires); one
 *     interrupt type at a time, as VFIO wants;
 *   - DMA: guest RAM is mapped for the device at iova = guest-physical.
 *
 * A back end that fails (a dead or misbehaving vfio-user server) marks the
 * device failed: the guest then reads all-ones and writes are dropped; the
 * VM keeps running.
 */
#ifndef MVM_VFIO_H
#define MVM_VFIO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/loop.h"
#include "mvm/pci.h"

/* Region indexes of a VFIO PCI device (linux/vfio.h). */
#define VFIO_BAR0	0
#define VFIO_ROM	6
#define VFIO_CONFIG	7
#define VFIO_NR_REGIONS 9
#define VFIO_MAX_AREAS	4
#define VFIO_IRQ_INTX	0
#define VFIO_IRQ_MSIX	2
#define VFIO_HOST_SIZE	108 /* a socket path or a host PCI address */
#define VFIO_MAX_REGION (1ULL << 40)

/* Region flags (as VFIO_REGION_INFO_FLAG_*). */
#define VFIO_RF_READ  1u
#define VFIO_RF_WRITE 2u
#define VFIO_RF_MMAP  4u

struct vfio_area {
	uint64_t off, size; /* inside the region, page-aligned */
	void *hva;	    /* our mapping of it, NULL when not mapped */
	int slot;	    /* its memory slot while the guest has it, else -1 */
};

struct vfio_region {
	uint32_t flags;
	uint64_t size;
	uint64_t offset; /* of the region in `fd`, for mmap */
	int fd;		 /* what to mmap; -1: not mappable */
	bool fd_owned;	 /* closed with the device (a fd the server passed) */
	unsigned int nr_areas;
	struct vfio_area areas[VFIO_MAX_AREAS];
};

struct vfio_dev;

/*
 * What a back end provides. Every call may fail (-errno); a failure of the
 * transport is reported by the back end through vfio_dev_fail().
 */
struct vfio_backend_ops {
	const char *type; /* the listing's type: "vfio-user", "vfio-pci" */
	/* Opens the device named by v->host (init). 0 or -errno, nothing left open on error. */
	int (*open)(struct vfio_dev *v, const void *args);
	/* Closes everything open() made (release). */
	void (*close)(struct vfio_dev *v);
	int (*device_info)(struct vfio_dev *v, uint32_t *num_regions, uint32_t *num_irqs);
	/* Fills r: flags, size, offset, fd (-1 when none), the sparse mmap areas. */
	int (*region_info)(struct vfio_dev *v, unsigned int index, struct vfio_region *r);
	int (*region_rw)(struct vfio_dev *v, unsigned int index, uint64_t off, void *buf,
			 uint32_t len, bool write);
	int (*irq_info)(struct vfio_dev *v, unsigned int index, uint32_t *count);
	/* Triggers of vectors [start, start + count) become fds[]; count 0: all off. */
	int (*set_irqs)(struct vfio_dev *v, unsigned int index, uint32_t start, uint32_t count,
			const int *fds);
	/* INTx's unmask eventfd: a write unmasks the line (after the guest's EOI). */
	int (*intx_unmask_fd)(struct vfio_dev *v, int fd);
	/* Guest RAM [iova, iova + size) is hva, offset fd_off in fd (the memfd). */
	int (*dma_map)(struct vfio_dev *v, uint64_t iova, uint64_t size, void *hva, int fd,
		       uint64_t fd_off);
	int (*dma_unmap)(struct vfio_dev *v, uint64_t iova, uint64_t size);
	int (*reset)(struct vfio_dev *v);
};

struct vfio_irq {
	struct loop_handler h;
	struct vfio_dev *v;
	unsigned int vector; /* MSI-X vector */
	bool watched;
};

struct vfio_dev {
	struct pci_dev pdev; /* first */
	const struct vfio_backend_ops *bops;
	void *backend; /* the back end's own state */
	char host[VFIO_HOST_SIZE];
	atomic_bool failed;

	uint32_t num_regions, num_irqs;
	struct vfio_region regions[VFIO_NR_REGIONS];
	uint8_t dev_cfg[256]; /* the device's config header, as read at open */

	unsigned int msix_nr; /* vectors given to the guest */
	bool msix_on;	      /* the back end triggers our eventfds */
	struct vfio_irq msix[PCI_MSIX_MAX_VECTORS];
	int intx_fd;	 /* INTx trigger: a KVM irqfd on the function's GSI */
	int intx_unmask; /* its resample fd: the device's unmask eventfd */
	bool intx_irqfd; /* the irqfd is bound, on intx_gsi */
	unsigned int intx_gsi;
	bool intx_on; /* the back end triggers intx_fd */
	/* Signalled on failure: the event loop takes the mapped BARs away from the guest. */
	struct loop_handler failed_h;
	bool failed_watched;
	unsigned int nr_dma; /* RAM regions mapped for DMA */
};

/* What vfio_dev_create() passes to the device's init. */
struct vfio_open_args {
	const struct vfio_backend_ops *bops;
	const char *host;
	const void *backend_args;
};

static inline struct vfio_dev *to_vfio(struct pci_dev *pdev)
{
	return (struct vfio_dev *)pdev;
}

/* Allocates (init opens the back end and builds the function) and binds it on PCI. */
struct vfio_dev *vfio_dev_create(struct vm *vm, const char *name, const struct vfio_open_args *a);
/* The back end is gone or lies: every later access reads all-ones. Any thread. */
void vfio_dev_fail(struct vfio_dev *v, const char *why);
static inline bool vfio_dev_failed(struct vfio_dev *v)
{
	return atomic_load(&v->failed);
}

struct vm;
/* vfio-user (src/vfio/user.c): the server at `socket`; replies awaited up to timeout_ms. */
struct vfio_dev *vfio_user_create(struct vm *vm, const char *socket, unsigned int index,
				  int timeout_ms);
/*
 * Kernel VFIO (src/vfio/kernel.c): the host PCI function `addr` (0000:01:00.0),
 * looked up under sysfs_root ("/sys").
 */
struct vfio_dev *vfio_pci_create(struct vm *vm, const char *addr, const char *sysfs_root,
				 unsigned int index);

struct mvm_config;
/* The device types' common check: VFIO devices are PCI functions. 0 or -EINVAL with msg. */
int vfio_check_config(const struct mvm_config *cfg, char *msg, size_t len);

/* A region's sparse areas checked against its size (page-aligned, in range, <= VFIO_MAX_AREAS). */
bool vfio_areas_valid(const struct vfio_region *r);
/*
 * The capability chain of a region info (the kernel's struct
 * vfio_region_info and the vfio-user reply share it) of len bytes, from
 * cap_off; fills r's sparse mmap areas. Offsets below hdr_len, outside the
 * buffer or going backwards are refused. 0 or -EPROTO.
 */
int vfio_region_caps_parse(const uint8_t *info, size_t len, uint32_t cap_off, size_t hdr_len,
			   struct vfio_region *r);

#endif
