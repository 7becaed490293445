// SPDX-License-Identifier: MIT
/*
 * GET /metrics/prometheus (mvm extension): the stats tree in Prometheus'
 * text exposition format 0.0.4.
 *
 * Families: mvm_vm_kvm_<stat> and mvm_vm_<counter> (labels vm, kvm_id),
 * mvm_vcpu_kvm_<stat> and mvm_vcpu_<counter> (plus vcpu), mvm_device_<counter>
 * (plus device, type). KVM's cumulative stats are counters, instant and peak
 * ones gauges, its linear and log2 histograms Prometheus histograms (buckets
 * made cumulative, le = the bucket's upper bound; KVM keeps no sum, so none
 * is given). The format wants each family's samples together under one TYPE
 * line, so samples are collected, sorted by family (stable), then printed.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/control.h"
#include "mvm/device.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct prom_sample {
	char family[128];
	const char *type; /* "counter" | "gauge" | "histogram" */
	char labels[256]; /* without braces */
	uint64_t *vals;	  /* n values; histograms n > 1 */
	unsigned int n;
	uint64_t bucket_size; /* linear histograms; 0: log2 */
	size_t seq;	      /* insertion order, for a stable sort */
};

struct prom {
	struct prom_sample *s;
	size_t nr, cap;
	const char *prefix; /* "mvm_vm", "mvm_vcpu", "mvm_device" */
	char labels[256];
	int err;
};

/* Metric names: [a-zA-Z0-9_], anything else becomes '_'. */
static void prom_name(char *dst, size_t len, const char *a, const char *b, const char *c)
{
	char *p;

	snprintf(dst, len, "%s%s%s", a, b, c);
	for (p = dst; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_'))
			*p = '_';
}

/* A label value with \, " and newline escaped, as the format requires. */
static void prom_escape(char *dst, size_t len, const char *v)
{
	size_t o = 0;

	for (; *v && o + 2 < len; v++) {
		if (*v == '\\' || *v == '"' || *v == '\n') {
			dst[o++] = '\\';
			dst[o++] = *v == '\n' ? 'n' : *v;
		} else {
			dst[o++] = *v;
		}
	}
	dst[o] = '\0';
}

static const char *kvm_stat_type(const struct kvm_stats_desc *d, uint64_t *bucket_size)
{
	*bucket_size = 0;
	if (!d)
		return "gauge";
	switch (d->flags & KVM_STATS_TYPE_MASK) {
	case KVM_STATS_TYPE_CUMULATIVE:
		return "counter";
	case KVM_STATS_TYPE_LINEAR_HIST:
		*bucket_size = d->bucket_size ? d->bucket_size : 1;
		return "histogram";
	case KVM_STATS_TYPE_LOG_HIST:
		return "histogram";
	default: /* instant, peak */
		return "gauge";
	}
}

static void prom_collect(void *opaque, const struct stats_node *node, enum stats_source src,
			 const char *name, const uint64_t *vals, unsigned int n)
{
	struct prom *p = opaque;
	struct prom_sample *s;

	if (p->err)
		return;
	if (p->nr == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 128;
		struct prom_sample *ns = reallocarray(p->s, cap, sizeof(*ns));

		if (!ns) {
			p->err = -ENOMEM;
			return;
		}
		p->s = ns;
		p->cap = cap;
	}
	s = &p->s[p->nr];
	memset(s, 0, sizeof(*s));
	s->vals = malloc(n * sizeof(*vals));
	if (!s->vals) {
		p->err = -ENOMEM;
		return;
	}
	memcpy(s->vals, vals, n * sizeof(*vals));
	s->n = n;
	s->seq = p->nr;
	if (src == STATS_KVM) {
		prom_name(s->family, sizeof(s->family), p->prefix, "_kvm_", name);
		s->type = kvm_stat_type(stats_node_kvm_desc(node, name), &s->bucket_size);
		if (n > 1 && strcmp(s->type, "histogram"))
			s->type = "histogram";
	} else {
		/* mvm's counters only ever grow. */
		prom_name(s->family, sizeof(s->family), p->prefix, "_", name);
		s->type = "counter";
	}
	snprintf(s->labels, sizeof(s->labels), "%s", p->labels);
	p->nr++;
}

static int prom_cmp(const void *a, const void *b)
{
	const struct prom_sample *x = a, *y = b;
	int c = strcmp(x->family, y->family);

	if (c)
		return c;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void prom_print_hist(FILE *f, const struct prom_sample *s)
{
	uint64_t cum = 0;
	unsigned int i;

	for (i = 0; i < s->n; i++) {
		cum += s->vals[i];
		if (i + 1 == s->n) {
			fprintf(f, "%s_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n", s->family, s->labels,
				cum);
		} else {
			/* Linear: bucket i holds [i*size, (i+1)*size); log2: 0, then [2^(i-1),
			 * 2^i). */
			uint64_t le = s->bucket_size ? (uint64_t)(i + 1) * s->bucket_size - 1
						     : (i < 64 ? (1ULL << i) - 1 : UINT64_MAX);

			fprintf(f, "%s_bucket{%s,le=\"%" PRIu64 "\"} %" PRIu64 "\n", s->family,
				s->labels, le, cum);
		}
	}
	fprintf(f, "%s_count{%s} %" PRIu64 "\n", s->family, s->labels, cum);
}

static void prom_node(struct prom *p, const struct stats_node *n, const char *prefix)
{
	p->prefix = prefix;
	/* Unreadable KVM stats leave out the KVM samples; the rest is still useful. */
	stats_node_visit(n, prom_collect, p);
}

char *vm_stats_prometheus(struct vm *vm)
{
	struct prom p = { 0 };
	char vm_label[160], esc[MVM_STATS_ID_SIZE * 2], esc2[MVM_VM_NAME_SIZE * 2];
	const char *family = "";
	unsigned int i, nv = vm_online_vcpus(vm);
	struct mvm_device *dev;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	prom_escape(esc2, sizeof(esc2), vm->name);
	prom_escape(esc, sizeof(esc), vm->stats.id);
	snprintf(vm_label, sizeof(vm_label), "vm=\"%s\",kvm_id=\"%s\"", esc2, esc);

	snprintf(p.labels, sizeof(p.labels), "%s", vm_label);
	prom_node(&p, &vm->stats, "mvm_vm");
	for (i = 0; i < nv; i++) {
		struct vcpu *vcpu = vm_vcpu(vm, i);

		snprintf(p.labels, sizeof(p.labels), "%s,vcpu=\"%u\"", vm_label, vcpu->id);
		prom_node(&p, &vcpu->stats, "mvm_vcpu");
	}
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		char d[MVM_DEVICE_NAME_SIZE * 2];

		prom_escape(d, sizeof(d), dev->name);
		snprintf(p.labels, sizeof(p.labels), "%s,device=\"%s\",type=\"%s\"", vm_label, d,
			 dev->ops->type);
		prom_node(&p, &dev->stats, "mvm_device");
	}
	pthread_mutex_unlock(&vm->lock);

	f = p.err ? NULL : open_memstream(&buf, &len);
	if (f) {
		qsort(p.s, p.nr, sizeof(*p.s), prom_cmp);
		fprintf(f,
			"# HELP mvm_vm_paused 1 if the VM is paused\n# TYPE mvm_vm_paused gauge\n"
			"mvm_vm_paused{%s} %d\n",
			vm_label, vm_is_paused(vm) ? 1 : 0);
		for (i = 0; i < p.nr; i++) {
			const struct prom_sample *s = &p.s[i];

			if (strcmp(family, s->family)) {
				family = s->family;
				fprintf(f, "# TYPE %s %s\n", s->family, s->type);
			}
			if (!strcmp(s->type, "histogram"))
				prom_print_hist(f, s);
			else
				fprintf(f, "%s{%s} %" PRIu64 "\n", s->family, s->labels,
					s->vals[0]);
		}
		if (fclose(f)) {
			free(buf);
			buf = NULL;
		}
	}
	for (i = 0; i < p.nr; i++)
		free(p.s[i].vals);
	free(p.s);
	return buf;
}
