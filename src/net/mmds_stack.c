// SPDX-License-Identifier: MIT
/*
 * The MMDS's TCP/IP toward the guest, by libslirp (Debian's libslirp0, as
 * QEMU and podman use it) rather than a TCP stack of our own: a slirp
 * instance in restricted mode (it opens no host socket and forwards
 * nothing) on the link-local network, with one guest forward,
 * MMDS-address:80, whose bytes come to mmds_http_serve() in this process.
 * ARP for the MMDS address is answered by slirp. Only frames
 * mmds_stack_claims() picked reach slirp; everything else still goes to
 * the tap, and DHCP, DNS and IPv6 are off.
 *
 * A guest forward is one byte stream per address and port: slirp gives
 * us no connection identity, and answers go to its newest connection. So
 * requests are served one connection at a time, which is what HTTP clients
 * of a metadata service do; a new connection (a SYN) drops what an old one
 * left unfinished.
 *
 * slirp's TCP timers run from slirp_pollfds_fill/poll: the timeout it asks
 * for arms a timerfd on the VM's loop, and there is none while no
 * connection exists, so an idle MMDS costs nothing.
 *
 * libslirp (with glib and pcre2, ~0.8 MiB of RSS and its relocations at
 * every exec) is loaded with dlopen() by the first MMDS stack, or earlier by
 * mmds_net_preload() where a sandbox is about to forbid mapping code.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <pthread.h>
#include <errno.h>
#include <slirp/libslirp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "mvm/clock.h"
#include "mvm/compiler.h"
#include "mvm/log.h"
#include "mvm/loop.h"
#include "mvm/mmds.h"
#include "mvm/sandbox.h"
#include "mvm/sys.h"
#include "net/mmds_stack.h"

#define MMDS_PORT   80
#define ETH_HLEN    14
#define ETH_P_IPV4  0x0800
#define ETH_P_ARPV  0x0806
#define MAX_TIMERS  4
#define MAX_PENDING (256 * 1024) /* answer bytes waiting for the guest's window */

#define LIBSLIRP_SONAME "libslirp.so.0"

/* The libslirp calls made here, resolved once per process. */
static struct {
	__typeof__(slirp_new) *new_;
	__typeof__(slirp_cleanup) *cleanup;
	__typeof__(slirp_add_guestfwd) *add_guestfwd;
	__typeof__(slirp_remove_guestfwd) *remove_guestfwd;
	__typeof__(slirp_input) *input;
	__typeof__(slirp_pollfds_fill) *pollfds_fill;
	__typeof__(slirp_pollfds_poll) *pollfds_poll;
	__typeof__(slirp_handle_timer) *handle_timer;
	__typeof__(slirp_socket_recv) *socket_recv;
	__typeof__(slirp_socket_can_recv) *socket_can_recv;
	bool loaded;
} sl;

static pthread_once_t sl_once = PTHREAD_ONCE_INIT;

static void slirp_load(void)
{
	void *h = dlopen(LIBSLIRP_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h)
		return;
	sl.new_ = dlsym(h, "slirp_new");
	sl.cleanup = dlsym(h, "slirp_cleanup");
	sl.add_guestfwd = dlsym(h, "slirp_add_guestfwd");
	sl.remove_guestfwd = dlsym(h, "slirp_remove_guestfwd");
	sl.input = dlsym(h, "slirp_input");
	sl.pollfds_fill = dlsym(h, "slirp_pollfds_fill");
	sl.pollfds_poll = dlsym(h, "slirp_pollfds_poll");
	sl.handle_timer = dlsym(h, "slirp_handle_timer");
	sl.socket_recv = dlsym(h, "slirp_socket_recv");
	sl.socket_can_recv = dlsym(h, "slirp_socket_can_recv");
	sl.loaded = sl.new_ && sl.cleanup && sl.add_guestfwd && sl.remove_guestfwd && sl.input &&
		    sl.pollfds_fill && sl.pollfds_poll && sl.handle_timer && sl.socket_recv &&
		    sl.socket_can_recv;
}

int mmds_net_preload(void)
{
	pthread_once(&sl_once, slirp_load);
	return sl.loaded ? 0 : -ENOSYS;
}

struct stack_timer {
	bool used;
	int64_t expire_ms; /* -1: not armed */
	SlirpTimerId id;
	SlirpTimerCb cb;
	void *cb_opaque;
};

struct mmds_stack {
	pthread_mutex_t lock; /* slirp and the connection state */
	Slirp *slirp;
	struct mmds *mmds;
	struct in_addr ip, vhost;
	mmds_output_fn out;
	void *opaque;
	struct mvm_loop *loop;
	int timer_fd;
	struct loop_handler timer;
	struct stack_timer timers[MAX_TIMERS];

	/* The connection: request bytes so far, answer bytes slirp did not take yet. */
	char in[MMDS_HTTP_MAX_REQUEST];
	size_t in_len;
	bool closing; /* answered with Connection: close: ignore the rest */
	char *pending;
	size_t pending_len, pending_off;
};

static int64_t now_ns(void)
{
	return (int64_t)mvm_clock_ns(CLOCK_MONOTONIC);
}

/* ---- slirp's callbacks (under s->lock: slirp is only entered with it held) ---- */

static ssize_t cb_send_packet(const void *buf, size_t len, void *opaque)
{
	struct mmds_stack *s = opaque;

	counter_inc(&mmds_stats(s->mmds)->tx_frames);
	s->out(s->opaque, buf, len);
	return (ssize_t)len;
}

static void cb_guest_error(const char *msg, void *opaque)
{
	pr_debug("mmds: slirp: %s", msg);
}

static int64_t cb_clock_get_ns(void *opaque)
{
	return now_ns();
}

static void *cb_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
	struct mmds_stack *s = opaque;

	for (unsigned int i = 0; i < MAX_TIMERS; i++)
		if (!s->timers[i].used) {
			s->timers[i] = (struct stack_timer){ true, -1, id, NULL, cb_opaque };
			return &s->timers[i];
		}
	return NULL;
}

static void *cb_timer_new(SlirpTimerCb cb, void *cb_opaque, void *opaque)
{
	struct stack_timer *t = cb_timer_new_opaque(SLIRP_TIMER_NUM, cb_opaque, opaque);

	if (t)
		t->cb = cb;
	return t;
}

static void cb_timer_free(void *timer, void *opaque)
{
	if (timer)
		((struct stack_timer *)timer)->used = false;
}

static void cb_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
	if (timer)
		((struct stack_timer *)timer)->expire_ms = expire_ms;
}

static void cb_register_poll_fd(int fd, void *opaque)
{
}

static void cb_unregister_poll_fd(int fd, void *opaque)
{
}

static void cb_notify(void *opaque)
{
}

static int cb_add_poll(int fd, int events, void *opaque)
{
	return -1; /* restricted, guest forwards only: slirp has no sockets */
}

static int cb_get_revents(int idx, void *opaque)
{
	return 0;
}

/* Guest bytes on the MMDS connection: answer what is complete (sent later). */
static ssize_t cb_guest_bytes(const void *buf, size_t len, void *opaque)
{
	struct mmds_stack *s = opaque;
	size_t take;

	if (s->closing)
		return (ssize_t)len;
	take = MIN(len, sizeof(s->in) - s->in_len);
	memcpy(s->in + s->in_len, buf, take);
	s->in_len += take;
	for (;;) {
		char *resp;
		size_t rlen;
		bool close;
		long used = mmds_http_serve(s->mmds, s->in, s->in_len, (uint64_t)now_ns(), &resp,
					    &rlen, &close);

		if (resp && s->pending_len + rlen <= MAX_PENDING) {
			char *p = realloc(s->pending, s->pending_len + rlen);

			if (p) {
				memcpy(p + s->pending_len, resp, rlen);
				s->pending = p;
				s->pending_len += rlen;
			}
		}
		free(resp);
		if (used <= 0 || close) {
			if (used < 0 || close) {
				s->closing = true;
				s->in_len = 0;
			}
			break;
		}
		memmove(s->in, s->in + used, s->in_len - (size_t)used);
		s->in_len -= (size_t)used;
	}
	return (ssize_t)len;
}

/* ---- pumping ---- */

/* Hands slirp what of the answers its send window takes. */
static void flush_pending(struct mmds_stack *s)
{
	while (s->pending_off < s->pending_len) {
		size_t can = sl.socket_can_recv(s->slirp, s->ip, MMDS_PORT);
		size_t n = MIN(can, s->pending_len - s->pending_off);

		if (!n)
			return;
		sl.socket_recv(s->slirp, s->ip, MMDS_PORT,
			       (const uint8_t *)s->pending + s->pending_off, (int)n);
		s->pending_off += n;
	}
	free(s->pending);
	s->pending = NULL;
	s->pending_len = s->pending_off = 0;
}

/* Runs slirp's due timers, then arms ours for the next. */
static void stack_pump(struct mmds_stack *s)
{
	uint32_t timeout = UINT32_MAX;
	struct itimerspec its = { 0 };
	int64_t now_ms = now_ns() / 1000000, next = -1;

	for (unsigned int i = 0; i < MAX_TIMERS; i++) {
		struct stack_timer *t = &s->timers[i];

		if (!t->used || t->expire_ms < 0)
			continue;
		if (t->expire_ms <= now_ms) {
			t->expire_ms = -1;
			if (t->cb)
				t->cb(t->cb_opaque);
			else
				sl.handle_timer(s->slirp, t->id, t->cb_opaque);
		}
	}
	sl.pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	sl.pollfds_poll(s->slirp, 0, cb_get_revents, s);
	flush_pending(s);
	timeout = UINT32_MAX;
	sl.pollfds_fill(s->slirp, &timeout, cb_add_poll, s);
	if (timeout != UINT32_MAX)
		next = now_ms + timeout;
	for (unsigned int i = 0; i < MAX_TIMERS; i++)
		if (s->timers[i].used && s->timers[i].expire_ms >= 0 &&
		    (next < 0 || s->timers[i].expire_ms < next))
			next = s->timers[i].expire_ms;
	if (next >= 0) {
		int64_t ms = MAX(next - now_ms, 1);

		its.it_value.tv_sec = ms / 1000;
		its.it_value.tv_nsec = (ms % 1000) * 1000000;
	}
	timerfd_settime(s->timer_fd, 0, &its, NULL); /* zero: disarmed while idle */
}

static void stack_timer(struct loop_handler *h, uint32_t events)
{
	struct mmds_stack *s = container_of(h, struct mmds_stack, timer);
	uint64_t v;

	if (read(s->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	pthread_mutex_lock(&s->lock);
	stack_pump(s);
	pthread_mutex_unlock(&s->lock);
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

bool mmds_stack_claims(const struct mmds_stack *s, const uint8_t *f, size_t len)
{
	uint32_t ip;

	if (len < ETH_HLEN + 20)
		return false;
	if (rd16(f + 12) == ETH_P_IPV4) {
		memcpy(&ip, f + ETH_HLEN + 16, 4);
		return ip == s->ip.s_addr;
	}
	/* ARP for the MMDS, or the guest's answer to slirp's own ARP request. */
	if (rd16(f + 12) == ETH_P_ARPV && len >= ETH_HLEN + 28) {
		memcpy(&ip, f + ETH_HLEN + 24, 4);
		return ip == s->ip.s_addr || ip == s->vhost.s_addr;
	}
	return false;
}

/* A SYN to the MMDS port: a new connection, nothing of the old one is kept. */
static bool is_syn(const struct mmds_stack *s, const uint8_t *f, size_t len)
{
	size_t ihl;

	if (len < ETH_HLEN + 20 || rd16(f + 12) != ETH_P_IPV4 || f[ETH_HLEN + 9] != 6)
		return false;
	ihl = (size_t)(f[ETH_HLEN] & 0xf) * 4;
	if (ihl < 20 || len < ETH_HLEN + ihl + 14)
		return false;
	return rd16(f + ETH_HLEN + ihl + 2) == MMDS_PORT &&
	       (f[ETH_HLEN + ihl + 13] & 0x12) == 0x02; /* SYN without ACK */
}

void mmds_stack_input(struct mmds_stack *s, const uint8_t *frame, size_t len)
{
	if (len > INT32_MAX)
		return;
	counter_inc(&mmds_stats(s->mmds)->rx_frames);
	pthread_mutex_lock(&s->lock);
	if (is_syn(s, frame, len)) {
		s->in_len = 0;
		s->closing = false;
		free(s->pending);
		s->pending = NULL;
		s->pending_len = s->pending_off = 0;
	}
	sl.input(s->slirp, frame, (int)len);
	stack_pump(s);
	pthread_mutex_unlock(&s->lock);
}

static const SlirpCb stack_cbs = {
	.send_packet = cb_send_packet,
	.guest_error = cb_guest_error,
	.clock_get_ns = cb_clock_get_ns,
	.timer_new = cb_timer_new,
	.timer_free = cb_timer_free,
	.timer_mod = cb_timer_mod,
	.register_poll_fd = cb_register_poll_fd,
	.unregister_poll_fd = cb_unregister_poll_fd,
	.notify = cb_notify,
	.timer_new_opaque = cb_timer_new_opaque,
};

/* Another address of the link-local network for slirp itself (never the MMDS's). */
static struct in_addr other_addr(struct in_addr mmds, uint32_t low)
{
	struct in_addr a = { htonl((169u << 24) | (254u << 16) | (169u << 8) | low) };

	if (a.s_addr == mmds.s_addr)
		a.s_addr = htonl(ntohl(a.s_addr) - 8);
	return a;
}

struct mmds_stack *mmds_stack_create(struct mmds *m, uint32_t ipv4, struct mvm_loop *loop,
				     mmds_output_fn out, void *opaque)
{
	struct mmds_stack *s;
	SlirpConfig cfg = { 0 };
	bool filtered;

	/* Mapping code under a filter would kill the process: only before any. */
	filtered = sandbox_thread_filtered();
	if (filtered ? !sl.loaded : mmds_net_preload() < 0) {
		pr_err("MMDS: " LIBSLIRP_SONAME " %s",
		       filtered ? "was not loaded before the sandbox"
				: "cannot be loaded (apt-get install libslirp0)");
		return NULL;
	}
	s = mvm_zalloc(sizeof(*s));
	if (!s)
		return NULL;
	s->mmds = m;
	s->ip.s_addr = ipv4;
	s->out = out;
	s->opaque = opaque;
	s->loop = loop;
	s->vhost = other_addr(s->ip, 253);
	pthread_mutex_init(&s->lock, NULL);
	s->timer_fd = mvm_timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	if (s->timer_fd < 0)
		goto err_free;
	s->timer.fd = s->timer_fd;
	s->timer.fn = stack_timer;
	if (loop_add(loop, &s->timer, EPOLLIN))
		goto err_timer;

	cfg.version = 4;
	cfg.restricted = 1; /* no host sockets: guest forwards only */
	cfg.in_enabled = true;
	cfg.vnetwork.s_addr = htonl(169u << 24 | 254u << 16);
	cfg.vnetmask.s_addr = htonl(0xffff0000u);
	cfg.vhost = s->vhost;
	cfg.vdhcp_start = other_addr(s->ip, 200);
	cfg.vnameserver = other_addr(s->ip, 252);
	cfg.disable_host_loopback = true;
	cfg.disable_dns = true;
	cfg.disable_dhcp = true;
	s->slirp = sl.new_(&cfg, &stack_cbs, s);
	if (!s->slirp)
		goto err_loop;
	if (sl.add_guestfwd(s->slirp, cb_guest_bytes, s, &s->ip, MMDS_PORT) < 0)
		goto err_slirp;
	return s;

err_slirp:
	sl.cleanup(s->slirp);
err_loop:
	loop_del(loop, &s->timer);
err_timer:
	close(s->timer_fd);
err_free:
	pthread_mutex_destroy(&s->lock);
	free(s);
	return NULL;
}

void mmds_stack_destroy(struct mmds_stack *s)
{
	if (!s)
		return;
	loop_del(s->loop, &s->timer);
	close(s->timer_fd);
	sl.remove_guestfwd(s->slirp, s->ip, MMDS_PORT);
	sl.cleanup(s->slirp);
	free(s->pending);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
