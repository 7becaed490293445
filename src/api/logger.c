// SPDX-License-Identifier: MIT
/*
 * PUT /logger's log_path and PUT /metrics' metrics_path, as Firecracker: the
 * file (or FIFO) must exist; mvm never creates or truncates it, and refuses
 * a symlink (O_NOFOLLOW) and anything but a regular file or a FIFO.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/control.h"
#include "mvm/log.h"

int sink_open(const char *path)
{
	struct stat st;
	int fd, err;

	/* O_NONBLOCK: a FIFO without a reader is refused (ENXIO), never waited on. */
	fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? -ELOOP : -errno;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		err = -EINVAL;
		goto err;
	}
	return fd;
err:
	close(fd);
	return err;
}

int mvm_log_set_path(const char *path)
{
	int fd;

	if (!path)
		return mvm_log_set_fd(-1);
	fd = sink_open(path);
	if (fd < 0)
		return fd;
	return mvm_log_set_fd(fd);
}
