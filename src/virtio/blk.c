// SPDX-License-Identifier: MIT
/*
 * virtio-blk (virtio 1.2 §5.2) on a raw image: --disk PATH[,ro][,id=NAME]
 * [,cache=none|writeback][,io=sync], or the API's drives.
 *
 * Each virtqueue has its own I/O engine (io_uring, or the synchronous
 * fallback) and a lock. Requests are popped and submitted on the event-loop
 * thread (ops->queue_notify, from the queue's ioeventfd) and completed there
 * too (the engine's eventfd is a loop handler): vCPUs never wait on the disk
 * for I/O. The synchronous engine runs a request inside the loop's turn (the
 * loop waits, not a vCPU). A request on the ring holds a reference on the
 * device; ops->reset (a driver reset, on the vCPU that wrote the status, and
 * the device's teardown) waits for those requests and drops the references:
 * a reset is rare and must not return while the disk may still write guest
 * memory the driver is about to reuse.
 *
 * A rate limiter (the drive's rate_limiter) charges each request one op and
 * its data bytes before it is submitted; a request it holds back waits,
 * parsed, for the limiter's timer, and the queue with it.
 *
 * Malformed chains: a chain the parser rejects gets IOERR/UNSUPP in its
 * status byte; one without a status byte is returned with 0 bytes written;
 * one the virtqueue walker rejects (loop, out-of-RAM, ...) marks the device
 * NEEDS_RESET and stops that queue only: the other queues go on serving.
 */
#include <errno.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include "block/io.h"
#include "virtio/blk.h"
#include "mvm/clock.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"

#define BLK_NUM_QUEUES 2
#define BLK_QUEUE_SIZE 256
/* Polling a busy queue (see blk_queue_process). */
#define BLK_POLL_NS	32000ULL  /* the longest window */
#define BLK_POLL_MIN_NS 1000ULL	  /* below this, no polling */
#define BLK_POLL_MAX_NS 500000ULL /* per turn */

struct virtio_blk;

struct blk_queue {
	struct virtio_blk *blk;
	unsigned int index;
	pthread_mutex_t lock; /* vq use, engine, pool, flags */
	bool running;	      /* activated, not reset */
	bool broken;	      /* the walker rejected a chain: wait for reset */
	struct blk_io io;
	struct loop_handler done; /* the engine's completion eventfd */
	struct blk_req *reqs;	  /* pool of BLK_QUEUE_SIZE */
	uint16_t *free;		  /* stack of free pool indexes */
	unsigned int nfree;
	struct virtq_chain *chain; /* scratch for virtq_pop */
	struct blk_req *held;	   /* parsed, waiting for the rate limiter */
	uint64_t poll_ns;	   /* current polling window (0: none) */
	uint64_t last_work;	   /* when a request or completion was last found */
};

/* Counters under Firecracker's block metrics names (the device's stats node). */
struct blk_stats {
	mvm_counter_t read_count, write_count, read_bytes, write_bytes, flush_count;
	mvm_counter_t invalid_reqs_count, execute_fails, queue_event_count;
	mvm_counter_t update_count, update_fails;
};

struct virtio_blk {
	struct virtio_dev vdev; /* first */
	struct blk_disk disk;
	struct blk_geom geom;
	struct virtio_blk_config cfg;
	struct mvm_disk_config conf; /* as created (and rate limiter as patched) */
	struct rate_limiter rl;
	struct blk_queue q[BLK_NUM_QUEUES];
	struct blk_stats stats;
	char drive_id[MVM_DISK_ID_MAX + 1]; /* the API's id: PATCH /drives/{id} finds it */
	unsigned int index;
};

#define BLK_COUNTER(name)                                      \
	{                                                      \
#name, offsetof(struct virtio_blk, stats.name) \
	}
static const struct mvm_counter_desc blk_counters[] = {
	{ "reads", offsetof(struct virtio_blk, vdev.dev.reads) },
	{ "writes", offsetof(struct virtio_blk, vdev.dev.writes) },
	BLK_COUNTER(read_count),
	BLK_COUNTER(write_count),
	BLK_COUNTER(read_bytes),
	BLK_COUNTER(write_bytes),
	BLK_COUNTER(flush_count),
	BLK_COUNTER(invalid_reqs_count),
	BLK_COUNTER(execute_fails),
	BLK_COUNTER(queue_event_count),
	BLK_COUNTER(update_count),
	BLK_COUNTER(update_fails),
};

struct blk_args {
	const struct mvm_disk_config *disk;
	unsigned int index;
};

static struct virtio_blk *to_blk(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_blk, vdev);
}

static uint64_t blk_get_features(struct virtio_dev *vdev)
{
	struct virtio_blk *b = to_blk(vdev);
	uint64_t f = 1ULL << VIRTIO_BLK_F_SIZE_MAX | 1ULL << VIRTIO_BLK_F_SEG_MAX |
		     1ULL << VIRTIO_BLK_F_BLK_SIZE | 1ULL << VIRTIO_BLK_F_FLUSH |
		     1ULL << VIRTIO_BLK_F_MQ;

	if (b->disk.read_only)
		f |= 1ULL << VIRTIO_BLK_F_RO;
	else
		f |= 1ULL << VIRTIO_BLK_F_DISCARD | 1ULL << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static void blk_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned int len)
{
	memcpy(data, (uint8_t *)&to_blk(vdev)->cfg + off, len);
}

static void blk_config_write(struct virtio_dev *vdev, uint64_t off, const void *data,
			     unsigned int len)
{
	/* Only `writeback` is writable, and only with CONFIG_WCE, which we do not offer. */
}

/* Answers the guest and returns the slot; queue lock held. */
static void blk_req_answer(struct blk_queue *q, struct blk_req *r, uint8_t status)
{
	struct virtio_blk *b = q->blk;
	struct virtqueue *vq = virtio_dev_vq(&b->vdev, q->index);
	uint32_t written = blk_req_complete(r, status);

	/* After a reset the rings belong to nobody: drop the answer. */
	if (q->running)
		virtq_push(vq, r->head, written);
	q->free[q->nfree++] = (uint16_t)(r - q->reqs);
}

/* What the rate limiter charges a request: its data (reads and writes). */
static uint64_t blk_req_bytes(const struct blk_req *r)
{
	return r->type == VIRTIO_BLK_T_IN || r->type == VIRTIO_BLK_T_OUT ? r->len : 0;
}

/* Engine callback (queue lock held): count, answer the guest, return the slot. A
 * ring request's reference is dropped by the caller, after the unlock. */
static void blk_req_done(struct blk_io *io, struct blk_req *r, uint8_t status)
{
	struct blk_queue *q = container_of(io, struct blk_queue, io);
	struct blk_stats *st = &q->blk->stats;

	if (status != VIRTIO_BLK_S_OK) {
		counter_inc(&st->execute_fails);
	} else if (r->type == VIRTIO_BLK_T_IN) {
		counter_inc(&st->read_count);
		atomic_fetch_add_explicit(&st->read_bytes, r->len, memory_order_relaxed);
	} else if (r->type == VIRTIO_BLK_T_OUT) {
		counter_inc(&st->write_count);
		atomic_fetch_add_explicit(&st->write_bytes, r->len, memory_order_relaxed);
	} else if (r->type == VIRTIO_BLK_T_FLUSH) {
		counter_inc(&st->flush_count);
	}
	blk_req_answer(q, r, status);
}

/* Pops, parses and submits what is available; queue lock held. The number popped. */
static unsigned int blk_queue_pop_all(struct blk_queue *q, unsigned int *completed,
				      bool *needs_reset)
{
	struct virtio_blk *b = q->blk;
	struct virtqueue *vq = virtio_dev_vq(&b->vdev, q->index);
	unsigned int popped = 0;

	while (q->running && !q->broken && (q->held || q->nfree)) {
		struct blk_req *r = q->held;
		int ret, st;

		if (!r) {
			r = &q->reqs[q->free[q->nfree - 1]];
			ret = virtq_pop(vq, q->chain);
			if (ret == 0)
				break;
			popped++;
			if (ret < 0) {
				/* The ring itself is malformed: nothing more on this queue. */
				pr_warn_ratelimited("%s: queue %u: malformed chain (%s)\n",
						    b->vdev.dev.name, q->index, strerror(-ret));
				if (q->chain->head < vq->size)
					virtq_push(vq, q->chain->head, 0);
				q->broken = true;
				*needs_reset = true;
				(*completed)++;
				break;
			}
			q->nfree--;
			st = blk_req_parse(q->chain, &b->geom, r);
			if (st != VIRTIO_BLK_S_OK) {
				counter_inc(&b->stats.invalid_reqs_count);
				blk_req_answer(q, r, st < 0 ? VIRTIO_BLK_S_IOERR : (uint8_t)st);
				(*completed)++;
				continue;
			}
		}
		if (!rate_limiter_consume(&b->rl, blk_req_bytes(r))) {
			q->held = r; /* the limiter's timer resumes the queue */
			break;
		}
		q->held = NULL;
		/* On the ring it completes later: hold the device (under the queue lock, so
		 * the completion cannot be reaped before the reference is taken). */
		if (blk_io_submit(&q->io, r))
			mvm_device_get(&b->vdev.dev);
		else
			(*completed)++;
	}
	blk_io_flush(&q->io);
	return popped;
}

static uint64_t now_ns(void)
{
	return mvm_clock_ns(CLOCK_MONOTONIC);
}

/*
 * Serves the queue: pops and submits everything available, completes what
 * the ring finished meanwhile (cached reads complete inside the submit: no
 * extra loop wake-up), and while requests keep coming polls the ring for
 * q->poll_ns after the last one, like QEMU's adaptive polling: a driver that
 * submits right after a completion is served without waiting for its kick to
 * wake the event loop (on the nested development host that wake-up was most
 * of a cached 4 KiB read's latency: QD1 random reads went from ~45-150k to
 * ~8k TSC cycles per request). The window adapts: it starts at BLK_POLL_NS,
 * doubles (up to BLK_POLL_NS) when polling found work, halves when a poll
 * ran out empty (and stops below BLK_POLL_MIN_NS), and restarts when work
 * came so soon after the last that the longest window would have caught it.
 * So a queue waiting on a real disk, where spinning only takes CPU from the
 * kernel's I/O workers, stops polling. One turn polls at most
 * BLK_POLL_MAX_NS, then returns to the loop so that other queues and devices
 * are served. Queue lock held. *reaped gets the number of ring requests
 * completed (their references, dropped after the unlock). True: the device
 * needs a reset.
 */
static bool blk_queue_process(struct blk_queue *q, unsigned int *reaped)
{
	struct virtqueue *vq = virtio_dev_vq(&q->blk->vdev, q->index);
	uint64_t start = now_ns(), deadline = 0, now = start;
	bool needs_reset = false, spun = false; /* spun: an empty pass since work was found */

	/* This came so soon after the last work that the longest window would have caught it. */
	if (!q->poll_ns && q->last_work && start - q->last_work < BLK_POLL_NS)
		q->poll_ns = BLK_POLL_MIN_NS;
	*reaped = 0;
	for (;;) {
		unsigned int completed = 0, n, popped;

		popped = blk_queue_pop_all(q, &completed, &needs_reset);
		n = blk_io_reap(&q->io);
		*reaped += n;
		completed += n;
		if (completed && q->running)
			virtq_notify(vq);
		if (popped || n)
			q->last_work = now;
		if (!q->running || q->broken || !q->poll_ns)
			break;
		if (popped || n) {
			if (spun) /* polling found work: poll more */
				q->poll_ns = MIN(2 * q->poll_ns, BLK_POLL_NS);
			spun = false;
			deadline = now + q->poll_ns;
		} else if (!deadline) {
			break; /* nothing at all: a spurious wake-up */
		} else if (now >= deadline) {
			/* The window ran out empty: poll less. */
			q->poll_ns = q->poll_ns / 2 < BLK_POLL_MIN_NS ? 0 : q->poll_ns / 2;
			break;
		} else {
			spun = true;
		}
		if (now - start >= BLK_POLL_MAX_NS)
			break;
		now = now_ns();
	}
	return needs_reset;
}

static void blk_put_n(struct virtio_blk *b, unsigned int n)
{
	/* One reference per completed ring request, dropped last (it may be the final one). */
	while (n--)
		mvm_device_put(&b->vdev.dev);
}

static void blk_queue_notify(struct virtio_dev *vdev, unsigned int qi)
{
	struct virtio_blk *b = to_blk(vdev);
	unsigned int reaped = 0;
	struct blk_queue *q;
	bool needs_reset;

	if (qi >= BLK_NUM_QUEUES)
		return;
	counter_inc(&b->stats.queue_event_count);
	q = &b->q[qi];
	pthread_mutex_lock(&q->lock);
	needs_reset = blk_queue_process(q, &reaped);
	pthread_mutex_unlock(&q->lock);
	/* Outside the queue lock: the core takes vdev->lock, which nests outside ours. */
	if (needs_reset)
		virtio_dev_needs_reset(vdev);
	blk_put_n(b, reaped);
}

/* Completion eventfd (event-loop thread). */
static void blk_queue_done(struct loop_handler *h, uint32_t events)
{
	struct blk_queue *q = container_of(h, struct blk_queue, done);
	struct virtio_blk *b = q->blk;
	unsigned int n, more = 0;
	bool needs_reset = false;

	pthread_mutex_lock(&q->lock);
	n = blk_io_reap(&q->io);
	if (n && q->running) {
		virtq_notify(virtio_dev_vq(&b->vdev, q->index));
		/* Slots came back: chains may be waiting for them. */
		needs_reset = blk_queue_process(q, &more);
	}
	pthread_mutex_unlock(&q->lock);
	if (needs_reset)
		virtio_dev_needs_reset(&b->vdev);
	blk_put_n(b, n + more);
}

/* The rate limiter's wait is over: serve the queues (event-loop thread). */
static void blk_resume(struct rate_limiter *rl)
{
	struct virtio_blk *b = container_of(rl, struct virtio_blk, rl);

	for (unsigned int i = 0; i < BLK_NUM_QUEUES; i++) {
		struct blk_queue *q = &b->q[i];
		unsigned int reaped = 0;
		bool needs_reset = false;

		pthread_mutex_lock(&q->lock);
		if (q->running)
			needs_reset = blk_queue_process(q, &reaped);
		pthread_mutex_unlock(&q->lock);
		if (needs_reset)
			virtio_dev_needs_reset(&b->vdev);
		blk_put_n(b, reaped);
	}
}

static int blk_activate(struct virtio_dev *vdev)
{
	struct virtio_blk *b = to_blk(vdev);

	for (unsigned int i = 0; i < BLK_NUM_QUEUES; i++) {
		pthread_mutex_lock(&b->q[i].lock);
		b->q[i].running = true;
		b->q[i].broken = false;
		b->q[i].poll_ns = BLK_POLL_NS;
		b->q[i].last_work = 0;
		pthread_mutex_unlock(&b->q[i].lock);
	}
	return 0;
}

/* Stop using the queues and wait for every in-flight request (vdev->lock held). */
static void blk_reset(struct virtio_dev *vdev)
{
	struct virtio_blk *b = to_blk(vdev);

	for (unsigned int i = 0; i < BLK_NUM_QUEUES; i++) {
		struct blk_queue *q = &b->q[i];
		unsigned int n;

		pthread_mutex_lock(&q->lock);
		q->running = false;
		if (q->held) {
			q->free[q->nfree++] = (uint16_t)(q->held - q->reqs);
			q->held = NULL;
		}
		n = q->io.inflight;
		blk_io_drain(&q->io);
		pthread_mutex_unlock(&q->lock);
		/* The drained requests' references; the VM still holds its own. */
		while (n--)
			mvm_device_put(&b->vdev.dev);
	}
}

static void blk_queue_fini(struct blk_queue *q, struct vm *vm)
{
	if (q->io.uring)
		loop_del(&vm->loop, &q->done);
	blk_io_fini(&q->io);
	free(q->chain);
	free(q->free);
	free(q->reqs);
	pthread_mutex_destroy(&q->lock);
}

static int blk_queue_init(struct virtio_blk *b, struct blk_queue *q, unsigned int index)
{
	struct vm *vm = b->vdev.vm;
	int err;

	q->blk = b;
	q->index = index;
	pthread_mutex_init(&q->lock, NULL);
	q->reqs = mvm_calloc(BLK_QUEUE_SIZE, sizeof(*q->reqs));
	q->free = mvm_calloc(BLK_QUEUE_SIZE, sizeof(*q->free));
	q->chain = mvm_zalloc(sizeof(*q->chain));
	if (!q->reqs || !q->free || !q->chain) {
		err = -ENOMEM;
		goto err_free;
	}
	for (unsigned int i = 0; i < BLK_QUEUE_SIZE; i++)
		q->free[i] = (uint16_t)(BLK_QUEUE_SIZE - 1 - i);
	q->nfree = BLK_QUEUE_SIZE;
	err = blk_io_init(&q->io, &b->disk, BLK_QUEUE_SIZE, blk_req_done);
	if (err)
		goto err_free;
	if (q->io.uring) {
		q->done.fd = q->io.efd;
		q->done.fn = blk_queue_done;
		err = loop_add(&vm->loop, &q->done, EPOLLIN);
		if (err)
			goto err_io;
	}
	return 0;

err_io:
	blk_io_fini(&q->io);
err_free:
	free(q->chain);
	free(q->free);
	free(q->reqs);
	pthread_mutex_destroy(&q->lock);
	return err;
}

static void blk_fill_config(struct virtio_blk *b, const struct mvm_disk_config *cfg)
{
	struct virtio_blk_config *c = &b->cfg;

	c->capacity = b->geom.sectors;
	c->size_max = BLK_SIZE_MAX;
	c->seg_max = BLK_SEG_MAX;
	c->blk_size = BLK_SECTOR_SIZE;
	c->wce = cfg->cache == MVM_DISK_CACHE_WRITEBACK;
	c->num_queues = BLK_NUM_QUEUES;
	c->max_discard_sectors = BLK_DWZ_SECTORS_MAX;
	c->max_discard_seg = BLK_DWZ_SEG_MAX;
	c->discard_sector_alignment = 8; /* 4 KiB: what punch-hole frees */
	c->max_write_zeroes_sectors = BLK_DWZ_SECTORS_MAX;
	c->max_write_zeroes_seg = BLK_DWZ_SEG_MAX;
	c->write_zeroes_may_unmap = 1;
}

static int blk_init(struct virtio_dev *vdev, const void *args)
{
	const struct blk_args *a = args;
	struct virtio_blk *b = to_blk(vdev);
	unsigned int i;
	int err;

	b->conf = *a->disk;
	err = rate_limiter_init(&b->rl, a->disk->rate_limiter_set ? &a->disk->rate_limiter : NULL,
				&vdev->vm->loop, blk_resume);
	if (err)
		return err;
	err = blk_disk_open(&b->disk, a->disk, a->index);
	if (err)
		goto err_rl;
	/* The device's node shows the block counters too (metrics read them by name). */
	stats_node_init(&vdev->dev.stats, vdev->dev.stats.id, blk_counters,
			ARRAY_SIZE(blk_counters), b);
	blk_disk_geom(&b->disk, &b->geom);
	blk_fill_config(b, a->disk);
	snprintf(b->drive_id, sizeof(b->drive_id), "%s", a->disk->id);
	b->index = a->index;
	for (i = 0; i < BLK_NUM_QUEUES; i++) {
		err = blk_queue_init(b, &b->q[i], i);
		if (err)
			goto err_queues;
	}
	pr_debug("%s: %s, %llu sectors%s%s, %s\n", vdev->dev.name, a->disk->path,
		 (unsigned long long)b->geom.sectors, b->disk.read_only ? ", read-only" : "",
		 b->disk.direct ? ", O_DIRECT" : "", b->q[0].io.uring ? "io_uring" : "synchronous");
	return 0;

err_queues:
	while (i--)
		blk_queue_fini(&b->q[i], vdev->vm);
	blk_disk_close(&b->disk);
err_rl:
	rate_limiter_fini(&b->rl);
	return err;
}

static void blk_release(struct virtio_dev *vdev)
{
	struct virtio_blk *b = to_blk(vdev);

	for (unsigned int i = 0; i < BLK_NUM_QUEUES; i++)
		blk_queue_fini(&b->q[i], vdev->vm);
	blk_disk_close(&b->disk);
	rate_limiter_fini(&b->rl);
}

/*
 * A paused VM may still have requests in the engine: a snapshot waits for
 * none (the caller may try again), so that no completion is lost.
 */
static int blk_save(struct virtio_dev *vdev, struct snap_buf *out)
{
	struct virtio_blk *blk = container_of(vdev, struct virtio_blk, vdev);
	unsigned int i;
	int err = 0;

	for (i = 0; i < BLK_NUM_QUEUES; i++) {
		struct blk_queue *q = &blk->q[i];

		pthread_mutex_lock(&q->lock);
		if (q->reqs && (q->nfree != BLK_QUEUE_SIZE || q->held))
			err = -EBUSY;
		snap_put_u8(out, q->broken);
		pthread_mutex_unlock(&q->lock);
	}
	if (err)
		pr_err("%s: requests are in flight; try the snapshot again", vdev->dev.name);
	return err;
}

static int blk_restore(struct virtio_dev *vdev, struct snap_cur *in)
{
	struct virtio_blk *blk = container_of(vdev, struct virtio_blk, vdev);
	uint8_t broken[BLK_NUM_QUEUES];
	unsigned int i;

	if (snap_get(in, broken, sizeof(broken)) || snap_cur_end(in))
		return -EBADMSG;
	for (i = 0; i < BLK_NUM_QUEUES; i++) {
		pthread_mutex_lock(&blk->q[i].lock);
		blk->q[i].broken = broken[i] != 0;
		pthread_mutex_unlock(&blk->q[i].lock);
	}
	return 0;
}

static const struct virtio_dev_ops blk_ops = {
	.type = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.num_queues = BLK_NUM_QUEUES,
	.queue_max_size = BLK_QUEUE_SIZE,
	.init = blk_init,
	.release = blk_release,
	.get_features = blk_get_features,
	.config_size = sizeof(struct virtio_blk_config),
	.config_read = blk_config_read,
	.config_write = blk_config_write,
	.activate = blk_activate,
	.queue_notify = blk_queue_notify,
	.reset = blk_reset,
	.save = blk_save,
	.restore = blk_restore,
};

struct virtio_dev *virtio_blk_create(struct vm *vm, const struct mvm_disk_config *disk,
				     unsigned int index)
{
	struct blk_args args = { disk, index };
	char name[MVM_DEVICE_NAME_SIZE];
	struct virtio_blk *b;

	snprintf(name, sizeof(name), "virtio-blk%u", index);
	b = virtio_dev_create(struct virtio_blk, vdev, vm, &blk_ops, name, &args);
	return IS_ERR(b) ? ERR_PTR(PTR_ERR(b)) : &b->vdev;
}

static int blk_create(struct vm *vm, const void *blob, unsigned int index)
{
	return PTR_ERR_OR_ZERO(virtio_blk_create(vm, blob, index));
}

static const struct mvm_device_type virtio_blk_type;

/* One root device, as Firecracker: it becomes the guest's /dev/vda. */
static int blk_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
		     size_t len)
{
	const struct mvm_disk_config *d = blob;
	unsigned int i;

	if (access(d->path, d->read_only ? R_OK : R_OK | W_OK)) {
		snprintf(msg, len, "cannot use '%.200s'%s: %s", d->path,
			 d->read_only ? "" : " read-write", strerror(errno));
		return -EINVAL;
	}
	for (i = 0; d->root && i < cfg->nr_devices; i++) {
		const struct mvm_disk_config *o = (const void *)cfg->devices[i].blob;

		if ((int)i != self && cfg->devices[i].type == &virtio_blk_type && o->root) {
			snprintf(msg, len, "A root block device already exists! (drive '%s')",
				 o->id);
			return -EINVAL;
		}
	}
	return 0;
}

/* The running VM's disk whose drive id is id, with a reference; NULL if none. */
static struct virtio_blk *blk_find(struct vm *vm, const char *id)
{
	struct virtio_blk *found = NULL;
	struct mvm_device *dev;

	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		struct virtio_blk *b = container_of(dev, struct virtio_blk, vdev.dev);

		if (dev->ops == NULL || !dev->type || strcmp(dev->type, blk_ops.type) ||
		    strcmp(b->drive_id, id))
			continue;
		mvm_device_get(dev);
		found = b;
		break;
	}
	pthread_mutex_unlock(&vm->lock);
	return found;
}

/* A PATCH's rate limiter replaces the running one (a held queue resumes at once). */
static void blk_update_limiter(struct virtio_blk *b, const struct mvm_disk_config *cfg)
{
	rate_limiter_update(&b->rl, cfg->rate_limiter_set ? &cfg->rate_limiter : NULL);
	b->conf.rate_limiter = cfg->rate_limiter;
	b->conf.rate_limiter_set = cfg->rate_limiter_set;
}

/*
 * PATCH /drives/{id} after boot: its rate limiter, or a new backing file (orchestrators create
 * placeholder drives and patch them later). The new file is opened first (a
 * failure changes nothing); then, with every queue stopped and its in-flight
 * requests finished on the old file, the disk is swapped, the capacity set,
 * and the guest told with a configuration-change interrupt.
 */
static int blk_update(struct vm *vm, const char *id, const void *blob, char *msg, size_t len)
{
	const struct mvm_disk_config *cfg = blob;
	unsigned int i, drained[BLK_NUM_QUEUES];
	struct virtio_blk *b = vm ? blk_find(vm, id) : NULL;
	struct blk_disk nd, old;
	int err;

	if (!b) {
		snprintf(msg, len, "no drive '%s' in the running VM", id);
		return -ENODEV;
	}
	if (!strcmp(cfg->path, b->conf.path)) {
		/* The same file: only the rate limiter changes. */
		blk_update_limiter(b, cfg);
		mvm_device_put(&b->vdev.dev);
		return 0;
	}
	err = blk_disk_open(&nd, cfg, b->index);
	if (err) {
		counter_inc(&b->stats.update_fails);
		snprintf(msg, len, "Error manipulating the backing file: %s (os error %d) %s",
			 strerror(-err), -err, cfg->path);
		mvm_device_put(&b->vdev.dev);
		return err;
	}
	for (i = 0; i < BLK_NUM_QUEUES; i++) {
		pthread_mutex_lock(&b->q[i].lock);
		drained[i] = b->q[i].io.inflight;
		blk_io_drain(&b->q[i].io);
	}
	old = b->disk;
	b->disk = nd;
	blk_disk_geom(&b->disk, &b->geom);
	__atomic_store_n(&b->cfg.capacity, b->geom.sectors, __ATOMIC_RELEASE);
	for (i = BLK_NUM_QUEUES; i--;) {
		/* What the drain completed is in the used ring: tell the driver. */
		if (drained[i] && b->q[i].running)
			virtq_notify(virtio_dev_vq(&b->vdev, b->q[i].index));
		pthread_mutex_unlock(&b->q[i].lock);
	}
	blk_disk_close(&old);
	snprintf(b->conf.path, sizeof(b->conf.path), "%s", cfg->path);
	blk_update_limiter(b, cfg);
	counter_inc(&b->stats.update_count);
	virtio_dev_config_changed(&b->vdev);
	for (i = 0; i < BLK_NUM_QUEUES; i++)
		while (drained[i]--)
			mvm_device_put(&b->vdev.dev);
	mvm_device_put(&b->vdev.dev);
	return 0;
}

static const struct mvm_opt_choice blk_caches[] = { { "writeback", "Writeback" },
						    { "none", "" },
						    { "unsafe", "Unsafe" },
						    { NULL } };
static const struct mvm_opt_choice blk_engines[] = { { "uring", "Async" },
						     { "sync", "Sync" },
						     { NULL } };

#define DISK_OPT(field) offsetof(struct mvm_disk_config, field)
static const struct mvm_opt blk_opts[] = {
	{ MVM_OPT("path", "path_on_host", MVM_OPT_STR,
		  MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED | MVM_OPT_HOST_FILE | MVM_OPT_PATCH,
		  DISK_OPT(path)),
	  .max = MVM_DISK_PATH_MAX, .help = "raw image file or block device" },
	{ MVM_OPT("id", "drive_id", MVM_OPT_STR, MVM_OPT_ID, DISK_OPT(id)), .max = MVM_DISK_ID_MAX,
	  .help = "drive id; the guest reads its first 20 bytes as the serial (default vdN)" },
	{ MVM_OPT("ro", "is_read_only", MVM_OPT_BOOL, 0, DISK_OPT(read_only)),
	  .help = "read-only: writes fail with IOERR" },
	{ MVM_OPT("cache", "cache_type", MVM_OPT_ENUM, 0, DISK_OPT(cache)), .choices = blk_caches,
	  .def = "writeback", .api_def = "unsafe",
	  .help = "none: O_DIRECT; writeback and unsafe: the page cache, flush is fdatasync" },
	{ MVM_OPT("io", "io_engine", MVM_OPT_ENUM, 0, DISK_OPT(io)), .choices = blk_engines,
	  .help = "sync: the synchronous engine instead of io_uring" },
	{ MVM_OPT("root", "is_root_device", MVM_OPT_BOOL, MVM_OPT_API_ONLY | MVM_OPT_REQUIRED,
		  DISK_OPT(root)) },
	{ MVM_OPT("partuuid", NULL, MVM_OPT_STR, MVM_OPT_API_ONLY, DISK_OPT(partuuid)),
	  .max = MVM_DISK_ID_MAX },
	{ MVM_OPT("rate_limiter", NULL, MVM_OPT_OBJECT, MVM_OPT_API_ONLY | MVM_OPT_PATCH,
		  DISK_OPT(rate_limiter)),
	  .sub = mvm_rate_limiter_opts, .set_offset = DISK_OPT(rate_limiter_set),
	  .help = "token buckets: bandwidth in bytes, ops in requests" },
	{ MVM_OPT("socket", NULL, MVM_OPT_UNSUPPORTED, MVM_OPT_API_ONLY, 0),
	  .help = "vhost-user-block drives are not supported by mvm yet" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_blk_type = {
	.name = "virtio-blk",
	.summary = "virtio-blk on a raw image file or block device",
	.order = MVM_ORDER_VIRTIO,
	.cli = "disk",
	.cli_arg = "PATH",
	.api = "drives",
	.api_noun = "drive",
	.max = MVM_MAX_DISKS,
	.config_size = sizeof(struct mvm_disk_config),
	.opts = blk_opts,
	.check = blk_check,
	.create = blk_create,
	.update = blk_update,
};
MVM_DEVICE_TYPE(virtio_blk_type);
