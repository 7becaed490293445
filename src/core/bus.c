// SPDX-License-Identifier: MIT
/* Port I/O and MMIO buses: range claims and access dispatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/bus.h"
#include "mvm/device.h"
#include "mvm/sys.h"

const char *mvm_bus_name(enum mvm_bus_type type)
{
	switch (type) {
	case MVM_BUS_PIO:
		return "pio";
	case MVM_BUS_MMIO:
		return "mmio";
	default:
		return "?";
	}
}

void bus_init(struct mvm_bus *bus, enum mvm_bus_type type)
{
	memset(bus, 0, sizeof(*bus));
	bus->type = type;
	pthread_rwlock_init(&bus->lock, NULL);
}

void bus_fini(struct mvm_bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose end is above addr (ranges are sorted and disjoint). */
static unsigned int bus_search(const struct mvm_bus *bus, uint64_t addr)
{
	unsigned int lo = 0, hi = bus->nr;

	while (lo < hi) {
		unsigned int mid = lo + (hi - lo) / 2;
		const struct mvm_bus_range *r = &bus->ranges[mid];

		if (addr - r->base < r->len && addr >= r->base)
			return mid;
		if (addr < r->base)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

int bus_add(struct mvm_bus *bus, uint64_t base, uint64_t len, struct mvm_device *dev,
	    unsigned int io)
{
	struct mvm_bus_range *r;
	unsigned int pos;
	int err = 0;

	if (len == 0 || base + len - 1 < base)
		return -EINVAL;

	pthread_rwlock_wrlock(&bus->lock);
	pos = bus_search(bus, base);
	/* Overlap with the range at pos (ends above base) if it starts before our end. */
	if (pos < bus->nr && bus->ranges[pos].base <= base + len - 1) {
		err = -EBUSY;
		goto out;
	}
	if (bus->nr == bus->cap) {
		unsigned int cap = bus->cap ? bus->cap * 2 : 8;

		r = mvm_reallocarray(bus->ranges, cap, sizeof(*r));
		if (!r) {
			err = -ENOMEM;
			goto out;
		}
		bus->ranges = r;
		bus->cap = cap;
	}
	memmove(&bus->ranges[pos + 1], &bus->ranges[pos], (bus->nr - pos) * sizeof(bus->ranges[0]));
	bus->ranges[pos] = (struct mvm_bus_range){ base, len, dev, io };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return err;
}

void bus_remove(struct mvm_bus *bus, struct mvm_device *dev)
{
	unsigned int i = 0;

	pthread_rwlock_wrlock(&bus->lock);
	while (i < bus->nr) {
		if (bus->ranges[i].dev != dev) {
			i++;
			continue;
		}
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
			(bus->nr - i - 1) * sizeof(bus->ranges[0]));
		bus->nr--;
	}
	pthread_rwlock_unlock(&bus->lock);
}

bool bus_access(struct mvm_bus *bus, uint64_t addr, void *data, unsigned int len, bool write)
{
	struct mvm_device *dev = NULL;
	uint64_t offset = 0;
	unsigned int pos, io = 0;

	pthread_rwlock_rdlock(&bus->lock);
	pos = bus_search(bus, addr);
	if (pos < bus->nr) {
		const struct mvm_bus_range *r = &bus->ranges[pos];

		offset = addr - r->base;
		if (addr >= r->base && offset < r->len && len <= r->len - offset) {
			dev = r->dev;
			io = r->io;
			mvm_device_get(dev);
		}
	}
	pthread_rwlock_unlock(&bus->lock);

	if (!dev) {
		if (write) {
			counter_inc(&bus->unclaimed_writes);
		} else {
			counter_inc(&bus->unclaimed_reads);
			memset(data, 0xff, len);
		}
		return false;
	}

	if (write) {
		counter_inc(&dev->writes);
		if (dev->ops->write)
			dev->ops->write(dev, io, offset, data, len);
	} else {
		counter_inc(&dev->reads);
		if (dev->ops->read)
			dev->ops->read(dev, io, offset, data, len);
		else
			memset(data, 0xff, len);
	}
	mvm_device_put(dev);
	return true;
}
