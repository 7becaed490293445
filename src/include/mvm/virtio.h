/* SPDX-License-Identifier: MIT */
/*
 * virtio 1.x core: devices that do not know their transport, split
 * virtqueues, the status machine (src/virtio/core.c, virtqueue.c).
 *
 * Beyond the plain virtio model:
 *  - struct virtio_dev_ops has a type name and init/release hooks: the
 *    device's private set-up and clean-up, called by the core the way
 *    mvm_device_ops init/release are (DESIGN.md §1.3; a failed init is
 *    never followed by release; the core frees, the device never does);
 *  - virtio_dev_create() allocates, initialises and registers a virtio
 *    device on the transport chosen in one place (the VM's cfg.transport);
 *  - virtq_setup()/virtq_reset() let a unit test or a fuzzer drive a
 *    virtqueue over a plain struct vm_memory, without a device;
 *  - on a malformed chain virtq_pop() still reports the head it consumed
 *    (see below) so the device can return it with virtq_push(head, 0).
 *
 * A device type embeds struct virtio_dev FIRST, which itself starts with the
 * transport's device object, which starts with struct mvm_device:
 *
 *	struct virtio_rng {
 *		struct virtio_dev vdev;		// first
 *		...
 *	};
 *	static const struct virtio_dev_ops rng_ops = { ... };
 *	struct virtio_rng *rng = virtio_dev_create(struct virtio_rng, vdev, vm, &rng_ops,
 *						   "virtio-rng", args);
 *
 * The VM owns the reference that creation returns (it lists the device and
 * vm_destroy() unregisters and puts it). In-flight I/O takes its own with
 * mvm_device_get(&vdev->dev) / mvm_device_put().
 *
 * Threads and locks: transport register accesses (vCPU threads) take
 * vdev->lock; ops->config_read/config_write, ops->activate and ops->reset
 * run under it (reset on a vCPU thread: it must stop the device's use of
 * the queues and drain in-flight I/O without waiting for the event loop).
 * ops->queue_notify runs on the event-loop thread (the queue's ioeventfd is
 * a loop handler), also with vdev->lock held, so it never overlaps a reset.
 * A virtqueue is used by one thread at a time: virtq_pop/push/notify on one
 * queue are serialised by the device (one completing I/O elsewhere takes
 * its own lock, nested inside vdev->lock). virtio_dev_needs_reset() and
 * virtq_notify() take no virtio lock and may be called from any context.
 */
#ifndef MVM_VIRTIO_H
#define MVM_VIRTIO_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "mvm/config.h"
#include "mvm/device.h"
#include "mvm/loop.h"
#include "mvm/memory.h"
#include "mvm/pci.h"

struct vm;
struct virtio_dev;
struct virtqueue;

/* Device status (virtio 1.x §2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER	  0x02
#define VIRTIO_STATUS_DRIVER_OK	  0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_NEEDS_RESET 0x40
#define VIRTIO_STATUS_FAILED	  0x80

/* Transport feature bits (§6). */
#define VIRTIO_F_RING_INDIRECT_DESC 28
#define VIRTIO_F_RING_EVENT_IDX	    29
#define VIRTIO_F_VERSION_1	    32

/* Device ids (§5). */
#define VIRTIO_ID_NET	  1
#define VIRTIO_ID_BLOCK	  2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG	  4
#define VIRTIO_ID_VSOCK	  19
#define VIRTIO_ID_BALLOON 5
#define VIRTIO_ID_MEM	  24
#define VIRTIO_ID_PMEM	  27

/* Split ring descriptor flags (§2.7.5). */
#define VIRTQ_DESC_F_NEXT	   1
#define VIRTQ_DESC_F_WRITE	   2
#define VIRTQ_DESC_F_INDIRECT	   4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY	   1

#define VIRTQ_MAX_SIZE	  32768 /* largest queue size virtio allows */
#define VIRTIO_MAX_QUEUES 16	/* per device */

#define VIRTQ_CHAIN_MAX 1024

/* Split ring layout in guest memory (§2.7), little-endian. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[]; /* then used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[]; /* then avail_event */
};

/*
 * One popped descriptor chain, every buffer checked to lie in guest RAM.
 * The buffers are guest memory the guest can change at any time: a device
 * copies a request header out before it checks it.
 */
struct virtq_chain {
	uint16_t head;
	unsigned int out_num; /* iov[0, out_num): device-readable */
	unsigned int in_num;  /* iov[out_num, out_num + in_num): device-writable */
	struct iovec iov[VIRTQ_CHAIN_MAX];
};

struct virtqueue {
	struct virtio_dev *vdev; /* NULL when driven alone (tests, fuzzers) */
	unsigned int index;
	const struct vm_memory *mem;

	/* Set by the driver through the transport; size 0 = not set up. */
	uint16_t size;
	bool enabled;
	uint64_t desc_gpa, avail_gpa, used_gpa;

	/* From the negotiated features when the queue is set up. */
	bool event_idx;
	bool indirect;

	/* Host views of the rings (checked at set-up; RAM never moves). */
	struct virtq_desc *desc;
	struct virtq_avail *avail;
	struct virtq_used *used;

	/* Device state. */
	uint16_t last_avail; /* next avail ring entry to pop */
	uint16_t used_idx;   /* next used ring entry to fill (shadow of used->idx) */
	uint16_t signalled_used;
	bool signalled_used_valid;
	bool broken; /* a malformed ring was seen; virtq_pop returns -EINVAL */

	/* How the transport interrupts the driver for this queue (may be NULL). */
	void (*signal)(struct virtqueue *vq);

	/* The driver's notifications: an ioeventfd, a handler of the VM's event loop. */
	int kick_fd;
	struct loop_handler kick;
};

/*
 * Sets a queue up by hand (what the transport does on queue_enable):
 * features are the negotiated ones (EVENT_IDX, INDIRECT_DESC are read).
 * 0, or -EINVAL if size is not a power of two <= VIRTQ_MAX_SIZE or a ring
 * does not lie wholly in guest RAM with its alignment.
 */
int virtq_setup(struct virtqueue *vq, const struct vm_memory *mem, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used, uint64_t features);
/* A set-up queue as a snapshot keeps it. */
struct virtq_saved {
	uint16_t size;
	uint64_t desc, avail, used;
	uint16_t last_avail, used_idx, signalled_used;
	bool signalled_used_valid, broken;
};

/*
 * Sets a queue up again as it was saved, without writing to the rings
 * (they are in the restored guest memory). 0 or -EINVAL as virtq_setup().
 */
int virtq_restore(struct virtqueue *vq, const struct vm_memory *mem, const struct virtq_saved *s,
		  uint64_t features);
/* Back to the state after reset (not set up, indexes 0). */
void virtq_reset(struct virtqueue *vq);

/*
 * Pops the next available chain, following indirect tables.
 * 1: popped; 0: queue empty (or not enabled);
 * -EINVAL: out-of-range head/index/address, indirect misuse, a readable
 *          buffer after a writable one; an avail index more than the queue
 *          size ahead marks the queue broken (-EINVAL until reset);
 * -E2BIG:  more than VIRTQ_CHAIN_MAX buffers;
 * -ELOOP:  the chain loops (visits more descriptors than its table holds).
 * Zero-length buffers are skipped.
 * On an error the avail entry is consumed; c->head is the head the driver
 * gave (the device may return it with virtq_push(vq, c->head, 0) when
 * c->head < vq->size) and the device answers with an error or calls
 * virtio_dev_needs_reset(). Nothing outside guest RAM is ever touched.
 */
int virtq_pop(struct virtqueue *vq, struct virtq_chain *c);
/*
 * Gives back the last n chains popped (none pushed since), for a device that
 * found it cannot use them yet (a frame that needs more receive buffers than
 * the ring holds). avail_seen: the avail index read before popping; with
 * EVENT_IDX the driver is asked to kick when it adds past it. True when the
 * driver already did (the caller looks again instead of waiting).
 */
bool virtq_unpop(struct virtqueue *vq, uint16_t n, uint16_t avail_seen);
/* The driver's avail index now (0 when the queue is not enabled). */
uint16_t virtq_avail_idx(struct virtqueue *vq);
/* Adds (head, written bytes) to the used ring. */
void virtq_push(struct virtqueue *vq, uint16_t head, uint32_t written);
/* Interrupts the driver unless it asked not to (EVENT_IDX / NO_INTERRUPT). */
void virtq_notify(struct virtqueue *vq);
/*
 * Has ops->queue_notify run again soon on the event loop, as if the driver
 * had kicked: for a device that stops after a budget with work left over.
 */
void virtq_kick(struct virtqueue *vq);
/* True when virtq_notify would interrupt now; updates the EVENT_IDX state. */
bool virtq_should_notify(struct virtqueue *vq);
/* Copies between a chain's iovecs (from byte offset off) and a buffer; bytes copied. */
size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len);
size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t off, const void *buf, size_t len);

struct virtio_dev_ops {
	/* Transport-agnostic device, like kvmtool virtio/rng.c. */
	const char *type; /* listing type, e.g. "virtio-blk" */
	uint16_t device_id;
	unsigned int num_queues;
	uint16_t queue_max_size;
	/* Private set-up (args from the creator) and clean-up; see the top. */
	int (*init)(struct virtio_dev *vdev, const void *args);
	void (*release)(struct virtio_dev *vdev);
	/* Device bits; the transport adds VERSION_1, RING_EVENT_IDX, RING_INDIRECT_DESC. */
	uint64_t (*get_features)(struct virtio_dev *vdev);
	size_t config_size;
	/* off + len <= config_size, checked by the transport. */
	void (*config_read)(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len);
	void (*config_write)(struct virtio_dev *vdev, uint64_t off, const void *data, unsigned len);
	int (*activate)(struct virtio_dev *vdev); /* DRIVER_OK; features negotiated */
	void (*queue_notify)(struct virtio_dev *vdev, unsigned int q); /* event-loop thread */
	void (*reset)(struct virtio_dev *vdev); /* stop, wait for in-flight I/O */
	/*
	 * Snapshots: the device's own state beyond the common virtio state
	 * (both, or neither: then a snapshot of it fails, naming it). restore
	 * runs before the queues are set up again and the device activated
	 * (vdev->lock held); restored (optional) after, without the lock, for
	 * what the guest must be told of (a vsock transport reset, a net
	 * announce). 0 or -errno.
	 */
	int (*save)(struct virtio_dev *vdev, struct snap_buf *out);
	int (*restore)(struct virtio_dev *vdev, struct snap_cur *in);
	void (*restored)(struct virtio_dev *vdev);
};

/*
 * A transport (virtio-pci: pci.c, virtio-mmio: mmio.c) as the core sees it.
 * The transport moves the driver's register accesses into the core
 * (virtio_set_status, virtio_queue_enable, ...); the core reaches back
 * only through these.
 */
struct virtio_transport_ops {
	const char *name; /* what the listing shows: "pci", "mmio" */
	/* Used buffers on vq: interrupt the driver. Any thread, no virtio lock. */
	void (*signal_queue)(struct virtqueue *vq);
	/* Config change or NEEDS_RESET: interrupt the driver. Any thread, no virtio lock. */
	void (*signal_config)(struct virtio_dev *vdev);
	/*
	 * The transport's part of a device reset (its own registers, a level
	 * interrupt line), after the core has stopped the device and cleared
	 * the common state. vdev->lock and vdev->isr_lock held.
	 */
	void (*reset)(struct virtio_dev *vdev);
};

/* State of a virtio device, shared by every transport. */
struct virtio_dev {
	/*
	 * The transport's device object, first: the PCI core knows its
	 * functions by their struct mvm_device, so a virtio-pci function must
	 * start the allocation. virtio-mmio uses `dev` alone.
	 */
	union {
		struct mvm_device dev;
		struct pci_dev pci;
	};
	const struct virtio_dev_ops *ops;
	const struct virtio_transport_ops *transport;
	void *transport_priv; /* the transport's own state, allocated with the device */
	struct vm *vm;

	pthread_mutex_t lock; /* status, features, selectors, queue set-up */
	uint8_t status;	      /* atomic: devices set NEEDS_RESET from any thread */
	uint8_t config_generation;
	uint64_t host_features;	  /* offered: ops->get_features + transport bits */
	uint64_t driver_features; /* written by the driver */
	uint64_t features;	  /* negotiated, valid from FEATURES_OK */
	bool active;		  /* ops->activate succeeded, ops->reset not yet called */
	/*
	 * Interrupt status bits (queue 0x1, config 0x2; virtio-pci's ISR,
	 * virtio-mmio's InterruptStatus), under isr_lock together with any
	 * level line the transport drives from them: an acknowledgement cannot
	 * lower the line over a newer interrupt.
	 */
	pthread_mutex_t isr_lock;
	unsigned int isr;

	/* Selectors and queue set-up as the driver wrote them (under lock). */
	uint32_t device_feature_select;
	uint32_t driver_feature_select;
	uint32_t queue_select;
	struct {
		uint32_t size; /* 0: not written (virtio-pci reads it as the maximum) */
		uint64_t desc, driver, device;
	} qcfg[VIRTIO_MAX_QUEUES];

	unsigned int num_queues;
	struct virtqueue vqs[VIRTIO_MAX_QUEUES];
};

static inline bool virtio_has_feature(const struct virtio_dev *vdev, unsigned int bit)
{
	return bit < 64 && (vdev->features >> bit) & 1;
}

static inline struct virtqueue *virtio_dev_vq(struct virtio_dev *vdev, unsigned int q)
{
	return q < vdev->num_queues ? &vdev->vqs[q] : NULL;
}

/*
 * Allocates a device of `size` bytes (struct virtio_dev first), calls
 * ops->init(vdev, args), binds it to the VM's transport (cfg.transport:
 * virtio-pci in the next free PCI slot, or the next virtio-mmio window and
 * GSI) and registers it. The registered device, listed in the VM,
 * or ERR_PTR(-errno) with nothing left behind.
 */
struct virtio_dev *_virtio_dev_create(size_t size, struct vm *vm, const struct virtio_dev_ops *ops,
				      const char *name, const void *args);
#define virtio_dev_create(type, member, vm, ops, name, args)                                  \
	((type *)_virtio_dev_create(                                                          \
		sizeof(type) + 0 * sizeof(struct {                                            \
				       _Static_assert(                                        \
					       offsetof(type, member) == 0,                   \
					       "struct virtio_dev must be the first member"); \
				       int dummy;                                             \
			       }),                                                            \
		(vm), (ops), (name), (args)))

static inline struct virtio_dev *to_virtio_dev(struct mvm_device *dev)
{
	return (struct virtio_dev *)dev;
}

/* ops->save / ops->restore of a device whose state is all in the common virtio state. */
int virtio_dev_save_none(struct virtio_dev *vdev, struct snap_buf *out);
int virtio_dev_restore_none(struct virtio_dev *vdev, struct snap_cur *in);

/* The driver broke the rules: set NEEDS_RESET and tell it (config interrupt). */
void virtio_dev_needs_reset(struct virtio_dev *vdev);
/* Device config changed: bump the generation, config interrupt. */
void virtio_dev_config_changed(struct virtio_dev *vdev);

/* Devices the tests and fuzzers make directly (vm_create() goes through their types). */
struct virtio_dev *virtio_rng_create(struct vm *vm);
struct virtio_dev *virtio_console_create(struct vm *vm);

#endif
