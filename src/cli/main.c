// SPDX-License-Identifier: MIT
/* mvm: the command line front end of libmvm. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mvm/version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"mvm %s - a virtual machine monitor on KVM\n"
		"\n"
		"usage: mvm run --kernel FILE [options]   boot a guest (see 'mvm run --help')\n"
		"       mvm --version\n"
		"       mvm --help\n",
		MVM_VERSION);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return MVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mvm %s\n", MVM_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "mvm: unknown command '%s'; try 'mvm --help'\n", argv[1]);
	return MVM_EXIT_USAGE;
}
