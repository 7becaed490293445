// SPDX-License-Identifier: MIT
/* The fake architecture: records the hooks the core calls, fails on demand. */
#include <errno.h>
#include <string.h>

#include "fake.h"
#include "mvm/arch.h"
#include "mvm/snap_format.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct fake_arch fake_arch;

void fake_reset(void)
{
	memset(&fake_arch, 0, sizeof(fake_arch));
	fake_arch.veto_id = -1;
	fake_arch.fail_create_id = -1;
	fake_arch.fail_vcpu_restore = -1;
	memset(&fake_kvm, 0, sizeof(fake_kvm));
	memset(&fake_vfio, 0, sizeof(fake_vfio));
	fake_state_reset();
	fake_kvm.max_vcpus = 8;
	fake_kvm.max_vcpu_id = 16;
}

const struct platform_device_desc arch_platform_devices[] = {
	{ "serial8250", "serial0", MVM_BUS_PIO, 0x3f8, 8, 4 },
};
const unsigned int arch_nr_platform_devices = 1;

unsigned int arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned int max)
{
	(void)e;
	(void)max;
	return 0;
}

int arch_vm_create(struct vm *vm)
{
	(void)vm;
	return 0;
}

void arch_vm_destroy(struct vm *vm)
{
	(void)vm;
}

unsigned int arch_mem_layout(uint64_t ram, struct mem_range *ranges, unsigned int max)
{
	(void)max;
	ranges[0] = (struct mem_range){ 0, ram };
	return 1;
}

int arch_vm_load_kernel(struct vm *vm)
{
	vm->arch.loaded++;
	return 0;
}

int arch_vcpu_precreate(struct vm *vm, unsigned int id)
{
	(void)vm;
	return (int)id == fake_arch.veto_id ? -EPERM : 0;
}

int arch_vcpu_create(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;
	unsigned int i, n = vm_online_vcpus(vm);

	fake_arch.vcpu_creates++;
	/* The vCPU being built must not be visible yet. */
	if (vm_vcpu_by_id(vm, vcpu->id))
		fake_arch.saw_published = true;
	for (i = 0; i < n; i++)
		if (vm_vcpu(vm, i) == vcpu)
			fake_arch.saw_published = true;
	if (!fake_arch.saw_published)
		fake_arch.saw_unpublished = true;
	if ((int)vcpu->id == fake_arch.fail_create_id)
		return -EIO;
	vcpu->arch.created = true;
	return 0;
}

void arch_vcpu_destroy(struct vcpu *vcpu)
{
	if (vcpu->arch.created)
		fake_arch.vcpu_destroys++;
}

int arch_vcpu_handle_exit(struct vcpu *vcpu)
{
	(void)vcpu;
	return -ENOSYS;
}

void arch_vcpu_describe(struct vcpu *vcpu, char *buf, size_t len)
{
	(void)vcpu;
	if (len)
		buf[0] = '\0';
}

void arch_host_cpu(char vendor[16], uint64_t *features)
{
	memset(vendor, 0, 16);
	strcpy(vendor, "FakeCPU");
	*features = fake_arch.host_features;
}

int arch_vm_save(struct vm *vm, struct snap_buf *out)
{
	snap_put_u64(out, vm->arch.clock);
	return 0;
}

int arch_vm_restore(struct vm *vm, struct snap_cur *in)
{
	vm->arch.clock = snap_get_u64(in);
	return snap_cur_end(in);
}

int arch_vcpu_save(struct vcpu *vcpu, struct snap_buf *out)
{
	snap_put_u64(out, vcpu->arch.rip);
	return 0;
}

int arch_vcpu_restore(struct vcpu *vcpu, struct snap_cur *in)
{
	if ((int)vcpu->id == fake_arch.fail_vcpu_restore)
		return -EIO;
	vcpu->arch.rip = snap_get_u64(in);
	return snap_cur_end(in);
}
