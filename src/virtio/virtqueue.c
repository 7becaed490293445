// SPDX-License-Identifier: MIT
/*
 * Split virtqueues (virtio 1.x §2.7): popping descriptor chains (with
 * indirect tables), filling the used ring, EVENT_IDX notification
 * suppression.
 *
 * Rings are guest memory, written by the guest concurrently and hostile
 * (DESIGN.md §4). Every index is bounded by the table it indexes, every
 * buffer goes through mem_ptr() (range, overflow, wholly inside one RAM
 * region), every descriptor is copied once before it is looked at, and a
 * chain cannot visit more descriptors than its table has (loops end there).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "mvm/virtio.h"

/* Guest-shared fields: read once, as the guest may change them under us. */
#define READ_ONCE(x)	 __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

static inline uint16_t *avail_used_event(struct virtqueue *vq)
{
	return &vq->avail->ring[vq->size];
}

static inline uint16_t *used_avail_event(struct virtqueue *vq)
{
	return (uint16_t *)&vq->used->ring[vq->size];
}

void virtq_reset(struct virtqueue *vq)
{
	vq->size = 0;
	vq->enabled = false;
	vq->desc_gpa = vq->avail_gpa = vq->used_gpa = 0;
	vq->desc = NULL;
	vq->avail = NULL;
	vq->used = NULL;
	vq->event_idx = vq->indirect = false;
	vq->last_avail = vq->used_idx = 0;
	vq->signalled_used = 0;
	vq->signalled_used_valid = false;
	vq->broken = false;
}

/* Checks and maps the rings, touching none of them. 0 or -EINVAL. */
static int virtq_map(struct virtqueue *vq, const struct vm_memory *mem, uint16_t size,
		     uint64_t desc, uint64_t avail, uint64_t used, uint64_t features)
{
	void *d, *a, *u;

	/* size is 16 bits: VIRTQ_MAX_SIZE (32768) is the largest power of two it holds. */
	if (!size || (size & (size - 1)))
		return -EINVAL;
	/* Alignment (§2.7): descriptor table 16, available ring 2, used ring 4. */
	if (desc % 16 || avail % 2 || used % 4)
		return -EINVAL;
	d = mem_ptr(mem, desc, 16ULL * size);
	a = mem_ptr(mem, avail, 6ULL + 2ULL * size);
	u = mem_ptr(mem, used, 6ULL + 8ULL * size);
	if (!d || !a || !u)
		return -EINVAL;

	virtq_reset(vq);
	vq->mem = mem;
	vq->size = size;
	vq->desc_gpa = desc;
	vq->avail_gpa = avail;
	vq->used_gpa = used;
	vq->desc = d;
	vq->avail = a;
	vq->used = u;
	vq->event_idx = (features >> VIRTIO_F_RING_EVENT_IDX) & 1;
	vq->indirect = (features >> VIRTIO_F_RING_INDIRECT_DESC) & 1;
	return 0;
}

int virtq_setup(struct virtqueue *vq, const struct vm_memory *mem, uint16_t size, uint64_t desc,
		uint64_t avail, uint64_t used, uint64_t features)
{
	int err = virtq_map(vq, mem, size, desc, avail, used, features);

	if (err)
		return err;
	/* The device's side starts where the driver's does: zero. */
	WRITE_ONCE(vq->used->flags, 0);
	__atomic_store_n(&vq->used->idx, 0, __ATOMIC_RELEASE);
	if (vq->event_idx)
		WRITE_ONCE(*used_avail_event(vq), 0);
	vq->enabled = true;
	return 0;
}

int virtq_restore(struct virtqueue *vq, const struct vm_memory *mem, const struct virtq_saved *s,
		  uint64_t features)
{
	int err = virtq_map(vq, mem, s->size, s->desc, s->avail, s->used, features);

	if (err)
		return err;
	vq->last_avail = s->last_avail;
	vq->used_idx = s->used_idx;
	vq->signalled_used = s->signalled_used;
	vq->signalled_used_valid = s->signalled_used_valid;
	vq->broken = s->broken;
	vq->enabled = true;
	return 0;
}

/* One descriptor, copied out of guest memory (any alignment). */
static void desc_read(const struct virtq_desc *table, unsigned int i, struct virtq_desc *d)
{
	memcpy(d, &table[i], sizeof(*d));
	/* The copy is what we check and use: no re-read of guest memory after it. */
	__asm__ __volatile__("" ::: "memory");
}

/* Walks the chain starting at head into c. 0 or -errno. */
static int chain_walk(struct virtqueue *vq, uint16_t head, struct virtq_chain *c)
{
	const struct virtq_desc *table = vq->desc;
	unsigned int tsize = vq->size, i = head, visited = 0;
	bool in_indirect = false;
	struct virtq_desc d;

	for (;;) {
		if (i >= tsize)
			return -EINVAL;
		/* More descriptors than the table holds: the chain loops. */
		if (++visited > tsize)
			return -ELOOP;
		desc_read(table, i, &d);

		if (d.flags & VIRTQ_DESC_F_INDIRECT) {
			/* §2.7.5.3: only with the feature, not nested, not with NEXT. */
			if (!vq->indirect || in_indirect || (d.flags & VIRTQ_DESC_F_NEXT) ||
			    !d.len || d.len % sizeof(struct virtq_desc))
				return -EINVAL;
			if (d.len / sizeof(struct virtq_desc) > VIRTQ_MAX_SIZE)
				return -E2BIG;
			table = mem_ptr(vq->mem, d.addr, d.len);
			if (!table)
				return -EINVAL;
			tsize = d.len / sizeof(struct virtq_desc);
			in_indirect = true;
			visited = 0;
			i = 0;
			continue;
		}

		if (d.len) {
			void *base = mem_ptr(vq->mem, d.addr, d.len);
			unsigned int n = c->out_num + c->in_num;

			if (!base)
				return -EINVAL;
			if (n == VIRTQ_CHAIN_MAX)
				return -E2BIG;
			if (d.flags & VIRTQ_DESC_F_WRITE) {
				c->in_num++;
			} else {
				/* §2.7.4.2: device-readable buffers come first. */
				if (c->in_num)
					return -EINVAL;
				c->out_num++;
			}
			c->iov[n].iov_base = base;
			c->iov[n].iov_len = d.len;
		}
		if (!(d.flags & VIRTQ_DESC_F_NEXT))
			return 0;
		i = d.next;
	}
}

int virtq_pop(struct virtqueue *vq, struct virtq_chain *c)
{
	uint16_t avail_idx, head;
	int err;

	if (!vq->enabled)
		return 0;
	if (vq->broken)
		return -EINVAL;
	avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
	if (avail_idx == vq->last_avail) {
		if (!vq->event_idx)
			return 0;
		/*
		 * Ask for a kick at the next entry, then look again: an entry the
		 * driver added before it saw avail_event would get no kick.
		 */
		WRITE_ONCE(*used_avail_event(vq), vq->last_avail);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		if (avail_idx == vq->last_avail)
			return 0;
	}
	if ((uint16_t)(avail_idx - vq->last_avail) > vq->size) {
		vq->broken = true; /* the driver claims more entries than the ring has */
		return -EINVAL;
	}
	head = READ_ONCE(vq->avail->ring[vq->last_avail & (vq->size - 1)]);
	vq->last_avail++;
	if (vq->event_idx)
		WRITE_ONCE(*used_avail_event(vq), vq->last_avail);

	c->head = head;
	c->out_num = c->in_num = 0;
	err = chain_walk(vq, head, c);
	return err ? err : 1;
}

bool virtq_unpop(struct virtqueue *vq, uint16_t n, uint16_t avail_seen)
{
	if (!vq->enabled || vq->broken)
		return false;
	vq->last_avail -= n;
	if (!vq->event_idx)
		return false;
	/* Kick me when the driver adds past what the caller saw, then look again. */
	WRITE_ONCE(*used_avail_event(vq), avail_seen);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != avail_seen;
}

uint16_t virtq_avail_idx(struct virtqueue *vq)
{
	return vq->enabled ? __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) : 0;
}

void virtq_push(struct virtqueue *vq, uint16_t head, uint32_t written)
{
	struct virtq_used_elem *e;

	if (!vq->enabled)
		return;
	e = &vq->used->ring[vq->used_idx & (vq->size - 1)];
	WRITE_ONCE(e->id, head);
	WRITE_ONCE(e->len, written);
	vq->used_idx++;
	/* The element before the index that publishes it. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

bool virtq_should_notify(struct virtqueue *vq)
{
	uint16_t old, new, event;
	bool valid;

	if (!vq->enabled)
		return false;
	/* Our used->idx store before we read what the driver wants (§2.7.7.2). */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(READ_ONCE(vq->avail->flags) & VIRTQ_AVAIL_F_NO_INTERRUPT);

	old = vq->signalled_used;
	valid = vq->signalled_used_valid;
	new = vq->used_idx;
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	event = READ_ONCE(*avail_used_event(vq));
	/* vring_need_event(): did new pass event since old? */
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

void virtq_notify(struct virtqueue *vq)
{
	if (virtq_should_notify(vq) && vq->signal)
		vq->signal(vq);
}

void virtq_kick(struct virtqueue *vq)
{
	uint64_t one = 1;

	if (vq->kick_fd >= 0 && write(vq->kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return; /* the counter is full: a kick is pending anyway */
}

size_t iov_to_buf(const struct iovec *iov, unsigned int n, size_t off, void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		l = MIN(iov[i].iov_len - off, len - done);
		memcpy((uint8_t *)buf + done, (uint8_t *)iov[i].iov_base + off, l);
		done += l;
		off = 0;
	}
	return done;
}

size_t buf_to_iov(const struct iovec *iov, unsigned int n, size_t off, const void *buf, size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = 0; i < n && done < len; i++) {
		size_t l;

		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		l = MIN(iov[i].iov_len - off, len - done);
		memcpy((uint8_t *)iov[i].iov_base + off, (const uint8_t *)buf + done, l);
		done += l;
		off = 0;
	}
	return done;
}
