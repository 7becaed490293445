// SPDX-License-Identifier: MIT
/*
 * The virtio core and its PCI transport, driven the way a guest driver
 * does (config space, then the BAR's registers), with virtio-rng as the
 * device: feature negotiation, the status machine and NEEDS_RESET, queue
 * set-up, ioeventfd notifications (and their moves with the BAR), INTx +
 * ISR and MSI-X interrupts, reset.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "api/api_internal.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

#define QSZ   8
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define BUF   0x20000

/* virtio-pci BAR layout (src/virtio/pci.c) */
#define COMMON 0x0000
#define ISR    0x1000
#define NOTIFY 0x3000
#define MSIX   0x4000

struct env {
	struct vm *vm;
	struct virtio_dev *vdev;
	uint64_t bar;
	uint16_t avail_idx;
};

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static uint32_t cfg_rw(struct env *e, unsigned int reg, uint32_t v, unsigned int len, bool write)
{
	uint64_t a = ARCH_PCI_ECAM_BASE + ((unsigned int)e->vdev->pci.slot << 15) + reg;

	bus_access(&e->vm->buses[MVM_BUS_MMIO], a, &v, len, write);
	return v;
}

static uint64_t bar_rd(struct env *e, uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, false);
	return v;
}

static void bar_wr(struct env *e, uint64_t off, uint64_t v, unsigned int len)
{
	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, true);
}

static uint8_t status(struct env *e)
{
	return (uint8_t)bar_rd(e, COMMON + 0x14, 1);
}

static int setup(void **state)
{
	struct env *e = test_calloc(1, sizeof(*e));

	fake_reset();
	e->vm = unit_vm(1);
	memset(mem_ptr(&e->vm->mem, 0, 0x40000), 0, 0x40000);
	assert_false(IS_ERR(pci_host_create(e->vm, &host_desc)));
	e->vdev = virtio_rng_create(e->vm);
	assert_false(IS_ERR(e->vdev));
	/* What a guest sees at its slot: a modern virtio-rng. */
	assert_int_equal(cfg_rw(e, PCI_VENDOR_ID, 0, 4, false), 0x10441af4);
	assert_int_equal(cfg_rw(e, PCI_REVISION_ID, 0, 1, false), 1);
	e->bar = cfg_rw(e, PCI_BASE_ADDRESS_0, 0, 4, false) & ~0xfu;
	cfg_rw(e, PCI_COMMAND, PCI_COMMAND_MEMORY, 2, true);
	*state = e;
	return 0;
}

/* virtio-rng through its device type, its rate_limiter set by option name. */
static int setup_limited(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-rng");
	unsigned char blob[MVM_DEVCFG_SIZE];
	struct env *e = test_calloc(1, sizeof(*e));
	struct mvm_device *dev;
	json_t *body;
	char msg[256];

	fake_reset();
	e->vm = unit_vm(1);
	memset(mem_ptr(&e->vm->mem, 0, 0x40000), 0, 0x40000);
	assert_false(IS_ERR(pci_host_create(e->vm, &host_desc)));
	/* What PUT /entropy gets. */
	body = json_loads("{\"rate_limiter\": {\"ops\": {\"size\": 1, \"refill_time\": 300}, "
			  "\"bandwidth\": {\"size\": 1000000, \"refill_time\": 1000}}}",
			  0, NULL);
	assert_non_null(body);
	mvm_opts_defaults(t, blob, true);
	assert_int_equal(devtype_from_json(t, body, blob, false, msg, sizeof(msg)), 0);
	json_decref(body);
	assert_int_equal(t->create(e->vm, blob, 0), 0);
	dev = list_entry(e->vm->devices.prev, struct mvm_device, node);
	e->vdev = to_virtio_dev(dev);
	assert_int_equal(cfg_rw(e, PCI_VENDOR_ID, 0, 4, false), 0x10441af4);
	e->bar = cfg_rw(e, PCI_BASE_ADDRESS_0, 0, 4, false) & ~0xfu;
	cfg_rw(e, PCI_COMMAND, PCI_COMMAND_MEMORY, 2, true);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	vm_destroy(e->vm);
	test_free(e);
	return 0;
}

/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
static void negotiate(struct env *e, uint64_t features)
{
	bar_wr(e, COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_wr(e, COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
	bar_wr(e, COMMON + 0x08, 0, 4);
	bar_wr(e, COMMON + 0x0c, (uint32_t)features, 4);
	bar_wr(e, COMMON + 0x08, 1, 4);
	bar_wr(e, COMMON + 0x0c, (uint32_t)(features >> 32), 4);
	bar_wr(e, COMMON + 0x14,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
}

static void queue_setup(struct env *e, uint64_t desc, uint16_t vector)
{
	bar_wr(e, COMMON + 0x16, 0, 2);
	bar_wr(e, COMMON + 0x18, QSZ, 2);
	bar_wr(e, COMMON + 0x1a, vector, 2);
	bar_wr(e, COMMON + 0x20, desc, 8);
	/* 32-bit halves, as some drivers write them. */
	bar_wr(e, COMMON + 0x28, AVAIL, 4);
	bar_wr(e, COMMON + 0x2c, 0, 4);
	bar_wr(e, COMMON + 0x30, USED, 8);
	bar_wr(e, COMMON + 0x1c, 1, 2);
}

static void driver_ok(struct env *e)
{
	bar_wr(e, COMMON + 0x14,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
		       VIRTIO_STATUS_DRIVER_OK,
	       1);
}

/* Posts one device-writable buffer and kicks through the ioeventfd, as KVM would. */
static void request(struct env *e, uint16_t head, uint64_t addr, uint32_t len, uint16_t flags,
		    uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };
	struct virtqueue *vq = virtio_dev_vq(e->vdev, 0);
	uint16_t slot = e->avail_idx % QSZ;
	uint64_t one = 1;
	int fd = fake_ioeventfd_at(e->bar + NOTIFY);

	mem_write(&e->vm->mem, DESC + 16ULL * head, &d, sizeof(d));
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	e->avail_idx++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
	assert_int_equal(fd, vq->kick_fd);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	/* The event loop's turn. */
	vq->kick.fn(&vq->kick, EPOLLIN);
}

static uint16_t used_idx(struct env *e)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, USED + 2, &v, 2);
	return v;
}

static uint64_t efd_count(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void test_features_and_status(void **state)
{
	struct env *e = *state;
	uint64_t f;

	assert_int_equal(bar_rd(e, COMMON + 0x12, 2), 1); /* num_queues */
	bar_wr(e, COMMON + 0x00, 1, 4);
	f = bar_rd(e, COMMON + 0x04, 4) << 32;
	bar_wr(e, COMMON + 0x00, 0, 4);
	f |= bar_rd(e, COMMON + 0x04, 4);
	assert_true(f & (1ULL << VIRTIO_F_VERSION_1));
	assert_true(f & (1ULL << VIRTIO_F_RING_EVENT_IDX));
	assert_true(f & (1ULL << VIRTIO_F_RING_INDIRECT_DESC));
	bar_wr(e, COMMON + 0x00, 7, 4);
	assert_int_equal(bar_rd(e, COMMON + 0x04, 4), 0);

	/* Legacy-only (no VERSION_1): FEATURES_OK does not stick. */
	negotiate(e, 1ULL << VIRTIO_F_RING_EVENT_IDX);
	assert_false(status(e) & VIRTIO_STATUS_FEATURES_OK);
	/* A bit that was not offered: refused too. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	negotiate(e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << 40));
	assert_false(status(e) & VIRTIO_STATUS_FEATURES_OK);
	/* DRIVER_OK without FEATURES_OK: NEEDS_RESET, not DRIVER_OK. */
	bar_wr(e, COMMON + 0x14,
	       VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_DRIVER_OK, 1);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	assert_false(status(e) & VIRTIO_STATUS_DRIVER_OK);
	/* Reset clears everything. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	assert_int_equal(status(e), 0);
	negotiate(e, (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	assert_true(status(e) & VIRTIO_STATUS_FEATURES_OK);
	assert_int_equal(e->vdev->features,
			 (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	/* Features are frozen after FEATURES_OK. */
	bar_wr(e, COMMON + 0x08, 0, 4);
	bar_wr(e, COMMON + 0x0c, 0, 4);
	assert_int_equal(e->vdev->driver_features,
			 (1ULL << VIRTIO_F_VERSION_1) | (1ULL << VIRTIO_F_RING_EVENT_IDX));
	/* Clearing a status bit is against the rules. */
	bar_wr(e, COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
}

static void test_queue_setup_checks(void **state)
{
	struct env *e = *state;

	/* Queue registers of a queue that does not exist read as 0 and ignore writes. */
	bar_wr(e, COMMON + 0x16, 5, 2);
	assert_int_equal(bar_rd(e, COMMON + 0x18, 2), 0);
	bar_wr(e, COMMON + 0x1c, 1, 2);
	bar_wr(e, COMMON + 0x16, 0, 2);
	assert_int_equal(bar_rd(e, COMMON + 0x18, 2), 256); /* the maximum at reset */
	/* Enabling before FEATURES_OK: NEEDS_RESET. */
	queue_setup(e, DESC, 0xffff);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(bar_rd(e, COMMON + 0x1c, 2), 0);
	/* A ring outside RAM: NEEDS_RESET, the queue stays off. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	queue_setup(e, e->vm->mem.size - 16, 0xffff);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(bar_rd(e, COMMON + 0x1c, 2), 0);
	/* A size that is not a power of two. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	bar_wr(e, COMMON + 0x18, 6, 2);
	bar_wr(e, COMMON + 0x1c, 1, 2);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	/* A good one; then its registers are frozen. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	queue_setup(e, DESC, 0xffff);
	assert_false(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(bar_rd(e, COMMON + 0x1c, 2), 1);
	assert_int_equal(bar_rd(e, COMMON + 0x18, 2), QSZ);
	bar_wr(e, COMMON + 0x18, 4, 2);
	bar_wr(e, COMMON + 0x20, 0x1000, 8);
	assert_int_equal(bar_rd(e, COMMON + 0x18, 2), QSZ);
	assert_int_equal(bar_rd(e, COMMON + 0x20, 8), DESC);
	assert_int_equal(bar_rd(e, COMMON + 0x28, 8), AVAIL);
	assert_int_equal(bar_rd(e, COMMON + 0x1e, 2), 0); /* notify offset */
	/* A vector the function does not have reads back as NO_VECTOR. */
	bar_wr(e, COMMON + 0x10, 7, 2);
	assert_int_equal(bar_rd(e, COMMON + 0x10, 2), 0xffff);
	bar_wr(e, COMMON + 0x10, 0, 2);
	assert_int_equal(bar_rd(e, COMMON + 0x10, 2), 0);
	/* Reset: the queue is off, its registers back to reset values. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	assert_int_equal(bar_rd(e, COMMON + 0x1c, 2), 0);
	assert_int_equal(bar_rd(e, COMMON + 0x18, 2), 256);
	assert_int_equal(bar_rd(e, COMMON + 0x10, 2), 0xffff);
}

static void test_rng_intx(void **state)
{
	struct env *e = *state;
	unsigned int gsi = e->vdev->pci.intx_gsi;
	uint8_t *buf = mem_ptr(&e->vm->mem, BUF, 64);
	uint8_t zero[64] = { 0 };

	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	queue_setup(e, DESC, 0xffff);
	driver_ok(e);
	assert_true(e->vdev->active);

	request(e, 2, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 1);
	assert_memory_not_equal(buf, zero, sizeof(zero));
	{
		uint32_t id = 0, len = 0;

		mem_read(&e->vm->mem, USED + 4, &id, 4);
		mem_read(&e->vm->mem, USED + 8, &len, 4);
		assert_int_equal(id, 2);
		assert_int_equal(len, 64);
	}
	/* No MSI-X: INTx and the ISR's queue bit; reading ISR acknowledges. */
	assert_int_equal(fake_kvm.irq_level[gsi], 1);
	assert_int_equal(bar_rd(e, ISR, 1), 1);
	assert_int_equal(fake_kvm.irq_level[gsi], 0);
	assert_int_equal(bar_rd(e, ISR, 1), 0);

	/* A chain that loops: answered empty, NEEDS_RESET, config interrupt (ISR bit 2). */
	request(e, 3, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 3);
	assert_int_equal(used_idx(e), 2);
	assert_true(status(e) & VIRTIO_STATUS_NEEDS_RESET);
	assert_int_equal(bar_rd(e, ISR, 1) & 2, 2);
	/* The device keeps serving. */
	request(e, 4, BUF, 16, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 3);
	/* A readable-only chain gets 0 bytes. */
	request(e, 5, BUF, 16, 0, 0);
	assert_int_equal(used_idx(e), 4);
	{
		uint32_t len = 1;

		mem_read(&e->vm->mem, USED + 4 + 8 * 3 + 4, &len, 4);
		assert_int_equal(len, 0);
	}
}

/* PUT /entropy's rate_limiter: one request per 300 ms, resumed by the limiter's timer. */
static void test_rng_rate_limited(void **state)
{
	struct env *e = *state;
	struct epoll_event ev[4];
	int n;

	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	queue_setup(e, DESC, 0xffff);
	driver_ok(e);
	request(e, 0, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 1);
	request(e, 1, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 1); /* held */
	request(e, 2, BUF, 64, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 1); /* a kick does not bypass the limiter */
	/* Nothing ready in the loop until the limiter's timer. */
	assert_int_equal(epoll_wait(e->vm->loop.epfd, ev, 4, 0), 0);
	do /* other tests' timers may still signal this process */
		n = epoll_wait(e->vm->loop.epfd, ev, 4, 1000);
	while (n < 0 && errno == EINTR);
	assert_int_equal(n, 1);
	vdrv_loop_dispatch(ev[0].data.ptr, ev[0].events);
	assert_int_equal(used_idx(e), 2);
	do
		n = epoll_wait(e->vm->loop.epfd, ev, 4, 1000);
	while (n < 0 && errno == EINTR);
	assert_int_equal(n, 1);
	vdrv_loop_dispatch(ev[0].data.ptr, ev[0].events);
	assert_int_equal(used_idx(e), 3);
}

static void test_rng_msix(void **state)
{
	struct env *e = *state;
	struct pci_dev *pdev = &e->vdev->pci;
	unsigned int gsi = pdev->intx_gsi;

	/* MSI-X on, vector 1 for the queue, vector 0 for config. */
	cfg_rw(e, pdev->msix.cap + 2, PCI_MSIX_ENABLE, 2, true);
	bar_wr(e, MSIX + 16, 0xfee00000, 4);
	bar_wr(e, MSIX + 16 + 8, 0x31, 4);
	bar_wr(e, MSIX + 16 + 12, 0, 4);
	bar_wr(e, MSIX + 0, 0xfee00000, 4);
	bar_wr(e, MSIX + 8, 0x30, 4);
	bar_wr(e, MSIX + 12, 0, 4);
	negotiate(e, 1ULL << VIRTIO_F_VERSION_1);
	bar_wr(e, COMMON + 0x10, 0, 2);
	queue_setup(e, DESC, 1);
	assert_int_equal(bar_rd(e, COMMON + 0x1a, 2), 1);
	driver_ok(e);

	request(e, 0, BUF, 32, VIRTQ_DESC_F_WRITE, 0);
	assert_int_equal(used_idx(e), 1);
	assert_int_equal(efd_count(pdev->msix.efd[1]), 1);
	assert_int_equal(fake_kvm.msi_data[fake_irqfd_gsi(pdev->msix.efd[1])], 0x31);
	assert_int_equal(fake_kvm.irq_level[gsi], 0); /* no INTx with MSI-X */
	/* Config interrupt on vector 0. */
	virtio_dev_needs_reset(e->vdev);
	assert_int_equal(efd_count(pdev->msix.efd[0]), 1);
	/* A notification that reaches the BAR (no ioeventfd caught it) still kicks. */
	bar_wr(e, NOTIFY, 0, 2);
	assert_int_equal(efd_count(virtio_dev_vq(e->vdev, 0)->kick_fd), 1);
}

static void test_notify_follows_bar(void **state)
{
	struct env *e = *state;
	struct virtqueue *vq = virtio_dev_vq(e->vdev, 0);
	uint64_t old = e->bar, moved = ARCH_PCI_MMIO32_BASE + 0x800000;

	assert_int_equal(fake_ioeventfd_at(old + NOTIFY), vq->kick_fd);
	cfg_rw(e, PCI_BASE_ADDRESS_0, (uint32_t)moved, 4, true);
	assert_int_equal(fake_ioeventfd_at(old + NOTIFY), -1);
	assert_int_equal(fake_ioeventfd_at(moved + NOTIFY), vq->kick_fd);
	e->bar = moved;
	assert_int_equal(bar_rd(e, COMMON + 0x12, 2), 1);
	/* Unregistering takes them away. */
	mvm_device_get(&e->vdev->dev);
	mvm_device_unregister(&e->vdev->dev);
	assert_int_equal(fake_ioeventfd_at(moved + NOTIFY), -1);
	mvm_device_put(&e->vdev->dev);
	mvm_device_put(&e->vdev->dev);
}

/* Config offset of the virtio vendor capability of cfg_type type, or 0. */
static unsigned int find_vcap(struct env *e, uint8_t type)
{
	unsigned int cap = cfg_rw(e, PCI_CAPABILITY_LIST, 0, 1, false), n = 0;

	while (cap && n++ < 48) {
		if (cfg_rw(e, cap, 0, 1, false) == PCI_CAP_ID_VNDR &&
		    cfg_rw(e, cap + 3, 0, 1, false) == type)
			return cap;
		cap = cfg_rw(e, cap + 1, 0, 1, false);
	}
	return 0;
}

static void test_caps(void **state)
{
	struct env *e = *state;
	unsigned int c;

	/* common, notify (multiplier 4), ISR; no device config for rng. */
	c = find_vcap(e, 1);
	assert_true(c);
	assert_int_equal(cfg_rw(e, c + 4, 0, 1, false), 0); /* BAR 0 */
	assert_int_equal(cfg_rw(e, c + 8, 0, 4, false), COMMON);
	c = find_vcap(e, 2);
	assert_true(c);
	assert_int_equal(cfg_rw(e, c + 8, 0, 4, false), NOTIFY);
	assert_int_equal(cfg_rw(e, c + 16, 0, 4, false), 4);
	c = find_vcap(e, 3);
	assert_true(c);
	assert_int_equal(cfg_rw(e, c + 8, 0, 4, false), ISR);
	assert_int_equal(find_vcap(e, 4), 0);
	/* Capability fields are read-only, except the PCI_CFG window's. */
	cfg_rw(e, c + 8, 0x1234, 4, true);
	assert_int_equal(cfg_rw(e, c + 8, 0, 4, false), ISR);
}

static void test_pci_cfg_window(void **state)
{
	struct env *e = *state;
	unsigned int c = find_vcap(e, 5);

	assert_true(c);
	/* num_queues through the window: bar 0, offset 0x12, 2 bytes. */
	cfg_rw(e, c + 4, 0, 1, true);
	cfg_rw(e, c + 8, COMMON + 0x12, 4, true);
	cfg_rw(e, c + 12, 2, 4, true);
	assert_int_equal(cfg_rw(e, c + 16, 0, 2, false), 1);
	/* A write through it: the status register. */
	cfg_rw(e, c + 8, COMMON + 0x14, 4, true);
	cfg_rw(e, c + 12, 1, 4, true);
	cfg_rw(e, c + 16, VIRTIO_STATUS_ACKNOWLEDGE, 1, true);
	assert_int_equal(status(e), VIRTIO_STATUS_ACKNOWLEDGE);
	assert_int_equal(cfg_rw(e, c + 16, 0, 1, false), VIRTIO_STATUS_ACKNOWLEDGE);
	/* Refused: a width that is not the length, a bad length, past the BAR, another BAR. */
	assert_int_equal(cfg_rw(e, c + 16, 0, 4, false), 0);
	cfg_rw(e, c + 12, 3, 4, true);
	assert_int_equal(cfg_rw(e, c + 16, 0, 1, false), 0);
	cfg_rw(e, c + 12, 4, 4, true);
	cfg_rw(e, c + 8, 0x7ffe, 4, true);
	assert_int_equal(cfg_rw(e, c + 16, 0, 4, false), 0);
	cfg_rw(e, c + 8, 0xfffffffc, 4, true);
	assert_int_equal(cfg_rw(e, c + 16, 0, 4, false), 0);
	cfg_rw(e, c + 8, COMMON + 0x12, 4, true);
	cfg_rw(e, c + 12, 2, 4, true);
	cfg_rw(e, c + 4, 3, 1, true);
	assert_int_equal(cfg_rw(e, c + 16, 0, 2, false), 0);
	cfg_rw(e, c + 16, 0xffff, 2, true);
	assert_int_equal(status(e), VIRTIO_STATUS_ACKNOWLEDGE);
}

int run_virtio_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_features_and_status, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_setup_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_intx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_msix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rng_rate_limited, setup_limited, teardown),
		cmocka_unit_test_setup_teardown(test_notify_follows_bar, setup, teardown),
		cmocka_unit_test_setup_teardown(test_caps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pci_cfg_window, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtio-pci", tests, NULL, NULL);
}
