// SPDX-License-Identifier: MIT
/* A virtio device's state in a snapshot: what every transport shares, then the device's. */
#include <errno.h>
#include <string.h>

#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/vm.h"
#include "virtio_internal.h"

int virtio_dev_save_none(struct virtio_dev *vdev, struct snap_buf *out)
{
	(void)vdev;
	(void)out;
	return 0;
}

int virtio_dev_restore_none(struct virtio_dev *vdev, struct snap_cur *in)
{
	(void)vdev;
	return snap_cur_end(in);
}

int virtio_core_save(struct virtio_dev *vdev, struct snap_buf *out)
{
	struct snap_buf own;
	unsigned int q;
	int err;

	if (!vdev->ops->save) {
		pr_err("%s (%s) cannot save its state: no snapshot support", vdev->dev.name,
		       vdev->ops->type);
		return -EOPNOTSUPP;
	}
	snap_buf_init(&own);
	pthread_mutex_lock(&vdev->lock);
	snap_put_u16(out, vdev->ops->device_id);
	snap_put_u32(out, vdev->num_queues);
	snap_put_u8(out, virtio_status(vdev));
	snap_put_u8(out, vdev->config_generation);
	snap_put_u64(out, vdev->host_features);
	snap_put_u64(out, vdev->driver_features);
	snap_put_u64(out, vdev->features);
	snap_put_u8(out, vdev->active);
	snap_put_u32(out, vdev->device_feature_select);
	snap_put_u32(out, vdev->driver_feature_select);
	snap_put_u32(out, vdev->queue_select);
	pthread_mutex_lock(&vdev->isr_lock);
	snap_put_u32(out, vdev->isr);
	pthread_mutex_unlock(&vdev->isr_lock);
	for (q = 0; q < vdev->num_queues; q++) {
		const struct virtqueue *vq = &vdev->vqs[q];
		const struct vm_memory *mem = &vdev->vm->mem;

		/* The device writes its rings through pointers kept since set-up: dirty. */
		if (vq->enabled) {
			mem_mark_dirty(mem, mem_offset(mem, vq->desc, 16ULL * vq->size),
				       16ULL * vq->size);
			mem_mark_dirty(mem, mem_offset(mem, vq->avail, 6ULL + 2ULL * vq->size),
				       6ULL + 2ULL * vq->size);
			mem_mark_dirty(mem, mem_offset(mem, vq->used, 6ULL + 8ULL * vq->size),
				       6ULL + 8ULL * vq->size);
		}
		snap_put_u32(out, vdev->qcfg[q].size);
		snap_put_u64(out, vdev->qcfg[q].desc);
		snap_put_u64(out, vdev->qcfg[q].driver);
		snap_put_u64(out, vdev->qcfg[q].device);
		snap_put_u8(out, vq->enabled);
		snap_put_u16(out, vq->size);
		snap_put_u64(out, vq->desc_gpa);
		snap_put_u64(out, vq->avail_gpa);
		snap_put_u64(out, vq->used_gpa);
		snap_put_u16(out, vq->last_avail);
		snap_put_u16(out, vq->used_idx);
		snap_put_u16(out, vq->signalled_used);
		snap_put_u8(out, vq->signalled_used_valid);
		snap_put_u8(out, vq->broken);
	}
	err = vdev->ops->save(vdev, &own);
	pthread_mutex_unlock(&vdev->lock);
	if (!err)
		err = own.err;
	if (!err)
		snap_put_blob(out, own.data, own.len);
	snap_buf_free(&own);
	return err ? err : out->err;
}

struct saved_queue {
	uint32_t qsize;
	uint64_t qdesc, qdriver, qdevice;
	bool enabled;
	struct virtq_saved vq;
};

struct saved_virtio {
	uint8_t status, generation, active;
	uint64_t host_features, driver_features, features;
	uint32_t dfs, drfs, qsel, isr;
	struct saved_queue q[VIRTIO_MAX_QUEUES];
	const void *own;
	size_t own_len;
};

/* Reads and checks everything before anything of the device changes. */
static int saved_read(struct virtio_dev *vdev, struct snap_cur *in, struct saved_virtio *s)
{
	uint16_t id = snap_get_u16(in);
	uint32_t nq = snap_get_u32(in), q;

	if (!in->err && (id != vdev->ops->device_id || nq != vdev->num_queues)) {
		pr_err("%s: the snapshot's device is not this one (virtio id %u, %u queues)",
		       vdev->dev.name, id, nq);
		return -EINVAL;
	}
	s->status = snap_get_u8(in);
	s->generation = snap_get_u8(in);
	s->host_features = snap_get_u64(in);
	s->driver_features = snap_get_u64(in);
	s->features = snap_get_u64(in);
	s->active = snap_get_u8(in);
	s->dfs = snap_get_u32(in);
	s->drfs = snap_get_u32(in);
	s->qsel = snap_get_u32(in);
	s->isr = snap_get_u32(in);
	for (q = 0; q < nq && !in->err; q++) {
		struct saved_queue *sq = &s->q[q];

		sq->qsize = snap_get_u32(in);
		sq->qdesc = snap_get_u64(in);
		sq->qdriver = snap_get_u64(in);
		sq->qdevice = snap_get_u64(in);
		sq->enabled = snap_get_u8(in);
		sq->vq.size = snap_get_u16(in);
		sq->vq.desc = snap_get_u64(in);
		sq->vq.avail = snap_get_u64(in);
		sq->vq.used = snap_get_u64(in);
		sq->vq.last_avail = snap_get_u16(in);
		sq->vq.used_idx = snap_get_u16(in);
		sq->vq.signalled_used = snap_get_u16(in);
		sq->vq.signalled_used_valid = snap_get_u8(in);
		sq->vq.broken = snap_get_u8(in);
		if (sq->vq.size > vdev->ops->queue_max_size)
			in->err = -EBADMSG;
	}
	s->own_len = snap_get_blob(in, &s->own);
	if (snap_cur_end(in)) {
		pr_err("%s: saved virtio state is malformed", vdev->dev.name);
		return -EBADMSG;
	}
	if (s->host_features != vdev->host_features) {
		pr_err("%s: the snapshot's device offered features 0x%llx, this one offers 0x%llx",
		       vdev->dev.name, (unsigned long long)s->host_features,
		       (unsigned long long)vdev->host_features);
		return -EINVAL;
	}
	if ((s->features & ~s->host_features) ||
	    (s->active && !(s->status & VIRTIO_STATUS_DRIVER_OK))) {
		pr_err("%s: saved virtio state is inconsistent", vdev->dev.name);
		return -EBADMSG;
	}
	return 0;
}

int virtio_core_restore(struct virtio_dev *vdev, struct snap_cur *in)
{
	struct saved_virtio s;
	struct snap_cur own;
	unsigned int q;
	int err;

	if (!vdev->ops->restore) {
		pr_err("%s (%s) cannot restore its state: no snapshot support", vdev->dev.name,
		       vdev->ops->type);
		return -EOPNOTSUPP;
	}
	memset(&s, 0, sizeof(s));
	err = saved_read(vdev, in, &s);
	if (err)
		return err;
	pthread_mutex_lock(&vdev->lock);
	vdev->config_generation = s.generation;
	vdev->driver_features = s.driver_features;
	vdev->features = s.features;
	vdev->device_feature_select = s.dfs;
	vdev->driver_feature_select = s.drfs;
	vdev->queue_select = s.qsel;
	for (q = 0; q < vdev->num_queues; q++) {
		vdev->qcfg[q].size = s.q[q].qsize;
		vdev->qcfg[q].desc = s.q[q].qdesc;
		vdev->qcfg[q].driver = s.q[q].qdriver;
		vdev->qcfg[q].device = s.q[q].qdevice;
	}
	snap_cur_init(&own, s.own, s.own_len);
	err = vdev->ops->restore(vdev, &own);
	if (err) {
		pr_err("%s: its saved state cannot be restored", vdev->dev.name);
		goto out;
	}
	for (q = 0; q < vdev->num_queues && !err; q++) {
		if (!s.q[q].enabled)
			continue;
		err = virtq_restore(&vdev->vqs[q], &vdev->vm->mem, &s.q[q].vq, s.features);
		if (err)
			pr_err("%s: queue %u: the saved rings are not in guest RAM", vdev->dev.name,
			       q);
	}
	if (err)
		goto out;
	__atomic_store_n(&vdev->status, s.status, __ATOMIC_RELEASE);
	pthread_mutex_lock(&vdev->isr_lock);
	vdev->isr = s.isr;
	pthread_mutex_unlock(&vdev->isr_lock);
	if (s.active && vdev->ops->activate) {
		err = vdev->ops->activate(vdev);
		if (err) {
			pr_err("%s: could not start the restored device: %s", vdev->dev.name,
			       strerror(-err));
			goto out;
		}
	}
	vdev->active = s.active;
out:
	pthread_mutex_unlock(&vdev->lock);
	/* Without the lock: what it tells the guest may take it (a vsock transport reset). */
	if (!err && s.active && vdev->ops->restored)
		vdev->ops->restored(vdev);
	return err;
}
