// SPDX-License-Identifier: MIT
/*
 * Logging: levels, a timestamp, the VM id and the thread on every line, to
 * stderr or to the fd the logger was given (PUT /logger: see
 * src/api/logger.c, which opens the path; libmvm itself opens nothing
 * outside mvm/sys.h). Firecracker's line, which its clients parse:
 *
 *   2026-11-21T07:02:37.123456789 [vm1:fc_vcpu 0] message
 *   2026-11-21T07:02:37.123456789 [vm1:main:WARN] message            (show_level)
 *   2026-11-21T07:02:37.123456789 [vm1:fc_api:INFO:src/api/x.c:12] m  (and show_log_origin)
 *
 * The timestamp is local time with nanoseconds, as Firecracker writes it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "mvm/log.h"

static atomic_int log_level = MVM_LOG_WARN;
static atomic_bool log_off;
static atomic_bool log_show_level = true;
static atomic_bool log_show_origin;
static atomic_uint_fast64_t log_missed; /* lines a full FIFO or a failed write dropped */

/* The id and the destination change rarely (API requests); lines read them under the lock. */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static char log_id[64] = "mvm";
static int log_fd = -1; /* -1: stderr */

/* mvm_log_capture(): this thread's first error message goes here too. */
static __thread char *log_capture_buf;
static __thread size_t log_capture_len;

void mvm_log_capture(char *buf, size_t len)
{
	log_capture_buf = len ? buf : NULL;
	log_capture_len = len;
	if (log_capture_buf)
		buf[0] = '\0';
}

void mvm_log_set_level(enum mvm_log_level level)
{
	atomic_store(&log_level, level);
}

enum mvm_log_level mvm_log_get_level(void)
{
	return atomic_load(&log_level);
}

void mvm_log_set_off(bool off)
{
	atomic_store(&log_off, off);
}

void mvm_log_set_options(bool show_level, bool show_origin)
{
	atomic_store(&log_show_level, show_level);
	atomic_store(&log_show_origin, show_origin);
}

void mvm_log_set_id(const char *id)
{
	pthread_mutex_lock(&log_lock);
	snprintf(log_id, sizeof(log_id), "%s", id && *id ? id : "mvm");
	pthread_mutex_unlock(&log_lock);
}

int mvm_log_set_fd(int fd)
{
	int old;

	pthread_mutex_lock(&log_lock);
	old = log_fd;
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	if (old >= 0)
		close(old);
	return 0;
}

int mvm_log_level_parse(const char *s, enum mvm_log_level *level, bool *off)
{
	static const struct {
		const char *name;
		enum mvm_log_level level;
	} levels[] = {
		{ "error", MVM_LOG_ERROR }, { "warning", MVM_LOG_WARN }, { "warn", MVM_LOG_WARN },
		{ "info", MVM_LOG_INFO },   { "debug", MVM_LOG_DEBUG },	 { "trace", MVM_LOG_DEBUG },
	};
	unsigned int i;

	if (!s)
		return -EINVAL;
	if (!strcasecmp(s, "off")) {
		*off = true;
		*level = MVM_LOG_ERROR;
		return 0;
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (!strcasecmp(s, levels[i].name)) {
			*off = false;
			*level = levels[i].level;
			return 0;
		}
	return -EINVAL;
}

/* The names of Rust's log levels, which Firecracker prints. */
static const char *level_name(enum mvm_log_level level)
{
	switch (level) {
	case MVM_LOG_ERROR:
		return "ERROR";
	case MVM_LOG_WARN:
		return "WARN";
	case MVM_LOG_INFO:
		return "INFO";
	default:
		return "DEBUG";
	}
}

static atomic_ulong log_dropped;

unsigned long mvm_log_dropped(void)
{
	return atomic_load(&log_dropped);
}

/*
 * Copies src into dst with control characters escaped (\n, \r, \t, \xNN):
 * a client's URL or a guest's string cannot end a line and forge the next.
 */
static size_t log_escape(char *dst, size_t len, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	for (; *src && n + 4 < len; src++) {
		unsigned char c = (unsigned char)*src;

		if (c >= 0x20 && c != 0x7f) {
			dst[n++] = (char)c;
			continue;
		}
		dst[n++] = '\\';
		if (c == '\n' || c == '\r' || c == '\t') {
			dst[n++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else {
			dst[n++] = 'x';
			dst[n++] = hex[c >> 4];
			dst[n++] = hex[c & 15];
		}
	}
	dst[n] = '\0';
	return n;
}

/* The thread's name; the process's first thread is "main", as Rust names it. */
static void thread_name(char *buf, size_t len)
{
	if (syscall(SYS_gettid) == getpid() || pthread_getname_np(pthread_self(), buf, len))
		snprintf(buf, len, "main");
}

void mvm_log_at(enum mvm_log_level level, const char *file, int line, const char *fmt, ...)
{
	char text[1280], msg[1024], thread[20], origin[96] = "", ts[40];
	struct timespec now;
	struct tm tm;
	va_list ap;
	size_t n;
	int fd;

	if (level == MVM_LOG_ERROR && log_capture_buf && !log_capture_buf[0]) {
		va_start(ap, fmt);
		vsnprintf(log_capture_buf, log_capture_len, fmt, ap);
		va_end(ap);
	}
	if ((int)level > atomic_load(&log_level) || atomic_load(&log_off))
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	thread_name(thread, sizeof(thread));
	if (atomic_load(&log_show_origin))
		snprintf(origin, sizeof(origin), ":%s:%d", file ? file : "?", file ? line : 0);

	/* Format first, then one write: lines from several threads do not mix. */
	pthread_mutex_lock(&log_lock);
	n = (size_t)snprintf(text, sizeof(text), "%s.%09ld [%s:%s%s%s%s] ", ts, now.tv_nsec, log_id,
			     thread, atomic_load(&log_show_level) ? ":" : "",
			     atomic_load(&log_show_level) ? level_name(level) : "", origin);
	fd = log_fd >= 0 ? log_fd : STDERR_FILENO;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* A message's own trailing newline is not an escape. */
	if (msg[0] && msg[strlen(msg) - 1] == '\n')
		msg[strlen(msg) - 1] = '\0';
	if (n < sizeof(text) - 2)
		log_escape(text + n, sizeof(text) - 1 - n, msg);
	n = strlen(text);
	text[n++] = '\n';
	/*
	 * Non-blocking sinks (sink_open(), the CLI's stderr): a full pipe or
	 * FIFO drops the line, counted; logging never blocks a vCPU or the API.
	 */
	if (write(fd, text, n) < 0) {
		atomic_fetch_add(&log_missed, 1);
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			atomic_fetch_add(&log_dropped, 1);
	}
	pthread_mutex_unlock(&log_lock);
}

void mvm_log_ratelimited(struct mvm_ratelimit *rl, enum mvm_log_level level, const char *fmt, ...)
{
	unsigned int suppressed = 0;
	struct timespec now;
	char msg[1024];
	va_list ap;

	if ((int)level > atomic_load(&log_level) || atomic_load(&log_off))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!mvm_ratelimit_allow(rl, (uint64_t)now.tv_sec * 1000000000 + (uint64_t)now.tv_nsec,
				 &suppressed))
		return;
	if (suppressed)
		mvm_log_at(level, NULL, 0, "%u similar messages suppressed (rate limit)",
			   suppressed);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mvm_log_at(level, NULL, 0, "%s", msg);
}

void mvm_log(enum mvm_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	mvm_log_at(level, NULL, 0, "%s", msg);
}

uint64_t mvm_log_missed(void)
{
	return atomic_load(&log_missed);
}
