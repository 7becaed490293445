/* SPDX-License-Identifier: MIT */
/*
 * Logging: one line per message, level filter, to stderr or to the file set
 * by PUT /logger. A line is Firecracker's:
 *   "2026-11-21T07:02:37.123456789 [<vm id>:<thread>:LEVEL:file:line] message"
 * (local time; the VM id once mvm_log_set_id() named it, "mvm" before; the
 * level if show_level; the call site's file and line if show_log_origin).
 */
#ifndef MVM_LOG_H
#define MVM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/compiler.h"

enum mvm_log_level {
	MVM_LOG_ERROR,
	MVM_LOG_WARN,
	MVM_LOG_INFO,
	MVM_LOG_DEBUG,
};

void mvm_log_set_level(enum mvm_log_level level);
enum mvm_log_level mvm_log_get_level(void);
void mvm_log(enum mvm_log_level level, const char *fmt, ...) __printf(2, 3);
/* The same, from a call site (file may be NULL): what pr_err() and friends call. */
void mvm_log_at(enum mvm_log_level level, const char *file, int line, const char *fmt, ...)
	__printf(4, 5);
/* Lines lost so far: a write that failed (a FIFO nobody empties). */
uint64_t mvm_log_missed(void);

/* The VM (VMM) id shown in each line; NULL clears. Copied. */
void mvm_log_set_id(const char *id);
/* Sends the lines to fd (owned from now on, closed when replaced); -1: stderr. 0. */
int mvm_log_set_fd(int fd);
/*
 * Sends the lines to path (an existing file or FIFO, see sink_open() in
 * mvm/control.h, as Firecracker's log_path); NULL goes back to stderr.
 * 0 or -errno (the previous destination is kept on error). Implemented in
 * src/api/logger.c: opening files is not libmvm's business (mvm/sys.h).
 */
int mvm_log_set_path(const char *path);
/* Firecracker's show_level / show_log_origin (origin = the thread name). */
void mvm_log_set_options(bool show_level, bool show_origin);
/*
 * Parses a Firecracker logger level ("Error", "Warning", "Info", "Debug",
 * "Trace", "Off"; case-insensitive; "Trace" = debug). 0 or -EINVAL.
 * *off is set for "Off" (then nothing is logged).
 */
int mvm_log_level_parse(const char *s, enum mvm_log_level *level, bool *off);
/* Nothing at all is logged (Firecracker level "Off"). */
void mvm_log_set_off(bool off);

/*
 * Until called again with NULL, the first error-level message this thread
 * logs (whatever the level filter) is also copied into buf: the API answers
 * a failed InstanceStart with the boot's own reason. buf[0] is cleared.
 */
void mvm_log_capture(char *buf, size_t len);

/*
 * Lines a guest can trigger at will: at most burst of them per interval
 * from one call site, then one line saying how many were suppressed.
 */
struct mvm_ratelimit {
	uint64_t interval_ns;
	unsigned int burst;
	unsigned int printed;	 /* in the current interval */
	unsigned int suppressed; /* since the last report */
	uint64_t begin_ns;	 /* 0: no interval yet */
	int lock;
};
#define MVM_RATELIMIT_INIT(interval_ms, burst_)                                   \
	{                                                                         \
		.interval_ns = (uint64_t)(interval_ms)*1000000, .burst = (burst_) \
	}
/* True if a line may go out at now_ns; *suppressed: lines dropped before it, to report. */
bool mvm_ratelimit_allow(struct mvm_ratelimit *rl, uint64_t now_ns, unsigned int *suppressed);
void mvm_log_ratelimited(struct mvm_ratelimit *rl, enum mvm_log_level level, const char *fmt, ...)
	__printf(3, 4);
/* Log lines a full destination (a stalled pipe or FIFO) dropped so far. */
unsigned long mvm_log_dropped(void);

#define pr_warn_ratelimited(...)                                                 \
	({                                                                       \
		static struct mvm_ratelimit __rl = MVM_RATELIMIT_INIT(5000, 10); \
		mvm_log_ratelimited(&__rl, MVM_LOG_WARN, __VA_ARGS__);           \
	})

#define pr_err(...)   mvm_log_at(MVM_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define pr_warn(...)  mvm_log_at(MVM_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define pr_info(...)  mvm_log_at(MVM_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define pr_debug(...) mvm_log_at(MVM_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

#endif
