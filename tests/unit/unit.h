/* SPDX-License-Identifier: MIT */
#ifndef MVM_TEST_UNIT_H
#define MVM_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

int run_vcpu_tests(void);
int run_device_tests(void);
int run_bus_tests(void);
int run_memory_tests(void);
int run_vm_tests(void);
int run_control_tests(void);
int run_api_tests(void);
int run_blk_tests(void);
int run_virtio_blk_tests(void);
int run_pci_tests(void);
int run_virtq_tests(void);
int run_virtio_tests(void);
int run_virtio_mmio_tests(void);
int run_devtype_tests(void);
int run_vsock_tests(void);
int run_net_tests(void);
int run_net_tap_tests(void);
int run_mmds_tests(void);
int run_mmds_stack_tests(void);
int run_balloon_tests(void);
int run_balloon_api_tests(void);
int run_hugepage_tests(void);
int run_pmem_tests(void);
int run_vmem_tests(void);
int run_sandbox_tests(void);
int run_vcpu_sandbox_tests(void);
int run_boot_timer_tests(void);
int run_fc_metrics_tests(void);
int run_ioapic_tests(void);
int run_vfio_user_tests(void);
int run_vfio_kernel_tests(void);
int run_vfio_sandbox_tests(void);
int run_snapshot_format_tests(void);
int run_snapshot_tests(void);
int run_snapshot_api_tests(void);

struct vm;
/* A VM on the fake KVM with `cpus` vCPU slots; fails the test if it cannot. */
struct vm *unit_vm(unsigned int cpus);

#endif
