// SPDX-License-Identifier: MIT
/*
 * The scripted guest KVM_RUN runs in mvm-fakekvm. The boot vCPU writes a
 * line to the UART (MVM_FAKE_GUEST_OUTPUT, default "fake guest: up\n"), one
 * OUT to 0x3f8 per exit, enables the i8042's keyboard interrupt as Linux
 * does, then halts. A keyboard interrupt wakes it: it reads the scan codes
 * at 0x60 while the status at 0x64 says there are some, and after
 * Ctrl-Alt-Del pulses the reset line (0xfe to 0x64), as Linux reboots.
 * Other vCPUs halt for good (they wait for an INIT/SIPI that never comes).
 *
 * MVM_FAKE_GUEST_KEYBOARD=0 leaves the keyboard interrupt off: a guest with
 * no keyboard driver, which ignores Ctrl-Alt-Del.
 *
 * MVM_FAKE_GUEST_ACTION=WHAT:MS does WHAT MS milliseconds after the first
 * KVM_RUN: "reset" (0xfe to the i8042), "poweroff" (a SYSTEM_EVENT
 * shutdown exit), "triple-fault" (a SHUTDOWN exit), "exit" (0 to the
 * debug-exit port, as the guest kit's tests end).
 *
 * A halted vCPU blocks in futex() on the first word of its kvm_run, which
 * holds immediate_exit: a kick that sets it before the wait makes the wait
 * return at once, one during the wait interrupts it with the kick signal;
 * both end KVM_RUN with EINTR, as KVM does. An interrupt bumps a padding
 * byte of that word and wakes it.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fake_kvm.h"

#define UART_PORT	0x3f8
#define I8042_DATA	0x60
#define I8042_CMD	0x64
#define DEBUG_EXIT_PORT 0xf4
#define PIO_DATA_OFFSET 3072 /* in the kvm_run page, past struct kvm_run */
#define DEFAULT_OUTPUT	"fake guest: up\n"

_Static_assert(sizeof(struct kvm_run) <= PIO_DATA_OFFSET, "PIO data overlaps kvm_run");

enum action { ACTION_NONE, ACTION_RESET, ACTION_POWEROFF, ACTION_TRIPLE_FAULT, ACTION_EXIT };

static const char *output = DEFAULT_OUTPUT;
static bool keyboard = true;
static enum action action;
static uint64_t action_ms;

/* Scan code set 2: Ctrl, Alt, Del (the i8042 sends these on SendCtrlAltDel). */
static const uint8_t ctrl_alt_del[4] = { 0x14, 0x11, 0xe0, 0x71 };

void fake_guest_setup(void)
{
	const char *out = getenv("MVM_FAKE_GUEST_OUTPUT");
	const char *act = getenv("MVM_FAKE_GUEST_ACTION");
	const char *kbd = getenv("MVM_FAKE_GUEST_KEYBOARD");
	static const struct {
		const char *name;
		enum action a;
	} names[] = { { "reset", ACTION_RESET },
		      { "poweroff", ACTION_POWEROFF },
		      { "triple-fault", ACTION_TRIPLE_FAULT },
		      { "exit", ACTION_EXIT } };
	unsigned int i;

	if (out)
		output = out;
	if (kbd && !strcmp(kbd, "0"))
		keyboard = false;
	if (!act || !*act)
		return;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i].name);
		char *end;

		if (strncmp(act, names[i].name, n) || act[n] != ':')
			continue;
		action_ms = strtoull(act + n + 1, &end, 10);
		if (*end || end == act + n + 1)
			break;
		action = names[i].a;
		return;
	}
	fprintf(stderr,
		"mvm-fakekvm: MVM_FAKE_GUEST_ACTION=%s: want reset|poweroff|triple-fault|exit:MS\n",
		act);
	exit(2);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static uint32_t *wait_word(struct kvm_run *run)
{
	/* request_interrupt_window, immediate_exit and two padding bytes. */
	return (uint32_t *)(void *)run;
}

void fake_guest_wake_all(void)
{
	unsigned int i;

	for (i = 0; i < FAKEKVM_MAX_VCPUS; i++) {
		struct fake_vcpu *v = fake_vcpu_of_index(i);

		if (!v || !v->run)
			continue;
		__atomic_add_fetch(&v->run->padding1[0], 1, __ATOMIC_RELEASE);
		syscall(SYS_futex, wait_word(v->run), FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	}
}

static int exit_io(struct fake_vcpu *v, uint16_t port, bool out, uint8_t byte)
{
	struct kvm_run *run = v->run;

	run->exit_reason = KVM_EXIT_IO;
	run->io.direction = out ? KVM_EXIT_IO_OUT : KVM_EXIT_IO_IN;
	run->io.size = 1;
	run->io.port = port;
	run->io.count = 1;
	run->io.data_offset = PIO_DATA_OFFSET;
	((uint8_t *)run)[PIO_DATA_OFFSET] = out ? byte : 0;
	v->in_pending = !out;
	return 0;
}

/* An IN completes on the next KVM_RUN: what it read decides the next step. */
static int finish_in(struct fake_vcpu *v)
{
	uint8_t byte = ((uint8_t *)v->run)[PIO_DATA_OFFSET];

	v->in_pending = false;
	if (v->run->io.port == I8042_DATA) {
		memmove(v->keys, v->keys + 1, sizeof(v->keys) - 1);
		v->keys[sizeof(v->keys) - 1] = byte;
		return exit_io(v, I8042_CMD, false, 0);
	}
	/* The status register: bit 0 says a scan code waits at 0x60. */
	if (byte & 0x01)
		return exit_io(v, I8042_DATA, false, 0);
	if (!memcmp(v->keys, ctrl_alt_del, sizeof(v->keys))) {
		memset(v->keys, 0, sizeof(v->keys));
		return exit_io(v, I8042_CMD, true, 0xfe);
	}
	return -EAGAIN; /* nothing more to do: halt */
}

/* The boot program of vCPU 0: the line, then the keyboard interrupt on. */
static int boot_step(struct fake_vcpu *v)
{
	size_t len = strlen(output);
	unsigned int s = v->step;

	if (s < len) {
		v->step++;
		return exit_io(v, UART_PORT, true, (uint8_t)output[s]);
	}
	if (!keyboard)
		return -EAGAIN;
	if (s == len) {
		v->step++;
		return exit_io(v, I8042_CMD, true, 0x60); /* write the command byte: */
	}
	if (s == len + 1) {
		v->step++;
		return exit_io(v, I8042_DATA, true, 0x47); /* keyboard IRQ on, XLATE, SYS */
	}
	return -EAGAIN;
}

static int timed_action(struct fake_vcpu *v)
{
	struct kvm_run *run = v->run;

	v->action_done = true;
	switch (action) {
	case ACTION_RESET:
		return exit_io(v, I8042_CMD, true, 0xfe);
	case ACTION_POWEROFF:
		run->exit_reason = KVM_EXIT_SYSTEM_EVENT;
		run->system_event.type = KVM_SYSTEM_EVENT_SHUTDOWN;
		run->system_event.ndata = 0;
		return 0;
	case ACTION_TRIPLE_FAULT:
		run->exit_reason = KVM_EXIT_SHUTDOWN;
		return 0;
	case ACTION_EXIT:
		return exit_io(v, DEBUG_EXIT_PORT, true, 0);
	case ACTION_NONE:
		break;
	}
	return -EAGAIN;
}

static int interrupted(struct kvm_run *run)
{
	run->exit_reason = KVM_EXIT_INTR;
	errno = EINTR;
	return -1;
}

int fake_guest_run(struct fake_vcpu *v)
{
	struct kvm_run *run = v->run;
	int r;

	if (!run) {
		errno = EFAULT;
		return -1;
	}
	if (!v->runs++)
		v->start_ns = now_ns();
	for (;;) {
		uint32_t word = __atomic_load_n(wait_word(run), __ATOMIC_ACQUIRE);
		struct timespec left, *timeout = NULL;
		unsigned int irqs;

		if (__atomic_load_n(&run->immediate_exit, __ATOMIC_ACQUIRE))
			return interrupted(run);
		if (v->in_pending) {
			r = finish_in(v);
			if (r != -EAGAIN)
				return r;
		}
		if (v->id == 0) {
			r = boot_step(v);
			if (r != -EAGAIN)
				return r;
			irqs = __atomic_load_n(&fake_kbd_irqs, __ATOMIC_ACQUIRE);
			if (v->kbd_seen != irqs) {
				v->kbd_seen = irqs;
				return exit_io(v, I8042_CMD, false, 0);
			}
			if (action != ACTION_NONE && !v->action_done) {
				uint64_t due = v->start_ns + action_ms * 1000000ULL, now = now_ns();

				if (now >= due)
					return timed_action(v);
				left.tv_sec = (time_t)((due - now) / 1000000000ULL);
				left.tv_nsec = (long)((due - now) % 1000000000ULL);
				timeout = &left;
			}
		}
		/* Halted until a kick, an interrupt or the timed action. */
		if (syscall(SYS_futex, wait_word(run), FUTEX_WAIT, word, timeout, NULL, 0) < 0 &&
		    errno == EINTR)
			return interrupted(run);
	}
}
