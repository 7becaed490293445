// SPDX-License-Identifier: MIT
/*
 * Firecracker's boot timer (--boot-timer): a guest that has booted writes
 * the byte 123 at offset 0 of its MMIO window (0xc0000000 on x86, where
 * Firecracker's test guests write it), and the VMM logs how long that took
 * since the VM was built, in wall-clock and in the process's CPU time, in
 * Firecracker's words:
 *
 *   Guest-boot-time =   1234 us 1 ms,    567 CPU us 0 CPU ms
 *
 * Other writes and all reads do nothing (reads give 0).
 */
#include <string.h>
#include <time.h>

#include "mvm/clock.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vm.h"

#define BOOT_TIMER_MAGIC 123

struct boot_timer {
	struct mvm_device dev;
	uint64_t start_us, start_cpu_us; /* when the VM was built */
};

static uint64_t clock_us(clockid_t id)
{
	return mvm_clock_ns(id) / 1000;
}

static int boot_timer_init(struct mvm_device *dev, const void *args)
{
	struct boot_timer *t = container_of(dev, struct boot_timer, dev);

	t->start_us = clock_us(CLOCK_MONOTONIC);
	t->start_cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID);
	return platform_device_claim_io(dev, args);
}

static void boot_timer_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
			    unsigned int len)
{
	memset(data, 0, len);
}

static void boot_timer_write(struct mvm_device *dev, unsigned int io, uint64_t off,
			     const void *data, unsigned int len)
{
	struct boot_timer *t = container_of(dev, struct boot_timer, dev);
	uint64_t us, cpu_us;

	if (len != 1 || off != 0 || *(const uint8_t *)data != BOOT_TIMER_MAGIC)
		return;
	us = clock_us(CLOCK_MONOTONIC) - t->start_us;
	cpu_us = clock_us(CLOCK_PROCESS_CPUTIME_ID) - t->start_cpu_us;
	pr_info("Guest-boot-time = %6llu us %llu ms, %6llu CPU us %llu CPU ms",
		(unsigned long long)us, (unsigned long long)(us / 1000), (unsigned long long)cpu_us,
		(unsigned long long)(cpu_us / 1000));
}

static const struct mvm_device_ops boot_timer_ops = {
	.type = "boot-timer",
	.init = boot_timer_init,
	.read = boot_timer_read,
	.write = boot_timer_write,
	/* Its times are this process's: a restored VM's timer counts from the restore. */
	.save = mvm_device_save_none,
	.restore = mvm_device_restore_none,
};

static struct mvm_device *boot_timer_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct boot_timer *t =
		mvm_device_alloc(struct boot_timer, dev, vm, &boot_timer_ops, d->name, d);

	/* dev comes first: an ERR_PTR passes through as it is. */
	return mvm_device_register_or_put(&t->dev);
}

static bool boot_timer_wanted(const struct mvm_config *cfg)
{
	return cfg->boot_timer;
}

MVM_PLATFORM_DEVICE_TYPE(boot_timer_type, "boot-timer", boot_timer_create, boot_timer_wanted);
