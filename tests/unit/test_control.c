// SPDX-License-Identifier: MIT
/*
 * The control plane's rendering and bookkeeping, on the fake KVM (with its
 * fake binary stats): GET /stats JSON, GET /devices JSON, the Prometheus
 * text, Firecracker-style metrics lines, the runtime registry, logging.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <jansson.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fake.h"
#include "mvm/control.h"
#include "mvm/device.h"
#include "mvm/err.h"
#include "mvm/hw.h"
#include "mvm/log.h"
#include "mvm/vcpu.h"
#include "mvm/vm.h"
#include "unit.h"

static struct vm *stats_vm(const char *name)
{
	struct mvm_config cfg;
	struct vm *vm;

	fake_reset();
	fake_kvm.binary_stats = true;
	mvm_config_init(&cfg);
	cfg.mem_size = 4ULL << 20;
	cfg.cpus = 2;
	cfg.console_out = -1;
	cfg.name = name;
	vm = vm_create(&cfg);
	assert_false(IS_ERR(vm));
	assert_int_equal(vcpu_create(vm, 0), 0);
	assert_int_equal(vcpu_create(vm, 1), 0);
	return vm;
}

static json_int_t jint(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);

	assert_non_null(v);
	assert_true(json_is_integer(v));
	return json_integer_value(v);
}

static void test_stats_json(void **state)
{
	struct vm *vm = stats_vm("statsvm");
	struct vcpu *v1 = vm_vcpu(vm, 1);
	json_t *j, *vcpus, *c, *hist, *devs;

	(void)state;
	counter_inc(&v1->exits[VCPU_EXIT_IO]);
	counter_inc(&v1->exits[VCPU_EXIT_IO]);
	j = vm_stats_json(vm);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "statsvm");
	/* The VM node carries the id KVM's stats header reports. */
	assert_string_equal(json_string_value(json_object_get(j, "id")), "kvm-fake");
	assert_true(json_is_false(json_object_get(j, "paused")));
	assert_int_equal(jint(json_object_get(j, "kvm"), "exits"), 42);
	assert_int_equal(jint(json_object_get(j, "kvm"), "pages_4k"), 7);
	assert_int_equal(jint(json_object_get(j, "mvm"), "devices"), 1);

	vcpus = json_object_get(j, "vcpus");
	assert_int_equal(json_array_size(vcpus), 2);
	c = json_array_get(vcpus, 1);
	assert_int_equal(jint(c, "index"), 1);
	assert_int_equal(jint(json_object_get(c, "kvm"), "exits"), 43);
	assert_int_equal(jint(json_object_get(c, "mvm"), "exits_io"), 2);
	assert_int_equal(jint(json_object_get(json_array_get(vcpus, 0), "mvm"), "exits_io"), 0);
	hist = json_object_get(json_object_get(c, "kvm"), "halt_wait_hist");
	assert_true(json_is_array(hist));
	assert_int_equal(json_array_size(hist), 4);
	assert_int_equal(json_integer_value(json_array_get(hist, 3)), 3);

	devs = json_object_get(j, "devices");
	assert_int_equal(json_array_size(devs), 1);
	assert_string_equal(json_string_value(json_object_get(json_array_get(devs, 0), "type")),
			    "serial8250");
	assert_non_null(json_object_get(json_object_get(json_array_get(devs, 0), "mvm"), "reads"));
	json_decref(j);
	vm_destroy(vm);
}

static void test_devices_json(void **state)
{
	struct vm *vm = stats_vm(NULL);
	json_t *j, *d, *r;

	(void)state;
	j = vm_devices_json(vm);
	assert_non_null(j);
	assert_int_equal(json_array_size(j), 1);
	d = json_array_get(j, 0);
	assert_string_equal(json_string_value(json_object_get(d, "name")), "serial0");
	assert_true(json_is_true(json_object_get(d, "bound")));
	r = json_array_get(json_object_get(d, "ranges"), 0);
	assert_string_equal(json_string_value(json_object_get(r, "bus")), "pio");
	assert_string_equal(json_string_value(json_object_get(r, "base")), "0x3f8");
	assert_int_equal(jint(r, "len"), 8);
	/* Its firmware view: where the guest finds it. */
	assert_string_equal(json_string_value(json_object_get(d, "address")), "pio:0x3f8-0x3ff");
	assert_int_equal(jint(d, "gsi"), 4);
	assert_true(json_is_null(json_object_get(d, "transport")));
	assert_string_equal(json_string_value(json_object_get(d, "type")), "serial8250");
	json_decref(j);
	vm_destroy(vm);
}

static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p = text;

	while ((p = strstr(p, line))) {
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

static void test_prometheus(void **state)
{
	struct vm *vm = stats_vm("we\"ird\\vm");
	char *text, *save = NULL, *line, *copy;
	char families[64][128];
	unsigned int nf = 0, i;
	regex_t sample;

	(void)state;
	counter_inc(&vm_vcpu(vm, 0)->exits[VCPU_EXIT_MMIO]);
	text = vm_stats_prometheus(vm);
	assert_non_null(text);
	/* Label values escaped; KVM stats typed as KVM describes them. */
	assert_true(has_line(text, "# TYPE mvm_vcpu_kvm_exits counter"));
	assert_true(has_line(text, "# TYPE mvm_vm_kvm_pages_4k gauge"));
	assert_true(has_line(text, "# TYPE mvm_vcpu_kvm_halt_wait_hist histogram"));
	assert_true(
		has_line(text, "mvm_vm_kvm_exits{vm=\"we\\\"ird\\\\vm\",kvm_id=\"kvm-fake\"} 42"));
	assert_true(has_line(
		text,
		"mvm_vcpu_exits_mmio{vm=\"we\\\"ird\\\\vm\",kvm_id=\"kvm-fake\",vcpu=\"0\"} 1"));
	/* log2 buckets {1,2,0,3}: cumulative, le = 2^i - 1, the last +Inf. */
	assert_non_null(strstr(text, "mvm_vcpu_kvm_halt_wait_hist_bucket{vm=\"we\\\"ird\\\\vm\","
				     "kvm_id=\"kvm-fake\",vcpu=\"1\",le=\"3\"} 3\n"));
	assert_non_null(strstr(text, "vcpu=\"1\",le=\"+Inf\"} 6\n"));
	assert_non_null(strstr(text, "mvm_vcpu_kvm_halt_wait_hist_count{vm=\"we\\\"ird\\\\vm\","
				     "kvm_id=\"kvm-fake\",vcpu=\"1\"} 6\n"));
	/* linear, bucket 10, {5,0,1}: le 9, 19, +Inf. */
	assert_non_null(strstr(text, ",vcpu=\"0\",le=\"9\"} 5\n"));
	assert_non_null(strstr(text, ",vcpu=\"0\",le=\"19\"} 5\n"));

	/* Every sample is well-formed and every family has one TYPE line, before its samples. */
	assert_int_equal(
		regcomp(&sample,
			"^[a-zA-Z_:][a-zA-Z0-9_:]*\\{([a-z_]+=\"([^\"\\\\]|\\\\.)*\",?)*\\} "
			"[0-9]+$",
			REG_EXTENDED | REG_NOSUB),
		0);
	copy = strdup(text);
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char fam[128];

		if (!strncmp(line, "# HELP", 6))
			continue;
		if (!strncmp(line, "# TYPE ", 7)) {
			assert_int_equal(sscanf(line + 7, "%127s", fam), 1);
			for (i = 0; i < nf; i++)
				assert_string_not_equal(families[i], fam);
			assert_true(nf < 64);
			snprintf(families[nf++], sizeof(families[0]), "%s", fam);
			continue;
		}
		if (regexec(&sample, line, 0, NULL, 0))
			fail_msg("malformed sample line: %s", line);
		/* The sample belongs to the family of the last TYPE line. */
		assert_true(nf > 0);
		assert_int_equal(strncmp(line, families[nf - 1], strlen(families[nf - 1])), 0);
	}
	regfree(&sample);
	free(copy);
	free(text);
	vm_destroy(vm);
}

static json_t *read_line(int fd)
{
	static char buf[65536];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	json_error_t e;

	assert_true(n > 0);
	buf[n] = '\0';
	assert_int_equal(buf[n - 1], '\n');
	assert_null(strchr(buf, '\n') == buf + n - 1 ? NULL : "more than one line");
	return json_loads(buf, 0, &e);
}

static void test_metrics(void **state)
{
	struct vm *vm = stats_vm(NULL);
	char dir[] = "/tmp/mvm-unit-XXXXXX", path[64];
	struct metrics *m;
	json_t *j;
	int p[2], rfd;

	(void)state;
	/* Stateless line: cumulative values. */
	assert_int_equal(pipe(p), 0);
	counter_inc(&vm_vcpu(vm, 0)->io[VCPU_IO_OUT].count);
	atomic_store(&vm_vcpu(vm, 0)->io[VCPU_IO_OUT].min_us, 3);
	atomic_store(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].min_us, 2);
	atomic_store(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].max_us, 9);
	atomic_store(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].sum_us, 11);
	counter_inc(&vm_vcpu(vm, 1)->exits[VCPU_EXIT_INTERNAL_ERROR]);
	assert_int_equal(metrics_write_line(p[1], vm), 0);
	j = read_line(p[0]);
	assert_non_null(j);
	assert_true(jint(j, "utc_timestamp_ms") > 1600000000000LL);
	/* Firecracker's groups and names; its aggregates: min and max over the vCPUs. */
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_out"), 1);
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_in"), 0);
	assert_int_equal(jint(json_object_get(j, "vcpu"), "failures"), 1);
	assert_int_equal(
		jint(json_object_get(json_object_get(j, "vcpu"), "exit_io_out_agg"), "min_us"), 2);
	assert_int_equal(
		jint(json_object_get(json_object_get(j, "vcpu"), "exit_io_out_agg"), "max_us"), 9);
	assert_int_equal(
		jint(json_object_get(json_object_get(j, "vcpu"), "exit_io_out_agg"), "sum_us"), 11);
	assert_int_equal(jint(json_object_get(j, "uart"), "write_count"), 0);
	assert_int_equal(json_object_size(json_object_get(j, "put_api_requests")), 26);
	assert_int_equal(json_object_size(j), 23); /* the timestamp and 22 groups */
	json_decref(j);
	/* Before InstanceStart: the same shape, zeros. */
	assert_int_equal(metrics_write_line(p[1], NULL), 0);
	j = read_line(p[0]);
	assert_int_equal(json_object_size(j), 23); /* the timestamp and 22 groups */
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_out"), 0);
	json_decref(j);
	close(p[0]);
	close(p[1]);

	/* The sink: deltas since the previous line. */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/metrics", dir);
	/* As Firecracker: the file must exist; mvm never creates it. */
	assert_int_equal(PTR_ERR(metrics_open(path)), -ENOENT);
	assert_int_equal(access(path, F_OK), -1);
	rfd = open(path, O_RDONLY | O_CREAT | O_EXCL, 0600);
	assert_true(rfd >= 0);
	close(rfd);
	m = metrics_open(path);
	assert_false(IS_ERR(m));
	rfd = open(path, O_RDONLY);
	assert_true(rfd >= 0);
	metrics_set_vm(m, vm);
	assert_int_equal(metrics_flush(m), 0);
	j = read_line(rfd);
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_out"), 1);
	json_decref(j);
	counter_inc(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].count);
	counter_inc(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].count);
	atomic_store(&vm_vcpu(vm, 1)->io[VCPU_IO_OUT].sum_us, 15);
	assert_int_equal(metrics_flush(m), 0);
	j = read_line(rfd);
	/* Counters are deltas; min and max (store metrics) are not. */
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_out"), 2);
	assert_int_equal(jint(json_object_get(j, "vcpu"), "failures"), 0);
	assert_int_equal(
		jint(json_object_get(json_object_get(j, "vcpu"), "exit_io_out_agg"), "sum_us"), 4);
	assert_int_equal(
		jint(json_object_get(json_object_get(j, "vcpu"), "exit_io_out_agg"), "max_us"), 9);
	json_decref(j);
	/* Detaching the VM writes its last figures. */
	metrics_set_vm(m, NULL);
	j = read_line(rfd);
	assert_int_equal(jint(json_object_get(j, "vcpu"), "exit_io_out"), 0);
	json_decref(j);
	metrics_close(m);
	close(rfd);
	unlink(path);

	/* A FIFO nobody reads is refused at once, not waited on. */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(PTR_ERR(metrics_open(path)), -ENXIO);
	unlink(path);
	/* A symlink is not followed, a directory is not a sink. */
	assert_int_equal(symlink("/dev/null", path), 0);
	assert_int_equal(PTR_ERR(metrics_open(path)), -ELOOP);
	unlink(path);
	assert_int_equal(PTR_ERR(metrics_open(dir)), -EISDIR);
	rmdir(dir);
	vm_destroy(vm);
}

static void test_metrics_periodic(void **state)
{
	static char buf[65536];
	char dir[] = "/tmp/mvm-unit-XXXXXX", path[64];
	struct pollfd pfd;
	struct metrics *m;
	size_t got = 0;
	int lines = 0;
	json_t *j;
	char *nl;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* A FIFO with a reader: the timer writes to it on its own, no flush asked. */
	pfd.fd = open(path, O_RDONLY | O_NONBLOCK);
	pfd.events = POLLIN;
	assert_true(pfd.fd >= 0);
	m = metrics_open_period(path, 20);
	assert_false(IS_ERR(m));
	/* Waits for two lines (bounded: 20 s), asserts nothing about the time taken. */
	while (lines < 2 && poll(&pfd, 1, 20000) == 1) {
		ssize_t n = read(pfd.fd, buf + got, sizeof(buf) - 1 - got);

		if (n <= 0)
			continue;
		got += (size_t)n;
		buf[got] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			j = json_loads(buf, 0, NULL);
			assert_non_null(j);
			assert_true(jint(j, "utc_timestamp_ms") > 0);
			json_decref(j);
			lines++;
			got -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, got + 1);
		}
	}
	assert_true(lines >= 2);
	metrics_close(m);
	close(pfd.fd);
	unlink(path);
	rmdir(dir);
	assert_true(IS_ERR(metrics_open_period(path, 0)));
}

static char rt_dir[] = "/tmp/mvm-rt-XXXXXX";

static int rt_setup(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(rt_dir));
	setenv("XDG_RUNTIME_DIR", rt_dir, 1);
	return 0;
}

static int rt_teardown(void **state)
{
	char cmd[64];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", rt_dir);
	assert_int_equal(system(cmd), 0);
	unsetenv("XDG_RUNTIME_DIR");
	return 0;
}

static int count_cb(void *opaque, const struct runtime_entry *e)
{
	(void)e;
	(*(int *)opaque)++;
	return 0;
}

static pid_t dead_pid(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	return pid;
}

static void test_runtime(void **state)
{
	char path[256], sock[108];
	struct runtime_entry e;
	int n = 0;
	FILE *f;

	(void)state;
	assert_int_equal(runtime_sock_path("vm1", sock, sizeof(sock)), 0);
	snprintf(path, sizeof(path), "%s/mvm/vm1.sock", rt_dir);
	assert_string_equal(sock, path);

	assert_int_equal(runtime_register("vm1", sock), 0);
	snprintf(path, sizeof(path), "%s/mvm/vm1.json", rt_dir);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(runtime_lookup("vm1", &e), 0);
	assert_int_equal(e.pid, getpid());
	assert_string_equal(e.sock, sock);
	/* The id is taken by a live process (this one). */
	assert_int_equal(runtime_register("vm1", "/x.sock"), -EEXIST);
	assert_int_equal(runtime_register("", sock), -EINVAL);
	assert_int_equal(runtime_register("a/b", sock), -EINVAL);
	assert_int_equal(runtime_register(".hidden", sock), -EINVAL);
	assert_int_equal(runtime_lookup("nosuch", &e), -ENOENT);

	/* A stale entry (dead pid) is not listed, and is removed. */
	snprintf(path, sizeof(path), "%s/mvm/old.json", rt_dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "{\"id\": \"old\", \"pid\": %d, \"socket\": \"/nowhere\"}", (int)dead_pid());
	fclose(f);
	assert_int_equal(runtime_lookup("old", &e), -ENOENT);
	assert_int_equal(runtime_list(count_cb, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(access(path, F_OK), -1);
	/* A malformed entry is skipped, not fatal. */
	snprintf(path, sizeof(path), "%s/mvm/junk.json", rt_dir);
	f = fopen(path, "w");
	fputs("not json", f);
	fclose(f);
	assert_int_equal(runtime_list(NULL, NULL), 1);

	/* A stale entry of the same id is replaced on register. */
	runtime_unregister("vm1");
	snprintf(path, sizeof(path), "%s/mvm/vm1.json", rt_dir);
	assert_int_equal(access(path, F_OK), -1);
	f = fopen(path, "w");
	fprintf(f, "{\"id\": \"vm1\", \"pid\": %d, \"socket\": \"/old\"}", (int)dead_pid());
	fclose(f);
	assert_int_equal(runtime_register("vm1", sock), 0);
	assert_int_equal(runtime_lookup("vm1", &e), 0);
	assert_string_equal(e.sock, sock);
	runtime_unregister("vm1");
	runtime_unregister("vm1"); /* twice is fine */
	/* A relative socket path is stored absolute: clients run from anywhere. */
	assert_int_equal(runtime_register("rel", "x/rel.sock"), 0);
	assert_int_equal(runtime_lookup("rel", &e), 0);
	assert_true(e.sock[0] == '/');
	assert_non_null(strstr(e.sock, "/x/rel.sock"));
	runtime_unregister("rel");
	assert_int_equal(runtime_list(NULL, NULL), 0);
}

static void test_log_format(void **state)
{
	enum mvm_log_level level;
	int p[2], old = mvm_log_get_level();
	char buf[512];
	regex_t re;
	bool off;
	ssize_t n;

	(void)state;
	assert_int_equal(mvm_log_level_parse("Warning", &level, &off), 0);
	assert_int_equal(level, MVM_LOG_WARN);
	assert_false(off);
	assert_int_equal(mvm_log_level_parse("trace", &level, &off), 0);
	assert_int_equal(level, MVM_LOG_DEBUG);
	assert_int_equal(mvm_log_level_parse("Off", &level, &off), 0);
	assert_true(off);
	assert_int_equal(mvm_log_level_parse("loud", &level, &off), -EINVAL);

	assert_int_equal(pipe(p), 0);
	mvm_log_set_fd(p[1]);
	mvm_log_set_level(MVM_LOG_INFO);
	mvm_log_set_id("vm-42");
	pr_info("hello %d", 7);
	pr_debug("filtered out");
	mvm_log_set_off(true);
	pr_err("off: not written");
	mvm_log_set_off(false);
	/* Firecracker's show_level off, show_log_origin on: the call site instead. */
	mvm_log_set_options(false, true);
	pr_warn("from %s", "here");
	mvm_log_set_options(true, false);
	mvm_log_set_fd(-1); /* closes p[1] */
	mvm_log_set_id(NULL);
	mvm_log_set_level(old);
	n = read(p[0], buf, sizeof(buf) - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	close(p[0]);
	assert_int_equal(
		regcomp(&re,
			"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "
			"\\[vm-42:main:INFO\\] hello 7\n"
			"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9} "
			"\\[vm-42:main:tests/unit/test_control\\.c:[0-9]+\\] from here\n$",
			REG_EXTENDED | REG_NOSUB),
		0);
	if (regexec(&re, buf, 0, NULL, 0))
		fail_msg("log line: '%s'", buf);
	regfree(&re);
}

static void test_pause_not_running(void **state)
{
	struct vm *vm = stats_vm(NULL);

	(void)state;
	/* No vCPU thread runs: nothing to pause or resume. */
	assert_int_equal(vm_pause(vm), -EINVAL);
	assert_int_equal(vm_resume(vm), -EINVAL);
	assert_false(vm_is_paused(vm));
	vm_destroy(vm);
}

static uint8_t pio_in(struct vm *vm, uint16_t port)
{
	uint8_t v = 0;

	assert_true(bus_access(&vm->buses[MVM_BUS_PIO], port, &v, 1, false));
	return v;
}

static void pio_out(struct vm *vm, uint16_t port, uint8_t v)
{
	assert_true(bus_access(&vm->buses[MVM_BUS_PIO], port, &v, 1, true));
}

static void test_ctrl_alt_del(void **state)
{
	static const struct platform_device_desc d = { "i8042", "i8042", MVM_BUS_PIO, 0x60, 5, 1 };
	static const uint8_t seq[] = { 0x14, 0x11, 0xe0, 0x71 };
	struct vm *vm = stats_vm(NULL);
	struct mvm_device *kbd;
	unsigned int i;

	(void)state;
	/* No i8042 on the fake platform yet: the helper says so. */
	assert_int_equal(vm_send_ctrl_alt_del(vm), -ENODEV);
	kbd = i8042_create(vm, &d);
	assert_false(IS_ERR(kbd));
	assert_int_equal(pio_in(vm, 0x64) & 1, 0); /* output buffer empty */
	/* Keyboard interrupts on (command byte bit 0): the IRQ goes to the fake KVM. */
	pio_out(vm, 0x64, 0x60);
	pio_out(vm, 0x60, 0x01);
	assert_int_equal(vm_send_ctrl_alt_del(vm), 0);
	/* The guest reads Ctrl, Alt, Del (set 2 make codes), in order, then nothing. */
	for (i = 0; i < sizeof(seq); i++) {
		assert_int_equal(pio_in(vm, 0x64) & 1, 1);
		assert_int_equal(pio_in(vm, 0x60), seq[i]);
	}
	assert_int_equal(pio_in(vm, 0x64) & 1, 0);
	/* A command reply still works after the sequence; a full FIFO refuses. */
	pio_out(vm, 0x64, 0xaa);
	assert_int_equal(pio_in(vm, 0x60), 0x55);
	for (i = 0; i < 4; i++)
		assert_int_equal(vm_send_ctrl_alt_del(vm), 0);
	assert_int_equal(vm_send_ctrl_alt_del(vm), -ENOSPC);
	vm_destroy(vm); /* the VM's device list owns the i8042 */
}

int run_control_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stats_json),
		cmocka_unit_test(test_devices_json),
		cmocka_unit_test(test_prometheus),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_metrics_periodic),
		cmocka_unit_test_setup_teardown(test_runtime, rt_setup, rt_teardown),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test(test_pause_not_running),
		cmocka_unit_test(test_ctrl_alt_del),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
