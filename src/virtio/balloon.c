// SPDX-License-Identifier: MIT
/*
 * virtio-balloon (virtio 1.2 §5.5): the host asks the guest to give up
 * memory (the config's num_pages); the guest hands over page frames on the
 * inflate queue and takes them back on the deflate queue. Inflated pages are
 * punched out of the guest-RAM memfd, so the host's memory really drops.
 * Optional queues: statistics (STATS_VQ, polled at an interval), free page
 * hinting (FREE_PAGE_HINT, runs the control plane starts and stops) and free
 * page reporting (PAGE_REPORTING, the guest's free memory given back as it
 * appears). DEFLATE_ON_OOM lets the guest deflate under memory pressure.
 *
 * The optional queues exist only when negotiated, and the driver numbers
 * the queues it uses consecutively: which queue index is which is decided
 * when the device starts (balloon_activate).
 *
 * A bad page frame, a malformed buffer or a failed discard is counted and
 * answered; the device never follows a guest address it has not checked.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "balloon_req.h"
#include "mvm/balloon.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/snap_format.h"
#include "mvm/sys.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"

#define BALLOON_F_STATS_VQ	 1
#define BALLOON_F_DEFLATE_ON_OOM 2
#define BALLOON_F_FREE_PAGE_HINT 3
#define BALLOON_F_PAGE_REPORTING 5
#define BALLOON_NUM_QUEUES	 5
#define BALLOON_QUEUE_SIZE	 256
#define BALLOON_PAGES_PER_MIB	 256
#define BALLOON_CONFIG_SIZE	 16
#define BALLOON_MAX_INTERVAL_S	 86400
#define BALLOON_FIRST_STATS_NSEC 1000000 /* the first update after a change: at once */

enum balloon_role { ROLE_NONE, ROLE_INFLATE, ROLE_DEFLATE, ROLE_STATS, ROLE_HINT, ROLE_REPORT };

/* --balloon / PUT /balloon: Firecracker's fields. */
struct balloon_config {
	uint64_t amount_mib;
	bool deflate_on_oom;
	uint64_t stats_polling_interval_s;
	bool free_page_hinting;
	bool free_page_reporting;
};

struct virtio_balloon {
	struct virtio_dev vdev; /* first */
	struct balloon_config cfg;
	struct virtq_chain *chain;
	uint32_t *pfns;
	struct balloon_pages pages;
	enum balloon_role role[BALLOON_NUM_QUEUES];

	/* Under vdev.lock: the config space, the held statistics buffer, hinting. */
	uint32_t num_pages;
	uint32_t actual;
	uint32_t hint_cmd;
	int stats_head;		 /* the statistics buffer the device holds, -1: none */
	int restored_stats_head; /* restore: the held one, taken again after activation */
	uint64_t stats_interval;
	struct balloon_stats stats;
	uint32_t last_run; /* id of the last hinting run */
	uint32_t guest_cmd;
	bool guest_seen;
	bool ack_on_stop;

	int timer_fd;
	struct loop_handler timer;

	/* Firecracker's balloon metrics, then mvm's. */
	mvm_counter_t activate_fails, cfg_fails, inflate_count, deflate_count;
	mvm_counter_t stats_updates_count, stats_update_fails, event_fails;
	mvm_counter_t free_page_report_count, free_page_report_freed, free_page_report_fails;
	mvm_counter_t free_page_hint_count, free_page_hint_freed, free_page_hint_fails;
	mvm_counter_t bad_pfns, duplicate_pfns, discard_fails, freed_bytes;
	mvm_counter_t target_pages, actual_pages, held_pages;
};

#define B_COUNTER(name)                                      \
	{                                                    \
#name, offsetof(struct virtio_balloon, name) \
	}
static const struct mvm_counter_desc balloon_counters[] = {
	{ "reads", offsetof(struct virtio_balloon, vdev.dev.reads) },
	{ "writes", offsetof(struct virtio_balloon, vdev.dev.writes) },
	B_COUNTER(activate_fails),
	B_COUNTER(cfg_fails),
	B_COUNTER(inflate_count),
	B_COUNTER(deflate_count),
	B_COUNTER(stats_updates_count),
	B_COUNTER(stats_update_fails),
	B_COUNTER(event_fails),
	B_COUNTER(free_page_report_count),
	B_COUNTER(free_page_report_freed),
	B_COUNTER(free_page_report_fails),
	B_COUNTER(free_page_hint_count),
	B_COUNTER(free_page_hint_freed),
	B_COUNTER(free_page_hint_fails),
	B_COUNTER(bad_pfns),
	B_COUNTER(duplicate_pfns),
	B_COUNTER(discard_fails),
	B_COUNTER(freed_bytes),
	B_COUNTER(target_pages),
	B_COUNTER(actual_pages),
	B_COUNTER(held_pages),
};

static void counter_add(mvm_counter_t *c, uint64_t v)
{
	atomic_fetch_add_explicit(c, v, memory_order_relaxed);
}

static void counter_set(mvm_counter_t *c, uint64_t v)
{
	atomic_store_explicit(c, v, memory_order_relaxed);
}

static struct virtio_balloon *to_balloon(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_balloon, vdev);
}

static uint64_t balloon_get_features(struct virtio_dev *vdev)
{
	const struct balloon_config *c = &to_balloon(vdev)->cfg;

	return (c->stats_polling_interval_s ? 1ULL << BALLOON_F_STATS_VQ : 0) |
	       (c->deflate_on_oom ? 1ULL << BALLOON_F_DEFLATE_ON_OOM : 0) |
	       (c->free_page_hinting ? 1ULL << BALLOON_F_FREE_PAGE_HINT : 0) |
	       (c->free_page_reporting ? 1ULL << BALLOON_F_PAGE_REPORTING : 0);
}

/* The config space (§5.5.4), little-endian: num_pages, actual, hint command, poison. */
static void config_image(struct virtio_balloon *b, uint8_t img[BALLOON_CONFIG_SIZE])
{
	uint32_t v[4] = { htole32(b->num_pages), htole32(b->actual), htole32(b->hint_cmd), 0 };

	memcpy(img, v, BALLOON_CONFIG_SIZE);
}

static void balloon_config_read(struct virtio_dev *vdev, uint64_t off, void *data, unsigned len)
{
	uint8_t img[BALLOON_CONFIG_SIZE];

	config_image(to_balloon(vdev), img);
	memcpy(data, img + off, len);
}

static void balloon_config_write(struct virtio_dev *vdev, uint64_t off, const void *data,
				 unsigned len)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint8_t img[BALLOON_CONFIG_SIZE];
	uint32_t actual;

	/* Only `actual` is the driver's to write (poison_val too, never offered). */
	if (off < 4 || off + len > 8) {
		counter_inc(&b->cfg_fails);
		return;
	}
	config_image(b, img);
	memcpy(img + off, data, len);
	memcpy(&actual, img + 4, sizeof(actual));
	b->actual = le32toh(actual);
	counter_set(&b->actual_pages, b->actual);
}

/* Returns a chain the device is done with; a malformed ring asks for a reset. */
static bool pop_chain(struct virtio_balloon *b, struct virtqueue *vq, int *r)
{
	*r = virtq_pop(vq, b->chain);
	if (*r >= 0)
		return *r != 0;
	counter_inc(&b->event_fails);
	virtio_dev_needs_reset(&b->vdev);
	if (!vq->broken && b->chain->head < vq->size)
		virtq_push(vq, b->chain->head, 0);
	return !vq->broken;
}

static void do_pfns(struct virtio_balloon *b, bool inflate)
{
	const struct virtq_chain *c = b->chain;
	struct balloon_result res;
	int n = balloon_pfns_parse(c->iov, c->out_num, c->in_num, b->pfns);

	if (n < 0) {
		/* Too many frames, or not a frame list: refused whole. */
		counter_inc(&b->event_fails);
		return;
	}
	if (inflate) {
		balloon_inflate(&b->pages, b->pfns, (unsigned int)n, &res);
		counter_inc(&b->inflate_count);
	} else {
		balloon_deflate(&b->pages, b->pfns, (unsigned int)n, &res);
		counter_inc(&b->deflate_count);
	}
	counter_add(&b->bad_pfns, res.bad);
	counter_add(&b->duplicate_pfns, res.dup);
	counter_add(&b->freed_bytes, res.freed);
	counter_set(&b->held_pages, b->pages.held);
	if (res.err) {
		counter_inc(&b->discard_fails);
		pr_warn("%s: giving pages back to the host: %s", b->vdev.dev.name,
			strerror(-res.err));
	}
}

static void do_stats(struct virtio_balloon *b, struct virtqueue *vq)
{
	const struct virtq_chain *c = b->chain;

	/* A driver that sends a second buffer gets the first one back. */
	if (b->stats_head >= 0)
		virtq_push(vq, (uint16_t)b->stats_head, 0);
	if (balloon_stats_parse(c->iov, c->out_num, c->in_num, &b->stats)) {
		counter_inc(&b->stats_update_fails);
		b->stats_head = -1;
		virtq_push(vq, c->head, 0);
		return;
	}
	counter_inc(&b->stats_updates_count);
	/* Held until the timer asks for the next update (§5.5.6.3). */
	b->stats_head = c->head;
}

static void do_hint(struct virtio_balloon *b)
{
	const struct virtq_chain *c = b->chain;
	uint32_t cmd;
	int64_t freed;

	if (c->out_num) {
		/* The guest's command: the id of the run it reports for, or STOP. */
		if (c->in_num ||
		    iov_to_buf(c->iov, c->out_num, 0, &cmd, sizeof(cmd)) != sizeof(cmd)) {
			counter_inc(&b->free_page_hint_fails);
			return;
		}
		b->guest_cmd = le32toh(cmd);
		b->guest_seen = true;
		if (b->guest_cmd == BALLOON_CMD_ID_STOP && b->ack_on_stop &&
		    b->hint_cmd >= BALLOON_CMD_ID_MIN) {
			b->hint_cmd = BALLOON_CMD_ID_DONE;
			virtio_dev_config_changed(&b->vdev);
		}
		return;
	}
	/* Hints count only inside the run the host asked for. */
	if (b->hint_cmd < BALLOON_CMD_ID_MIN || b->guest_cmd != b->hint_cmd)
		return;
	counter_inc(&b->free_page_hint_count);
	freed = balloon_discard_iov(&b->vdev.vm->mem, c->iov + c->out_num, c->in_num);
	if (freed < 0)
		counter_inc(&b->free_page_hint_fails);
	else
		counter_add(&b->free_page_hint_freed, (uint64_t)freed);
}

static void do_report(struct virtio_balloon *b)
{
	const struct virtq_chain *c = b->chain;
	int64_t freed;

	counter_inc(&b->free_page_report_count);
	if (c->out_num) {
		counter_inc(&b->free_page_report_fails);
		return;
	}
	freed = balloon_discard_iov(&b->vdev.vm->mem, c->iov, c->in_num);
	if (freed < 0)
		counter_inc(&b->free_page_report_fails);
	else
		counter_add(&b->free_page_report_freed, (uint64_t)freed);
}

static void balloon_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_balloon *b = to_balloon(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	enum balloon_role role = q < BALLOON_NUM_QUEUES ? b->role[q] : ROLE_NONE;
	unsigned int budget = vq->size;
	int r;

	while (budget-- && pop_chain(b, vq, &r)) {
		if (r < 0)
			continue;
		switch (role) {
		case ROLE_INFLATE:
		case ROLE_DEFLATE:
			do_pfns(b, role == ROLE_INFLATE);
			break;
		case ROLE_STATS:
			do_stats(b, vq);
			continue; /* answered (or held) there */
		case ROLE_HINT:
			do_hint(b);
			break;
		case ROLE_REPORT:
			do_report(b);
			break;
		case ROLE_NONE:
			/* A queue the negotiated features do not have. */
			counter_inc(&b->event_fails);
			break;
		}
		virtq_push(vq, b->chain->head, 0);
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	virtq_notify(vq);
}

static void timer_arm(struct virtio_balloon *b, uint64_t first_ns, uint64_t interval_s)
{
	struct itimerspec its = {
		.it_value = { .tv_sec = (time_t)(first_ns / 1000000000),
			      .tv_nsec = (long)(first_ns % 1000000000) },
		.it_interval = { .tv_sec = (time_t)interval_s },
	};

	if (b->timer_fd >= 0 && timerfd_settime(b->timer_fd, 0, &its, NULL))
		pr_warn("%s: statistics timer: %s", b->vdev.dev.name, strerror(errno));
}

/* The statistics interval passed: the held buffer goes back, the guest refills it. */
static void balloon_timer_fn(struct loop_handler *h, uint32_t events)
{
	struct virtio_balloon *b = container_of(h, struct virtio_balloon, timer);
	struct virtqueue *vq;
	uint64_t ticks;
	unsigned int q;

	(void)events;
	if (read(h->fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&b->vdev.lock);
	for (q = 0; q < BALLOON_NUM_QUEUES; q++)
		if (b->role[q] == ROLE_STATS)
			break;
	vq = virtio_dev_vq(&b->vdev, q);
	if (b->vdev.active && vq && vq->enabled && b->stats_head >= 0) {
		virtq_push(vq, (uint16_t)b->stats_head, 0);
		b->stats_head = -1;
		virtq_notify(vq);
	}
	pthread_mutex_unlock(&b->vdev.lock);
}

static int balloon_activate(struct virtio_dev *vdev)
{
	static const struct {
		int bit;
		enum balloon_role role;
	} optional[] = {
		{ BALLOON_F_STATS_VQ, ROLE_STATS },
		{ BALLOON_F_FREE_PAGE_HINT, ROLE_HINT },
		{ BALLOON_F_PAGE_REPORTING, ROLE_REPORT },
	};
	struct virtio_balloon *b = to_balloon(vdev);
	unsigned int i, q = 0;

	memset(b->role, 0, sizeof(b->role));
	b->role[q++] = ROLE_INFLATE;
	b->role[q++] = ROLE_DEFLATE;
	for (i = 0; i < ARRAY_SIZE(optional); i++)
		if (virtio_has_feature(vdev, (unsigned int)optional[i].bit))
			b->role[q++] = optional[i].role;
	b->stats_head = -1;
	if (virtio_has_feature(vdev, BALLOON_F_STATS_VQ))
		timer_arm(b, b->stats_interval * 1000000000ULL, b->stats_interval);
	return 0;
}

static void balloon_reset(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	timer_arm(b, 0, 0);
	b->stats_head = -1;
	memset(b->role, 0, sizeof(b->role));
	/* A new driver starts with an empty balloon: the guest owns every page again. */
	balloon_pages_clear(&b->pages);
	b->actual = 0;
	b->guest_cmd = 0;
	b->guest_seen = false;
	counter_set(&b->actual_pages, 0);
	counter_set(&b->held_pages, 0);
}

static int balloon_init(struct virtio_dev *vdev, const void *args)
{
	struct virtio_balloon *b = to_balloon(vdev);
	int err;

	b->cfg = *(const struct balloon_config *)args;
	b->num_pages = (uint32_t)(b->cfg.amount_mib * BALLOON_PAGES_PER_MIB);
	b->stats_interval = b->cfg.stats_polling_interval_s;
	b->stats_head = -1;
	b->timer_fd = -1;
	stats_node_init(&vdev->dev.stats, vdev->dev.stats.id, balloon_counters,
			ARRAY_SIZE(balloon_counters), b);
	counter_set(&b->target_pages, b->num_pages);

	b->chain = mvm_zalloc(sizeof(*b->chain));
	if (!b->chain)
		return -ENOMEM;
	b->pfns = mvm_calloc(BALLOON_MAX_PFNS, sizeof(*b->pfns));
	if (!b->pfns) {
		err = -ENOMEM;
		goto err_chain;
	}
	err = balloon_pages_init(&b->pages, &vdev->vm->mem);
	if (err)
		goto err_pfns;
	/* Statistics cannot be turned on after boot: no timer unless asked for now. */
	if (b->stats_interval) {
		b->timer_fd = mvm_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
		if (b->timer_fd < 0) {
			err = -errno;
			pr_err("%s: timerfd_create: %s", vdev->dev.name, strerror(-err));
			goto err_pages;
		}
		b->timer.fd = b->timer_fd;
		b->timer.fn = balloon_timer_fn;
		err = loop_add(&vdev->vm->loop, &b->timer, EPOLLIN);
		if (err)
			goto err_timer;
	}
	return 0;

err_timer:
	close(b->timer_fd);
err_pages:
	balloon_pages_fini(&b->pages);
err_pfns:
	free(b->pfns);
err_chain:
	free(b->chain);
	return err;
}

static void balloon_release(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	if (b->timer_fd >= 0) {
		loop_del(&vdev->vm->loop, &b->timer);
		close(b->timer_fd);
	}
	balloon_pages_fini(&b->pages);
	free(b->pfns);
	free(b->chain);
}

/*
 * The config space, the pages the balloon holds (so deflates are still
 * checked against them), the statistics and the hinting run; a statistics
 * buffer the device held stays held (the guest still waits for it).
 * Called with vdev->lock held.
 */
static int balloon_save(struct virtio_dev *vdev, struct snap_buf *out)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint64_t i, words = (b->pages.nr + 63) / 64;
	unsigned int t;

	snap_put_u32(out, b->num_pages);
	snap_put_u32(out, b->actual);
	snap_put_u32(out, b->hint_cmd);
	snap_put_u32(out, (uint32_t)b->stats_head);
	snap_put_u64(out, b->stats_interval);
	snap_put_u32(out, b->last_run);
	snap_put_u32(out, b->guest_cmd);
	snap_put_u8(out, b->guest_seen);
	snap_put_u8(out, b->ack_on_stop);
	snap_put_u32(out, b->stats.have);
	for (t = 0; t < BALLOON_S_NR; t++)
		snap_put_u64(out, b->stats.val[t]);
	snap_put_u64(out, b->pages.nr);
	for (i = 0; i < words; i++)
		snap_put_u64(out, b->pages.bits[i]);
	return out->err;
}

static int balloon_restore(struct virtio_dev *vdev, struct snap_cur *in)
{
	struct virtio_balloon *b = to_balloon(vdev);
	uint64_t i, nr, words, held = 0;
	unsigned int t;
	int32_t head;

	b->num_pages = snap_get_u32(in);
	b->actual = snap_get_u32(in);
	b->hint_cmd = snap_get_u32(in);
	head = (int32_t)snap_get_u32(in);
	b->stats_interval = snap_get_u64(in);
	b->last_run = snap_get_u32(in);
	b->guest_cmd = snap_get_u32(in);
	b->guest_seen = snap_get_u8(in);
	b->ack_on_stop = snap_get_u8(in);
	b->stats.have = snap_get_u32(in);
	for (t = 0; t < BALLOON_S_NR; t++)
		b->stats.val[t] = snap_get_u64(in);
	nr = snap_get_u64(in);
	if (in->err || nr != b->pages.nr || head < -1 || head >= BALLOON_QUEUE_SIZE) {
		pr_err("%s: saved balloon state is malformed or for other RAM", vdev->dev.name);
		return -EBADMSG;
	}
	words = (nr + 63) / 64;
	for (i = 0; i < words; i++) {
		b->pages.bits[i] = snap_get_u64(in);
		held += (uint64_t)__builtin_popcountll(b->pages.bits[i]);
	}
	if (snap_cur_end(in))
		return -EBADMSG;
	b->pages.held = held;
	b->restored_stats_head = head;
	return 0;
}

static void balloon_restored(struct virtio_dev *vdev)
{
	struct virtio_balloon *b = to_balloon(vdev);

	pthread_mutex_lock(&vdev->lock);
	b->stats_head = b->restored_stats_head;
	pthread_mutex_unlock(&vdev->lock);
}

static const struct virtio_dev_ops balloon_ops = {
	.type = "virtio-balloon",
	.device_id = VIRTIO_ID_BALLOON,
	.num_queues = BALLOON_NUM_QUEUES,
	.queue_max_size = BALLOON_QUEUE_SIZE,
	.init = balloon_init,
	.release = balloon_release,
	.get_features = balloon_get_features,
	.config_size = BALLOON_CONFIG_SIZE,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.activate = balloon_activate,
	.queue_notify = balloon_queue_notify,
	.reset = balloon_reset,
	.save = balloon_save,
	.restore = balloon_restore,
	.restored = balloon_restored,
};

/* ---- the control plane's calls (mvm/balloon.h) ---- */

/* The VM's balloon with a reference, or NULL. */
static struct virtio_balloon *balloon_get(struct vm *vm)
{
	struct virtio_balloon *b = NULL;
	struct mvm_device *dev;

	if (!vm)
		return NULL;
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (dev->type == balloon_ops.type) {
			mvm_device_get(dev);
			b = to_balloon(to_virtio_dev(dev));
			break;
		}
	pthread_mutex_unlock(&vm->lock);
	return b;
}

static void balloon_put(struct virtio_balloon *b)
{
	mvm_device_put(&b->vdev.dev);
}

static bool driver_ok(struct virtio_balloon *b)
{
	return __atomic_load_n(&b->vdev.status, __ATOMIC_ACQUIRE) & VIRTIO_STATUS_DRIVER_OK;
}

int balloon_set_target_mib(struct vm *vm, uint64_t mib)
{
	struct virtio_balloon *b = balloon_get(vm);

	if (!b)
		return -ENODEV;
	if (mib > (vm->mem.size >> 20)) {
		balloon_put(b);
		return -EINVAL;
	}
	pthread_mutex_lock(&b->vdev.lock);
	b->num_pages = (uint32_t)(mib * BALLOON_PAGES_PER_MIB);
	b->cfg.amount_mib = mib;
	counter_set(&b->target_pages, b->num_pages);
	pthread_mutex_unlock(&b->vdev.lock);
	if (driver_ok(b))
		virtio_dev_config_changed(&b->vdev);
	balloon_put(b);
	return 0;
}

int balloon_get_status(struct vm *vm, struct balloon_status *st)
{
	struct virtio_balloon *b = balloon_get(vm);

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->vdev.lock);
	st->target_pages = b->num_pages;
	st->actual_pages = b->actual;
	st->held_pages = b->pages.held;
	st->stats_enabled = b->stats_interval != 0;
	st->stats = b->stats;
	pthread_mutex_unlock(&b->vdev.lock);
	balloon_put(b);
	return 0;
}

int balloon_set_stats_interval(struct vm *vm, uint64_t seconds)
{
	struct virtio_balloon *b = balloon_get(vm);
	int err = 0;

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->vdev.lock);
	if (!seconds != !b->stats_interval || seconds > BALLOON_MAX_INTERVAL_S) {
		err = -EINVAL;
	} else if (seconds != b->stats_interval) {
		b->stats_interval = seconds;
		b->cfg.stats_polling_interval_s = seconds;
		if (b->vdev.active && virtio_has_feature(&b->vdev, BALLOON_F_STATS_VQ))
			timer_arm(b, BALLOON_FIRST_STATS_NSEC, seconds);
	}
	pthread_mutex_unlock(&b->vdev.lock);
	balloon_put(b);
	return err;
}

static int hint_set(struct vm *vm, uint32_t cmd, bool start, bool ack_on_stop)
{
	struct virtio_balloon *b = balloon_get(vm);
	int err = 0;

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->vdev.lock);
	if (!b->cfg.free_page_hinting) {
		err = -EOPNOTSUPP;
	} else if (start) {
		/* A new run has a new id (2 and up, wrapping past the reserved ones). */
		b->last_run = b->last_run < BALLOON_CMD_ID_MIN || b->last_run == UINT32_MAX
				      ? BALLOON_CMD_ID_MIN
				      : b->last_run + 1;
		b->hint_cmd = b->last_run;
		b->ack_on_stop = ack_on_stop;
		b->guest_seen = false;
	} else {
		b->hint_cmd = cmd;
	}
	pthread_mutex_unlock(&b->vdev.lock);
	if (!err && driver_ok(b))
		virtio_dev_config_changed(&b->vdev);
	balloon_put(b);
	return err;
}

int balloon_hint_start(struct vm *vm, bool ack_on_stop)
{
	return hint_set(vm, 0, true, ack_on_stop);
}

int balloon_hint_stop(struct vm *vm)
{
	return hint_set(vm, BALLOON_CMD_ID_DONE, false, false);
}

int balloon_hint_status(struct vm *vm, struct balloon_hint_status *st)
{
	struct virtio_balloon *b = balloon_get(vm);
	int err = 0;

	if (!b)
		return -ENODEV;
	pthread_mutex_lock(&b->vdev.lock);
	if (!b->cfg.free_page_hinting) {
		err = -EOPNOTSUPP;
	} else {
		st->host_cmd = b->hint_cmd;
		st->guest_cmd = b->guest_cmd;
		st->guest_seen = b->guest_seen;
	}
	pthread_mutex_unlock(&b->vdev.lock);
	balloon_put(b);
	return err;
}

/* ---- the device type ---- */

static int balloon_create(struct vm *vm, const void *blob, unsigned int index)
{
	struct virtio_balloon *b;

	(void)index;
	b = virtio_dev_create(struct virtio_balloon, vdev, vm, &balloon_ops, "virtio-balloon",
			      blob);
	return IS_ERR(b) ? (int)PTR_ERR(b) : 0;
}

/* The balloon cannot ask for more than the VM's RAM. */
static int balloon_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
			 size_t len)
{
	const struct balloon_config *c = blob;

	(void)self;
	if (c->amount_mib > (cfg->mem_size >> 20)) {
		snprintf(msg, len, "amount_mib %llu is more than the VM's %llu MiB of RAM",
			 (unsigned long long)c->amount_mib,
			 (unsigned long long)(cfg->mem_size >> 20));
		return -EINVAL;
	}
	return 0;
}

static int balloon_update(struct vm *vm, const char *id, const void *blob, char *msg, size_t len)
{
	const struct balloon_config *c = blob;
	int err;

	(void)id;
	err = balloon_set_target_mib(vm, c->amount_mib);
	if (err == -EINVAL)
		snprintf(msg, len, "amount_mib %llu is more than the VM's %llu MiB of RAM",
			 (unsigned long long)c->amount_mib,
			 (unsigned long long)(vm->mem.size >> 20));
	if (err)
		goto out;
	err = balloon_set_stats_interval(vm, c->stats_polling_interval_s);
	if (err == -EINVAL)
		snprintf(msg, len,
			 "statistics cannot be turned on or off after boot (interval %llu s)",
			 (unsigned long long)c->stats_polling_interval_s);
out:
	if (err == -ENODEV)
		snprintf(msg, len, "the VM has no balloon device");
	return err;
}

#define BALLOON_OPT(field) offsetof(struct balloon_config, field)
static const struct mvm_opt balloon_opts[] = {
	{ MVM_OPT("amount_mib", NULL, MVM_OPT_UINT,
		  MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED | MVM_OPT_PATCH, BALLOON_OPT(amount_mib)),
	  .max = UINT32_MAX / BALLOON_PAGES_PER_MIB,
	  .help = "target size in MiB: memory the guest gives back to the host" },
	/* Firecracker requires it in the API; on the command line it is a flag. */
	{ MVM_OPT("deflate_on_oom", NULL, MVM_OPT_BOOL, MVM_OPT_CLI_ONLY,
		  BALLOON_OPT(deflate_on_oom)),
	  .help = "the guest may deflate the balloon when it runs out of memory" },
	{ MVM_OPT("deflate_on_oom", NULL, MVM_OPT_BOOL, MVM_OPT_API_ONLY | MVM_OPT_REQUIRED,
		  BALLOON_OPT(deflate_on_oom)) },
	{ MVM_OPT("stats_polling_interval_s", NULL, MVM_OPT_UINT, MVM_OPT_PATCH,
		  BALLOON_OPT(stats_polling_interval_s)),
	  .max = BALLOON_MAX_INTERVAL_S,
	  .help = "seconds between guest statistics updates; 0: no statistics" },
	{ MVM_OPT("free_page_hinting", NULL, MVM_OPT_BOOL, 0, BALLOON_OPT(free_page_hinting)),
	  .help = "free page hinting runs (started and stopped through the API)" },
	{ MVM_OPT("free_page_reporting", NULL, MVM_OPT_BOOL, 0, BALLOON_OPT(free_page_reporting)),
	  .help = "the guest reports free memory, which goes back to the host" },
	MVM_OPT_END,
};

static const struct mvm_device_type virtio_balloon_type = {
	.name = "virtio-balloon",
	.summary = "virtio-balloon: guest memory given back to the host",
	.order = MVM_ORDER_VIRTIO + 3,
	.cli = "balloon",
	.cli_arg = "MIB",
	.api = "balloon",
	.api_noun = "balloon device",
	.singleton = true,
	.max = 1,
	.config_size = sizeof(struct balloon_config),
	.opts = balloon_opts,
	.check = balloon_check,
	.create = balloon_create,
	.update = balloon_update,
};
MVM_DEVICE_TYPE(virtio_balloon_type);
