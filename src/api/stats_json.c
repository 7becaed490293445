// SPDX-License-Identifier: MIT
/*
 * GET /stats and GET /devices (mvm extensions): the VM's stats tree
 * (DESIGN.md §1.1) and its device list, as JSON built with jansson.
 *
 * Runtime code (the VM exists and is not being destroyed: the API server
 * holds it until vmm_detach_vm()), so it allocates with libc directly.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mvm/control.h"
#include "mvm/device.h"
#include "mvm/pci.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"

struct node_json {
	json_t *kvm;
	json_t *mvm;
	int err;
};

static void node_json_one(void *opaque, const struct stats_node *node, enum stats_source src,
			  const char *name, const uint64_t *vals, unsigned int n)
{
	struct node_json *nj = opaque;
	json_t *v;
	unsigned int i;

	(void)node;
	if (n == 1) {
		v = json_integer((json_int_t)vals[0]);
	} else {
		/* A histogram: its buckets, in KVM's order. */
		v = json_array();
		for (i = 0; v && i < n; i++)
			if (json_array_append_new(v, json_integer((json_int_t)vals[i])))
				nj->err = -ENOMEM;
	}
	if (!v || json_object_set_new(src == STATS_KVM ? nj->kvm : nj->mvm, name, v))
		nj->err = -ENOMEM;
}

/* Adds "kvm" and "mvm" objects for node n to obj. 0 or -errno. */
static int stats_node_json(const struct stats_node *n, json_t *obj)
{
	struct node_json nj = { .kvm = json_object(), .mvm = json_object() };
	int err;

	if (!nj.kvm || !nj.mvm) {
		json_decref(nj.kvm);
		json_decref(nj.mvm);
		return -ENOMEM;
	}
	err = stats_node_visit(n, node_json_one, &nj);
	/* '|', not '||': both calls must run, each takes its reference even on failure. */
	if (json_object_set_new(obj, "kvm", nj.kvm) | json_object_set_new(obj, "mvm", nj.mvm))
		return -ENOMEM;
	/* KVM stats unreadable (-EIO) still give the mvm counters. */
	if (err && err != -EIO)
		return err;
	return nj.err;
}

static json_t *vcpus_json(struct vm *vm)
{
	unsigned int i, n = vm_online_vcpus(vm);
	json_t *arr = json_array();

	for (i = 0; arr && i < n; i++) {
		struct vcpu *vcpu = vm_vcpu(vm, i);
		json_t *o = json_pack("{s:I, s:s}", "index", (json_int_t)vcpu->id, "id",
				      vcpu->stats.id);

		if (!o || stats_node_json(&vcpu->stats, o) || json_array_append_new(arr, o)) {
			json_decref(o);
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

static json_t *devices_stats_json(struct vm *vm)
{
	json_t *arr = json_array();
	struct mvm_device *dev;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		json_t *o = json_pack("{s:s, s:s, s:s}", "name", dev->name, "type", dev->ops->type,
				      "id", dev->stats.id);

		if (!o || stats_node_json(&dev->stats, o) || json_array_append_new(arr, o)) {
			json_decref(o);
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return arr;
}

json_t *vm_stats_json(struct vm *vm)
{
	json_t *root, *vcpus, *devices;

	root = json_pack("{s:s, s:s, s:b, s:I, s:I}", "id", vm->stats.id, "name", vm->name,
			 "paused", vm_is_paused(vm), "vcpu_count", (json_int_t)vm_online_vcpus(vm),
			 "mem_size_mib", (json_int_t)(vm->cfg.mem_size >> 20));
	if (!root)
		return NULL;
	if (stats_node_json(&vm->stats, root))
		goto err;
	vcpus = vcpus_json(vm);
	if (!vcpus || json_object_set_new(root, "vcpus", vcpus))
		goto err;
	devices = devices_stats_json(vm);
	if (!devices || json_object_set_new(root, "devices", devices))
		goto err;
	return root;
err:
	json_decref(root);
	return NULL;
}

/* Where the guest finds it: transport, PCI address and BARs, MMIO window, GSI. */
static int device_address_json(struct mvm_device *dev, json_t *o)
{
	const struct mvm_fw_desc *fw = &dev->fw;
	char buf[64];
	unsigned int i;
	int err = 0;

	err |= json_object_set_new(o, "transport",
				   dev->transport ? json_string(dev->transport) : json_null());
	if (fw->pci.present) {
		struct pci_bar_view bars[PCI_NUM_BARS];
		unsigned int n = pci_dev_bars(dev, bars, PCI_NUM_BARS);
		json_t *a = json_array();

		snprintf(buf, sizeof(buf), "0000:%02x:%02x.%x", fw->pci.bus, fw->pci.slot,
			 fw->pci.func);
		err |= json_object_set_new(o, "address", json_string(buf));
		for (i = 0; a && i < n; i++) {
			snprintf(buf, sizeof(buf), "0x%" PRIx64, bars[i].addr);
			err |= json_array_append_new(a,
						     json_pack("{s:I, s:s, s:I, s:s}", "bar",
							       (json_int_t)bars[i].index, "base",
							       buf, "len", (json_int_t)bars[i].size,
							       "bus", bars[i].io ? "pio" : "mmio"));
		}
		err |= json_object_set_new(o, "bars", a);
		if (fw->pci.intx_pin)
			err |= json_object_set_new(o, "intx_gsi", json_integer(fw->pci.intx_gsi));
	}
	for (i = 0; i < fw->nr_res; i++) {
		const struct mvm_fw_res *r = &fw->res[i];

		if (r->kind == MVM_FW_IRQ && !json_object_get(o, "gsi")) {
			err |= json_object_set_new(o, "gsi", json_integer((json_int_t)r->base));
		} else if (r->kind != MVM_FW_IRQ && !json_object_get(o, "address")) {
			snprintf(buf, sizeof(buf), "%s:0x%" PRIx64 "-0x%" PRIx64,
				 r->kind == MVM_FW_PIO ? "pio" : "mmio", r->base,
				 r->base + r->len - 1);
			err |= json_object_set_new(o, "address", json_string(buf));
		}
	}
	return err ? -ENOMEM : 0;
}

static json_t *device_json(struct mvm_device *dev)
{
	json_t *o, *ranges;
	unsigned int i;

	ranges = json_array();
	if (!ranges)
		return NULL;
	for (i = 0; i < dev->nr_io; i++) {
		char base[24];
		json_t *r;

		snprintf(base, sizeof(base), "0x%" PRIx64, dev->io[i].base);
		r = json_pack("{s:s, s:s, s:I}", "bus", mvm_bus_name(dev->io[i].bus), "base", base,
			      "len", (json_int_t)dev->io[i].len);
		if (!r || json_array_append_new(ranges, r)) {
			json_decref(r);
			json_decref(ranges);
			return NULL;
		}
	}
	/*
	 * Every listed device is bound to its driver (mvm's own device model):
	 * the transport for a virtio device, the device itself otherwise.
	 */
	o = json_pack("{s:s, s:s, s:b, s:s, s:o}", "name", dev->name, "type", dev->type, "bound",
		      dev->registered, "driver", dev->ops->type, "ranges", ranges);
	if (o && dev->host && json_object_set_new(o, "host", json_string(dev->host))) {
		json_decref(o);
		o = NULL;
	}
	if (o && device_address_json(dev, o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

json_t *vm_devices_json(struct vm *vm)
{
	json_t *arr = json_array();
	struct mvm_device *dev;

	if (!arr)
		return NULL;
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node) {
		json_t *o = device_json(dev);

		if (!o || json_array_append_new(arr, o)) {
			json_decref(o);
			json_decref(arr);
			arr = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&vm->lock);
	return arr;
}
