// SPDX-License-Identifier: MIT
/*
 * Taking a snapshot of a paused VM: every state is gathered in memory
 * first (a device that cannot save fails it here, before any file is
 * touched), then RAM goes to the memory file and the state file is
 * written last, atomically: a failed snapshot leaves no state file.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mvm/arch.h"
#include "mvm/device.h"
#include "mvm/fault.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/snap_mem.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

/* RAM's size, page size and layout; offsets are into the memory file. */
static void save_memory_layout(struct vm *vm, struct snap_buf *b)
{
	unsigned int i;

	snap_put_u64(b, vm->mem.size);
	snap_put_u64(b, mem_page_size(&vm->mem));
	snap_put_u32(b, vm->mem.nr_regions);
	for (i = 0; i < vm->mem.nr_regions; i++) {
		snap_put_u64(b, vm->mem.regions[i].gpa);
		snap_put_u64(b, vm->mem.regions[i].size);
		snap_put_u64(b, (uint64_t)(vm->mem.regions[i].hva - vm->mem.base));
	}
}

static int save_vcpus(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	unsigned int i, n = vm_online_vcpus(vm);
	struct snap_buf b;
	int r = 0;

	for (i = 0; i < n && !r; i++) {
		struct vcpu *vcpu = vm_vcpu(vm, i);

		snap_buf_init(&b);
		r = arch_vcpu_save(vcpu, &b);
		if (!r)
			r = b.err;
		if (r)
			snprintf(err, errlen, "saving vCPU %u: %s", vcpu->id, strerror(-r));
		else
			snap_writer_add(w, SNAP_TAG_VCPU, vcpu->id, b.data, b.len);
		snap_buf_free(&b);
	}
	return r;
}

static int save_devices(struct vm *vm, struct snap_writer *w, char *err, size_t errlen)
{
	struct mvm_device *dev;
	struct snap_buf b, own;
	int r = 0;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		if (!dev->ops->save) {
			snprintf(err, errlen, "device %s (%s) cannot save its state", dev->name,
				 dev->type ?: dev->ops->type);
			r = -EOPNOTSUPP;
			break;
		}
		snap_buf_init(&own);
		r = dev->ops->save(dev, &own);
		if (!r)
			r = own.err;
		if (r) {
			snprintf(err, errlen, "device %s (%s) could not save its state: %s",
				 dev->name, dev->type ?: dev->ops->type,
				 r == -EOPNOTSUPP ? "not supported" : strerror(-r));
			snap_buf_free(&own);
			break;
		}
		snap_buf_init(&b);
		snap_put_str(&b, dev->name);
		snap_put_str(&b, dev->ops->type);
		snap_put_blob(&b, own.data, own.len);
		r = b.err;
		if (r)
			snprintf(err, errlen, "device %s: %s", dev->name, strerror(-r));
		else
			snap_writer_add(w, SNAP_TAG_DEVICE, 0, b.data, b.len);
		snap_buf_free(&b);
		snap_buf_free(&own);
		if (r)
			break;
	}
	pthread_mutex_unlock(&vm->lock);
	return r;
}

int vm_snapshot_create(struct vm *vm, const char *config_json, enum mvm_snapshot_type type,
		       const char *state_path, const char *mem_path, char *err, size_t errlen)
{
	struct snap_writer w;
	struct snap_buf b;
	char vendor[16];
	uint64_t features;
	int r;

	FAULT_SITE(state_site, "snapshot state write");

	if (!vm_is_paused(vm)) {
		snprintf(err, errlen, "the VM must be paused");
		return -EBUSY;
	}
	if (type == MVM_SNAPSHOT_DIFF && !vm->mem.log_dirty) {
		snprintf(err, errlen,
			 "Diff snapshots need dirty page tracking "
			 "(track_dirty_pages in the machine configuration)");
		return -EINVAL;
	}
	/* The devices at rest too: their back ends run on the event loop. */
	loop_hold(&vm->loop);
	arch_host_cpu(vendor, &features);
	snap_writer_init(&w, vendor, features, type == MVM_SNAPSHOT_DIFF ? SNAP_F_DIFF : 0);
	snap_writer_add(&w, SNAP_TAG_CONFIG, 0, config_json, strlen(config_json));
	snap_buf_init(&b);
	save_memory_layout(vm, &b);
	r = b.err;
	snap_writer_add(&w, SNAP_TAG_MEMORY, 0, b.data, b.len);
	snap_buf_free(&b);
	if (r) {
		snprintf(err, errlen, "snapshot state: %s", strerror(-r));
		goto out;
	}

	snap_buf_init(&b);
	r = arch_vm_save(vm, &b);
	if (!r)
		r = b.err;
	if (r)
		snprintf(err, errlen, "saving the VM's state: %s", strerror(-r));
	else
		snap_writer_add(&w, SNAP_TAG_VM_ARCH, 0, b.data, b.len);
	snap_buf_free(&b);
	if (!r)
		r = save_vcpus(vm, &w, err, errlen);
	if (!r)
		r = save_devices(vm, &w, err, errlen);
	if (!r && w.out.err) {
		r = w.out.err;
		snprintf(err, errlen, "snapshot state: %s", strerror(-r));
	}
	if (r)
		goto out;
	r = snap_mem_write(&vm->mem, vm->vm_fd, type == MVM_SNAPSHOT_DIFF, mem_path, err, errlen);
	if (r)
		goto out;
	if (fault_should_fail(&state_site))
		r = -EIO;
	else
		r = snap_writer_save(&w, state_path);
	if (r)
		snprintf(err, errlen, "writing the snapshot state file '%s': %s", state_path,
			 strerror(-r));
out:
	snap_writer_free(&w);
	loop_release(&vm->loop);
	return r;
}
