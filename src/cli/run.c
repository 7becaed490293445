// SPDX-License-Identifier: MIT
/* mvm run: boot one VM from the command line and wait for it to end. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "mvm/api.h"
#include "mvm/compiler.h"
#include "mvm/control.h"
#include "mvm/devtype.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/sandbox.h"
#include "mvm/vm.h"

static void run_usage(FILE *f)
{
	fprintf(f,
		"usage: mvm run --kernel FILE [options]\n"
		"\n"
		"Boots FILE (a Linux bzImage, or an ELF file with a Xen PVH entry note such as\n"
		"Linux's vmlinux or an mvm test guest) and runs it until the guest ends. mvm\n"
		"exits with the guest's status: the value written to I/O port 0xf4, 0 for a\n"
		"reset or power-off, 1 if the VM crashed or could not be built, 128+N when\n"
		"stopped by signal N. Ctrl-A x on the console stops the VM.\n"
		"\n"
		"  -k, --kernel FILE    boot image\n"
		"  -i, --initrd FILE    initial ramdisk (Linux initramfs)\n"
		"  -m, --mem SIZE       guest RAM: 128M (default), 1G, 512K; a plain number is "
		"MiB\n"
		"  -c, --cpus N         vCPUs (default 1); the boot vCPU runs, the others wait\n"
		"                       for the guest to start them (INIT/SIPI)\n"
		"  -p, --cmdline STR    kernel command line. A Linux kernel gets mvm's default\n"
		"                       \"" ARCH_LINUX_CMDLINE "\"\n"
		"                       first and STR after it (a later parameter wins)\n"
		"      --no-default-cmdline\n"
		"                       give a Linux kernel only --cmdline, no defaults\n"
		"      --reboot-restarts\n"
		"                       a guest reboot restarts the VM (fresh vCPUs, images\n"
		"                       reloaded) instead of ending mvm with status 0\n"
		"      --name NAME      VM name (default mvm-<pid>): its id for 'mvm ls/stat/...'\n"
		"      --api-sock PATH  serve the API there (default <runtime dir>/NAME.sock)\n"
		"      --no-api         no API socket and no runtime entry (invisible to 'mvm "
		"ls')\n"
		"      --pit            create KVM's in-kernel PIT (i8254); off by default\n"
		"      --track-dirty-pages  KVM's dirty log on RAM, for Diff snapshots (mvm "
		"snapshot --diff)\n"
		"      --firmware FILE  instead of a kernel: a raw image (16 bytes to 256 KiB)\n"
		"                       that ends at 4 GiB and at 1 MiB, run from the reset\n"
		"                       vector in real mode (as -bios in QEMU)\n"
		"      --irqchip kernel|split\n"
		"                       interrupt controllers all in KVM (default), or the\n"
		"                       LAPICs in KVM and the IOAPIC in mvm, without a PIC\n"
		"      --huge-pages none|2M|transparent\n"
		"                       back guest RAM with 2 MiB hugetlbfs pages (reserved at\n"
		"                       start: see /proc/sys/vm/nr_hugepages) or ask for\n"
		"                       transparent huge pages\n"
		"      --stats          print the VM's stats tree on stderr when it ends\n"
		"      --seccomp on|off|log\n"
		"                       each thread under its seccomp filter (on, default);\n"
		"                       log: forbidden calls are allowed, the kernel logs them\n"
		"      --console serial|virtio\n"
		"                       where the terminal's input goes: the 16550 UART (ttyS0,\n"
		"                       default) or virtio-console (hvc0); UART output is\n"
		"                       shown either way\n"
		"      --transport pci|mmio\n"
		"                       how virtio devices reach the guest: virtio-pci on a PCI\n"
		"                       bus (default: every kernel config with virtio has it),\n"
		"                       or virtio-mmio windows announced on the kernel command\n"
		"                       line and in ACPI, without PCI (as Firecracker)\n"
		"  -v, --verbose        more log messages (repeat for debug)\n"
		"  -h, --help           this help\n"
		"\n"
		"Devices:\n");
	mvm_device_types_usage(f);
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

/*
 * A file argument must be a regular file (a disk: or a block device): a FIFO
 * would hang the open or the read, a device never ends. Checked before
 * anything is built, without waiting (O_NONBLOCK); the loaders check again
 * on the fd they read. 0, or -1 after one line naming the file.
 */
static int check_file_arg(const char *what, const char *path, bool blk_ok)
{
	struct stat st;
	int fd, ok;

	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "mvm run: %s '%s': %s\n", what, path, strerror(errno));
		return -1;
	}
	ok = !fstat(fd, &st) && (S_ISREG(st.st_mode) || (blk_ok && S_ISBLK(st.st_mode)));
	close(fd);
	if (!ok) {
		fprintf(stderr, "mvm run: %s '%s': not a regular file%s\n", what, path,
			blk_ok ? " or block device" : "");
		return -1;
	}
	return 0;
}

/* Disks are checked when their option is parsed (MVM_OPT_HOST_FILE: stat, no open). */
static int check_file_args(const struct mvm_config *cfg)
{
	if ((cfg->kernel && check_file_arg("--kernel", cfg->kernel, false)) ||
	    (cfg->firmware && check_file_arg("--firmware", cfg->firmware, false)) ||
	    (cfg->initrd && check_file_arg("--initrd", cfg->initrd, false)))
		return -1;
	return 0;
}

static int run_exit_status(struct vm *vm)
{
	enum vm_stop_reason why = vm_stop_reason(vm);

	pr_info("VM %s stopped: %s, status %d", vm->name, vm_stop_reason_name(why),
		vm->stop_status);
	return vm->stop_status;
}

static int run_vm(struct vm *vm, bool stats, int console_in, int sigfd)
{
	struct signal_stop ss;
	int err, status;

	if (signal_stop_watch(&ss, vm, sigfd)) {
		pr_err("cannot watch for SIGINT/SIGTERM: %s", strerror(errno));
		return MVM_EXIT_FAILURE;
	}
	if (console_in >= 0)
		term_raw(console_in);
	err = vm_run(vm);
	term_restore();
	signal_stop_unwatch(&ss);

	status = err ? MVM_EXIT_FAILURE : run_exit_status(vm);
	if (stats) {
		vm_stats_print(vm, stderr);
		print_process_stats(stderr);
	}
	return status;
}

/*
 * mvm run serves the same API as `mvm --api-sock` for the VM it built, and
 * registers in the runtime directory, so that mvm ls/stat/top/devices/
 * pause/resume/stop work on it.
 */
struct run_control {
	char id[MVM_RUNTIME_ID_SIZE];
	char sock[108];
	bool registered;
	struct vmm *vmm;
	struct api_server *srv;
	struct vm *vm; /* the VM being served */
};

/*
 * Reserves the id in the runtime directory and chooses the socket. An id a
 * live VMM holds is an error; a runtime directory that cannot be used is
 * not (the VM runs, unlisted). 0 or -errno.
 */
static int run_register(struct run_control *ctl, struct mvm_config *cfg, const char *api_sock)
{
	int err;

	if (cfg->name)
		snprintf(ctl->id, sizeof(ctl->id), "%s", cfg->name);
	else
		snprintf(ctl->id, sizeof(ctl->id), "mvm-%d", (int)getpid());
	if (api_sock)
		err = strlen(api_sock) < sizeof(ctl->sock) ? 0 : -ENAMETOOLONG;
	else
		err = runtime_sock_path(ctl->id, ctl->sock, sizeof(ctl->sock));
	if (!err) {
		if (api_sock)
			snprintf(ctl->sock, sizeof(ctl->sock), "%s", api_sock);
		err = runtime_register(ctl->id, ctl->sock);
	}
	if (err == -EEXIST || err == -EINVAL) {
		fprintf(stderr, "mvm run: VM id '%s': %s\n", ctl->id,
			err == -EEXIST
				? "a running VMM has it (see 'mvm ls')"
				: "not valid (1-63 characters, no '/', not starting with '.')");
		return err;
	}
	if (err) {
		pr_warn("runtime directory: %s; the VM runs without API socket and 'mvm ls' "
			"will not list it",
			strerror(-err));
		ctl->sock[0] = '\0';
		return 0;
	}
	ctl->registered = true;
	/* The VM takes the id as its name, and every log line carries it. */
	cfg->name = ctl->id;
	mvm_log_set_id(ctl->id);
	return 0;
}

static void run_unregister(struct run_control *ctl)
{
	if (ctl->registered)
		runtime_unregister(ctl->id);
	ctl->registered = false;
}

/* Serves the API for vm; failing that, the VM runs anyway (with a warning). */
static void run_serve(struct run_control *ctl, struct vm *vm)
{
	if (!ctl->registered)
		return;
	ctl->vmm = vmm_create(ctl->id);
	if (IS_ERR_OR_NULL(ctl->vmm)) {
		ctl->vmm = NULL;
		goto err;
	}
	if (vmm_attach_vm(ctl->vmm, vm))
		goto err_vmm;
	ctl->srv = api_server_start(ctl->vmm, ctl->sock, NULL);
	if (IS_ERR(ctl->srv)) {
		ctl->srv = NULL;
		vmm_detach_vm(ctl->vmm);
		goto err_vmm;
	}
	return;

err_vmm:
	vmm_destroy(ctl->vmm);
	ctl->vmm = NULL;
err:
	pr_warn("the API socket %s could not be served: 'mvm stat/pause/...' will not reach "
		"this VM",
		ctl->sock);
}

static void *run_serve_thread(void *arg)
{
	struct run_control *ctl = arg;

	/*
	 * The HTTP library is mapped before the filter, which forbids mapping
	 * code: a VM restarted with --reboot-restarts makes this thread again
	 * under the VMM's filter, too late to load it on a first connection.
	 */
	pthread_setname_np(pthread_self(), "api-serve");
	/* Filtered even without the library: the server then refuses its clients. */
	api_server_preload();
	if (sandbox_enter(SANDBOX_API))
		return NULL;
	if (vm_wait_running(ctl->vm))
		run_serve(ctl, ctl->vm);
	return NULL;
}

/* The VM stopped: no request may use it from now on; the socket goes away. */
static void run_unserve(struct run_control *ctl)
{
	if (!ctl->vmm)
		return;
	vmm_detach_vm(ctl->vmm);
	api_server_stop(ctl->srv);
	vmm_destroy(ctl->vmm);
	ctl->vmm = NULL;
	ctl->srv = NULL;
}

int cmd_run(int argc, char **argv)
{
	enum {
		OPT_NAME = 256,
		OPT_PIT,
		OPT_TRACK_DIRTY,
		OPT_HUGE_PAGES,
		OPT_STATS,
		OPT_API_SOCK,
		OPT_NO_API,
		OPT_NO_DEFAULT_CMDLINE,
		OPT_REBOOT_RESTARTS,
		OPT_CONSOLE,
		OPT_SECCOMP,
		OPT_TRANSPORT,
		OPT_IRQCHIP,
		OPT_FIRMWARE,
		OPT_DEVICE, /* + the index of a device type */
	};
	static const struct option core_opts[] = {
		{ "kernel", required_argument, NULL, 'k' },
		{ "initrd", required_argument, NULL, 'i' },
		{ "no-default-cmdline", no_argument, NULL, OPT_NO_DEFAULT_CMDLINE },
		{ "reboot-restarts", no_argument, NULL, OPT_REBOOT_RESTARTS },
		{ "mem", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "cmdline", required_argument, NULL, 'p' },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "pit", no_argument, NULL, OPT_PIT },
		{ "track-dirty-pages", no_argument, NULL, OPT_TRACK_DIRTY },
		{ "huge-pages", required_argument, NULL, OPT_HUGE_PAGES },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "api-sock", required_argument, NULL, OPT_API_SOCK },
		{ "no-api", no_argument, NULL, OPT_NO_API },
		{ "console", required_argument, NULL, OPT_CONSOLE },
		{ "transport", required_argument, NULL, OPT_TRANSPORT },
		{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
		{ "firmware", required_argument, NULL, OPT_FIRMWARE },
		{ "seccomp", required_argument, NULL, OPT_SECCOMP },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
	};
	/* The core's options, then one per device type with a --<cli> (mvm/devtype.h). */
	struct option opts[ARRAY_SIZE(core_opts) + 64 + 1];
	const struct mvm_device_type **types;
	unsigned int nr_types = mvm_device_types(&types), nr_opts = 0, t;
	char msg[256];
	struct mvm_config cfg;
	struct run_control ctl = { 0 };
	/* Front-end settings: the VM does not know them. */
	bool stats = false, no_api = false, reboot_restarts = false, sandboxed = false;
	enum sandbox_mode sb = SANDBOX_ON;
	const char *api_sock = NULL;
	int verbosity = MVM_LOG_WARN;
	struct vm *vm;
	sigset_t set;
	int64_t mem;
	char *end;
	long cpus;
	int c, status, sigfd;

	if (run_wants_restore(argc, argv))
		return cmd_run_restore(argc, argv);
	memcpy(opts, core_opts, sizeof(core_opts));
	nr_opts = ARRAY_SIZE(core_opts);
	for (t = 0; t < nr_types && t < 64; t++)
		if (types[t]->cli)
			opts[nr_opts++] = (struct option){ types[t]->cli,
							   types[t]->cli_arg ? required_argument
									     : optional_argument,
							   NULL, OPT_DEVICE + (int)t };
	opts[nr_opts] = (struct option){ 0 };

	mvm_config_init(&cfg);
	while ((c = getopt_long(argc, argv, "k:i:m:c:p:vh", opts, NULL)) != -1) {
		if (c >= OPT_DEVICE) {
			const struct mvm_device_type *type = types[c - OPT_DEVICE];

			if (mvm_config_parse_device(&cfg, type, optarg, msg, sizeof(msg))) {
				fprintf(stderr, "mvm run: --%s%s%s: %s\n", type->cli,
					optarg ? " " : "", optarg ?: "", msg);
				return MVM_EXIT_USAGE;
			}
			continue;
		}
		switch (c) {
		case 'k':
			cfg.kernel = optarg;
			break;
		case 'i':
			cfg.initrd = optarg;
			break;
		case OPT_NO_DEFAULT_CMDLINE:
			cfg.no_default_cmdline = true;
			break;
		case OPT_REBOOT_RESTARTS:
			reboot_restarts = true;
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
		case OPT_TRACK_DIRTY:
			cfg.track_dirty_pages = true;
			break;
		case OPT_HUGE_PAGES:
			if (!strcasecmp(optarg, "none"))
				cfg.huge_pages = MVM_HUGE_NONE;
			else if (!strcasecmp(optarg, "2M"))
				cfg.huge_pages = MVM_HUGE_2M;
			else if (!strcasecmp(optarg, "transparent"))
				cfg.huge_pages = MVM_HUGE_THP;
			else {
				fprintf(stderr,
					"mvm run: --huge-pages '%s': give none, 2M or "
					"transparent\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			break;
		case OPT_STATS:
			stats = true;
			break;
		case OPT_API_SOCK:
			api_sock = optarg;
			break;
		case OPT_NO_API:
			no_api = true;
			break;
		case OPT_TRANSPORT:
			if (!strcmp(optarg, "pci")) {
				cfg.transport = MVM_TRANSPORT_PCI;
			} else if (!strcmp(optarg, "mmio")) {
				cfg.transport = MVM_TRANSPORT_MMIO;
			} else {
				fprintf(stderr, "mvm run: --transport '%s': give pci or mmio\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
			break;
		case OPT_FIRMWARE:
			cfg.firmware = optarg;
			break;
		case OPT_IRQCHIP:
			if (!strcmp(optarg, "kernel")) {
				cfg.irqchip = MVM_IRQCHIP_KERNEL;
			} else if (!strcmp(optarg, "split")) {
				cfg.irqchip = MVM_IRQCHIP_SPLIT;
			} else {
				fprintf(stderr, "mvm run: --irqchip '%s': give kernel or split\n",
					optarg);
				return MVM_EXIT_USAGE;
			}
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
		case OPT_SECCOMP:
			if (sandbox_mode_parse(optarg, &sb)) {
				fprintf(stderr, "mvm run: --seccomp '%s': give on, off or log\n",
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
	if (!cfg.kernel == !cfg.firmware) {
		fprintf(stderr, "mvm run: %s; try 'mvm run --help'\n",
			cfg.kernel ? "--kernel and --firmware: give one"
				   : "--kernel FILE (or --firmware FILE) is required");
		return MVM_EXIT_USAGE;
	}
	mvm_log_set_level(verbosity > MVM_LOG_DEBUG ? MVM_LOG_DEBUG : verbosity);
	if (check_file_args(&cfg))
		return MVM_EXIT_FAILURE;
	if (sandbox_configure(sb, NULL))
		return MVM_EXIT_FAILURE;
	/* A console or log reader that stops reading must not wedge the VMM. */
	sink_nonblocking(STDOUT_FILENO);
	sink_nonblocking(STDERR_FILENO);
	/* Guest input only from a terminal: a pipe or file on stdin is left alone. */
	cfg.console_in = isatty(STDIN_FILENO) ? STDIN_FILENO : -1;
	cfg.console_out = STDOUT_FILENO;

	/* SIGINT/SIGTERM are read from a signalfd by the event loop: block them everywhere. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* Made before any filter: the VMM thread's list has no signalfd4. */
	sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sigfd < 0) {
		fprintf(stderr, "mvm run: signalfd: %s\n", strerror(errno));
		return MVM_EXIT_FAILURE;
	}

	/* The identity first (DESIGN.md §1.1): a clash fails before the VM is built. */
	if (!no_api && run_register(&ctl, &cfg, api_sock)) {
		close(sigfd);
		return MVM_EXIT_FAILURE;
	}
	for (;;) {
		bool restart, serving;
		pthread_t server;

		vm = vm_boot(&cfg);
		if (IS_ERR(vm)) {
			status = MVM_EXIT_FAILURE;
			break;
		}
		/*
		 * The API comes up beside the guest, not before it: loading the
		 * HTTP library and starting its thread would otherwise delay
		 * the guest's first instruction by milliseconds.
		 */
		ctl.vm = vm;
		serving = !no_api && !pthread_create(&server, NULL, run_serve_thread, &ctl);
		if (!no_api && !serving)
			run_serve(&ctl, vm);
		/* Before the guest's first instruction: from here it drives this thread. */
		if (!sandboxed && sandbox_enter(SANDBOX_VMM)) {
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			status = MVM_EXIT_FAILURE;
			if (serving)
				pthread_join(server, NULL);
			run_unserve(&ctl);
			vm_destroy(vm);
			break;
		}
		sandboxed = true;
		status = run_vm(vm, stats, cfg.console_in, sigfd);
		restart = reboot_restarts && vm_stop_reason(vm) == VM_STOP_RESET;
		if (serving)
			pthread_join(server, NULL);
		run_unserve(&ctl);
		vm_destroy(vm);
		if (!restart)
			break;
		/* A real reset: a new VM, its RAM loaded again from the same files. */
		pr_warn("guest rebooted: restarting the VM (--reboot-restarts)");
	}
	run_unregister(&ctl);
	close(sigfd);
	return status;
}
