/* SPDX-License-Identifier: MIT */
/* Core-internal side of pause/resume (the public side is in mvm/control.h). */
#ifndef MVM_CORE_PAUSE_H
#define MVM_CORE_PAUSE_H

struct vm;
struct vcpu;

void vm_pause_init(struct vm *vm);
void vm_pause_fini(struct vm *vm);
/* vm_run(): the vCPU threads are started (true) or joined (false). */
void vm_pause_set_running(struct vm *vm, bool running);
/* A stop was requested: parked vCPUs wake up and leave. */
void vm_pause_wake(struct vm *vm);
/* vCPU thread: entering (true) or leaving (false) its run loop. */
void vcpu_pause_enter(struct vcpu *vcpu, bool entering);
/* vCPU thread, before each KVM_RUN: parks while a pause is requested. */
void vcpu_pause_point(struct vcpu *vcpu);

#endif
