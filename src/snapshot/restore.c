// SPDX-License-Identifier: MIT
/*
 * Restoring a snapshot: the state file is read and checked whole (format,
 * CPU) before anything is built; then the VM is created from the stored
 * configuration with RAM from the memory backend, and the VM's, each
 * vCPU's and each device's state put back. Any failure destroys what was
 * built: the caller gets an error and nothing else.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/arch.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/snapshot.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct mvm_snapshot {
	struct snap_file f;
	char *config; /* NUL-terminated copy of the config section */
	uint64_t mem_size, page_size;
	unsigned int nr_layout;
	struct mem_layout layout[MVM_MAX_MEM_REGIONS];
	unsigned int nr_vcpus;
};

static int read_layout(struct mvm_snapshot *s, char *err, size_t errlen)
{
	const struct snap_section *sec = snap_find(&s->f, SNAP_TAG_MEMORY, 0);
	struct snap_cur c;
	unsigned int i;

	if (!sec) {
		snprintf(err, errlen, "the snapshot has no memory section");
		return -EBADMSG;
	}
	snap_cur_init(&c, sec->data, sec->len);
	s->mem_size = snap_get_u64(&c);
	s->page_size = snap_get_u64(&c);
	s->nr_layout = snap_get_u32(&c);
	if (!c.err && (s->nr_layout == 0 || s->nr_layout > MVM_MAX_MEM_REGIONS))
		c.err = -EBADMSG;
	for (i = 0; i < s->nr_layout && !c.err; i++) {
		s->layout[i].gpa = snap_get_u64(&c);
		s->layout[i].size = snap_get_u64(&c);
		s->layout[i].offset = snap_get_u64(&c);
	}
	if (snap_cur_end(&c) || !s->mem_size || s->mem_size % 4096) {
		snprintf(err, errlen, "the snapshot's memory section is malformed");
		return -EBADMSG;
	}
	if (s->page_size != 4096) {
		snprintf(err, errlen,
			 "the snapshot's RAM was in %llu KiB pages: restoring huge "
			 "pages is not supported",
			 (unsigned long long)(s->page_size >> 10));
		return -EOPNOTSUPP;
	}
	return 0;
}

int mvm_snapshot_open(const char *state_path, struct mvm_snapshot **out, char *err, size_t errlen)
{
	const struct snap_section *cfg;
	struct mvm_snapshot *s;
	char vendor[16];
	uint64_t features;
	int r;

	*out = NULL;
	s = mvm_zalloc(sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r = snap_load(&s->f, state_path, err, errlen);
	if (r)
		goto err_free;
	arch_host_cpu(vendor, &features);
	r = snap_check_cpu(&s->f.hdr, vendor, features, err, errlen);
	if (r)
		goto err_file;
	cfg = snap_find(&s->f, SNAP_TAG_CONFIG, 0);
	if (!cfg || memchr(cfg->data, 0, cfg->len)) {
		snprintf(err, errlen, "the snapshot's configuration section is %s",
			 cfg ? "malformed" : "missing");
		r = -EBADMSG;
		goto err_file;
	}
	s->config = mvm_zalloc(cfg->len + 1);
	if (!s->config) {
		snprintf(err, errlen, "out of memory");
		r = -ENOMEM;
		goto err_file;
	}
	memcpy(s->config, cfg->data, cfg->len);
	r = read_layout(s, err, errlen);
	if (r)
		goto err_config;
	while (snap_find(&s->f, SNAP_TAG_VCPU, s->nr_vcpus))
		s->nr_vcpus++;
	if (!s->nr_vcpus || s->nr_vcpus > MVM_MAX_VCPUS || !snap_find(&s->f, SNAP_TAG_VM_ARCH, 0)) {
		snprintf(err, errlen, "the snapshot's VM or vCPU state is missing");
		r = -EBADMSG;
		goto err_config;
	}
	*out = s;
	return 0;

err_config:
	free(s->config);
err_file:
	snap_file_free(&s->f);
err_free:
	free(s);
	return r;
}

void mvm_snapshot_close(struct mvm_snapshot *s)
{
	if (!s)
		return;
	free(s->config);
	snap_file_free(&s->f);
	free(s);
}

const char *mvm_snapshot_config(const struct mvm_snapshot *s)
{
	return s->config;
}

uint64_t mvm_snapshot_mem_size(const struct mvm_snapshot *s)
{
	return s->mem_size;
}

unsigned int mvm_snapshot_vcpus(const struct mvm_snapshot *s)
{
	return s->nr_vcpus;
}

static int restore_vcpus(struct vm *vm, const struct mvm_snapshot *s, char *err, size_t errlen)
{
	const struct snap_section *sec;
	unsigned int i;
	int r;

	for (i = 0; (sec = snap_find(&s->f, SNAP_TAG_VCPU, i)); i++) {
		struct snap_cur c;
		struct vcpu *vcpu;

		r = vcpu_create(vm, sec->instance);
		if (r) {
			snprintf(err, errlen, "creating vCPU %u: %s", sec->instance, strerror(-r));
			return r;
		}
		vcpu = vm_vcpu_by_id(vm, sec->instance);
		snap_cur_init(&c, sec->data, sec->len);
		r = arch_vcpu_restore(vcpu, &c);
		if (r) {
			snprintf(err, errlen, "restoring vCPU %u: %s", sec->instance, strerror(-r));
			return r;
		}
	}
	return 0;
}

/* Each device of the new VM takes the state saved under its name; none may be left over. */
static int restore_devices(struct vm *vm, const struct mvm_snapshot *s, char *err, size_t errlen)
{
	const struct snap_section *sec;
	unsigned int i, nr_sections = 0, nr_devices = 0;
	struct mvm_device *dev;
	int r = 0;

	while (snap_find(&s->f, SNAP_TAG_DEVICE, nr_sections))
		nr_sections++;
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		char name[MVM_DEVICE_NAME_SIZE], type[64];
		struct snap_cur c, own;
		const void *blob;
		size_t len = 0;

		nr_devices++;
		for (i = 0; (sec = snap_find(&s->f, SNAP_TAG_DEVICE, i)); i++) {
			snap_cur_init(&c, sec->data, sec->len);
			if (!snap_get_str(&c, name, sizeof(name)) && !strcmp(name, dev->name))
				break;
		}
		if (sec) {
			snap_get_str(&c, type, sizeof(type));
			len = snap_get_blob(&c, &blob);
		}
		if (!sec || snap_cur_end(&c)) {
			snprintf(err, errlen, "device %s: %s", dev->name,
				 sec ? "its saved state is malformed"
				     : "not in the snapshot (a different configuration?)");
			r = -EINVAL;
			break;
		}
		if (strcmp(type, dev->ops->type)) {
			snprintf(err, errlen, "device %s is a %s, the snapshot's is a %s",
				 dev->name, dev->ops->type, type);
			r = -EINVAL;
			break;
		}
		if (!dev->ops->restore) {
			snprintf(err, errlen, "device %s (%s) cannot restore its state", dev->name,
				 dev->ops->type);
			r = -EOPNOTSUPP;
			break;
		}
		snap_cur_init(&own, blob, len);
		r = dev->ops->restore(dev, &own);
		if (r) {
			snprintf(err, errlen, "device %s: restoring its state: %s", dev->name,
				 strerror(-r));
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	if (!r && nr_devices != nr_sections) {
		snprintf(err, errlen, "the snapshot holds %u devices, the configuration makes %u",
			 nr_sections, nr_devices);
		r = -EINVAL;
	}
	return r;
}

struct vm *vm_restore(const struct mvm_config *cfg, const struct mvm_snapshot *s,
		      const struct mem_backend *backend, char *err, size_t errlen)
{
	const struct snap_section *sec;
	struct snap_cur c;
	struct vm *vm;
	int r;

	if (cfg->mem_size != s->mem_size || cfg->cpus != s->nr_vcpus) {
		snprintf(err, errlen,
			 "the configuration (%u vCPUs, %llu MiB) is not the snapshot's "
			 "(%u vCPUs, %llu MiB)",
			 cfg->cpus, (unsigned long long)(cfg->mem_size >> 20), s->nr_vcpus,
			 (unsigned long long)(s->mem_size >> 20));
		return ERR_PTR(-EINVAL);
	}
	vm = vm_create_from_memory(cfg, s->layout, s->nr_layout, backend);
	if (IS_ERR(vm)) {
		r = (int)PTR_ERR(vm);
		snprintf(err, errlen, "building the VM: %s",
			 r == -EOPNOTSUPP ? "the memory backend is not supported yet"
					  : strerror(-r));
		return vm;
	}
	sec = snap_find(&s->f, SNAP_TAG_VM_ARCH, 0);
	snap_cur_init(&c, sec->data, sec->len);
	r = arch_vm_restore(vm, &c);
	if (r) {
		snprintf(err, errlen, "restoring the VM's state: %s", strerror(-r));
		goto err;
	}
	r = restore_vcpus(vm, s, err, errlen);
	if (!r)
		r = restore_devices(vm, s, err, errlen);
	if (r)
		goto err;
	return vm;
err:
	vm_destroy(vm);
	return ERR_PTR(r);
}
