/* SPDX-License-Identifier: MIT */
/*
 * A guest's virtio driver in miniature, for the unit tests: the same steps
 * over virtio-pci (config space + BAR) or virtio-mmio (the register window),
 * so that a device's tests run on both transports.
 */
#ifndef MVM_TEST_VDRV_H
#define MVM_TEST_VDRV_H

#include <stdbool.h>
#include <stdint.h>

#include "mvm/config.h"

struct vm;
struct virtio_dev;

/*
 * A device test, once per transport: fn(state) with *state pointing at its
 * enum mvm_transport (vdrv_transport(state)).
 */
extern const enum mvm_transport vdrv_pci, vdrv_mmio;
#define VDRV_TESTS(fn)                                            \
	{ #fn " (pci)", fn, NULL, NULL, (void *)&vdrv_pci },      \
	{                                                         \
#fn " (mmio)", fn, NULL, NULL, (void *)&vdrv_mmio \
	}

static inline enum mvm_transport vdrv_transport(void **state)
{
	return *(const enum mvm_transport *)*state;
}

struct vdrv {
	struct vm *vm;
	struct virtio_dev *vdev;
	enum mvm_transport transport;
	uint64_t base; /* BAR 0 or the MMIO window */
	uint16_t avail_idx[4];
};

/*
 * A fresh fake-KVM VM ready for a device on `transport` (a PCI host bridge
 * for virtio-pci). Then create the device and vdrv_attach() it.
 */
void vdrv_vm(struct vdrv *d, enum mvm_transport transport);
/* The same for a VM the test made itself (on vm->cfg.transport). */
void vdrv_adopt(struct vdrv *d, struct vm *vm);
/* Finds the device where a guest would and checks its identity (device id). */
void vdrv_attach(struct vdrv *d, struct virtio_dev *vdev, uint16_t device_id);
void vdrv_fini(struct vdrv *d);

/* Raw accesses at `off` in BAR 0 / the window. */
uint64_t vdrv_rd(struct vdrv *d, uint64_t off, unsigned int len);
void vdrv_wr(struct vdrv *d, uint64_t off, uint64_t v, unsigned int len);

uint8_t vdrv_status(struct vdrv *d);
void vdrv_set_status(struct vdrv *d, uint8_t status);
uint64_t vdrv_device_features(struct vdrv *d);
void vdrv_set_driver_features(struct vdrv *d, uint64_t f);
/* ACKNOWLEDGE, DRIVER, features, FEATURES_OK. */
void vdrv_negotiate(struct vdrv *d, uint64_t features);
/* Sets queue q up (size, rings) and makes it ready. */
void vdrv_queue(struct vdrv *d, unsigned int q, uint16_t size, uint64_t desc, uint64_t avail,
		uint64_t used);
bool vdrv_queue_ready(struct vdrv *d, unsigned int q);
void vdrv_driver_ok(struct vdrv *d);
/* Device config space. */
uint64_t vdrv_config(struct vdrv *d, uint64_t off, unsigned int len);
void vdrv_config_write(struct vdrv *d, uint64_t off, uint64_t v, unsigned int len);
/* The device's config generation counter. */
uint8_t vdrv_generation(struct vdrv *d);
/* The eventfd a notification of queue q reaches, as KVM would pick it (-1: none). */
int vdrv_notify_fd(struct vdrv *d, unsigned int q);
/*
 * Starts the event-loop thread (once, before the tests): it enters the VMM
 * thread's seccomp filter, as mvm's event loop does, and runs what the
 * tests hand it with vdrv_on_loop(). Without it, vdrv_on_loop() runs fn on
 * the caller.
 */
int vdrv_loop_start(void);
void vdrv_on_loop(void (*fn)(void *), void *arg);
/* One ready handler of a VM's event loop, run on that thread. */
struct loop_handler;
void vdrv_loop_dispatch(struct loop_handler *h, uint32_t events);
/* Notifies queue q through its ioeventfd, then runs the event loop's turn (on its thread). */
void vdrv_kick(struct vdrv *d, unsigned int q);
/* The interrupt status bits (queue 1, config 2), acknowledged. */
unsigned int vdrv_isr(struct vdrv *d);

#endif
