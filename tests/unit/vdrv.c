// SPDX-License-Identifier: MIT
/* The unit tests' two-transport virtio driver (vdrv.h). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/sandbox.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

/* virtio-pci: BAR 0 (src/virtio/pci.c) */
#define P_COMMON 0x0000
#define P_ISR	 0x1000
#define P_DEVCFG 0x2000
#define P_NOTIFY 0x3000

/* virtio-mmio registers */
#define M_MAGIC	     0x000
#define M_DEVICE_ID  0x008
#define M_DF	     0x010
#define M_DF_SEL     0x014
#define M_GF	     0x020
#define M_GF_SEL     0x024
#define M_Q_SEL	     0x030
#define M_Q_NUM	     0x038
#define M_Q_READY    0x044
#define M_Q_NOTIFY   0x050
#define M_INT_STATUS 0x060
#define M_INT_ACK    0x064
#define M_STATUS     0x070
#define M_Q_DESC     0x080
#define M_Q_DRIVER   0x090
#define M_Q_DEVICE   0x0a0
#define M_CONFIG     0x100

const enum mvm_transport vdrv_pci = MVM_TRANSPORT_PCI, vdrv_mmio = MVM_TRANSPORT_MMIO;

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static bool pci(const struct vdrv *d)
{
	return d->transport == MVM_TRANSPORT_PCI;
}

static uint32_t cfg_rw(struct vdrv *d, unsigned int reg, uint32_t v, unsigned int len, bool write)
{
	uint64_t a = ARCH_PCI_ECAM_BASE + ((unsigned int)d->vdev->pci.slot << 15) + reg;

	bus_access(&d->vm->buses[MVM_BUS_MMIO], a, &v, len, write);
	return v;
}

void vdrv_adopt(struct vdrv *d, struct vm *vm)
{
	memset(d, 0, sizeof(*d));
	d->vm = vm;
	d->transport = vm->cfg.transport;
	memset(mem_ptr(&d->vm->mem, 0, 0x40000), 0, 0x40000);
	if (pci(d))
		assert_false(IS_ERR(pci_host_create(d->vm, &host_desc)));
}

void vdrv_vm(struct vdrv *d, enum mvm_transport transport)
{
	struct vm *vm;

	fake_reset();
	vm = unit_vm(1);
	vm->cfg.transport = transport;
	vdrv_adopt(d, vm);
}

void vdrv_attach(struct vdrv *d, struct virtio_dev *vdev, uint16_t device_id)
{
	assert_false(IS_ERR(vdev));
	d->vdev = vdev;
	if (pci(d)) {
		assert_int_equal(cfg_rw(d, PCI_VENDOR_ID, 0, 4, false),
				 0x1af4 | (0x1040u + device_id) << 16);
		d->base = cfg_rw(d, PCI_BASE_ADDRESS_0, 0, 4, false) & ~0xfu;
		cfg_rw(d, PCI_COMMAND, PCI_COMMAND_MEMORY, 2, true);
		assert_string_equal(vdev->dev.transport, "pci");
	} else {
		d->base = vdev->dev.fw.res[0].base;
		assert_int_equal(vdrv_rd(d, M_MAGIC, 4), 0x74726976);
		assert_int_equal(vdrv_rd(d, M_DEVICE_ID, 4), device_id);
		assert_string_equal(vdev->dev.transport, "mmio");
	}
}

void vdrv_fini(struct vdrv *d)
{
	vm_destroy(d->vm);
}

uint64_t vdrv_rd(struct vdrv *d, uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	bus_access(&d->vm->buses[MVM_BUS_MMIO], d->base + off, &v, len, false);
	return v;
}

void vdrv_wr(struct vdrv *d, uint64_t off, uint64_t v, unsigned int len)
{
	bus_access(&d->vm->buses[MVM_BUS_MMIO], d->base + off, &v, len, true);
}

uint8_t vdrv_status(struct vdrv *d)
{
	return (uint8_t)(pci(d) ? vdrv_rd(d, P_COMMON + 0x14, 1) : vdrv_rd(d, M_STATUS, 4));
}

void vdrv_set_status(struct vdrv *d, uint8_t status)
{
	if (pci(d))
		vdrv_wr(d, P_COMMON + 0x14, status, 1);
	else
		vdrv_wr(d, M_STATUS, status, 4);
}

uint64_t vdrv_device_features(struct vdrv *d)
{
	uint64_t sel = pci(d) ? P_COMMON + 0x00 : M_DF_SEL, f = pci(d) ? P_COMMON + 0x04 : M_DF;
	uint64_t v;

	vdrv_wr(d, sel, 1, 4);
	v = vdrv_rd(d, f, 4) << 32;
	vdrv_wr(d, sel, 0, 4);
	return v | vdrv_rd(d, f, 4);
}

void vdrv_set_driver_features(struct vdrv *d, uint64_t features)
{
	uint64_t sel = pci(d) ? P_COMMON + 0x08 : M_GF_SEL, f = pci(d) ? P_COMMON + 0x0c : M_GF;

	vdrv_wr(d, sel, 0, 4);
	vdrv_wr(d, f, (uint32_t)features, 4);
	vdrv_wr(d, sel, 1, 4);
	vdrv_wr(d, f, (uint32_t)(features >> 32), 4);
}

void vdrv_negotiate(struct vdrv *d, uint64_t features)
{
	const uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE);
	vdrv_set_status(d, st);
	vdrv_set_driver_features(d, features);
	vdrv_set_status(d, st | VIRTIO_STATUS_FEATURES_OK);
}

void vdrv_queue(struct vdrv *d, unsigned int q, uint16_t size, uint64_t desc, uint64_t avail,
		uint64_t used)
{
	if (pci(d)) {
		vdrv_wr(d, P_COMMON + 0x16, q, 2);
		vdrv_wr(d, P_COMMON + 0x18, size, 2);
		vdrv_wr(d, P_COMMON + 0x20, desc, 8);
		vdrv_wr(d, P_COMMON + 0x28, avail, 8);
		vdrv_wr(d, P_COMMON + 0x30, used, 8);
		vdrv_wr(d, P_COMMON + 0x1c, 1, 2);
		return;
	}
	vdrv_wr(d, M_Q_SEL, q, 4);
	vdrv_wr(d, M_Q_NUM, size, 4);
	vdrv_wr(d, M_Q_DESC, (uint32_t)desc, 4);
	vdrv_wr(d, M_Q_DESC + 4, (uint32_t)(desc >> 32), 4);
	vdrv_wr(d, M_Q_DRIVER, (uint32_t)avail, 4);
	vdrv_wr(d, M_Q_DRIVER + 4, (uint32_t)(avail >> 32), 4);
	vdrv_wr(d, M_Q_DEVICE, (uint32_t)used, 4);
	vdrv_wr(d, M_Q_DEVICE + 4, (uint32_t)(used >> 32), 4);
	vdrv_wr(d, M_Q_READY, 1, 4);
}

bool vdrv_queue_ready(struct vdrv *d, unsigned int q)
{
	if (pci(d)) {
		vdrv_wr(d, P_COMMON + 0x16, q, 2);
		return vdrv_rd(d, P_COMMON + 0x1c, 2) == 1;
	}
	vdrv_wr(d, M_Q_SEL, q, 4);
	return vdrv_rd(d, M_Q_READY, 4) == 1;
}

void vdrv_driver_ok(struct vdrv *d)
{
	vdrv_set_status(d, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
				   VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK);
}

uint64_t vdrv_config(struct vdrv *d, uint64_t off, unsigned int len)
{
	return vdrv_rd(d, (pci(d) ? P_DEVCFG : M_CONFIG) + off, len);
}

void vdrv_config_write(struct vdrv *d, uint64_t off, uint64_t v, unsigned int len)
{
	vdrv_wr(d, (pci(d) ? P_DEVCFG : M_CONFIG) + off, v, len);
}

uint8_t vdrv_generation(struct vdrv *d)
{
	/* virtio-pci: common config's config_generation (byte 0x15); mmio: ConfigGeneration. */
	return (uint8_t)(pci(d) ? vdrv_rd(d, P_COMMON + 0x15, 1) : vdrv_rd(d, 0x0fc, 4));
}

int vdrv_notify_fd(struct vdrv *d, unsigned int q)
{
	if (pci(d))
		return fake_ioeventfd_at(d->base + P_NOTIFY + 4 * q);
	return fake_ioeventfd_write(d->base + M_Q_NOTIFY, 4, q);
}

/*
 * The event loop's thread: in mvm it runs the device back ends under the
 * VMM thread's seccomp filter, and so does this one, so that a back end's
 * call missing from that list fails the tests with mvm's SIGSYS line.
 */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	void (*fn)(void *);
	void *arg;
	bool started, busy;
	int entered;		 /* 0 until the thread is in its sandbox, then 1 (or -1: failed) */
	struct sigaction sigsys; /* mvm's: names the thread and the call */
} loop_thread = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
};

static void *loop_thread_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&loop_thread.lock);
	loop_thread.entered = sandbox_enter(SANDBOX_VMM) ? -1 : 1;
	pthread_cond_broadcast(&loop_thread.cond);
	for (;;) {
		while (!loop_thread.busy)
			pthread_cond_wait(&loop_thread.cond, &loop_thread.lock);
		loop_thread.fn(loop_thread.arg);
		loop_thread.busy = false;
		pthread_cond_broadcast(&loop_thread.cond);
	}
	return NULL;
}

int vdrv_loop_start(void)
{
	sigaction(SIGSYS, NULL, &loop_thread.sigsys);
	if (pthread_create(&loop_thread.thread, NULL, loop_thread_main, NULL))
		return -1;
	/* The filters are compiled now, not after the caller moves on. */
	pthread_mutex_lock(&loop_thread.lock);
	while (!loop_thread.entered)
		pthread_cond_wait(&loop_thread.cond, &loop_thread.lock);
	loop_thread.started = loop_thread.entered > 0;
	pthread_mutex_unlock(&loop_thread.lock);
	return loop_thread.started ? 0 : -1;
}

void vdrv_on_loop(void (*fn)(void *), void *arg)
{
	struct sigaction test_runner;

	if (!loop_thread.started) {
		fn(arg);
		return;
	}
	/* cmocka catches SIGSYS during a test: mvm's line is the useful one. */
	sigaction(SIGSYS, &loop_thread.sigsys, &test_runner);
	pthread_mutex_lock(&loop_thread.lock);
	loop_thread.fn = fn;
	loop_thread.arg = arg;
	loop_thread.busy = true;
	pthread_cond_broadcast(&loop_thread.cond);
	while (loop_thread.busy)
		pthread_cond_wait(&loop_thread.cond, &loop_thread.lock);
	pthread_mutex_unlock(&loop_thread.lock);
	sigaction(SIGSYS, &test_runner, NULL);
}

struct loop_event {
	struct loop_handler *h;
	uint32_t events;
};

static void run_handler(void *arg)
{
	struct loop_event *e = arg;

	e->h->fn(e->h, e->events);
}

void vdrv_loop_dispatch(struct loop_handler *h, uint32_t events)
{
	struct loop_event e = { h, events };

	vdrv_on_loop(run_handler, &e);
}

static void run_kick(void *arg)
{
	struct virtqueue *vq = arg;

	vq->kick.fn(&vq->kick, EPOLLIN);
}

void vdrv_kick(struct vdrv *d, unsigned int q)
{
	struct virtqueue *vq = virtio_dev_vq(d->vdev, q);
	int fd = vdrv_notify_fd(d, q);
	uint64_t one = 1;

	assert_non_null(vq);
	assert_int_equal(fd, vq->kick_fd);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	vdrv_on_loop(run_kick, vq); /* the event loop's turn */
}

unsigned int vdrv_isr(struct vdrv *d)
{
	unsigned int v;

	if (pci(d))
		return (unsigned int)vdrv_rd(d, P_ISR, 1); /* reading acknowledges */
	v = (unsigned int)vdrv_rd(d, M_INT_STATUS, 4);
	vdrv_wr(d, M_INT_ACK, v, 4);
	return v;
}
