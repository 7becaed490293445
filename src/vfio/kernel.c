// SPDX-License-Identifier: MIT
/*
 * Kernel VFIO passthrough: a VFIO back end (src/vfio/vfio.h) over a host
 * PCI function bound to vfio-pci. The iommufd path first (the device's
 * cdev /dev/vfio/devices/vfioN bound to /dev/iommu, an IOAS holding guest
 * RAM), the group/container path (type1v2 IOMMU) where the kernel has no
 * cdev. The host's sysfs names both: <dev>/vfio-dev/vfioN and
 * <dev>/iommu_group. A host without VFIO, or a device bound to another
 * driver, is refused with a message saying what to do.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/sys.h"
#include "mvm/vm.h"
#include "vfio/kernel_uapi.h"
#include "vfio/vfio.h"

#define HOSTADDR_MAX	16 /* "0000:00:00.0" */
#define REGION_INFO_MAX 4096

struct vfio_pci_config {
	char host[HOSTADDR_MAX + 1];
	char id[65];
};

struct kvfio {
	bool iommufd; /* which path: cdev + iommufd, or group + container */
	int dev_fd;
	int iommu_fd; /* /dev/iommu */
	uint32_t ioas_id;
	bool ioas;
	int container_fd; /* /dev/vfio/vfio */
	int group_fd;	  /* /dev/vfio/N */
};

struct kvfio_args {
	const char *addr;
	const char *sysfs;
};

static struct kvfio *kv_of(struct vfio_dev *v)
{
	return v->backend;
}

/* "DDDD:BB:DD.F", hex digits: nothing else reaches a path. */
static bool hostaddr_valid(const char *a)
{
	static const char shape[] = "xxxx:xx:xx.x";
	unsigned int i;

	if (strlen(a) != sizeof(shape) - 1)
		return false;
	for (i = 0; shape[i]; i++)
		if (shape[i] == 'x' ? !strchr("0123456789abcdefABCDEF", a[i]) : a[i] != shape[i])
			return false;
	return true;
}

/* The last component of the link at path, or false. */
static bool link_name(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(path, buf, sizeof(buf) - 1);
	const char *slash;

	if (n <= 0)
		return false;
	buf[n] = 0;
	slash = strrchr(buf, '/');
	snprintf(out, len, "%s", slash ? slash + 1 : buf);
	return true;
}

/* The "vfioN" under <dev>/vfio-dev, or false (a kernel without VFIO cdevs). */
static bool find_cdev(const char *devdir, char *out, size_t len)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/vfio-dev", devdir);
	d = opendir(path);
	if (!d)
		return false;
	while ((de = readdir(d)))
		if (!strncmp(de->d_name, "vfio", 4) && de->d_name[4] >= '0' &&
		    de->d_name[4] <= '9' && strlen(de->d_name) < 16) {
			snprintf(out, len, "%s", de->d_name);
			found = true;
			break;
		}
	closedir(d);
	return found;
}

/* ---- iommufd ---- */

static int open_iommufd(struct vfio_dev *v, struct kvfio *k, const char *cdev)
{
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	char path[64];
	int err;

	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", cdev);
	k->dev_fd = mvm_open(path, O_RDWR);
	if (k->dev_fd < 0) {
		err = -errno;
		if (err != -ENOENT)
			pr_err("%s: cannot open %s: %s", v->host, path, strerror(-err));
		return err;
	}
	k->iommu_fd = mvm_open("/dev/iommu", O_RDWR);
	if (k->iommu_fd < 0) {
		err = -errno; /* ENOENT: no iommufd, the caller takes the group path */
		if (err != -ENOENT)
			pr_err("%s: cannot open /dev/iommu: %s", v->host, strerror(-err));
		goto err_dev;
	}
	bind.iommufd = k->iommu_fd;
	if (mvm_ioctl(k->dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		err = -errno;
		pr_err("%s: VFIO_DEVICE_BIND_IOMMUFD: %s", v->host, strerror(-err));
		goto err_iommu;
	}
	if (mvm_ioctl(k->iommu_fd, IOMMU_IOAS_ALLOC, &alloc) < 0) {
		err = -errno;
		pr_err("%s: IOMMU_IOAS_ALLOC: %s", v->host, strerror(-err));
		goto err_iommu;
	}
	k->ioas_id = alloc.out_ioas_id;
	attach.pt_id = k->ioas_id;
	if (mvm_ioctl(k->dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) < 0) {
		err = -errno;
		pr_err("%s: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", v->host, strerror(-err));
		goto err_ioas;
	}
	k->ioas = true;
	k->iommufd = true;
	return 0;

err_ioas:
	destroy.id = k->ioas_id;
	mvm_ioctl_nofault(k->iommu_fd, IOMMU_DESTROY, &destroy);
err_iommu:
	close(k->iommu_fd);
	k->iommu_fd = -1;
err_dev:
	close(k->dev_fd);
	k->dev_fd = -1;
	return err;
}

/* ---- group + container ---- */

static int open_group(struct vfio_dev *v, struct kvfio *k, const char *devdir)
{
	struct vfio_group_status status = { .argsz = sizeof(status) };
	char path[PATH_MAX], group[32];
	int err;

	snprintf(path, sizeof(path), "%s/iommu_group", devdir);
	if (!link_name(path, group, sizeof(group)) || !group[0] ||
	    strspn(group, "0123456789") != strlen(group)) {
		pr_err("%s: no IOMMU group (is the IOMMU on? intel_iommu=on / amd_iommu=on)",
		       v->host);
		return -ENODEV;
	}
	k->container_fd = mvm_open("/dev/vfio/vfio", O_RDWR);
	if (k->container_fd < 0) {
		err = -errno;
		pr_err("%s: cannot open /dev/vfio/vfio: %s", v->host, strerror(-err));
		return err;
	}
	if (mvm_ioctl(k->container_fd, VFIO_GET_API_VERSION, NULL) != VFIO_API_VERSION) {
		pr_err("%s: VFIO API version not %d", v->host, VFIO_API_VERSION);
		err = -ENOTSUP;
		goto err_container;
	}
	if (mvm_ioctl(k->container_fd, VFIO_CHECK_EXTENSION, (void *)(long)VFIO_TYPE1v2_IOMMU) <=
	    0) {
		pr_err("%s: the host's VFIO has no type1v2 IOMMU", v->host);
		err = -ENOTSUP;
		goto err_container;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%s", group);
	k->group_fd = mvm_open(path, O_RDWR);
	if (k->group_fd < 0) {
		err = -errno;
		pr_err("%s: cannot open %s: %s", v->host, path, strerror(-err));
		goto err_container;
	}
	if (mvm_ioctl(k->group_fd, VFIO_GROUP_GET_STATUS, &status) < 0) {
		err = -errno;
		pr_err("%s: VFIO_GROUP_GET_STATUS: %s", v->host, strerror(-err));
		goto err_group;
	}
	if (!(status.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		pr_err("%s: IOMMU group %s is not viable: bind every device of the group to "
		       "vfio-pci",
		       v->host, group);
		err = -EBUSY;
		goto err_group;
	}
	if (mvm_ioctl(k->group_fd, VFIO_GROUP_SET_CONTAINER, &k->container_fd) < 0 ||
	    mvm_ioctl(k->container_fd, VFIO_SET_IOMMU, (void *)(long)VFIO_TYPE1v2_IOMMU) < 0) {
		err = -errno;
		pr_err("%s: attaching group %s to a type1v2 container: %s", v->host, group,
		       strerror(-err));
		goto err_group;
	}
	k->dev_fd = mvm_ioctl(k->group_fd, VFIO_GROUP_GET_DEVICE_FD, v->host);
	if (k->dev_fd < 0) {
		err = -errno;
		pr_err("%s: VFIO_GROUP_GET_DEVICE_FD: %s", v->host, strerror(-err));
		goto err_group;
	}
	return 0;

err_group:
	close(k->group_fd);
	k->group_fd = -1;
err_container:
	close(k->container_fd);
	k->container_fd = -1;
	return err;
}

/*
 * Can the host pass `addr` through: VFIO in its kernel, the device there
 * and bound to vfio-pci? 0, or -errno with what to do in msg. devdir gets
 * the device's sysfs directory.
 */
static int kvfio_host_check(const char *sysfs, const char *addr, char *devdir, size_t dlen,
			    char *msg, size_t len)
{
	char path[PATH_MAX], driver[64];
	struct stat st;

	if (!hostaddr_valid(addr)) {
		snprintf(msg, len, "'%s' is not a host PCI address (DDDD:BB:DD.F)", addr);
		return -EINVAL;
	}
	snprintf(path, sizeof(path), "%s/module/vfio", sysfs);
	if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
		snprintf(msg, len,
			 "this host has no VFIO (its kernel has no vfio module: it needs "
			 "CONFIG_VFIO and CONFIG_VFIO_PCI, then modprobe vfio-pci)");
		return -ENODEV;
	}
	snprintf(devdir, dlen, "%s/bus/pci/devices/%s", sysfs, addr);
	if (stat(devdir, &st)) {
		snprintf(msg, len, "%s: no such PCI device on this host", addr);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), "%s/driver", devdir);
	if (!link_name(path, driver, sizeof(driver)))
		snprintf(driver, sizeof(driver), "no driver");
	if (strcmp(driver, "vfio-pci")) {
		snprintf(msg, len,
			 "%s is bound to %s, not vfio-pci (bind it: echo vfio-pci > "
			 "/sys/bus/pci/devices/%s/driver_override, unbind it from its driver, "
			 "echo %s > /sys/bus/pci/drivers_probe)",
			 addr, driver, addr, addr);
		return -EBUSY;
	}
	return 0;
}

static int kvfio_open(struct vfio_dev *v, const void *args)
{
	const struct kvfio_args *a = args;
	char devdir[PATH_MAX], msg[512], cdev[16];
	struct kvfio *k;
	int err;

	err = kvfio_host_check(a->sysfs, a->addr, devdir, sizeof(devdir), msg, sizeof(msg));
	if (err) {
		pr_err("vfio-pci: %s", msg);
		return err;
	}
	k = mvm_zalloc(sizeof(*k));
	if (!k)
		return -ENOMEM;
	k->dev_fd = k->iommu_fd = k->container_fd = k->group_fd = -1;
	v->backend = k;
	/* The cdev path where the kernel offers it and /dev/iommu is there. */
	err = -ENOENT;
	if (find_cdev(devdir, cdev, sizeof(cdev)))
		err = open_iommufd(v, k, cdev);
	if (err == -ENOENT)
		err = open_group(v, k, devdir);
	if (err) {
		free(k);
		v->backend = NULL;
	}
	return err;
}

static void kvfio_close(struct vfio_dev *v)
{
	struct kvfio *k = kv_of(v);

	if (!k)
		return;
	if (k->dev_fd >= 0)
		close(k->dev_fd);
	if (k->ioas) {
		struct iommu_destroy d = { .size = sizeof(d), .id = k->ioas_id };

		mvm_ioctl_nofault(k->iommu_fd, IOMMU_DESTROY, &d);
	}
	if (k->iommu_fd >= 0)
		close(k->iommu_fd);
	if (k->group_fd >= 0)
		close(k->group_fd);
	if (k->container_fd >= 0)
		close(k->container_fd);
	free(k);
	v->backend = NULL;
}

static int kvfio_device_info(struct vfio_dev *v, uint32_t *num_regions, uint32_t *num_irqs)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };

	if (mvm_ioctl(kv_of(v)->dev_fd, VFIO_DEVICE_GET_INFO, &info) < 0)
		return -errno;
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI)) {
		pr_err("%s: not a PCI device", v->host);
		return -ENODEV;
	}
	*num_regions = info.num_regions;
	*num_irqs = info.num_irqs;
	return 0;
}

static int kvfio_region_info(struct vfio_dev *v, unsigned int index, struct vfio_region *r)
{
	struct vfio_region_info *info;
	uint32_t argsz = sizeof(*info);
	int err = 0, tries;

	for (tries = 0; tries < 2; tries++) {
		info = mvm_zalloc(argsz);
		if (!info)
			return -ENOMEM;
		info->argsz = argsz;
		info->index = index;
		if (mvm_ioctl(kv_of(v)->dev_fd, VFIO_DEVICE_GET_REGION_INFO, info) < 0) {
			err = -errno;
			free(info);
			return err;
		}
		if (info->argsz <= argsz)
			break;
		/* Its capabilities need more room: ask again with what it wants. */
		argsz = info->argsz;
		free(info);
		info = NULL;
		if (argsz > REGION_INFO_MAX)
			return -EPROTO;
	}
	if (!info)
		return -EPROTO;
	r->flags = info->flags & (VFIO_RF_READ | VFIO_RF_WRITE | VFIO_RF_MMAP);
	r->size = info->size;
	r->offset = info->offset;
	r->nr_areas = 0;
	r->fd = -1;
	if ((info->flags & VFIO_REGION_INFO_FLAG_CAPS) && info->cap_offset)
		err = vfio_region_caps_parse((const uint8_t *)info, argsz, info->cap_offset,
					     sizeof(*info), r);
	if (!err && (r->flags & VFIO_RF_MMAP)) {
		r->fd = kv_of(v)->dev_fd; /* not owned: closed with the back end */
		if (!r->nr_areas && r->size && !(r->size & 4095)) {
			r->nr_areas = 1;
			r->areas[0].off = 0;
			r->areas[0].size = r->size;
		}
	}
	free(info);
	return err;
}

static int kvfio_region_rw(struct vfio_dev *v, unsigned int index, uint64_t off, void *buf,
			   uint32_t len, bool write)
{
	const struct vfio_region *r = &v->regions[index];
	off_t at = (off_t)(r->offset + off);
	ssize_t n;

	if (index >= VFIO_NR_REGIONS || off > r->size || len > r->size - off)
		return -EINVAL;
	n = write ? pwrite(kv_of(v)->dev_fd, buf, len, at) : pread(kv_of(v)->dev_fd, buf, len, at);
	if (n < 0)
		return -errno;
	return (uint32_t)n == len ? 0 : -EIO;
}

static int kvfio_irq_info(struct vfio_dev *v, unsigned int index, uint32_t *count)
{
	struct vfio_irq_info info = { .argsz = sizeof(info), .index = index };

	if (mvm_ioctl(kv_of(v)->dev_fd, VFIO_DEVICE_GET_IRQ_INFO, &info) < 0)
		return -errno;
	*count = info.count;
	return 0;
}

static int kvfio_set_irqs(struct vfio_dev *v, unsigned int index, uint32_t start, uint32_t count,
			  const int *fds)
{
	struct {
		struct vfio_irq_set set;
		int32_t fds[PCI_MSIX_MAX_VECTORS];
	} s = { .set = { .argsz = sizeof(s.set), .index = index, .start = start } };

	if (count > PCI_MSIX_MAX_VECTORS)
		return -EINVAL;
	s.set.count = count;
	s.set.flags = VFIO_IRQ_SET_ACTION_TRIGGER |
		      (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	if (count) {
		memcpy(s.fds, fds, sizeof(int) * count);
		s.set.argsz += (uint32_t)(sizeof(int) * count);
	}
	return mvm_ioctl_nofault(kv_of(v)->dev_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static int kvfio_intx_unmask_fd(struct vfio_dev *v, int fd)
{
	struct {
		struct vfio_irq_set set;
		int32_t fd;
	} s = { .set = { .argsz = sizeof(s),
			 .flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_UNMASK,
			 .index = VFIO_PCI_INTX_IRQ_INDEX,
			 .count = 1 },
		.fd = fd };

	return mvm_ioctl_nofault(kv_of(v)->dev_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static int kvfio_dma_map(struct vfio_dev *v, uint64_t iova, uint64_t size, void *hva, int fd,
			 uint64_t fd_off)
{
	struct kvfio *k = kv_of(v);

	if (k->iommufd) {
		struct iommu_ioas_map m = {
			.size = sizeof(m),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
				 IOMMU_IOAS_MAP_WRITEABLE,
			.ioas_id = k->ioas_id,
			.user_va = (uintptr_t)hva,
			.length = size,
			.iova = iova,
		};

		return mvm_ioctl(k->iommu_fd, IOMMU_IOAS_MAP, &m) < 0 ? -errno : 0;
	} else {
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uintptr_t)hva,
			.iova = iova,
			.size = size,
		};

		return mvm_ioctl(k->container_fd, VFIO_IOMMU_MAP_DMA, &m) < 0 ? -errno : 0;
	}
}

static int kvfio_dma_unmap(struct vfio_dev *v, uint64_t iova, uint64_t size)
{
	struct kvfio *k = kv_of(v);

	if (k->iommufd) {
		struct iommu_ioas_unmap u = {
			.size = sizeof(u), .ioas_id = k->ioas_id, .iova = iova, .length = size
		};

		return mvm_ioctl_nofault(k->iommu_fd, IOMMU_IOAS_UNMAP, &u) < 0 ? -errno : 0;
	} else {
		struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u),
							.iova = iova,
							.size = size };

		return mvm_ioctl_nofault(k->container_fd, VFIO_IOMMU_UNMAP_DMA, &u) < 0 ? -errno
											: 0;
	}
}

static int kvfio_reset(struct vfio_dev *v)
{
	return mvm_ioctl_nofault(kv_of(v)->dev_fd, VFIO_DEVICE_RESET, NULL) < 0 ? -errno : 0;
}

const struct vfio_backend_ops vfio_kernel_ops = {
	.type = "vfio-pci",
	.open = kvfio_open,
	.close = kvfio_close,
	.device_info = kvfio_device_info,
	.region_info = kvfio_region_info,
	.region_rw = kvfio_region_rw,
	.irq_info = kvfio_irq_info,
	.set_irqs = kvfio_set_irqs,
	.intx_unmask_fd = kvfio_intx_unmask_fd,
	.dma_map = kvfio_dma_map,
	.dma_unmap = kvfio_dma_unmap,
	.reset = kvfio_reset,
};

struct vfio_dev *vfio_pci_create(struct vm *vm, const char *addr, const char *sysfs_root,
				 unsigned int index)
{
	struct kvfio_args ka = { addr, sysfs_root };
	struct vfio_open_args a = { &vfio_kernel_ops, addr, &ka };
	char name[MVM_DEVICE_NAME_SIZE];

	snprintf(name, sizeof(name), "vfio-pci%u", index);
	return vfio_dev_create(vm, name, &a);
}

/* ---- the device type: --vfio-pci HOSTADDR, PUT /vfio-pci/{id} ---- */

#define KV_OPT(field) offsetof(struct vfio_pci_config, field)
static const struct mvm_opt vfio_pci_opts[] = {
	{ MVM_OPT("host", "host_address", MVM_OPT_STR, MVM_OPT_POSITIONAL | MVM_OPT_REQUIRED,
		  KV_OPT(host)),
	  .max = HOSTADDR_MAX, .help = "the host PCI function, bound to vfio-pci (0000:01:00.0)" },
	{ MVM_OPT("id", NULL, MVM_OPT_STR, MVM_OPT_ID, KV_OPT(id)), .max = 64,
	  .help = "device id" },
	MVM_OPT_END,
};

static int vfio_pci_check(const struct mvm_config *cfg, const void *blob, int self, char *msg,
			  size_t len)
{
	const struct vfio_pci_config *c = blob;
	char devdir[PATH_MAX];

	if (vfio_check_config(cfg, msg, len))
		return -EINVAL;
	return kvfio_host_check("/sys", c->host, devdir, sizeof(devdir), msg, len);
}

static int vfio_pci_type_create(struct vm *vm, const void *blob, unsigned int index)
{
	const struct vfio_pci_config *c = blob;

	return PTR_ERR_OR_ZERO(vfio_pci_create(vm, c->host, "/sys", index));
}

static const struct mvm_device_type vfio_pci_type = {
	.name = "vfio-pci",
	.summary = "a host PCI function passed through with VFIO (bound to vfio-pci)",
	.order = MVM_ORDER_VIRTIO + 21,
	.cli = "vfio-pci",
	.cli_arg = "HOSTADDR",
	.api = "vfio-pci",
	.api_noun = "vfio-pci device",
	.max = 8,
	.config_size = sizeof(struct vfio_pci_config),
	.opts = vfio_pci_opts,
	.check = vfio_pci_check,
	.create = vfio_pci_type_create,
};
MVM_DEVICE_TYPE(vfio_pci_type);
