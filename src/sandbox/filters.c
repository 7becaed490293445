// SPDX-License-Identifier: MIT
/*
 * The allow-lists, one per thread type: every system call a thread of that
 * type makes once it has entered its sandbox, and nothing else. A list is
 * data; src/sandbox/compile.c turns it into a BPF program.
 *
 * SB_GUEST marks calls reached only once a VM exists (KVM calls, a guest's
 * device I/O, building the VM): tests/sandbox/minimal.sh proves that every
 * other entry is reached by a test, and these too where /dev/kvm exists.
 *
 * Argument checks: seccomp sees numbers, not what an fd is, so an ioctl is
 * allowed by its request number (grouped below by the fd kind it is for);
 * mmap/mprotect never get PROT_EXEC; socket only for AF_UNIX (vsock's host
 * side; the API socket is made before any filter); clone makes threads only (clone3, whose
 * flags seccomp cannot read, fails ENOSYS and glibc falls back to clone).
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <linux/sockios.h>
#include <linux/seccomp.h>

#include "sandbox_internal.h"
#include "vfio/kernel_uapi.h"

#define ARR(a) (sizeof(a) / sizeof((a)[0]))
#define LIST(a)             \
	{                   \
		(a), ARR(a) \
	}

#define R(sys, fl)                                               \
	{                                                        \
		.nr = SCMP_SYS(sys), .name = #sys, .flags = (fl) \
	}
#define R1(sys, fl, desc, a, m, v)                                                                \
	{                                                                                         \
		.nr = SCMP_SYS(sys), .name = #sys, .args = (desc), .flags = (fl), .nr_checks = 1, \
		.checks = { { (a), (m), (v) } },                                                  \
	}
#define U32		  0xffffffffULL
#define NOEXEC(sys, fl)	  R1(sys, fl, "prot without PROT_EXEC", 2, PROT_EXEC, 0)
#define IOCTL(req, fl)	  R1(ioctl, fl, #req, 1, U32, (uint32_t)(req))
#define PRCTL(op, fl)	  R1(prctl, fl, #op, 0, U32, (op))
#define TGKILL(sig, fl)	  R1(tgkill, fl, #sig, 2, U32, (sig))
#define SOCKET_UNIX(fl)	  R1(socket, fl, "AF_UNIX", 0, U32, AF_UNIX)
#define CLONE_THREAD_(fl) R1(clone, fl, "CLONE_THREAD set", 0, CLONE_THREAD, CLONE_THREAD)
#define CLONE3_ENOSYS                                                                         \
	{                                                                                     \
		.nr = SCMP_SYS(clone3), .name = "clone3", .args = "fails ENOSYS (use clone)", \
		.err = ENOSYS,                                                                \
	}
#define G SB_GUEST

/* Installing a filter, and dying with a message when one says no. */
static const struct sandbox_rule floor_rules[] = {
	PRCTL(PR_SET_NO_NEW_PRIVS, 0),
	R1(seccomp, 0, "SECCOMP_SET_MODE_FILTER", 0, U32, SECCOMP_SET_MODE_FILTER),
	R(write, 0),
	R(exit_group, 0),
	/* every log line names its thread (Firecracker's format) */
	R(gettid, 0),
	R(getpid, 0),
	PRCTL(PR_GET_NAME, 0),
#ifdef __SANITIZE_ADDRESS__
	/*
	 * Test builds (make SAN=1): the ASan/LSan runtime's own calls on any
	 * thread (alternate signal stacks, LSan's tracer at exit: a non-thread
	 * clone that ptraces the threads). Production builds have none of these.
	 */
	R(sigaltstack, 0),
	R(clone, 0),
	R(wait4, 0),
	R(ptrace, 0),
	R(prctl, 0),
	R(gettid, 0),
	R(getpid, 0),
	R(sched_getaffinity, 0),
	R(sched_yield, 0),
	R(open, 0),
	R(openat, 0),
	R(readlink, 0),
	R(getdents64, 0),
	R(getdents, 0),
	R(getppid, 0),
	R(read, 0),
	R(close, 0),
	R(lseek, 0),
	R(newfstatat, 0),
	R(fstat, 0),
	NOEXEC(mmap, 0),
	R(munmap, 0),
	R(madvise, 0),
	R(futex, 0),
	R(exit, 0),
	R(rt_sigaction, 0),
	R(rt_sigprocmask, 0),
	R(tgkill, 0),
	R(kill, 0),
	R(clock_gettime, 0),
	R(nanosleep, 0),
	R(clock_nanosleep, 0),
	R(prlimit64, 0),
	R(getrlimit, 0),
	R(pipe2, 0),
#endif
};
const struct sandbox_list sandbox_floor = LIST(floor_rules);

/* Building a VM: the KVM calls of vm_create(), the vCPUs and the boot. */
#define VM_BUILD_RULES(fl)                                                                        \
	IOCTL(KVM_GET_API_VERSION, fl), IOCTL(KVM_CHECK_EXTENSION, fl), IOCTL(KVM_CREATE_VM, fl), \
		IOCTL(KVM_GET_VCPU_MMAP_SIZE, fl), IOCTL(KVM_GET_SUPPORTED_CPUID, fl),            \
		IOCTL(KVM_SET_TSS_ADDR, fl), IOCTL(KVM_SET_IDENTITY_MAP_ADDR, fl),                \
		IOCTL(KVM_CREATE_IRQCHIP, fl), IOCTL(KVM_CREATE_PIT2, fl),                        \
		IOCTL(KVM_SET_USER_MEMORY_REGION, fl), IOCTL(KVM_CREATE_VCPU, fl),                \
		IOCTL(KVM_GET_STATS_FD, fl), IOCTL(KVM_SET_CPUID2, fl), IOCTL(KVM_SET_MSRS, fl),  \
		IOCTL(KVM_GET_LAPIC, fl), IOCTL(KVM_SET_LAPIC, fl), IOCTL(KVM_SET_FPU, fl),       \
		IOCTL(KVM_SET_REGS, fl), IOCTL(KVM_SET_SREGS, fl), IOCTL(KVM_ENABLE_CAP, fl),     \
		IOCTL(KVM_GET_MSRS, fl) /* a CPU template's MSRs that mvm does not set */

/*
 * The device back ends' calls, on whichever thread sets a device up (the API
 * thread at InstanceStart and for the pre-boot checks of PUT requests, the
 * main thread for mvm run) or serves it (the event loop on the main thread;
 * a vCPU thread that activates or resets a device, closing a reset vsock's
 * connections): taps (virtio-net),
 * vsock's Unix sockets, the rate limiters' and the balloon's timers, guest
 * memory given back (balloon, virtio-mem), pmem flushes, libslirp's MMDS.
 */
#define DEVICE_RULES(fl)                                                                         \
	SOCKET_UNIX(fl), /* vsock's sockets; if_nametoindex() for a tap */                       \
		R(connect, fl), R(bind, fl), R(listen, fl), R(accept4, fl), R(getsockopt, fl),   \
		R(recvfrom, fl), R(sendto, fl), R(recvmsg, fl), R(sendmsg, fl), R(shutdown, fl), \
		R(unlink, fl), R(write, fl), R(readv, fl), R(writev, fl), R(close, fl),          \
		IOCTL(TUNGETFEATURES, fl), IOCTL(TUNSETIFF, fl), IOCTL(TUNSETVNETHDRSZ, fl),     \
		IOCTL(TUNSETOFFLOAD, fl), IOCTL(SIOCGIFINDEX, fl), R(timerfd_create, fl),        \
		R(timerfd_settime, fl), R(timerfd_gettime, fl), R(fallocate, fl), R(fsync, fl),  \
		R(memfd_create, fl), R(ftruncate, fl), R(eventfd2, fl), R(epoll_ctl, fl),        \
		R(getrandom, fl), R(clock_gettime, fl), R(gettimeofday, fl), R(mremap, fl)

/*
 * Snapshots. Loading (PUT /snapshot/load on the API thread, --restore on
 * the main thread): the VM's and the vCPUs' state written back. Creating
 * (PUT /snapshot/create): that state read, KVM's dirty log, the memory
 * file written (holes skipped), the state file replaced atomically.
 */
#define SNAPSHOT_LOAD_RULES(fl)                                                                  \
	IOCTL(KVM_GET_TSC_KHZ, fl), IOCTL(KVM_SET_TSC_KHZ, fl), IOCTL(KVM_SET_MP_STATE, fl),     \
		IOCTL(KVM_SET_XSAVE, fl), IOCTL(KVM_SET_XCRS, fl), IOCTL(KVM_SET_DEBUGREGS, fl), \
		IOCTL(KVM_SET_VCPU_EVENTS, fl), IOCTL(KVM_SET_IRQCHIP, fl),                      \
		IOCTL(KVM_SET_PIT2, fl), IOCTL(KVM_SET_CLOCK, fl)
#define SNAPSHOT_SAVE_RULES(fl)                                                                   \
	IOCTL(KVM_GET_CPUID2, fl), IOCTL(KVM_GET_MP_STATE, fl), IOCTL(KVM_GET_REGS, fl),          \
		IOCTL(KVM_GET_SREGS, fl), IOCTL(KVM_GET_FPU, fl), IOCTL(KVM_GET_XSAVE, fl),       \
		IOCTL(KVM_GET_XSAVE2, fl), IOCTL(KVM_GET_XCRS, fl), IOCTL(KVM_GET_DEBUGREGS, fl), \
		IOCTL(KVM_GET_MSR_INDEX_LIST, fl), IOCTL(KVM_GET_MSRS, fl),                       \
		IOCTL(KVM_GET_VCPU_EVENTS, fl), IOCTL(KVM_GET_IRQCHIP, fl),                       \
		IOCTL(KVM_GET_PIT2, fl), IOCTL(KVM_GET_CLOCK, fl), IOCTL(KVM_GET_DIRTY_LOG, fl),  \
		R(pwrite64, fl), R(rename, fl)

/*
 * A snapshot's guest memory loaded lazily (src/snapshot/), on the thread that
 * restores the VM (the API thread's PUT /snapshot/load, the main thread's
 * mvm run --restore) and on the event loop: the Uffd backend makes and
 * registers the userfaultfd (the syscall, or /dev/userfaultfd), hands it to
 * the page-fault handler, waits for it to read the message (SIOCOUTQ, short
 * sleeps), watches it (pidfd), and unregisters guest memory when it is gone
 * (mincore: was everything loaded); the working set is recorded (pagemap,
 * mincore) and prefetched (madvise, on a thread of the same filter).
 */
#define SNAPSHOT_MEM_RULES(fl)                                                                 \
	R(userfaultfd, fl), IOCTL(USERFAULTFD_IOC_NEW, fl), IOCTL(UFFDIO_API, fl),             \
		IOCTL(UFFDIO_REGISTER, fl), IOCTL(UFFDIO_UNREGISTER, fl), IOCTL(SIOCOUTQ, fl), \
		R(pidfd_open, fl), R(poll, fl), R(clock_nanosleep, fl), R(mincore, fl),        \
		R(pread64, fl), R(madvise, fl)

/*
 * VFIO devices, on the threads that set them up, serve them (a vCPU's BAR
 * access or MSI-X change, the event loop relaying interrupts) and release
 * them: the kernel's VFIO and iommufd calls, reading sysfs, a vfio-user
 * server's socket waited on with timeouts, a mappable BAR's memory slot
 * moved when the guest moves the BAR.
 */
#define VFIO_RULES(fl)                                                                            \
	IOCTL(VFIO_GET_API_VERSION, fl), IOCTL(VFIO_CHECK_EXTENSION, fl),                         \
		IOCTL(VFIO_SET_IOMMU, fl), IOCTL(VFIO_GROUP_GET_STATUS, fl),                      \
		IOCTL(VFIO_GROUP_SET_CONTAINER, fl), IOCTL(VFIO_GROUP_GET_DEVICE_FD, fl),         \
		IOCTL(VFIO_DEVICE_GET_INFO, fl), IOCTL(VFIO_DEVICE_GET_REGION_INFO, fl),          \
		IOCTL(VFIO_DEVICE_GET_IRQ_INFO, fl), IOCTL(VFIO_DEVICE_SET_IRQS, fl),             \
		IOCTL(VFIO_DEVICE_RESET, fl), IOCTL(VFIO_IOMMU_MAP_DMA, fl),                      \
		IOCTL(VFIO_IOMMU_UNMAP_DMA, fl), IOCTL(VFIO_DEVICE_BIND_IOMMUFD, fl),             \
		IOCTL(VFIO_DEVICE_ATTACH_IOMMUFD_PT, fl), IOCTL(IOMMU_IOAS_ALLOC, fl),            \
		IOCTL(IOMMU_IOAS_MAP, fl), IOCTL(IOMMU_IOAS_UNMAP, fl), IOCTL(IOMMU_DESTROY, fl), \
		IOCTL(KVM_SET_USER_MEMORY_REGION, fl), R(readlink, fl), R(getdents64, fl),        \
		R(poll, fl), R(pread64, fl), R(pwrite64, fl)

/*
 * The main thread: waits for InstanceStart (mvm --api-sock) or has built
 * the VM (mvm run), runs the VM's event loop (device back ends: console,
 * io_uring or synchronous disk I/O, virtqueue kicks, MSI-X, signals), starts
 * and joins the vCPU threads, and tears everything down. mvm run
 * --reboot-restarts builds the next VM here too.
 */
static const struct sandbox_rule vmm_rules[] = {
	/* memory (glibc's allocator, thread stacks) */
	R(brk, 0),
	NOEXEC(mmap, 0),
	NOEXEC(mprotect, G),
	R(munmap, 0),
	R(madvise, 0),
	R(exit, 0), /* threads it started (a config file's metrics timer) end under it */
	R(futex, 0),
	/* waiting, reading, writing */
	R(poll, 0),
	R(epoll_wait, G),
	R(epoll_ctl, G),
	R(read, 0),
	R(readv, G),
	R(writev, G),
	R(close, 0),
	R(fcntl, G),
	/* files: the runtime entry, a config file, the images of the next VM */
	R(openat, 0),
	R(newfstatat, 0),
	R(fstat, G),
	R(lseek, G),
	R(unlink, 0),
	R(mkdir, 0),   /* the runtime directory, if it went away */
	R(geteuid, 0), /* ... and it must be ours */
	R(access, 0),  /* a runtime entry or config file that cannot be parsed */
	R(kill, 0),    /* kill(pid, 0): is a registered VMM alive */
	R(getpid, 0),
	R(gettid, G),
	R(shutdown, 0), /* stopping the API server */
	/* disk I/O: the synchronous engine and io_uring */
	R(pread64, G),
	R(pwrite64, G),
	R(preadv, G),
	R(pwritev, G),
	R(fdatasync, G),
	R(fallocate, G),
	R(io_uring_enter, G),
	R(getrandom, G), /* virtio-rng */
	/* vCPU threads: start, kick, join */
	CLONE_THREAD_(G),
	CLONE3_ENOSYS,
	R(rseq, G),
	R(set_robust_list, G),
	R(rt_sigprocmask, 0),
	R(rt_sigaction, G),
	R(rt_sigreturn, G),
	TGKILL(SIGUSR2, G),
	PRCTL(PR_SET_NAME, G),
	/*
	 * The vCPU threads start here, after this filter is in: they keep it
	 * under their own, so every call of theirs must be on this list too.
	 */
	IOCTL(KVM_RUN, G),
	/* run-time KVM calls (VM fd): interrupts, routes, ioeventfd moves, stats */
	IOCTL(KVM_IRQ_LINE, G),
	IOCTL(KVM_SIGNAL_MSI, G),
	IOCTL(KVM_SET_GSI_ROUTING, G),
	IOCTL(KVM_IRQFD, G),
	IOCTL(KVM_IOEVENTFD, G),
	IOCTL(KVM_GET_REGS, G), /* vCPU fd: the RIP of a failed vCPU */
	IOCTL(KVM_GET_SREGS, G),
	/* the terminal (raw mode on, restored) */
	IOCTL(TCGETS, G),
	IOCTL(TCSETS, G),
	IOCTL(TCSETSF, G),
	/* building the next VM (mvm run --reboot-restarts) */
	VM_BUILD_RULES(G),
	R(memfd_create, G),
	R(ftruncate, G),
	R(eventfd2, G),
	R(epoll_create1, G),
	R(io_uring_setup, G),
	R(io_uring_register, G),
	DEVICE_RULES(G),
	/* a restored VM (--restore) */
	SNAPSHOT_LOAD_RULES(G),
	SNAPSHOT_MEM_RULES(G),
	VFIO_RULES(G),
};

/*
 * The API server (libmicrohttpd's thread, and the short-lived thread that
 * starts it): accepts and answers clients on the Unix socket, applies their
 * requests; InstanceStart builds the VM on this thread (the KVM create calls,
 * opening the kernel, initrd and disks), PUT /logger and /metrics open their
 * paths and the metrics thread is started here.
 */
static const struct sandbox_rule api_rules[] = {
	/* memory */
	NOEXEC(mmap, 0),
	NOEXEC(mprotect, 0),
	R(munmap, 0),
	R(madvise, 0),
	R(brk, G),
	R(futex, 0),
	/* the socket and its connections */
	R(epoll_create1, 0),
	R(epoll_ctl, 0),
	R(epoll_wait, 0),
	R(accept4, 0),
	R(getsockname, 0), /* MHD checks the socket it is given */
	R(getsockopt, 0),
	R(recvfrom, 0),
	R(sendto, 0),
	R(sendmsg, 0),
	R(shutdown, 0),
	R(read, 0),
	R(close, 0),
	R(eventfd2, G), /* mvm run: the API's own vmm object */
	/* logger, metrics, config paths; boot images and disks at InstanceStart */
	R(openat, 0),
	R(newfstatat, 0),
	R(fstat, G),
	R(lseek, 0),
	R(access, 0),
	R(fcntl, 0),
	R(pread64, G),
	R(getpid, G),
	/* threads: MHD's own, the metrics timer */
	CLONE_THREAD_(0),
	CLONE3_ENOSYS,
	R(rseq, 0),
	R(set_robust_list, 0),
	R(rt_sigprocmask, 0),
	PRCTL(PR_SET_NAME, 0),
	R(exit, 0),
	/*
	 * GET /metrics/prometheus sorts its samples: glibc's qsort asks sysinfo
	 * for the RAM size once per process, when the array is over 1 KiB
	 */
	R(sysinfo, G),
	/* mvm run: its API socket is made here, under this filter, then made 0600 */
	R1(chmod, G, "mode 0600", 1, U32, 0600),
	/* building the VM (InstanceStart) */
	VM_BUILD_RULES(G),
	IOCTL(KVM_GET_SREGS, G), /* the boot vCPU's segments are read, then set */
	TGKILL(SIGUSR2, G),	 /* PATCH /vm Paused, a stop: the vCPUs are kicked */
	IOCTL(KVM_IRQ_LINE, G),
	IOCTL(KVM_SIGNAL_MSI, G), /* a line of the split irqchip's IOAPIC */
	IOCTL(KVM_SET_GSI_ROUTING, G),
	IOCTL(KVM_IOEVENTFD, G),
	IOCTL(KVM_IRQFD, G),
	IOCTL(TCGETS, G),
	R(memfd_create, G),
	R(ftruncate, G),
	R(io_uring_setup, G),
	R(io_uring_register, G),
	DEVICE_RULES(G),
	SNAPSHOT_LOAD_RULES(G),
	SNAPSHOT_SAVE_RULES(G),
	SNAPSHOT_MEM_RULES(G),
	VFIO_RULES(G),
};

/*
 * A vCPU thread: KVM_RUN, and the exits it handles itself: port and MMIO
 * accesses to devices (a UART byte to the console, an IRQ line, an MSI-X
 * vector's route made on first use, a BAR moved), pause points, the kick.
 */
static const struct sandbox_rule vcpu_rules[] = {
	/*
	 * memory: a guest's DRIVER_OK or BAR write runs device code here that
	 * allocates, and glibc gives each thread an arena of its own (mmap)
	 */
	R(brk, G),
	NOEXEC(mmap, G),
	NOEXEC(mprotect, G),
	R(munmap, G),
	IOCTL(KVM_RUN, G),
	IOCTL(KVM_GET_REGS, G),
	IOCTL(KVM_GET_SREGS, G),
	IOCTL(KVM_IRQ_LINE, G),
	IOCTL(KVM_SIGNAL_MSI, G),
	IOCTL(KVM_SET_GSI_ROUTING, G),
	IOCTL(KVM_IRQFD, G),
	IOCTL(KVM_IOEVENTFD, G),
	R(io_uring_enter, G), /* a disk reset by its driver waits for its requests */
	R(futex, G),
	R(rt_sigreturn, G),
	R(rt_sigprocmask, G),
	R(madvise, G),
	R(exit, G),
	TGKILL(SIGUSR2, G), /* a vCPU may stop the VM: the others are kicked */
	R(getpid, G),
	R(read, G),	 /* an eventfd, the UART's input */
	R(epoll_ctl, G), /* UART input flow control */
	R(getrandom, G),
	DEVICE_RULES(G),
	VFIO_RULES(G),
};

/*
 * The metrics timer: sleeps, renders one JSON line, writes it. Its first
 * periodic flush (60 s) allocates: with a VM's counters, tests reach it.
 */
static const struct sandbox_rule metrics_rules[] = {
	R(futex, 0),	 R(rt_sigprocmask, 0), /* thread exit */
	NOEXEC(mmap, G), NOEXEC(mprotect, G),  R(munmap, G), R(madvise, 0), R(exit, 0),
};

const struct sandbox_list sandbox_builtin[SANDBOX_NR] = {
	[SANDBOX_VMM] = LIST(vmm_rules),
	[SANDBOX_API] = LIST(api_rules),
	[SANDBOX_VCPU] = LIST(vcpu_rules),
	[SANDBOX_METRICS] = LIST(metrics_rules),
};
