// SPDX-License-Identifier: MIT
/* mvm run: boot one VM from the command line and wait for it to end. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/vm.h"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: mvm run --kernel FILE [options]\n"
		"\n"
		"Boots FILE (an ELF with a Xen PVH entry note) and runs it until the guest\n"
		"ends. mvm exits with the guest's status: the value written to I/O port 0xf4,\n"
		"0 for a reset or power-off, 1 if the VM crashed or could not be built,\n"
		"128+N when stopped by signal N. Ctrl-A x on the console stops the VM.\n"
		"\n"
		"  -k, --kernel FILE    boot image\n"
		"  -m, --mem SIZE       guest RAM: 128M (default), 1G, 512K; a plain number is "
		"MiB\n"
		"  -c, --cpus N         vCPUs (default 1); the boot vCPU runs, the others wait\n"
		"                       for the guest to start them (INIT/SIPI)\n"
		"  -p, --cmdline STR    kernel command line\n"
		"      --name NAME      VM name (default mvm-<pid>)\n"
		"      --pit            create KVM's in-kernel PIT (i8254); off by default\n"
		"      --stats          print the VM's stats tree on stderr when it ends\n"
		"      --disk PATH[,ro][,id=NAME][,cache=none|writeback][,io=sync]\n"
		"                       virtio-blk on a raw image or block device (repeatable);\n"
		"                       io=sync: no io_uring (the fallback, for tests)\n"
		"      --rng            virtio-rng, fed from the host's getrandom()\n"
		"      --console serial|virtio\n"
		"                       where the terminal's input goes: the 16550 UART (ttyS0,\n"
		"                       default) or virtio-console (hvc0); UART output is\n"
		"                       shown either way\n"
		"  -v, --verbose        more log messages (repeat for debug)\n"
		"  -h, --help           this help\n");
}

int64_t parse_size(const char *s)
{
	uint64_t v, mul = 1ULL << 20;
	char *end;

	if (!s || !*s || *s == '-')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s)
		return -1;
	switch (*end) {
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		end++;
		break;
	case 'm':
	case 'M':
		end++;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		end++;
		break;
	case '\0':
		break;
	default:
		return -1;
	}
	if (*end || v > (uint64_t)INT64_MAX / mul)
		return -1;
	return (int64_t)(v * mul);
}

struct run_signals {
	struct loop_handler h;
	struct vm *vm;
};

static void run_signal(struct loop_handler *h, uint32_t events)
{
	struct run_signals *rs = container_of(h, struct run_signals, h);
	struct signalfd_siginfo si;

	(void)events;
	if (read(h->fd, &si, sizeof(si)) != sizeof(si))
		return;
	pr_info("signal %u: stopping the VM", si.ssi_signo);
	vm_request_stop(rs->vm, VM_STOP_SIGNAL, 128 + (int)si.ssi_signo);
}

static void print_process_stats(FILE *f)
{
	char line[256];
	FILE *st = fopen("/proc/self/status", "r");

	if (!st)
		return;
	/* The VMM's own memory: RssShmem is guest RAM (a memfd), the rest is mvm. */
	fprintf(f, "process\n");
	while (fgets(line, sizeof(line), st)) {
		unsigned long kib;
		char key[32];

		if (sscanf(line, "%31[^:]: %lu kB", key, &kib) == 2 &&
		    (!strcmp(key, "RssAnon") || !strcmp(key, "RssFile") ||
		     !strcmp(key, "RssShmem") || !strcmp(key, "VmHWM")))
			fprintf(f, "  %s_kib %lu\n", key, kib);
	}
	fclose(st);
}

static int run_exit_status(struct vm *vm)
{
	enum vm_stop_reason why = vm_stop_reason(vm);

	pr_info("VM %s stopped: %s, status %d", vm->name, vm_stop_reason_name(why),
		vm->stop_status);
	return vm->stop_status;
}

static int run_vm(struct vm *vm, bool stats, int console_in)
{
	struct run_signals rs = { .vm = vm };
	sigset_t set;
	int err, status;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	rs.h.fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	rs.h.fn = run_signal;
	if (rs.h.fd < 0 || loop_add(&vm->loop, &rs.h, EPOLLIN)) {
		pr_err("cannot watch for SIGINT/SIGTERM: %s", strerror(errno));
		if (rs.h.fd >= 0)
			close(rs.h.fd);
		return MVM_EXIT_FAILURE;
	}
	if (console_in >= 0)
		term_raw(console_in);
	err = vm_run(vm);
	term_restore();
	loop_del(&vm->loop, &rs.h);
	close(rs.h.fd);

	status = err ? MVM_EXIT_FAILURE : run_exit_status(vm);
	if (stats) {
		vm_stats_print(vm, stderr);
		print_process_stats(stderr);
	}
	return status;
}

int cmd_run(int argc, char **argv)
{
	enum { OPT_NAME = 256, OPT_PIT, OPT_STATS, OPT_DISK, OPT_RNG, OPT_CONSOLE };
	static const struct option opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "pit", no_argument, NULL, OPT_PIT },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "disk", required_argument, NULL, OPT_DISK },
		{ "rng", no_argument, NULL, OPT_RNG },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct mvm_config cfg;
	bool stats = false;
	int verbosity = MVM_LOG_WARN;
	struct vm *vm;
	sigset_t set;
	int64_t mem;
	char *end;
	long cpus;
	int c, status;

	mvm_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "k:m:c:p:vh", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			cfg.kernel = optarg;
			break;
		case 'm':
			mem = parse_size(optarg);
			if (mem < 0) {
				fprintf(stderr,
					"mvm run: --mem '%s' is not a size (try 128M or 1G)\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			cfg.mem_size = (uint64_t)mem;
			break;
		case 'c':
			errno = 0;
			cpus = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || cpus < 1 || cpus > MVM_MAX_VCPUS) {
				fprintf(stderr,
					"mvm run: --cpus '%s': give a number from 1 to %d\n",
					optarg, MVM_MAX_VCPUS);
				return MVM_EXIT_USAGE;
			}
			cfg.cpus = (unsigned int)cpus;
			break;
		case 'p':
			cfg.cmdline = optarg;
			break;
		case OPT_NAME:
			cfg.name = optarg;
			break;
		case OPT_PIT:
			cfg.pit = true;
			break;
		case OPT_STATS:
			stats = true;
			break;
		case OPT_DISK:
			if (parse_disk_opt(&cfg, optarg))
				return MVM_EXIT_USAGE;
			break;
		case OPT_RNG:
			cfg.rng = true;
			break;
		case OPT_CONSOLE:
			if (!strcmp(optarg, "serial")) {
				cfg.console = MVM_CONSOLE_SERIAL;
			} else if (!strcmp(optarg, "virtio")) {
				cfg.console = MVM_CONSOLE_VIRTIO;
			} else {
				fprintf(stderr, "mvm run: --console '%s': give serial or virtio\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			break;
		case 'v':
			verbosity++;
			break;
		case 'h':
			run_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "mvm run: try 'mvm run --help'\n");
			return MVM_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mvm run: unexpected argument '%s'; try 'mvm run --help'\n",
			argv[optind]);
		return MVM_EXIT_USAGE;
	}
	if (!cfg.kernel) {
		fprintf(stderr, "mvm run: --kernel FILE is required; try 'mvm run --help'\n");
		return MVM_EXIT_USAGE;
	}
	mvm_log_set_level(verbosity > MVM_LOG_DEBUG ? MVM_LOG_DEBUG : verbosity);
	/* Guest input only from a terminal: a pipe or file on stdin is left alone. */
	cfg.console_in = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	cfg.console_out = STDOUT_FILENO;

	/* SIGINT/SIGTERM are read from a signalfd by the event loop: block them everywhere. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	vm = vm_boot(&cfg);
	if (IS_ERR(vm))
		return MVM_EXIT_FAILURE;
	status = run_vm(vm, stats, cfg.console_in);
	vm_destroy(vm);
	return status;
}
