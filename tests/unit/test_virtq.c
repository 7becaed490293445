// SPDX-License-Identifier: MIT
/*
 * Split virtqueues against hostile rings: the guest's side is written by
 * hand in a VM's RAM (fake KVM), then the device pops. Loops, out-of-range
 * indexes and addresses, wrong directions, indirect misuse and oversize
 * chains must come back as errors, with nothing read or written outside RAM.
 */
#include <errno.h>
#include <string.h>

#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"

#define QSZ	 8
#define DESC	 0x10000
#define AVAIL	 0x11000
#define USED	 0x12000
#define BUF	 0x20000
#define INDIRECT 0x30000
#define FEAT_ALL ((1ULL << VIRTIO_F_RING_EVENT_IDX) | (1ULL << VIRTIO_F_RING_INDIRECT_DESC))

struct vq_env {
	struct vm *vm;
	struct virtqueue vq;
	struct virtq_chain c;
	uint16_t avail_idx;
	unsigned int signals;
};

static struct vm_memory *mem_of(struct vq_env *e)
{
	return &e->vm->mem;
}

static void put_desc(struct vq_env *e, uint64_t table, unsigned int i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	assert_int_equal(mem_write(mem_of(e), table + i * sizeof(d), &d, sizeof(d)), 0);
}

static void offer(struct vq_env *e, uint16_t head)
{
	uint16_t slot = e->avail_idx % QSZ;

	mem_write(mem_of(e), AVAIL + 4 + 2 * slot, &head, 2);
	e->avail_idx++;
	mem_write(mem_of(e), AVAIL + 2, &e->avail_idx, 2);
}

static uint16_t rd16(struct vq_env *e, uint64_t gpa)
{
	uint16_t v = 0;

	mem_read(mem_of(e), gpa, &v, 2);
	return v;
}

static uint32_t rd32(struct vq_env *e, uint64_t gpa)
{
	uint32_t v = 0;

	mem_read(mem_of(e), gpa, &v, 4);
	return v;
}

static void count_signal(struct virtqueue *vq)
{
	struct vq_env *e = container_of(vq, struct vq_env, vq);

	e->signals++;
}

static int setup_features(void **state, uint64_t features)
{
	struct vq_env *e = test_calloc(1, sizeof(*e));

	e->vm = unit_vm(1);
	memset(mem_ptr(mem_of(e), 0, 0x40000), 0, 0x40000);
	assert_int_equal(virtq_setup(&e->vq, mem_of(e), QSZ, DESC, AVAIL, USED, features), 0);
	e->vq.signal = count_signal;
	*state = e;
	return 0;
}

static int setup(void **state)
{
	return setup_features(state, FEAT_ALL);
}

static int setup_plain(void **state)
{
	return setup_features(state, 0);
}

static int teardown(void **state)
{
	struct vq_env *e = *state;

	vm_destroy(e->vm);
	test_free(e);
	return 0;
}

static void test_setup_checks(void **state)
{
	struct vq_env *e = *state;
	struct virtqueue vq = { 0 };
	uint64_t ram = e->vm->mem.size;

	assert_int_equal(virtq_setup(&vq, mem_of(e), 6, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), 0, DESC, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, DESC + 8, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, DESC, AVAIL + 1, USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, DESC, AVAIL, USED + 2, 0), -EINVAL);
	/* Rings that run off the end of RAM, or start past it. */
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, ram - 64, AVAIL, USED, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, DESC, AVAIL, ram + 0x1000, 0), -EINVAL);
	assert_int_equal(virtq_setup(&vq, mem_of(e), QSZ, DESC, 0xfffffffffffffff0ULL, USED, 0),
			 -EINVAL);
	/* The largest queue (32768) has a 512 KiB table: it must fit too. */
	assert_int_equal(virtq_setup(&vq, mem_of(e), 32768, ram - 0x40000, AVAIL, USED, 0),
			 -EINVAL);
	assert_false(vq.enabled);
	/* Popping a queue that is not set up finds nothing. */
	assert_int_equal(virtq_pop(&vq, &e->c), 0);
}

static void test_simple_chain(void **state)
{
	struct vq_env *e = *state;

	assert_int_equal(virtq_pop(&e->vq, &e->c), 0);
	put_desc(e, DESC, 3, BUF, 16, VIRTQ_DESC_F_NEXT, 5);
	put_desc(e, DESC, 5, BUF + 0x100, 512, VIRTQ_DESC_F_NEXT, 0);
	put_desc(e, DESC, 0, BUF + 0x400, 1, VIRTQ_DESC_F_WRITE, 0);
	offer(e, 3);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	assert_int_equal(e->c.head, 3);
	assert_int_equal(e->c.out_num, 2);
	assert_int_equal(e->c.in_num, 1);
	assert_ptr_equal(e->c.iov[0].iov_base, mem_ptr(mem_of(e), BUF, 16));
	assert_int_equal(e->c.iov[1].iov_len, 512);
	assert_ptr_equal(e->c.iov[2].iov_base, mem_ptr(mem_of(e), BUF + 0x400, 1));
	/* Asked for the next kick at the next entry (EVENT_IDX). */
	assert_int_equal(rd16(e, USED + 4 + 8 * QSZ), 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 0);

	virtq_push(&e->vq, 3, 1);
	assert_int_equal(rd16(e, USED + 2), 1);
	assert_int_equal(rd32(e, USED + 4), 3);
	assert_int_equal(rd32(e, USED + 8), 1);
}

static void test_zero_length_skipped(void **state)
{
	struct vq_env *e = *state;

	put_desc(e, DESC, 0, BUF, 0, VIRTQ_DESC_F_NEXT, 1);
	put_desc(e, DESC, 1, 0xffffffffffff0000ULL, 0, VIRTQ_DESC_F_NEXT, 2);
	put_desc(e, DESC, 2, BUF, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	assert_int_equal(e->c.out_num, 0);
	assert_int_equal(e->c.in_num, 1);
}

static void test_loop(void **state)
{
	struct vq_env *e = *state;

	put_desc(e, DESC, 0, BUF, 8, VIRTQ_DESC_F_NEXT, 1);
	put_desc(e, DESC, 1, BUF, 8, VIRTQ_DESC_F_NEXT, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -ELOOP);
	assert_int_equal(e->c.head, 0);
	/* A descriptor pointing at itself. */
	put_desc(e, DESC, 4, BUF, 8, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 4);
	offer(e, 4);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -ELOOP);
	/* The queue goes on: a good chain after the bad ones. */
	put_desc(e, DESC, 2, BUF, 8, 0, 0);
	offer(e, 2);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	assert_int_equal(e->c.head, 2);
}

static void test_out_of_range(void **state)
{
	struct vq_env *e = *state;
	uint64_t ram = e->vm->mem.size;

	/* Head beyond the table. */
	offer(e, QSZ);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	assert_int_equal(e->c.head, QSZ);
	offer(e, 0xffff);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	/* next beyond the table. */
	put_desc(e, DESC, 0, BUF, 8, VIRTQ_DESC_F_NEXT, QSZ + 100);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	/* Buffers outside RAM: past the end, straddling it, wrapping around. */
	put_desc(e, DESC, 1, ram, 8, 0, 0);
	offer(e, 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 1, ram - 4, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(e, 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 1, 0xfffffffffffffff0ULL, 0x20, 0, 0);
	offer(e, 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 1, BUF, 0xffffffff, 0, 0);
	offer(e, 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	/* In the hole above RAM's end, below 4 GiB. */
	put_desc(e, DESC, 1, 0xfee00000, 4, VIRTQ_DESC_F_WRITE, 0);
	offer(e, 1);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
}

static void test_wrong_direction(void **state)
{
	struct vq_env *e = *state;

	put_desc(e, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
	put_desc(e, DESC, 1, BUF + 8, 8, 0, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
}

static void test_indirect(void **state)
{
	struct vq_env *e = *state;

	put_desc(e, INDIRECT, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(e, INDIRECT, 1, BUF + 16, 64, VIRTQ_DESC_F_NEXT, 2);
	put_desc(e, INDIRECT, 2, BUF + 80, 1, VIRTQ_DESC_F_WRITE, 0);
	put_desc(e, DESC, 6, INDIRECT, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	assert_int_equal(e->c.head, 6);
	assert_int_equal(e->c.out_num, 2);
	assert_int_equal(e->c.in_num, 1);
	assert_int_equal(e->c.iov[1].iov_len, 64);

	/* Indirect with NEXT, a table of odd length, nested, outside RAM. */
	put_desc(e, DESC, 6, INDIRECT, 3 * 16, VIRTQ_DESC_F_INDIRECT | VIRTQ_DESC_F_NEXT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 6, INDIRECT, 3 * 16 + 4, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 6, INDIRECT, 0, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, INDIRECT, 1, INDIRECT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	put_desc(e, DESC, 6, INDIRECT, 3 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	put_desc(e, DESC, 6, e->vm->mem.size - 16, 32, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	/* A loop inside the table. */
	put_desc(e, INDIRECT, 0, BUF, 16, VIRTQ_DESC_F_NEXT, 1);
	put_desc(e, INDIRECT, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 0);
	put_desc(e, DESC, 6, INDIRECT, 2 * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -ELOOP);
	/* next past the table's end. */
	put_desc(e, INDIRECT, 1, BUF, 16, VIRTQ_DESC_F_NEXT, 2);
	offer(e, 6);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
}

static void test_indirect_needs_feature(void **state)
{
	struct vq_env *e = *state;

	put_desc(e, INDIRECT, 0, BUF, 16, 0, 0);
	put_desc(e, DESC, 0, INDIRECT, 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
}

static void test_oversize(void **state)
{
	struct vq_env *e = *state;
	unsigned int i, n = VIRTQ_CHAIN_MAX + 1;

	for (i = 0; i < n; i++)
		put_desc(e, INDIRECT, i, BUF + i, 1, i + 1 < n ? VIRTQ_DESC_F_NEXT : 0,
			 (uint16_t)(i + 1));
	put_desc(e, DESC, 0, INDIRECT, n * 16, VIRTQ_DESC_F_INDIRECT, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -E2BIG);
	/* Exactly the maximum is fine. */
	put_desc(e, INDIRECT, n - 2, BUF, 1, 0, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	assert_int_equal(e->c.out_num, VIRTQ_CHAIN_MAX);
}

static void test_avail_idx_runaway(void **state)
{
	struct vq_env *e = *state;
	uint16_t idx = QSZ + 1;

	/* The driver claims more entries than the ring holds: the queue is broken. */
	mem_write(mem_of(e), AVAIL + 2, &idx, 2);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	assert_true(e->vq.broken);
	idx = 1;
	mem_write(mem_of(e), AVAIL + 2, &idx, 2);
	assert_int_equal(virtq_pop(&e->vq, &e->c), -EINVAL);
	/* Until it is set up again. */
	assert_int_equal(virtq_setup(&e->vq, mem_of(e), QSZ, DESC, AVAIL, USED, FEAT_ALL), 0);
	idx = 0;
	mem_write(mem_of(e), AVAIL + 2, &idx, 2);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 0);
}

static void test_event_idx(void **state)
{
	struct vq_env *e = *state;
	uint16_t used_event;
	unsigned int i;

	put_desc(e, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	/* The first completion always interrupts. */
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	virtq_push(&e->vq, 0, 8);
	virtq_notify(&e->vq);
	assert_int_equal(e->signals, 1);
	/* The driver wants an interrupt only once used->idx passes 3. */
	used_event = 3;
	mem_write(mem_of(e), AVAIL + 4 + 2 * QSZ, &used_event, 2);
	for (i = 0; i < 3; i++) {
		offer(e, 0);
		assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
		virtq_push(&e->vq, 0, 8);
		virtq_notify(&e->vq);
	}
	/* used->idx went 1 -> 2 -> 3 -> 4: only the step past 3 (to 4) interrupts. */
	assert_int_equal(e->signals, 2);
}

static void test_no_interrupt_flag(void **state)
{
	struct vq_env *e = *state;
	uint16_t flags = VIRTQ_AVAIL_F_NO_INTERRUPT;

	put_desc(e, DESC, 0, BUF, 8, VIRTQ_DESC_F_WRITE, 0);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	virtq_push(&e->vq, 0, 8);
	virtq_notify(&e->vq);
	assert_int_equal(e->signals, 1);
	mem_write(mem_of(e), AVAIL, &flags, 2);
	offer(e, 0);
	assert_int_equal(virtq_pop(&e->vq, &e->c), 1);
	virtq_push(&e->vq, 0, 8);
	virtq_notify(&e->vq);
	assert_int_equal(e->signals, 1);
	/* No EVENT_IDX: no avail_event written. */
	assert_int_equal(rd16(e, USED + 4 + 8 * QSZ), 0);
}

static void test_iov_copy(void **state)
{
	struct vq_env *e = *state;
	uint8_t a[3], b[5], out[8];
	struct iovec iov[2] = { { a, sizeof(a) }, { b, sizeof(b) } };
	const uint8_t in[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)e;
	assert_int_equal(buf_to_iov(iov, 2, 0, in, 8), 8);
	assert_int_equal(a[2], 3);
	assert_int_equal(b[0], 4);
	assert_int_equal(iov_to_buf(iov, 2, 2, out, 8), 6);
	assert_memory_equal(out, in + 2, 6);
	assert_int_equal(buf_to_iov(iov, 2, 7, in, 8), 1);
	assert_int_equal(b[4], 1);
	assert_int_equal(iov_to_buf(iov, 2, 9, out, 8), 0);
}

int run_virtq_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_setup_checks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_simple_chain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zero_length_skipped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_direction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect, setup, teardown),
		cmocka_unit_test_setup_teardown(test_indirect_needs_feature, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_oversize, setup, teardown),
		cmocka_unit_test_setup_teardown(test_avail_idx_runaway, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_idx, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_interrupt_flag, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_iov_copy, setup, teardown),
	};

	return cmocka_run_group_tests_name("virtqueue", tests, NULL, NULL);
}
