// SPDX-License-Identifier: MIT
/*
 * virtio-blk as a guest driver sees it, without KVM: the device on the
 * virtio-pci transport of a fake-KVM VM, driven through config space and
 * the BAR's registers, requests on a queue in guest RAM kicked through the
 * queue's ioeventfd. The disk is a temporary file with io=sync, so every
 * request completes inside the kick (the io_uring engine is covered by
 * test_blk.c and the integration tests).
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
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "virtio/blk.h"

#define QSZ    16
#define DESC   0x10000
#define AVAIL  0x11000
#define USED   0x12000
#define HDR    0x20000
#define DATA   0x21000
#define STATUS 0x30000

#define COMMON 0x0000
#define DEVCFG 0x2000
#define NOTIFY 0x3000

#define SECTORS 64

struct benv {
	struct vm *vm;
	struct virtio_dev *vdev;
	uint64_t bar;
	uint16_t avail_idx;
	char path[64];
};

static const struct platform_device_desc host_desc = {
	"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
};

static uint32_t cfg_rw(struct benv *e, unsigned int reg, uint32_t v, unsigned int len, bool write)
{
	uint64_t a = ARCH_PCI_ECAM_BASE + ((unsigned int)e->vdev->pci.slot << 15) + reg;

	bus_access(&e->vm->buses[MVM_BUS_MMIO], a, &v, len, write);
	return v;
}

static uint64_t bar_rd(struct benv *e, uint64_t off, unsigned int len)
{
	uint64_t v = 0;

	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, false);
	return v;
}

static void bar_wr(struct benv *e, uint64_t off, uint64_t v, unsigned int len)
{
	bus_access(&e->vm->buses[MVM_BUS_MMIO], e->bar + off, &v, len, true);
}

static struct benv *benv_new(bool ro)
{
	struct benv *e = test_calloc(1, sizeof(*e));
	struct mvm_disk_config disk = { .id = "unit-disk",
					.read_only = ro,
					.io = MVM_DISK_IO_SYNC };
	const uint8_t st = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;
	uint64_t features;
	int fd;

	snprintf(e->path, sizeof(e->path), "/var/tmp/mvm-vblk-unit-XXXXXX");
	fd = mkstemp(e->path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, SECTORS * 512), 0);
	close(fd);
	snprintf(disk.path, sizeof(disk.path), "%s", e->path);
	fake_reset();
	e->vm = unit_vm(1);
	memset(mem_ptr(&e->vm->mem, 0, 0x40000), 0, 0x40000);
	assert_false(IS_ERR(pci_host_create(e->vm, &host_desc)));
	e->vdev = virtio_blk_create(e->vm, &disk, 0);
	assert_false(IS_ERR(e->vdev));
	assert_int_equal(cfg_rw(e, PCI_VENDOR_ID, 0, 4, false), 0x10421af4);
	e->bar = cfg_rw(e, PCI_BASE_ADDRESS_0, 0, 4, false) & ~0xfu;
	cfg_rw(e, PCI_COMMAND, PCI_COMMAND_MEMORY, 2, true);

	bar_wr(e, COMMON + 0x14, VIRTIO_STATUS_ACKNOWLEDGE, 1);
	bar_wr(e, COMMON + 0x14, st, 1);
	bar_wr(e, COMMON + 0x00, 0, 4);
	features = bar_rd(e, COMMON + 0x04, 4);
	bar_wr(e, COMMON + 0x00, 1, 4);
	features |= bar_rd(e, COMMON + 0x04, 4) << 32;
	assert_true(features >> VIRTIO_F_VERSION_1 & 1);
	assert_int_equal(features >> VIRTIO_BLK_F_RO & 1, ro);
	assert_int_equal(features >> VIRTIO_BLK_F_DISCARD & 1, !ro);
	assert_true(features >> VIRTIO_BLK_F_FLUSH & 1);
	assert_true(features >> VIRTIO_BLK_F_MQ & 1);
	features &= ~(1ULL << VIRTIO_F_RING_EVENT_IDX);
	bar_wr(e, COMMON + 0x08, 0, 4);
	bar_wr(e, COMMON + 0x0c, (uint32_t)features, 4);
	bar_wr(e, COMMON + 0x08, 1, 4);
	bar_wr(e, COMMON + 0x0c, (uint32_t)(features >> 32), 4);
	bar_wr(e, COMMON + 0x14, st | VIRTIO_STATUS_FEATURES_OK, 1);
	/* queue 0 */
	bar_wr(e, COMMON + 0x16, 0, 2);
	bar_wr(e, COMMON + 0x18, QSZ, 2);
	bar_wr(e, COMMON + 0x20, DESC, 8);
	bar_wr(e, COMMON + 0x28, AVAIL, 8);
	bar_wr(e, COMMON + 0x30, USED, 8);
	bar_wr(e, COMMON + 0x1c, 1, 2);
	bar_wr(e, COMMON + 0x14, st | VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER_OK, 1);
	return e;
}

static void benv_free(struct benv *e)
{
	vm_destroy(e->vm);
	unlink(e->path);
	test_free(e);
}

/* Writes descriptors 0..n-1 as one chain, publishes head 0, kicks. Returns the used len. */
static uint32_t submit(struct benv *e, const struct virtq_desc *d, unsigned int n)
{
	struct virtqueue *vq = virtio_dev_vq(e->vdev, 0);
	uint16_t slot = e->avail_idx % QSZ, head = 0, used_before, used_after = 0;
	struct virtq_used_elem u;
	uint64_t one = 1;
	int fd = fake_ioeventfd_at(e->bar + NOTIFY);

	for (unsigned int i = 0; i < n; i++)
		mem_write(&e->vm->mem, DESC + 16ULL * i, &d[i], sizeof(d[i]));
	mem_read(&e->vm->mem, USED + 2, &used_before, 2);
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	e->avail_idx++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
	vq->kick.fn(&vq->kick, EPOLLIN); /* the event loop's turn */
	mem_read(&e->vm->mem, USED + 2, &used_after, 2);
	if (used_after == used_before)
		return UINT32_MAX; /* nothing came back */
	mem_read(&e->vm->mem, USED + 4 + 8 * (used_before % QSZ), &u, sizeof(u));
	assert_int_equal(u.id, 0);
	return u.len;
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
	struct benv *e = benv_new(false);

	(void)state;
	assert_int_equal(bar_rd(e, DEVCFG + 0, 8), SECTORS); /* capacity */
	assert_int_equal(bar_rd(e, DEVCFG + 12, 4), 254);    /* seg_max */
	assert_int_equal(bar_rd(e, DEVCFG + 20, 4), 512);    /* blk_size */
	assert_int_equal(bar_rd(e, DEVCFG + 34, 2), 2);	     /* num_queues */
	assert_true(bar_rd(e, DEVCFG + 36, 4) > 0);	     /* max_discard_sectors */
	benv_free(e);
}

static void test_blk_rw_through_transport(void **state)
{
	struct benv *e = benv_new(false);
	uint8_t buf[1024], back[1024];
	char id[21] = { 0 };
	uint32_t used;
	int fd;

	(void)state;
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
	assert_false(bar_rd(e, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	benv_free(e);
}

static void test_blk_read_only(void **state)
{
	struct benv *e = benv_new(true);
	uint32_t used;

	(void)state;
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_OUT, 0, 512, &used), VIRTIO_BLK_S_IOERR);
	assert_int_equal(blk_rq(e, VIRTIO_BLK_T_IN, 0, 512, &used), VIRTIO_BLK_S_OK);
	benv_free(e);
}

/* A chain the walker rejects: NEEDS_RESET, the head comes back, mvm goes on. */
static void test_blk_malformed_chain(void **state)
{
	struct benv *e = benv_new(false);
	struct virtq_desc loop[2] = {
		{ HDR, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ DATA, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 0 },
	};
	struct virtq_desc out_of_ram[3] = {
		{ HDR, 16, VIRTQ_DESC_F_NEXT, 1 },
		{ 0xfff00000000ULL, 512, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 2 },
		{ STATUS, 1, VIRTQ_DESC_F_WRITE, 0 },
	};

	(void)state;
	assert_int_equal(submit(e, out_of_ram, 3), 0);
	assert_true(bar_rd(e, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	benv_free(e);
	e = benv_new(false);
	assert_int_equal(submit(e, loop, 2), 0);
	assert_true(bar_rd(e, COMMON + 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET);
	/* A reset clears it. */
	bar_wr(e, COMMON + 0x14, 0, 1);
	assert_int_equal(bar_rd(e, COMMON + 0x14, 1), 0);
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
	struct benv *e = benv_new(false);
	struct mvm_disk_config cfg = { .id = "unit-disk", .io = MVM_DISK_IO_SYNC };
	char path[64], msg[256];
	uint8_t buf[512], gen;
	uint32_t used;
	int fd;

	(void)state;
	assert_non_null(t);
	assert_non_null(t->update);
	snprintf(path, sizeof(path), "/var/tmp/mvm-vblk-unit2-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	memset(buf, 0x5a, sizeof(buf));
	assert_int_equal(pwrite(fd, buf, sizeof(buf), 0), (ssize_t)sizeof(buf));
	assert_int_equal(ftruncate(fd, 2 * SECTORS * 512), 0);
	close(fd);
	gen = (uint8_t)bar_rd(e, COMMON + 0x15, 1);

	snprintf(cfg.path, sizeof(cfg.path), "%s.none", path);
	assert_int_equal(t->update(e->vm, "unit-disk", &cfg, msg, sizeof(msg)), -ENOENT);
	assert_non_null(strstr(msg, "No such file or directory (os error 2)"));
	assert_int_equal(bar_rd(e, DEVCFG + 0, 8), SECTORS);
	assert_int_equal(t->update(e->vm, "nope", &cfg, msg, sizeof(msg)), -ENODEV);

	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	assert_int_equal(t->update(e->vm, "unit-disk", &cfg, msg, sizeof(msg)), 0);
	assert_int_equal(bar_rd(e, DEVCFG + 0, 8), 2 * SECTORS);
	assert_int_not_equal((uint8_t)bar_rd(e, COMMON + 0x15, 1), gen);
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
		cmocka_unit_test(test_blk_config_space),
		cmocka_unit_test(test_blk_rw_through_transport),
		cmocka_unit_test(test_blk_read_only),
		cmocka_unit_test(test_blk_malformed_chain),
		cmocka_unit_test(test_blk_update),
	};

	return cmocka_run_group_tests_name("virtio-blk device", tests, NULL, NULL);
}
