// SPDX-License-Identifier: MIT
/* virtio-pmem requests: a le32 type in, a le32 answer out. */
#include <endian.h>
#include <errno.h>

#include "mvm/virtio.h"
#include "pmem_req.h"

static size_t iov_len(const struct iovec *iov, unsigned int n)
{
	size_t len = 0;
	unsigned int i;

	for (i = 0; i < n; i++)
		len += iov[i].iov_len;
	return len;
}

int pmem_req_parse(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
		   uint32_t *type)
{
	uint32_t t;

	/* Copied before use: the guest may change the buffer meanwhile. */
	if (iov_to_buf(iov, out_num, 0, &t, sizeof(t)) != sizeof(t) ||
	    iov_len(iov + out_num, in_num) < sizeof(uint32_t))
		return -EINVAL;
	*type = le32toh(t);
	return 0;
}

uint32_t pmem_req_answer(const struct iovec *iov, unsigned int out_num, unsigned int in_num,
			 uint32_t ret)
{
	uint32_t v = htole32(ret);

	return (uint32_t)buf_to_iov(iov + out_num, in_num, 0, &v, sizeof(v));
}
