// SPDX-License-Identifier: MIT
/*
 * The VMM process's state (struct vmm): the pending configuration the API
 * fills, the instance state, the VM once InstanceStart built it, the logger
 * and metrics settings. Requests run under vmm->lock on the API thread; the
 * main thread meets them only in vmm_wait_start(), vmm_attach_vm() and
 * vmm_detach_vm().
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "api_internal.h"
#include "mvm/mmds.h"
#include "messages.h"
#include "mvm/control.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/snapshot.h"
#include "mvm/sys.h"
#include "mvm/version.h"

static void vmm_wake_main(struct vmm *vmm)
{
	uint64_t one = 1;

	if (write(vmm->start_fd, &one, sizeof(one)) < 0)
		pr_warn("waking the main thread: %s", strerror(errno));
}

/* A file (appended to) or a FIFO with a reader: O_NONBLOCK, never waited on. */
static int serial_open(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NONBLOCK | O_CLOEXEC, 0600);

	return fd < 0 ? -errno : fd;
}

static const struct vmm_hooks default_hooks = {
	.boot = vm_boot,
	.restore = vm_restore,
	.metrics_open = metrics_open,
	.log_set_path = mvm_log_set_path,
	.serial_open = serial_open,
	.exit_request = vmm_wake_main,
};

/*
 * The rules of VM names and runtime entries (no '/', no leading '.'), and
 * printable ASCII: the id names files and is a JSON string in answers.
 */
static bool id_valid(const char *id)
{
	size_t i, n = strlen(id);

	if (n == 0 || n >= MVM_VM_NAME_SIZE || id[0] == '.')
		return false;
	for (i = 0; i < n; i++)
		if (!isprint((unsigned char)id[i]) || id[i] == '/')
			return false;
	return true;
}

struct vmm *vmm_create_hooked(const char *id, const struct vmm_hooks *hooks)
{
	struct vmm *vmm;

	if (id && !id_valid(id)) {
		pr_err("instance id '%s' is not valid: 1-%d printable ASCII characters, no '/', "
		       "not starting with '.'",
		       id, MVM_VM_NAME_SIZE - 1);
		return ERR_PTR(-EINVAL);
	}
	vmm = mvm_zalloc(sizeof(*vmm));
	if (!vmm)
		return ERR_PTR(-ENOMEM);
	vmm->start_fd = mvm_eventfd(0, EFD_NONBLOCK);
	if (vmm->start_fd < 0) {
		int err = -errno;

		pr_err("eventfd: %s", strerror(-err));
		free(vmm);
		return ERR_PTR(err);
	}
	pthread_mutex_init(&vmm->lock, NULL);
	pthread_mutex_init(&vmm->run_lock, NULL);
	pthread_cond_init(&vmm->run_cond, NULL);
	if (id)
		snprintf(vmm->id, sizeof(vmm->id), "%s", id);
	else
		snprintf(vmm->id, sizeof(vmm->id), "mvm-%d", (int)getpid());
	vmm->app_name = "mvm";
	vmm->app_version = MVM_VERSION;
	vmm->start_us = vmm->start_cpu_us = vmm->parent_cpu_us = -1;
	vmm->serial_fd = -1;
	mvm_config_init(&vmm->cfg);
	vmm->cfg.console_out = STDOUT_FILENO;
	/* As Firecracker: virtio-mmio unless --enable-pci. */
	vmm->cfg.transport = MVM_TRANSPORT_MMIO;
	vmm->mmds = mmds_create(MMDS_DEFAULT_LIMIT);
	if (!vmm->mmds) {
		pthread_cond_destroy(&vmm->run_cond);
		pthread_mutex_destroy(&vmm->run_lock);
		pthread_mutex_destroy(&vmm->lock);
		close(vmm->start_fd);
		free(vmm);
		return ERR_PTR(-ENOMEM);
	}
	vmm->cfg.mmds = vmm->mmds;
	vmm->hooks = default_hooks;
	if (hooks) {
		if (hooks->boot)
			vmm->hooks.boot = hooks->boot;
		if (hooks->metrics_open)
			vmm->hooks.metrics_open = hooks->metrics_open;
		if (hooks->log_set_path)
			vmm->hooks.log_set_path = hooks->log_set_path;
		if (hooks->serial_open)
			vmm->hooks.serial_open = hooks->serial_open;
		if (hooks->restore)
			vmm->hooks.restore = hooks->restore;
		if (hooks->exit_request)
			vmm->hooks.exit_request = hooks->exit_request;
	}
	return vmm;
}

struct vmm *vmm_create(const char *id)
{
	return vmm_create_hooked(id, NULL);
}

void vmm_destroy(struct vmm *vmm)
{
	if (IS_ERR_OR_NULL(vmm))
		return;
	metrics_close(vmm->metrics);
	mmds_destroy(vmm->mmds);
	free(vmm->kernel);
	free(vmm->cmdline);
	free(vmm->initrd);
	free(vmm->boot_cmdline);
	free(vmm->cpu_template);
	if (vmm->serial_fd >= 0)
		close(vmm->serial_fd);
	free(vmm->log_path);
	free(vmm->metrics_path);
	close(vmm->start_fd);
	pthread_cond_destroy(&vmm->run_cond);
	pthread_mutex_destroy(&vmm->run_lock);
	pthread_mutex_destroy(&vmm->lock);
	free(vmm);
}

const char *vmm_id(const struct vmm *vmm)
{
	return vmm->id;
}

void vmm_set_console(struct vmm *vmm, int in, int out)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->cfg.console_in = in;
	vmm->cfg.console_out = out;
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_set_app(struct vmm *vmm, const char *app_name, const char *version)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->app_name = app_name;
	vmm->app_version = version;
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_set_start_times(struct vmm *vmm, int64_t start_us, int64_t start_cpu_us,
			 int64_t parent_cpu_us)
{
	struct timespec now, cpu;
	int64_t d;

	pthread_mutex_lock(&vmm->lock);
	vmm->start_us = start_us;
	vmm->start_cpu_us = start_cpu_us;
	vmm->parent_cpu_us = parent_cpu_us;
	pthread_mutex_unlock(&vmm->lock);
	/*
	 * As Firecracker's process_startup_time_us (since start_us on the
	 * monotonic clock) and _cpu_us (this process's and its parent's CPU time
	 * since start_cpu_us), taken as the API is about to serve.
	 */
	clock_gettime(CLOCK_MONOTONIC, &now);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
	d = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000 - start_us;
	if (start_us >= 0 && d >= 0)
		atomic_store(&vmm->api_metrics.startup_us, (uint64_t)d);
	d = (int64_t)cpu.tv_sec * 1000000 + cpu.tv_nsec / 1000 +
	    (parent_cpu_us > 0 ? parent_cpu_us : 0) - start_cpu_us;
	if (start_cpu_us >= 0 && d >= 0)
		atomic_store(&vmm->api_metrics.startup_cpu_us, (uint64_t)d);
}

int vmm_request(struct vmm *vmm, const char *method, const char *url, const char *body, char *err,
		size_t len)
{
	struct api_response r;
	json_t *j;
	int ret = 0;

	api_handle(vmm, method, url, body, body ? strlen(body) : 0, &r);
	if (r.status >= 300) {
		j = r.body ? json_loads(r.body, 0, NULL) : NULL;
		snprintf(err, len, "%s",
			 json_string_value(json_object_get(j, "fault_message")) ?: "error");
		json_decref(j);
		ret = -EINVAL;
	}
	api_response_free(&r);
	return ret;
}

void vmm_set_transport(struct vmm *vmm, enum mvm_transport transport)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->cfg.transport = transport;
	pthread_mutex_unlock(&vmm->lock);
}

void vmm_set_boot_timer(struct vmm *vmm, bool on)
{
	pthread_mutex_lock(&vmm->lock);
	vmm->cfg.boot_timer = on;
	pthread_mutex_unlock(&vmm->lock);
}

static void vmm_set_run_state(struct vmm *vmm, int state)
{
	pthread_mutex_lock(&vmm->run_lock);
	if (vmm->run_state == 0 || state < 0)
		vmm->run_state = state;
	pthread_cond_broadcast(&vmm->run_cond);
	pthread_mutex_unlock(&vmm->run_lock);
}

void vmm_ask_exit(struct vmm *vmm)
{
	pthread_mutex_lock(&vmm->run_lock);
	vmm->exit_asked = true;
	pthread_mutex_unlock(&vmm->run_lock);
	vmm->hooks.exit_request(vmm);
}

void vmm_instance_start(struct vmm *vmm, struct api_response *r, bool wait)
{
	struct mvm_config cfg;
	char why[512];
	struct vm *vm;

	if (!vmm->boot_source_set) {
		api_fault(r, 400, MSG_NO_KERNEL);
		return;
	}
	/* The strings stay owned by vmm, unchanged from now on (pre-boot requests end). */
	cfg = vmm->cfg;
	cfg.name = vmm->id;
	cfg.kernel = vmm->kernel;
	cfg.cmdline = vmm->cmdline;
	/* As in Firecracker, boot_args is the whole command line; mvm's default only without it. */
	cfg.no_default_cmdline = vmm->cmdline != NULL;
	cfg.initrd = vmm->initrd;
	free(vmm->boot_cmdline);
	if (vmm_root_device(&cfg, vmm->cmdline, &vmm->boot_cmdline)) {
		api_fault(r, 500, MSG_OUT_OF_MEMORY);
		return;
	}
	if (vmm->boot_cmdline)
		cfg.cmdline = vmm->boot_cmdline;
	if (vmm->serial_fd >= 0)
		cfg.console_out = vmm->serial_fd;
	vmm->cfg = cfg;
	/*
	 * vm_boot() on the API thread: the answer is the boot's outcome, with
	 * the reason the boot logged where it failed (mvm_log_capture).
	 */
	mvm_log_capture(why, sizeof(why));
	vm = vmm->hooks.boot(&cfg);
	mvm_log_capture(NULL, 0);
	if (IS_ERR_OR_NULL(vm)) {
		int err = vm ? (int)-PTR_ERR(vm) : ENOMEM;

		api_fault(r, 400, MSG_START_FAILED, why[0] ? why : strerror(err));
		return;
	}
	vmm_hand_off(vmm, vm, wait);
	api_no_content(r);
}

void vmm_hand_off(struct vmm *vmm, struct vm *vm, bool wait)
{
	vmm->vm = vm;
	vmm->state = VMM_RUNNING;
	if (vmm->metrics)
		metrics_set_vm(vmm->metrics, vm);
	pthread_mutex_lock(&vmm->run_lock);
	vmm->handoff = vm;
	pthread_mutex_unlock(&vmm->run_lock);
	vmm_wake_main(vmm);
	/* As Firecracker's InstanceStart: answered once the vCPUs run. */
	pthread_mutex_lock(&vmm->run_lock);
	while (wait && vmm->run_state == 0)
		pthread_cond_wait(&vmm->run_cond, &vmm->run_lock);
	pthread_mutex_unlock(&vmm->run_lock);
}

/* A one-shot loop handler: the loop runs, so vm_run() has started every vCPU. */
struct vmm_started {
	struct loop_handler h;
	struct vmm *vmm;
	struct vm *vm;
};

static void vmm_started_fn(struct loop_handler *h, uint32_t events)
{
	struct vmm_started *s = container_of(h, struct vmm_started, h);

	loop_del(&s->vm->loop, h);
	vmm_set_run_state(s->vmm, 1);
}

int vmm_run_vm(struct vmm *vmm, struct vm *vm)
{
	struct vmm_started s = { .h = { .fn = vmm_started_fn }, .vmm = vmm, .vm = vm };
	int err;

	/*
	 * Readable from the start: fires on the loop's first round. Without it
	 * InstanceStart could not tell when to answer: the VM does not run
	 * (as when vm_run() cannot start it), and the waiting request is released.
	 */
	s.h.fd = mvm_eventfd(1, EFD_NONBLOCK);
	if (s.h.fd < 0) {
		err = -errno;
		pr_err("eventfd: %s", strerror(-err));
		goto out;
	}
	err = loop_add(&vm->loop, &s.h, EPOLLIN);
	if (err)
		goto out_close;
	err = vm_run(vm);
	loop_del(&vm->loop, &s.h);
out_close:
	close(s.h.fd);
out:
	vmm_set_run_state(vmm, -1);
	return err;
}

int vmm_wait_start(struct vmm *vmm, int sigfd, struct vm **vm)
{
	struct pollfd p[2] = {
		{ .fd = vmm->start_fd, .events = POLLIN },
		{ .fd = sigfd, .events = POLLIN },
	};

	*vm = NULL;
	for (;;) {
		bool exit_asked;
		uint64_t v;

		if (poll(p, sigfd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sigfd, &si, sizeof(si)) == sizeof(si))
				return (int)si.ssi_signo;
		}
		if (p[0].revents & POLLIN) {
			if (read(vmm->start_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				return -errno;
			pthread_mutex_lock(&vmm->run_lock);
			*vm = vmm->handoff;
			exit_asked = vmm->exit_asked;
			pthread_mutex_unlock(&vmm->run_lock);
			if (*vm || exit_asked)
				return 0;
		}
	}
}

int vmm_attach_vm(struct vmm *vmm, struct vm *vm)
{
	int err = 0;

	pthread_mutex_lock(&vmm->lock);
	if (vmm->state != VMM_NOT_STARTED) {
		err = -EBUSY;
	} else {
		vmm->vm = vm;
		vmm->state = VMM_RUNNING;
		vmm->cfg = vm->cfg;
		/* What GET /vm/config shows; the strings are the caller's. */
		vmm->boot_source_set = vm->cfg.kernel != NULL;
		vmm->kernel = vm->cfg.kernel ? strdup(vm->cfg.kernel) : NULL;
		vmm->cmdline = vm->cfg.cmdline ? strdup(vm->cfg.cmdline) : NULL;
		snprintf(vmm->id, sizeof(vmm->id), "%s", vm->name);
		if (vmm->metrics)
			metrics_set_vm(vmm->metrics, vm);
	}
	pthread_mutex_unlock(&vmm->lock);
	return err;
}

struct vm *vmm_detach_vm(struct vmm *vmm)
{
	struct vm *vm;

	/* An InstanceStart waiting for the vCPUs must not wait for ever. */
	vmm_set_run_state(vmm, -1);
	pthread_mutex_lock(&vmm->lock);
	vm = vmm->vm;
	if (vmm->metrics)
		metrics_set_vm(vmm->metrics, NULL);
	vmm->vm = NULL;
	vmm->state = VMM_STOPPED;
	pthread_mutex_unlock(&vmm->lock);
	return vm;
}
