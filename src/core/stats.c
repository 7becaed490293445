// SPDX-License-Identifier: MIT
/* Stats nodes: KVM's binary stats (KVM_GET_STATS_FD) plus mvm's counters. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mvm/log.h"
#include "mvm/stats.h"
#include "mvm/sys.h"

void stats_node_init(struct stats_node *n, const char *id, const struct mvm_counter_desc *c,
		     unsigned int nr, const void *owner)
{
	memset(n, 0, sizeof(*n));
	n->fd = -1;
	snprintf(n->id, sizeof(n->id), "%s", id);
	n->counters = c;
	n->nr_counters = nr;
	n->owner = owner;
}

int stats_node_open_kvm(struct stats_node *n, int kvm_obj_fd, const char *fallback_id,
			const struct mvm_counter_desc *c, unsigned int nr, const void *owner)
{
	size_t size;
	int err;

	stats_node_init(n, fallback_id, c, nr, owner);
	n->fd = mvm_ioctl(kvm_obj_fd, KVM_GET_STATS_FD, NULL);
	if (n->fd < 0) {
		err = errno;
		n->fd = -1;
		/* A kernel before 5.14 has no binary stats: keep mvm's counters. */
		if (err == ENOTTY || err == EINVAL)
			return 0;
		pr_err("KVM_GET_STATS_FD: %s", strerror(err));
		return -err;
	}
	if (mvm_pread_full(n->fd, &n->hdr, sizeof(n->hdr), 0) < 0)
		goto err_io;
	if (n->hdr.name_size == 0 || n->hdr.name_size > 4096 || n->hdr.num_desc > 65536) {
		errno = EPROTO;
		goto err_io;
	}
	/* The id KVM reports is the node's id: "kvm-<pid>" or "kvm-<pid>/vcpu-<n>". */
	size = MIN((size_t)n->hdr.name_size, sizeof(n->id) - 1);
	memset(n->id, 0, sizeof(n->id));
	if (mvm_pread_full(n->fd, n->id, size, n->hdr.id_offset) < 0)
		goto err_io;
	n->desc_size = sizeof(struct kvm_stats_desc) + n->hdr.name_size;
	n->desc = mvm_calloc(n->hdr.num_desc ? n->hdr.num_desc : 1, n->desc_size);
	if (!n->desc)
		goto err_io;
	if (n->hdr.num_desc &&
	    mvm_pread_full(n->fd, n->desc, n->hdr.num_desc * n->desc_size, n->hdr.desc_offset) < 0)
		goto err_io;
	return 0;

err_io:
	err = errno ? errno : EIO;
	pr_err("reading KVM stats header: %s", strerror(err));
	stats_node_release(n);
	return -err;
}

void stats_node_release(struct stats_node *n)
{
	free(n->desc);
	n->desc = NULL;
	if (n->fd >= 0)
		close(n->fd);
	n->fd = -1;
}

static int stats_visit_kvm(const struct stats_node *n, stats_visit_fn fn, void *opaque)
{
	uint64_t vals[64];
	unsigned int i;

	for (i = 0; i < n->hdr.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(n->desc + i * n->desc_size);
		unsigned int cnt = MIN((unsigned int)d->size, (unsigned int)ARRAY_SIZE(vals));
		ssize_t r;

		if (cnt == 0)
			continue;
		r = pread(n->fd, vals, cnt * sizeof(uint64_t), n->hdr.data_offset + d->offset);
		if (r != (ssize_t)(cnt * sizeof(uint64_t)))
			return -EIO;
		fn(opaque, n, STATS_KVM, d->name, vals, cnt);
	}
	return 0;
}

int stats_node_visit(const struct stats_node *n, stats_visit_fn fn, void *opaque)
{
	unsigned int i;
	int err = 0;

	if (n->fd >= 0 && n->desc)
		err = stats_visit_kvm(n, fn, opaque);
	for (i = 0; i < n->nr_counters; i++) {
		const mvm_counter_t *c =
			(const void *)((const char *)n->owner + n->counters[i].offset);
		uint64_t v = counter_read(c);

		fn(opaque, n, STATS_MVM, n->counters[i].name, &v, 1);
	}
	return err;
}

const struct kvm_stats_desc *stats_node_kvm_desc(const struct stats_node *n, const char *name)
{
	unsigned int i;

	for (i = 0; n->desc && i < n->hdr.num_desc; i++) {
		const struct kvm_stats_desc *d = (const void *)(n->desc + i * n->desc_size);

		if (d->name == name || !strcmp(d->name, name))
			return d;
	}
	return NULL;
}

static void stats_print_one(void *opaque, const struct stats_node *node, enum stats_source src,
			    const char *name, const uint64_t *vals, unsigned int n)
{
	FILE *f = opaque;
	unsigned int i, last = 0;

	(void)node;
	fprintf(f, "  %s.%s", src == STATS_KVM ? "kvm" : "mvm", name);
	if (n == 1) {
		fprintf(f, " %" PRIu64 "\n", vals[0]);
		return;
	}
	/* Histograms: print buckets up to the last non-empty one. */
	for (i = 0; i < n; i++)
		if (vals[i])
			last = i + 1;
	fputs(" [", f);
	for (i = 0; i < last; i++)
		fprintf(f, "%s%" PRIu64, i ? " " : "", vals[i]);
	fputs("]\n", f);
}

void stats_node_print(const struct stats_node *n, FILE *f)
{
	fprintf(f, "%s\n", n->id);
	if (stats_node_visit(n, stats_print_one, f) < 0)
		fprintf(f, "  (KVM stats unreadable)\n");
}
