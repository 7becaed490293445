// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the vfio-user codec (src/vfio/user_msg.c) on messages
 * a server could send: any header, payload, and 0..3 fds.
 *
 * Input: [what][nfds][index][count lo][count hi] then the message (its
 * header's size field is forced to the real length half of the time, so
 * the parsers see well-framed lies as well as broken frames). The payload
 * is copied into a heap block of exactly its size, so ASan sees any read
 * past it. `what` picks the parser; every one must answer 0 or -errno and
 * never read outside the message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vfio/user_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fds[3] = { 1000, 1001, 1002 };
	uint8_t out[256], read_buf[512];
	struct vfu_caps caps;
	struct vfu_dma_req d;
	struct vfio_region r;
	struct vfu_msg m;
	uint32_t a, b, count;
	size_t len;
	uint8_t *copy;

	if (size < 5 + VFU_HDR_SIZE)
		return 0;
	count = (uint32_t)(data[3] | data[4] << 8) % sizeof(read_buf);
	len = size - 5;
	copy = malloc(len);
	if (!copy)
		return 0;
	memcpy(copy, data + 5, len);
	if (data[0] & 0x80) {
		uint32_t real = (uint32_t)len;

		memcpy(copy + 4, &real, 4);
	}
	memset(&m, 0, sizeof(m));
	if (vfu_hdr_decode(copy, &m.hdr, VFU_MAX_MSG) || m.hdr.size != len)
		goto out;
	m.payload = copy + VFU_HDR_SIZE;
	m.len = len - VFU_HDR_SIZE;
	m.fds = fds;
	m.nfds = data[1] % 4;
	vfu_reply_matches(&m.hdr, 1, m.hdr.cmd);
	vfu_reply_status(&m, 1);
	switch (data[0] & 7) {
	case 0:
		vfu_parse_version(&m, &caps);
		break;
	case 1:
		vfu_parse_device_info(&m, &a, &b);
		break;
	case 2:
		memset(&r, 0, sizeof(r));
		if (!vfu_parse_region_info(&m, data[2], &r, &a) && !a && !vfio_areas_valid(&r))
			abort(); /* accepted areas must be valid */
		break;
	case 3:
		vfu_parse_irq_info(&m, data[2], &a);
		break;
	case 4:
		vfu_parse_region_read(&m, data[2], 0, read_buf, count);
		break;
	default:
		if (!vfu_parse_dma_req(&m, &d, 4096)) {
			if (d.count > 4096)
				abort();
			vfu_build_dma_reply(out, sizeof(out), &m.hdr, &d, NULL, 0);
			if (m.hdr.cmd == VFU_DMA_WRITE && d.count)
				memcpy(read_buf, d.data, d.count < sizeof(read_buf) ? d.count : 1);
		}
		break;
	}
out:
	free(copy);
	return 0;
}
