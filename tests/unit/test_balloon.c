// SPDX-License-Identifier: MIT
/*
 * virtio-balloon over both transports on the fake KVM, driven as a guest driver
 * would: hand-built chains in guest RAM, kicks through the ioeventfds. The
 * host side is checked on the guest-RAM memfd itself: after an inflate or
 * a free page report its allocated blocks drop.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/virtio/balloon_req.h"
#include "fake.h"
#include "mvm/balloon.h"
#include "mvm/control.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/snap_format.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

#define QSZ    16
#define RINGS  0x10000	/* queue q: desc at RINGS + q * 0x3000, avail +0x1000, used +0x2000 */
#define BUF    0x30000	/* request buffers */
#define DATA   0x100000 /* the pages the guest gives up */
#define NPAGES 64

#define VIRTIO_ID_BALLOON 5

#define F_STATS	    1
#define F_DOOM	    2
#define F_HINT	    3
#define F_REPORTING 5

struct env {
	struct vdrv d;
	struct vm *vm;
	struct virtio_dev *vdev;
	uint16_t avail_idx[5];
	uint16_t next_desc[5];
};

/* The value of one of the device's counters. */
struct find_counter {
	const char *name;
	uint64_t val;
	bool found;
};

static void counter_visit(void *opaque, const struct stats_node *n, enum stats_source src,
			  const char *name, const uint64_t *vals, unsigned int nv)
{
	struct find_counter *f = opaque;

	(void)n;
	(void)nv;
	if (src == STATS_MVM && !strcmp(name, f->name)) {
		f->val = vals[0];
		f->found = true;
	}
}

static uint64_t counter(struct env *e, const char *name)
{
	struct find_counter f = { name, 0, false };

	assert_int_equal(stats_node_visit(&e->vdev->dev.stats, counter_visit, &f), 0);
	assert_true(f.found);
	return f.val;
}

/* 512-byte blocks the guest-RAM memfd holds. */
static long long ram_blocks(struct env *e)
{
	struct stat st;

	assert_int_equal(fstat(e->vm->mem.fd, &st), 0);
	return (long long)st.st_blocks;
}

/* Whether the memfd holds no data for guest RAM [gpa, gpa + len): the host freed it. */
static bool ram_hole(struct env *e, uint64_t gpa, uint64_t len)
{
	uint64_t off = mem_offset(&e->vm->mem, mem_ptr(&e->vm->mem, gpa, len), len);
	off_t data;

	assert_true(off != UINT64_MAX);
	data = lseek(e->vm->mem.fd, (off_t)off, SEEK_DATA);
	return (data < 0 && errno == ENXIO) || (uint64_t)data >= off + len;
}

static struct vm *vm_with(enum mvm_transport transport, enum mvm_huge_pages huge, uint64_t size)
{
	struct mvm_config cfg;

	mvm_config_init(&cfg);
	cfg.transport = transport;
	cfg.mem_size = size;
	cfg.cpus = 1;
	cfg.console_out = -1;
	cfg.huge_pages = huge;
	return vm_create(&cfg);
}

static struct env *env_new_huge(enum mvm_transport transport, const char *opts,
				enum mvm_huge_pages huge)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-balloon");
	struct env *e = test_calloc(1, sizeof(*e));
	struct virtio_dev *vdev = NULL;
	struct mvm_config cfg;
	struct mvm_device *dev;
	struct vm *vm;
	char msg[256];

	assert_non_null(t);
	fake_reset();
	vm = vm_with(transport, huge, 4ULL << 20);
	assert_false(IS_ERR(vm));
	vdrv_adopt(&e->d, vm);
	e->vm = vm;
	mvm_config_init(&cfg);
	cfg.mem_size = e->vm->mem.size;
	assert_int_equal(mvm_config_parse_device(&cfg, t, opts, msg, sizeof(msg)), 0);
	assert_int_equal(t->create(e->vm, cfg.devices[0].blob, 0), 0);
	list_for_each_entry (dev, &e->vm->devices, node)
		if (!strcmp(dev->type, "virtio-balloon"))
			vdev = to_virtio_dev(dev);
	assert_non_null(vdev);
	vdrv_attach(&e->d, vdev, VIRTIO_ID_BALLOON);
	e->vdev = vdev;
	return e;
}

static struct env *env_new(void **state, const char *opts)
{
	return env_new_huge(vdrv_transport(state), opts, MVM_HUGE_NONE);
}

static void env_free(struct env *e)
{
	vdrv_fini(&e->d);
	test_free(e);
}

static uint64_t offered(struct env *e)
{
	return vdrv_device_features(&e->d) & 0xffffff; /* the device's bits */
}

/* Negotiates features (VERSION_1 added), sets up nq queues, DRIVER_OK. */
static void start(struct env *e, uint32_t features, unsigned int nq)
{
	unsigned int q;

	vdrv_negotiate(&e->d, features | 1ULL << VIRTIO_F_VERSION_1);
	assert_true(vdrv_status(&e->d) & VIRTIO_STATUS_FEATURES_OK);
	for (q = 0; q < nq; q++) {
		uint64_t base = RINGS + q * 0x3000ULL;

		vdrv_queue(&e->d, q, QSZ, base, base + 0x1000, base + 0x2000);
	}
	vdrv_driver_ok(&e->d);
	assert_int_equal(vdrv_status(&e->d), 0xf);
}

struct buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Posts one chain on queue q and kicks it, as KVM would through the ioeventfd. */
static void post(struct env *e, unsigned int q, const struct buf *b, unsigned int n)
{
	uint64_t base = RINGS + q * 0x3000ULL;
	uint16_t head = e->next_desc[q], slot = e->avail_idx[q] % QSZ;
	unsigned int i;

	for (i = 0; i < n; i++) {
		uint16_t idx = (uint16_t)((head + i) % QSZ);
		struct virtq_desc d = { b[i].addr, b[i].len,
					(uint16_t)((b[i].write ? VIRTQ_DESC_F_WRITE : 0) |
						   (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0)),
					(uint16_t)((idx + 1) % QSZ) };

		mem_write(&e->vm->mem, base + 16ULL * idx, &d, sizeof(d));
	}
	e->next_desc[q] = (uint16_t)((head + n) % QSZ);
	mem_write(&e->vm->mem, base + 0x1000 + 4 + 2 * slot, &head, 2);
	e->avail_idx[q]++;
	mem_write(&e->vm->mem, base + 0x1000 + 2, &e->avail_idx[q], 2);
	vdrv_kick(&e->d, q);
}

static uint16_t used_idx(struct env *e, unsigned int q)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, RINGS + q * 0x3000ULL + 0x2000 + 2, &v, 2);
	return v;
}

/* The guest touches its pages: the host allocates them. */
static void touch(struct env *e, uint64_t gpa, unsigned int pages)
{
	memset(mem_ptr(&e->vm->mem, gpa, pages * 4096ULL), 0xa5, pages * 4096ULL);
}

/* Posts the page frames [first, first + n) plus extra on queue q. */
static void post_pfns(struct env *e, unsigned int q, uint64_t first_gpa, unsigned int n,
		      const uint32_t *extra, unsigned int nextra)
{
	uint32_t pfns[NPAGES + 8];
	unsigned int i;

	for (i = 0; i < n; i++)
		pfns[i] = htole32((uint32_t)(first_gpa / 4096 + i));
	for (i = 0; i < nextra; i++)
		pfns[n + i] = htole32(extra[i]);
	mem_write(&e->vm->mem, BUF, pfns, (n + nextra) * 4ULL);
	post(e, q, &(struct buf){ BUF, (n + nextra) * 4, false }, 1);
}

static uint32_t config32(struct env *e, unsigned int off)
{
	return (uint32_t)vdrv_config(&e->d, off, 4);
}

/* Firecracker's metrics line has the "balloon" group. */
static void check_metrics(struct env *e)
{
	char line[8192] = { 0 };
	json_t *j, *b;
	int p[2];

	assert_int_equal(pipe(p), 0);
	assert_int_equal(metrics_write_line(p[1], e->vm), 0);
	assert_true(read(p[0], line, sizeof(line) - 1) > 0);
	close(p[0]);
	close(p[1]);
	j = json_loads(line, 0, NULL);
	b = json_object_get(j, "balloon");
	assert_int_equal(json_integer_value(json_object_get(b, "inflate_count")), 1);
	assert_non_null(json_object_get(b, "free_page_report_freed"));
	json_decref(j);
}

static void test_features_follow_options(void **state)
{
	struct env *e;

	e = env_new(state, "2");
	assert_int_equal(offered(e), 0);
	assert_int_equal(config32(e, 0), 2 * 256); /* num_pages: 2 MiB of 4 KiB pages */
	env_free(e);
	e = env_new(state, "1,deflate_on_oom,stats_polling_interval_s=5,free_page_hinting,"
			   "free_page_reporting");
	assert_int_equal(offered(e),
			 (1 << F_STATS) | (1 << F_DOOM) | (1 << F_HINT) | (1 << F_REPORTING));
	env_free(e);
}

static void test_inflate_gives_memory_back(void **state)
{
	struct env *e = env_new(state, "1");
	long long before, after;
	uint8_t byte = 0xff;
	struct balloon_status st;

	start(e, 0, 2);
	touch(e, DATA, NPAGES);
	before = ram_blocks(e);
	assert_false(ram_hole(e, DATA, NPAGES * 4096ULL));
	post_pfns(e, 0, DATA, NPAGES, NULL, 0);
	assert_int_equal(used_idx(e, 0), 1);
	after = ram_blocks(e);
	/* The 64 pages went back to the host: a hole in the memfd, fewer blocks. */
	assert_true(ram_hole(e, DATA, NPAGES * 4096ULL));
	assert_true(after < before);
	assert_int_equal(counter(e, "inflate_count"), 1);
	assert_int_equal(counter(e, "held_pages"), NPAGES);
	assert_int_equal(counter(e, "freed_bytes"), NPAGES * 4096);
	check_metrics(e);
	/* What the guest reads there now is zero. */
	mem_read(&e->vm->mem, DATA + 5 * 4096 + 7, &byte, 1);
	assert_int_equal(byte, 0);

	/* The driver reports what it holds through `actual`. */
	vdrv_config_write(&e->d, 4, NPAGES, 4);
	assert_int_equal(balloon_get_status(e->vm, &st), 0);
	assert_int_equal(st.actual_pages, NPAGES);
	assert_int_equal(st.held_pages, NPAGES);

	/* Deflate: the pages are the guest's again. */
	post_pfns(e, 1, DATA, NPAGES, NULL, 0);
	assert_int_equal(used_idx(e, 1), 1);
	assert_int_equal(counter(e, "deflate_count"), 1);
	assert_int_equal(counter(e, "held_pages"), 0);
	touch(e, DATA, 1);
	assert_false(ram_hole(e, DATA, 4096));
	env_free(e);
}

/*
 * An inflated balloon saved and restored into a fresh device of a new VM:
 * target, actual and the pages it holds come back, and a deflate of those
 * pages is still checked against them.
 */
static void test_snapshot_restore(void **state)
{
	struct env *e = env_new(state, "1");
	struct balloon_status st;
	struct mvm_device *dev;
	struct snap_buf b;
	struct snap_cur c;

	start(e, 0, 2);
	touch(e, DATA, NPAGES);
	post_pfns(e, 0, DATA, NPAGES, NULL, 0);
	vdrv_config_write(&e->d, 4, NPAGES, 4);
	dev = &e->vdev->dev;
	snap_buf_init(&b);
	assert_int_equal(dev->ops->save(dev, &b), 0);
	env_free(e);

	e = env_new(state, "1");
	dev = &e->vdev->dev;
	/* Truncated: refused. */
	snap_cur_init(&c, b.data, b.len - 1);
	assert_int_not_equal(dev->ops->restore(dev, &c), 0);
	env_free(e);
	e = env_new(state, "1");
	dev = &e->vdev->dev;
	snap_cur_init(&c, b.data, b.len);
	assert_int_equal(dev->ops->restore(dev, &c), 0);
	snap_buf_free(&b);
	assert_true(e->vdev->active);
	assert_int_equal(balloon_get_status(e->vm, &st), 0);
	assert_int_equal(st.target_pages, 256);
	assert_int_equal(st.actual_pages, NPAGES);
	assert_int_equal(st.held_pages, NPAGES);
	post_pfns(e, 1, DATA, NPAGES, NULL, 0);
	assert_int_equal(used_idx(e, 1), 1);
	assert_int_equal(balloon_get_status(e->vm, &st), 0);
	assert_int_equal(st.held_pages, 0);
	env_free(e);
}

static void test_bad_pfns_counted(void **state)
{
	struct env *e = env_new(state, "1");
	/* Past RAM's end, the last frame number, a duplicate, the ring page itself twice. */
	const uint32_t extra[] = { (uint32_t)(4 << 20) / 4096, UINT32_MAX, DATA / 4096,
				   RINGS / 4096, RINGS / 4096 };

	start(e, 0, 2);
	touch(e, DATA, 4);
	post_pfns(e, 0, DATA, 4, extra, 5);
	assert_int_equal(used_idx(e, 0), 1);
	assert_int_equal(counter(e, "bad_pfns"), 2);
	assert_int_equal(counter(e, "duplicate_pfns"), 2);
	assert_int_equal(counter(e, "held_pages"), 5);
	/* Deflating frames that are not in the balloon: counted, nothing changes. */
	post_pfns(e, 1, DATA + 16 * 4096, 3, extra, 2);
	assert_int_equal(counter(e, "duplicate_pfns"), 5);
	assert_int_equal(counter(e, "bad_pfns"), 4);
	assert_int_equal(counter(e, "held_pages"), 5);
	assert_false(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_malformed_lists_refused(void **state)
{
	struct env *e = env_new(state, "1");

	start(e, 0, 2);
	touch(e, DATA, 4);
	/* More frames than one chain may carry: refused whole, nothing inflated. */
	post(e, 0, &(struct buf){ DATA, (BALLOON_MAX_PFNS + 1) * 4, false }, 1);
	assert_int_equal(used_idx(e, 0), 1);
	assert_int_equal(counter(e, "event_fails"), 1);
	assert_int_equal(counter(e, "held_pages"), 0);
	/* Not a whole number of frames. */
	post(e, 0, &(struct buf){ BUF, 6, false }, 1);
	assert_int_equal(counter(e, "event_fails"), 2);
	/* A device-writable frame list. */
	post(e, 0, &(struct buf){ BUF, 8, true }, 1);
	assert_int_equal(counter(e, "event_fails"), 3);
	assert_int_equal(counter(e, "inflate_count"), 0);
	/* A buffer outside RAM: the ring walker refuses, the device asks for a reset. */
	post(e, 0, &(struct buf){ 1ULL << 40, 8, false }, 1);
	assert_true(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_target_and_config_interrupt(void **state)
{
	struct env *e = env_new(state, "1");
	uint8_t gen;

	start(e, 0, 2);
	gen = vdrv_generation(&e->d);
	vdrv_isr(&e->d);
	assert_int_equal(balloon_set_target_mib(e->vm, 3), 0);
	assert_int_equal(config32(e, 0), 3 * 256);
	assert_int_not_equal(vdrv_generation(&e->d), gen);
	assert_int_equal(vdrv_isr(&e->d) & 2, 2); /* a config change interrupt */
	assert_int_equal(counter(e, "target_pages"), 3 * 256);
	/* More than RAM (4 MiB here): refused, unchanged. */
	assert_int_equal(balloon_set_target_mib(e->vm, 5), -EINVAL);
	assert_int_equal(config32(e, 0), 3 * 256);
	/* Only `actual` is writable. */
	vdrv_config_write(&e->d, 0, 7, 4);
	assert_int_equal(config32(e, 0), 3 * 256);
	assert_int_equal(counter(e, "cfg_fails"), 1);
	env_free(e);
}

/* One turn of the VM's event loop (the statistics timer is one of its handlers). */
static bool loop_once(struct env *e, int timeout_ms)
{
	struct epoll_event ev;
	struct loop_handler *h;

	if (epoll_wait(e->vm->loop.epfd, &ev, 1, timeout_ms) != 1)
		return false;
	h = ev.data.ptr;
	vdrv_loop_dispatch(h, ev.events);
	return true;
}

static void test_stats(void **state)
{
	struct env *e = env_new(state, "1,stats_polling_interval_s=1");
	uint8_t stat[3 * 10] = { 0 };
	struct balloon_status st;
	uint64_t v;
	unsigned int i;

	start(e, 1 << F_STATS, 3);
	/* swap_in = 11, free memory = 1 MiB, an unknown tag 99. */
	const uint16_t tags[3] = { 0, 4, 99 };
	const uint64_t vals[3] = { 11, 1 << 20, 5 };
	for (i = 0; i < 3; i++) {
		uint16_t t = htole16(tags[i]);

		v = htole64(vals[i]);
		memcpy(stat + 10 * i, &t, 2);
		memcpy(stat + 10 * i + 2, &v, 8);
	}
	mem_write(&e->vm->mem, BUF, stat, sizeof(stat));
	post(e, 2, &(struct buf){ BUF, sizeof(stat), false }, 1);
	/* The device keeps the buffer until it wants the next update. */
	assert_int_equal(used_idx(e, 2), 0);
	assert_int_equal(counter(e, "stats_updates_count"), 1);
	assert_int_equal(balloon_get_status(e->vm, &st), 0);
	assert_true(st.stats_enabled);
	assert_int_equal(st.stats.have, (1 << 0) | (1 << 4));
	assert_int_equal(st.stats.val[0], 11);
	assert_int_equal(st.stats.val[4], 1 << 20);
	/* A new interval asks for the next update at once: the timer gives the buffer back. */
	assert_int_equal(balloon_set_stats_interval(e->vm, 2), 0);
	assert_true(loop_once(e, 2000));
	assert_int_equal(used_idx(e, 2), 1);
	/* Turning statistics off after boot is refused. */
	assert_int_equal(balloon_set_stats_interval(e->vm, 0), -EINVAL);
	/* A malformed buffer (not whole entries) is counted and returned. */
	post(e, 2, &(struct buf){ BUF, 7, false }, 1);
	assert_int_equal(counter(e, "stats_update_fails"), 1);
	assert_int_equal(used_idx(e, 2), 2);
	env_free(e);
}

static void test_free_page_reporting(void **state)
{
	/* Without statistics and hinting, the reporting queue is queue 2. */
	struct env *e = env_new(state, "1,free_page_reporting");
	long long before;

	start(e, 1 << F_REPORTING, 3);
	touch(e, DATA, NPAGES);
	before = ram_blocks(e);
	post(e, 2,
	     (struct buf[]){ { DATA, 32 * 4096, true }, { DATA + 32 * 4096, 32 * 4096, true } }, 2);
	assert_int_equal(used_idx(e, 2), 1);
	assert_true(ram_hole(e, DATA, NPAGES * 4096ULL));
	assert_true(ram_blocks(e) < before);
	assert_int_equal(counter(e, "free_page_report_count"), 1);
	assert_int_equal(counter(e, "free_page_report_freed"), NPAGES * 4096);
	/* Device-readable buffers are not a report. */
	post(e, 2, &(struct buf){ DATA, 4096, false }, 1);
	assert_int_equal(counter(e, "free_page_report_fails"), 1);
	env_free(e);
}

static void test_free_page_hinting(void **state)
{
	struct env *e = env_new(state, "1,free_page_hinting");
	struct balloon_hint_status hs;
	uint32_t cmd;
	long long before;

	/* No statistics, no reporting: hinting is queue 2. */
	start(e, 1 << F_HINT, 3);
	assert_int_equal(balloon_hint_start(e->vm, true), 0);
	assert_int_equal(config32(e, 8), BALLOON_CMD_ID_MIN);
	touch(e, DATA, NPAGES);
	before = ram_blocks(e);
	/* Hints before the guest names the run are ignored. */
	post(e, 2, &(struct buf){ DATA, NPAGES * 4096, true }, 1);
	assert_int_equal(counter(e, "free_page_hint_count"), 0);
	assert_false(ram_hole(e, DATA, NPAGES * 4096ULL));
	cmd = htole32(BALLOON_CMD_ID_MIN);
	mem_write(&e->vm->mem, BUF, &cmd, 4);
	post(e, 2, &(struct buf){ BUF, 4, false }, 1);
	post(e, 2, &(struct buf){ DATA, NPAGES * 4096, true }, 1);
	assert_int_equal(counter(e, "free_page_hint_count"), 1);
	assert_int_equal(counter(e, "free_page_hint_freed"), NPAGES * 4096);
	assert_true(ram_hole(e, DATA, NPAGES * 4096ULL));
	assert_true(ram_blocks(e) < before);
	assert_int_equal(balloon_hint_status(e->vm, &hs), 0);
	assert_int_equal(hs.host_cmd, BALLOON_CMD_ID_MIN);
	assert_int_equal(hs.guest_cmd, BALLOON_CMD_ID_MIN);
	/* The guest is done; acknowledge_on_stop: the device answers DONE. */
	cmd = htole32(BALLOON_CMD_ID_STOP);
	mem_write(&e->vm->mem, BUF, &cmd, 4);
	post(e, 2, &(struct buf){ BUF, 4, false }, 1);
	assert_int_equal(config32(e, 8), BALLOON_CMD_ID_DONE);
	assert_int_equal(used_idx(e, 2), 4);
	/* The next run has a new id; stop ends it. */
	assert_int_equal(balloon_hint_start(e->vm, false), 0);
	assert_int_equal(config32(e, 8), BALLOON_CMD_ID_MIN + 1);
	assert_int_equal(balloon_hint_stop(e->vm), 0);
	assert_int_equal(config32(e, 8), BALLOON_CMD_ID_DONE);
	env_free(e);

	/* Not enabled: refused. */
	e = env_new(state, "1");
	assert_int_equal(balloon_hint_start(e->vm, false), -EOPNOTSUPP);
	assert_int_equal(balloon_hint_status(e->vm, &hs), -EOPNOTSUPP);
	env_free(e);
}

static void test_reset_empties_balloon(void **state)
{
	struct env *e = env_new(state, "1");

	start(e, 0, 2);
	touch(e, DATA, 4);
	post_pfns(e, 0, DATA, 4, NULL, 0);
	assert_int_equal(counter(e, "held_pages"), 4);
	vdrv_set_status(&e->d, 0);
	assert_int_equal(counter(e, "held_pages"), 0);
	/* After a reset the same frames can be inflated again: not duplicates. */
	start(e, 0, 2);
	e->avail_idx[0] = e->next_desc[0] = 0;
	post_pfns(e, 0, DATA, 4, NULL, 0);
	assert_int_equal(counter(e, "held_pages"), 4);
	assert_int_equal(counter(e, "duplicate_pfns"), 0);
	env_free(e);
}

static void test_no_balloon(void **state)
{
	struct vm *vm;
	struct balloon_status st;

	(void)state;
	fake_reset();
	vm = unit_vm(1);
	assert_int_equal(balloon_set_target_mib(vm, 1), -ENODEV);
	assert_int_equal(balloon_get_status(vm, &st), -ENODEV);
	assert_int_equal(balloon_set_stats_interval(vm, 1), -ENODEV);
	vm_destroy(vm);
}

/* ---- huge pages ---- */

static long meminfo(const char *key)
{
	char line[128];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atol(line + strlen(key) + 1);
	fclose(f);
	return v;
}

static long nr_hugepages(void)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static bool set_nr_hugepages(long n)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", n) > 0;
	ok = !fclose(f) && ok;
	return ok && nr_hugepages() == n;
}

static void test_huge_sizes_refused(void **state)
{
	struct vm *vm;

	(void)state;
	fake_reset();
	vm = vm_with(MVM_TRANSPORT_PCI, MVM_HUGE_2M, 3ULL << 20);
	assert_true(IS_ERR(vm));
	assert_int_equal(PTR_ERR(vm), -EINVAL);
}

static void test_huge_too_few(void **state)
{
	char msg[512];
	struct vm *vm;

	(void)state;
	if (meminfo("HugePages_Free") >= 2) {
		print_message("SKIP: the host has free huge pages: no shortage to test\n");
		skip();
	}
	fake_reset();
	mvm_log_capture(msg, sizeof(msg));
	vm = vm_with(MVM_TRANSPORT_PCI, MVM_HUGE_2M, 4ULL << 20);
	mvm_log_capture(NULL, 0);
	assert_true(IS_ERR(vm));
	if (!strstr(msg, "/proc/sys/vm/nr_hugepages") && !strstr(msg, "hugetlbfs"))
		fail_msg("no clear error: '%s'", msg);
	assert_non_null(strstr(msg, "huge pages"));
}

/* Restores the host's huge page pool whatever the test did. */
static long saved_nr_hugepages = -1;

static int restore_hugepages(void **state)
{
	(void)state;
	if (saved_nr_hugepages >= 0 && !set_nr_hugepages(saved_nr_hugepages))
		return -1;
	saved_nr_hugepages = -1;
	return 0;
}

static void test_huge_backed_balloon(void **state)
{
	long before = nr_hugepages(), free_before;
	uint32_t pfns[512];
	struct env *e;
	unsigned int i;

	(void)state;
	saved_nr_hugepages = before;
	if (before < 0 || !set_nr_hugepages(before + 2) || meminfo("HugePages_Free") < 2) {
		print_message("SKIP: cannot reserve 2 huge pages (not root?)\n");
		skip();
	}
	e = env_new_huge(MVM_TRANSPORT_PCI, "1", MVM_HUGE_2M);
	assert_int_equal(e->vm->mem.page_size, 2ULL << 20);
	/* The mapping reserved both pages. */
	assert_int_equal(meminfo("HugePages_Rsvd") +
					 (meminfo("HugePages_Total") - meminfo("HugePages_Free")) >=
				 2,
			 1);
	start(e, 0, 2);
	touch(e, 2ULL << 20, 512);
	/* hugetlbfs has no SEEK_DATA: the host's free huge pages tell instead. */
	free_before = meminfo("HugePages_Free");
	/* 511 of the 512 frames of the second huge page: it stays. */
	for (i = 0; i < 512; i++)
		pfns[i] = htole32((uint32_t)(512 + i));
	mem_write(&e->vm->mem, BUF, pfns, 511 * 4);
	post(e, 0, &(struct buf){ BUF, 511 * 4, false }, 1);
	assert_int_equal(counter(e, "held_pages"), 511);
	assert_int_equal(counter(e, "freed_bytes"), 0);
	assert_int_equal(meminfo("HugePages_Free"), free_before);
	/* The last one: the whole 2 MiB page goes back to the host. */
	mem_write(&e->vm->mem, BUF, &pfns[511], 4);
	post(e, 0, &(struct buf){ BUF, 4, false }, 1);
	assert_int_equal(counter(e, "held_pages"), 512);
	assert_int_equal(counter(e, "freed_bytes"), 2ULL << 20);
	assert_int_equal(meminfo("HugePages_Free"), free_before + 1);
	env_free(e);
}

static void test_transparent(void **state)
{
	struct env *e;

	(void)state;
	e = env_new_huge(MVM_TRANSPORT_MMIO, "1", MVM_HUGE_THP);
	/* Given back in 4 KiB units: a THP-backed memfd splits its huge pages. */
	assert_int_equal(mem_page_size(&e->vm->mem), 4096);
	start(e, 0, 2);
	touch(e, DATA, 4);
	post_pfns(e, 0, DATA, 4, NULL, 0);
	assert_true(ram_hole(e, DATA, 4 * 4096));
	env_free(e);
}

int run_hugepage_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_huge_sizes_refused),
		cmocka_unit_test(test_huge_too_few),
		cmocka_unit_test_teardown(test_huge_backed_balloon, restore_hugepages),
		cmocka_unit_test(test_transparent),
	};

	return cmocka_run_group_tests_name("huge-pages", tests, NULL, NULL);
}

int run_balloon_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_features_follow_options),
		VDRV_TESTS(test_inflate_gives_memory_back),
		VDRV_TESTS(test_snapshot_restore),
		VDRV_TESTS(test_bad_pfns_counted),
		VDRV_TESTS(test_malformed_lists_refused),
		VDRV_TESTS(test_target_and_config_interrupt),
		VDRV_TESTS(test_stats),
		VDRV_TESTS(test_free_page_reporting),
		VDRV_TESTS(test_free_page_hinting),
		VDRV_TESTS(test_reset_empties_balloon),
		cmocka_unit_test(test_no_balloon),
	};

	return cmocka_run_group_tests_name("virtio-balloon", tests, NULL, NULL);
}
