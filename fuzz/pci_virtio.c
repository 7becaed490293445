// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: everything a guest driver can do to PCI and virtio-pci,
 * in any order. A VM on the unit tests' fake KVM (tests/unit/fake_sys.c,
 * fake_arch.c: no /dev/kvm) gets the PCI host bridge, virtio-rng,
 * virtio-console and a virtio-blk disk (synchronous engine on a 64 KiB
 * file); the input is a program of guest actions:
 *
 *   conf1 address/data accesses, ECAM accesses, BAR-window accesses (MMIO
 *   and I/O, any width), writes of guest RAM (rings, descriptors, buffers),
 *   and "the event loop runs" (every queue's kick handler).
 *
 * ASan/UBSan check that nothing reads or writes outside what it owns; the
 * VM is torn down after each input (LeakSanitizer checks the teardown).
 */
#include <stdint.h>

#include "virtio_vm.h"

#define MAX_OPS 512

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in = { data, size };
	struct vm *vm;
	unsigned int ops = 0;

	fuzz_virtio_init();
	vm = fuzz_virtio_vm(MVM_TRANSPORT_PCI);
	while (in.left && ops++ < MAX_OPS) {
		uint8_t op = (uint8_t)take(&in, 1);
		unsigned int len = 1u << ((op >> 3) & 3); /* 1, 2, 4, 8 */
		bool write = op & 0x20;
		uint64_t v;

		switch (op & 7) {
		case 0: { /* conf1 address register */
			uint32_t a = (uint32_t)take(&in, 4);

			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT, &a, 4, true);
			break;
		}
		case 1: /* conf1 data port */
			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_CONF1_PORT + 4 + (op >> 6), &v,
				   len > 4 ? 4 : len, write);
			break;
		case 2: { /* ECAM: slots 0-3 */
			uint64_t off = take(&in, 2) & 0x3ffff;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_ECAM_BASE + off, &v, len,
				   write);
			break;
		}
		case 3: { /* MMIO window: the first MiB, where the BARs are */
			uint64_t off = take(&in, 3) & 0xfffff;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_MMIO], ARCH_PCI_MMIO32_BASE + off, &v, len,
				   write);
			break;
		}
		case 4: { /* I/O window */
			uint64_t off = take(&in, 2) % ARCH_PCI_IO_SIZE;

			v = take(&in, len);
			bus_access(&vm->buses[MVM_BUS_PIO], ARCH_PCI_IO_BASE + off, &v,
				   len > 4 ? 4 : len, write);
			break;
		}
		case 5: /* guest RAM */
			fuzz_ram_write(vm, &in);
			break;
		case 6: /* the event loop runs */
			fuzz_run_queues(vm);
			break;
		case 7: /* a descriptor */
			fuzz_desc_write(vm, &in);
			break;
		}
	}
	fuzz_run_queues(vm);
	vm_destroy(vm);
	return 0;
}
