// SPDX-License-Identifier: MIT
/*
 * virtio-rng (virtio 1.x §5.4): one request queue; each chain's
 * device-writable buffers are filled from the host's getrandom().
 * Like kvmtool's virtio/rng.c, the device does not know its transport.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/random.h>

#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"

#include "mvm/devtype.h"
#include "mvm/virtio.h"

/* Bytes per request at most: a request asking for more gets a short answer. */
#define RNG_MAX_REQUEST (64 * 1024)

struct virtio_rng {
	struct virtio_dev vdev; /* first */
	struct virtq_chain *chain;
};

static struct virtio_rng *to_rng(struct virtio_dev *vdev)
{
	return container_of(vdev, struct virtio_rng, vdev);
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

static void rng_queue_notify(struct virtio_dev *vdev, unsigned int q)
{
	struct virtio_rng *rng = to_rng(vdev);
	struct virtqueue *vq = virtio_dev_vq(vdev, q);
	unsigned int budget = vq->size;
	int r;

	/* A ring's worth per kick; the driver kicks again for more. */
	while (budget-- && (r = virtq_pop(vq, rng->chain)) != 0) {
		if (r < 0) {
			virtio_dev_needs_reset(vdev);
			if (vq->broken)
				break;
			if (rng->chain->head < vq->size)
				virtq_push(vq, rng->chain->head, 0);
			continue;
		}
		virtq_push(vq, rng->chain->head, rng_fill(rng->chain));
	}
	if (budget == UINT_MAX && !vq->broken)
		virtq_kick(vq); /* more to do: after the loop's other work */
	virtq_notify(vq);
}

static int rng_init(struct virtio_dev *vdev, const void *args)
{
	struct virtio_rng *rng = to_rng(vdev);

	(void)args;
	rng->chain = mvm_zalloc(sizeof(*rng->chain));
	return rng->chain ? 0 : -ENOMEM;
}

static void rng_release(struct virtio_dev *vdev)
{
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
};

struct virtio_dev *virtio_rng_create(struct vm *vm)
{
	struct virtio_rng *rng;

	rng = virtio_dev_create(struct virtio_rng, vdev, vm, &rng_ops, "virtio-rng", NULL);
	return IS_ERR(rng) ? (struct virtio_dev *)rng : &rng->vdev;
}

/* --rng / PUT /entropy: the options are Firecracker's entropy device's. */
struct rng_config {
	bool unused;
};

static const struct mvm_opt rng_opts[] = {
	{ MVM_OPT("rate_limiter", NULL, MVM_OPT_UNSUPPORTED, MVM_OPT_API_ONLY, 0),
	  .help = "rate limiting of the entropy device is not supported by mvm yet" },
	MVM_OPT_END,
};

static int rng_create(struct vm *vm, const void *blob, unsigned int index)
{
	return PTR_ERR_OR_ZERO(virtio_rng_create(vm));
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
