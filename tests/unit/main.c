// SPDX-License-Identifier: MIT
/* Unit tests of the core: no /dev/kvm needed (fake KVM, fake arch). */
#include <stdlib.h>

#include "fake.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

struct vm *unit_vm(unsigned int cpus)
{
	struct mvm_config cfg;
	struct vm *vm;

	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.cpus = cpus;
	cfg.console_out = -1;
	vm = vm_create(&cfg);
	assert_false(IS_ERR(vm));
	return vm;
}

int main(void)
{
	int failed = 0;

	/* Error paths are exercised on purpose: keep their messages quiet. */
	mvm_log_set_level(getenv("UNIT_LOG") ? 3 : -1);
	/* The device back ends run under the real filter of mvm's event-loop thread. */
	if (sandbox_configure(SANDBOX_ON, NULL) || vdrv_loop_start())
		return 1;
	sandbox_reset(); /* ... and everything else unfiltered */
	failed += run_memory_tests();
	failed += run_bus_tests();
	failed += run_device_tests();
	failed += run_vcpu_tests();
	failed += run_vm_tests();
	failed += run_control_tests();
	failed += run_api_tests();
	failed += run_blk_tests();
	failed += run_virtio_blk_tests();
	failed += run_pci_tests();
	failed += run_virtq_tests();
	failed += run_virtio_tests();
	failed += run_virtio_mmio_tests();
	failed += run_devtype_tests();
	failed += run_vsock_tests();
	failed += run_net_tests();
	failed += run_net_tap_tests();
	failed += run_mmds_tests();
	failed += run_mmds_stack_tests();
	failed += run_balloon_tests();
	failed += run_balloon_api_tests();
	failed += run_hugepage_tests();
	failed += run_pmem_tests();
	failed += run_vmem_tests();
	failed += run_sandbox_tests();
	failed += run_vcpu_sandbox_tests();
	failed += run_boot_timer_tests();
	failed += run_fc_metrics_tests();
	failed += run_ioapic_tests();
	failed += run_vfio_user_tests();
	failed += run_vfio_kernel_tests();
	failed += run_vfio_sandbox_tests();
	failed += run_snapshot_format_tests();
	failed += run_snapshot_tests();
	failed += run_snapshot_api_tests();
	return failed ? 1 : 0;
}
