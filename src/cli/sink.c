// SPDX-License-Identifier: MIT
/*
 * stdout (the guest's console) and stderr (the log) must never block the
 * VMM: a reader that stops reading fills a pipe, and a blocking write would
 * then wedge a vCPU, the event loop or the API. A pipe, FIFO or terminal is
 * opened again through /proc/self/fd with O_NONBLOCK, which gives this
 * process a file description of its own (the shell's stays blocking); a
 * socket (or anything, where /proc is absent) is set non-blocking. A full sink then drops what does
 * not fit.
 */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

void sink_nonblocking(int fd)
{
	char path[32];
	struct stat st;
	int nfd, fl;

	if (fstat(fd, &st) < 0 || S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
		return;
	if (S_ISSOCK(st.st_mode)) {
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		return;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	nfd = open(path, O_WRONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (nfd < 0) {
		/* No /proc (a jail): the shared description then, as for a socket. */
		fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		return;
	}
	dup2(nfd, fd); /* dup2 leaves the target without O_CLOEXEC */
	close(nfd);
}
