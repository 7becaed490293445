// SPDX-License-Identifier: MIT
/* PUT /logger's log_path: opened here, handed to the core logger as an fd. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "mvm/log.h"

int mvm_log_set_path(const char *path)
{
	int fd;

	if (!path)
		return mvm_log_set_fd(-1);
	/* O_NONBLOCK: a FIFO without a reader is refused (ENXIO), never waited on. */
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return mvm_log_set_fd(fd);
}
