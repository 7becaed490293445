// SPDX-License-Identifier: MIT
/*
 * The virtio-mmio transport's register file, driven the way a guest driver
 * (Linux's virtio_mmio.c) does, on the fake KVM: identity and firmware
 * description, per-VM window/GSI allocation, every register (read-only,
 * write-only, read-write), wrong access sizes, feature negotiation, queue
 * set-up and its checks, the frozen queue registers of a ready queue,
 * ioeventfd notifications (datamatch on the queue index), the irqfd and
 * InterruptStatus/InterruptACK, the config generation, a reset with
 * requests in flight; and the rng and console devices on both transports.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/control.h"
#include "mvm/fault.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"
#include "virtio/blk.h"

#define QSZ   8
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define BUF   0x20000

#define R_MAGIC	      0x000
#define R_VERSION     0x004
#define R_DEVICE_ID   0x008
#define R_VENDOR_ID   0x00c
#define R_DF	      0x010
#define R_DF_SEL      0x014
#define R_GF	      0x020
#define R_GF_SEL      0x024
#define R_Q_SEL	      0x030
#define R_Q_NUM_MAX   0x034
#define R_Q_NUM	      0x038
#define R_Q_READY     0x044
#define R_Q_NOTIFY    0x050
#define R_INT_STATUS  0x060
#define R_INT_ACK     0x064
#define R_STATUS      0x070
#define R_Q_DESC_LO   0x080
#define R_Q_DESC_HI   0x084
#define R_Q_DRIVER_LO 0x090
#define R_Q_DRIVER_HI 0x094
#define R_Q_DEVICE_LO 0x0a0
#define R_Q_DEVICE_HI 0x0a4
#define R_SHM_SEL     0x0ac
#define R_SHM_LEN_LO  0x0b0
#define R_SHM_LEN_HI  0x0b4
#define R_CONFIG_GEN  0x0fc
#define R_CONFIG      0x100

static uint32_t rd(struct vdrv *d, uint64_t off)
{
	return (uint32_t)vdrv_rd(d, off, 4);
}

static void wr(struct vdrv *d, uint64_t off, uint32_t v)
{
	vdrv_wr(d, off, v, 4);
}

static int setup_rng(void **state)
{
	struct vdrv *d = test_calloc(1, sizeof(*d));

	vdrv_vm(d, MVM_TRANSPORT_MMIO);
	vdrv_attach(d, virtio_rng_create(d->vm), VIRTIO_ID_RNG);
	*state = d;
	return 0;
}

static int teardown(void **state)
{
	struct vdrv *d = *state;

	vdrv_fini(d);
	test_free(d);
	return 0;
}

/* The GSI the device's interrupt eventfd is bound to (irqfd), or -1. */
static int irq_gsi(struct vdrv *d)
{
	int gsi = (int)d->vdev->dev.fw.res[1].base;

	for (unsigned int i = 0; i < FAKE_MAX_IRQFDS; i++)
		if (fake_kvm.irqfds[i].used && (int)fake_kvm.irqfds[i].gsi == gsi)
			return gsi;
	return -1;
}

/* Interrupts fired since the last call (the irqfd's eventfd counter). */
static uint64_t irqs(struct vdrv *d)
{
	int gsi = (int)d->vdev->dev.fw.res[1].base;
	uint64_t v = 0;

	for (unsigned int i = 0; i < FAKE_MAX_IRQFDS; i++)
		if (fake_kvm.irqfds[i].used && (int)fake_kvm.irqfds[i].gsi == gsi &&
		    read(fake_kvm.irqfds[i].fd, &v, sizeof(v)) != sizeof(v))
			v = 0;
	return v;
}

static void test_identity(void **state)
{
	struct vdrv *d = *state;
	struct mvm_device *dev = &d->vdev->dev;

	assert_int_equal(rd(d, R_MAGIC), 0x74726976);
	assert_int_equal(rd(d, R_VERSION), 2);
	assert_int_equal(rd(d, R_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(rd(d, R_VENDOR_ID), 0x554d4551);
	/* The first window and GSI, and a firmware view the arch can announce. */
	assert_int_equal(d->base, ARCH_VIRTIO_MMIO_BASE);
	assert_string_equal(dev->transport, "mmio");
	assert_string_equal(dev->fw.acpi_hid, "LNRO0005");
	assert_true(dev->fw.virtio_mmio);
	assert_int_equal(dev->fw.nr_res, 2);
	assert_int_equal(dev->fw.res[0].kind, MVM_FW_MMIO);
	assert_int_equal(dev->fw.res[0].base, ARCH_VIRTIO_MMIO_BASE);
	assert_int_equal(dev->fw.res[0].len, ARCH_VIRTIO_MMIO_SIZE);
	assert_int_equal(dev->fw.res[1].kind, MVM_FW_IRQ);
	assert_int_equal(dev->fw.res[1].base, ARCH_VIRTIO_MMIO_GSI_BASE);
	assert_false(dev->fw.res[1].level);
	/* Wired: an irqfd on the GSI, an ioeventfd for QueueNotify == 0 only. */
	assert_int_equal(irq_gsi(d), ARCH_VIRTIO_MMIO_GSI_BASE);
	assert_int_equal(fake_ioeventfd_write(d->base + R_Q_NOTIFY, 4, 0),
			 virtio_dev_vq(d->vdev, 0)->kick_fd);
	assert_int_equal(fake_ioeventfd_write(d->base + R_Q_NOTIFY, 4, 1), -1);
	assert_int_equal(fake_ioeventfd_write(d->base + R_Q_NOTIFY, 2, 0), -1);
}

/* What `mvm devices` / GET /devices show: the device's type, its transport, window and GSI. */
static void test_listing(void **state)
{
	struct vdrv *d = *state;
	json_t *j = vm_devices_json(d->vm), *o = NULL;
	char want[64];
	size_t i;

	assert_non_null(j);
	for (i = 0; i < json_array_size(j); i++)
		if (!strcmp(json_string_value(json_object_get(json_array_get(j, i), "name")),
			    d->vdev->dev.name))
			o = json_array_get(j, i);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "type")), "virtio-rng");
	assert_string_equal(json_string_value(json_object_get(o, "transport")), "mmio");
	assert_string_equal(json_string_value(json_object_get(o, "driver")), "virtio-mmio");
	snprintf(want, sizeof(want), "mmio:0x%llx-0x%llx",
		 (unsigned long long)ARCH_VIRTIO_MMIO_BASE,
		 (unsigned long long)(ARCH_VIRTIO_MMIO_BASE + ARCH_VIRTIO_MMIO_SIZE - 1));
	assert_string_equal(json_string_value(json_object_get(o, "address")), want);
	assert_int_equal(json_integer_value(json_object_get(o, "gsi")), ARCH_VIRTIO_MMIO_GSI_BASE);
	json_decref(j);
}

/* Windows and GSIs: per VM, the lowest free index, given back on release. */
static void test_allocation(void **state)
{
	struct vdrv *d = *state;
	struct virtio_dev *con, *rng2, *again;
	struct vm *other;
	struct virtio_dev *o;

	con = virtio_console_create(d->vm);
	assert_false(IS_ERR(con));
	assert_int_equal(con->dev.fw.res[0].base, ARCH_VIRTIO_MMIO_BASE + ARCH_VIRTIO_MMIO_SIZE);
	assert_int_equal(con->dev.fw.res[1].base, ARCH_VIRTIO_MMIO_GSI_BASE + 1);
	/* Two queues, one QueueNotify: one ioeventfd per queue index. */
	assert_int_equal(fake_ioeventfd_write(con->dev.fw.res[0].base + R_Q_NOTIFY, 4, 0),
			 virtio_dev_vq(con, 0)->kick_fd);
	assert_int_equal(fake_ioeventfd_write(con->dev.fw.res[0].base + R_Q_NOTIFY, 4, 1),
			 virtio_dev_vq(con, 1)->kick_fd);
	rng2 = virtio_rng_create(d->vm);
	assert_false(IS_ERR(rng2));
	assert_int_equal(rng2->dev.fw.res[1].base, ARCH_VIRTIO_MMIO_GSI_BASE + 2);

	/* Another VM in the same process starts from the first window. */
	other = unit_vm(1);
	other->cfg.transport = MVM_TRANSPORT_MMIO;
	o = virtio_rng_create(other);
	assert_false(IS_ERR(o));
	assert_int_equal(o->dev.fw.res[0].base, ARCH_VIRTIO_MMIO_BASE);
	vm_destroy(other);

	/* The console goes away: its window, GSI, irqfd and ioeventfds with it. */
	mvm_device_unregister(&con->dev);
	mvm_device_put(&con->dev);
	assert_int_equal(fake_ioeventfd_write(ARCH_VIRTIO_MMIO_BASE + 0x1000 + R_Q_NOTIFY, 4, 0),
			 -1);
	again = virtio_rng_create(d->vm);
	assert_false(IS_ERR(again));
	assert_int_equal(again->dev.fw.res[0].base, ARCH_VIRTIO_MMIO_BASE + ARCH_VIRTIO_MMIO_SIZE);
	assert_int_equal(again->dev.fw.res[1].base, ARCH_VIRTIO_MMIO_GSI_BASE + 1);

	/* Until the GSIs run out: -ENOSPC, nothing left behind. */
	for (unsigned int i = 3; i < ARCH_VIRTIO_MMIO_GSI_LAST - ARCH_VIRTIO_MMIO_GSI_BASE + 1; i++)
		assert_false(IS_ERR(virtio_rng_create(d->vm)));
	assert_int_equal(PTR_ERR(virtio_rng_create(d->vm)), -ENOSPC);
}

static void test_read_only_and_write_only(void **state)
{
	struct vdrv *d = *state;
	static const uint64_t ro[] = { R_MAGIC,	     R_VERSION,	  R_DEVICE_ID,	R_VENDOR_ID,
				       R_DF,	     R_Q_NUM_MAX, R_INT_STATUS, R_SHM_LEN_LO,
				       R_SHM_LEN_HI, R_CONFIG_GEN };
	static const uint64_t wo[] = { R_DF_SEL,      R_GF,	     R_GF_SEL,	    R_Q_SEL,
				       R_Q_NUM,	      R_Q_NOTIFY,    R_INT_ACK,	    R_Q_DESC_LO,
				       R_Q_DESC_HI,   R_Q_DRIVER_LO, R_Q_DRIVER_HI, R_Q_DEVICE_LO,
				       R_Q_DEVICE_HI, R_SHM_SEL };
	uint32_t before[10];
	unsigned int i;

	for (i = 0; i < 10; i++)
		before[i] = rd(d, ro[i]);
	assert_int_equal(before[6], 0);		 /* no interrupt yet */
	assert_int_equal(before[7], 0xffffffff); /* no shared memory region: length -1 */
	/* Writes to read-only registers change nothing. */
	for (i = 0; i < 10; i++)
		wr(d, ro[i], 0x5a5a5a5a);
	for (i = 0; i < 10; i++)
		assert_int_equal(rd(d, ro[i]), before[i]);
	/* Write-only registers read 0, whatever was written. */
	wr(d, R_Q_SEL, 0);
	for (i = 0; i < sizeof(wo) / sizeof(wo[0]); i++) {
		if (wo[i] != R_Q_SEL && wo[i] != R_DF_SEL && wo[i] != R_GF_SEL)
			wr(d, wo[i], 8);
		assert_int_equal(rd(d, wo[i]), 0);
	}
	/* ... but they took effect: the queue's size and rings as written. */
	assert_int_equal(d->vdev->qcfg[0].size, 8);
	assert_int_equal(d->vdev->qcfg[0].desc, 0x800000008ULL);
	assert_int_equal(d->vdev->qcfg[0].device, 0x800000008ULL);
	/* Reserved offsets read 0 and ignore writes. */
	wr(d, 0x0c0, 1);
	assert_int_equal(rd(d, 0x0c0), 0);
	assert_int_equal(rd(d, 0x0f8), 0);
	/* Config space of a device without one (rng) reads 0, any width. */
	assert_int_equal(vdrv_rd(d, R_CONFIG, 1), 0);
	assert_int_equal(vdrv_rd(d, R_CONFIG, 8), 0);
}

static void test_wrong_sizes(void **state)
{
	struct vdrv *d = *state;

	/* Registers are 32-bit aligned accesses: others read 0, writes are dropped. */
	assert_int_equal(vdrv_rd(d, R_MAGIC, 1), 0);
	assert_int_equal(vdrv_rd(d, R_MAGIC, 2), 0);
	assert_int_equal(vdrv_rd(d, R_MAGIC, 8), 0);
	assert_int_equal(vdrv_rd(d, R_MAGIC + 1, 4), 0);
	assert_int_equal(vdrv_rd(d, R_VERSION + 2, 2), 0);
	vdrv_wr(d, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	vdrv_wr(d, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 2);
	vdrv_wr(d, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE, 8);
	vdrv_wr(d, R_STATUS + 1, VIRTIO_STATUS_ACKNOWLEDGE, 4);
	assert_int_equal(rd(d, R_STATUS), 0);
	vdrv_wr(d, R_Q_DESC_LO, 0x123456789000ULL, 8);
	assert_int_equal(d->vdev->qcfg[0].desc, 0);
	/* The last register and the end of the window. */
	assert_int_equal(vdrv_rd(d, 0xffc, 4), 0);
	vdrv_wr(d, 0xffc, ~0ULL, 4);
	assert_int_equal(rd(d, R_MAGIC), 0x74726976);
}

static void test_features(void **state)
{
	struct vdrv *d = *state;
	uint64_t f;

	wr(d, R_DF_SEL, 0);
	f = rd(d, R_DF);
	wr(d, R_DF_SEL, 1);
	f |= (uint64_t)rd(d, R_DF) << 32;
	assert_int_equal(f, d->vdev->host_features);
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VIRTIO_F_RING_EVENT_IDX));
	assert_true(f & (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	wr(d, R_DF_SEL, 2);
	assert_int_equal(rd(d, R_DF), 0);
	wr(d, R_DF_SEL, 0xffffffff);
	assert_int_equal(rd(d, R_DF), 0);

	/* Legacy-only: FEATURES_OK does not stick. */
	vdrv_negotiate(d, 1ULL << VIRTIO_F_RING_EVENT_IDX);
	assert_false(rd(d, R_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* A bit that was not offered. */
	wr(d, R_STATUS, 0);
	vdrv_negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 41));
	assert_false(rd(d, R_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	/* A selector past the two words writes nothing. */
	wr(d, R_STATUS, 0);
	wr(d, R_GF_SEL, 2);
	wr(d, R_GF, 0xffffffff);
	assert_int_equal(d->vdev->driver_features, 0);
	/* Accepted; then frozen. */
	vdrv_negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	assert_true(rd(d, R_STATUS) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(d->vdev->features,
			 (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	wr(d, R_GF_SEL, 0);
	wr(d, R_GF, 0);
	assert_int_equal(d->vdev->driver_features, d->vdev->features);
	/* Clearing a status bit: NEEDS_RESET; DRIVER_OK refused. */
	wr(d, R_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
	assert_true(rd(d, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	wr(d, R_STATUS, 0);
	assert_int_equal(rd(d, R_STATUS), 0);
	assert_int_equal(d->vdev->features, 0);
}

/* After a fresh negotiation: is queue set-up with these values a device error? */
static bool queue_refused(struct vdrv *d, uint32_t num, uint64_t desc)
{
	wr(d, R_STATUS, 0);
	vdrv_negotiate(d, 1ULL << VIRTIO_F_VERSION_1);
	wr(d, R_Q_SEL, 0);
	if (num)
		wr(d, R_Q_NUM, num);
	wr(d, R_Q_DESC_LO, (uint32_t)desc);
	wr(d, R_Q_DESC_HI, (uint32_t)(desc >> 32));
	wr(d, R_Q_DRIVER_LO, AVAIL);
	wr(d, R_Q_DEVICE_LO, USED);
	wr(d, R_Q_READY, 1);
	if (rd(d, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET) {
		assert_int_equal(rd(d, R_Q_READY), 0);
		return true;
	}
	assert_int_equal(rd(d, R_Q_READY), 1);
	return false;
}

static void test_queue_setup(void **state)
{
	struct vdrv *d = *state;

	/* QueueNumMax: the device's maximum; 0 for a queue that does not exist. */
	wr(d, R_Q_SEL, 0);
	assert_int_equal(rd(d, R_Q_NUM_MAX), 256);
	wr(d, R_Q_SEL, 1);
	assert_int_equal(rd(d, R_Q_NUM_MAX), 0);
	wr(d, R_Q_READY, 1);
	assert_int_equal(rd(d, R_Q_READY), 0);
	wr(d, R_Q_SEL, 0x10000); /* not queue 0 in disguise */
	assert_int_equal(rd(d, R_Q_NUM_MAX), 0);
	/* Ready before FEATURES_OK: NEEDS_RESET. */
	wr(d, R_Q_SEL, 0);
	wr(d, R_Q_NUM, QSZ);
	wr(d, R_Q_READY, 1);
	assert_true(rd(d, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(d, R_Q_READY), 0);

	/* Each bad value alone: a device error, never a ready queue. */
	assert_true(queue_refused(d, 0, DESC));	      /* no size told */
	assert_true(queue_refused(d, 512, DESC));     /* > QueueNumMax */
	assert_true(queue_refused(d, 6, DESC));	      /* not a power of two */
	assert_true(queue_refused(d, 0x10008, DESC)); /* 16-bit truncation would say 8 */
	assert_true(queue_refused(d, QSZ, d->vm->mem.size - 16)); /* ring past RAM */
	assert_true(queue_refused(d, QSZ, 0xfffffffffffff000ULL));
	assert_true(queue_refused(d, QSZ, DESC + 8)); /* misaligned table */
	assert_false(queue_refused(d, QSZ, DESC));

	/* Ready: the set-up registers are frozen. */
	wr(d, R_Q_NUM, 4);
	wr(d, R_Q_DESC_LO, 0x30000);
	wr(d, R_Q_DRIVER_HI, 1);
	wr(d, R_Q_DEVICE_LO, 0);
	assert_int_equal(d->vdev->qcfg[0].size, QSZ);
	assert_int_equal(d->vdev->qcfg[0].desc, DESC);
	assert_int_equal(d->vdev->qcfg[0].driver, AVAIL);
	assert_int_equal(d->vdev->qcfg[0].device, USED);
	assert_int_equal(virtio_dev_vq(d->vdev, 0)->size, QSZ);
	assert_int_equal(virtio_dev_vq(d->vdev, 0)->desc_gpa, DESC);
	/* Ready again: nothing changes. */
	wr(d, R_Q_READY, 1);
	assert_false(rd(d, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	/* Taken back before DRIVER_OK (Linux's del_vq): the queue is off, writable again. */
	wr(d, R_Q_READY, 0);
	assert_int_equal(rd(d, R_Q_READY), 0);
	wr(d, R_Q_NUM, 4);
	assert_int_equal(d->vdev->qcfg[0].size, 4);
	wr(d, R_Q_READY, 1);
	assert_int_equal(virtio_dev_vq(d->vdev, 0)->size, 4);
	/* Once running, only a reset stops it. */
	vdrv_driver_ok(d);
	assert_true(d->vdev->active);
	wr(d, R_Q_READY, 0);
	assert_int_equal(rd(d, R_Q_READY), 1);
	wr(d, R_STATUS, 0);
	assert_int_equal(rd(d, R_Q_READY), 0);
	assert_int_equal(d->vdev->qcfg[0].size, 0);
	assert_int_equal(d->vdev->qcfg[0].desc, 0);
	assert_false(d->vdev->active);
}

/* Posts one device-writable buffer on queue 0. */
static void post(struct vdrv *d, uint16_t head, uint64_t addr, uint32_t len, uint16_t flags,
		 uint16_t next)
{
	struct virtq_desc desc = { addr, len, flags, next };
	uint16_t slot = d->avail_idx[0] % QSZ;

	mem_write(&d->vm->mem, DESC + 16ULL * head, &desc, sizeof(desc));
	mem_write(&d->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	d->avail_idx[0]++;
	mem_write(&d->vm->mem, AVAIL + 2, &d->avail_idx[0], 2);
}

static uint16_t used_idx(struct vdrv *d)
{
	uint16_t v = 0;

	mem_read(&d->vm->mem, USED + 2, &v, 2);
	return v;
}

static void test_rng_round_trip(void **state)
{
	struct vdrv *d = *state;
	uint8_t *buf = mem_ptr(&d->vm->mem, BUF, 64);
	uint8_t zero[64] = { 0 };
	uint32_t id = 0, len = 0;

	vdrv_negotiate(d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(d);
	assert_true(d->vdev->active);
	assert_int_equal(irqs(d), 0);

	post(d, 2, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	vdrv_kick(d, 0);
	assert_int_equal(used_idx(d), 1);
	assert_memory_not_equal(buf, zero, sizeof(zero));
	mem_read(&d->vm->mem, USED + 4, &id, 4);
	mem_read(&d->vm->mem, USED + 8, &len, 4);
	assert_int_equal(id, 2);
	assert_int_equal(len, 64);
	/* One edge through the irqfd, the used-buffer bit in InterruptStatus. */
	assert_int_equal(irqs(d), 1);
	assert_int_equal(rd(d, R_INT_STATUS), 1);
	/* Reading does not acknowledge; InterruptACK clears the bits written. */
	assert_int_equal(rd(d, R_INT_STATUS), 1);
	wr(d, R_INT_ACK, 2);
	assert_int_equal(rd(d, R_INT_STATUS), 1);
	wr(d, R_INT_ACK, 1);
	assert_int_equal(rd(d, R_INT_STATUS), 0);

	/* A notification that reaches the window (no ioeventfd caught it) still kicks. */
	post(d, 3, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	wr(d, R_Q_NOTIFY, 0);
	assert_int_equal(used_idx(d), 1); /* the loop's turn has not come */
	virtio_dev_vq(d->vdev, 0)->kick.fn(&virtio_dev_vq(d->vdev, 0)->kick, EPOLLIN);
	assert_int_equal(used_idx(d), 2);
	wr(d, R_Q_NOTIFY, 7); /* a queue that does not exist: nothing */

	/* A looping chain: NEEDS_RESET, told by a config interrupt. */
	irqs(d);
	wr(d, R_INT_ACK, 3);
	post(d, 4, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 4);
	vdrv_kick(d, 0);
	assert_true(rd(d, R_STATUS) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(rd(d, R_INT_STATUS) & 2, 2);
	assert_true(irqs(d) >= 1);
	/* The device keeps serving until the driver resets it. */
	post(d, 5, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	vdrv_kick(d, 0);
	assert_int_equal(used_idx(d), 4);
	/* Reset: InterruptStatus cleared, the queue off. */
	wr(d, R_STATUS, 0);
	assert_int_equal(rd(d, R_INT_STATUS), 0);
	assert_int_equal(rd(d, R_Q_READY), 0);
}

static void test_config_generation(void **state)
{
	struct vdrv *d = *state;
	uint32_t gen = rd(d, R_CONFIG_GEN);

	irqs(d);
	virtio_dev_config_changed(d->vdev);
	assert_int_equal(rd(d, R_CONFIG_GEN), (gen + 1) & 0xff);
	assert_int_equal(rd(d, R_INT_STATUS), 2);
	assert_int_equal(irqs(d), 1);
	virtio_dev_config_changed(d->vdev);
	assert_int_equal(rd(d, R_CONFIG_GEN), (gen + 2) & 0xff);
}

/*
 * A device that keeps what it pops in flight (holding a device reference
 * each, as virtio-blk's requests do) until its reset drains them.
 */
struct held_dev {
	struct virtio_dev vdev; /* first */
	struct virtq_chain chain;
	unsigned int inflight, notifies, resets;
	bool reset_locked; /* ops->reset ran with vdev->lock held */
};

static void held_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct held_dev *h = container_of(vdev, struct held_dev, vdev);

	h->notifies++;
	while (virtq_pop(virtio_dev_vq(vdev, q), &h->chain) > 0) {
		mvm_device_get(&vdev->dev);
		h->inflight++;
	}
}

static void held_reset(struct virtio_dev *vdev)
{
	struct held_dev *h = container_of(vdev, struct held_dev, vdev);

	h->resets++;
	h->reset_locked = pthread_mutex_trylock(&vdev->lock) == EBUSY;
	if (!h->reset_locked)
		pthread_mutex_unlock(&vdev->lock);
	for (; h->inflight; h->inflight--)
		mvm_device_put(&vdev->dev);
}

static const struct virtio_dev_ops held_ops = {
	.type = "virtio-held",
	.device_id = 0x3f,
	.num_queues = 1,
	.queue_max_size = QSZ,
	.queue_notify = held_notify,
	.reset = held_reset,
};

static void test_reset_in_flight(void **state)
{
	struct vdrv dd, *d = &dd;
	struct held_dev *h;

	(void)state;
	vdrv_vm(d, MVM_TRANSPORT_MMIO);
	h = virtio_dev_create(struct held_dev, vdev, d->vm, &held_ops, "held", NULL);
	vdrv_attach(d, &h->vdev, 0x3f);
	/* A reset before the device ever started does not call it. */
	wr(d, R_STATUS, 0);
	assert_int_equal(h->resets, 0);
	vdrv_negotiate(d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(d);
	post(d, 0, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	post(d, 1, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	vdrv_kick(d, 0);
	assert_int_equal(h->inflight, 2);
	assert_int_equal(atomic_load(&h->vdev.dev.refcount), 3);

	/* Status 0: the device drains (under the device lock) before the reset completes. */
	wr(d, R_STATUS, 0);
	assert_int_equal(h->resets, 1);
	assert_true(h->reset_locked);
	assert_int_equal(h->inflight, 0);
	assert_int_equal(atomic_load(&h->vdev.dev.refcount), 1);
	assert_int_equal(rd(d, R_STATUS), 0);
	assert_int_equal(rd(d, R_Q_READY), 0);
	assert_int_equal(used_idx(d), 0);
	/* A notification still queued in the eventfd finds no running device. */
	post(d, 2, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	h->notifies = 0;
	vdrv_kick(d, 0);
	assert_int_equal(h->notifies, 0);
	/* Started again, it serves from scratch. */
	d->avail_idx[0] = 0;
	memset(mem_ptr(&d->vm->mem, AVAIL, 64), 0, 64);
	vdrv_negotiate(d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(d);
	post(d, 3, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	vdrv_kick(d, 0);
	assert_int_equal(h->inflight, 1);
	/* Teardown resets (and so drains) too: no reference is left behind. */
	vdrv_fini(d);
}

static unsigned int open_fds(void)
{
	unsigned int n = 0;

	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

static unsigned int kvm_bindings(void)
{
	unsigned int n = 0;

	for (unsigned int i = 0; i < FAKE_MAX_IOEVENTFDS; i++)
		n += fake_kvm.ioeventfds[i].used;
	for (unsigned int i = 0; i < FAKE_MAX_IRQFDS; i++)
		n += fake_kvm.irqfds[i].used;
	return n;
}

static struct virtio_dev *make_console(struct vm *vm)
{
	return virtio_console_create(vm);
}

static char blk_path[] = "/var/tmp/mvm-mmio-fp-XXXXXX";

static struct virtio_dev *make_blk(struct vm *vm)
{
	struct mvm_disk_config disk = { .read_only = true, .io = MVM_DISK_IO_SYNC };

	snprintf(disk.path, sizeof(disk.path), "%s", blk_path);
	return virtio_blk_create(vm, &disk, 0);
}

/*
 * Every faultable call of a virtio-mmio device's creation made to fail in
 * turn (what tests/fault does under KVM, here on the fake): an error, and
 * the window, GSI, eventfds, ioeventfds and irqfd all given back.
 */
static void test_each_failure_point(void **state)
{
	struct virtio_dev *(*const makers[])(struct vm *) = { virtio_rng_create, make_console,
							      make_blk };
	struct vdrv dd, *d = &dd;

	int fd = mkstemp(blk_path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	vdrv_vm(d, MVM_TRANSPORT_MMIO);
	for (unsigned int m = 0; m < 3; m++) {
		unsigned int fds = open_fds(), bindings = kvm_bindings();
		unsigned long calls, i;
		struct virtio_dev *vdev;

		/* Once first: the bus's range table grows (an allocation) only the first time. */
		vdev = makers[m](d->vm);
		assert_false(IS_ERR(vdev));
		mvm_device_unregister(&vdev->dev);
		mvm_device_put(&vdev->dev);
		fault_begin(0);
		vdev = makers[m](d->vm);
		calls = fault_end();
		assert_false(IS_ERR(vdev));
		print_message("%s on virtio-mmio: %lu failure points\n", vdev->ops->type, calls);
		/* eventfds (queues, interrupt), ioeventfds, the irqfd, allocations */
		assert_true(calls >= 2 * vdev->num_queues + 2);
		mvm_device_unregister(&vdev->dev);
		mvm_device_put(&vdev->dev);
		assert_int_equal(open_fds(), fds);
		assert_int_equal(kvm_bindings(), bindings);
		for (i = 1; i <= calls; i++) {
			fault_begin(i);
			vdev = makers[m](d->vm);
			fault_end();
			if (!fault_fired())
				fail_msg("maker %u: call %lu of %lu did not happen", m, i, calls);
			assert_true(IS_ERR(vdev));
			assert_int_equal(open_fds(), fds);
			assert_int_equal(kvm_bindings(), bindings);
			assert_int_equal(d->vm->virtio_mmio.used, 0);
		}
	}
	/* And then it works, in the first window. */
	vdrv_attach(d, virtio_rng_create(d->vm), VIRTIO_ID_RNG);
	assert_int_equal(d->base, ARCH_VIRTIO_MMIO_BASE);
	vdrv_fini(d);
	unlink(blk_path);
}

/* ---- the rng and console devices on both transports ---- */

static void test_rng_device(void **state)
{
	struct vdrv dd, *d = &dd;
	uint8_t zero[32] = { 0 };
	uint32_t len = 0;

	vdrv_vm(d, vdrv_transport(state));
	vdrv_attach(d, virtio_rng_create(d->vm), VIRTIO_ID_RNG);
	vdrv_negotiate(d, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	vdrv_queue(d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(d);
	post(d, 1, BUF, 32, VIRTQ_DESC_F_WRITE, 0);
	vdrv_kick(d, 0);
	assert_int_equal(used_idx(d), 1);
	mem_read(&d->vm->mem, USED + 8, &len, 4);
	assert_int_equal(len, 32);
	assert_memory_not_equal(mem_ptr(&d->vm->mem, BUF, 32), zero, 32);
	assert_int_equal(vdrv_isr(d), 1);
	assert_int_equal(vdrv_isr(d), 0);
	/* A readable-only chain gets 0 bytes. */
	post(d, 2, BUF, 32, 0, 0);
	vdrv_kick(d, 0);
	assert_int_equal(used_idx(d), 2);
	mem_read(&d->vm->mem, USED + 4 + 8 + 4, &len, 4);
	assert_int_equal(len, 0);
	vdrv_fini(d);
}

static void test_console_device(void **state)
{
	struct vdrv dd, *d = &dd;
	const char msg[] = "hello over virtio";
	char out[64] = { 0 };
	struct virtq_desc desc = { BUF, sizeof(msg) - 1, 0, 0 };
	uint16_t head = 0, idx = 1;
	int pipefd[2];

	assert_int_equal(pipe2(pipefd, O_CLOEXEC | O_NONBLOCK), 0);
	vdrv_vm(d, vdrv_transport(state));
	d->vm->cfg.console_out = pipefd[1];
	vdrv_attach(d, virtio_console_create(d->vm), VIRTIO_ID_CONSOLE);
	/* 12 bytes of config (cols, rows, max_nr_ports, emerg_wr), all 0. */
	assert_int_equal(vdrv_config(d, 0, 4), 0);
	assert_int_equal(vdrv_config(d, 8, 4), 0);
	assert_int_equal(vdrv_config(d, 10, 2), 0);
	vdrv_negotiate(d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_queue(d, 1, QSZ, DESC + 0x4000, AVAIL + 0x4000, USED + 0x4000);
	vdrv_driver_ok(d);
	assert_true(vdrv_queue_ready(d, 0) && vdrv_queue_ready(d, 1));
	/* The transmit queue's output reaches the console fd. */
	mem_write(&d->vm->mem, BUF, msg, sizeof(msg) - 1);
	mem_write(&d->vm->mem, DESC + 0x4000, &desc, sizeof(desc));
	mem_write(&d->vm->mem, AVAIL + 0x4000 + 4, &head, 2);
	mem_write(&d->vm->mem, AVAIL + 0x4000 + 2, &idx, 2);
	vdrv_kick(d, 1);
	assert_int_equal(read(pipefd[0], out, sizeof(out)), sizeof(msg) - 1);
	assert_string_equal(out, msg);
	mem_read(&d->vm->mem, USED + 0x4000 + 2, &idx, 2);
	assert_int_equal(idx, 1);
	assert_int_equal(vdrv_isr(d), 1);
	vdrv_fini(d);
	close(pipefd[0]);
	close(pipefd[1]);
}

int run_virtio_mmio_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_identity, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_listing, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_allocation, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_read_only_and_write_only, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_sizes, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_features, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_rng_round_trip, setup_rng, teardown),
		cmocka_unit_test_setup_teardown(test_config_generation, setup_rng, teardown),
		cmocka_unit_test(test_reset_in_flight),
		cmocka_unit_test(test_each_failure_point),
		VDRV_TESTS(test_rng_device),
		VDRV_TESTS(test_console_device),
	};

	return cmocka_run_group_tests_name("virtio-mmio", tests, NULL, NULL);
}
