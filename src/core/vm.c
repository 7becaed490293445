// SPDX-License-Identifier: MIT
/*
 * The VM life cycle (DESIGN.md §1.1), modelled on kvm_create_vm() and
 * kvm_destroy_vm(): vm_create() builds everything that belongs to a VM in
 * one function and unwinds in strict reverse order on error; vm_destroy()
 * is the one teardown path and mirrors it.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "mvm/arch.h"
#include "mvm/device.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/snapshot_mem.h"
#include "mvm/sys.h"
#include "mvm/vcpu.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "pause.h"

/*
 * ---- identity: VM names are unique within the process ----
 * Host-wide, the id (and the API socket path) is reserved in the runtime
 * directory by the front end before it calls vm_boot() (src/api/runtime.c,
 * see mvm/control.h): libmvm itself creates no files.
 */

struct vm_identity {
	struct list_head node;
	char name[MVM_VM_NAME_SIZE];
};

static pthread_mutex_t identities_lock = PTHREAD_MUTEX_INITIALIZER;
static struct list_head identities = LIST_HEAD_INIT(identities);
static unsigned int identities_seq;

static struct vm_identity *identity_find(const char *name)
{
	struct vm_identity *id;

	list_for_each_entry (id, &identities, node)
		if (!strcmp(id->name, name))
			return id;
	return NULL;
}

/* Reserves cfg's name, or the next free "mvm-<pid>[-<n>]". 0 or -errno. */
static int identity_reserve(const char *wanted, char name[MVM_VM_NAME_SIZE])
{
	struct vm_identity *id;
	int err = 0;

	if (wanted && (!*wanted || strlen(wanted) >= MVM_VM_NAME_SIZE || strchr(wanted, '/'))) {
		pr_err("VM name '%s' is not valid: 1-%d characters, no '/'", wanted,
		       MVM_VM_NAME_SIZE - 1);
		return -EINVAL;
	}
	id = mvm_zalloc(sizeof(*id));
	if (!id)
		return -ENOMEM;

	pthread_mutex_lock(&identities_lock);
	if (wanted) {
		snprintf(id->name, sizeof(id->name), "%s", wanted);
		if (identity_find(id->name))
			err = -EEXIST;
	} else {
		do {
			if (identities_seq++ == 0)
				snprintf(id->name, sizeof(id->name), "mvm-%d", (int)getpid());
			else
				snprintf(id->name, sizeof(id->name), "mvm-%d-%u", (int)getpid(),
					 identities_seq);
		} while (identity_find(id->name));
	}
	if (!err)
		list_add_tail(&id->node, &identities);
	pthread_mutex_unlock(&identities_lock);

	if (err) {
		pr_err("a VM named '%s' exists already", id->name);
		free(id);
		return err;
	}
	memcpy(name, id->name, MVM_VM_NAME_SIZE);
	return 0;
}

static void identity_release(const char *name)
{
	struct vm_identity *id;

	pthread_mutex_lock(&identities_lock);
	id = identity_find(name);
	if (id)
		list_del_init(&id->node);
	pthread_mutex_unlock(&identities_lock);
	free(id);
}

/* ---- creation and teardown ---- */

static const struct mvm_counter_desc vm_counters[] = {
	{ "devices", offsetof(struct vm, stat_devices) },
	{ "msi_route_updates", offsetof(struct vm, irq.commits) },
	{ "pio_unclaimed_reads", offsetof(struct vm, buses[MVM_BUS_PIO].unclaimed_reads) },
	{ "pio_unclaimed_writes", offsetof(struct vm, buses[MVM_BUS_PIO].unclaimed_writes) },
	{ "mmio_unclaimed_reads", offsetof(struct vm, buses[MVM_BUS_MMIO].unclaimed_reads) },
	{ "mmio_unclaimed_writes", offsetof(struct vm, buses[MVM_BUS_MMIO].unclaimed_writes) },
};

static int config_check(const struct mvm_config *cfg)
{
	if (cfg->mem_size < MVM_MIN_MEM || cfg->mem_size % SZ_4K) {
		pr_err("guest RAM must be a multiple of 4 KiB and at least %llu MiB",
		       MVM_MIN_MEM >> 20);
		return -EINVAL;
	}
	if (cfg->huge_pages == MVM_HUGE_2M && cfg->mem_size % SZ_2M) {
		pr_err("with 2M huge pages, guest RAM must be a multiple of 2 MiB");
		return -EINVAL;
	}
	if (cfg->cpus == 0 || cfg->cpus > MVM_MAX_VCPUS) {
		pr_err("%u vCPUs asked for: 1 to %d are possible", cfg->cpus, MVM_MAX_VCPUS);
		return -EINVAL;
	}
	return 0;
}

/* KVM_CHECK_EXTENSION on fd: >= 0 or -errno. */
static int kvm_cap(int fd, long cap)
{
	int r = mvm_ioctl(fd, KVM_CHECK_EXTENSION, cap);

	if (r < 0) {
		r = -errno;
		pr_err("KVM_CHECK_EXTENSION %ld: %s", cap, strerror(-r));
	}
	return r;
}

static int vm_open_kvm(struct vm *vm)
{
	int r;

	vm->kvm_fd = mvm_open("/dev/kvm", O_RDWR);
	if (vm->kvm_fd < 0) {
		r = -errno;
		pr_err("cannot open /dev/kvm: %s (is KVM enabled, and may this user use it?)",
		       strerror(-r));
		return r;
	}
	r = mvm_ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (r != KVM_API_VERSION) {
		r = r < 0 ? -errno : -ENOTSUP;
		pr_err("KVM API version: %s", r == -ENOTSUP ? "not 12" : strerror(-r));
		goto err_close;
	}
	r = mvm_ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (r <= 0) {
		r = r < 0 ? -errno : -EINVAL;
		pr_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(-r));
		goto err_close;
	}
	vm->run_size = (size_t)r;
	return 0;

err_close:
	close(vm->kvm_fd);
	vm->kvm_fd = -1;
	return r;
}

static int vm_create_kvm_vm(struct vm *vm)
{
	int r;

	do
		vm->vm_fd = mvm_ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		r = -errno;
		pr_err("KVM_CREATE_VM: %s", strerror(-r));
		return r;
	}
	/* Recommended, else KVM's per-arch minimums apply. */
	r = kvm_cap(vm->vm_fd, KVM_CAP_MAX_VCPUS);
	if (r < 0)
		goto err_close;
	vm->max_vcpus = MIN((unsigned int)(r ? r : 4), MIN(vm->cfg.cpus, MVM_MAX_VCPUS));
	r = kvm_cap(vm->vm_fd, KVM_CAP_MAX_VCPU_ID);
	if (r < 0)
		goto err_close;
	vm->max_vcpu_id = MIN(r ? (unsigned int)r : vm->max_vcpus, (unsigned int)MVM_MAX_VCPU_ID);
	if (vm->max_vcpus < vm->cfg.cpus) {
		pr_err("%u vCPUs asked for, KVM allows %u", vm->cfg.cpus, vm->max_vcpus);
		r = -EINVAL;
		goto err_close;
	}
	return 0;

err_close:
	close(vm->vm_fd);
	vm->vm_fd = -1;
	return r;
}

/* RAM from a snapshot's memory: its layout and where it comes from. */
struct vm_mem_source {
	const struct mem_layout *layout;
	unsigned int nr;
	const struct mem_backend *backend;
};

static int vm_create_memory(struct vm *vm, const struct vm_mem_source *src)
{
	struct mem_range ranges[MVM_MAX_MEM_REGIONS];
	unsigned int nr;

	if (src)
		return vm_memory_create_from(&vm->mem, vm->vm_fd, vm->cfg.mem_size, src->layout,
					     src->nr, src->backend, vm->cfg.track_dirty_pages);
	nr = arch_mem_layout(vm->cfg.mem_size, ranges, ARRAY_SIZE(ranges));
	return vm_memory_create(&vm->mem, vm->vm_fd, vm->cfg.mem_size, ranges, nr,
				vm->cfg.huge_pages, vm->cfg.track_dirty_pages);
}

/*
 * The snapshot's page-fault handler went away. With pages it never served,
 * the guest would read zeroes where its memory was: the VM stops instead.
 */
static void vm_uffd_handler_gone(struct loop_handler *h, uint32_t events)
{
	struct vm *vm = container_of(h, struct vm, uffd_watch);
	int r = uffd_backend_handler_gone(vm->mem.uffd);

	(void)events;
	if (r == -EAGAIN)
		return;
	loop_del(&vm->loop, h);
	if (r) {
		pr_err("the snapshot's page-fault handler is gone with guest memory not yet "
		       "loaded: stopping the VM");
		vm_request_stop(vm, VM_STOP_ERROR, 1);
		return;
	}
	pr_info("the snapshot's page-fault handler is gone; all guest memory was loaded");
}

static int vm_watch_uffd_handler(struct vm *vm)
{
	if (!vm->mem.uffd)
		return 0;
	vm->uffd_watch.fd = uffd_backend_watch_fd(vm->mem.uffd);
	vm->uffd_watch.fn = vm_uffd_handler_gone;
	return loop_add(&vm->loop, &vm->uffd_watch, EPOLLIN);
}

/* The configured instances' guest-physical memory beyond RAM, type by type. */
static int vm_devices_reserve_memory(struct vm *vm)
{
	const struct mvm_device_type **types;
	unsigned int i, j, n = mvm_device_types(&types), idx;
	int err = 0;

	for (i = 0; i < n && !err; i++) {
		if (!types[i]->reserve_memory || types[i]->platform)
			continue;
		idx = 0;
		for (j = 0; j < vm->cfg.nr_devices && !err; j++)
			if (vm->cfg.devices[j].type == types[i])
				err = types[i]->reserve_memory(vm, vm->cfg.devices[j].blob, idx++);
	}
	return err;
}

/* Unregisters every device, newest first, and drops the VM's reference. */
static void vm_devices_release(struct vm *vm)
{
	while (!list_empty(&vm->devices)) {
		struct mvm_device *dev;

		pthread_mutex_lock(&vm->lock);
		dev = list_entry(vm->devices.prev, struct mvm_device, node);
		pthread_mutex_unlock(&vm->lock);
		mvm_device_unregister(dev);
		mvm_device_put(dev);
	}
}

/*
 * Creates the VM's devices type by type, in the types' creation order: the
 * platform devices the arch places, then what the configuration asks for.
 * Devices made so far stay listed on error: the caller's unwind releases.
 */
static int vm_devices_create(struct vm *vm)
{
	const struct mvm_device_type **types;
	unsigned int i, j, n = mvm_device_types(&types), idx;
	int err = 0;

	/* An arch table naming a type nobody registered is refused before anything is made. */
	for (j = 0; j < arch_nr_platform_devices; j++)
		if (!mvm_device_type_find(arch_platform_devices[j].type)) {
			pr_err("platform device type '%s' is unknown",
			       arch_platform_devices[j].type);
			return -EINVAL;
		}
	for (i = 0; i < n && !err; i++) {
		const struct mvm_device_type *t = types[i];

		if (t->wanted && !t->wanted(&vm->cfg))
			continue;
		idx = 0;
		if (t->platform) {
			for (j = 0; j < arch_nr_platform_devices && !err; j++)
				if (!strcmp(arch_platform_devices[j].type, t->name))
					err = t->create(vm, &arch_platform_devices[j], idx++);
		} else if (t->wanted) {
			err = t->create(vm, NULL, 0);
		} else {
			for (j = 0; j < vm->cfg.nr_devices && !err; j++)
				if (vm->cfg.devices[j].type == t)
					err = t->create(vm, vm->cfg.devices[j].blob, idx++);
		}
	}
	return err;
}

static struct vm *vm_create_with(const struct mvm_config *cfg, const struct vm_mem_source *src)
{
	char name[MVM_VM_NAME_SIZE], stats_id[MVM_STATS_ID_SIZE];
	struct vm *vm;
	int err;

	err = config_check(cfg);
	if (err)
		return ERR_PTR(err);
	/* Identity first: a clash fails before anything costly is built. */
	err = identity_reserve(cfg->name, name);
	if (err)
		return ERR_PTR(err);

	vm = mvm_zalloc(sizeof(*vm));
	if (!vm) {
		err = -ENOMEM;
		goto err_identity;
	}
	memcpy(vm->name, name, sizeof(vm->name));
	vm->cfg = *cfg;
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	vm_pause_init(vm);
	list_init(&vm->devices);
	vm_irq_init(&vm->irq);
	bus_init(&vm->buses[MVM_BUS_PIO], MVM_BUS_PIO);
	bus_init(&vm->buses[MVM_BUS_MMIO], MVM_BUS_MMIO);

	err = vm_open_kvm(vm);
	if (err)
		goto err_free;
	err = vm_create_kvm_vm(vm);
	if (err)
		goto err_kvm;
	/*
	 * The stats node comes straight after the KVM VM: its id is the one KVM
	 * reports ("kvm-<pid>"), and every child node (vCPUs, devices) is named
	 * under it.
	 */
	snprintf(stats_id, sizeof(stats_id), "kvm-%d", (int)getpid());
	err = stats_node_open_kvm(&vm->stats, vm->vm_fd, stats_id, vm_counters,
				  ARRAY_SIZE(vm_counters), vm);
	if (err)
		goto err_vm;
	/*
	 * Memory slots before the irqchip. Registering the irqchip's devices on
	 * KVM's I/O bus leaves an SRCU grace period pending, and a memory slot
	 * added after that waits for it: measured here (bench/srcu-order, 20
	 * runs, medians) a runnable vCPU takes 359 us this way and 7911 us the
	 * other way. The pending wait moves to the VM's destroy instead, where
	 * it is gone once the VM has lived ~16 ms. Never add slots after I/O-bus
	 * registrations (irqchip, PIT, ioeventfds).
	 */
	err = vm_create_memory(vm, src);
	if (err)
		goto err_stats;
	err = vm_devices_reserve_memory(vm);
	if (err)
		goto err_memory;
	err = arch_vm_create(vm);
	if (err)
		goto err_memory;
	err = loop_init(&vm->loop);
	if (err)
		goto err_arch;
	err = vm_watch_uffd_handler(vm);
	if (err)
		goto err_loop;
	err = vm_devices_create(vm);
	if (err)
		goto err_devices;
	return vm;

err_devices:
	vm_devices_release(vm);
err_loop:
	loop_fini(&vm->loop);
err_arch:
	arch_vm_destroy(vm);
err_memory:
	vm_memory_destroy(&vm->mem);
err_stats:
	stats_node_release(&vm->stats);
err_vm:
	close(vm->vm_fd);
err_kvm:
	close(vm->kvm_fd);
err_free:
	bus_fini(&vm->buses[MVM_BUS_MMIO]);
	bus_fini(&vm->buses[MVM_BUS_PIO]);
	vm_irq_fini(&vm->irq);
	vm_pause_fini(vm);
	pthread_mutex_destroy(&vm->lock);
	free(vm);
err_identity:
	identity_release(name);
	return ERR_PTR(err);
}

struct vm *vm_create(const struct mvm_config *cfg)
{
	return vm_create_with(cfg, NULL);
}

struct vm *vm_create_from_memory(const struct mvm_config *cfg, const struct mem_layout *layout,
				 unsigned int nr, const struct mem_backend *backend)
{
	struct vm_mem_source src = { layout, nr, backend };

	return vm_create_with(cfg, &src);
}

void vm_destroy(struct vm *vm)
{
	char name[MVM_VM_NAME_SIZE];

	if (IS_ERR_OR_NULL(vm))
		return;
	/* A vCPU waiting on a page that a stalled handler never serves must not hang the join. */
	vm_memory_release_handler(&vm->mem);
	/* vCPUs first: nothing may run while what it uses goes away. */
	vcpus_destroy(vm);
	vm_devices_release(vm);
	loop_fini(&vm->loop);
	arch_vm_destroy(vm);
	vm_memory_destroy(&vm->mem);
	stats_node_release(&vm->stats);
	close(vm->vm_fd);
	close(vm->kvm_fd);
	bus_fini(&vm->buses[MVM_BUS_MMIO]);
	bus_fini(&vm->buses[MVM_BUS_PIO]);
	vm_irq_fini(&vm->irq);
	vm_pause_fini(vm);
	pthread_mutex_destroy(&vm->lock);
	memcpy(name, vm->name, sizeof(name));
	free(vm);
	identity_release(name);
}

struct vm *vm_boot(const struct mvm_config *cfg)
{
	struct vm *vm;
	unsigned int i;
	int err;

	vm = vm_create(cfg);
	if (IS_ERR(vm))
		return vm;
	err = arch_vm_load_kernel(vm);
	if (err)
		goto err_destroy;
	for (i = 0; i < cfg->cpus; i++) {
		err = vcpu_create(vm, i);
		if (err) {
			if (err == -EINVAL || err == -EEXIST)
				pr_err("creating vCPU %u: %s", i, strerror(-err));
			goto err_destroy;
		}
	}
	return vm;

err_destroy:
	vm_destroy(vm);
	return ERR_PTR(err);
}

/* ---- running and stopping ---- */

static pthread_mutex_t stop_lock = PTHREAD_MUTEX_INITIALIZER;

void vm_request_stop(struct vm *vm, enum vm_stop_reason reason, int status)
{
	pthread_mutex_lock(&stop_lock);
	if (atomic_load(&vm->stop_reason) == VM_RUNNING) {
		vm->stop_status = status;
		atomic_store(&vm->stop_reason, reason);
	}
	pthread_mutex_unlock(&stop_lock);
	loop_stop(&vm->loop);
	/* Parked (paused) vCPUs wake up, see the stop and leave. */
	vm_pause_wake(vm);
}

enum vm_stop_reason vm_stop_reason(const struct vm *vm)
{
	return atomic_load(&vm->stop_reason);
}

const char *vm_stop_reason_name(enum vm_stop_reason reason)
{
	switch (reason) {
	case VM_RUNNING:
		return "running";
	case VM_STOP_EXIT_PORT:
		return "exit-port";
	case VM_STOP_RESET:
		return "reset";
	case VM_STOP_POWEROFF:
		return "poweroff";
	case VM_STOP_SHUTDOWN:
		return "triple-fault";
	case VM_STOP_ERROR:
		return "error";
	case VM_STOP_SIGNAL:
		return "signal";
	case VM_STOP_API:
		return "api";
	}
	return "?";
}

int vm_run(struct vm *vm)
{
	unsigned int i, n = vm_online_vcpus(vm), started = 0;
	int err = 0;

	if (n == 0)
		return -EINVAL;
	/*
	 * The loop's stop flag is consumed here: a previous run left it set. A
	 * stop requested before this point is in stop_reason (set before the
	 * flag), so it is not lost: the check below and the vCPU loops see it.
	 */
	atomic_store(&vm->loop.stop, false);
	if (vm_stop_reason(vm) != VM_RUNNING)
		loop_stop(&vm->loop);
	for (i = 0; i < n; i++) {
		err = vcpu_start(vm_vcpu(vm, i));
		if (err) {
			vm_request_stop(vm, VM_STOP_ERROR, 1);
			break;
		}
		started++;
	}
	vm_pause_set_running(vm, true);
	if (!err)
		loop_run(&vm->loop);
	/* Whatever ended the loop, every vCPU leaves KVM_RUN and is joined. */
	if (vm_stop_reason(vm) == VM_RUNNING)
		vm_request_stop(vm, VM_STOP_ERROR, 1);
	for (i = 0; i < started; i++)
		vcpu_kick(vm_vcpu(vm, i));
	for (i = 0; i < started; i++)
		vcpu_join(vm_vcpu(vm, i));
	vm_pause_set_running(vm, false);
	return err;
}

unsigned int vm_online_vcpus(struct vm *vm)
{
	return atomic_load_explicit(&vm->online_vcpus, memory_order_acquire);
}

struct vcpu *vm_vcpu(struct vm *vm, unsigned int idx)
{
	if (idx >= vm_online_vcpus(vm))
		return NULL;
	return vm->vcpus[idx];
}

struct vcpu *vm_vcpu_by_id(struct vm *vm, unsigned int id)
{
	unsigned int i, n = vm_online_vcpus(vm);

	for (i = 0; i < n; i++)
		if (vm->vcpus[i]->id == id)
			return vm->vcpus[i];
	return NULL;
}

int vm_irq_line(struct vm *vm, unsigned int irq, int level)
{
	struct kvm_irq_level l = { .irq = irq, .level = level };

	/* A user-space irqchip is attached before any device can raise a line. */
	if (vm->irq.chip_ops)
		return vm->irq.chip_ops->set_line(vm->irq.chip, irq, level);

	if (mvm_ioctl_nofault(vm->vm_fd, KVM_IRQ_LINE, &l) < 0)
		return -errno;
	return 0;
}

/* ---- the stats tree ---- */

void vm_stats_walk(struct vm *vm, void (*fn)(void *opaque, const struct stats_node *n),
		   void *opaque)
{
	struct mvm_device *dev;
	unsigned int i, n = vm_online_vcpus(vm);

	fn(opaque, &vm->stats);
	for (i = 0; i < n; i++)
		fn(opaque, &vm->vcpus[i]->stats);
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		fn(opaque, &dev->stats);
	pthread_mutex_unlock(&vm->lock);
}

static void vm_stats_print_node(void *opaque, const struct stats_node *n)
{
	stats_node_print(n, opaque);
}

void vm_stats_print(struct vm *vm, FILE *f)
{
	vm_stats_walk(vm, vm_stats_print_node, f);
}
