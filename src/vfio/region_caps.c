// SPDX-License-Identifier: MIT
/* A VFIO region's info, as a device (kernel or vfio-user server) reports it: checked. */
#include <errno.h>
#include <string.h>

#include "vfio/vfio.h"

#define CAP_SPARSE_MMAP 1 /* VFIO_REGION_INFO_CAP_SPARSE_MMAP */
#define MAX_CAP_HOPS	16
#define PAGE_MASK_4K	4095ULL

static uint32_t get32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return get32(p) | (uint64_t)get32(p + 4) << 32;
}

bool vfio_areas_valid(const struct vfio_region *r)
{
	unsigned int i;

	if (r->nr_areas > VFIO_MAX_AREAS)
		return false;
	for (i = 0; i < r->nr_areas; i++) {
		const struct vfio_area *a = &r->areas[i];

		if (!a->size || (a->off | a->size) & PAGE_MASK_4K || a->off > r->size ||
		    a->size > r->size - a->off)
			return false;
	}
	return true;
}

int vfio_region_caps_parse(const uint8_t *info, size_t len, uint32_t cap_off, size_t hdr_len,
			   struct vfio_region *r)
{
	unsigned int hops, i;

	for (hops = 0; cap_off; hops++) {
		uint32_t next, nr;
		uint16_t id;

		if (hops == MAX_CAP_HOPS || cap_off < hdr_len || cap_off % 4 || cap_off > len ||
		    len - cap_off < 8)
			return -EPROTO;
		id = (uint16_t)(info[cap_off] | info[cap_off + 1] << 8);
		next = get32(info + cap_off + 4);
		if (id == CAP_SPARSE_MMAP) {
			if (len - cap_off < 16)
				return -EPROTO;
			nr = get32(info + cap_off + 8);
			if (nr > VFIO_MAX_AREAS || (len - cap_off - 16) / 16 < nr)
				return -EPROTO;
			r->nr_areas = nr;
			for (i = 0; i < nr; i++) {
				r->areas[i].off = get64(info + cap_off + 16 + 16 * i);
				r->areas[i].size = get64(info + cap_off + 24 + 16 * i);
			}
		}
		if (next && next <= cap_off)
			return -EPROTO; /* forward only: no loops */
		cap_off = next;
	}
	return 0;
}
