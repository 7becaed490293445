// SPDX-License-Identifier: MIT
/*
 * Snapshots on the fake KVM and fake arch: a VM's state, its devices' and
 * its RAM saved, then restored into a new VM from the memory file (mapped
 * privately, lazily); Full with holes for zero pages; Diff from the dirty
 * log; the refusals (not paused, a device that cannot save, a corrupt or
 * foreign file, another configuration, the Uffd backend) leave nothing.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/fault.h"
#include "mvm/pci.h"
#include "mvm/snap_format.h"
#include "mvm/snapshot.h"
#include "mvm/vcpu.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

#define UART_SCR 7

struct snapdir {
	char dir[64], state[96], mem[96];
};

static void snapdir_make(struct snapdir *d)
{
	snprintf(d->dir, sizeof(d->dir), "/tmp/mvm-snaptest-XXXXXX");
	assert_non_null(mkdtemp(d->dir));
	snprintf(d->state, sizeof(d->state), "%s/state", d->dir);
	snprintf(d->mem, sizeof(d->mem), "%s/memory", d->dir);
}

static void snapdir_remove(struct snapdir *d)
{
	unlink(d->state);
	unlink(d->mem);
	assert_int_equal(rmdir(d->dir), 0); /* nothing else was left there */
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	assert_non_null(dir);
	while ((e = readdir(dir)))
		n++;
	closedir(dir);
	return n;
}

static struct mvm_config test_cfg(unsigned int cpus)
{
	struct mvm_config cfg;

	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.cpus = cpus;
	cfg.console_out = -1;
	return cfg;
}

static struct mvm_device *find_dev(struct vm *vm, const char *type)
{
	struct mvm_device *dev;

	list_for_each_entry (dev, &vm->devices, node)
		if (!strcmp(dev->type ?: dev->ops->type, type) || !strcmp(dev->ops->type, type))
			return dev;
	return NULL;
}

static uint8_t serial_reg(struct vm *vm, unsigned int reg, int write_v)
{
	uint8_t v = (uint8_t)write_v;

	bus_access(&vm->buses[MVM_BUS_PIO], 0x3f8 + reg, &v, 1, write_v >= 0);
	return v;
}

static struct vm *built_vm(const struct mvm_config *cfg)
{
	struct vm *vm = vm_create(cfg);
	unsigned int i;

	assert_false(IS_ERR(vm));
	for (i = 0; i < cfg->cpus; i++) {
		assert_int_equal(vcpu_create(vm, i), 0);
		vm_vcpu(vm, i)->arch.rip = 0x1000 + i;
	}
	vm->arch.clock = 123456789;
	return vm;
}

static const char config_json[] = "{\"machine-config\": {\"vcpu_count\": 2}}";

static void test_full_round_trip(void **state)
{
	struct mvm_config cfg = test_cfg(2);
	struct mem_backend file = { MEM_BACKEND_FILE, NULL };
	struct mvm_snapshot *snap;
	struct snapdir d;
	struct vm *vm, *back;
	struct stat st;
	char err[512];
	int fds;

	(void)state;
	fake_reset();
	snapdir_make(&d);
	fds = count_fds();
	vm = built_vm(&cfg);
	memset(vm->mem.base + 0x5000, 0xab, 4096);
	memcpy(vm->mem.base + 0x3ff000, "the last page", 14);
	serial_reg(vm, UART_SCR, 0x5a);
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(vm_snapshot_create(vm, config_json, MVM_SNAPSHOT_FULL, d.state, d.mem, err,
					    sizeof(err)),
			 0);
	/* The VM is as it was: still paused, its memory untouched. */
	assert_true(vm_is_paused(vm));
	assert_int_equal(vm->mem.base[0x5000], 0xab);
	vm_destroy(vm);

	/* The memory file is RAM's size, with holes for what the guest never wrote. */
	assert_int_equal(stat(d.mem, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	assert_true(st.st_blocks * 512 < (1 << 20));

	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	assert_string_equal(mvm_snapshot_config(snap), config_json);
	assert_int_equal(mvm_snapshot_vcpus(snap), 2);
	assert_true(mvm_snapshot_mem_size(snap) == 4ULL << 20);
	file.path = d.mem;
	back = vm_restore(&cfg, snap, &file, err, sizeof(err));
	assert_false(IS_ERR(back));
	mvm_snapshot_close(snap);
	assert_true(back->mem.private_file);
	assert_int_equal(vm_online_vcpus(back), 2);
	assert_true(vm_vcpu_by_id(back, 0)->arch.rip == 0x1000);
	assert_true(vm_vcpu_by_id(back, 1)->arch.rip == 0x1001);
	assert_true(back->arch.clock == 123456789);
	assert_int_equal(back->mem.base[0x5000], 0xab);
	assert_int_equal(back->mem.base[0x5fff], 0xab);
	assert_int_equal(back->mem.base[0x6000], 0);
	assert_string_equal((char *)back->mem.base + 0x3ff000, "the last page");
	assert_int_equal(serial_reg(back, UART_SCR, -1), 0x5a);
	/* The guest's writes stay private: the snapshot's file is not changed. */
	back->mem.base[0x5000] = 0x11;
	vm_destroy(back);
	{
		int fd = open(d.mem, O_RDONLY);
		uint8_t b = 0;

		assert_int_equal(pread(fd, &b, 1, 0x5000), 1);
		assert_int_equal(b, 0xab);
		close(fd);
	}
	assert_int_equal(count_fds(), fds);
	snapdir_remove(&d);
}

static void test_not_paused_refused(void **state)
{
	struct mvm_config cfg = test_cfg(1);
	struct snapdir d;
	struct vm *vm;
	char err[512];

	(void)state;
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		-EBUSY);
	assert_non_null(strstr(err, "paused"));
	assert_int_equal(access(d.state, F_OK), -1);
	assert_int_equal(access(d.mem, F_OK), -1);
	vm_destroy(vm);
	snapdir_remove(&d);
}

static const struct mvm_device_ops nosave_ops = { .type = "nosave" };

static void test_device_without_save_named(void **state)
{
	struct mvm_config cfg = test_cfg(1);
	struct mvm_device *dev;
	struct snapdir d;
	struct vm *vm;
	char err[512];

	(void)state;
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	dev = mvm_device_alloc(struct mvm_device, ops, vm, &nosave_ops, "gadget0", NULL);
	assert_false(IS_ERR(mvm_device_register_or_put(dev)));
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		-EOPNOTSUPP);
	assert_non_null(strstr(err, "gadget0"));
	/* Refused before any file was touched. */
	assert_int_equal(access(d.state, F_OK), -1);
	assert_int_equal(access(d.mem, F_OK), -1);
	assert_true(vm_is_paused(vm));
	vm_destroy(vm);
	snapdir_remove(&d);
}

static void test_diff_from_dirty_log(void **state)
{
	struct mvm_config cfg = test_cfg(1);
	struct snapdir d;
	struct vm *vm;
	char err[512];
	uint8_t page[4096];
	struct stat st;
	int fd;

	(void)state;
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	assert_int_equal(vm_pause_before_run(vm), 0);
	/* Without tracking a Diff is refused. */
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_DIFF, d.state, d.mem, err, sizeof(err)),
		-EINVAL);
	assert_non_null(strstr(err, "track_dirty_pages"));
	vm_destroy(vm);

	cfg.track_dirty_pages = true;
	vm = built_vm(&cfg);
	assert_true(fake_kvm.slot_flags[0] & KVM_MEM_LOG_DIRTY_PAGES);
	memset(vm->mem.base + 0x1000, 1, 4096);
	memset(vm->mem.base + 0x2000, 2, 4096);
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		0);
	/* Then: the guest writes page 2 (KVM's log), the VMM page 3 (mem_write). */
	memset(vm->mem.base + 0x2000, 0x22, 4096);
	fake_kvm.dirty_log[0] = 1ULL << 2;
	memset(page, 0x33, sizeof(page));
	assert_int_equal(mem_write(&vm->mem, 0x3000, page, sizeof(page)), 0);
	/* Page 1 changes too, but nobody says so: a Diff must not carry it. */
	memset(vm->mem.base + 0x1000, 0x11, 4096);
	unlink(d.mem);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_DIFF, d.state, d.mem, err, sizeof(err)),
		0);
	assert_int_equal(stat(d.mem, &st), 0);
	assert_int_equal(st.st_size, 4 << 20);
	fd = open(d.mem, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, page, 1, 0x1000), 1);
	assert_int_equal(page[0], 0); /* a hole */
	assert_int_equal(pread(fd, page, 1, 0x2000), 1);
	assert_int_equal(page[0], 0x22);
	assert_int_equal(pread(fd, page, 1, 0x3000), 1);
	assert_int_equal(page[0], 0x33);
	close(fd);
	{
		struct snap_file f;

		assert_int_equal(snap_load(&f, d.state, err, sizeof(err)), 0);
		assert_true(f.hdr.flags & SNAP_F_DIFF);
		snap_file_free(&f);
	}
	vm_destroy(vm);
	snapdir_remove(&d);
}

/* The Uffd backend: the tests' page-fault handler (tests/snapshot) serves the restored RAM. */
static void test_uffd_round_trip(void **state)
{
	const char *handler = getenv("UFFD_HANDLER");
	struct mem_backend uffd = { MEM_BACKEND_UFFD, NULL };
	struct mvm_config cfg = test_cfg(2);
	struct mvm_snapshot *snap;
	struct snapdir d;
	struct vm *vm, *back;
	char err[512], sock[128];
	struct stat st;
	int fds, status, i;
	pid_t pid;

	(void)state;
	if (!handler || access(handler, X_OK)) {
		print_message(
			"SKIP: no page-fault handler (UFFD_HANDLER; make check-unit sets it)\n");
		skip();
	}
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	memset(vm->mem.base + 0x5000, 0xab, 4096);
	memcpy(vm->mem.base + 0x3ff000, "the last page", 14);
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(vm_snapshot_create(vm, config_json, MVM_SNAPSHOT_FULL, d.state, d.mem, err,
					    sizeof(err)),
			 0);
	vm_destroy(vm);

	snprintf(sock, sizeof(sock), "%s/uffd.sock", d.dir);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(handler, handler, sock, d.mem, "--timeout-ms", "10000", (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 5000 && stat(sock, &st); i++)
		usleep(1000);
	assert_int_equal(stat(sock, &st), 0);
	fds = count_fds();
	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	uffd.path = sock;
	back = vm_restore(&cfg, snap, &uffd, err, sizeof(err));
	mvm_snapshot_close(snap);
	if (IS_ERR(back))
		fail_msg("restore: %s", err);
	assert_non_null(back->mem.uffd);
	assert_true(vm_vcpu_by_id(back, 1)->arch.rip == 0x1001);
	/* Each page arrives from the handler on first touch: data, and zeroes for holes. */
	assert_int_equal(back->mem.base[0x5000], 0xab);
	assert_int_equal(back->mem.base[0x5fff], 0xab);
	assert_int_equal(back->mem.base[0x6000], 0);
	assert_string_equal((char *)back->mem.base + 0x3ff000, "the last page");
	/* A page the balloon gives back: the handler is told, and serves zeroes. */
	assert_int_equal(mem_discard(&back->mem, 0x5000, 4096, NULL), 0);
	assert_int_equal(back->mem.base[0x5000], 0);
	vm_destroy(back);
	/* Our end closed: the handler is done, and exits cleanly. */
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(count_fds(), fds);
	unlink(sock);
	snapdir_remove(&d);
}

static void test_restore_refusals(void **state)
{
	struct mvm_config cfg = test_cfg(2), other;
	struct mem_backend file = { MEM_BACKEND_FILE, NULL }, uffd = { MEM_BACKEND_UFFD, NULL };
	struct mvm_snapshot *snap;
	struct snapdir d;
	struct vm *vm;
	char err[512];
	int fds, fd;

	(void)state;
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		0);
	vm_destroy(vm);
	fds = count_fds();
	file.path = d.mem;
	uffd.path = "/nonexistent.sock";
	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);

	/* Another configuration. */
	other = test_cfg(1);
	assert_true(IS_ERR(vm_restore(&other, snap, &file, err, sizeof(err))));
	assert_non_null(strstr(err, "not the snapshot's"));
	/* No page-fault handler listens where the Uffd backend points. */
	assert_true(IS_ERR(vm_restore(&cfg, snap, &uffd, err, sizeof(err))));
	/* A memory file that is missing, then too short. */
	file.path = "/nonexistent/memory";
	assert_true(IS_ERR(vm_restore(&cfg, snap, &file, err, sizeof(err))));
	fd = open(d.mem, O_WRONLY);
	assert_int_equal(ftruncate(fd, 4096), 0);
	close(fd);
	file.path = d.mem;
	assert_int_equal(PTR_ERR(vm_restore(&cfg, snap, &file, err, sizeof(err))), -EINVAL);
	assert_int_equal(ftruncate(open(d.mem, O_WRONLY | O_CLOEXEC), 4 << 20), 0);
	/* A vCPU whose state the arch refuses: the half-built VM goes away. */
	fake_arch.fail_vcpu_restore = 1;
	assert_true(IS_ERR(vm_restore(&cfg, snap, &file, err, sizeof(err))));
	assert_non_null(strstr(err, "vCPU 1"));
	fake_arch.fail_vcpu_restore = -1;
	mvm_snapshot_close(snap);

	/* Another CPU: refused when the file is opened. */
	fake_arch.host_features = 0;
	{
		struct snap_file f;

		assert_int_equal(snap_load(&f, d.state, err, sizeof(err)), 0);
		fake_arch.host_features = f.hdr.cpu_features;
		snap_file_free(&f);
	}
	fake_arch.host_features = 0x1;
	/* The saved features were the host's at the time (0): a subset, accepted. */
	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	mvm_snapshot_close(snap);

	/* A corrupt state file. */
	fd = open(d.state, O_WRONLY);
	assert_int_equal(pwrite(fd, "X", 1, 104), 1); /* the first section's payload */
	close(fd);
	assert_int_not_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	assert_null(snap);
	assert_non_null(strstr(err, "corrupt"));
	assert_int_equal(count_fds() - 1, fds); /* the descriptor leaked above on purpose */
	snapdir_remove(&d);
}

/*
 * A virtio-mmio device (rng) driven to DRIVER_OK, the whole VM snapshotted
 * and restored from its configuration: the queue goes on where it was.
 */
static void test_virtio_mmio_vm_round_trip(void **state)
{
	enum mvm_transport transport = MVM_TRANSPORT_MMIO;
	struct mvm_config cfg = test_cfg(1);
	struct mem_backend file = { MEM_BACKEND_FILE, NULL };
	struct mvm_snapshot *snap;
	struct vdrv drv;
	struct snapdir d;
	struct vm *back;
	struct virtqueue *vq;
	char msg[256], err[512];

	fake_reset();
	snapdir_make(&d);
	cfg.transport = transport;
	assert_int_equal(mvm_config_parse_device(&cfg, mvm_device_type_find("virtio-rng"), "", msg,
						 sizeof(msg)),
			 0);
	memset(&drv, 0, sizeof(drv));
	drv.transport = transport;
	drv.vm = built_vm(&cfg);
	vdrv_attach(&drv, to_virtio_dev(find_dev(drv.vm, "virtio-rng")), VIRTIO_ID_RNG);
	vdrv_negotiate(&drv, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(&drv, 0, 16, 0x10000, 0x11000, 0x12000);
	vdrv_driver_ok(&drv);
	drv.vdev->vqs[0].last_avail = 7;
	drv.vdev->vqs[0].used_idx = 7;
	/* The used ring as the guest sees it: restore must not reset it. */
	*(uint16_t *)(drv.vm->mem.base + 0x12002) = 7;
	assert_int_equal(vm_pause_before_run(drv.vm), 0);
	assert_int_equal(vm_snapshot_create(drv.vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err,
					    sizeof(err)),
			 0);
	vdrv_fini(&drv);

	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	file.path = d.mem;
	back = vm_restore(&cfg, snap, &file, err, sizeof(err));
	mvm_snapshot_close(snap);
	assert_false(IS_ERR(back));
	memset(&drv, 0, sizeof(drv));
	drv.transport = transport;
	drv.vm = back;
	vdrv_attach(&drv, to_virtio_dev(find_dev(back, "virtio-rng")), VIRTIO_ID_RNG);
	assert_int_equal(vdrv_status(&drv) & VIRTIO_STATUS_DRIVER_OK, VIRTIO_STATUS_DRIVER_OK);
	assert_true(drv.vdev->active);
	vq = &drv.vdev->vqs[0];
	assert_true(vq->enabled);
	assert_int_equal(vq->size, 16);
	assert_true(vq->used_gpa == 0x12000);
	assert_int_equal(vq->last_avail, 7);
	assert_int_equal(vq->used_idx, 7);
	assert_int_equal(*(uint16_t *)(back->mem.base + 0x12002), 7);
	/* The notification path is wired again. */
	assert_true(vdrv_notify_fd(&drv, 0) >= 0);
	vdrv_fini(&drv);
	snapdir_remove(&d);
}

/*
 * A virtio device's own save/restore hooks on both transports (for PCI: its
 * configuration space, BAR, MSI-X table and vectors too), into a device of
 * a second VM.
 */
static void test_virtio_device_round_trip(void **state)
{
	enum mvm_transport transport = vdrv_transport(state);
	struct mvm_device *dev;
	struct snap_buf b;
	struct snap_cur c;
	struct vdrv drv;
	uint64_t base;

	vdrv_vm(&drv, transport);
	vdrv_attach(&drv, virtio_rng_create(drv.vm), VIRTIO_ID_RNG);
	vdrv_negotiate(&drv, 1ULL << VIRTIO_F_VERSION_1);
	if (transport == MVM_TRANSPORT_PCI) {
		/* MSI-X on, vector 1 for queue 0 (common config: queue_select 0x16, vector 0x1a).
		 */
		struct pci_dev *p = &drv.vdev->pci;
		uint16_t ctrl = PCI_MSIX_ENABLE;

		pci_cfg_write(p, p->msix.cap + PCI_MSIX_FLAGS, &ctrl, 2);
		vdrv_wr(&drv, 0x16, 0, 2);
		vdrv_wr(&drv, 0x1a, 1, 2);
		p->msix.table[1].data = 0x4242;
	}
	vdrv_queue(&drv, 0, 16, 0x10000, 0x11000, 0x12000);
	vdrv_driver_ok(&drv);
	drv.vdev->vqs[0].last_avail = drv.vdev->vqs[0].used_idx = 3;
	base = drv.base;
	dev = &drv.vdev->dev;
	snap_buf_init(&b);
	assert_int_equal(dev->ops->save(dev, &b), 0);
	assert_int_equal(b.err, 0);
	vdrv_fini(&drv);

	vdrv_vm(&drv, transport);
	vdrv_attach(&drv, virtio_rng_create(drv.vm), VIRTIO_ID_RNG);
	dev = &drv.vdev->dev;
	/* A truncated state is refused. */
	snap_cur_init(&c, b.data, b.len / 2);
	assert_int_not_equal(dev->ops->restore(dev, &c), 0);
	vdrv_fini(&drv);

	vdrv_vm(&drv, transport);
	vdrv_attach(&drv, virtio_rng_create(drv.vm), VIRTIO_ID_RNG);
	dev = &drv.vdev->dev;
	snap_cur_init(&c, b.data, b.len);
	assert_int_equal(dev->ops->restore(dev, &c), 0);
	assert_true(drv.vdev->active);
	assert_int_equal(drv.vdev->vqs[0].used_idx, 3);
	assert_true(drv.vdev->vqs[0].desc_gpa == 0x10000);
	assert_true(drv.base == base);
	assert_true(vdrv_notify_fd(&drv, 0) >= 0);
	if (transport == MVM_TRANSPORT_PCI) {
		assert_true(drv.vdev->pci.msix.enabled);
		assert_int_equal(drv.vdev->pci.msix.table[1].data, 0x4242);
		vdrv_wr(&drv, 0x16, 0, 2);
		assert_int_equal(vdrv_rd(&drv, 0x1a, 2), 1);
	}
	vdrv_fini(&drv);
	snap_buf_free(&b);
}

/*
 * Every faultable call of a snapshot's creation, then of its restore, fails
 * in turn: each failure is an error, no state file is left, the VM stays
 * paused and as it was, and no descriptor (nor, under ASan, heap) leaks.
 */
static void test_each_failure_point(void **state)
{
	struct mvm_config cfg = test_cfg(2);
	struct mem_backend file = { MEM_BACKEND_FILE, NULL };
	struct mvm_snapshot *snap;
	unsigned long calls, i, fired = 0;
	struct snapdir d;
	struct vm *vm, *back;
	char err[512], msg[256];
	int fds, r;

	(void)state;
	fake_reset();
	snapdir_make(&d);
	cfg.transport = MVM_TRANSPORT_MMIO;
	cfg.track_dirty_pages = true;
	assert_int_equal(mvm_config_parse_device(&cfg, mvm_device_type_find("virtio-rng"), "", msg,
						 sizeof(msg)),
			 0);
	vm = built_vm(&cfg);
	memset(vm->mem.base + 0x4000, 0x44, 4096);
	assert_int_equal(vm_pause_before_run(vm), 0);
	fds = count_fds();
	fault_begin(0);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		0);
	calls = fault_end();
	assert_true(calls > 5);
	for (i = 1; i <= calls; i++) {
		unlink(d.state);
		fault_begin(i);
		r = vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err,
				       sizeof(err));
		fault_end();
		if (!fault_fired())
			continue;
		fired++;
		if (r >= 0)
			fail_msg("a failure at %s:%d (%s) went unnoticed", fault_fired_site()->file,
				 fault_fired_site()->line, fault_fired_site()->what);
		assert_true(err[0] != '\0');
		assert_int_equal(access(d.state, F_OK), -1);
		assert_true(vm_is_paused(vm));
		assert_int_equal(vm->mem.base[0x4000], 0x44);
		assert_int_equal(count_fds(), fds);
	}
	assert_true(fired > 5);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		0);
	vm_destroy(vm);

	fds = count_fds();
	file.path = d.mem;
	fault_begin(0);
	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	back = vm_restore(&cfg, snap, &file, err, sizeof(err));
	assert_false(IS_ERR(back));
	calls = fault_end();
	vm_destroy(back);
	mvm_snapshot_close(snap);
	for (i = 1, fired = 0; i <= calls; i++) {
		fault_begin(i);
		r = mvm_snapshot_open(d.state, &snap, err, sizeof(err));
		back = r ? ERR_PTR(r) : vm_restore(&cfg, snap, &file, err, sizeof(err));
		fault_end();
		if (!r)
			mvm_snapshot_close(snap);
		if (!fault_fired()) {
			if (!IS_ERR(back))
				vm_destroy(back);
			continue;
		}
		fired++;
		assert_true(IS_ERR(back));
		assert_int_equal(count_fds(), fds);
	}
	assert_true(fired > 5);
	/* Nothing of the failed restores holds the VM's identity or its memory. */
	assert_int_equal(mvm_snapshot_open(d.state, &snap, err, sizeof(err)), 0);
	back = vm_restore(&cfg, snap, &file, err, sizeof(err));
	assert_false(IS_ERR(back));
	assert_int_equal(back->mem.base[0x4000], 0x44);
	vm_destroy(back);
	mvm_snapshot_close(snap);
	snapdir_remove(&d);
}

struct counted {
	struct loop_handler h;
	atomic_int runs;
};

static void counted_fn(struct loop_handler *h, uint32_t events)
{
	struct counted *c = (struct counted *)h;
	uint64_t v;

	(void)events;
	if (read(h->fd, &v, sizeof(v)) == sizeof(v))
		atomic_fetch_add(&c->runs, 1);
}

static void *loop_thread(void *arg)
{
	loop_run(arg);
	return NULL;
}

/*
 * A snapshot holds the event loop: no device back end runs while the state
 * and memory are read (loop_hold), and the loop goes on after.
 */
static void test_snapshot_holds_the_loop(void **state)
{
	struct mvm_config cfg = test_cfg(1);
	struct counted c = { .h = { .fn = counted_fn } };
	struct timespec ms = { 0, 1000 * 1000 };
	struct snapdir d;
	pthread_t t;
	struct vm *vm;
	uint64_t one = 1;
	char err[512];
	int i;

	(void)state;
	fake_reset();
	snapdir_make(&d);
	vm = built_vm(&cfg);
	c.h.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	assert_true(c.h.fd >= 0);
	assert_int_equal(loop_add(&vm->loop, &c.h, EPOLLIN), 0);
	/* Held without a thread in the loop: returns at once. */
	loop_hold(&vm->loop);
	loop_release(&vm->loop);
	assert_int_equal(pthread_create(&t, NULL, loop_thread, &vm->loop), 0);

	loop_hold(&vm->loop);
	assert_int_equal(write(c.h.fd, &one, sizeof(one)), sizeof(one));
	for (i = 0; i < 50; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&c.runs), 0);
	loop_release(&vm->loop);
	for (i = 0; i < 2000 && !atomic_load(&c.runs); i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&c.runs), 1);

	/* A snapshot with the loop's thread running. */
	assert_int_equal(vm_pause_before_run(vm), 0);
	assert_int_equal(
		vm_snapshot_create(vm, "{}", MVM_SNAPSHOT_FULL, d.state, d.mem, err, sizeof(err)),
		0);
	assert_int_equal(write(c.h.fd, &one, sizeof(one)), sizeof(one));
	for (i = 0; i < 2000 && atomic_load(&c.runs) < 2; i++)
		nanosleep(&ms, NULL);
	assert_int_equal(atomic_load(&c.runs), 2);

	loop_stop(&vm->loop);
	pthread_join(t, NULL);
	loop_del(&vm->loop, &c.h);
	close(c.h.fd);
	vm_destroy(vm);
	snapdir_remove(&d);
}

int run_snapshot_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_round_trip),
		cmocka_unit_test(test_not_paused_refused),
		cmocka_unit_test(test_device_without_save_named),
		cmocka_unit_test(test_diff_from_dirty_log),
		cmocka_unit_test(test_restore_refusals),
		cmocka_unit_test(test_uffd_round_trip),
		cmocka_unit_test(test_virtio_mmio_vm_round_trip),
		cmocka_unit_test(test_each_failure_point),
		cmocka_unit_test(test_snapshot_holds_the_loop),
		VDRV_TESTS(test_virtio_device_round_trip),
	};

	return cmocka_run_group_tests_name("snapshot", tests, NULL, NULL);
}
