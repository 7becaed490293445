// SPDX-License-Identifier: MIT
/*
 * virtio-blk as a guest driver sees it, without KVM: the device on each
 * transport of a fake-KVM VM (virtio-pci: config space and the BAR's
 * registers; virtio-mmio: the register window), requests on a queue in
 * guest RAM kicked through the queue's ioeventfd. The disk is a temporary file with io=sync, so
 * every request completes inside the kick (the io_uring engine is covered by test_blk.c and the
 * integration tests).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/virtio_blk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"
#include "virtio/blk.h"

#define QSZ    16
#define DESC   0x10000
#define AVAIL  0x11000
#define USED   0x12000
#define HDR    0x20000
#define DATA   0x21000
#define STATUS 0x30000

#define SECTORS 64

struct benv {
	struct vdrv d;
	struct vm *vm;
	char path[64];
};

static struct benv *benv_new_rl(enum mvm_transport t, bool ro,
				const struct mvm_rate_limiter_config *rl)
{
	struct benv *e = test_calloc(1, sizeof(*e));
	struct mvm_disk_config disk = { .id = "unit-disk",
					.read_only = ro,
					.io = MVM_DISK_IO_SYNC };
	uint64_t features;
	int fd;

	snprintf(e->path, sizeof(e->path), "/var/tmp/mvm-vblk-unit-XXXXXX");
	fd = mkstemp(e->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SECTORS * 512), 0);
	close(fd);
	snprintf(disk.path, sizeof(disk.path), "%s", e->path);
	if (rl) {
		disk.rate_limiter = *rl;
		disk.rate_limiter_set = true;
	}
	vdrv_vm(&e->d, t);
	e->vm = e->d.vm;
	vdrv_attach(&e->d, virtio_blk_create(e->vm, &disk, 0), VIRTIO_ID_BLOCK);

	features = vdrv_device_features(&e->d);
	assert_true(features >> VIRTIO_F_VERSION_1 & 1);
	assert_int_equal(features >> VIRTIO_BLK_F_RO & 1, ro);
	assert_int_equal(features >> VIRTIO_BLK_F_DISCARD & 1, !ro);
	assert_true(features >> VIRTIO_BLK_F_FLUSH & 1);
	assert_true(features >> VIRTIO_BLK_F_MQ & 1);
	features &= ~(1ULL << VIRTIO_F_RING_EVENT_IDX);
	vdrv_negotiate(&e->d, features);
	vdrv_queue(&e->d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(&e->d);
	assert_int_equal(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET, 0);
	return e;
}

static struct benv *benv_new(enum mvm_transport t, bool ro)
{
	return benv_new_rl(t, ro, NULL);
}

static void benv_free(struct benv *e)
{
	vdrv_fini(&e->d);
	unlink(e->path);
	test_free(e);
}

/* Writes descriptors 0..n-1 as one chain, publishes head 0, kicks. Returns the used len. */
static uint32_t submit(struct benv *e, const struct virtq_desc *d, unsigned int n)
{
	uint16_t slot = e->d.avail_idx[0] % QSZ, head = 0, used_before, used_after = 0;
	struct virtq_used_elem u;

	for (unsigned int i = 0; i < n; i++)
		mem_write(&e->vm->mem, DESC + 16ULL * i, &d[i], sizeof(d[i]));
	mem_read(&e->vm->mem, USED + 2, &used_before, 2);
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	e->d.avail_idx[0]++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->d.avail_idx[0], 2);
	vdrv_kick(&e->d, 0);
	mem_read(&e->vm->mem, USED + 2, &used_after, 2);
	if (used_after == used_before)
		return UINT32_MAX; /* nothing came back */
	mem_read(&e->vm->mem, USED + 4 + 8 * (used_before % QSZ), &u, sizeof(u));
	assert_int_equal(u.id, 0);
	return u.len;
}

static uint16_t used_idx(struct benv *e)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, USED + 2, &v, 2);
	return v;
}

/* A request: header, optional data (readable for OUT, writable for IN), status. */
static uint8_t blk_rq(struct benv *e, uint32_t type, uint64_t sector, uint32_t len, uint32_t *used)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	struct virtq_desc d[3];
	uint8_t st = 0xee;
	unsigned int n = 0;

	mem_write(&e->vm->mem, HDR, &h, sizeof(h));
	mem_write(&e->vm->mem, STATUS, &st, 1);
	d[n++] = (struct virtq_desc){ HDR, sizeof(h), VIRTQ_DESC_F_NEXT, 1 };
	if (len)
		d[n++] = (struct virtq_desc){
			DATA, len,
			VIRTQ_DESC_F_NEXT | (type == VIRTIO_BLK_T_OUT ? 0 : VIRTQ_DESC_F_WRITE), 2
		};
	d[n] = (struct virtq_desc){ STATUS, 1, VIRTQ_DESC_F_WRITE, 0 };
	d[n - 1].next = (uint16_t)n;
	*used = submit(e, d, n + 1);
	mem_read(&e->vm->mem, STATUS, &st, 1);
	return st;
}

static void test_blk_config_space(void **state)
{
	struct benv *e = benv_new(vdrv_transport(state), false);

	assert_int_equal(vdrv_config(&e->d, 0, 8), SECTORS); /* capacity */
	assert_int_equal(vdrv_config(&e->d, 12, 4), 254);    /* seg_max */
	assert_int_equal(vdrv_config(&e->d, 20, 4), 512);    /* blk_size */
	assert_int_equal(vdrv_config(&e->d, 34, 2), 2);	     /* num_queues */
	assert_true(vdrv_config(&e->d, 36, 4) > 0);	     /* max_discard_sectors */
	benv_free(e);
}

static void test_blk_rw_through_transport(void **state)
{
	struct benv *e = benv_new(vdrv_transport(state), false);
	uint8_t buf[1024], back[1024];
	char id[21] = { 0 };
	uint32_t used;
	int fd;

	for (unsigned int i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	mem_write(&e->vm->mem, DATA, buf, sizeof(buf));
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_OUT, 5, 1024, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_FLUSH, 0, 0, &used), VIRTIO_BLK_S_OK);
	memset(mem_ptr(&e->vm->mem, DATA, 1024), 0, 1024);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 5, 1024, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 1025);
	mem_read(&e->vm->mem, DATA, back, sizeof(back));
	assert_memory_equal(buf, back, sizeof(buf));
	/* On the host file, at sector 5. */
	fd = open(e->path, O_RDONLY);
	assert_int_equal(pread(fd, back, sizeof(back), 5 * 512), (ssize_t)sizeof(back));
	close(fd);
	assert_memory_equal(buf, back, sizeof(buf));
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_GET_ID, 0, 20, &used), VIRTIO_BLK_S_OK);
	mem_read(&e->vm->mem, DATA, id, 20);
	assert_string_equal(id, "unit-disk");
	/* Past the end: IOERR, and the device goes on. */
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, SECTORS, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(used, 1);
	assert_int_equal(blk_rq(e, 0x1234, 0, 0, &used), VIRTIO_BLK_S_UNSUPP);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 0, 512, &used), VIRTIO_BLK_S_OK);
	assert_false(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	benv_free(e);
}

static void test_blk_read_only(void **state)
{
	struct benv *e = benv_new(vdrv_transport(state), true);
	uint32_t used;

	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_OUT, 0, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 0, 512, &used), VIRTIO_BLK_S_OK);
	benv_free(e);
}

/* A chain the walker rejects: NEEDS_RESET, the head comes back, mvm goes on. */
static void test_blk_malformed_chain(void **state)
{
	struct benv *e = benv_new(vdrv_transport(state), false);
	struct virtq_desc loop[2] = {
		{ HDR, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0 },
	};
	struct virtq_desc out_of_ram[3] = {
		{ HDR, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ 0xfff00000000ULL, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 },
		{ STATUS, 1, VIRTQ_DESC_F_WRITE, 0 },
	};

	assert_int_equal(submit(e, out_of_ram, 3), 0);
	assert_true(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	assert_true(vdrv_isr(&e->d) & 2); /* told through a config interrupt */
	benv_free(e);
	e = benv_new(vdrv_transport(state), false);
	assert_int_equal(submit(e, loop, 2), 0);
	assert_true(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset clears it. */
	vdrv_set_status(&e->d, 0);
	assert_int_equal(vdrv_status(&e->d), 0);
	benv_free(e);
}

/* Turns the VM's event loop once (waiting up to ms): the number of handlers run. */
static int loop_turn(struct benv *e, int ms)
{
	struct epoll_event ev[8];
	int n;

	do /* other tests' timers may still signal this process */
		n = epoll_wait(e->vm->loop.epfd, ev, 8, ms);
	while (n < 0 && errno == EINTR);

	for (int i = 0; i < n; i++) {
		struct loop_handler *h = ev[i].data.ptr;

		vdrv_loop_dispatch(h, ev[i].events);
	}
	return n < 0 ? 0 : n;
}

/* rate_limiter: a held request waits for the limiter's timer, or for a PATCH that lifts it. */
static void test_blk_rate_limited(void **state)
{
	struct mvm_rate_limiter_config rl = {
		.ops = { .size = 1, .refill_time = 300 },
		.ops_set = true,
	};
	const struct mvm_device_type *t = mvm_device_type_find("virtio-blk");
	struct benv *e = benv_new_rl(vdrv_transport(state), false, &rl);
	struct mvm_disk_config patch = { 0 };
	char msg[256];
	uint32_t used;

	(void)state;
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 0, 512, &used), VIRTIO_BLK_S_OK);
	assert_int_equal(used, 513);
	/* One op per 300 ms: the second waits, nothing comes back yet. */
	blk_rq(e, VIRTIO_BLK_T_IN, 1, 512, &used);
	assert_int_equal(used, UINT32_MAX);
	assert_int_equal(loop_turn(e, 0), 0);
	assert_int_equal(loop_turn(e, 1000), 1); /* the limiter's timer */
	assert_int_equal(used_idx(e), 2);
	/* Held again; then a PATCH without a limiter lets it through at once. */
	blk_rq(e, VIRTIO_BLK_T_IN, 2, 512, &used);
	assert_int_equal(used, UINT32_MAX);
	snprintf(patch.path, sizeof(patch.path), "%s", e->path);
	snprintf(patch.id, sizeof(patch.id), "unit-disk");
	assert_int_equal(t->update(e->vm, "unit-disk", &patch, msg, sizeof(msg)), 0);
	assert_int_equal(loop_turn(e, 100), 1);
	assert_int_equal(used_idx(e), 3);
	/* A new backing file after boot is refused, naming the field. */
	snprintf(patch.path, sizeof(patch.path), "/nonexistent");
	assert_int_equal(t->update(e->vm, "unit-disk", &patch, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "backing file"));
	assert_int_equal(t->update(e->vm, "nope", &patch, msg, sizeof(msg)), -ENODEV);
	benv_free(e);
}

/*
 * PATCH /drives after boot (the type's update hook): the backing file is
 * swapped, the capacity follows, the driver gets a configuration change;
 * a file that cannot be opened changes nothing.
 */
static void test_blk_update(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-blk");
	struct benv *e = benv_new(vdrv_transport(state), false);
	struct mvm_disk_config cfg = { .id = "unit-disk", .io = MVM_DISK_IO_SYNC };
	char path[64], msg[256];
	uint8_t buf[512], gen;
	uint32_t used;
	int fd;

	assert_non_null(t);
	assert_non_null(t->update);
	snprintf(path, sizeof(path), "/var/tmp/mvm-vblk-unit2-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(ftruncate(fd, 2 * SECTORS * 512), 0);
	close(fd);
	gen = vdrv_generation(&e->d);

	snprintf(cfg.path, sizeof(cfg.path), "%s.none", path);
	assert_int_equal(t->update(e->vm, "unit-disk", &cfg, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "No such file or directory (os error 2)"));
	assert_int_equal(vdrv_config(&e->d, 0, 8), SECTORS);
	assert_int_equal(t->update(e->vm, "nope", &cfg, msg, sizeof(msg)), -ENODEV);

	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	assert_int_equal(t->update(e->vm, "unit-disk", &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(vdrv_config(&e->d, 0, 8), 2 * SECTORS);
	assert_int_not_equal(vdrv_generation(&e->d), gen);
	/* Reads come from the new file now, up to its new end. */
	memset(mem_ptr(&e->vm->mem, DATA, 512), 0, 512);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 0, 512, &used), VIRTIO_BLK_S_OK);
	assert_memory_equal(mem_ptr(&e->vm->mem, DATA, 512), buf, sizeof(buf));
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 2 * SECTORS - 1, 512, &used), VIRTIO_BLK_S_OK);
	benv_free(e);
	unlink(path);
}

int run_virtio_blk_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_blk_config_space), VDRV_TESTS(test_blk_rw_through_transport),
		VDRV_TESTS(test_blk_read_only),	   VDRV_TESTS(test_blk_malformed_chain),
		VDRV_TESTS(test_blk_rate_limited), VDRV_TESTS(test_blk_update),
	};

	return cmocka_run_group_tests_name("virtio-blk device", tests, NULL, NULL);
}
