/* SPDX-License-Identifier: MIT */
/*
 * The whole-VM virtio harnesses' common ground: a VM on the unit tests'
 * fake KVM with virtio-rng, virtio-console and a virtio-blk disk
 * (synchronous engine on a 64 KiB file) on the transport a harness drives,
 * and the guest actions both transports share: writes of guest RAM (rings,
 * descriptors, buffers) and "the event loop runs".
 */
#ifndef MVM_FUZZ_VIRTIO_VM_H
#define MVM_FUZZ_VIRTIO_VM_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "input.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "virtio/blk.h"

#define FUZZ_RAM_SIZE (2ULL << 20)

static int fuzz_null_fd = -1;
static char fuzz_disk_path[] = "/tmp/mvm-fuzz-virtio-XXXXXX";

static const struct platform_device_desc fuzz_host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static void fuzz_unlink_disk(void)
{
	unlink(fuzz_disk_path);
}

/* Once per process: quiet log, /dev/null console, the disk's file. */
static void fuzz_virtio_init(void)
{
	int fd;

	if (fuzz_null_fd >= 0)
		return;
	fd = mkstemp(fuzz_disk_path);
	mvm_log_set_level(-1);
	fuzz_null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 64 << 10))
		abort();
	close(fd);
	atexit(fuzz_unlink_disk);
}

/* The VM of one input; virtio-pci devices sit behind a PCI host bridge. */
static struct vm *fuzz_virtio_vm(enum mvm_transport transport)
{
	struct mvm_disk_config disk = { .io = MVM_DISK_IO_SYNC };
	struct mvm_config cfg;
	struct vm *vm;

	snprintf(disk.path, sizeof(disk.path), "%s", fuzz_disk_path);
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = FUZZ_RAM_SIZE;
	cfg.cpus = 1;
	cfg.console_out = fuzz_null_fd;
	cfg.transport = transport;
	vm = vm_create(&cfg);
	if (IS_ERR(vm))
		abort();
	if (transport == MVM_TRANSPORT_PCI && IS_ERR(pci_host_create(vm, &fuzz_host_desc)))
		abort();
	if (IS_ERR(virtio_rng_create(vm)) || IS_ERR(virtio_console_create(vm)) ||
	    IS_ERR(virtio_blk_create(vm, &disk, 0)))
		abort();
	return vm;
}

/* The event loop's turn: every virtio queue's kick handler. */
static void fuzz_run_queues(struct vm *vm)
{
	struct mvm_device *dev, *devs[8];
	unsigned int n = 0;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (n < 8 && dev->ops->type && !strncmp(dev->ops->type, "virtio-", 7))
			devs[n++] = dev;
	pthread_mutex_unlock(&vm->lock);
	for (unsigned int i = 0; i < n; i++) {
		struct virtio_dev *vdev = to_virtio_dev(devs[i]);

		for (unsigned int q = 0; q < vdev->num_queues; q++) {
			struct virtqueue *vq = &vdev->vqs[q];

			virtq_kick(vq);
			vq->kick.fn(&vq->kick, EPOLLIN);
		}
	}
}

/* A guest RAM word in the first 256 KiB: rings, descriptors, buffers. */
static void fuzz_ram_write(struct vm *vm, struct input *in)
{
	uint64_t gpa = (take(in, 2) << 2) & 0x3ffff, v = take(in, 8);

	mem_write(&vm->mem, gpa, &v, 8);
}

/* A descriptor, whole: addr near the rings, any len/flags/next. */
static void fuzz_desc_write(struct vm *vm, struct input *in)
{
	uint64_t gpa = (take(in, 2) << 4) & 0x3ffff;
	struct virtq_desc d;

	d.addr = take(in, 1) & 1 ? take(in, 8) : take(in, 3) & 0x3ffff;
	d.len = (uint32_t)take(in, 4);
	d.flags = (uint16_t)take(in, 2);
	d.next = (uint16_t)take(in, 2);
	mem_write(&vm->mem, gpa, &d, sizeof(d));
}

#endif
