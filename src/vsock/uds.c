// SPDX-License-Identifier: MIT
/*
 * The Unix-socket side of virtio-vsock (Firecracker's hybrid model): the
 * listening socket at uds_path, and the connections a guest opens to
 * "<uds_path>_<port>". Host sockets are non-blocking: a host process that
 * stops reading or accepting never blocks the event loop.
 *
 * Why a directory of its own: this is vsock's host back end (like
 * src/block/ for virtio-blk), not a network back end; the guest-initiated
 * connect() happens at run time, when the guest asks, so it is plain libc,
 * not a fault site (mvm/sys.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/sys.h"

#include "virtio/vsock.h"

static int uds_addr(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (!n || n >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	memcpy(sa->sun_path, path, n + 1);
	return 0;
}

/* Someone accepts on sa? Refused or absent means a stale socket. */
static bool uds_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: leave it alone */
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	       (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	return live;
}

int vsock_uds_check(const char *path, char *msg, size_t len)
{
	struct sockaddr_un sa;
	char dir[sizeof(sa.sun_path)];
	struct stat st;
	char *slash;

	if (uds_addr(&sa, path)) {
		snprintf(msg, len, "uds_path '%.120s' must be 1 to %zu bytes long", path,
			 sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
			snprintf(msg, len, "uds_path '%s': directory '%s' does not exist", path,
				 dir);
			return -EINVAL;
		}
	}
	if (lstat(path, &st))
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(msg, len, "uds_path '%s' exists and is not a socket", path);
		return -EINVAL;
	}
	if (uds_live(&sa)) {
		snprintf(msg, len, "uds_path '%s' is in use: another process listens on it", path);
		return -EINVAL;
	}
	return 0;
}

int vsock_uds_listen(const char *path, dev_t *dev, ino_t *ino)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, err;

	err = uds_addr(&sa, path);
	if (err) {
		pr_err("vsock: uds_path '%s' is too long", path);
		return err;
	}
	fd = mvm_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("vsock: socket: %s", strerror(-err));
		return err;
	}
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (err == -EADDRINUSE) {
		if (lstat(path, &st) || !S_ISSOCK(st.st_mode)) {
			pr_err("vsock: '%s' exists and is not a socket: refusing to replace it",
			       path);
			err = -EEXIST;
			goto err_close;
		}
		if (uds_live(&sa)) {
			pr_err("vsock: '%s' is in use: another process listens on it", path);
			goto err_close;
		}
		pr_info("vsock: replacing the stale socket '%s'", path);
		unlink(path);
		err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	}
	if (err) {
		pr_err("vsock: cannot bind '%s': %s", path, strerror(-err));
		goto err_close;
	}
	if (listen(fd, 64) < 0 || stat(path, &st) < 0) {
		err = -errno;
		pr_err("vsock: listen on '%s': %s", path, strerror(-err));
		unlink(path);
		goto err_close;
	}
	*dev = st.st_dev;
	*ino = st.st_ino;
	return fd;

err_close:
	close(fd);
	return err;
}

void vsock_uds_remove(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	/* Someone may have replaced it since: only ours goes. */
	if (!lstat(path, &st) && st.st_dev == dev && st.st_ino == ino)
		unlink(path);
}

int vsock_uds_connect(const char *base, uint32_t port)
{
	struct sockaddr_un sa;
	char path[sizeof(sa.sun_path) + 16];
	int fd, err;

	snprintf(path, sizeof(path), "%s_%u", base, port);
	err = uds_addr(&sa, path);
	if (err)
		return err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}
