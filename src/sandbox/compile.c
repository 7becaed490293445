// SPDX-License-Identifier: MIT
/*
 * An allow-list to a BPF program, with libseccomp: built once per thread
 * type at start-up, so that a thread entering its sandbox makes two system
 * calls and allocates nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "mvm/log.h"
#include "sandbox_internal.h"

static int add_rule(scmp_filter_ctx ctx, const struct sandbox_rule *r)
{
	struct scmp_arg_cmp cmp[2];
	uint32_t action = r->err ? SCMP_ACT_ERRNO((uint32_t)r->err) : SCMP_ACT_ALLOW;
	unsigned int i;

	for (i = 0; i < r->nr_checks; i++) {
		cmp[i].arg = r->checks[i].arg;
		cmp[i].op = SCMP_CMP_MASKED_EQ;
		cmp[i].datum_a = r->checks[i].mask;
		cmp[i].datum_b = r->checks[i].value;
	}
	return seccomp_rule_add_array(ctx, action, r->nr, r->nr_checks, cmp);
}

/* libseccomp 2.5 exports to an fd only: a memfd, read back. */
static int export_prog(scmp_filter_ctx ctx, struct sock_fprog *prog)
{
	struct stat st;
	void *buf;
	int fd, err;

	fd = memfd_create("seccomp", MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = seccomp_export_bpf(ctx, fd);
	if (err)
		goto out;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % sizeof(struct sock_filter) ||
	    st.st_size / sizeof(struct sock_filter) > BPF_MAXINSNS) {
		err = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size);
	if (!buf) {
		err = -ENOMEM;
		goto out;
	}
	if (pread(fd, buf, (size_t)st.st_size, 0) != st.st_size) {
		err = -EIO;
		free(buf);
		goto out;
	}
	prog->len = (unsigned short)(st.st_size / sizeof(struct sock_filter));
	prog->filter = buf;
out:
	close(fd);
	return err;
}

/*
 * A trap carries the thread type in SECCOMP_RET_DATA (the handler's
 * si_errno): a thread that inherited its filter (libmicrohttpd's) is named
 * right, and with stacked filters the newest, the thread's own, wins.
 */
static void tag_traps(struct sock_fprog *prog, uint16_t tag)
{
	unsigned int i;

	for (i = 0; i < prog->len; i++) {
		struct sock_filter *f = &prog->filter[i];

		if (f->code == (BPF_RET | BPF_K) && f->k == SECCOMP_RET_TRAP)
			f->k |= tag;
	}
}

int sandbox_compile(const struct sandbox_list *list, const struct sandbox_list *extra,
		    uint32_t default_action, uint16_t tag, struct sock_fprog *prog)
{
	const struct sandbox_list *lists[] = { list, extra };
	scmp_filter_ctx ctx;
	unsigned int i, l;
	int err;

	ctx = seccomp_init(default_action);
	if (!ctx)
		return -ENOMEM;
	/* no_new_privs is set by sandbox_enter() itself, before the filter. */
	err = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	for (l = 0; !err && l < 2; l++)
		for (i = 0; !err && lists[l] && i < lists[l]->nr; i++) {
			err = add_rule(ctx, &lists[l]->rules[i]);
			if (err)
				pr_err("seccomp: rule %s: %s", lists[l]->rules[i].name,
				       strerror(-err));
		}
	if (!err)
		err = export_prog(ctx, prog);
	if (!err)
		tag_traps(prog, tag);
	seccomp_release(ctx);
	return err;
}
