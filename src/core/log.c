// SPDX-License-Identifier: MIT
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mvm/log.h"

static atomic_int log_level = MVM_LOG_WARN;

void mvm_log_set_level(enum mvm_log_level level)
{
	atomic_store(&log_level, level);
}

enum mvm_log_level mvm_log_get_level(void)
{
	return atomic_load(&log_level);
}

void mvm_log(enum mvm_log_level level, const char *fmt, ...)
{
	char line[1024];
	size_t n;
	va_list ap;

	if ((int)level > atomic_load(&log_level))
		return;
	/* Format first, then one write: lines from several threads do not mix. */
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	if (n == 0 || line[n - 1] != '\n')
		line[n++] = '\n';
	line[n] = '\0';
	fprintf(stderr, "mvm: %s", line);
}
