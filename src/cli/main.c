// SPDX-License-Identifier: MIT
/* mvm: the command line front end of libmvm. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "mvm/sandbox.h"
#include "mvm/version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"mvm %s - a virtual machine monitor on KVM\n"
		"\n"
		"usage: mvm run --kernel FILE [options]   boot a guest (see 'mvm run --help')\n"
		"       mvm --api-sock PATH [--config-file FILE] [--id ID]\n"
		"                                          a VMM driven by Firecracker's API\n"
		"                                          (options: mvm --api-sock x --help;\n"
		"                                          invoked as firecracker, mvm takes\n"
		"                                          Firecracker's command line)\n"
		"       mvm ls [--json]                    the VMs of this host: id, pid, state, "
		"vCPUs, memory\n"
		"       mvm stat [--json] ID               one stats snapshot (VM, vCPUs, "
		"devices)\n"
		"       mvm top [--once|-n N] [ID...]      live exits/s by reason, per VM and "
		"vCPU\n"
		"       mvm devices [--json] ID            the VM's devices, bus addresses, "
		"binding\n"
		"       mvm pause|resume ID                pause or resume the VM's vCPUs\n"
		"       mvm stop [--no-wait] ID            stop the VM (its VMM exits)\n"
		"       mvm snapshot ID --out DIR [--diff] [--stop]\n"
		"                                          snapshot a running VM\n"
		"       mvm snapshot info FILE             what a snapshot state file holds\n"
		"       mvm run --restore DIR [--resume]   a VM restored from a snapshot\n"
		"       mvm clone DIR -n N [--name BASE]   N VMs restored from one snapshot\n"
		"       mvm jailer --id ID --exec-file FILE --uid UID --gid GID [options] -- ARGS\n"
		"                                          run a VMM jailed, as Firecracker's "
		"jailer\n"
		"       mvm --print-seccomp [--seccomp-filter FILE]\n"
		"                                          each thread type's system calls\n"
		"       mvm --version\n"
		"       mvm --help\n",
		MVM_VERSION);
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} manage_cmds[] = {
	{ "ls", cmd_ls },	    { "stat", cmd_stat },	  { "top", cmd_top },
	{ "devices", cmd_devices }, { "pause", cmd_pause },	  { "resume", cmd_resume },
	{ "stop", cmd_stop },	    { "snapshot", cmd_snapshot }, { "clone", cmd_clone },
};

static int print_seccomp(int argc, char **argv)
{
	const char *file = NULL;

	if (argc == 4 && !strcmp(argv[2], "--seccomp-filter")) {
		file = argv[3];
	} else if (argc != 2) {
		fprintf(stderr, "usage: mvm --print-seccomp [--seccomp-filter FILE]\n");
		return MVM_EXIT_USAGE;
	}
	if (file && sandbox_configure(SANDBOX_ON, file))
		return MVM_EXIT_FAILURE;
	sandbox_print(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	const char *base = argc > 0 ? strrchr(argv[0], '/') : NULL;
	unsigned int i;

	/* A link named firecracker: Firecracker's command line, nothing else. */
	base = base ? base + 1 : argc > 0 ? argv[0] : "";
	if (!strcmp(base, "firecracker"))
		return cmd_vmm(argc, argv, true);
	/* Installed as (or linked to) "jailer": Firecracker's jailer command line. */
	if (!strcmp(base, "jailer"))
		return cmd_jailer(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return MVM_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(argv[1], "jailer"))
		return cmd_jailer(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--print-seccomp"))
		return print_seccomp(argc, argv);
	/* Management commands (manage.c, top.c): clients of running VMMs. */
	for (i = 0; i < sizeof(manage_cmds) / sizeof(manage_cmds[0]); i++)
		if (!strcmp(argv[1], manage_cmds[i].name))
			return manage_cmds[i].fn(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("mvm %s (Firecracker API v%s)\n", MVM_VERSION, MVM_FIRECRACKER_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	/* Top-level options, as Firecracker's: a VMM driven by the API. */
	if (argv[1][0] == '-')
		return cmd_vmm(argc, argv, false);
	fprintf(stderr, "mvm: unknown command '%s'; try 'mvm --help'\n", argv[1]);
	return MVM_EXIT_USAGE;
}
