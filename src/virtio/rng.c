// SPDX-License-Identifier: MIT
/*
 * virtio-rng (virtio 1.x §5.4): one request queue; each chain's
 * device-writable buffers are filled from the host's getrandom().
 * Like kvmtool's virtio/rng.c, the device does not know its transport.
 * An optional rate limiter (PUT /entropy's rate_limiter) charges each
 * request one op and its bytes; a request it holds back waits for the
 * limiter's timer.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>

#include "mvm/log.h"
#include "mvm/rate_limiter.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#include "mvm/devtype.h"
#include "mvm/virtio.h"

/* Bytes per request at most: a request asking for more gets a short answer. */
#define RNG_MAX_REQUEST (64 * 1024)

/* --rng / PUT /entropy: the options are Firecracker's entropy device's. */
struct rng_config {
	struct mvm_rate_limiter_config rate_limiter;
	bool rate_limiter_set;
};

struct virtio_rng {
	struct virtio_dev vdev; /* first */
	struct virtq_chain *chain;
	bool held; /* chain waits for the rate limiter */
	struct rate_limiter rl;
};

static struct virtio_rng *to_rng(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_rng, vdev);
}

static uint32_t rng_room(const struct virtq_chain *c)
{
	size_t room = 0;

	for (unsigned int i = c->out_num; i < c->out_num + c->in_num; i++)
		room += c->iov[i].iov_len;
	return (uint32_t)MIN(room, (size_t)RNG_MAX_REQUEST);
}

/* Fills the writable buffers; bytes written. */
static uint32_t rng_fill(const struct virtq_chain *c)
{
	uint32_t done = 0;
	unsigned int i;

	for (i = c->out_num; i < c->out_num + c->in_num && done < RNG_MAX_REQUEST; i++) {
		size_t want = MIN(c->iov[i].iov_len, (size_t)(RNG_MAX_REQUEST - done));
		ssize_t n;

		do
			n = getrandom(c->iov[i].iov_base, want, 0);
		while (n < 0 && errno == EINTR);
		if (n <= 0)
			break;
		done += (uint32_t)n;
		if ((size_t)n < want)
			break;
	}
	return done;
}

/* Serves the queue; vdev->lock held (event-loop thread). */
static void rng_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_rng *rng = to_rng(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	unsigned int budget = vq->size;
	bool done = false;
	int r;

	if (!vdev->active)
		return;
	/* A ring's worth per kick; the driver kicks again for more. */
	while (budget--) {
		if (!rng->held) {
			r = virtq_pop(vq, rng->chain);
			if (r == 0)
				break;
			if (r < 0) {
				virtio_dev_needs_reset(vdev);
				if (vq->broken)
					break;
				if (rng->chain->head < vq->size)
					virtq_push(vq, rng->chain->head, 0);
				done = true;
				continue;
			}
		}
		if (!rate_limiter_consume(&rng->rl, rng_room(rng->chain))) {
			rng->held = true; /* the limiter's timer resumes us */
			break;
		}
		rng->held = false;
		virtq_push(vq, rng->chain->head, rng_fill(rng->chain));
		done = true;
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	if (done)
		virtq_notify(vq);
}

static void rng_resume(struct rate_limiter *rl)
{
	struct virtio_rng *rng = container_of(rl, struct virtio_rng, rl);

	pthread_mutex_lock(&rng->vdev.lock);
	if (virtio_dev_vq(&rng->vdev, 0)->enabled)
		rng_queue_notify(&rng->vdev, 0);
	pthread_mutex_unlock(&rng->vdev.lock);
}

/* A driver reset forgets a held chain (the ring is the driver's again). */
static void rng_reset(struct virtio_dev *vdev)
{
	to_rng(vdev)->held = false;
}

static int rng_init(struct virtio_dev *vdev, const void *args)
{
	const struct rng_config *cfg = args;
	struct virtio_rng *rng = to_rng(vdev);
	int err;

	rng->chain = mvm_zalloc(sizeof(*rng->chain));
	if (!rng->chain)
		return -ENOMEM;
	err = rate_limiter_init(&rng->rl, cfg && cfg->rate_limiter_set ? &cfg->rate_limiter : NULL,
				&vdev->vm->loop, rng_resume);
	if (err) {
		free(rng->chain);
		return err;
	}
	return 0;
}

static void rng_release(struct virtio_dev *vdev)
{
	rate_limiter_fini(&to_rng(vdev)->rl);
	free(to_rng(vdev)->chain);
}

static const struct virtio_dev_ops rng_ops = {
	.type = "virtio-rng",
	.device_id = VIRTIO_ID_RNG,
	.num_queues = 1,
	.queue_max_size = 256,
	.init = rng_init,
	.release = rng_release,
	.queue_notify = rng_queue_notify,
	.reset = rng_reset,
	.save = virtio_dev_save_none,
	.restore = virtio_dev_restore_none,
};

static struct virtio_dev *rng_create_cfg(struct vm *vm, const struct rng_config *cfg)
{
	struct virtio_rng *rng;

	rng = virtio_dev_create(struct virtio_rng, vdev, vm, &rng_ops, "virtio-rng", cfg);
	return IS_ERR(rng) ? (struct virtio_dev *)rng : &rng->vdev;
}

struct virtio_dev *virtio_rng_create(struct vm *vm)
{
	return rng_create_cfg(vm, NULL);
}

static const struct mvm_opt rng_opts[] = {
	{ MVM_OPT("rate_limiter", NULL, MVM_OPT_OBJECT, MVM_OPT_API_ONLY,
		  offsetof(struct rng_config, rate_limiter)),
	  .sub = mvm_rate_limiter_opts, .set_offset = offsetof(struct rng_config, rate_limiter_set),
	  .help = "token buckets: bandwidth in bytes, ops in requests" },
	MVM_OPT_END,
};

static int rng_create(struct vm *vm, const void *blob, unsigned int index)
{
	return PTR_ERR_OR_ZERO(rng_create_cfg(vm, blob));
}

static const struct mvm_device_type virtio_rng_type = {
	.name = "virtio-rng",
	.summary = "virtio-rng, fed from the host's getrandom()",
	.order = MVM_ORDER_VIRTIO + 1,
	.cli = "rng",
	.api = "entropy",
	.api_noun = "entropy device",
	.singleton = true,
	.max = 1,
	.config_size = sizeof(struct rng_config),
	.opts = rng_opts,
	.create = rng_create,
};
MVM_DEVICE_TYPE(virtio_rng_type);
