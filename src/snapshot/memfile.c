// SPDX-License-Identifier: MIT
/*
 * Guest RAM into a snapshot's memory file: all of it (Full), holes where
 * the memfd has none and for zero pages; or only the pages dirtied since
 * the last snapshot (Diff): KVM's dirty log for the guest's writes, the
 * VMM's own bitmap for the devices'.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/fault.h"
#include "mvm/log.h"
#include "mvm/snap_mem.h"
#include "mvm/sys.h"

#define PAGE 4096ULL

static bool page_is_zero(const uint8_t *p)
{
	static const uint8_t zero[PAGE];

	return !memcmp(p, zero, PAGE);
}

static int pwrite_all(int fd, const uint8_t *p, size_t len, off_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes the non-zero pages of [off, end) of RAM, in runs. */
static int write_pages(const struct vm_memory *mem, int fd, uint64_t off, uint64_t end,
		       uint64_t *written)
{
	uint64_t run = off;
	int err;

	for (; off < end; off += PAGE) {
		if (!page_is_zero(mem->base + off))
			continue;
		if (off > run) {
			err = pwrite_all(fd, mem->base + run, off - run, (off_t)run);
			if (err)
				return err;
			*written += off - run;
		}
		run = off + PAGE;
	}
	if (end > run) {
		err = pwrite_all(fd, mem->base + run, end - run, (off_t)run);
		if (err)
			return err;
		*written += end - run;
	}
	return 0;
}

static int write_full(const struct vm_memory *mem, int fd, uint64_t *written)
{
	uint64_t off = 0;
	off_t data, hole;
	int err;

	/* A file mapped privately: every page may hold data (read through the mapping). */
	if (mem->private_file)
		return write_pages(mem, fd, 0, mem->size, written);
	/* The memfd's own holes were never touched: not even read. */
	while (off < mem->size) {
		data = lseek(mem->fd, (off_t)off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break;
		if (data < 0)
			return write_pages(mem, fd, off, mem->size, written);
		hole = lseek(mem->fd, data, SEEK_HOLE);
		if (hole < 0)
			hole = (off_t)mem->size;
		data &= ~(off_t)(PAGE - 1);
		hole = MIN((uint64_t)ALIGN_UP((uint64_t)hole, PAGE), mem->size);
		err = write_pages(mem, fd, (uint64_t)data, (uint64_t)hole, written);
		if (err)
			return err;
		off = (uint64_t)hole;
	}
	return 0;
}

/* The guest's writes (KVM's log, cleared by reading it) OR'ed into dirty, per page of RAM. */
static int dirty_log_collect(const struct vm_memory *mem, int vm_fd, uint64_t *dirty)
{
	unsigned int i;

	for (i = 0; i < mem->nr_regions; i++) {
		const struct mem_region *r = &mem->regions[i];
		uint64_t pages = r->size / PAGE, base = (uint64_t)(r->hva - mem->base) / PAGE, p;
		uint64_t *bm = mvm_calloc((pages + 63) / 64, sizeof(uint64_t));
		struct kvm_dirty_log log = { .slot = r->slot };

		if (!bm)
			return -ENOMEM;
		log.dirty_bitmap = bm;
		if (mvm_ioctl(vm_fd, KVM_GET_DIRTY_LOG, &log) < 0) {
			int err = -errno;

			pr_err("KVM_GET_DIRTY_LOG slot %u: %s", r->slot, strerror(-err));
			free(bm);
			return err;
		}
		for (p = 0; p < pages; p++)
			if (bm[p / 64] & (1ULL << (p % 64)))
				dirty[(base + p) / 64] |= 1ULL << ((base + p) % 64);
		free(bm);
	}
	return 0;
}

static int write_diff(const struct vm_memory *mem, int fd, const uint64_t *dirty, uint64_t *written)
{
	uint64_t p, pages = mem->size / PAGE;
	int err;

	for (p = 0; p < pages; p++) {
		if (!(dirty[p / 64] & (1ULL << (p % 64))))
			continue;
		err = pwrite_all(fd, mem->base + p * PAGE, PAGE, (off_t)(p * PAGE));
		if (err)
			return err;
		*written += PAGE;
	}
	return 0;
}

int snap_mem_write(struct vm_memory *mem, int vm_fd, bool diff, const char *path, char *err,
		   size_t errlen)
{
	uint64_t words = (mem->size / PAGE + 63) / 64, written = 0, *dirty = NULL, i;
	struct stat out_st, mem_st;
	int fd, r;

	if (diff && !mem->log_dirty) {
		snprintf(err, errlen,
			 "Diff snapshots need dirty page tracking "
			 "(track_dirty_pages in the machine configuration)");
		return -EINVAL;
	}
	if (mem->log_dirty) {
		/* Read (and so reset) the logs for Full too: a later Diff is relative to this. */
		dirty = mvm_calloc(words, sizeof(uint64_t));
		if (!dirty) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		r = dirty_log_collect(mem, vm_fd, dirty);
		if (r) {
			snprintf(err, errlen, "reading KVM's dirty log: %s", strerror(-r));
			goto out;
		}
		for (i = 0; i < words; i++)
			dirty[i] |= atomic_exchange_explicit(&mem->vmm_dirty[i], 0,
							     memory_order_relaxed);
	}
	fd = mvm_open_mode(path, O_WRONLY | O_CREAT | O_NOFOLLOW | (diff ? 0 : O_TRUNC), 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "cannot open the memory file '%s': %s", path, strerror(-r));
		goto out_restore;
	}
	/* Truncating the very file RAM is mapped from would pull the guest's memory away. */
	if (!diff && mem->fd >= 0 && !fstat(fd, &out_st) && !fstat(mem->fd, &mem_st) &&
	    out_st.st_dev == mem_st.st_dev && out_st.st_ino == mem_st.st_ino) {
		r = -EINVAL;
		snprintf(err, errlen, "'%s' is the file the VM's memory is mapped from", path);
		goto out_close;
	}
	if (mvm_ftruncate(fd, (off_t)mem->size) < 0) {
		r = -errno;
		snprintf(err, errlen, "sizing the memory file '%s': %s", path, strerror(-r));
		goto out_close;
	}
	r = diff ? write_diff(mem, fd, dirty, &written) : write_full(mem, fd, &written);
	if (!r && fsync(fd))
		r = -errno;
	if (r)
		snprintf(err, errlen, "writing the memory file '%s': %s", path, strerror(-r));
	else
		pr_info("snapshot memory: %llu of %llu KiB written to '%s'",
			(unsigned long long)(written >> 10), (unsigned long long)(mem->size >> 10),
			path);
out_close:
	close(fd);
out_restore:
	/* Not written: the pages stay dirty for the next snapshot. */
	if (r && dirty)
		for (i = 0; i < words; i++)
			atomic_fetch_or_explicit(&mem->vmm_dirty[i], dirty[i],
						 memory_order_relaxed);
out:
	free(dirty);
	return r;
}
