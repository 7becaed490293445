// SPDX-License-Identifier: MIT
/*
 * Firecracker's boot timer (src/hw/boot_timer.c): created only with
 * --boot-timer, it logs "Guest-boot-time = ..." in Firecracker's format
 * when the guest writes the byte 123 at its offset 0, and nothing else.
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mvm/arch.h"
#include "mvm/bus.h"
#include "mvm/config.h"
#include "mvm/devtype.h"
#include "mvm/log.h"
#include "mvm/vm.h"
#include "unit.h"

#define BT_BASE 0x70000000ULL

static const struct platform_device_desc bt_desc = { "boot-timer", "boot-timer", MVM_BUS_MMIO,
						     BT_BASE,	   0x1000,	 0 };

/* The log's text since the start of the memfd. */
static void log_text(int fd, char *buf, size_t len)
{
	ssize_t n = pread(fd, buf, len - 1, 0);

	assert_true(n >= 0);
	buf[n] = '\0';
}

static void bus_write8(struct vm *vm, uint64_t addr, uint8_t v)
{
	assert_true(bus_access(&vm->buses[MVM_BUS_MMIO], addr, &v, 1, true));
}

static void test_boot_timer_wanted(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("boot-timer");
	struct mvm_config cfg;

	assert_non_null(t);
	assert_true(t->platform);
	mvm_config_init(&cfg);
	assert_false(t->wanted(&cfg));
	cfg.boot_timer = true;
	assert_true(t->wanted(&cfg));
}

static void test_boot_timer_logs(void **state)
{
	const struct mvm_device_type *t = mvm_device_type_find("boot-timer");
	struct vm *vm = unit_vm(1);
	unsigned long long us, ms, cpu_us, cpu_ms;
	char text[4096], *line;
	uint16_t two = 123;
	uint32_t word = 0xffffffff;
	regex_t re;
	int fd = memfd_create("boot-timer-log", MFD_CLOEXEC), logfd;

	assert_true(fd >= 0);
	logfd = dup(fd);
	assert_true(logfd >= 0);
	assert_int_equal(t->create(vm, &bt_desc, 0), 0);
	mvm_log_set_fd(logfd);
	mvm_log_set_level(MVM_LOG_INFO);
	usleep(20000);

	/* Not the magic value, not at offset 0, not one byte: nothing. */
	bus_write8(vm, BT_BASE, 122);
	bus_write8(vm, BT_BASE + 1, 123);
	assert_true(bus_access(&vm->buses[MVM_BUS_MMIO], BT_BASE, &two, 2, true));
	log_text(fd, text, sizeof(text));
	assert_null(strstr(text, "Guest-boot-time"));
	/* Reads give 0. */
	assert_true(bus_access(&vm->buses[MVM_BUS_MMIO], BT_BASE, &word, 4, false));
	assert_int_equal(word, 0);

	bus_write8(vm, BT_BASE, 123);
	mvm_log_set_level(-1);
	mvm_log_set_fd(-1);
	log_text(fd, text, sizeof(text));
	line = strstr(text, "Guest-boot-time");
	assert_non_null(line);
	assert_int_equal(regcomp(&re,
				 "^Guest-boot-time = [ 0-9]{6,} us [0-9]+ ms, [ 0-9]{6,} CPU us "
				 "[0-9]+ CPU ms$",
				 REG_EXTENDED | REG_NEWLINE),
			 0);
	if (regexec(&re, line, 0, NULL, 0))
		fail_msg("not Firecracker's format: %s", line);
	regfree(&re);
	assert_int_equal(sscanf(line, "Guest-boot-time = %llu us %llu ms, %llu CPU us %llu CPU ms",
				&us, &ms, &cpu_us, &cpu_ms),
			 4);
	/* Since the device was made (at the VM's build): at least the 20 ms slept. */
	assert_true(us >= 20000);
	assert_int_equal(ms, us / 1000);
	assert_int_equal(cpu_ms, cpu_us / 1000);
	assert_true(cpu_us <= us + 1000000);
	close(fd);
	vm_destroy(vm);
}

int run_boot_timer_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_boot_timer_wanted),
		cmocka_unit_test(test_boot_timer_logs),
	};

	return cmocka_run_group_tests_name("boot timer", tests, NULL, NULL);
}
