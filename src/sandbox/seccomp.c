// SPDX-License-Identifier: MIT
/*
 * Entering a thread's sandbox, and what happens when a filter says no: the
 * filter traps (SIGSYS), the handler writes one line naming the thread type
 * and the system call, then ends the process with status 128 + SIGSYS. The
 * handler only writes and exits: both are on every list (the floor).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "mvm/log.h"
#include "sandbox_internal.h"

#define SYSCALL_NAMES 512

static enum sandbox_mode sb_mode = SANDBOX_OFF;
static bool sb_compiled;
static struct sock_fprog sb_progs[SANDBOX_NR];
static struct sandbox_list sb_file_lists[SANDBOX_NR];
/* Resolved before any filter exists: the handler may not allocate. */
static char *syscall_names[SYSCALL_NAMES];
static __thread int sb_thread_type = -1;

static const char *const type_names[SANDBOX_NR] = {
	[SANDBOX_VMM] = "vmm",
	[SANDBOX_API] = "api",
	[SANDBOX_VCPU] = "vcpu",
	[SANDBOX_METRICS] = "metrics",
};

const char *sandbox_thread_name(enum sandbox_thread type)
{
	return (unsigned int)type < SANDBOX_NR ? type_names[type] : "unknown";
}

enum sandbox_mode sandbox_mode(void)
{
	return sb_mode;
}

int sandbox_mode_parse(const char *s, enum sandbox_mode *mode)
{
	if (!strcmp(s, "on"))
		*mode = SANDBOX_ON;
	else if (!strcmp(s, "off"))
		*mode = SANDBOX_OFF;
	else if (!strcmp(s, "log"))
		*mode = SANDBOX_LOG;
	else
		return -EINVAL;
	return 0;
}

static size_t put(char *buf, size_t off, size_t len, const char *s)
{
	while (*s && off < len)
		buf[off++] = *s++;
	return off;
}

static size_t put_uint(char *buf, size_t off, size_t len, unsigned int v)
{
	char tmp[12];
	int i = (int)sizeof(tmp) - 1;

	tmp[i] = '\0';
	do
		tmp[--i] = (char)('0' + v % 10);
	while ((v /= 10) && i > 0);
	return put(buf, off, len, tmp + i);
}

static void sigsys_handler(int sig, siginfo_t *si, void *uc)
{
	unsigned int nr = (unsigned int)si->si_syscall;
	/* The filter's tag (type + 1) names the filter that said no. */
	int type = si->si_errno > 0 ? si->si_errno - 1 : sb_thread_type;
	char line[200];
	size_t n = 0;

	(void)sig;
	(void)uc;
	n = put(line, n, sizeof(line), "mvm: seccomp: the ");
	n = put(line, n, sizeof(line), sandbox_thread_name(type));
	n = put(line, n, sizeof(line), " thread made a forbidden system call: ");
	n = put(line, n, sizeof(line),
		nr < SYSCALL_NAMES && syscall_names[nr] ? syscall_names[nr] : "?");
	n = put(line, n, sizeof(line), " (");
	n = put_uint(line, n, sizeof(line), nr);
	n = put(line, n, sizeof(line), "); the VMM is stopped\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere else to say it */
	}
	syscall(SYS_exit_group, 128 + SIGSYS);
}

static void resolve_names(void)
{
	unsigned int i;

	for (i = 0; i < SYSCALL_NAMES; i++)
		if (!syscall_names[i])
			syscall_names[i] =
				seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, (int)i);
}

static const struct sandbox_list *list_of(unsigned int t)
{
	return sb_file_lists[t].rules ? &sb_file_lists[t] : &sandbox_builtin[t];
}

void sandbox_reset(void)
{
	unsigned int t;

	for (t = 0; t < SANDBOX_NR; t++) {
		free(sb_progs[t].filter);
		sb_progs[t].filter = NULL;
		sb_progs[t].len = 0;
	}
	sandbox_free_lists(sb_file_lists);
	sb_compiled = false;
	sb_mode = SANDBOX_OFF;
}

int sandbox_configure(enum sandbox_mode mode, const char *filter_file)
{
	struct sigaction sa = { .sa_sigaction = sigsys_handler, .sa_flags = SA_SIGINFO };
	uint32_t action = mode == SANDBOX_LOG ? SCMP_ACT_LOG : SCMP_ACT_TRAP;
	unsigned int t;
	int err;

	sandbox_reset();
	sb_mode = mode;
	if (mode == SANDBOX_OFF)
		return 0;
	if (filter_file) {
		err = sandbox_load_file(filter_file, sb_file_lists);
		if (err)
			goto err;
	}
	for (t = 0; t < SANDBOX_NR; t++) {
		err = sandbox_compile(list_of(t), &sandbox_floor, action, (uint16_t)(t + 1),
				      &sb_progs[t]);
		if (err) {
			pr_err("seccomp: building the %s thread's filter: %s", type_names[t],
			       strerror(-err));
			goto err;
		}
	}
	resolve_names();
	sigfillset(&sa.sa_mask);
	sigaction(SIGSYS, &sa, NULL);
	sb_compiled = true;
	return 0;
err:
	sandbox_reset();
	return err;
}

/* This thread installed a filter itself (sandbox_thread_filtered()). */
static __thread bool sb_thread_filtered;

int sandbox_enter(enum sandbox_thread type)
{
	sigset_t sys;

	sb_thread_type = (int)type;
	/* A trap on a thread blocking SIGSYS would kill without the line. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (sb_mode == SANDBOX_OFF || !sb_compiled || (unsigned int)type >= SANDBOX_NR)
		return 0;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &sb_progs[type]) < 0) {
		int err = -errno;

		pr_err("seccomp: installing the %s thread's filter: %s", type_names[type],
		       strerror(-err));
		return err;
	}
	sb_thread_filtered = true;
	return 0;
}

bool sandbox_thread_filtered(void)
{
	char buf[2048];
	const char *p;
	ssize_t n;
	int fd;

	if (sb_thread_filtered)
		return true;
	/* A filter inherited from the thread that made this one shows in /proc only. */
	fd = open("/proc/thread-self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false; /* no /proc (a jail): what this thread entered is all we know */
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	p = strstr(buf, "\nSeccomp:");
	return p && strtol(p + 9, NULL, 10) != 0;
}

void sandbox_note_thread(enum sandbox_thread type)
{
	sb_thread_type = (int)type;
}

static void print_list(FILE *f, const char *type, const struct sandbox_list *l)
{
	unsigned int i;

	for (i = 0; i < l->nr; i++) {
		const struct sandbox_rule *r = &l->rules[i];

		fprintf(f, "%s %s%s%s%s\n", type, r->name, r->args ? " " : "",
			r->args ? r->args : "", r->flags & SB_GUEST ? " [guest]" : "");
	}
}

void sandbox_print(FILE *f)
{
	unsigned int t;

	for (t = 0; t < SANDBOX_NR; t++)
		print_list(f, type_names[t], list_of(t));
	print_list(f, "all", &sandbox_floor);
}
