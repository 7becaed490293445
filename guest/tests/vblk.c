// SPDX-License-Identifier: MIT
/*
 * vblk: drives a virtio-blk disk from ring 3 (guest kit driver, polled).
 * Command line: mode=basic|ro|mq|malformed|reset|durable|bench [disk=N] [id=SERIAL]
 *               [evidx=1] [indirect=1] (negotiate EVENT_IDX / INDIRECT_DESC)
 *
 *   basic      whole-disk write/read-back of a pattern, flush, get-id,
 *              write-zeroes, discard, reads past the end -> IOERR
 *   ro         the disk offers VIRTIO_BLK_F_RO; writes/write-zeroes -> IOERR,
 *              reads work
 *   mq         two queues with requests in flight on both at once
 *   malformed  a loop, an out-of-RAM buffer, a readable buffer where a
 *              writable one is required, a chain without a status byte:
 *              error status or NEEDS_RESET, and the other queue still served
 *   reset      device resets with 32 writes in flight, three times; then I/O works
 *   durable    records of one sector, a flush per batch, "durable: N" after
 *              each completed flush (N records are on stable storage)
 *   bench      4 KiB random read/write and 1 MiB sequential at QD1 and QD32;
 *              prints "bench: begin NAME" / "bench: end NAME ops=N bytes=B"
 *              (the host times the lines)
 * Prints PASS/FAIL lines and "vblk: N passed, M failed"; exit 0 if all pass.
 */
#include "guest.h"
#include "vblk.h"

#define CHUNK (256u * 1024)
#define WANT                                                               \
	((1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_DISCARD) |   \
	 (1ull << VIRTIO_BLK_F_WRITE_ZEROES) | (1ull << VIRTIO_BLK_F_MQ) | \
	 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_SEG_MAX) |      \
	 (1ull << VIRTIO_BLK_F_SIZE_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE))

static struct vblk blk;
static uint64_t want = WANT;

static uint64_t pattern(uint64_t byte_off, uint64_t seed)
{
	uint64_t x = byte_off / 8 + seed * 0x9e3779b97f4a7c15ull;

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill(uint64_t *buf, uint64_t off, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len / 8; i++)
		buf[i] = pattern(off + 8ull * i, seed);
}

/* Index of the first word that differs from the pattern, or -1. */
static long verify(const uint64_t *buf, uint64_t off, uint32_t len, uint64_t seed)
{
	for (uint32_t i = 0; i < len / 8; i++)
		if (buf[i] != pattern(off + 8ull * i, seed))
			return (long)i;
	return -1;
}

static bool all_zero(const uint8_t *p, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static int mode_basic(void)
{
	struct vblk_queue *q = &blk.q[0];
	uint64_t *buf = dma_alloc(CHUNK, 4096);
	uint64_t bytes = blk.capacity * 512, bad = 0;
	const char *want_id = guest_cmdline_get("id");
	char id[21] = { 0 };
	uint8_t st;

	guest_check("features.flush", (blk.v.features >> VIRTIO_BLK_F_FLUSH) & 1, 1);
	guest_check("features.discard", (blk.v.features >> VIRTIO_BLK_F_DISCARD) & 1, 1);
	guest_check("features.write_zeroes", (blk.v.features >> VIRTIO_BLK_F_WRITE_ZEROES) & 1, 1);
	guest_check("features.ro", (blk.v.features >> VIRTIO_BLK_F_RO) & 1, 0);
	guest_check("config.capacity", blk.capacity, guest_cmdline_ulong("sectors", blk.capacity));
	guest_check("config.seg_max>=1", vdev_cfg32(&blk.v, VBLK_CFG_SEG_MAX) >= 1, 1);
	guest_check("config.size_max>=4096", vdev_cfg32(&blk.v, VBLK_CFG_SIZE_MAX) >= 4096, 1);
	guest_check("config.blk_size", vdev_cfg32(&blk.v, VBLK_CFG_BLK_SIZE), 512);
	guest_check("config.max_discard_sectors>0",
		    vdev_cfg32(&blk.v, VBLK_CFG_MAX_DISCARD_SECTORS) > 0, 1);
	guest_check("get_id", vblk_io(q, VIRTIO_BLK_T_GET_ID, 0, id, 20), VIRTIO_BLK_S_OK);
	printf("vblk: id \"%s\"\n", id);
	if (want_id)
		guest_check("get_id.value", strcmp(id, want_id), 0);

	/* Whole disk: write the pattern, flush, read it all back. */
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		uint32_t len = (uint32_t)(bytes - off < CHUNK ? bytes - off : CHUNK);

		fill(buf, off, len, 1);
		if (vblk_io(q, VIRTIO_BLK_T_OUT, off / 512, buf, len) != VIRTIO_BLK_S_OK)
			bad++;
	}
	guest_check("write.whole_disk", bad, 0);
	guest_check("flush", vblk_io(q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	bad = 0;
	for (uint64_t off = 0; off < bytes; off += CHUNK) {
		uint32_t len = (uint32_t)(bytes - off < CHUNK ? bytes - off : CHUNK);

		memset(buf, 0, len);
		if (vblk_io(q, VIRTIO_BLK_T_IN, off / 512, buf, len) != VIRTIO_BLK_S_OK ||
		    verify(buf, off, len, 1) >= 0)
			bad++;
	}
	guest_check("readback.whole_disk", bad, 0);

	/* Write-zeroes on sectors 8..23, discard on 64..71; neighbours unchanged. */
	guest_check("write_zeroes", vblk_dwz(q, VIRTIO_BLK_T_WRITE_ZEROES, 8, 16, 0),
		    VIRTIO_BLK_S_OK);
	guest_check("read.after_wz", vblk_io(q, VIRTIO_BLK_T_IN, 0, buf, 32 * 512), 0);
	guest_check("wz.zeroes", all_zero((uint8_t *)buf + 8 * 512, 16 * 512), 1);
	guest_check("wz.before_intact", verify(buf, 0, 8 * 512, 1) < 0, 1);
	guest_check("wz.after_intact", verify(buf + 24 * 64, 24 * 512, 8 * 512, 1) < 0, 1);
	guest_check("discard", vblk_dwz(q, VIRTIO_BLK_T_DISCARD, 64, 8, 0), VIRTIO_BLK_S_OK);
	guest_check("discard.unmap_flag_unsupp", vblk_dwz(q, VIRTIO_BLK_T_DISCARD, 64, 8, 1),
		    VIRTIO_BLK_S_UNSUPP);

	/* Past the end. */
	guest_check("read.last_sector", vblk_io(q, VIRTIO_BLK_T_IN, blk.capacity - 1, buf, 512),
		    VIRTIO_BLK_S_OK);
	guest_check("read.past_end", vblk_io(q, VIRTIO_BLK_T_IN, blk.capacity, buf, 512),
		    VIRTIO_BLK_S_IOERR);
	guest_check("read.straddles_end", vblk_io(q, VIRTIO_BLK_T_IN, blk.capacity - 1, buf, 1024),
		    VIRTIO_BLK_S_IOERR);
	guest_check("write.past_end", vblk_io(q, VIRTIO_BLK_T_OUT, blk.capacity + 100, buf, 512),
		    VIRTIO_BLK_S_IOERR);
	st = vblk_io(q, 0x7777, 0, NULL, 0);
	guest_check("unknown_type", st, VIRTIO_BLK_S_UNSUPP);
	/* Still alive and serving. */
	guest_check("read.after_errors", vblk_io(q, VIRTIO_BLK_T_IN, 0, buf, 4096), 0);
	guest_check("read.after_errors.data", verify(buf, 0, 4096, 1) < 0, 1);
	guest_check("status.not_needs_reset", vdev_status(&blk.v) & VIRTIO_STATUS_NEEDS_RESET, 0);
	return guest_check_summary("vblk");
}

static int mode_ro(void)
{
	struct vblk_queue *q = &blk.q[0];
	uint64_t *buf = dma_alloc(65536, 4096);

	guest_check("features.ro", (blk.v.features >> VIRTIO_BLK_F_RO) & 1, 1);
	guest_check("read", vblk_io(q, VIRTIO_BLK_T_IN, 0, buf, 65536), VIRTIO_BLK_S_OK);
	fill(buf, 0, 65536, 99);
	guest_check("write.ioerr", vblk_io(q, VIRTIO_BLK_T_OUT, 0, buf, 65536), VIRTIO_BLK_S_IOERR);
	guest_check("write_zeroes.refused",
		    vblk_dwz(q, VIRTIO_BLK_T_WRITE_ZEROES, 0, 8, 0) != VIRTIO_BLK_S_OK, 1);
	guest_check("discard.refused", vblk_dwz(q, VIRTIO_BLK_T_DISCARD, 0, 8, 0) != 0, 1);
	guest_check("flush", vblk_io(q, VIRTIO_BLK_T_FLUSH, 0, NULL, 0), VIRTIO_BLK_S_OK);
	guest_check("read.again", vblk_io(q, VIRTIO_BLK_T_IN, 0, buf, 4096), VIRTIO_BLK_S_OK);
	return guest_check_summary("vblk");
}

/* Two queues, 16 requests in flight on each, interleaved. */
static int mode_mq(void)
{
	const unsigned int per_q = 16, len = 8192;
	uint8_t *bufs = dma_alloc(2ull * per_q * len, 4096);
	unsigned int bad = 0, done = 0;

	guest_check("features.mq", (blk.v.features >> VIRTIO_BLK_F_MQ) & 1, 1);
	guest_check("num_queues>=2", blk.nq >= 2, 1);
	if (blk.nq < 2)
		return guest_check_summary("vblk");
	for (int pass = 0; pass < 2; pass++) {
		uint32_t type = pass ? VIRTIO_BLK_T_IN : VIRTIO_BLK_T_OUT;

		for (unsigned int i = 0; i < per_q; i++) {
			for (unsigned int qi = 0; qi < 2; qi++) {
				unsigned int k = qi * per_q + i;
				uint8_t *b = bufs + (uint64_t)k * len;

				if (pass)
					memset(b, 0, len);
				else
					fill((uint64_t *)b, (uint64_t)k * len, len, 7);
				if (vblk_submit(&blk.q[qi], type, (uint64_t)k * len / 512, b, len) <
				    0)
					bad++;
			}
		}
		vq_kick(&blk.q[0].vq);
		vq_kick(&blk.q[1].vq);
		for (unsigned int qi = 0; qi < 2; qi++) {
			while (blk.q[qi].inflight) {
				uint8_t st;

				vblk_reap(&blk.q[qi], &st, NULL);
				if (st != VIRTIO_BLK_S_OK)
					bad++;
				done++;
			}
		}
	}
	for (unsigned int k = 0; k < 2 * per_q; k++)
		if (verify((uint64_t *)(bufs + (uint64_t)k * len), (uint64_t)k * len, len, 7) >= 0)
			bad++;
	guest_check("mq.completed", done, 4 * per_q);
	guest_check("mq.errors", bad, 0);
	return guest_check_summary("vblk");
}

/* Hand-built chain on q: returns the status byte, or VBLK_NO_ANSWER (and *len). */
static uint8_t send_raw(struct vblk_queue *q, struct virtq_desc *d, unsigned int n, uint8_t *status,
			uint32_t *len)
{
	uint8_t st;
	int head;

	/* Use the top descriptors, away from what vq_add hands out. */
	uint16_t base = (uint16_t)(q->vq.size - n);

	for (unsigned int i = 0; i < n; i++) {
		q->vq.desc[base + i] = d[i];
		if (d[i].flags & VIRTQ_DESC_F_NEXT)
			q->vq.desc[base + i].next = (uint16_t)(base + d[i].next);
	}
	*status = 0xee;
	vq_publish(&q->vq, base);
	vq_kick(&q->vq);
	head = vq_wait(&q->vq, len, 50000000ul);
	if (head < 0) {
		*len = 0;
		return VBLK_NO_ANSWER;
	}
	st = *status;
	return st;
}

/* After a malformed chain the device answered with an error status or needs a reset. */
static bool rejected(uint8_t st, uint32_t len)
{
	if (vdev_status(&blk.v) & VIRTIO_STATUS_NEEDS_RESET)
		return true;
	return st != VIRTIO_BLK_S_OK && st != 0xee && len <= 1;
}

static bool other_queue_serves(void)
{
	uint64_t *buf = dma_alloc(4096, 4096);

	fill(buf, 0, 4096, 5);
	if (vblk_io(&blk.q[0], VIRTIO_BLK_T_OUT, 0, buf, 4096) != VIRTIO_BLK_S_OK)
		return false;
	memset(buf, 0, 4096);
	if (vblk_io(&blk.q[0], VIRTIO_BLK_T_IN, 0, buf, 4096) != VIRTIO_BLK_S_OK)
		return false;
	return verify(buf, 0, 4096, 5) < 0;
}

static int mode_malformed(void)
{
	struct vblk_hdr *hdr = dma_alloc(64, 64);
	uint8_t *status = (uint8_t *)(hdr + 1);
	uint8_t *data = dma_alloc(4096, 4096);
	struct virtq_desc d[3];
	uint32_t len;
	uint8_t st;
	int err;

	guest_check("num_queues>=2", blk.nq >= 2, 1);
	if (blk.nq < 2)
		return guest_check_summary("vblk");

	/* 1. Readable data buffer where a read needs a writable one: IOERR, queue fine. */
	*hdr = (struct vblk_hdr){ .type = VIRTIO_BLK_T_IN, .sector = 0 };
	d[0] = (struct virtq_desc){ (uintptr_t)hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ (uintptr_t)data, 4096, VIRTQ_DESC_F_NEXT, 2 };
	d[2] = (struct virtq_desc){ (uintptr_t)status, 1, VIRTQ_DESC_F_WRITE, 0 };
	st = send_raw(&blk.q[1], d, 3, status, &len);
	printf("vblk: readable-for-writable status=%u len=%u\n", st, len);
	guest_check("malformed.readable_for_writable", rejected(st, len), 1);
	guest_check("malformed.readable_for_writable.q0", other_queue_serves(), 1);

	/* 2. No status byte at all (nothing writable): used with 0 bytes, or NEEDS_RESET. */
	*hdr = (struct vblk_hdr){ .type = VIRTIO_BLK_T_FLUSH };
	d[0] = (struct virtq_desc){ (uintptr_t)hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ (uintptr_t)status, 1, 0, 0 };
	st = send_raw(&blk.q[1], d, 2, status, &len);
	printf("vblk: no-status status=%u len=%u\n", st, len);
	guest_check("malformed.no_status",
		    (st != VBLK_NO_ANSWER && len == 0) ||
			    (vdev_status(&blk.v) & VIRTIO_STATUS_NEEDS_RESET),
		    1);
	guest_check("malformed.no_status.q0", other_queue_serves(), 1);

	/* 3. A loop: 0 -> 1 -> 0. */
	*hdr = (struct vblk_hdr){ .type = VIRTIO_BLK_T_IN };
	d[0] = (struct virtq_desc){ (uintptr_t)hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ (uintptr_t)data, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
				    0 };
	st = send_raw(&blk.q[1], d, 2, status, &len);
	printf("vblk: loop status=%u len=%u device_status=0x%x\n", st, len, vdev_status(&blk.v));
	guest_check("malformed.loop", rejected(st, len), 1);
	guest_check("malformed.loop.q0", other_queue_serves(), 1);

	/* Reset the device and start again: it must come back. */
	err = vblk_open(&blk, (unsigned int)guest_cmdline_ulong("disk", 0), 2, 64, want);
	guest_check("reset.reopen", err, 0);
	guest_check("reset.status_clean", vdev_status(&blk.v) & VIRTIO_STATUS_NEEDS_RESET, 0);
	guest_check("reset.q0", other_queue_serves(), 1);

	/* 4. A buffer outside guest RAM (the PCI hole, then far beyond RAM). */
	*hdr = (struct vblk_hdr){ .type = VIRTIO_BLK_T_IN };
	d[0] = (struct virtq_desc){ (uintptr_t)hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
	d[1] = (struct virtq_desc){ 0xfff00000000ull, 4096, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE,
				    2 };
	d[2] = (struct virtq_desc){ (uintptr_t)status, 1, VIRTQ_DESC_F_WRITE, 0 };
	st = send_raw(&blk.q[1], d, 3, status, &len);
	printf("vblk: out-of-ram status=%u len=%u device_status=0x%x\n", st, len,
	       vdev_status(&blk.v));
	guest_check("malformed.out_of_ram", rejected(st, len), 1);
	guest_check("malformed.out_of_ram.q0", other_queue_serves(), 1);
	if (!(blk.v.features & (1ull << VIRTIO_F_INDIRECT_DESC)))
		return guest_check_summary("vblk");

	/* 5. With INDIRECT_DESC: an indirect table inside an indirect table. */
	err = vblk_open(&blk, (unsigned int)guest_cmdline_ulong("disk", 0), 2, 64, want);
	guest_check("reset2.reopen", err, 0);
	{
		struct virtq_desc *t = dma_alloc(64, 64);

		t[0] = (struct virtq_desc){ (uintptr_t)hdr, 16, VIRTQ_DESC_F_NEXT, 1 };
		t[1] = (struct virtq_desc){ (uintptr_t)t, 32, VIRTQ_DESC_F_INDIRECT, 0 };
		d[0] = (struct virtq_desc){ (uintptr_t)t, 32, VIRTQ_DESC_F_INDIRECT, 0 };
		*hdr = (struct vblk_hdr){ .type = VIRTIO_BLK_T_IN };
		st = send_raw(&blk.q[1], d, 1, status, &len);
		printf("vblk: nested-indirect status=%u len=%u device_status=0x%x\n", st, len,
		       vdev_status(&blk.v));
		guest_check("malformed.nested_indirect", rejected(st, len), 1);
		guest_check("malformed.nested_indirect.q0", other_queue_serves(), 1);
	}
	return guest_check_summary("vblk");
}

/* A device reset while requests are in flight on the host; then it works again. */
static int mode_reset(void)
{
	const unsigned int n = 32, len = 65536;
	uint8_t *bufs = dma_alloc((uint64_t)n * len, 4096);
	unsigned int queued = 0;
	int err;

	for (unsigned int round = 0; round < 3; round++) {
		for (unsigned int i = 0; i < n; i++) {
			fill((uint64_t *)(bufs + (uint64_t)i * len), (uint64_t)i * len, len, 9);
			if (vblk_submit(&blk.q[0], VIRTIO_BLK_T_OUT, (uint64_t)i * len / 512,
					bufs + (uint64_t)i * len, len) >= 0)
				queued++;
		}
		vq_kick(&blk.q[0].vq);
		vdev_reset(&blk.v); /* no waiting for the answers */
		guest_check("reset.status_zero", vdev_status(&blk.v), 0);
		err = vblk_open(&blk, (unsigned int)guest_cmdline_ulong("disk", 0), 1, 128, want);
		guest_check("reset.reopen", err, 0);
	}
	guest_check("reset.requests_queued", queued, 3 * n);
	guest_check("reset.serves_after", other_queue_serves(), 1);
	return guest_check_summary("vblk");
}

/*
 * Records: sector i holds "REC" i and a pattern seeded by i. A batch of
 * records is written then flushed; "durable: N" is printed only after the
 * flush completed, so N records must survive a kill at any moment.
 */
static int mode_durable(void)
{
	const unsigned int batch = (unsigned int)guest_cmdline_ulong("batch", 8);
	uint64_t total = guest_cmdline_ulong("records", blk.capacity);
	uint8_t *buf = dma_alloc(512ull * batch, 4096);
	uint64_t n = 0;

	if (total > blk.capacity)
		total = blk.capacity;
	while (n < total) {
		unsigned int k = (unsigned int)(total - n < batch ? total - n : batch);

		for (unsigned int i = 0; i < k; i++) {
			uint64_t *rec = (uint64_t *)(buf + 512 * i);

			fill(rec, 0, 512, n + i);
			rec[0] = 0x434552ull | (n + i) << 24; /* "REC" + index */
		}
		if (vblk_io(&blk.q[0], VIRTIO_BLK_T_OUT, n, buf, 512 * k) != VIRTIO_BLK_S_OK ||
		    vblk_io(&blk.q[0], VIRTIO_BLK_T_FLUSH, 0, NULL, 0) != VIRTIO_BLK_S_OK) {
			printf("durable: I/O error at %u\n", (unsigned int)n);
			return 1;
		}
		n += k;
		printf("durable: %u\n", (unsigned int)n);
	}
	puts("durable: done");
	return 0;
}

static uint64_t rnd_state = 88172645463325252ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* One benchmark: `ops` requests of `len` bytes at depth qd, random or sequential. */
static void bench_one(const char *name, uint32_t type, uint32_t len, unsigned int qd, bool random,
		      unsigned long ops)
{
	struct vblk_queue *q = &blk.q[0];
	uint64_t span = blk.capacity * 512 / len, next = 0;
	uint8_t *bufs = dma_alloc((uint64_t)qd * len, 4096);
	unsigned long submitted = 0, done = 0, errors = 0;
	const char *only = guest_cmdline_get("only");
	uint64_t t0;

	if (only && strcmp(only, name))
		return;
	printf("bench: begin %s\n", name);
	t0 = rdtsc();
	while (done < ops) {
		unsigned int added = 0;

		while (submitted < ops && q->inflight < qd) {
			uint64_t blkno = random ? rnd() % span : next++ % span;

			if (vblk_submit(q, type, blkno * len / 512,
					bufs + (uint64_t)(submitted % qd) * len, len) < 0)
				break;
			submitted++;
			added++;
		}
		if (added)
			vq_kick(&q->vq);
		do {
			uint8_t st;
			uint32_t l;
			int head = vq_poll(&q->vq, &l);

			if (head < 0) {
				if (q->inflight == qd || submitted == ops)
					continue;
				break;
			}
			q->inflight--;
			st = q->slots[head].status;
			errors += st != VIRTIO_BLK_S_OK;
			done++;
		} while (done < ops && q->inflight);
	}
	printf("bench: end %s ops=%lu bytes=%lu errors=%lu cycles=%lu\n", name, ops,
	       ops * (unsigned long)len, errors, (unsigned long)(rdtsc() - t0));
}

static int mode_bench(void)
{
	unsigned long n4k = guest_cmdline_ulong("ops4k", 20000);
	unsigned long n1m = guest_cmdline_ulong("ops1m", 200);

	bench_one("randread-4k-qd1", VIRTIO_BLK_T_IN, 4096, 1, true, n4k);
	bench_one("randread-4k-qd32", VIRTIO_BLK_T_IN, 4096, 32, true, n4k);
	bench_one("randwrite-4k-qd1", VIRTIO_BLK_T_OUT, 4096, 1, true, n4k);
	bench_one("randwrite-4k-qd32", VIRTIO_BLK_T_OUT, 4096, 32, true, n4k);
	bench_one("seqread-1m-qd1", VIRTIO_BLK_T_IN, 1 << 20, 1, false, n1m);
	bench_one("seqread-1m-qd32", VIRTIO_BLK_T_IN, 1 << 20, 32, false, n1m);
	bench_one("seqwrite-1m-qd1", VIRTIO_BLK_T_OUT, 1 << 20, 1, false, n1m);
	bench_one("seqwrite-1m-qd32", VIRTIO_BLK_T_OUT, 1 << 20, 32, false, n1m);
	puts("bench: done");
	return 0;
}

int main(void)
{
	const char *mode = guest_cmdline_get("mode");
	unsigned int nq = 1;
	uint16_t qsize = 128;
	int err;

	if (!mode)
		mode = "basic";
	if (guest_cmdline_ulong("evidx", 0))
		want |= 1ull << VIRTIO_F_EVENT_IDX;
	if (guest_cmdline_ulong("indirect", 0))
		want |= 1ull << VIRTIO_F_INDIRECT_DESC;
	if (!strcmp(mode, "mq") || !strcmp(mode, "malformed"))
		nq = 2;
	if (!strcmp(mode, "malformed"))
		qsize = 64;
	printf("vblk: mode %s, %u PCI functions\n", mode, pci_list());
	err = vblk_open(&blk, (unsigned int)guest_cmdline_ulong("disk", 0), nq, qsize, want);
	if (err) {
		printf("vblk: no usable virtio-blk device (%d)\n", err);
		return 2;
	}
	printf("vblk: on virtio-%s, capacity %u sectors, features 0x%x%08x, %u queues (device has "
	       "%u), seg_max %u\n",
	       vdev_transport(&blk.v), (unsigned int)blk.capacity,
	       (unsigned int)(blk.v.features >> 32), (unsigned int)blk.v.features, blk.nq,
	       blk.v.num_queues, vdev_cfg32(&blk.v, VBLK_CFG_SEG_MAX));
	if (!strcmp(mode, "basic"))
		return mode_basic();
	if (!strcmp(mode, "ro"))
		return mode_ro();
	if (!strcmp(mode, "mq"))
		return mode_mq();
	if (!strcmp(mode, "malformed"))
		return mode_malformed();
	if (!strcmp(mode, "reset"))
		return mode_reset();
	if (!strcmp(mode, "durable"))
		return mode_durable();
	if (!strcmp(mode, "bench"))
		return mode_bench();
	printf("vblk: unknown mode %s\n", mode);
	return 2;
}
