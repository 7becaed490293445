// SPDX-License-Identifier: MIT
/*
 * virtio-pmem (virtio 1.2 §5.19): a host file mapped into guest-physical
 * memory above RAM, which the guest uses as persistent memory (with DAX: no
 * page cache of its own). The config space gives the region's address and
 * size; the one queue carries flush requests, answered after fsync() of the
 * file. A read-only device maps the file privately and read-only to the
 * guest: the file never changes.
 *
 * The mapping is made before the irqchip (reserve_memory, see vm_create():
 * a memory slot added later waits for an SRCU grace period); the device made
 * afterwards finds it by its owner name and never maps anything itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "pmem_req.h"

#define PMEM_PATH_MAX	4095
#define PMEM_ID_MAX	64
#define PMEM_QUEUE_SIZE 64

/* --pmem / PUT /pmem/{id}: Firecracker's fields. */
struct pmem_config {
	char id[PMEM_ID_MAX + 1];
	char path[PMEM_PATH_MAX + 1];
	bool root;
	bool read_only;
};

struct virtio_pmem {
	struct virtio_dev vdev; /* first */
	const struct mem_file *file;
	struct virtq_chain *chain;
	mvm_counter_t flushes, flush_fails, bad_requests;
};

static const struct mvm_counter_desc pmem_counters[] = {
	{ "reads", offsetof(struct virtio_pmem, vdev.dev.reads) },
	{ "writes", offsetof(struct virtio_pmem, vdev.dev.writes) },
	{ "flushes", offsetof(struct virtio_pmem, flushes) },
	{ "flush_fails", offsetof(struct virtio_pmem, flush_fails) },
	{ "bad_requests", offsetof(struct virtio_pmem, bad_requests) },
};

static struct virtio_pmem *to_pmem(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_pmem, vdev);
}

/* The config space: le64 start, le64 size. */
static void pmem_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len)
{
	const struct mem_file *f = to_pmem(vdev)->file;
	uint64_t img[2] = { htole64(f->gpa), htole64(f->size) };

	memcpy(data, (uint8_t *)img + off, len);
}

static uint32_t pmem_handle(struct virtio_pmem *p)
{
	const struct virtq_chain *c = p->chain;
	uint32_t type, ret = VIRTIO_PMEM_RESP_OK;

	if (pmem_req_parse(c->iov, c->out_num, c->in_num, &type)) {
		counter_inc(&p->bad_requests);
		return 0;
	}
	if (type != VIRTIO_PMEM_REQ_TYPE_FLUSH) {
		counter_inc(&p->bad_requests);
		ret = VIRTIO_PMEM_RESP_EIO;
	} else if (p->file->read_only) {
		counter_inc(&p->flushes); /* nothing the guest wrote reaches the file */
	} else if (fsync(p->file->fd)) {
		counter_inc(&p->flush_fails);
		pr_warn("%s: fsync: %s", p->vdev.dev.name, strerror(errno));
		ret = VIRTIO_PMEM_RESP_EIO;
	} else {
		counter_inc(&p->flushes);
	}
	return pmem_req_answer(c->iov, c->out_num, c->in_num, ret);
}

static void pmem_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_pmem *p = to_pmem(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	unsigned int budget = vq->size;
	int r;

	/* fsync runs on the event loop: the vCPUs never wait for the disk. */
	while (budget-- && (r = virtq_pop(vq, p->chain)) != 0) {
		if (r < 0) {
			counter_inc(&p->bad_requests);
			virtio_dev_needs_reset(vdev);
			if (vq->broken)
				break;
			if (p->chain->head < vq->size)
				virtq_push(vq, p->chain->head, 0);
			continue;
		}
		virtq_push(vq, p->chain->head, pmem_handle(p));
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq);
	virtq_notify(vq);
}

struct pmem_args {
	const struct mem_file *file;
	const struct pmem_config *cfg;
	unsigned int index;
};

static int pmem_init(struct virtio_dev *vdev, const void *args)
{
	const struct pmem_args *a = args;
	struct virtio_pmem *p = to_pmem(vdev);

	p->file = a->file;
	/* A root device: Linux numbers its pmem devices in probe order, which is ours. */
	if (a->cfg->root)
		snprintf(vdev->dev.fw.cmdline, sizeof(vdev->dev.fw.cmdline), "root=/dev/pmem%u %s",
			 a->index, a->cfg->read_only ? "ro" : "rw");
	stats_node_init(&vdev->dev.stats, vdev->dev.stats.id, pmem_counters,
			ARRAY_SIZE(pmem_counters), p);
	p->chain = mvm_zalloc(sizeof(*p->chain));
	return p->chain ? 0 : -ENOMEM;
}

static void pmem_release(struct virtio_dev *vdev)
{
	free(to_pmem(vdev)->chain);
}

static const struct virtio_dev_ops pmem_ops = {
	.type = "virtio-pmem",
	.device_id = VIRTIO_ID_PMEM,
	.num_queues = 1,
	.queue_max_size = PMEM_QUEUE_SIZE,
	.init = pmem_init,
	.release = pmem_release,
	.config_size = 16,
	.config_read = pmem_config_read,
	.queue_notify = pmem_queue_notify,
	/* Its contents are its host file (shared, or read-only): nothing else to keep. */
	.save = virtio_dev_save_none,
	.restore = virtio_dev_restore_none,
};

static void owner_name(char *buf, size_t len, unsigned int index)
{
	snprintf(buf, len, "pmem%u", index);
}

/* Maps the file before the irqchip exists (see the top). */
static int pmem_reserve_memory(struct vm *vm, const void *blob, unsigned int index)
{
	const struct pmem_config *c = blob;
	const struct mem_file *f;
	char owner[MVM_MEM_OWNER_SIZE];
	off_t size;
	int fd, err;

	fd = mvm_open(c->path, c->read_only ? O_RDONLY : O_RDWR);
	if (fd < 0) {
		err = -errno;
		pr_err("pmem '%s': cannot open %s: %s", c->id, c->path, strerror(-err));
		return err;
	}
	if (mvm_fstat_size(fd, &size) < 0) {
		err = -errno;
		pr_err("pmem '%s': cannot stat %s: %s", c->id, c->path, strerror(-err));
		close(fd);
		return err;
	}
	if (size <= 0 || size % SZ_2M) {
		pr_err("pmem '%s': %s has %lld bytes: its size must be a non-zero multiple of 2 "
		       "MiB",
		       c->id, c->path, (long long)size);
		close(fd);
		return -EINVAL;
	}
	owner_name(owner, sizeof(owner), index);
	f = vm_memory_map_file(&vm->mem, vm->vm_fd, fd, (uint64_t)size, c->read_only, true, owner);
	if (IS_ERR(f))
		return (int)PTR_ERR(f);
	pr_debug("pmem '%s': %s at 0x%llx, %lld MiB%s", c->id, c->path, (unsigned long long)f->gpa,
		 (long long)(size >> 20), c->read_only ? ", read-only" : "");
	return 0;
}

static int pmem_create(struct vm *vm, const void *blob, unsigned int index)
{
	char owner[MVM_MEM_OWNER_SIZE], name[MVM_DEVICE_NAME_SIZE];
	const struct mem_file *f;
	struct virtio_pmem *p;

	owner_name(owner, sizeof(owner), index);
	f = vm_memory_file(&vm->mem, owner);
	if (!f) {
		pr_err("%s: its file was not mapped", owner);
		return -EINVAL;
	}
	struct pmem_args args = { f, blob, index };

	snprintf(name, sizeof(name), "virtio-pmem%u", index);
	p = virtio_dev_create(struct virtio_pmem, vdev, vm, &pmem_ops, name, &args);
	return IS_ERR(p) ? (int)PTR_ERR(p) : 0;
}

static const struct mvm_device_type virtio_pmem_type;

/* One root device among the pmem devices. */
static int pmem_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		      size_t len)
{
	const struct pmem_config *c = blob;
	unsigned int i;

	if (access(c->path, c->read_only ? R_OK : R_OK | W_OK)) {
		snprintf(msg, len, "cannot use '%.200s'%s: %s", c->path,
			 c->read_only ? "" : " read-write", strerror(errno));
		return -EINVAL;
	}
	for (i = 0; c->root && i < cfg->nr_devices; i++) {
		const struct pmem_config *o = (const void *)cfg->devices[i].blob;

		if ((int)i != self && cfg->devices[i].type == &virtio_pmem_type && o->root) {
			snprintf(msg, len, "pmem '%s' is the root device already", o->id);
			return -EINVAL;
		}
	}
	return 0;
}

#define PMEM_OPT(field) offsetof(struct pmem_config, field)
static const struct mvm_opt pmem_opts[] = {
	{ MVM_OPT("path", "path_on_host", MVM_OPT_STR,
		  MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED | MVM_OPT_HOST_FILE, PMEM_OPT(path)),
	  .max = PMEM_PATH_MAX, .help = "host file (a multiple of 2 MiB) the guest sees as pmem" },
	{ MVM_OPT("id", NULL, MVM_OPT_STR, MVM_OPT_ID, PMEM_OPT(id)), .max = PMEM_ID_MAX,
	  .help = "device id" },
	{ MVM_OPT("ro", "read_only", MVM_OPT_BOOL, 0, PMEM_OPT(read_only)),
	  .help = "read-only: mapped privately, the file never changes" },
	{ MVM_OPT("root", "root_device", MVM_OPT_BOOL, 0, PMEM_OPT(root)),
	  .help = "the root device: a Linux guest gets root=/dev/pmemN (one at most)" },
	{ MVM_OPT("rate_limiter", NULL, MVM_OPT_UNSUPPORTED, MVM_OPT_API_ONLY | MVM_OPT_PATCH, 0),
	  .help = "rate limiting of pmem devices is not supported by mvm yet" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_pmem_type = {
	.name = "virtio-pmem",
	.summary = "virtio-pmem: a host file mapped into the guest as persistent memory",
	.order = MVM_ORDER_VIRTIO + 4,
	.cli = "pmem",
	.cli_arg = "PATH",
	.api = "pmem",
	.api_noun = "pmem device",
	.max = MVM_MAX_MEM_FILES,
	.config_size = sizeof(struct pmem_config),
	.opts = pmem_opts,
	.check = pmem_check,
	.reserve_memory = pmem_reserve_memory,
	.create = pmem_create,
};
MVM_DEVICE_TYPE(virtio_pmem_type);
