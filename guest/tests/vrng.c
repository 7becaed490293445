// SPDX-License-Identifier: MIT
/*
 * vrng: reads the virtio-rng device (guest kit driver): several requests of
 * various sizes must come back with bytes written, and the bytes must not be
 * all zero or all the same. Prints PASS/FAIL and "vrng: N passed, M failed".
 */
#include "guest.h"
#include "virtio.h"

static struct vdev v;
static struct vq q;

int main(void)
{
	static const uint32_t sizes[] = { 1, 16, 64, 512, 4096 };
	uint8_t *buf = dma_alloc(4096, 4096);
	unsigned int total = 0, distinct = 0;
	bool seen[256] = { false };

	if (vdev_open(&v, VIRTIO_PCI_DEVICE(4), 0, 0) || vq_setup(&v, &q, 0, 16)) {
		puts("vrng: no usable virtio-rng device");
		return 2;
	}
	printf("vrng: on virtio-%s\n", vdev_transport(&v));
	vdev_driver_ok(&v);
	for (unsigned int i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct vbuf b = { buf, sizes[i] };
		char name[32];
		uint32_t len = 0;
		int head;

		memset(buf, 0, sizes[i]);
		vq_add(&q, &b, 0, 1);
		vq_kick(&q);
		head = vq_wait(&q, &len, 200000000ul);
		snprintf(name, sizeof(name), "rng.%u_bytes", sizes[i]);
		guest_check(name, head >= 0 && len > 0 && len <= sizes[i], 1);
		for (uint32_t j = 0; head >= 0 && j < len && j < sizes[i]; j++) {
			if (!seen[buf[j]])
				distinct++;
			seen[buf[j]] = true;
		}
		total += head >= 0 ? len : 0;
	}
	printf("vrng: %u bytes, %u distinct values\n", total, distinct);
	guest_check("rng.bytes_vary", distinct > 64, 1);
	return guest_check_summary("vrng");
}
