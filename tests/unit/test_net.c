// SPDX-License-Identifier: MIT
/*
 * virtio-net's frame paths and the token buckets, without a device: the
 * transmit check (vnet header, sizes, offloads against the negotiated
 * features), the writev() vector that replaces the guest's header by the
 * checked copy, receive delivery into one chain or spread over several
 * (MRG_RXBUF, num_buffers), and the buckets' refill, burst, debt and
 * update-while-throttled.
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/rate_limiter.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "virtio/net.h"

#define F(bit) (1ULL << (bit))
#define MS     1000000ULL

/* ---- transmit ---- */

static struct virtq_chain *tx_chain(uint8_t *buf, const size_t *lens, unsigned int n)
{
	struct virtq_chain *c = test_calloc(1, sizeof(*c));
	size_t off = 0;

	for (unsigned int i = 0; i < n; i++) {
		c->iov[i].iov_base = buf + off;
		c->iov[i].iov_len = lens[i];
		off += lens[i];
	}
	c->out_num = n;
	return c;
}

static void test_tx_parse(void **state)
{
	static uint8_t buf[70000];
	struct virtio_net_hdr_v1 *h = (void *)buf, out;
	size_t lens[3] = { NET_HDR_LEN, 60, 0 }, frame = 0;
	uint64_t all = F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6);
	struct virtq_chain *c = tx_chain(buf, lens, 2);

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_OK);
	assert_int_equal(frame, 60);
	/* A device-writable buffer in a transmit chain. */
	c->in_num = 1;
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_MALFORMED);
	c->in_num = 0;
	/* Shorter than header + Ethernet header. */
	c->iov[1].iov_len = 13;
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_MALFORMED);
	c->iov[1].iov_len = 1519;
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_OVERSIZE);
	c->iov[1].iov_len = 1518;
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_OK);
	c->iov[1].iov_len = 100;

	/* Checksum offload: only when negotiated, and inside the frame. */
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->csum_start = 34;
	h->csum_offset = 16;
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_OFFLOAD);
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_OK);
	assert_int_equal(out.csum_start, 34);
	h->csum_offset = 65;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_MALFORMED);
	h->csum_offset = 16;
	h->flags = 0x80;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_MALFORMED);

	/* TSO: per family, with NEEDS_CSUM and a segment size. */
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	h->gso_size = 1448;
	assert_int_equal(net_tx_parse(c, F(VIRTIO_NET_F_CSUM), 1518, &out, &frame), NET_TX_OFFLOAD);
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_OK);
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(net_tx_parse(c, all & ~F(VIRTIO_NET_F_HOST_TSO6), 1518, &out, &frame),
			 NET_TX_OFFLOAD);
	h->gso_size = 0;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_MALFORMED);
	h->gso_size = 1448;
	h->flags = 0;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_MALFORMED);
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = VIRTIO_NET_HDR_GSO_UDP;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_OFFLOAD);
	h->gso_type = VIRTIO_NET_HDR_GSO_TCPV4 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_OFFLOAD);
	h->gso_type = 2;
	assert_int_equal(net_tx_parse(c, all, 1518, &out, &frame), NET_TX_MALFORMED);
	test_free(c);
}

static void test_tx_max_frame(void **state)
{
	(void)state;
	/* No MTU advertised: the driver may pick any; with TSO a 64 KiB frame. */
	assert_int_equal(net_tx_max_frame(0, 0), NET_MAX_GSO_FRAME);
	assert_int_equal(net_tx_max_frame(F(VIRTIO_NET_F_MTU), 1400), 1400 + 18);
	assert_int_equal(net_tx_max_frame(F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_HOST_TSO4), 1400),
			 NET_MAX_GSO_FRAME);
}

/* The header split over two buffers: the vector starts with the checked copy. */
static void test_tx_iov(void **state)
{
	uint8_t buf[200];
	size_t lens[3] = { 5, 20, 100 }, frame;
	struct virtq_chain *c = tx_chain(buf, lens, 3);
	struct virtio_net_hdr_v1 out;
	struct iovec iov[4];
	unsigned int n;

	(void)state;
	memset(buf, 0, sizeof(buf));
	assert_int_equal(net_tx_parse(c, 0, 1518, &out, &frame), NET_TX_OK);
	assert_int_equal(frame, 125 - NET_HDR_LEN);
	buf[0] = 0xff; /* the guest rewrites its header after the check */
	n = net_tx_iov(c, &out, iov);
	assert_int_equal(n, 3);
	assert_ptr_equal(iov[0].iov_base, &out);
	assert_int_equal(iov[0].iov_len, NET_HDR_LEN);
	assert_ptr_equal(iov[1].iov_base, buf + NET_HDR_LEN);
	assert_int_equal(iov[1].iov_len, 25 - NET_HDR_LEN);
	assert_ptr_equal(iov[2].iov_base, buf + 25);
	assert_int_equal(iov[2].iov_len, 100);
	test_free(c);
}

/* ---- receive, on a queue in a fake VM's RAM ---- */

#define QSZ   8
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define BUF   0x20000

struct rx_env {
	struct vm *vm;
	struct virtqueue vq;
	struct virtq_chain c;
	uint16_t avail_idx;
};

static int rx_setup(void **state)
{
	struct rx_env *e = test_calloc(1, sizeof(*e));

	e->vm = unit_vm(1);
	memset(mem_ptr(&e->vm->mem, 0, 0x80000), 0, 0x80000);
	assert_int_equal(virtq_setup(&e->vq, &e->vm->mem, QSZ, DESC, AVAIL, USED,
				     F(VIRTIO_F_RING_EVENT_IDX)),
			 0);
	*state = e;
	return 0;
}

static int rx_teardown(void **state)
{
	struct rx_env *e = *state;

	vm_destroy(e->vm);
	test_free(e);
	return 0;
}

/* Posts one writable buffer of len bytes at BUF + 0x2000 * i as chain head i. */
static void post(struct rx_env *e, uint16_t i, uint32_t len)
{
	struct virtq_desc d = { BUF + 0x2000ULL * i, len, VIRTQ_DESC_F_WRITE, 0 };
	uint16_t slot = e->avail_idx % QSZ;

	mem_write(&e->vm->mem, DESC + 16ULL * i, &d, sizeof(d));
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &i, 2);
	e->avail_idx++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
}

static uint16_t rd16(struct rx_env *e, uint64_t gpa)
{
	uint16_t v = 0;

	mem_read(&e->vm->mem, gpa, &v, 2);
	return v;
}

static uint32_t rd32(struct rx_env *e, uint64_t gpa)
{
	uint32_t v = 0;

	mem_read(&e->vm->mem, gpa, &v, 4);
	return v;
}

static void fill_frame(uint8_t *f, size_t len)
{
	memset(f, 0, NET_HDR_LEN);
	for (size_t i = NET_HDR_LEN; i < len; i++)
		f[i] = (uint8_t)(i * 7);
}

static void test_rx_single(void **state)
{
	struct rx_env *e = *state;
	static uint8_t f[3000], back[3000];

	fill_frame(f, 1000);
	/* Nothing posted: nothing consumed. */
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 1000, false), 0);
	post(e, 0, 1526);
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 1000, false), 1);
	assert_int_equal(rd16(e, USED + 2), 1);
	assert_int_equal(rd32(e, USED + 4), 0);
	assert_int_equal(rd32(e, USED + 8), 1000);
	mem_read(&e->vm->mem, BUF, back, 1000);
	assert_int_equal(((struct virtio_net_hdr_v1 *)back)->num_buffers, 1);
	assert_memory_equal(back + NET_HDR_LEN, f + NET_HDR_LEN, 1000 - NET_HDR_LEN);
	/* Without MRG_RXBUF a frame larger than the chain is dropped, the chain kept. */
	post(e, 1, 1526);
	fill_frame(f, 3000);
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 3000, false), -EMSGSIZE);
	assert_int_equal(rd16(e, USED + 2), 1);
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 1526, false), 1);
	assert_int_equal(rd16(e, USED + 2), 2);
	assert_int_equal(rd32(e, USED + 12), 1);
}

static void test_rx_mergeable(void **state)
{
	struct rx_env *e = *state;
	static uint8_t f[5000], back[5000];
	struct virtio_net_hdr_v1 h;

	fill_frame(f, 5000);
	post(e, 0, 2048);
	post(e, 1, 2048);
	/* 5000 bytes need three 2 KiB buffers: with two posted, both go back. */
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 5000, true), 0);
	assert_int_equal(rd16(e, USED + 2), 0);
	/* EVENT_IDX: the driver is asked to kick on its next buffer. */
	assert_int_equal(rd16(e, USED + 4 + 8 * QSZ), 2);
	post(e, 2, 2048);
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 5000, true), 1);
	assert_int_equal(rd16(e, USED + 2), 3);
	for (unsigned int i = 0; i < 3; i++) {
		assert_int_equal(rd32(e, USED + 4 + 8 * i), i);
		assert_int_equal(rd32(e, USED + 8 + 8 * i), i < 2 ? 2048 : 5000 - 4096);
		mem_read(&e->vm->mem, BUF + 0x2000ULL * i, back + 2048 * i, i < 2 ? 2048 : 904);
	}
	memcpy(&h, back, sizeof(h));
	assert_int_equal(h.num_buffers, 3);
	assert_memory_equal(back + NET_HDR_LEN, f + NET_HDR_LEN, 5000 - NET_HDR_LEN);
	/* A first buffer that cannot hold the header: the frame is dropped. */
	post(e, 3, 8);
	assert_int_equal(net_rx_deliver(&e->vq, &e->c, f, 100, true), -EMSGSIZE);
	assert_int_equal(rd16(e, USED + 2), 3);
}

static void test_rx_malformed(void **state)
{
	struct rx_env *e = *state;
	static uint8_t f[100];
	struct virtq_desc d = { 0xfff00000000ULL, 100, VIRTQ_DESC_F_WRITE, 0 };
	uint16_t head = 0;

	fill_frame(f, 100);
	mem_write(&e->vm->mem, DESC, &d, sizeof(d));
	mem_write(&e->vm->mem, AVAIL + 4, &head, 2);
	e->avail_idx = 1;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
	assert_true(net_rx_deliver(&e->vq, &e->c, f, 100, true) < 0);
	assert_true(net_rx_deliver(&e->vq, &e->c, f, 4, false) < 0); /* shorter than a header */
}

/* ---- token buckets ---- */

static void test_bucket_refill(void **state)
{
	struct mvm_token_bucket_config cfg = { .size = 1000, .refill_time = 100 };
	struct token_bucket tb;
	uint64_t t = 1000 * MS;

	(void)state;
	token_bucket_init(&tb, &cfg, t);
	assert_int_equal(token_bucket_wait(&tb, 1000, t), 0);
	token_bucket_take(&tb, 1000);
	/* Empty: 500 tokens take 50 ms. */
	assert_int_equal(token_bucket_wait(&tb, 500, t), 50 * MS);
	assert_int_equal(token_bucket_wait(&tb, 500, t + 49 * MS), 1 * MS);
	assert_int_equal(token_bucket_wait(&tb, 500, t + 50 * MS), 0);
	token_bucket_take(&tb, 500);
	/* Fractions of a token carry over: 0.5 token per 50 us, twice, is one. */
	assert_int_equal(token_bucket_wait(&tb, 1, t + 50 * MS + 50000), 50000);
	assert_int_equal(token_bucket_wait(&tb, 1, t + 50 * MS + 100000), 0);
	/* Never more than size. */
	assert_int_equal(token_bucket_wait(&tb, 1001, t + 10000 * MS), 0); /* full: passes */
	token_bucket_take(&tb, 1001);
	assert_true(tb.budget < 0);
	/* The debt is paid before the next request: 1 + 1 tokens, 0.2 ms. */
	assert_int_equal(token_bucket_wait(&tb, 1, t + 10000 * MS), 200000);
	/* A disabled bucket never waits. */
	cfg.refill_time = 0;
	token_bucket_init(&tb, &cfg, t);
	assert_int_equal(token_bucket_wait(&tb, UINT64_MAX, t), 0);
}

static void test_bucket_burst(void **state)
{
	struct mvm_token_bucket_config cfg = { .size = 100,
					       .one_time_burst = 250,
					       .refill_time = 10 };
	struct token_bucket tb;

	(void)state;
	token_bucket_init(&tb, &cfg, 0);
	assert_int_equal(token_bucket_wait(&tb, 200, 0), 0);
	token_bucket_take(&tb, 200); /* from the burst */
	assert_int_equal(tb.burst, 50);
	assert_int_equal(tb.budget, 100);
	assert_int_equal(token_bucket_wait(&tb, 150, 0), 0);
	token_bucket_take(&tb, 150); /* 50 of burst, then 100 of the bucket */
	assert_int_equal(tb.burst, 0);
	assert_int_equal(tb.budget, 0);
	/* The burst is never refilled: 100 tokens per 10 ms from now on. */
	assert_int_equal(token_bucket_wait(&tb, 100, 0), 10 * MS);
	assert_int_equal(token_bucket_wait(&tb, 100, 10 * MS), 0);
}

struct lim_env {
	struct rate_limiter rl;
	int resumed;
};

static void limiter_resumed(struct rate_limiter *rl)
{
	container_of(rl, struct lim_env, rl)->resumed++;
}

static void test_limiter_update_while_throttled(void **state)
{
	struct mvm_rate_limiter_config cfg = { .ops = { .size = 1, .refill_time = 100000 },
					       .ops_set = true };
	struct lim_env *l = test_calloc(1, sizeof(*l));
	struct rate_limiter *rl = &l->rl;
	struct vm *vm = unit_vm(1);
	struct itimerspec its;
	uint64_t v;

	(void)state;
	assert_int_equal(rate_limiter_init(rl, &cfg, &vm->loop, limiter_resumed), 0);
	assert_true(rate_limiter_consume(rl, 10));
	assert_false(rate_limiter_consume(rl, 10)); /* one op per 100 s */
	assert_true(rate_limiter_blocked(rl));
	assert_int_equal(counter_read(&rl->throttled), 1);
	assert_int_equal(timerfd_gettime(rl->timer_fd, &its), 0);
	assert_true(its.it_value.tv_sec >= 99); /* armed for the refill, no polling */
	/* Blocked: no more tokens are looked at until resumed. */
	assert_false(rate_limiter_consume(rl, 10));
	assert_int_equal(counter_read(&rl->throttled), 1);
	/* A PATCH lifting the limit resumes at once: the timer fires now. */
	cfg.ops_set = false;
	rate_limiter_update(rl, &cfg);
	usleep(1000);
	assert_int_equal(read(rl->timer_fd, &v, sizeof(v)), sizeof(v));
	rl->timer.fn(&rl->timer, 0); /* the loop's turn (the counter is read: EAGAIN) */
	assert_int_equal(l->resumed, 1);
	assert_false(rate_limiter_blocked(rl));
	assert_true(rate_limiter_consume(rl, 1ULL << 40));
	rate_limiter_fini(rl);
	vm_destroy(vm);
	test_free(l);
}

int run_net_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tx_parse),
		cmocka_unit_test(test_tx_max_frame),
		cmocka_unit_test(test_tx_iov),
		cmocka_unit_test_setup_teardown(test_rx_single, rx_setup, rx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_mergeable, rx_setup, rx_teardown),
		cmocka_unit_test_setup_teardown(test_rx_malformed, rx_setup, rx_teardown),
		cmocka_unit_test(test_bucket_refill),
		cmocka_unit_test(test_bucket_burst),
		cmocka_unit_test(test_limiter_update_while_throttled),
	};

	return cmocka_run_group_tests_name("virtio-net frames, token buckets", tests, NULL, NULL);
}
