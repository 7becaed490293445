// SPDX-License-Identifier: MIT
#include <stdio.h>

#include "cli.h"

int cmd_jailer(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "jailer: not yet\n");
	return MVM_EXIT_USAGE;
}
