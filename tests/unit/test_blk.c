// SPDX-License-Identifier: MIT
/*
 * virtio-blk without a VM: the request parser against hand-made (and
 * hostile) chains, and the I/O engines (io_uring and synchronous) against a
 * real temporary file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "block/io.h"
#include "unit.h"

#define DISK_SECTORS 8192 /* 4 MiB */

static struct virtq_chain chain;
static struct blk_req req;
static struct virtio_blk_outhdr hdr;
static uint8_t data[4][8192];
static uint8_t status;

static const struct blk_geom geom = { .sectors = DISK_SECTORS,
				      .discard = true,
				      .write_zeroes = true };

static void chain_reset(uint32_t type, uint64_t sector)
{
	memset(&chain, 0, sizeof(chain));
	hdr.type = type;
	hdr.ioprio = 0;
	hdr.sector = sector;
	status = 0xff;
}

static void chain_out(void *p, size_t len)
{
	assert_int_equal(chain.in_num, 0);
	chain.iov[chain.out_num++] = (struct iovec){ p, len };
}

static void chain_in(void *p, size_t len)
{
	chain.iov[chain.out_num + chain.in_num++] = (struct iovec){ p, len };
}

static void test_parse_read(void **state)
{
	(void)state;
	chain_reset(VIRTIO_BLK_T_IN, 10);
	chain.head = 7;
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 4096);
	chain_in(data[1], 4096);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.head, 7);
	assert_int_equal(req.type, VIRTIO_BLK_T_IN);
	assert_int_equal(req.sector, 10);
	assert_int_equal(req.len, 8192);
	assert_int_equal(req.niov, 2);
	assert_ptr_equal(req.status, &status);
	assert_int_equal(blk_req_complete(&req, VIRTIO_BLK_S_OK), 8193);
	assert_int_equal(status, VIRTIO_BLK_S_OK);
	/* On an error only the status byte counts as written. */
	assert_int_equal(blk_req_complete(&req, VIRTIO_BLK_S_IOERR), 1);
	assert_int_equal(status, VIRTIO_BLK_S_IOERR);
}

/* Buffers split anywhere: header in two, status sharing the data's buffer. */
static void test_parse_split(void **state)
{
	uint8_t *h = (uint8_t *)&hdr;

	(void)state;
	chain_reset(VIRTIO_BLK_T_OUT, 3);
	chain_out(h, 5);
	chain_out(h + 5, 11 + 0);
	chain_out(data[0], 1024);
	chain_in(data[1], 0); /* empty trailing buffers are skipped */
	chain_in(data[2], 1);
	chain_in(data[3], 0);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.len, 1024);
	assert_ptr_equal(req.status, data[2]);
	assert_int_equal(blk_req_complete(&req, 0), 1);

	/* A read whose status is the last byte of its data buffer. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 513);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.len, 512);
	assert_ptr_equal(req.status, data[0] + 512);
	/* Header split over 16 one-byte buffers. */
	chain_reset(VIRTIO_BLK_T_FLUSH, 0);
	for (int i = 0; i < 16; i++)
		chain_out(h + i, 1);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.type, VIRTIO_BLK_T_FLUSH);
}

static void test_parse_no_status(void **state)
{
	(void)state;
	chain_reset(VIRTIO_BLK_T_OUT, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(data[0], 512);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), -EINVAL);
	assert_null(req.status);
	assert_int_equal(blk_req_complete(&req, VIRTIO_BLK_S_IOERR), 0);
	chain_in(data[1], 0);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), -EINVAL);
	/* Nothing at all. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), -EINVAL);
}

static void test_parse_errors(void **state)
{
	struct blk_geom ro = geom;

	(void)state;
	/* Short header. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, 15);
	chain_in(data[0], 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	assert_ptr_equal(req.status, &status);

	/* Beyond the end, by one sector and by wrapping. */
	chain_reset(VIRTIO_BLK_T_IN, DISK_SECTORS - 1);
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 1024);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	hdr.sector = DISK_SECTORS - 2;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	hdr.sector = UINT64_MAX;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	hdr.sector = DISK_SECTORS;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);

	/* Not whole sectors. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 100);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);

	/* Read with device-readable data; write with device-writable data. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(data[0], 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	chain_reset(VIRTIO_BLK_T_OUT, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);

	/* Write to a read-only disk. */
	ro.read_only = true;
	chain_reset(VIRTIO_BLK_T_OUT, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(data[0], 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(blk_req_parse(&chain, &ro, &req), VIRTIO_BLK_S_IOERR);

	/* Unknown type. */
	chain_reset(99, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_UNSUPP);

	/* Flush with data. */
	chain_reset(VIRTIO_BLK_T_FLUSH, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(data[0], 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
}

static void test_parse_limits(void **state)
{
	(void)state;
	/* seg_max data segments are fine, one more is not. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	for (int i = 0; i < BLK_SEG_MAX; i++)
		chain_in(data[0] + (i % 16) * 512, 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.niov, BLK_SEG_MAX);
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	for (int i = 0; i < BLK_SEG_MAX + 1; i++)
		chain_in(data[0] + (i % 16) * 512, 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	/* A segment longer than size_max. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(malloc(BLK_SIZE_MAX + 512), BLK_SIZE_MAX + 512);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	free(chain.iov[1].iov_base);
	/* Counts that do not fit the chain. */
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain.out_num = VIRTQ_CHAIN_MAX;
	chain.in_num = 1;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), -EINVAL);
}

static void test_parse_get_id(void **state)
{
	(void)state;
	chain_reset(VIRTIO_BLK_T_GET_ID, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(data[0], 64);
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.len, BLK_ID_BYTES);
	assert_int_equal(blk_req_complete(&req, 0), BLK_ID_BYTES + 1);
}

static void test_parse_dwz(void **state)
{
	struct virtio_blk_discard_write_zeroes s[BLK_DWZ_SEG_MAX + 1] = { 0 };
	struct blk_geom nodiscard = geom;

	(void)state;
	s[0].sector = 8;
	s[0].num_sectors = 16;
	s[1].sector = 100;
	s[1].num_sectors = 1;
	chain_reset(VIRTIO_BLK_T_DISCARD, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(s, 2 * sizeof(s[0]));
	chain_in(&status, 1);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	assert_int_equal(req.nseg, 2);
	assert_int_equal(req.seg[1].sector, 100);
	nodiscard.discard = false;
	assert_int_equal(blk_req_parse(&chain, &nodiscard, &req), VIRTIO_BLK_S_UNSUPP);
	/* Discard takes no flags, write-zeroes only UNMAP. */
	s[1].flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_UNSUPP);
	hdr.type = VIRTIO_BLK_T_WRITE_ZEROES;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_OK);
	s[1].flags = 2;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_UNSUPP);
	s[1].flags = 0;
	/* Out of range, ragged length, too many segments. */
	s[1].sector = DISK_SECTORS;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	s[1].sector = 0;
	chain.iov[1].iov_len = sizeof(s[0]) + 3;
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
	chain.iov[1].iov_len = sizeof(s);
	assert_int_equal(blk_req_parse(&chain, &geom, &req), VIRTIO_BLK_S_IOERR);
}

/* ---- engines against a real file ---- */

struct engine_case {
	bool sync_io;
	bool direct;
	char path[64];
	struct blk_disk disk;
	struct blk_io io;
	unsigned int completed;
	uint8_t last_status;
};

static struct engine_case *current;

static void engine_done(struct blk_io *io, struct blk_req *r, uint8_t st)
{
	(void)io;
	current->completed++;
	current->last_status = st;
	blk_req_complete(r, st);
}

static int engine_setup(struct engine_case *ec, bool ro)
{
	struct mvm_disk_config cfg = { .read_only = ro,
				       .io = ec->sync_io ? MVM_DISK_IO_SYNC : MVM_DISK_IO_URING };
	int fd;

	if (!ec->path[0]) {
		snprintf(ec->path, sizeof(ec->path), "/var/tmp/mvm-blk-unit-XXXXXX");
		fd = mkstemp(ec->path);
		assert_true(fd >= 0);
		assert_int_equal(ftruncate(fd, DISK_SECTORS * 512 + 100), 0);
		close(fd);
	}
	snprintf(cfg.path, sizeof(cfg.path), "%s", ec->path);
	cfg.cache = ec->direct ? MVM_DISK_CACHE_NONE : MVM_DISK_CACHE_WRITEBACK;
	current = ec;
	ec->completed = 0;
	if (blk_disk_open(&ec->disk, &cfg, 1))
		return -1;
	assert_int_equal(blk_io_init(&ec->io, &ec->disk, 64, engine_done), 0);
	assert_int_equal(ec->io.uring, !ec->sync_io);
	return 0;
}

static void engine_teardown(struct engine_case *ec)
{
	blk_io_fini(&ec->io);
	blk_disk_close(&ec->disk);
}

/* Parses the chain and runs it to completion; the status. */
static uint8_t engine_run(struct engine_case *ec)
{
	struct blk_geom g;
	unsigned int before = ec->completed;
	int st;

	blk_disk_geom(&ec->disk, &g);
	st = blk_req_parse(&chain, &g, &req);
	assert_true(st >= 0);
	if (st != VIRTIO_BLK_S_OK)
		return (uint8_t)st;
	blk_io_submit(&ec->io, &req);
	blk_io_flush(&ec->io);
	blk_io_drain(&ec->io);
	assert_int_equal(ec->completed, before + 1);
	assert_int_equal(status, ec->last_status);
	return ec->last_status;
}

static void engine_exercise(struct engine_case *ec)
{
	static uint8_t buf[2][8192] __attribute__((aligned(4096)));
	struct virtio_blk_discard_write_zeroes s = { .sector = 4, .num_sectors = 8 };
	uint8_t *rd = data[2];
	char id[BLK_ID_BYTES + 1] = { 0 };

	assert_int_equal(engine_setup(ec, false), 0);
	/* The odd 100 bytes past the last sector are not part of the disk. */
	assert_int_equal(ec->disk.size, DISK_SECTORS * 512);
	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i / 8192][i % 8192] = (uint8_t)(i * 7 + 3);

	/* Write 16 KiB at sector 1 in two buffers, flush, read back in one. */
	chain_reset(VIRTIO_BLK_T_OUT, 1);
	chain_out(&hdr, sizeof(hdr));
	chain_out(buf[0], 8192);
	chain_out(buf[1], 8192);
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	chain_reset(VIRTIO_BLK_T_FLUSH, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	chain_reset(VIRTIO_BLK_T_IN, 1);
	chain_out(&hdr, sizeof(hdr));
	chain_in(rd, 8192);
	chain_in(data[3], 8192);
	chain_in(&status, 1);
	memset(rd, 0, 8192);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	assert_memory_equal(rd, buf[0], 8192);
	assert_memory_equal(data[3], buf[1], 8192);

	/* Write-zeroes over sectors 4..11 reads back as zeroes; the rest stays. */
	chain_reset(VIRTIO_BLK_T_WRITE_ZEROES, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(&s, sizeof(s));
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	chain_reset(VIRTIO_BLK_T_IN, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(rd, 8192);
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	for (unsigned int i = 4 * 512; i < 12 * 512; i++)
		assert_int_equal(rd[i], 0);
	assert_memory_equal(rd + 512, buf[0], 3 * 512);
	assert_memory_equal(rd + 12 * 512, buf[0] + 11 * 512, 4 * 512);

	/* Discard: succeeds (a hint; the data may or may not be gone). */
	hdr.type = VIRTIO_BLK_T_DISCARD;
	chain_reset(VIRTIO_BLK_T_DISCARD, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_out(&s, sizeof(s));
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);

	/* Get-id: the default serial of disk index 1. */
	chain_reset(VIRTIO_BLK_T_GET_ID, 0);
	chain_out(&hdr, sizeof(hdr));
	chain_in(id, BLK_ID_BYTES);
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	assert_string_equal(id, "vdb");

	/* The last sector reads; past it is refused by the parser. */
	chain_reset(VIRTIO_BLK_T_IN, DISK_SECTORS - 1);
	chain_out(&hdr, sizeof(hdr));
	chain_in(buf[0], 512);
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	hdr.sector = DISK_SECTORS;
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_IOERR);

	/* Many requests in flight at once, completed by one drain. */
	for (unsigned int i = 0; i < 32; i++) {
		static struct blk_req reqs[32];
		static struct virtio_blk_outhdr hdrs[32];
		static uint8_t sts[32];
		struct blk_geom g;

		blk_disk_geom(&ec->disk, &g);
		hdrs[i] = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_OUT, .sector = 64 + i };
		memset(&chain, 0, sizeof(chain));
		chain_out(&hdrs[i], sizeof(hdrs[i]));
		chain_out(buf[1] + (i % 16) * 512, 512);
		chain_in(&sts[i], 1);
		assert_int_equal(blk_req_parse(&chain, &g, &reqs[i]), VIRTIO_BLK_S_OK);
		blk_io_submit(&ec->io, &reqs[i]);
	}
	blk_io_flush(&ec->io);
	blk_io_drain(&ec->io);
	assert_int_equal(ec->io.inflight, 0);
	engine_teardown(ec);

	/* Read-only: the same file, writes refused, content unchanged. */
	assert_int_equal(engine_setup(ec, true), 0);
	chain_reset(VIRTIO_BLK_T_OUT, 1);
	chain_out(&hdr, sizeof(hdr));
	chain_out(data[0], 512);
	chain_in(&status, 1);
	memset(data[0], 0xee, 512);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_IOERR);
	chain_reset(VIRTIO_BLK_T_IN, 1);
	chain_out(&hdr, sizeof(hdr));
	chain_in(rd, 512);
	chain_in(&status, 1);
	assert_int_equal(engine_run(ec), VIRTIO_BLK_S_OK);
	for (unsigned int i = 0; i < 512; i++)
		assert_int_equal(rd[i], (uint8_t)(i * 7 + 3));
	engine_teardown(ec);
	unlink(ec->path);
}

static void test_engine_uring(void **state)
{
	struct engine_case ec = { .sync_io = false };

	(void)state;
	engine_exercise(&ec);
}

static void test_engine_sync(void **state)
{
	struct engine_case ec = { .sync_io = true };

	(void)state;
	engine_exercise(&ec);
}

/* cache=none: O_DIRECT, unaligned guest buffers go through a bounce buffer. */
static void test_engine_direct(void **state)
{
	struct engine_case ec = { .sync_io = false, .direct = true };

	(void)state;
	engine_exercise(&ec);
}

/* Requests larger than the bounce buffer, from unaligned buffers, on O_DIRECT. */
static void test_engine_direct_large_unaligned(void **state)
{
	const size_t seg[3] = { 1 << 20, 1 << 20, 4096 + 512 };
	const size_t total = seg[0] + seg[1] + seg[2];
	uint8_t *w = malloc(total + 1), *rd = malloc(total + 1);
	struct engine_case ec = { .sync_io = false, .direct = true };
	size_t off = 0;

	(void)state;
	for (size_t i = 0; i < total; i++)
		w[i + 1] = (uint8_t)(i * 31 + i / 4096);
	assert_int_equal(engine_setup(&ec, false), 0);
	chain_reset(VIRTIO_BLK_T_OUT, 7);
	chain_out(&hdr, sizeof(hdr));
	for (int i = 0; i < 3; off += seg[i++])
		chain_out(w + 1 + off, seg[i]); /* odd addresses: not O_DIRECT-able */
	chain_in(&status, 1);
	assert_int_equal(engine_run(&ec), VIRTIO_BLK_S_OK);
	memset(rd, 0, total + 1);
	chain_reset(VIRTIO_BLK_T_IN, 7);
	chain_out(&hdr, sizeof(hdr));
	off = 0;
	for (int i = 0; i < 3; off += seg[i++])
		chain_in(rd + 1 + off, seg[i]);
	chain_in(&status, 1);
	assert_int_equal(engine_run(&ec), VIRTIO_BLK_S_OK);
	assert_memory_equal(w + 1, rd + 1, total);
	engine_teardown(&ec);
	unlink(ec.path);
	free(w);
	free(rd);
}

/* io_uring_setup fails with ENOSYS in this process from now on (a seccomp filter). */
static int block_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = ARRAY_SIZE(f), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/*
 * Where io_uring is unavailable (here: a seccomp filter, in a child), the
 * engine falls back to the synchronous path by itself and requests work.
 */
static void test_engine_fallback_without_io_uring(void **state)
{
	int wst;
	pid_t pid;

	(void)state;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct engine_case ec = { .sync_io = false };
		struct mvm_disk_config cfg = { .read_only = false };
		struct blk_geom g;
		int fd, bad = 0;

		if (block_io_uring())
			_exit(3);
		snprintf(ec.path, sizeof(ec.path), "/var/tmp/mvm-blk-unit-XXXXXX");
		fd = mkstemp(ec.path);
		bad |= fd < 0 || ftruncate(fd, 1 << 20) < 0;
		close(fd);
		current = &ec;
		snprintf(cfg.path, sizeof(cfg.path), "%s", ec.path);
		bad |= blk_disk_open(&ec.disk, &cfg, 0) != 0;
		bad |= blk_io_init(&ec.io, &ec.disk, 8, engine_done) != 0;
		bad |= ec.io.uring; /* fell back */
		blk_disk_geom(&ec.disk, &g);
		chain_reset(VIRTIO_BLK_T_OUT, 3);
		chain_out(&hdr, sizeof(hdr));
		chain_out(data[0], 512);
		chain_in(&status, 1);
		memset(data[0], 0x5a, 512);
		bad |= blk_req_parse(&chain, &g, &req) != VIRTIO_BLK_S_OK;
		bad |= blk_io_submit(&ec.io, &req); /* completed at once */
		bad |= ec.completed != 1 || status != VIRTIO_BLK_S_OK;
		bad |= pread(ec.disk.fd, data[1], 512, 3 * 512) != 512 ||
		       memcmp(data[0], data[1], 512);
		blk_io_fini(&ec.io);
		blk_disk_close(&ec.disk);
		unlink(ec.path);
		_exit(bad ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &wst, 0), pid);
	assert_true(WIFEXITED(wst));
	assert_int_equal(WEXITSTATUS(wst), 0);
}

static void test_disk_open_errors(void **state)
{
	struct mvm_disk_config cfg = { .path = "/nonexistent/mvm-disk" };
	struct blk_disk d;

	(void)state;
	assert_int_equal(blk_disk_open(&d, &cfg, 0), -ENOENT);
	snprintf(cfg.path, sizeof(cfg.path), "/dev/null"); /* a character device */
	assert_int_equal(blk_disk_open(&d, &cfg, 0), -EINVAL);
	snprintf(cfg.path, sizeof(cfg.path), "/");
	cfg.read_only = true;
	assert_int_equal(blk_disk_open(&d, &cfg, 0), -EINVAL);
}

int run_blk_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_read),
		cmocka_unit_test(test_parse_split),
		cmocka_unit_test(test_parse_no_status),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_limits),
		cmocka_unit_test(test_parse_get_id),
		cmocka_unit_test(test_parse_dwz),
		cmocka_unit_test(test_engine_uring),
		cmocka_unit_test(test_engine_sync),
		cmocka_unit_test(test_engine_direct),
		cmocka_unit_test(test_engine_direct_large_unaligned),
		cmocka_unit_test(test_engine_fallback_without_io_uring),
		cmocka_unit_test(test_disk_open_errors),
	};

	return cmocka_run_group_tests_name("virtio-blk", tests, NULL, NULL);
}
