// SPDX-License-Identifier: MIT
/*
 * The user's terminal: raw mode while a guest owns the console, restored on
 * every way out: normal return, exit(), and fatal signals.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli.h"

static struct termios saved;
static int saved_fd = -1;

void term_restore(void)
{
	if (saved_fd < 0)
		return;
	tcsetattr(saved_fd, TCSAFLUSH, &saved);
	saved_fd = -1;
}

static void term_fatal_signal(int sig)
{
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

void term_raw(int fd)
{
	static const int fatal[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGHUP };
	static bool hooked;
	struct termios t;
	unsigned int i;

	if (!isatty(fd) || tcgetattr(fd, &saved) < 0)
		return;
	t = saved;
	cfmakeraw(&t);
	/* Keep output processing: guests write "\n" and expect a new line. */
	t.c_oflag |= OPOST | ONLCR;
	if (tcsetattr(fd, TCSAFLUSH, &t) < 0)
		return;
	saved_fd = fd;
	if (hooked)
		return;
	hooked = true;
	atexit(term_restore);
	for (i = 0; i < sizeof(fatal) / sizeof(fatal[0]); i++) {
		struct sigaction sa = { .sa_handler = term_fatal_signal, .sa_flags = SA_RESETHAND };

		sigemptyset(&sa.sa_mask);
		sigaction(fatal[i], &sa, NULL);
	}
}
