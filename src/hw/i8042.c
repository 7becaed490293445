// SPDX-License-Identifier: MIT
/*
 * The i8042 keyboard controller, as much of it as a VMM needs: the status
 * register (always "input buffer empty", so a guest polling bit 1 before a
 * command never waits), the command byte, the self-test, and the CPU reset
 * line: command 0xfe, or clearing bit 0 of the output port, resets, which
 * ends the VM (exit status 0). SendCtrlAltDel (the API) queues the key
 * sequence Ctrl, Alt, Del (scan code set 2, as Firecracker's i8042 sends it)
 * and raises IRQ 1 if the guest enabled keyboard interrupts; a guest with no
 * keyboard driver just never reads it.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "mvm/snap_format.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vm.h"

#define I8042_IO_DATA 0
#define I8042_IO_CMD  1

#define I8042_STR_OBF 0x01 /* output buffer full: a byte to read at 0x60 */
#define I8042_STR_SYS 0x04 /* system flag: self-test passed */

#define I8042_CMD_READ_CTR     0x20
#define I8042_CMD_WRITE_CTR    0x60
#define I8042_CMD_SELF_TEST    0xaa
#define I8042_CMD_WRITE_OUTPUT 0xd1
#define I8042_CMD_PULSE_RESET  0xfe

#define I8042_CTR_KBD_INT 0x01 /* keyboard interrupt enabled */
#define I8042_KBD_IRQ	  1
#define I8042_BUF_SIZE	  16

/* Scan code set 2 make codes, as Firecracker's i8042 sends them. */
static const uint8_t ctrl_alt_del[] = { 0x14, 0x11, 0xe0, 0x71 };

struct i8042 {
	struct mvm_device dev;
	pthread_mutex_t lock;
	uint8_t ctr;		     /* controller configuration byte */
	uint8_t pending;	     /* command awaiting its data byte, or 0 */
	uint8_t buf[I8042_BUF_SIZE]; /* bytes for the guest at 0x60, a FIFO */
	unsigned int head, count;
	mvm_counter_t resets; /* CPU resets the guest asked for */
};

/* Firecracker's i8042 metrics: register accesses, and reset_count. */
static const struct mvm_counter_desc i8042_counters[] = {
	{ "reads", offsetof(struct i8042, dev.reads) },
	{ "writes", offsetof(struct i8042, dev.writes) },
	{ "reset_count", offsetof(struct i8042, resets) },
};

static struct i8042 *to_i8042(struct mvm_device *dev)
{
	return container_of(dev, struct i8042, dev);
}

/* Queues a byte for the guest; false if the FIFO is full. Under k->lock. */
static bool i8042_push(struct i8042 *k, uint8_t v)
{
	if (k->count == I8042_BUF_SIZE)
		return false;
	k->buf[(k->head + k->count) % I8042_BUF_SIZE] = v;
	k->count++;
	return true;
}

static void i8042_reply(struct i8042 *k, uint8_t v)
{
	i8042_push(k, v);
}

/* An edge on IRQ 1: the guest's keyboard handler reads the next byte. */
static void i8042_kbd_irq(struct i8042 *k)
{
	vm_irq_line(k->dev.vm, I8042_KBD_IRQ, 1);
	vm_irq_line(k->dev.vm, I8042_KBD_IRQ, 0);
}

/* Queues Ctrl-Alt-Del for the guest, IRQ 1 if enabled. 0 or -ENOSPC. */
static int i8042_ctrl_alt_del(struct mvm_device *dev)
{
	struct i8042 *k = to_i8042(dev);
	bool irq;
	unsigned int i;

	pthread_mutex_lock(&k->lock);
	if (k->count + sizeof(ctrl_alt_del) > I8042_BUF_SIZE) {
		pthread_mutex_unlock(&k->lock);
		return -ENOSPC;
	}
	for (i = 0; i < sizeof(ctrl_alt_del); i++)
		i8042_push(k, ctrl_alt_del[i]);
	irq = k->ctr & I8042_CTR_KBD_INT;
	pthread_mutex_unlock(&k->lock);
	pr_info("Ctrl-Alt-Del sent to the guest's i8042%s", irq ? "" : " (keyboard IRQ off)");
	if (irq)
		i8042_kbd_irq(k);
	return 0;
}

static void i8042_reset(struct i8042 *k)
{
	counter_inc(&k->resets);
	pr_info("guest reset through the i8042");
	vm_request_stop(k->dev.vm, VM_STOP_RESET, 0);
}

static void i8042_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
		       unsigned int len)
{
	struct i8042 *k = to_i8042(dev);
	bool more = false;
	uint8_t v;

	(void)off;
	pthread_mutex_lock(&k->lock);
	if (io == I8042_IO_CMD) {
		v = I8042_STR_SYS | (k->count ? I8042_STR_OBF : 0);
	} else {
		/* An empty FIFO reads the last byte again, as the hardware does. */
		v = k->buf[k->head];
		if (k->count) {
			k->head = (k->head + 1) % I8042_BUF_SIZE;
			k->count--;
			if (!k->count)
				k->head = (k->head + I8042_BUF_SIZE - 1) % I8042_BUF_SIZE;
			more = k->count && (k->ctr & I8042_CTR_KBD_INT);
		}
	}
	pthread_mutex_unlock(&k->lock);
	if (more)
		i8042_kbd_irq(k);
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void i8042_write(struct mvm_device *dev, unsigned int io, uint64_t off, const void *data,
			unsigned int len)
{
	struct i8042 *k = to_i8042(dev);
	uint8_t v = *(const uint8_t *)data;
	bool reset = false;

	(void)off;
	(void)len;
	pthread_mutex_lock(&k->lock);
	if (io == I8042_IO_CMD) {
		k->pending = 0;
		switch (v) {
		case I8042_CMD_READ_CTR:
			i8042_reply(k, k->ctr);
			break;
		case I8042_CMD_WRITE_CTR:
		case I8042_CMD_WRITE_OUTPUT:
			k->pending = v;
			break;
		case I8042_CMD_SELF_TEST:
			i8042_reply(k, 0x55);
			break;
		case I8042_CMD_PULSE_RESET:
			reset = true;
			break;
		}
	} else {
		if (k->pending == I8042_CMD_WRITE_CTR)
			k->ctr = v;
		else if (k->pending == I8042_CMD_WRITE_OUTPUT && !(v & 0x01))
			reset = true; /* output port bit 0 is the CPU reset line, active low */
		k->pending = 0;
	}
	pthread_mutex_unlock(&k->lock);
	if (reset)
		i8042_reset(k);
}

static int i8042_init(struct mvm_device *dev, const void *args)
{
	const struct platform_device_desc *d = args;
	struct i8042 *k = to_i8042(dev);
	int err;

	pthread_mutex_init(&k->lock, NULL);
	stats_node_init(&dev->stats, dev->stats.id, i8042_counters, ARRAY_SIZE(i8042_counters), k);
	/* Data at base (0x60), command/status at base + 4 (0x64). */
	err = mvm_device_add_io(dev, d->bus, d->base, 1);
	if (!err)
		err = mvm_device_add_io(dev, d->bus, d->base + 4, 1);
	if (err)
		pthread_mutex_destroy(&k->lock);
	return err;
}

static void i8042_release(struct mvm_device *dev)
{
	pthread_mutex_destroy(&to_i8042(dev)->lock);
}

static int i8042_save(struct mvm_device *dev, struct snap_buf *out)
{
	struct i8042 *k = to_i8042(dev);
	unsigned int i;

	pthread_mutex_lock(&k->lock);
	snap_put_u8(out, k->ctr);
	snap_put_u8(out, k->pending);
	snap_put_u32(out, k->count);
	for (i = 0; i < k->count; i++)
		snap_put_u8(out, k->buf[(k->head + i) % I8042_BUF_SIZE]);
	pthread_mutex_unlock(&k->lock);
	return out->err;
}

static int i8042_restore(struct mvm_device *dev, struct snap_cur *in)
{
	struct i8042 *k = to_i8042(dev);
	uint8_t ctr = snap_get_u8(in), pending = snap_get_u8(in), buf[I8042_BUF_SIZE];
	uint32_t n = snap_get_u32(in);

	if (n > I8042_BUF_SIZE || snap_get(in, buf, n) || snap_cur_end(in)) {
		pr_err("%s: saved state is malformed", dev->name);
		return -EBADMSG;
	}
	pthread_mutex_lock(&k->lock);
	k->ctr = ctr;
	k->pending = pending;
	memcpy(k->buf, buf, n);
	k->head = 0;
	k->count = n;
	pthread_mutex_unlock(&k->lock);
	return 0;
}

static const struct mvm_device_ops i8042_ops = {
	.type = "i8042",
	.save = i8042_save,
	.restore = i8042_restore,
	.init = i8042_init,
	.release = i8042_release,
	.read = i8042_read,
	.write = i8042_write,
	.ctrl_alt_del = i8042_ctrl_alt_del,
};

struct mvm_device *i8042_create(struct vm *vm, const struct platform_device_desc *d)
{
	struct i8042 *k = mvm_device_alloc(struct i8042, dev, vm, &i8042_ops, d->name, d);

	return mvm_device_register_or_put((struct mvm_device *)k);
}

MVM_PLATFORM_DEVICE_TYPE(i8042_type, "i8042", i8042_create, NULL);
