// SPDX-License-Identifier: MIT
/*
 * virtio-pmem over both transports on the fake KVM: the host file mapped above
 * RAM (its own slot, before the device exists), the config space giving its
 * place, flush requests answered after fsync, bad requests answered EIO and
 * counted, read-only files untouched; and PUT /pmem/{id} through the API.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "../../src/virtio/pmem_req.h"
#include "fake.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "unit.h"
#include "vdrv.h"

#define QSZ   8
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define REQ   0x20000
#define RESP  0x20100

#define VIRTIO_ID_PMEM 27

struct env {
	struct vdrv d;
	struct vm *vm;
	struct virtio_dev *vdev;
	uint16_t avail_idx;
	char path[64];
};

static void make_file(char *path, size_t len, off_t size)
{
	int fd;

	snprintf(path, len, "/tmp/mvm-pmem-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	close(fd);
}

/* The VM as vm_create() makes it: the file mapped first, the device afterwards. */
static struct env *env_new(void **state, const char *opts_fmt, off_t size)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-pmem");
	struct env *e = test_calloc(1, sizeof(*e));
	struct virtio_dev *vdev = NULL;
	struct mvm_config cfg;
	struct mvm_device *dev;
	char opts[256], msg[256];

	assert_non_null(t);
	make_file(e->path, sizeof(e->path), size);
	snprintf(opts, sizeof(opts), opts_fmt, e->path);
	mvm_config_init(&cfg);
	assert_int_equal(mvm_config_parse_device(&cfg, t, opts, msg, sizeof(msg)), 0);
	vdrv_vm(&e->d, vdrv_transport(state));
	e->vm = e->d.vm;
	assert_int_equal(t->reserve_memory(e->vm, cfg.devices[0].blob, 0), 0);
	assert_int_equal(t->create(e->vm, cfg.devices[0].blob, 0), 0);
	list_for_each_entry (dev, &e->vm->devices, node)
		if (!strcmp(dev->type, "virtio-pmem"))
			vdev = to_virtio_dev(dev);
	assert_non_null(vdev);
	vdrv_attach(&e->d, vdev, VIRTIO_ID_PMEM);
	e->vdev = vdev;
	return e;
}

static void env_free(struct env *e)
{
	vdrv_fini(&e->d);
	unlink(e->path);
	test_free(e);
}

static void start(struct env *e)
{
	vdrv_negotiate(&e->d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(&e->d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(&e->d);
	assert_int_equal(vdrv_status(&e->d), 0xf);
}

/* A request: type out, 4 bytes (or resp_len) in. The answer's le32, or -1 if none. */
static int64_t request(struct env *e, uint32_t type, uint32_t resp_len)
{
	struct virtq_desc d[2] = { { REQ, 4, VIRTQ_DESC_F_NEXT, 1 },
				   { RESP, resp_len, VIRTQ_DESC_F_WRITE, 0 } };
	uint32_t t = htole32(type), resp = 0xffffffff, used_len = 0;
	uint16_t head = 0, slot = e->avail_idx % QSZ;

	if (!resp_len)
		d[0].flags = 0;
	mem_write(&e->vm->mem, DESC, d, sizeof(d));
	mem_write(&e->vm->mem, REQ, &t, 4);
	mem_write(&e->vm->mem, RESP, &resp, 4);
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	e->avail_idx++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
	vdrv_kick(&e->d, 0);
	mem_read(&e->vm->mem, USED + 4 + 8 * slot + 4, &used_len, 4);
	if (used_len != 4)
		return -1;
	mem_read(&e->vm->mem, RESP, &resp, 4);
	return le32toh(resp);
}

static uint64_t config64(struct env *e, unsigned int off)
{
	return vdrv_config(&e->d, off, 4) | vdrv_config(&e->d, off + 4, 4) << 32;
}

static struct find {
	const char *name;
	uint64_t val;
} found;

static void visit(void *opaque, const struct stats_node *n, enum stats_source src, const char *name,
		  const uint64_t *vals, unsigned int nv)
{
	(void)opaque;
	(void)n;
	(void)nv;
	if (src == STATS_MVM && !strcmp(name, found.name))
		found.val = vals[0];
}

static uint64_t counter(struct env *e, const char *name)
{
	found = (struct find){ name, UINT64_MAX };
	stats_node_visit(&e->vdev->dev.stats, visit, NULL);
	assert_int_not_equal(found.val, UINT64_MAX);
	return found.val;
}

static void test_pmem_region_and_flush(void **state)
{
	struct env *e = env_new(state, "%s,id=p0,root", 4 << 20);
	const struct mem_file *f = vm_memory_file(&e->vm->mem, "pmem0");
	char buf[16] = { 0 };
	int fd;

	assert_non_null(f);
	/* Above the 4 MiB of RAM, at the first 1 GiB boundary from 4 GiB, not RAM. */
	assert_int_equal(f->gpa, 1ULL << 32);
	assert_int_equal(f->size, 4 << 20);
	assert_null(mem_ptr(&e->vm->mem, f->gpa, 1));
	/* The root device: a Linux guest is told where its root is. */
	assert_string_equal(e->vdev->dev.fw.cmdline, "root=/dev/pmem0 rw");
	start(e);
	assert_int_equal(config64(e, 0), 1ULL << 32);
	assert_int_equal(config64(e, 8), 4 << 20);
	/* What the guest writes into the region lands in the host file; flush = fsync. */
	memcpy(f->hva + 4096, "persistent", 10);
	assert_int_equal(request(e, VIRTIO_PMEM_REQ_TYPE_FLUSH, 4), VIRTIO_PMEM_RESP_OK);
	assert_int_equal(counter(e, "flushes"), 1);
	fd = open(e->path, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 10, 4096), 10);
	close(fd);
	assert_string_equal(buf, "persistent");
	/* An unknown request: EIO, counted. */
	assert_int_equal(request(e, 7, 4), VIRTIO_PMEM_RESP_EIO);
	assert_int_equal(counter(e, "bad_requests"), 1);
	/* No room for the answer: counted, returned empty, no reset. */
	assert_int_equal(request(e, VIRTIO_PMEM_REQ_TYPE_FLUSH, 2), -1);
	assert_int_equal(request(e, VIRTIO_PMEM_REQ_TYPE_FLUSH, 0), -1);
	assert_int_equal(counter(e, "bad_requests"), 3);
	assert_false(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_pmem_read_only(void **state)
{
	struct env *e = env_new(state, "%s,ro", 2 << 20);
	const struct mem_file *f = vm_memory_file(&e->vm->mem, "pmem0");
	char buf[8] = { 0 };
	int fd;

	assert_true(f->read_only);
	assert_string_equal(e->vdev->dev.fw.cmdline, "");
	start(e);
	/* A private mapping: nothing written there reaches the file. */
	memcpy(f->hva, "changed", 7);
	assert_int_equal(request(e, VIRTIO_PMEM_REQ_TYPE_FLUSH, 4), VIRTIO_PMEM_RESP_OK);
	fd = open(e->path, O_RDONLY);
	assert_int_equal(pread(fd, buf, 7, 0), 7);
	close(fd);
	assert_memory_equal(buf, "\0\0\0\0\0\0\0", 7);
	env_free(e);
}

static void test_pmem_bad_files(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-pmem");
	char path[64], opts[128], msg[256];
	struct mvm_config cfg;
	struct vm *vm;

	(void)state;
	/* Not a multiple of 2 MiB: refused when the VM is built. */
	make_file(path, sizeof(path), (2 << 20) + 4096);
	mvm_config_init(&cfg);
	snprintf(opts, sizeof(opts), "%s", path);
	assert_int_equal(mvm_config_parse_device(&cfg, t, opts, msg, sizeof(msg)), 0);
	fake_reset();
	vm = unit_vm(1);
	mvm_log_capture(msg, sizeof(msg));
	assert_int_equal(t->reserve_memory(vm, cfg.devices[0].blob, 0), -EINVAL);
	mvm_log_capture(NULL, 0);
	assert_non_null(strstr(msg, "multiple of 2 MiB"));
	assert_int_equal(vm->mem.nr_files, 0);
	/* Without its mapping the device is not made. */
	assert_int_equal(t->create(vm, cfg.devices[0].blob, 0), -EINVAL);
	vm_destroy(vm);
	unlink(path);
	/* A file that does not exist: refused by the option's check. */
	mvm_config_init(&cfg);
	assert_int_equal(
		mvm_config_parse_device(&cfg, t, "/nonexistent/pmem.img", msg, sizeof(msg)),
		-EINVAL);
}

static void test_pmem_api(void **state)
{
	struct vmm *vmm = vmm_create_hooked("unit-pmem", NULL);
	char path[64], body[256];
	struct api_response r;
	json_t *j, *p;

	(void)state;
	assert_false(IS_ERR(vmm));
	make_file(path, sizeof(path), 2 << 20);
	snprintf(body, sizeof(body),
		 "{\"id\": \"a\", \"path_on_host\": \"%s\", \"root_device\": true}", path);
	api_handle(vmm, "PUT", "/pmem/a", body, strlen(body), &r);
	assert_int_equal(r.status, 204);
	api_response_free(&r);
	/* A second root device is refused. */
	snprintf(body, sizeof(body),
		 "{\"id\": \"b\", \"path_on_host\": \"%s\", \"root_device\": true}", path);
	api_handle(vmm, "PUT", "/pmem/b", body, strlen(body), &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "root device already"));
	api_response_free(&r);
	snprintf(body, sizeof(body),
		 "{\"id\": \"b\", \"path_on_host\": \"%s\", \"rate_limiter\": {}}", path);
	api_handle(vmm, "PUT", "/pmem/b", body, strlen(body), &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "rate limiting"));
	api_response_free(&r);
	api_handle(vmm, "PUT", "/pmem/c", "{\"id\": \"c\"}", 11, &r);
	assert_int_equal(r.status, 400);
	assert_non_null(strstr(r.body, "path_on_host"));
	api_response_free(&r);
	/* GET /vm/config lists it. */
	api_handle(vmm, "GET", "/vm/config", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	p = json_array_get(json_object_get(j, "pmem"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "id")), "a");
	assert_true(json_is_true(json_object_get(p, "root_device")));
	assert_true(json_is_false(json_object_get(p, "read_only")));
	json_decref(j);
	api_response_free(&r);
	vmm_destroy(vmm);
	unlink(path);
}

int run_pmem_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_pmem_region_and_flush),
		VDRV_TESTS(test_pmem_read_only),
		cmocka_unit_test(test_pmem_bad_files),
		cmocka_unit_test(test_pmem_api),
	};

	return cmocka_run_group_tests_name("virtio-pmem", tests, NULL, NULL);
}
