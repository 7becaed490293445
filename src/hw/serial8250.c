// SPDX-License-Identifier: MIT
/*
 * A 16550A UART. Transmit is immediate (the byte goes to the console output
 * fd on the THR write), so THR and the shift register are always empty.
 * Receive is a FIFO filled by the event loop from the console input fd.
 * The interrupt line follows the "interrupt pending" state of IIR; KVM's
 * IOAPIC sees the 0->1 edge of an ISA IRQ.
 */
#include <errno.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "mvm/snap_format.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/loop.h"
#include "mvm/vm.h"

#define UART_RX	 0 /* in: receive buffer (DLAB=0) */
#define UART_TX	 0 /* out: transmit holding (DLAB=0) */
#define UART_DLL 0 /* divisor latch low (DLAB=1) */
#define UART_IER 1
#define UART_DLM 1 /* divisor latch high (DLAB=1) */
#define UART_IIR 2 /* in */
#define UART_FCR 2 /* out */
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_MSR 6
#define UART_SCR 7

#define UART_IER_RDI  0x01
#define UART_IER_THRI 0x02
#define UART_IER_RLSI 0x04
#define UART_IER_MSI  0x08

#define UART_IIR_NO_INT 0x01
#define UART_IIR_MSI	0x00
#define UART_IIR_THRI	0x02
#define UART_IIR_RDI	0x04
#define UART_IIR_FIFO	0xc0

#define UART_FCR_ENABLE	  0x01
#define UART_FCR_CLEAR_RX 0x02

#define UART_LCR_DLAB 0x80

#define UART_MCR_DTR  0x01
#define UART_MCR_RTS  0x02
#define UART_MCR_OUT1 0x04
#define UART_MCR_OUT2 0x08
#define UART_MCR_LOOP 0x10

#define UART_LSR_DR   0x01
#define UART_LSR_OE   0x02
#define UART_LSR_THRE 0x20
#define UART_LSR_TEMT 0x40

#define UART_MSR_DCTS  0x01
#define UART_MSR_DDSR  0x02
#define UART_MSR_TERI  0x04
#define UART_MSR_DDCD  0x08
#define UART_MSR_CTS   0x10
#define UART_MSR_DSR   0x20
#define UART_MSR_RI    0x40
#define UART_MSR_DCD   0x80
#define UART_MSR_DELTA 0x0f

#define RX_FIFO_SIZE 256

/* Ctrl-A then 'x' on the console ends the VM, as in QEMU and kvmtool. */
#define ESCAPE_CHAR 0x01

struct serial8250 {
	struct mvm_device dev;
	pthread_mutex_t lock;
	unsigned int irq;
	int out_fd, in_fd;
	struct loop_handler input;
	bool input_paused;
	bool escape;

	uint8_t ier, iir_thri, fcr, lcr, mcr, lsr, msr, scr, dll, dlm;
	bool irq_level;
	uint8_t rx[RX_FIFO_SIZE];
	unsigned int rx_head, rx_len;
};

static struct serial8250 *to_serial(struct mvm_device *dev)
{
	return container_of(dev, struct serial8250, dev);
}

/* The highest-priority pending interrupt, as IIR reports it. */
static uint8_t serial_iir(const struct serial8250 *s)
{
	if ((s->ier & UART_IER_RDI) && s->rx_len)
		return UART_IIR_RDI;
	if ((s->ier & UART_IER_THRI) && s->iir_thri)
		return UART_IIR_THRI;
	if ((s->ier & UART_IER_MSI) && (s->msr & UART_MSR_DELTA))
		return UART_IIR_MSI;
	return UART_IIR_NO_INT;
}

static void serial_update_irq(struct serial8250 *s)
{
	bool level = serial_iir(s) != UART_IIR_NO_INT;

	if (level == s->irq_level)
		return;
	s->irq_level = level;
	vm_irq_line(s->dev.vm, s->irq, level);
}

static void serial_rx_push(struct serial8250 *s, uint8_t c)
{
	if (s->rx_len == RX_FIFO_SIZE) {
		s->lsr |= UART_LSR_OE;
		return;
	}
	s->rx[(s->rx_head + s->rx_len++) % RX_FIFO_SIZE] = c;
	s->lsr |= UART_LSR_DR;
}

static void serial_tx(struct serial8250 *s, uint8_t c)
{
	ssize_t n;

	if (s->mcr & UART_MCR_LOOP) {
		serial_rx_push(s, c);
		return;
	}
	do
		n = write(s->out_fd, &c, 1);
	while (n < 0 && errno == EINTR);
	/* Output is best effort: a closed console must not stop the guest. */
}

static void serial_set_input(struct serial8250 *s, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0, .data.ptr = &s->input };

	if (s->in_fd < 0 || s->input_paused == !on)
		return;
	s->input_paused = !on;
	epoll_ctl(s->dev.vm->loop.epfd, EPOLL_CTL_MOD, s->in_fd, &ev);
}

static uint8_t serial_rx_pop(struct serial8250 *s)
{
	uint8_t c;

	if (!s->rx_len)
		return 0;
	c = s->rx[s->rx_head];
	s->rx_head = (s->rx_head + 1) % RX_FIFO_SIZE;
	if (--s->rx_len == 0)
		s->lsr &= ~UART_LSR_DR;
	/* Room again: take more console input. */
	if (s->input_paused && s->rx_len < RX_FIFO_SIZE / 2)
		serial_set_input(s, true);
	return c;
}

static uint8_t serial_msr(const struct serial8250 *s)
{
	uint8_t m = s->msr & UART_MSR_DELTA;

	if (!(s->mcr & UART_MCR_LOOP))
		return s->msr;
	/* Loopback wires the modem outputs back to the inputs. */
	if (s->mcr & UART_MCR_RTS)
		m |= UART_MSR_CTS;
	if (s->mcr & UART_MCR_DTR)
		m |= UART_MSR_DSR;
	if (s->mcr & UART_MCR_OUT1)
		m |= UART_MSR_RI;
	if (s->mcr & UART_MCR_OUT2)
		m |= UART_MSR_DCD;
	return m;
}

static void serial_read(struct mvm_device *dev, unsigned int io, uint64_t off, void *data,
			unsigned int len)
{
	struct serial8250 *s = to_serial(dev);
	uint8_t v = 0xff;

	(void)io;
	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_RX:
		v = (s->lcr & UART_LCR_DLAB) ? s->dll : serial_rx_pop(s);
		break;
	case UART_IER:
		v = (s->lcr & UART_LCR_DLAB) ? s->dlm : s->ier;
		break;
	case UART_IIR:
		v = serial_iir(s);
		/* Reading IIR acknowledges a THR-empty interrupt. */
		if (v == UART_IIR_THRI)
			s->iir_thri = 0;
		if (s->fcr & UART_FCR_ENABLE)
			v |= UART_IIR_FIFO;
		break;
	case UART_LCR:
		v = s->lcr;
		break;
	case UART_MCR:
		v = s->mcr;
		break;
	case UART_LSR:
		v = s->lsr;
		s->lsr &= ~UART_LSR_OE;
		break;
	case UART_MSR:
		v = serial_msr(s);
		s->msr &= ~UART_MSR_DELTA;
		break;
	case UART_SCR:
		v = s->scr;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	memset(data, 0, len);
	*(uint8_t *)data = v;
}

static void serial_write(struct mvm_device *dev, unsigned int io, uint64_t off, const void *data,
			 unsigned int len)
{
	struct serial8250 *s = to_serial(dev);
	uint8_t v = *(const uint8_t *)data;

	(void)io;
	(void)len;
	pthread_mutex_lock(&s->lock);
	switch (off) {
	case UART_TX:
		if (s->lcr & UART_LCR_DLAB) {
			s->dll = v;
			break;
		}
		serial_tx(s, v);
		/* Sent at once: THR is empty again. */
		s->iir_thri = 1;
		break;
	case UART_IER:
		if (s->lcr & UART_LCR_DLAB) {
			s->dlm = v;
			break;
		}
		/* Enabling THRI with THR empty raises it, as on a real 16550A. */
		if (!(s->ier & UART_IER_THRI) && (v & UART_IER_THRI))
			s->iir_thri = 1;
		s->ier = v & 0x0f;
		break;
	case UART_FCR:
		s->fcr = v & (UART_FCR_ENABLE | 0xc0);
		if (v & UART_FCR_CLEAR_RX) {
			s->rx_len = 0;
			s->lsr &= ~UART_LSR_DR;
			serial_set_input(s, true);
		}
		break;
	case UART_LCR:
		s->lcr = v;
		break;
	case UART_MCR:
		s->mcr = v & 0x1f;
		break;
	case UART_SCR:
		s->scr = v;
		break;
	}
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

/* Console input, on the event-loop thread. */
static void serial_input(struct loop_handler *h, uint32_t events)
{
	struct serial8250 *s = container_of(h, struct serial8250, input);
	uint8_t buf[64];
	ssize_t n, i;

	(void)events;
	pthread_mutex_lock(&s->lock);
	n = read(s->in_fd, buf, MIN(sizeof(buf), (size_t)(RX_FIFO_SIZE - s->rx_len)));
	if (n <= 0) {
		if (n == 0 || (errno != EINTR && errno != EAGAIN))
			serial_set_input(s, false); /* EOF or error: no more input */
		pthread_mutex_unlock(&s->lock);
		return;
	}
	for (i = 0; i < n; i++) {
		if (s->escape) {
			s->escape = false;
			if (buf[i] == 'x') {
				pthread_mutex_unlock(&s->lock);
				pr_info("Ctrl-A x: stopping the VM");
				vm_request_stop(s->dev.vm, VM_STOP_SIGNAL, 0);
				return;
			}
			if (buf[i] != ESCAPE_CHAR)
				serial_rx_push(s, ESCAPE_CHAR);
		} else if (buf[i] == ESCAPE_CHAR) {
			s->escape = true;
			continue;
		}
		serial_rx_push(s, buf[i]);
	}
	if (s->rx_len == RX_FIFO_SIZE)
		serial_set_input(s, false);
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
}

struct serial_args {
	const struct platform_device_desc *desc;
	int in_fd, out_fd;
};

static int serial_init(struct mvm_device *dev, const void *args)
{
	const struct serial_args *a = args;
	struct serial8250 *s = to_serial(dev);
	int err;

	pthread_mutex_init(&s->lock, NULL);
	s->irq = a->desc->irq;
	s->out_fd = a->out_fd;
	s->in_fd = a->in_fd;
	s->lsr = UART_LSR_THRE | UART_LSR_TEMT;
	s->msr = UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
	s->mcr = UART_MCR_OUT2;
	err = mvm_device_add_io(dev, a->desc->bus, a->desc->base, a->desc->len);
	if (err)
		goto err_lock;
	if (s->in_fd >= 0) {
		s->input.fd = s->in_fd;
		s->input.fn = serial_input;
		err = loop_add(&dev->vm->loop, &s->input, EPOLLIN);
		if (err)
			goto err_lock;
	}
	return 0;

err_lock:
	pthread_mutex_destroy(&s->lock);
	return err;
}

static void serial_release(struct mvm_device *dev)
{
	struct serial8250 *s = to_serial(dev);

	if (s->in_fd >= 0)
		loop_del(&dev->vm->loop, &s->input);
	pthread_mutex_destroy(&s->lock);
}

/* The registers and the receive FIFO; the host's fds come from the configuration. */
static int serial_save(struct mvm_device *dev, struct snap_buf *out)
{
	struct serial8250 *s = to_serial(dev);
	const uint8_t regs[] = { s->ier, s->iir_thri, s->fcr, s->lcr, s->mcr,
				 s->lsr, s->msr,      s->scr, s->dll, s->dlm };
	unsigned int i;

	pthread_mutex_lock(&s->lock);
	snap_put(out, regs, sizeof(regs));
	snap_put_u32(out, s->rx_len);
	for (i = 0; i < s->rx_len; i++)
		snap_put_u8(out, s->rx[(s->rx_head + i) % RX_FIFO_SIZE]);
	pthread_mutex_unlock(&s->lock);
	return out->err;
}

static int serial_restore(struct mvm_device *dev, struct snap_cur *in)
{
	struct serial8250 *s = to_serial(dev);
	uint8_t regs[10], rx[RX_FIFO_SIZE];
	uint32_t n;

	snap_get(in, regs, sizeof(regs));
	n = snap_get_u32(in);
	if (n > RX_FIFO_SIZE || snap_get(in, rx, n) || snap_cur_end(in)) {
		pr_err("%s: saved state is malformed", dev->name);
		return -EBADMSG;
	}
	pthread_mutex_lock(&s->lock);
	s->ier = regs[0];
	s->iir_thri = regs[1];
	s->fcr = regs[2];
	s->lcr = regs[3];
	s->mcr = regs[4];
	s->lsr = regs[5];
	s->msr = regs[6];
	s->scr = regs[7];
	s->dll = regs[8];
	s->dlm = regs[9];
	memcpy(s->rx, rx, n);
	s->rx_head = 0;
	s->rx_len = n;
	/* The line as the registers say (the irqchip's own state comes with the VM's). */
	s->irq_level = false;
	serial_update_irq(s);
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const struct mvm_device_ops serial_ops = {
	.type = "serial8250",
	.save = serial_save,
	.restore = serial_restore,
	.init = serial_init,
	.release = serial_release,
	.read = serial_read,
	.write = serial_write,
};

struct mvm_device *serial8250_create(struct vm *vm, const struct platform_device_desc *d)
{
	/* With --console virtio the terminal's input goes to hvc0; output still shows. */
	int in_fd = vm->cfg.console == MVM_CONSOLE_SERIAL ? vm->cfg.console_in : -1;
	struct serial_args args = { d, in_fd, vm->cfg.console_out };
	struct serial8250 *s;

	s = mvm_device_alloc(struct serial8250, dev, vm, &serial_ops, d->name, &args);
	if (!IS_ERR(s)) {
		/* A 16550A at its ports and IRQ, for the DSDT. */
		s->dev.fw.acpi_hid = "PNP0501";
		/* serialN is COM<N+1>, as firmware names the PC's UARTs. */
		snprintf(s->dev.fw.acpi_name, sizeof(s->dev.fw.acpi_name), "COM%d",
			 atoi(d->name + strcspn(d->name, "0123456789")) % 9 + 1);
		s->dev.fw.compatible = "ns16550a";
		mvm_device_fw_add(&s->dev, MVM_FW_PIO, d->base, d->len, false);
		mvm_device_fw_add(&s->dev, MVM_FW_IRQ, d->irq, 1, false);
	}
	return mvm_device_register_or_put((struct mvm_device *)s);
}

MVM_PLATFORM_DEVICE_TYPE(serial8250_type, "serial8250", serial8250_create, NULL);
