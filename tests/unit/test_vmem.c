// SPDX-License-Identifier: MIT
/*
 * virtio-mem over both transports on the fake KVM: the region mapped whole above
 * RAM before the device exists, plug/unplug/state requests checked against
 * the region and the requested size, unplugged blocks given back to the host
 * (holes in the region's memfd), and /hotplug/memory through the API.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "../../src/api/api_internal.h"
#include "../../src/virtio/mem_req.h"
#include "fake.h"
#include "mvm/devtype.h"
#include "mvm/hw.h"
#include "mvm/pci.h"
#include "mvm/virtio.h"
#include "mvm/vm.h"
#include "mvm/vmem.h"
#include "unit.h"
#include "vdrv.h"

#define QSZ   8
#define DESC  0x10000
#define AVAIL 0x11000
#define USED  0x12000
#define REQ   0x20000
#define RESP  0x20100

#define VIRTIO_ID_MEM 24

struct env {
	struct vdrv d;
	struct vm *vm;
	struct virtio_dev *vdev;
	uint16_t avail_idx;
};

#define MiB (1ULL << 20)

static const struct mvm_device_type *vmem_t(void)
{
	const struct mvm_device_type *t = mvm_device_type_find("virtio-mem");

	assert_non_null(t);
	return t;
}

static struct env *env_new(void **state, const char *opts)
{
	const struct mvm_device_type *t = vmem_t();
	struct env *e = test_calloc(1, sizeof(*e));
	struct virtio_dev *vdev = NULL;
	struct mvm_config cfg;
	struct mvm_device *dev;
	char msg[256];

	mvm_config_init(&cfg);
	assert_int_equal(mvm_config_parse_device(&cfg, t, opts, msg, sizeof(msg)), 0);
	vdrv_vm(&e->d, vdrv_transport(state));
	e->vm = e->d.vm;
	assert_int_equal(t->reserve_memory(e->vm, cfg.devices[0].blob, 0), 0);
	assert_int_equal(t->create(e->vm, cfg.devices[0].blob, 0), 0);
	list_for_each_entry (dev, &e->vm->devices, node)
		if (!strcmp(dev->type, "virtio-mem"))
			vdev = to_virtio_dev(dev);
	assert_non_null(vdev);
	vdrv_attach(&e->d, vdev, VIRTIO_ID_MEM);
	e->vdev = vdev;
	return e;
}

static void env_free(struct env *e)
{
	vdrv_fini(&e->d);
	test_free(e);
}

static void start(struct env *e)
{
	vdrv_negotiate(&e->d, 1ULL << VIRTIO_F_VERSION_1);
	vdrv_queue(&e->d, 0, QSZ, DESC, AVAIL, USED);
	vdrv_driver_ok(&e->d);
	assert_int_equal(vdrv_status(&e->d), 0xf);
}

/* One request; the answer's type (state in *state), or -1 if none was written. */
static int request(struct env *e, uint16_t type, uint64_t addr, uint16_t nb, uint32_t req_len,
		   uint16_t *state)
{
	struct virtq_desc d[2] = { { REQ, req_len, VIRTQ_DESC_F_NEXT, 1 },
				   { RESP, VIRTIO_MEM_RESP_SIZE, VIRTQ_DESC_F_WRITE, 0 } };
	uint8_t req[VIRTIO_MEM_REQ_SIZE] = { 0 }, resp[VIRTIO_MEM_RESP_SIZE];
	uint16_t head = 0, slot = e->avail_idx % QSZ, t = htole16(type), n = htole16(nb), v;
	uint64_t a = htole64(addr);
	uint32_t used_len = 0;

	memcpy(req, &t, 2);
	memcpy(req + 8, &a, 8);
	memcpy(req + 16, &n, 2);
	memset(resp, 0xff, sizeof(resp));
	mem_write(&e->vm->mem, DESC, d, sizeof(d));
	mem_write(&e->vm->mem, REQ, req, sizeof(req));
	mem_write(&e->vm->mem, RESP, resp, sizeof(resp));
	mem_write(&e->vm->mem, AVAIL + 4 + 2 * slot, &head, 2);
	e->avail_idx++;
	mem_write(&e->vm->mem, AVAIL + 2, &e->avail_idx, 2);
	vdrv_kick(&e->d, 0);
	mem_read(&e->vm->mem, USED + 4 + 8 * slot + 4, &used_len, 4);
	if (used_len != VIRTIO_MEM_RESP_SIZE)
		return -1;
	mem_read(&e->vm->mem, RESP, resp, sizeof(resp));
	memcpy(&v, resp + 8, 2);
	if (state)
		*state = le16toh(v);
	memcpy(&v, resp, 2);
	return le16toh(v);
}

static uint64_t config64(struct env *e, unsigned int off)
{
	return vdrv_config(&e->d, off, 4) | vdrv_config(&e->d, off + 4, 4) << 32;
}

static bool hole(const struct mem_file *f, uint64_t off, uint64_t len)
{
	off_t data = lseek(f->fd, (off_t)off, SEEK_DATA);

	return (data < 0 && errno == ENXIO) || (uint64_t)data >= off + len;
}

static void test_plug_unplug(void **state)
{
	struct env *e = env_new(state, "128");
	const struct mem_file *f = vm_memory_file(&e->vm->mem, "virtio-mem");
	uint64_t base, plugged, requested;
	uint16_t st;
	char msg[128];
	uint8_t blob[MVM_DEVCFG_SIZE];

	assert_non_null(f);
	base = f->gpa;
	/* Above RAM, its own slot, not RAM, not in the firmware's map. */
	assert_int_equal(base, 1ULL << 32);
	assert_false(f->reserved);
	assert_null(mem_ptr(&e->vm->mem, base, 1));
	/* Its firmware description: the region, for the SRAT's hot-pluggable range. */
	assert_int_equal(e->vdev->dev.fw.hotplug_mem.base, base);
	assert_int_equal(e->vdev->dev.fw.hotplug_mem.len, f->size);
	start(e);
	assert_int_equal(config64(e, 0), 2 * MiB);    /* block_size */
	assert_int_equal(config64(e, 16), base);      /* addr */
	assert_int_equal(config64(e, 24), 128 * MiB); /* region_size */
	assert_int_equal(config64(e, 32), 128 * MiB); /* usable_region_size */
	assert_int_equal(config64(e, 48), 0);	      /* requested_size */

	/* Nothing requested: a plug is refused. */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base, 1, 24, NULL), VIRTIO_MEM_RESP_NACK);
	/* The host asks for 8 MiB. */
	mvm_opts_defaults(vmem_t(), blob, false);
	((uint64_t *)(void *)blob)[0] = 128;
	((uint64_t *)(void *)blob)[3] = 8;
	assert_int_equal(vmem_t()->update(e->vm, "", blob, msg, sizeof(msg)), 0);
	assert_int_equal(config64(e, 48), 8 * MiB);
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base, 2, 24, NULL), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(config64(e, 40), 4 * MiB); /* plugged_size */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_STATE, base, 2, 24, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_PLUGGED);
	assert_int_equal(request(e, VIRTIO_MEM_REQ_STATE, base, 3, 24, &st), VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_MIXED);
	assert_int_equal(request(e, VIRTIO_MEM_REQ_STATE, base + 8 * MiB, 1, 24, &st),
			 VIRTIO_MEM_RESP_ACK);
	assert_int_equal(st, VIRTIO_MEM_STATE_UNPLUGGED);
	/* Bad requests: answered ERROR, nothing changes. */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base + 4096, 1, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* unaligned */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base + 128 * MiB, 1, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* outside */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base + 126 * MiB, 2, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* runs past the end */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base - 2 * MiB, 1, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* below */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base, 0, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* no blocks */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base + 2 * MiB, 2, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* overlaps plugged */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_UNPLUG, base + 2 * MiB, 2, 24, NULL),
			 VIRTIO_MEM_RESP_ERROR); /* partly unplugged */
	assert_int_equal(request(e, 9, base, 1, 24, NULL), VIRTIO_MEM_RESP_ERROR);
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base + 4 * MiB, 3, 24, NULL),
			 VIRTIO_MEM_RESP_NACK); /* beyond the requested size */
	assert_int_equal(request(e, VIRTIO_MEM_REQ_PLUG, base, 1, 20, NULL), -1); /* short */
	assert_int_equal(config64(e, 40), 4 * MiB);

	/* The guest uses plugged memory; unplugged, it goes back to the host. */
	memset(f->hva, 0x5a, 4 * MiB);
	assert_false(hole(f, 0, 4 * MiB));
	assert_int_equal(request(e, VIRTIO_MEM_REQ_UNPLUG, base + 2 * MiB, 1, 24, NULL),
			 VIRTIO_MEM_RESP_ACK);
	assert_true(hole(f, 2 * MiB, 2 * MiB));
	assert_false(hole(f, 0, 2 * MiB));
	assert_int_equal(vmem_status(e->vm, &plugged, &requested), 0);
	assert_int_equal(plugged, 2 * MiB);
	assert_int_equal(requested, 8 * MiB);
	assert_int_equal(request(e, VIRTIO_MEM_REQ_UNPLUG_ALL, 0, 0, 24, NULL),
			 VIRTIO_MEM_RESP_ACK);
	assert_true(hole(f, 0, 128 * MiB));
	assert_int_equal(config64(e, 40), 0);
	assert_false(vdrv_status(&e->d) & VIRTIO_STATUS_NEEDS_RESET);
	env_free(e);
}

static void test_sizes_checked(void **state)
{
	struct mvm_config cfg;
	char msg[256];

	(void)state;
	mvm_config_init(&cfg);
	assert_int_equal(mvm_config_parse_device(&cfg, vmem_t(), "200", msg, sizeof(msg)),
			 -EINVAL); /* not whole slots of 128 MiB */
	assert_non_null(strstr(msg, "multiple of slot_size_mib"));
	assert_int_equal(
		mvm_config_parse_device(&cfg, vmem_t(), "256,block_size_mib=6", msg, sizeof(msg)),
		-EINVAL);
	assert_non_null(strstr(msg, "power of two"));
	assert_int_equal(mvm_config_parse_device(&cfg, vmem_t(), "256,requested_size_mib=512", msg,
						 sizeof(msg)),
			 -EINVAL);
	assert_int_equal(mvm_config_parse_device(&cfg, vmem_t(),
						 "256,block_size_mib=4,requested_size_mib=64", msg,
						 sizeof(msg)),
			 0);
}

static void test_hotplug_api(void **state)
{
	struct vmm *vmm = vmm_create_hooked("unit-vmem", NULL);
	struct api_response r;
	json_t *j;

	(void)state;
	assert_false(IS_ERR(vmm));
	api_handle(vmm, "GET", "/hotplug/memory", NULL, 0, &r);
	assert_int_equal(r.status, 400);
	api_response_free(&r);
	api_handle(vmm, "PUT", "/hotplug/memory", "{\"total_size_mib\": 100}",
		   strlen("{\"total_size_mib\": 100}"), &r);
	assert_int_equal(r.status, 400);
	api_response_free(&r);
	api_handle(vmm, "PUT", "/hotplug/memory",
		   "{\"total_size_mib\": 1024, \"block_size_mib\": 2}",
		   strlen("{\"total_size_mib\": 1024, \"block_size_mib\": 2}"), &r);
	assert_int_equal(r.status, 204);
	api_response_free(&r);
	api_handle(vmm, "GET", "/hotplug/memory", NULL, 0, &r);
	assert_int_equal(r.status, 200);
	j = json_loads(r.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(j, "total_size_mib")), 1024);
	assert_int_equal(json_integer_value(json_object_get(j, "slot_size_mib")), 128);
	json_decref(j);
	api_response_free(&r);
	/* PATCH is post-boot. */
	api_handle(vmm, "PATCH", "/hotplug/memory", "{\"requested_size_mib\": 64}",
		   strlen("{\"requested_size_mib\": 64}"), &r);
	assert_int_equal(r.status, 400);
	api_response_free(&r);
	api_handle(vmm, "GET", "/vm/config", NULL, 0, &r);
	j = json_loads(r.body, 0, NULL);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "memory-hotplug"),
							    "total_size_mib")),
			 1024);
	json_decref(j);
	api_response_free(&r);
	vmm_destroy(vmm);
}

int run_vmem_tests(void)
{
	const struct CMUnitTest tests[] = {
		VDRV_TESTS(test_plug_unplug),
		cmocka_unit_test(test_sizes_checked),
		cmocka_unit_test(test_hotplug_api),
	};

	return cmocka_run_group_tests_name("virtio-mem", tests, NULL, NULL);
}
