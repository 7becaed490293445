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
#include <stdint.h>

#include "virtio_vm.h"

#define MAX_OPS	  512
#define N_WINDOWS 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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

	fuzz_virtio_init();
	vm = fuzz_virtio_vm(MVM_TRANSPORT_MMIO);
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
		case 4: /* guest RAM */
			fuzz_ram_write(vm, &in);
			break;
		case 5: /* the event loop runs */
			fuzz_run_queues(vm);
			break;
		case 6: /* a descriptor */
			fuzz_desc_write(vm, &in);
			break;
		case 7: /* interrupt status read and acknowledge */
			v = reg_rd(vm, window(op >> 6) + 0x060);
			reg_wr(vm, window(op >> 6) + 0x064, (uint32_t)(v & take(&in, 1)));
			break;
		}
	}
	fuzz_run_queues(vm);
	/* Whatever the program did, the identity registers still read right. */
	for (unsigned int i = 0; i < N_WINDOWS; i++)
		if (reg_rd(vm, window(i)) != 0x74726976 || reg_rd(vm, window(i) + 4) != 2)
			abort();
	vm_destroy(vm);
	return 0;
}
