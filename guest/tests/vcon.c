// SPDX-License-Identifier: MIT
/*
 * vcon: virtio-console (hvc0) echo. Writes "vcon: ready" on the transmit
 * queue, then echoes every line it receives as "vcon: echo LINE" on both
 * the console and the UART; exits 0 after a line "q".
 */
#include "guest.h"
#include "virtio.h"

#define RXQ 0
#define TXQ 1

static struct vdev v;
static struct vq rx, tx;
static uint8_t *rxbuf, *txbuf;

static void con_write(const char *s, uint32_t len)
{
	struct vbuf b = { txbuf, len };

	memcpy(txbuf, s, len);
	vq_add(&tx, &b, 1, 0);
	vq_kick(&tx);
	vq_wait(&tx, NULL, 200000000ul);
}

static void post_rx(void)
{
	struct vbuf b = { rxbuf, 256 };

	vq_add(&rx, &b, 0, 1);
	vq_kick(&rx);
}

int main(void)
{
	char line[256], out[300];
	unsigned int n = 0;

	if (vdev_open(&v, VIRTIO_PCI_DEVICE(3), 0, 0) || vq_setup(&v, &rx, RXQ, 16) ||
	    vq_setup(&v, &tx, TXQ, 16)) {
		puts("vcon: no usable virtio-console device");
		return 2;
	}
	rxbuf = dma_alloc(256, 64);
	txbuf = dma_alloc(512, 64);
	vdev_driver_ok(&v);
	post_rx();
	con_write("vcon: ready\r\n", 13);
	printf("vcon: ready (uart), on virtio-%s\n", vdev_transport(&v));
	for (;;) {
		uint32_t len = 0;

		if (vq_wait(&rx, &len, 0) < 0)
			continue;
		for (uint32_t i = 0; i < len && i < 256; i++) {
			char c = (char)rxbuf[i];

			if (c == '\r' || c == '\n') {
				int k;

				line[n] = 0;
				if (!n)
					continue;
				k = snprintf(out, sizeof(out), "vcon: echo %s\r\n", line);
				con_write(out, (uint32_t)k);
				printf("vcon: echo %s (uart)\n", line);
				if (!strcmp(line, "q"))
					return 0;
				n = 0;
			} else if (n < sizeof(line) - 1) {
				line[n++] = c;
			}
		}
		post_rx();
	}
}
