// SPDX-License-Identifier: MIT
/*
 * virtio-mem (virtio 1.2 §5.15): a hot-pluggable region above RAM that the
 * guest plugs and unplugs in blocks, as far as the host's requested size
 * allows. The whole region is one memfd mapped as one KVM slot when the VM
 * is built, before the irqchip (reserve_memory): plugging after boot adds no
 * memory slot, so no SRCU grace period lands on the vCPUs. Plugged memory is
 * allocated by the host as the guest touches it; unplugged blocks are
 * punched out of the memfd. The region is not in the firmware's memory map:
 * the guest learns of it from the device's config space.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem_req.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "mvm/vmem.h"

#define VMEM_OWNER	 "virtio-mem"
#define VMEM_QUEUE_SIZE	 128
#define VMEM_CONFIG_SIZE 56

/* PUT /hotplug/memory (Firecracker's fields), --memory-hotplug. */
struct vmem_config {
	uint64_t total_size_mib;
	uint64_t block_size_mib;
	uint64_t slot_size_mib;
	uint64_t requested_size_mib;
};

struct virtio_mem {
	struct virtio_dev vdev; /* first */
	const struct mem_file *file;
	struct virtq_chain *chain;
	struct vmem_blocks blocks; /* under vdev.lock */
	mvm_counter_t plug_requests, unplug_requests, unplug_all_requests, state_requests;
	mvm_counter_t nacks, errors, bad_requests, discard_fails;
	mvm_counter_t plugged_bytes, requested_bytes;
};

static const struct mvm_counter_desc vmem_counters[] = {
	{ "reads", offsetof(struct virtio_mem, vdev.dev.reads) },
	{ "writes", offsetof(struct virtio_mem, vdev.dev.writes) },
	{ "plug_requests", offsetof(struct virtio_mem, plug_requests) },
	{ "unplug_requests", offsetof(struct virtio_mem, unplug_requests) },
	{ "unplug_all_requests", offsetof(struct virtio_mem, unplug_all_requests) },
	{ "state_requests", offsetof(struct virtio_mem, state_requests) },
	{ "nacks", offsetof(struct virtio_mem, nacks) },
	{ "errors", offsetof(struct virtio_mem, errors) },
	{ "bad_requests", offsetof(struct virtio_mem, bad_requests) },
	{ "discard_fails", offsetof(struct virtio_mem, discard_fails) },
	{ "plugged_bytes", offsetof(struct virtio_mem, plugged_bytes) },
	{ "requested_bytes", offsetof(struct virtio_mem, requested_bytes) },
};

static struct virtio_mem *to_vmem(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_mem, vdev);
}

/* The config space (§5.15.4), little-endian. */
static void vmem_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len)
{
	const struct vmem_blocks *b = &to_vmem(vdev)->blocks;
	uint64_t img[VMEM_CONFIG_SIZE / 8] = {
		htole64(b->block_size), 0 /* node_id, padding */,
		htole64(b->addr),	htole64(to_vmem(vdev)->file->size),
		htole64(b->usable),	htole64(b->plugged),
		htole64(b->requested),
	};

	memcpy(data, (uint8_t *)img + off, len);
}

static uint32_t vmem_handle(struct virtio_mem *m)
{
	static const size_t kinds[] = {
		offsetof(struct virtio_mem, plug_requests),
		offsetof(struct virtio_mem, unplug_requests),
		offsetof(struct virtio_mem, unplug_all_requests),
		offsetof(struct virtio_mem, state_requests),
	};
	const struct virtq_chain *c = m->chain;
	struct vmem_result res;
	struct vmem_req r;

	if (vmem_req_parse(c->iov, c->out_num, c->in_num, &r)) {
		counter_inc(&m->bad_requests);
		return 0;
	}
	if (r.type < ARRAY_SIZE(kinds))
		counter_inc((mvm_counter_t *)((uint8_t *)m + kinds[r.type]));
	vmem_req_exec(&m->blocks, &r, &res);
	if (res.resp == VIRTIO_MEM_RESP_NACK)
		counter_inc(&m->nacks);
	else if (res.resp == VIRTIO_MEM_RESP_ERROR)
		counter_inc(&m->errors);
	/* Unplugged memory goes back to the host; the guest reads zeroes there. */
	if (res.discard_len && fallocate(m->file->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					 (off_t)res.discard_off, (off_t)res.discard_len)) {
		counter_inc(&m->discard_fails);
		pr_warn("%s: giving unplugged memory back: %s", m->vdev.dev.name, strerror(errno));
	}
	atomic_store_explicit(&m->plugged_bytes, m->blocks.plugged, memory_order_relaxed);
	return vmem_resp_write(c->iov, c->out_num, c->in_num, &res);
}

static void vmem_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_mem *m = to_vmem(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	unsigned int budget = vq->size;
	int r;

	while (budget-- && (r = virtq_pop(vq, m->chain)) != 0) {
		if (r < 0) {
			counter_inc(&m->bad_requests);
			virtio_dev_needs_reset(vdev);
			if (vq->broken)
				break;
			if (m->chain->head < vq->size)
				virtq_push(vq, m->chain->head, 0);
			continue;
		}
		virtq_push(vq, m->chain->head, vmem_handle(m));
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq);
	virtq_notify(vq);
}

/* A reset driver starts with nothing plugged (§5.15.5): everything goes back. */
static void vmem_reset(struct virtio_dev *vdev)
{
	struct virtio_mem *m = to_vmem(vdev);
	struct vmem_req r = { .type = VIRTIO_MEM_REQ_UNPLUG_ALL };
	struct vmem_result res;

	vmem_req_exec(&m->blocks, &r, &res);
	if (fallocate(m->file->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
		      (off_t)res.discard_len))
		counter_inc(&m->discard_fails);
	atomic_store_explicit(&m->plugged_bytes, 0, memory_order_relaxed);
}

struct vmem_args {
	const struct mem_file *file;
	const struct vmem_config *cfg;
};

static int vmem_init(struct virtio_dev *vdev, const void *args)
{
	const struct vmem_args *a = args;
	struct virtio_mem *m = to_vmem(vdev);
	uint64_t nblocks;

	m->file = a->file;
	/* The firmware tables say the region is hot-pluggable RAM (x86: the SRAT). */
	vdev->dev.fw.hotplug_mem.base = a->file->gpa;
	vdev->dev.fw.hotplug_mem.len = a->file->size;
	m->blocks.addr = a->file->gpa;
	m->blocks.block_size = a->cfg->block_size_mib << 20;
	m->blocks.usable = a->file->size;
	m->blocks.requested = a->cfg->requested_size_mib << 20;
	stats_node_init(&vdev->dev.stats, vdev->dev.stats.id, vmem_counters,
			ARRAY_SIZE(vmem_counters), m);
	atomic_store_explicit(&m->requested_bytes, m->blocks.requested, memory_order_relaxed);
	nblocks = m->blocks.usable / m->blocks.block_size;
	m->blocks.bits = mvm_calloc((nblocks + 63) / 64, sizeof(uint64_t));
	if (!m->blocks.bits)
		return -ENOMEM;
	m->chain = mvm_zalloc(sizeof(*m->chain));
	if (!m->chain) {
		free(m->blocks.bits);
		return -ENOMEM;
	}
	return 0;
}

static void vmem_release(struct virtio_dev *vdev)
{
	struct virtio_mem *m = to_vmem(vdev);

	free(m->chain);
	free(m->blocks.bits);
}

static const struct virtio_dev_ops vmem_ops = {
	.type = "virtio-mem",
	.device_id = VIRTIO_ID_MEM,
	.num_queues = 1,
	.queue_max_size = VMEM_QUEUE_SIZE,
	.init = vmem_init,
	.release = vmem_release,
	.config_size = VMEM_CONFIG_SIZE,
	.config_read = vmem_config_read,
	.queue_notify = vmem_queue_notify,
	.reset = vmem_reset,
};

/* The whole region, mapped before the irqchip (see the top). */
static int vmem_reserve_memory(struct vm *vm, const void *blob, unsigned int index)
{
	const struct vmem_config *c = blob;
	const struct mem_file *f;
	int fd, err;

	(void)index;
	fd = mvm_memfd_create("mvm-hotplug", 0);
	if (fd < 0) {
		err = -errno;
		pr_err("virtio-mem: memfd_create: %s", strerror(-err));
		return err;
	}
	if (mvm_ftruncate(fd, (off_t)(c->total_size_mib << 20)) < 0) {
		err = -errno;
		pr_err("virtio-mem: sizing %llu MiB: %s", (unsigned long long)c->total_size_mib,
		       strerror(-err));
		close(fd);
		return err;
	}
	f = vm_memory_map_file(&vm->mem, vm->vm_fd, fd, c->total_size_mib << 20, false, false,
			       VMEM_OWNER);
	return IS_ERR(f) ? (int)PTR_ERR(f) : 0;
}

static int vmem_create(struct vm *vm, const void *blob, unsigned int index)
{
	struct vmem_args args = { vm_memory_file(&vm->mem, VMEM_OWNER), blob };
	struct virtio_mem *m;

	(void)index;
	if (!args.file) {
		pr_err("virtio-mem: its region was not mapped");
		return -EINVAL;
	}
	m = virtio_dev_create(struct virtio_mem, vdev, vm, &vmem_ops, "virtio-mem", &args);
	return IS_ERR(m) ? (int)PTR_ERR(m) : 0;
}

/* The sizes fit together: blocks inside slots inside the region. */
static int vmem_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		      size_t len)
{
	const struct vmem_config *c = blob;

	(void)cfg;
	(void)self;
	if (c->block_size_mib & (c->block_size_mib - 1))
		snprintf(msg, len, "block_size_mib %llu is not a power of two",
			 (unsigned long long)c->block_size_mib);
	else if (c->slot_size_mib % c->block_size_mib || c->total_size_mib % c->slot_size_mib)
		snprintf(msg, len,
			 "total_size_mib (%llu) must be a multiple of slot_size_mib (%llu), and "
			 "that of block_size_mib (%llu)",
			 (unsigned long long)c->total_size_mib,
			 (unsigned long long)c->slot_size_mib,
			 (unsigned long long)c->block_size_mib);
	else if (c->requested_size_mib > c->total_size_mib ||
		 c->requested_size_mib % c->block_size_mib)
		snprintf(msg, len,
			 "requested_size_mib %llu: at most total_size_mib, in whole blocks of %llu",
			 (unsigned long long)c->requested_size_mib,
			 (unsigned long long)c->block_size_mib);
	else
		return 0;
	return -EINVAL;
}

static struct virtio_mem *vmem_get(struct vm *vm)
{
	struct virtio_mem *m = NULL;
	struct mvm_device *dev;

	if (!vm)
		return NULL;
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (dev->type == vmem_ops.type) {
			mvm_device_get(dev);
			m = to_vmem(to_virtio_dev(dev));
			break;
		}
	pthread_mutex_unlock(&vm->lock);
	return m;
}

int vmem_status(struct vm *vm, uint64_t *plugged, uint64_t *requested)
{
	struct virtio_mem *m = vmem_get(vm);

	if (!m)
		return -ENODEV;
	pthread_mutex_lock(&m->vdev.lock);
	*plugged = m->blocks.plugged;
	*requested = m->blocks.requested;
	pthread_mutex_unlock(&m->vdev.lock);
	mvm_device_put(&m->vdev.dev);
	return 0;
}

/* PATCH requested_size_mib: the guest plugs or unplugs towards it. */
static int vmem_update(struct vm *vm, const char *id, const void *blob, char *msg, size_t len)
{
	const struct vmem_config *c = blob;
	struct virtio_mem *m;
	int err;

	(void)id;
	err = vmem_check(NULL, blob, -1, msg, len);
	if (err)
		return err;
	m = vmem_get(vm);
	if (!m) {
		snprintf(msg, len, "the VM has no virtio-mem device");
		return -ENODEV;
	}
	pthread_mutex_lock(&m->vdev.lock);
	m->blocks.requested = c->requested_size_mib << 20;
	atomic_store_explicit(&m->requested_bytes, m->blocks.requested, memory_order_relaxed);
	pthread_mutex_unlock(&m->vdev.lock);
	if (__atomic_load_n(&m->vdev.status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK)
		virtio_dev_config_changed(&m->vdev);
	mvm_device_put(&m->vdev.dev);
	return 0;
}

#define VMEM_OPT(field) offsetof(struct vmem_config, field)
static const struct mvm_opt vmem_opts[] = {
	{ MVM_OPT("total_size_mib", NULL, MVM_OPT_UINT, MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED,
		  VMEM_OPT(total_size_mib)),
	  .min = 128, .max = 1ULL << 20, .help = "size of the hot-pluggable region in MiB" },
	{ MVM_OPT("block_size_mib", NULL, MVM_OPT_UINT, 0, VMEM_OPT(block_size_mib)), .min = 2,
	  .max = 1024, .def = "2", .help = "the guest plugs and unplugs in blocks of this size" },
	{ MVM_OPT("slot_size_mib", NULL, MVM_OPT_UINT, 0, VMEM_OPT(slot_size_mib)), .min = 128,
	  .max = 1ULL << 20, .def = "128",
	  .help = "granularity of the region (mvm maps it whole, as one memory slot)" },
	{ MVM_OPT("requested_size_mib", NULL, MVM_OPT_UINT, MVM_OPT_PATCH,
		  VMEM_OPT(requested_size_mib)),
	  .max = 1ULL << 20, .help = "how much the guest should have plugged" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_mem_type = {
	.name = "virtio-mem",
	.summary = "virtio-mem: hot-pluggable memory above RAM",
	.order = MVM_ORDER_VIRTIO + 5,
	.cli = "memory-hotplug",
	.cli_arg = "MIB",
	.api = "memory-hotplug",
	.api_noun = "memory hot-plug device",
	.singleton = true,
	.max = 1,
	.config_size = sizeof(struct vmem_config),
	.opts = vmem_opts,
	.check = vmem_check,
	.reserve_memory = vmem_reserve_memory,
	.create = vmem_create,
	.update = vmem_update,
};
MVM_DEVICE_TYPE(virtio_mem_type);
