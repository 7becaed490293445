/* SPDX-License-Identifier: MIT */
/* Knobs of the fake KVM (fake_sys.c) and fake arch (fake_arch.c). */
#ifndef MVM_TEST_FAKE_H
#define MVM_TEST_FAKE_H

#include <stdbool.h>
#include <stdint.h>

#define FAKE_MAX_IRQFDS	    64
#define FAKE_MAX_IOEVENTFDS 64
#define FAKE_MAX_GSIS	    512

struct fake_kvm {
	int max_vcpus;	 /* KVM_CAP_MAX_VCPUS */
	int max_vcpu_id; /* KVM_CAP_MAX_VCPU_ID */
	int vcpus_created;
	/*
	 * KVM_GET_STATS_FD answers with a binary stats file (fake_stats_fd):
	 * "exits" (cumulative) = 42 + fd kind, "pages_4k" (instant) = 7,
	 * "halt_wait_hist" (log2 histogram, 4 buckets) = {1, 2, 0, 3},
	 * "wait_lin_hist" (linear, bucket 10, 3 buckets) = {5, 0, 1}.
	 * Off by default: an old kernel without binary stats.
	 */
	bool binary_stats;

	/* Interrupts and notifications, as the VM's ioctls left them. */
	int irq_level[FAKE_MAX_GSIS];	  /* KVM_IRQ_LINE */
	unsigned int routing_commits;	  /* KVM_SET_GSI_ROUTING calls */
	unsigned int routing_nr;	  /* entries in the last table */
	uint64_t msi_addr[FAKE_MAX_GSIS]; /* MSI routes of the last table */
	uint32_t msi_data[FAKE_MAX_GSIS];
	bool msi_routed[FAKE_MAX_GSIS];
	struct {
		bool used;
		int fd;
		unsigned int gsi;
	} irqfds[FAKE_MAX_IRQFDS];
	struct {
		bool used;
		int fd;
		int vm_fd; /* each VM has its own I/O buses */
		uint64_t addr;
		uint32_t len;
		bool pio;
		bool match; /* KVM_IOEVENTFD_FLAG_DATAMATCH: only writes of `data` */
		uint64_t data;
	} ioeventfds[FAKE_MAX_IOEVENTFDS];
	/*
	 * The x86 CPU calls (tests/arch): KVM_GET_SUPPORTED_CPUID answers
	 * `cpuid` (none: E2BIG-free empty table); KVM_CHECK_EXTENSION on
	 * /dev/kvm is 1 for the caps listed; a vCPU's KVM_SET_CPUID2 and
	 * KVM_SET_MSRS are recorded (the last of each); KVM_GET_MSRS knows the
	 * MSRs of `msrs` (KVM stops at the first it does not know).
	 */
	unsigned int nr_cpuid;
	struct fake_cpuid {
		uint32_t function, index, flags, eax, ebx, ecx, edx;
	} cpuid[64];
	uint32_t caps[8];
	unsigned int nr_set_cpuid;
	struct fake_cpuid set_cpuid[80];
	unsigned int nr_set_msrs;
	struct fake_msr {
		uint32_t index;
		uint64_t data;
	} set_msrs[300], msrs[8];
	unsigned int signal_msi; /* KVM_SIGNAL_MSI calls */
	/* KVM_GET_DIRTY_LOG of slot 0 answers dirty_log[0] (its first 64 pages) and clears it. */
	uint64_t dirty_log[64];
	uint32_t slot_flags[16]; /* flags of each slot's last KVM_SET_USER_MEMORY_REGION */
	/* The VM and vCPU state ioctls answer (fake_state.c); XSAVE and XCRS are offered. */
	bool x86_state;
	uint64_t last_msi_addr;
	uint32_t last_msi_data;
};

/* The ioeventfd registered at addr, or -1. */
int fake_ioeventfd_at(uint64_t addr);
/* The ioeventfd a write of `data` (len bytes) to addr would signal, as KVM picks it, or -1. */
int fake_ioeventfd_write(uint64_t addr, unsigned int len, uint64_t data);
/* The GSI eventfd efd is bound to, or -1. */
int fake_irqfd_gsi(int efd);

/*
 * A fake host VFIO (the kernel's vfio-pci, iommufd and group/container
 * interfaces) behind the same wrappers: /dev/iommu, /dev/vfio/vfio,
 * /dev/vfio/N and /dev/vfio/devices/vfioN open as fakes; a device fd is a
 * memfd holding the regions (region i at i << 16), so pread/pwrite/mmap on
 * it are real. The device: BAR0 4 KiB registers, BAR1 64 KiB mappable
 * (a sparse mmap capability), BAR2 4 KiB with MSI-X (4 vectors), config
 * space 256 bytes, INTx.
 */
#define FAKE_VFIO_MAX_CALLS 256
#define FAKE_VFIO_MAX_MAPS  8
#define FAKE_VFIO_REGION(i) ((uint64_t)(i) << 16)

struct fake_vfio {
	bool no_iommufd;       /* /dev/iommu is missing (ENOENT) */
	bool group_not_viable; /* VFIO_GROUP_GET_STATUS without VIABLE */
	/* What the VMM asked, in order (ioctl request numbers). */
	unsigned long calls[FAKE_VFIO_MAX_CALLS];
	unsigned int nr_calls;
	/* DMA mappings in force (IOAS or type1), and how many were ever made. */
	struct {
		bool used;
		uint64_t iova, size, va;
	} maps[FAKE_VFIO_MAX_MAPS];
	unsigned int maps_made;
	/* VFIO_DEVICE_SET_IRQS: the eventfds of each index, count 0 when off. */
	int irq_fds[3][32];
	unsigned int irq_count[3];
	int intx_unmask_fd; /* INTx's unmask eventfd (VFIO_IRQ_SET_ACTION_UNMASK) */
	int last_dev_fd;    /* the device fd last handed out */
};

extern struct fake_vfio fake_vfio;
/* Number of DMA mappings in force. */
unsigned int fake_vfio_maps(void);
/* Index of the first call to req at or after `from`, or -1. */
int fake_vfio_call_index(unsigned long req, unsigned int from);

struct fake_arch {
	int vcpu_creates;
	int vcpu_destroys;
	int veto_id;		/* arch_vcpu_precreate refuses this id (-EPERM) */
	int fail_create_id;	/* arch_vcpu_create fails for this id (-EIO) */
	bool saw_unpublished;	/* every create hook ran before publication */
	bool saw_published;	/* some create hook saw its vCPU already visible */
	uint64_t host_features; /* arch_host_cpu()'s feature bits ("FakeCPU") */
	int fail_vcpu_restore;	/* arch_vcpu_restore fails (-EIO) for this id */
};

extern struct fake_kvm fake_kvm;

/*
 * A fuller kernel (tests/fakekvm/) plugs in here what fake_sys.c leaves out:
 * x86 VM set-up, vCPU registers and KVM_RUN. Unset in the unit tests: those
 * calls fail ENOTTY. `ioctl` answers like an ioctl (-1 and errno ENOTTY for a
 * request it does not know); `vcpu_created` sees each new vCPU fd.
 */
enum fake_fd_kind {
	FD_NONE,
	FD_KVM,
	FD_VM,
	FD_VCPU,
	FD_IOMMU, /* the fake host VFIO's */
	FD_VFIO_CONTAINER,
	FD_VFIO_GROUP,
	FD_VFIO_DEVICE
};
struct fake_kvm_ops {
	int (*ioctl)(enum fake_fd_kind kind, int fd, unsigned long req, void *arg);
	void (*vcpu_created)(int fd, unsigned int id);
	void (*vcpu_mapped)(int fd, void *run);
	void (*irq_line)(unsigned int gsi, int level);
	/*
	 * Also make each KVM ioctl as a real system call on the fake fd (an
	 * eventfd: it answers ENOTTY), so a seccomp filter judges it as it
	 * would the real one.
	 */
	bool syscall_probe;
};
extern const struct fake_kvm_ops *fake_kvm_ops;
extern struct fake_arch fake_arch;

void fake_reset(void);
/* The state ioctls (fake_state.c): fd's stored state; forgetting all of it. */
int fake_state_ioctl(int fd, unsigned long req, void *arg);
void fake_state_reset(void);

#endif
