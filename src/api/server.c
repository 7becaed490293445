// SPDX-License-Identifier: MIT
/*
 * The HTTP side of the API: libmicrohttpd on a Unix socket that mvm creates,
 * binds and listens on itself, handed over with MHD_OPTION_LISTEN_SOCKET.
 *
 * Deviation from DESIGN.md §3 (the API on the VM's event loop): the server
 * runs on libmicrohttpd's own internal polling thread (epoll) instead. The
 * API exists before the VM (configuration, InstanceStart builds the VM and
 * its loop) and outlives it (requests during teardown get an answer), so it
 * cannot live on a loop the VM owns. Requests are served one at a time on
 * that thread, under vmm->lock.
 *
 * Bodies are capped at MVM_API_BODY_MAX (Firecracker's 51200 bytes): a
 * larger Content-Length is refused before the body is read (413), a larger
 * chunked body is read and dropped, then refused. Idle connections time out
 * (a client that sends half a request and stalls), and the number of
 * connections is bounded; neither stops others from being served.
 */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <dlfcn.h>
#include <microhttpd.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/err.h"
#include "mvm/log.h"
#include "mvm/mmds.h"
#include "mvm/sandbox.h"
#include "mvm/sys.h"

#define API_TIMEOUT_DEFAULT   10
#define API_MAX_CONNS_DEFAULT 256

/*
 * libmicrohttpd is loaded with dlopen() when the first server starts, not
 * linked: Debian builds it against GnuTLS, and the dozen libraries that
 * brings would be loaded and relocated at every exec of mvm, before the
 * guest's first instruction (measured: 2x the raw-KVM floor to the first
 * output, 3 MiB more RSS). Loaded once per process, never unloaded.
 */
#define LIBMHD_SONAME "libmicrohttpd.so.12"

static struct {
	struct MHD_Daemon *(*start_daemon)(unsigned int flags, uint16_t port,
					   MHD_AcceptPolicyCallback apc, void *apc_cls,
					   MHD_AccessHandlerCallback dh, void *dh_cls, ...);
	void (*stop_daemon)(struct MHD_Daemon *d);
	struct MHD_Response *(*create_response_from_buffer)(size_t size, void *buffer,
							    enum MHD_ResponseMemoryMode mode);
	enum MHD_Result (*add_response_header)(struct MHD_Response *r, const char *header,
					       const char *content);
	enum MHD_Result (*queue_response)(struct MHD_Connection *c, unsigned int status,
					  struct MHD_Response *r);
	void (*destroy_response)(struct MHD_Response *r);
	const char *(*lookup_connection_value)(struct MHD_Connection *c, enum MHD_ValueKind kind,
					       const char *key);
	bool loaded;
} mhd;

static void mhd_load(void)
{
	void *h = dlopen(LIBMHD_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	mhd.start_daemon = dlsym(h, "MHD_start_daemon");
	mhd.stop_daemon = dlsym(h, "MHD_stop_daemon");
	mhd.create_response_from_buffer = dlsym(h, "MHD_create_response_from_buffer");
	mhd.add_response_header = dlsym(h, "MHD_add_response_header");
	mhd.queue_response = dlsym(h, "MHD_queue_response");
	mhd.destroy_response = dlsym(h, "MHD_destroy_response");
	mhd.lookup_connection_value = dlsym(h, "MHD_lookup_connection_value");
	mhd.loaded = mhd.start_daemon && mhd.stop_daemon && mhd.create_response_from_buffer &&
		     mhd.add_response_header && mhd.queue_response && mhd.destroy_response &&
		     mhd.lookup_connection_value;
}

struct api_server {
	struct vmm *vmm;
	struct MHD_Daemon *mhd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev; /* the socket file we created: removed only if still ours */
	ino_t ino;
	size_t body_max; /* bytes of a request body */
	int fd;		 /* the listening socket (MHD's once started) */
	int wake;	 /* eventfd: stop waiting for a first connection */
	pthread_t start_thread;
	unsigned int timeout, conns;
	bool filtered; /* made by a thread under a filter: its start thread may map no code */
	/* Requests begun and not completed: answers are drained before the stop. */
	pthread_mutex_t lock;
	pthread_cond_t idle;
	unsigned int inflight;
};

/* At most this long for in-flight answers (a stalled client's) when stopping. */
#define API_DRAIN_MS 2000

/* One request's upload. */
struct api_request {
	char *buf;
	size_t len;
	bool too_large;
};

/* ---- the socket ---- */

/* Someone listens on path? A refused connection means a stale socket. */
static bool socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ||
	       (errno != ECONNREFUSED && errno != ENOENT);
	close(fd);
	return live;
}

static int api_socket_create(struct api_server *srv, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, err;

	if (!*path || strlen(path) >= sizeof(sa.sun_path)) {
		pr_err("API socket path '%s': must be 1 to %zu bytes long", path,
		       sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = mvm_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		err = -errno;
		pr_err("API socket: %s", strerror(-err));
		return err;
	}
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	if (err == -EADDRINUSE) {
		if (lstat(path, &st) || !S_ISSOCK(st.st_mode)) {
			pr_err("API socket path '%s' exists and is not a socket: refusing to "
			       "replace it",
			       path);
			err = -EEXIST;
			goto err_close;
		}
		if (socket_is_live(&sa)) {
			/* Firecracker's words: orchestrators look for them in the log. */
			pr_err(MSG_SOCKET_IN_USE, path);
			goto err_close;
		}
		pr_info("API socket '%s': replacing a stale socket nobody listens on", path);
		unlink(path);
		err = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	}
	if (err) {
		pr_err("cannot create the API socket '%s': %s", path, strerror(-err));
		goto err_close;
	}
	/* 0600 whatever the umask; nobody can connect before listen(). */
	if (chmod(path, 0600) < 0 || listen(fd, 128) < 0 || stat(path, &st) < 0) {
		err = -errno;
		pr_err("API socket '%s': %s", path, strerror(-err));
		unlink(path);
		goto err_close;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	snprintf(srv->path, sizeof(srv->path), "%s", path);
	return fd;

err_close:
	close(fd);
	return err;
}

static void api_socket_remove(struct api_server *srv)
{
	struct stat st;

	if (!stat(srv->path, &st) && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
}

/* ---- requests ---- */

static enum MHD_Result api_reply(struct MHD_Connection *c, struct api_response *r)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	size_t len = r->body ? strlen(r->body) : 0;

	resp = mhd.create_response_from_buffer(
		len, r->body, r->body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		api_response_free(r);
		return MHD_NO;
	}
	r->body = NULL; /* MHD frees it */
	if (r->content_type)
		mhd.add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, r->content_type);
	if (r->allow[0])
		mhd.add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (r->deprecated)
		mhd.add_response_header(resp, "Deprecation", "true");
	ret = mhd.queue_response(c, r->status, resp);
	mhd.destroy_response(resp);
	return ret;
}

static enum MHD_Result api_too_large(struct MHD_Connection *c, const char *method, const char *url,
				     size_t size, size_t limit)
{
	struct api_response r = { 0 };

	api_log_request(method, url, NULL, 0);
	api_fault(&r, 413, MSG_PAYLOAD_TOO_LARGE, size, limit);
	api_log_response(&r);
	return api_reply(c, &r);
}

static enum MHD_Result api_access(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct api_server *srv = cls;
	struct api_request *req = *con_cls;
	static __thread bool named;
	struct api_response r;

	/* MHD names its thread: it gets Firecracker's API thread's name on its first request. */
	if (!named) {
		pthread_setname_np(pthread_self(), "fc_api");
		named = true;
	}
	if (!req) {
		const char *cl = mhd.lookup_connection_value(c, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		req = calloc(1, sizeof(*req));
		if (!req)
			return MHD_NO;
		*con_cls = req;
		pthread_mutex_lock(&srv->lock);
		srv->inflight++;
		pthread_mutex_unlock(&srv->lock);
		/* Refused before reading it: MHD then closes the connection. */
		if (cl && strtoull(cl, NULL, 10) > srv->body_max) {
			req->too_large = true;
			return api_too_large(c, method, url, (size_t)strtoull(cl, NULL, 10),
					     srv->body_max);
		}
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		*upload_size = 0;
		if (req->too_large) {
			req->len += n; /* counted for the answer, dropped */
			return MHD_YES;
		}
		if (req->len + n > srv->body_max) {
			/* A chunked body: drop what comes, refuse at the end. */
			req->too_large = true;
			req->len += n;
			free(req->buf);
			req->buf = NULL;
			return MHD_YES;
		}
		if (!req->buf) {
			req->buf = malloc(srv->body_max + 1);
			if (!req->buf)
				return MHD_NO;
		}
		memcpy(req->buf + req->len, upload, n);
		req->len += n;
		return MHD_YES;
	}
	if (req->too_large)
		return api_too_large(c, method, url, req->len, srv->body_max);
	sandbox_note_thread(SANDBOX_API);
	api_log_request(method, url, req->buf, req->len);
	api_handle(srv->vmm, method, url, req->buf, req->len, &r);
	api_log_response(&r);
	return api_reply(c, &r);
}

static void api_completed(void *cls, struct MHD_Connection *c, void **con_cls,
			  enum MHD_RequestTerminationCode toe)
{
	struct api_server *srv = cls;
	struct api_request *req = *con_cls;

	if (req) {
		free(req->buf);
		free(req);
		*con_cls = NULL;
		pthread_mutex_lock(&srv->lock);
		if (--srv->inflight == 0)
			pthread_cond_broadcast(&srv->idle);
		pthread_mutex_unlock(&srv->lock);
	}
}

static void api_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	pr_debug("API server: %s", msg);
}

int api_server_preload(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, mhd_load);
	return mhd.loaded ? 0 : -ENOSYS;
}

/*
 * The first connection starts the HTTP server: until then a thread of ours
 * waits on the listening socket (connections queue in its backlog: the
 * socket accepts from the start), so an API process nobody talks to never
 * maps libmicrohttpd, GnuTLS and their dozen libraries (measured with
 * bench/api-footprint.sh). That thread is created before the caller enters
 * its sandbox, maps the library while it may still map code, then enters
 * the API's filter and starts MHD, whose thread inherits the filter. Made
 * by a thread under a filter already (mvm run's), it may map nothing: the
 * caller loaded the library first (api_server_preload()).
 */
/* Connections queued on a socket nobody will serve: closed, so their clients read EOF. */
static void api_refuse_queued(int fd)
{
	int flags = fcntl(fd, F_GETFL), c;

	if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return;
	while ((c = accept4(fd, NULL, NULL, SOCK_CLOEXEC)) >= 0)
		close(c);
}

static void *api_start_thread(void *arg)
{
	/* MHD's own failures (its thread, its epoll fd) are one fault site. */
	FAULT_SITE(mhd_site, "MHD_start_daemon");
	struct api_server *srv = arg;
	struct pollfd pfd[2] = { { .fd = srv->fd, .events = POLLIN },
				 { .fd = srv->wake, .events = POLLIN } };

	pthread_setname_np(pthread_self(), "api-start");
	while (poll(pfd, 2, -1) < 0)
		if (errno != EINTR)
			return NULL;
	if (pfd[1].revents)
		return NULL; /* stopped before anyone connected */
	if (srv->filtered ? !mhd.loaded : api_server_preload() < 0) {
		pr_err("API socket '%s': cannot load " LIBMHD_SONAME
		       " (apt-get install libmicrohttpd12)",
		       srv->path);
		goto err;
	}
	/* InstanceStart may build an MMDS: its library too, while code may be mapped. */
	if (!srv->filtered && mmds_net_preload())
		pr_warn("API socket '%s': no MMDS: libslirp.so.0 cannot be loaded", srv->path);
	if (sandbox_enter(SANDBOX_API))
		goto err;
	if (fault_should_fail(&mhd_site))
		goto err;
	srv->mhd = mhd.start_daemon(
		MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, 0, NULL, NULL,
		api_access, srv, MHD_OPTION_EXTERNAL_LOGGER, api_mhd_log, srv,
		MHD_OPTION_LISTEN_SOCKET, srv->fd, MHD_OPTION_CONNECTION_TIMEOUT, srv->timeout,
		MHD_OPTION_CONNECTION_LIMIT, srv->conns, MHD_OPTION_NOTIFY_COMPLETED, api_completed,
		srv, MHD_OPTION_END);
	if (srv->mhd)
		return NULL; /* MHD owns the listening socket now */
	pr_err("API socket '%s': libmicrohttpd did not start", srv->path);
err:
	/*
	 * Nobody will serve: new clients are refused, and the ones already
	 * queued in the backlog get EOF rather than wait forever.
	 */
	shutdown(srv->fd, SHUT_RDWR);
	api_refuse_queued(srv->fd);
	return NULL;
}

struct api_server *api_server_start(struct vmm *vmm, const char *path,
				    const struct api_server_opts *opts)
{
	struct api_server *srv;
	sigset_t all, old;
	int err;

	srv = mvm_zalloc(sizeof(*srv));
	if (!srv)
		return ERR_PTR(-ENOMEM);
	srv->vmm = vmm;
	srv->body_max = opts && opts->max_payload ? opts->max_payload : MVM_API_BODY_MAX;
	srv->timeout = opts && opts->timeout_s ? opts->timeout_s : API_TIMEOUT_DEFAULT;
	srv->conns = opts && opts->max_conns ? opts->max_conns : API_MAX_CONNS_DEFAULT;
	srv->filtered = sandbox_thread_filtered();
	pthread_mutex_init(&srv->lock, NULL);
	pthread_cond_init(&srv->idle, NULL);
	srv->fd = api_socket_create(srv, path);
	if (srv->fd < 0) {
		err = srv->fd;
		goto err_free;
	}
	srv->wake = mvm_eventfd(0, EFD_CLOEXEC);
	if (srv->wake < 0) {
		err = -errno;
		pr_err("API socket '%s': eventfd: %s", path, strerror(-err));
		goto err_socket;
	}
	/* Host signals are for the main thread: this one and MHD's inherit the mask. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = mvm_thread_create(&srv->start_thread, NULL, api_start_thread, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		err = -err;
		pr_err("API socket '%s': thread: %s", path, strerror(-err));
		goto err_wake;
	}
	return srv;

err_wake:
	close(srv->wake);
err_socket:
	close(srv->fd);
	api_socket_remove(srv);
err_free:
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
	return ERR_PTR(err);
}

void api_server_stop(struct api_server *srv)
{
	struct timespec deadline;

	if (IS_ERR_OR_NULL(srv))
		return;
	/*
	 * No new client finds the socket; the answers already being sent (the
	 * Stop that ends us, an InstanceStart whose guest ended at once) reach
	 * their clients before MHD_stop_daemon() closes every connection. A
	 * stalled client is waited for API_DRAIN_MS at most.
	 */
	api_socket_remove(srv);
	/* The start thread is done once it started MHD; else it waits for this. */
	if (write(srv->wake, &(uint64_t){ 1 }, sizeof(uint64_t)) < 0)
		pr_warn("API server: waking its start thread: %s", strerror(errno));
	pthread_join(srv->start_thread, NULL);
	close(srv->wake);
	if (!srv->mhd) {
		close(srv->fd);
		goto out;
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += API_DRAIN_MS / 1000;
	pthread_mutex_lock(&srv->lock);
	while (srv->inflight &&
	       pthread_cond_timedwait(&srv->idle, &srv->lock, &deadline) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&srv->lock);
	/* Joins MHD's thread and closes the listening socket. */
	mhd.stop_daemon(srv->mhd);
out:
	pthread_cond_destroy(&srv->idle);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}
