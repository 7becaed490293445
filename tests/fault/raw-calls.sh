#!/usr/bin/env bash
# A failure point that bypasses mvm/sys.h is invisible to fault injection.
# libmvm (src/core, src/hw, src/arch, src/virtio, src/vfio, src/snapshot) must allocate, map, open and spawn
# only through the faultable wrappers; only src/core/sys.c and sys_dev.c call libc for them.
set -u
cd "$(dirname "$0")/../.."
pattern='(^|[^_a-z.>])(malloc|calloc|realloc|reallocarray|strdup|mmap|open|openat|fopen|pthread_create|memfd_create|eventfd|epoll_create1?|signalfd|timerfd_create|socket|io_uring_queue_init)[[:space:]]*\('
# src/snapshot/uffd.c opens the userfaultfd (syscall, else /dev/userfaultfd) under a fault site of its own.
hits=$(grep -nE "$pattern" $(find src/core src/hw src/arch src/virtio src/vfio src/snapshot -name '*.c' \
	! -path src/core/sys.c ! -path src/core/sys_dev.c ! -path src/snapshot/uffd.c) |
	grep -vE '^\S+:[0-9]+:\s*(/?\*|//)')
if [ -n "$hits" ]; then
	echo "not ok - raw allocation/open calls outside src/core/sys.c (use mvm/sys.h):"
	echo "$hits" | sed 's/^/#   /'
	echo "0 passed, 1 failed"
	exit 1
fi
echo "ok - every create-path allocation, mapping, open and thread goes through mvm/sys.h"
echo "1 passed, 0 failed"
