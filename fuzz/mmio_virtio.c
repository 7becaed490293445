// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: everything a guest driver can do to virtio-mmio
 * devices, in any order. A VM on the unit tests' fake KVM (no /dev/kvm)
 * with cfg.transport = MMIO gets virtio-rng, virtio-console and a
 * virtio-blk disk (synchronous engine on a 64 KiB file), in windows 0-2;
 * the input is a program of guest actions:
 *
 *   aligned register writes, accesses of any width anywhere in (and just
 *   past) the windows, config space accesses, a driver's whole set-up of a
 *   queue in one step (to get past the status machine quickly), writes of
 *   guest RAM (rings, descriptors, buffers), and "the event loop runs"
 *   (every queue's kick handler).
 *
 * ASan/UBSan check that nothing reads or writes outside what it owns; the
 * identity registers must read right after any program; the VM is torn
 * down after each input (LeakSanitizer checks the teardown).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "input.h"
#include "mvm/log.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "virtio/blk.h"

#define RAM_SIZE  (2ULL << 20)
#define MAX_OPS	  512
#define N_WINDOWS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int null_fd = -1;
static char disk_path[] = "/tmp/mvm-fuzz-mmio-XXXXXX";

static void unlink_disk(void)
{
	unlink(disk_path);
}

static struct vm *fuzz_vm(void)
{
	struct mvm_disk_config disk = { .io = MVM_DISK_IO_SYNC };
	struct mvm_config cfg;
	struct vm *vm;

	snprintf(disk.path, sizeof(disk.path), "%s", disk_path);
	fake_reset();
	mvm_config_init(&cfg);
	cfg.mem_size = RAM_SIZE;
	cfg.cpus = 1;
	cfg.console_out = null_fd;
	cfg.transport = MVM_TRANSPORT_MMIO;
	vm = vm_create(&cfg);
	if (IS_ERR(vm))
		abort();
	if (IS_ERR(virtio_rng_create(vm)) || IS_ERR(virtio_console_create(vm)) ||
	    IS_ERR(virtio_blk_create(vm, &disk, 0)))
		abort();
	return vm;
}

/* The event loop's turn: every virtio-mmio queue's kick handler. */
static void run_loop(struct vm *vm)
{
	struct mvm_device *dev, *devs[8];
	unsigned int n = 0;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (n < 8 && dev->transport && !strcmp(dev->transport, "mmio"))
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

static uint64_t window(unsigned int i)
{
	return ARCH_VIRTIO_MMIO_BASE + (uint64_t)(i % N_WINDOWS) * ARCH_VIRTIO_MMIO_SIZE;
}

static void reg_wr(struct vm *vm, uint64_t addr, uint32_t v)
{
	bus_access(&vm->buses[MVM_BUS_MMIO], addr, &v, 4, true);
}

static uint32_t reg_rd(struct vm *vm, uint64_t addr)
{
	uint32_t v = 0;

	bus_access(&vm->buses[MVM_BUS_MMIO], addr, &v, 4, false);
	return v;
}

/* A driver's set-up of one queue, from reset to DRIVER_OK, with fuzzed values. */
static void quick_setup(struct vm *vm, struct input *in)
{
	uint64_t w = window((unsigned int)take(in, 1));
	uint32_t q = (uint32_t)take(in, 1) & 3;
	uint64_t f = take(in, 8) | 1ULL << VIRTIO_F_VERSION_1;

	reg_wr(vm, w + 0x070, 0);
	reg_wr(vm, w + 0x070, 1);
	reg_wr(vm, w + 0x070, 3);
	reg_wr(vm, w + 0x024, 0);
	reg_wr(vm, w + 0x020, (uint32_t)f);
	reg_wr(vm, w + 0x024, 1);
	reg_wr(vm, w + 0x020, (uint32_t)(f >> 32));
	reg_wr(vm, w + 0x070, 0xb);
	reg_wr(vm, w + 0x030, q);
	reg_wr(vm, w + 0x038, 1u << (take(in, 1) & 15));
	reg_wr(vm, w + 0x080, (uint32_t)(take(in, 2) << 4) & 0x3ffff);
	reg_wr(vm, w + 0x090, (uint32_t)(take(in, 2) << 2) & 0x3ffff);
	reg_wr(vm, w + 0x0a0, (uint32_t)(take(in, 2) << 4) & 0x3ffff);
	reg_wr(vm, w + 0x044, 1);
	reg_wr(vm, w + 0x070, 0xf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vm *vm;
	unsigned int ops = 0;

	if (null_fd < 0) {
		int fd = mkstemp(disk_path);

		mvm_log_set_level(-1);
		null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || ftruncate(fd, 64 << 10))
			abort();
		close(fd);
		atexit(unlink_disk);
	}
	vm = fuzz_vm();
	while (in.left && ops++ < MAX_OPS) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned int len = 1u << ((op >> 3) & 3); /* 1, 2, 4, 8 */
		bool write = op & 0x20;
		uint64_t v;

		switch (op & 7) {
		case 0: /* an aligned register write, the way drivers access them */
			v = take(&in, 1);
			reg_wr(vm, window(op >> 6) + ((v << 2) & 0xfc), (uint32_t)take(&in, 4));
			break;
		case 1: { /* any access in the windows, and just past the last */
			uint64_t off = take(&in, 2) % ((N_WINDOWS + 1) * ARCH_VIRTIO_MMIO_SIZE);

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_VIRTIO_MMIO_BASE + off, &v, len,
				   write);
			break;
		}
		case 2: /* config space, any width */
			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO],
				   window(op >> 6) + 0x100 + (take(&in, 1) & 0x7f), &v, len, write);
			break;
		case 3:
			quick_setup(vm, &in);
			break;
		case 4: { /* guest RAM: rings, descriptors, buffers in the first 256 KiB */
			uint64_t gpa = (take(&in, 2) << 2) & 0x3ffff;

			v = take(&in, 8);
			mem_write(&vm->mem, gpa, &v, 8);
			break;
		}
		case 5: /* the event loop runs */
			run_loop(vm);
			break;
		case 6: { /* a descriptor, whole: addr near the rings, any len/flags/next */
			struct virtq_desc d;
			uint64_t gpa = (take(&in, 2) << 4) & 0x3ffff;

			d.addr = take(&in, 1) & 1 ? take(&in, 8) : take(&in, 3) & 0x3ffff;
			d.len = (uint32_t)take(&in, 4);
			d.flags = (uint16_t)take(&in, 2);
			d.next = (uint16_t)take(&in, 2);
			mem_write(&vm->mem, gpa, &d, sizeof(d));
			break;
		}
		case 7: /* interrupt status read and acknowledge */
			v = reg_rd(vm, window(op >> 6) + 0x060);
			reg_wr(vm, window(op >> 6) + 0x064, (uint32_t)(v & take(&in, 1)));
			break;
		}
	}
	run_loop(vm);
	/* Whatever the program did, the identity registers still read right. */
	for (unsigned int i = 0; i < N_WINDOWS; i++)
		if (reg_rd(vm, window(i)) != 0x74726976 || reg_rd(vm, window(i) + 4) != 2)
			abort();
	vm_destroy(vm);
	return 0;
}
