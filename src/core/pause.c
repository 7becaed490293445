// SPDX-License-Identifier: MIT
/*
 * Pause and resume (DESIGN.md §3): no polling anywhere.
 *
 * vm_pause() raises vm->pause.requested, then kicks each vCPU out of KVM_RUN
 * (immediate_exit + SIGUSR2, see vcpu_kick()). A vCPU thread checks the flag
 * before every KVM_RUN (vcpu_pause_point()) and parks on a condition
 * variable, counting itself in pause.parked; vm_pause() sleeps on the same
 * condition variable until every active vCPU thread is parked. The guest
 * state stays where KVM keeps it (registers, LAPIC, a pending PIO/MMIO
 * completion in kvm_run), untouched, so the next KVM_RUN after resume goes
 * on exactly where the guest was.
 *
 * A kick that lands between the flag check and KVM_RUN is not lost:
 * immediate_exit makes that KVM_RUN return EINTR at once, and the loop checks
 * the flag again. vm_request_stop() calls vm_pause_wake(), so parked threads
 * see the stop and leave: stop works from paused.
 */
#include <errno.h>
#include <string.h>

#include "mvm/device.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "pause.h"

void vm_pause_init(struct vm *vm)
{
	pthread_mutex_init(&vm->pause.lock, NULL);
	pthread_mutex_init(&vm->pause.op_lock, NULL);
	pthread_cond_init(&vm->pause.cond, NULL);
	atomic_init(&vm->pause.requested, false);
}

void vm_pause_fini(struct vm *vm)
{
	pthread_cond_destroy(&vm->pause.cond);
	pthread_mutex_destroy(&vm->pause.op_lock);
	pthread_mutex_destroy(&vm->pause.lock);
}

void vm_pause_set_running(struct vm *vm, bool running)
{
	pthread_mutex_lock(&vm->pause.lock);
	vm->vcpus_running = running;
	if (!running) {
		/* Joined: a VM that ends while paused is not paused any more. */
		vm->pause.paused = false;
		atomic_store(&vm->pause.requested, false);
		vm->pause.run_ended = true;
	}
	pthread_cond_broadcast(&vm->pause.cond); /* vm_wait_running() */
	pthread_mutex_unlock(&vm->pause.lock);
}

bool vm_wait_running(struct vm *vm)
{
	bool running;

	pthread_mutex_lock(&vm->pause.lock);
	while (!vm->vcpus_running && !vm->pause.run_ended)
		pthread_cond_wait(&vm->pause.cond, &vm->pause.lock);
	running = vm->vcpus_running;
	pthread_mutex_unlock(&vm->pause.lock);
	return running;
}

void vm_pause_wake(struct vm *vm)
{
	pthread_mutex_lock(&vm->pause.lock);
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}

void vcpu_pause_enter(struct vcpu *vcpu, bool entering)
{
	struct vm *vm = vcpu->vm;

	pthread_mutex_lock(&vm->pause.lock);
	if (entering)
		vm->pause.active++;
	else
		vm->pause.active--;
	/* A pauser waiting for "all parked" must recount. */
	pthread_cond_broadcast(&vm->pause.cond);
	pthread_mutex_unlock(&vm->pause.lock);
}

void vcpu_pause_point(struct vcpu *vcpu)
{
	struct vm *vm = vcpu->vm;

	if (!atomic_load(&vm->pause.requested))
		return;
	pthread_mutex_lock(&vm->pause.lock);
	vm->pause.parked++;
	pthread_cond_broadcast(&vm->pause.cond);
	while (atomic_load(&vm->pause.requested) && vm_stop_reason(vm) == VM_RUNNING)
		pthread_cond_wait(&vm->pause.cond, &vm->pause.lock);
	vm->pause.parked--;
	pthread_mutex_unlock(&vm->pause.lock);
}

int vm_pause(struct vm *vm)
{
	unsigned int i, n;
	int err = 0;

	pthread_mutex_lock(&vm->pause.op_lock);
	pthread_mutex_lock(&vm->pause.lock);
	if (!vm->vcpus_running || vm_stop_reason(vm) != VM_RUNNING) {
		err = -EINVAL;
		goto out;
	}
	if (vm->pause.paused) {
		err = -EALREADY;
		goto out;
	}
	atomic_store(&vm->pause.requested, true);
	pthread_mutex_unlock(&vm->pause.lock);

	n = vm_online_vcpus(vm);
	for (i = 0; i < n; i++)
		vcpu_kick(vm_vcpu(vm, i));

	pthread_mutex_lock(&vm->pause.lock);
	while (vm->pause.parked < vm->pause.active && vm_stop_reason(vm) == VM_RUNNING)
		pthread_cond_wait(&vm->pause.cond, &vm->pause.lock);
	if (vm_stop_reason(vm) != VM_RUNNING) {
		/* Stopping meanwhile: the vCPUs are leaving, there is nothing to pause. */
		atomic_store(&vm->pause.requested, false);
		err = -EINVAL;
		goto out;
	}
	vm->pause.paused = true;
	pr_info("VM %s paused (%u vCPU threads parked)", vm->name, vm->pause.parked);
out:
	pthread_mutex_unlock(&vm->pause.lock);
	pthread_mutex_unlock(&vm->pause.op_lock);
	return err;
}

int vm_resume(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->pause.op_lock);
	pthread_mutex_lock(&vm->pause.lock);
	if (!vm->vcpus_running || vm_stop_reason(vm) != VM_RUNNING)
		err = -EINVAL;
	else if (!vm->pause.paused)
		err = -EALREADY;
	else {
		vm->pause.paused = false;
		atomic_store(&vm->pause.requested, false);
		pthread_cond_broadcast(&vm->pause.cond);
		pr_info("VM %s resumed", vm->name);
	}
	pthread_mutex_unlock(&vm->pause.lock);
	pthread_mutex_unlock(&vm->pause.op_lock);
	return err;
}

int vm_pause_before_run(struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vm->pause.op_lock);
	pthread_mutex_lock(&vm->pause.lock);
	if (vm->vcpus_running)
		err = -EINVAL;
	else {
		/* The vCPU threads park at their first pause point, before any KVM_RUN. */
		atomic_store(&vm->pause.requested, true);
		vm->pause.paused = true;
	}
	pthread_mutex_unlock(&vm->pause.lock);
	pthread_mutex_unlock(&vm->pause.op_lock);
	return err;
}

bool vm_is_paused(struct vm *vm)
{
	bool paused;

	pthread_mutex_lock(&vm->pause.lock);
	paused = vm->pause.paused;
	pthread_mutex_unlock(&vm->pause.lock);
	return paused;
}

int vm_send_ctrl_alt_del(struct vm *vm)
{
	struct mvm_device *dev, *found = NULL;
	int err;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (dev->ops->ctrl_alt_del) {
			found = dev;
			mvm_device_get(found);
			break;
		}
	pthread_mutex_unlock(&vm->lock);
	if (!found)
		return -ENODEV;
	err = found->ops->ctrl_alt_del(found);
	mvm_device_put(found);
	return err;
}
