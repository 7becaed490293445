// SPDX-License-Identifier: MIT
/*
 * The devices' firmware descriptions (struct mvm_fw_desc), gathered for the
 * table writers: the PCI host bridge, PCI INTx routes, virtio-mmio devices
 * for the kernel command line. Reads data only; calls no device.
 */
#include <errno.h>
#include <stdio.h>

#include "boot.h"
#include "mvm/device.h"
#include "mvm/vm.h"

unsigned int boot_fw_devices(struct vm *vm, const struct mvm_fw_desc **out, unsigned int max)
{
	struct mvm_device *dev;
	unsigned int n = 0;

	/* Built before the vCPUs exist: the list does not change under us. */
	pthread_mutex_lock(&vm->lock);
	list_for_each_entry (dev, &vm->devices, node)
		if (n < max)
			out[n++] = &dev->fw;
	pthread_mutex_unlock(&vm->lock);
	return n;
}

const struct mvm_fw_pci_host *boot_pci_host(struct vm *vm)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int i, n = boot_fw_devices(vm, fw, BOOT_MAX_FW);

	for (i = 0; i < n; i++)
		if (fw[i]->pci_host)
			return fw[i]->pci_host;
	return NULL;
}

unsigned int boot_pci_intx(struct vm *vm, struct boot_intx *r, unsigned int max)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int i, n = boot_fw_devices(vm, fw, BOOT_MAX_FW), nr = 0;

	for (i = 0; i < n && nr < max; i++)
		if (fw[i]->pci.present && fw[i]->pci.intx_pin)
			r[nr++] = (struct boot_intx){ fw[i]->pci.slot, fw[i]->pci.intx_pin,
						      fw[i]->pci.intx_gsi };
	return nr;
}

const struct mvm_fw_res *boot_fw_res(const struct mvm_fw_desc *fw, enum mvm_fw_res_kind kind)
{
	unsigned int i;

	for (i = 0; i < fw->nr_res; i++)
		if (fw->res[i].kind == kind)
			return &fw->res[i];
	return NULL;
}

int boot_virtio_mmio_cmdline(struct vm *vm, char *buf, size_t len)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int i, n = boot_fw_devices(vm, fw, BOOT_MAX_FW);
	size_t off = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		const struct mvm_fw_res *mem = boot_fw_res(fw[i], MVM_FW_MMIO);
		const struct mvm_fw_res *irq = boot_fw_res(fw[i], MVM_FW_IRQ);
		int w;

		if (!fw[i]->virtio_mmio || !mem || !irq)
			continue;
		/* Linux's virtio_mmio.device=<size>@<base>:<irq>, as Firecracker writes it. */
		w = snprintf(buf + off, len - off, "%svirtio_mmio.device=%lluK@0x%llx:%llu",
			     off ? " " : "", (unsigned long long)(mem->len >> 10),
			     (unsigned long long)mem->base, (unsigned long long)irq->base);
		if (w < 0 || (size_t)w >= len - off)
			return -E2BIG;
		off += (size_t)w;
	}
	return 0;
}

int boot_devices_cmdline(struct vm *vm, char *buf, size_t len)
{
	const struct mvm_fw_desc *fw[BOOT_MAX_FW];
	unsigned int i, n = boot_fw_devices(vm, fw, BOOT_MAX_FW);
	size_t off = 0;

	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		int w;

		if (!fw[i]->cmdline[0])
			continue;
		w = snprintf(buf + off, len - off, "%s%.*s", off ? " " : "",
			     (int)sizeof(fw[i]->cmdline), fw[i]->cmdline);
		if (w < 0 || (size_t)w >= len - off)
			return -E2BIG;
		off += (size_t)w;
	}
	return 0;
}
