// SPDX-License-Identifier: MIT
/*
 * Kernel VFIO passthrough against the fake host VFIO (tests/unit/fake_sys.c)
 * and a sysfs tree made in a temporary directory: the iommufd path and the
 * group/container fallback (their ioctl sequences, DMA maps of guest RAM),
 * region info with a sparse mmap capability, MSI-X eventfds, the refusals
 * (no VFIO, a device bound elsewhere, a group not viable, a bad address),
 * and fault injection over both create paths.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/bus.h"
#include "mvm/fault.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vfio/kernel_uapi.h"
#include "vfio/vfio.h"

#define ADDR "0000:01:00.0"

struct kenv {
	struct vm *vm;
	char root[64];
};

static void run(const char *cmd)
{
	assert_int_equal(system(cmd), 0);
}

/*
 * A sysfs with VFIO and the device bound to `driver`; cdev: it has
 * vfio-dev/vfio3 (the iommufd path); group 7 either way.
 */
static struct kenv *new_kenv(const char *driver, bool cdev, bool vfio)
{
	struct kenv *k = calloc(1, sizeof(*k));
	char cmd[512];

	assert_non_null(k);
	fake_reset();
	k->vm = unit_vm(1);
	{
		static const struct platform_device_desc host = {
			"pci-host", "pci-host", MVM_BUS_PIO, ARCH_PCI_CONF1_PORT, 8, 0,
		};

		assert_false(IS_ERR(pci_host_create(k->vm, &host)));
	}
	snprintf(k->root, sizeof(k->root), "/tmp/mvm-sysfs-XXXXXX");
	assert_non_null(mkdtemp(k->root));
	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p bus/pci/devices/" ADDR " bus/pci/drivers/%s "
		 "kernel/iommu_groups/7 && ln -s ../../../../bus/pci/drivers/%s "
		 "bus/pci/devices/" ADDR "/driver && ln -s ../../../../kernel/iommu_groups/7 "
		 "bus/pci/devices/" ADDR "/iommu_group%s%s",
		 k->root, driver, driver, vfio ? " && mkdir -p module/vfio" : "",
		 cdev ? " && mkdir -p bus/pci/devices/" ADDR "/vfio-dev/vfio3" : "");
	run(cmd);
	return k;
}

static void free_kenv(struct kenv *k)
{
	char cmd[128];

	if (k->vm)
		vm_destroy(k->vm);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", k->root);
	run(cmd);
	free(k);
}

static unsigned int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	unsigned int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* The calls a path makes, in order, each after the one before. */
static void assert_sequence(const unsigned long *reqs, unsigned int n)
{
	unsigned int i;
	int at = 0;

	for (i = 0; i < n; i++) {
		at = fake_vfio_call_index(reqs[i], (unsigned int)at);
		assert_true(at >= 0);
		at++;
	}
}

/* Guest RAM is the device's DMA space: one mapping per RAM region, iova = gpa. */
static void assert_ram_mapped(struct vm *vm)
{
	unsigned int i, j, found = 0;

	assert_int_equal(fake_vfio_maps(), vm->mem.nr_regions);
	for (i = 0; i < vm->mem.nr_regions; i++)
		for (j = 0; j < FAKE_VFIO_MAX_MAPS; j++)
			found += fake_vfio.maps[j].used &&
				 fake_vfio.maps[j].iova == vm->mem.regions[i].gpa &&
				 fake_vfio.maps[j].size == vm->mem.regions[i].size &&
				 fake_vfio.maps[j].va == (uintptr_t)vm->mem.regions[i].hva;
	assert_int_equal(found, vm->mem.nr_regions);
}

static void exercise(struct vfio_dev *v)
{
	uint16_t vendor = 0, cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, ctrl;
	uint32_t x = 0x12345678, y = 0;
	unsigned int i;

	pci_cfg_read(&v->pdev, PCI_VENDOR_ID, &vendor, 2);
	assert_int_equal(vendor, 0x8086);
	assert_int_equal(v->pdev.bars[0].size, 4096);
	assert_true(v->pdev.bars[1].is64);
	assert_int_equal(v->pdev.bars[3].size, 4096);
	assert_int_equal(v->pdev.msix.nr, 4);
	assert_int_equal(v->pdev.msix.bar, 3);
	/* BAR1 is mmapped from the device fd; BAR0 is trapped (pread/pwrite at its offset). */
	assert_non_null(v->regions[1].areas[0].hva);
	assert_null(v->regions[0].areas[0].hva);
	pci_cfg_write(&v->pdev, PCI_COMMAND, &cmd, 2);
	assert_true(v->regions[1].areas[0].slot >= 0);
	pci_bar_access(&v->pdev, 0, 0x10, &x, 4, true);
	assert_int_equal(pread(fake_vfio.last_dev_fd, &y, 4, (off_t)FAKE_VFIO_REGION(0) + 0x10), 4);
	assert_int_equal(y, 0x12345678);
	/* The command register reached the device's config space. */
	assert_int_equal(pread(fake_vfio.last_dev_fd, &cmd, 2, (off_t)FAKE_VFIO_REGION(7) + 4), 2);
	assert_int_equal(cmd, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	/* INTx: a resample irqfd on the function's GSI, the resample fd as the unmask eventfd. */
	assert_int_equal(fake_vfio.irq_count[VFIO_IRQ_INTX], 1);
	assert_int_equal(fake_vfio.irq_fds[VFIO_IRQ_INTX][0], v->intx_fd);
	assert_int_equal(fake_vfio.intx_unmask_fd, v->intx_unmask);
	assert_int_equal(fake_irqfd_gsi(v->intx_fd), (int)v->pdev.intx_gsi);
	/* MSI-X on: INTx off first (one type at a time), one eventfd per vector. */
	ctrl = PCI_MSIX_ENABLE;
	pci_cfg_write(&v->pdev, v->pdev.msix.cap + PCI_MSIX_FLAGS, &ctrl, 2);
	assert_true(v->msix_on);
	assert_int_equal(fake_vfio.irq_count[VFIO_IRQ_INTX], 0);
	assert_int_equal(fake_vfio.intx_unmask_fd, -1);
	assert_int_equal(fake_vfio.irq_count[VFIO_IRQ_MSIX], 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(fake_vfio.irq_fds[VFIO_IRQ_MSIX][i], v->msix[i].h.fd);
	/* Off: no vector, INTx back. */
	ctrl = 0;
	pci_cfg_write(&v->pdev, v->pdev.msix.cap + PCI_MSIX_FLAGS, &ctrl, 2);
	assert_false(v->msix_on);
	assert_int_equal(fake_vfio.irq_count[VFIO_IRQ_MSIX], 0);
	assert_int_equal(fake_vfio.irq_count[VFIO_IRQ_INTX], 1);
	assert_int_equal(fake_vfio.intx_unmask_fd, v->intx_unmask);
	assert_int_equal(v->bops->reset(v), 0);
}

static void test_kernel_iommufd(void **state)
{
	static const unsigned long seq[] = {
		VFIO_DEVICE_BIND_IOMMUFD,
		IOMMU_IOAS_ALLOC,
		VFIO_DEVICE_ATTACH_IOMMUFD_PT,
		VFIO_DEVICE_GET_INFO,
		VFIO_DEVICE_GET_REGION_INFO,
		VFIO_DEVICE_GET_IRQ_INFO,
		IOMMU_IOAS_MAP,
	};
	struct kenv *k = new_kenv("vfio-pci", true, true);
	unsigned int fds = open_fds();
	struct vfio_dev *v;

	(void)state;
	v = vfio_pci_create(k->vm, ADDR, k->root, 0);
	assert_false(IS_ERR(v));
	assert_string_equal(v->pdev.dev.type, "vfio-pci");
	assert_string_equal(v->pdev.dev.host, ADDR);
	assert_true(v->pdev.dev.registered);
	assert_sequence(seq, sizeof(seq) / sizeof(seq[0]));
	assert_int_equal(fake_vfio_call_index(VFIO_GROUP_GET_STATUS, 0), -1);
	assert_ram_mapped(k->vm);
	exercise(v);
	/* The VM's end unmaps guest RAM and closes everything. */
	vm_destroy(k->vm);
	k->vm = NULL;
	assert_int_equal(fake_vfio_maps(), 0);
	assert_true(fake_vfio_call_index(IOMMU_IOAS_UNMAP, 0) >= 0);
	for (unsigned int i = 0; i < FAKE_MAX_IRQFDS; i++)
		assert_false(fake_kvm.irqfds[i].used);
	assert_true(open_fds() < fds); /* the VM's own fds went too */
	free_kenv(k);
}

static void test_kernel_group(void **state)
{
	static const unsigned long seq[] = {
		VFIO_GET_API_VERSION,  VFIO_CHECK_EXTENSION,
		VFIO_GROUP_GET_STATUS, VFIO_GROUP_SET_CONTAINER,
		VFIO_SET_IOMMU,	       VFIO_GROUP_GET_DEVICE_FD,
		VFIO_DEVICE_GET_INFO,  VFIO_DEVICE_GET_REGION_INFO,
		VFIO_IOMMU_MAP_DMA,
	};
	struct kenv *k;
	struct vfio_dev *v;

	(void)state;
	/* No cdev in sysfs: the group path. */
	k = new_kenv("vfio-pci", false, true);
	v = vfio_pci_create(k->vm, ADDR, k->root, 0);
	assert_false(IS_ERR(v));
	assert_sequence(seq, sizeof(seq) / sizeof(seq[0]));
	assert_int_equal(fake_vfio_call_index(VFIO_DEVICE_BIND_IOMMUFD, 0), -1);
	assert_ram_mapped(k->vm);
	exercise(v);
	vm_destroy(k->vm);
	k->vm = NULL;
	assert_int_equal(fake_vfio_maps(), 0);
	assert_true(fake_vfio_call_index(VFIO_IOMMU_UNMAP_DMA, 0) >= 0);
	free_kenv(k);

	/* A cdev but no /dev/iommu: the group path too. */
	k = new_kenv("vfio-pci", true, true);
	fake_vfio.no_iommufd = true;
	v = vfio_pci_create(k->vm, ADDR, k->root, 0);
	assert_false(IS_ERR(v));
	assert_true(fake_vfio_call_index(VFIO_GROUP_GET_DEVICE_FD, 0) >= 0);
	free_kenv(k);
}

static void test_kernel_refusals(void **state)
{
	struct kenv *k;
	unsigned int fds;

	(void)state;
	k = new_kenv("vfio-pci", true, false); /* no VFIO in the kernel */
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, ADDR, k->root, 0)), -ENODEV);
	assert_int_equal(fake_vfio.nr_calls, 0);
	free_kenv(k);
	k = new_kenv("e1000e", true, true); /* bound to its own driver */
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, ADDR, k->root, 0)), -EBUSY);
	assert_int_equal(fake_vfio.nr_calls, 0);
	/* No such device; not an address (nothing may walk out of sysfs). */
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, "0000:02:00.0", k->root, 0)), -ENODEV);
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, "../../../etc", k->root, 0)), -EINVAL);
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, "0000:01:00.0/..", k->root, 0)), -EINVAL);
	free_kenv(k);
	k = new_kenv("vfio-pci", false, true);
	fake_vfio.group_not_viable = true;
	fds = open_fds();
	assert_int_equal(PTR_ERR(vfio_pci_create(k->vm, ADDR, k->root, 0)), -EBUSY);
	assert_int_equal(open_fds(), fds);
	free_kenv(k);
}

static void faults(bool cdev)
{
	unsigned long i;
	unsigned int failed = 0;

	for (i = 1;; i++) {
		struct kenv *k = new_kenv("vfio-pci", cdev, true);
		unsigned int fds = open_fds(), devs = 0;
		struct mvm_device *d;
		struct vfio_dev *v;

		fault_begin(i);
		v = vfio_pci_create(k->vm, ADDR, k->root, 0);
		fault_end();
		if (!fault_fired()) {
			assert_false(IS_ERR(v));
			free_kenv(k);
			break;
		}
		assert_true(IS_ERR(v));
		failed++;
		/* Unwound: no fd, no DMA mapping, nothing listed. */
		assert_int_equal(open_fds(), fds);
		assert_int_equal(fake_vfio_maps(), 0);
		list_for_each_entry (d, &k->vm->devices, node)
			devs += d->type && !strcmp(d->type, "vfio-pci");
		assert_int_equal(devs, 0);
		free_kenv(k);
	}
	assert_true(failed > 10);
}

static void test_kernel_faults(void **state)
{
	(void)state;
	faults(true);
	faults(false);
}

int run_vfio_kernel_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_iommufd),
		cmocka_unit_test(test_kernel_group),
		cmocka_unit_test(test_kernel_refusals),
		cmocka_unit_test(test_kernel_faults),
	};

	return cmocka_run_group_tests_name("vfio-pci", tests, NULL, NULL);
}
