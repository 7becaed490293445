/* SPDX-License-Identifier: MIT */
/* Logging: one line per message, "mvm: " prefix, level filter, to stderr. */
#ifndef MVM_LOG_H
#define MVM_LOG_H

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

#define pr_err(...)   mvm_log(MVM_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  mvm_log(MVM_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  mvm_log(MVM_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) mvm_log(MVM_LOG_DEBUG, __VA_ARGS__)

#endif
