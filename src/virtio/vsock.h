/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock internals: the packet header (vsock_pkt.c), the connection
 * table and state machine (vsock_conn.c), the device and its queues
 * (vsock.c) and the Unix-socket host side (src/vsock/uds.c).
 *
 * Everything runs on the event-loop thread under vdev->lock, except the
 * transport's reset (a vCPU thread, also under vdev->lock).
 *
 * Memory is bounded up front: VSOCK_MAX_CONNS connection slots, each with a
 * VSOCK_BUF_ALLOC ring for guest data the host socket has not taken yet
 * (address space reserved with the device; a ring's pages exist only from
 * its first byte until its connection is freed). The guest may
 * never have more than VSOCK_BUF_ALLOC bytes outstanding (the credit we
 * advertise), so the ring cannot overflow without a credit violation, which
 * resets the connection. Host data is read straight into the guest's
 * receive buffers only while the guest has credit and buffers for it.
 */
#ifndef MVM_VIRTIO_VSOCK_H
#define MVM_VIRTIO_VSOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mvm/list.h"
#include "mvm/loop.h"
#include "mvm/stats.h"
#include "mvm/virtio.h"
#include "mvm/vsock.h"

#define VSOCK_RXQ	 0
#define VSOCK_TXQ	 1
#define VSOCK_EVQ	 2
#define VSOCK_NUM_QUEUES 3
#define VSOCK_QUEUE_SIZE 256

#define VIRTIO_VSOCK_F_STREAM 0

/* struct virtio_vsock_hdr (§5.10.6), little-endian, packed: 44 bytes. */
struct vsock_hdr {
	uint64_t src_cid;
	uint64_t dst_cid;
	uint32_t src_port;
	uint32_t dst_port;
	uint32_t len;
	uint16_t type;
	uint16_t op;
	uint32_t flags;
	uint32_t buf_alloc;
	uint32_t fwd_cnt;
} __attribute__((packed));

#define VSOCK_HDR_SIZE 44
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_SIZE, "virtio_vsock_hdr");

#define VSOCK_TYPE_STREAM 1

enum vsock_op {
	VSOCK_OP_INVALID = 0,
	VSOCK_OP_REQUEST = 1,
	VSOCK_OP_RESPONSE = 2,
	VSOCK_OP_RST = 3,
	VSOCK_OP_SHUTDOWN = 4,
	VSOCK_OP_RW = 5,
	VSOCK_OP_CREDIT_UPDATE = 6,
	VSOCK_OP_CREDIT_REQUEST = 7,
};

#define VSOCK_SHUTDOWN_RCV  1 /* the sender will receive no more */
#define VSOCK_SHUTDOWN_SEND 2 /* the sender will send no more */
#define VSOCK_SHUTDOWN_BOTH 3

#define VIRTIO_VSOCK_EVENT_TRANSPORT_RESET 0

/* Largest payload of one packet either way (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
#define VSOCK_MAX_PKT (64 * 1024)
/* Our receive buffer per connection: the credit the guest gets. */
#define VSOCK_BUF_ALLOC (64 * 1024)
#define VSOCK_MAX_CONNS 256
#define VSOCK_BUFS_SIZE ((size_t)VSOCK_MAX_CONNS * VSOCK_BUF_ALLOC)
#define VSOCK_HASH_SIZE 64
/* RSTs owed for packets of no connection; TX waits when they pile up. */
#define VSOCK_ORPHAN_MAX 64
/* First local port of host-initiated connections (as Firecracker). */
#define VSOCK_LOCAL_PORT_BASE (1U << 30)
/* "CONNECT 4294967295\n" is 19 bytes; a little slack for spaces. */
#define VSOCK_LINE_MAX 32
/* A handshake older than this gives its slot to a newcomer when the table is full. */
#define VSOCK_HANDSHAKE_MS 2000
/* Host-to-guest packets per readiness event, so that one busy peer cannot starve others. */
#define VSOCK_RX_BUDGET 16

enum vsock_conn_state {
	VC_FREE,
	VC_HOST_LINE,  /* accepted on uds_path; reading "CONNECT <port>\n" */
	VC_LOCAL_INIT, /* REQUEST owed or sent to the guest; waiting for RESPONSE */
	VC_ESTABLISHED,
	VC_DEAD, /* host side closed; an RST is owed to the guest, then free */
};

/* Control packets a connection owes the guest, sent in this order. */
#define VC_OWE_REQUEST	      0x01
#define VC_OWE_RESPONSE	      0x02
#define VC_OWE_CREDIT_UPDATE  0x04
#define VC_OWE_CREDIT_REQUEST 0x08
#define VC_OWE_SHUTDOWN	      0x10
#define VC_OWE_RST	      0x20

struct virtio_vsock;

struct vsock_conn {
	struct virtio_vsock *vs;
	enum vsock_conn_state state;
	int fd; /* host socket, -1 when closed */
	struct loop_handler h;
	uint32_t events; /* what the loop watches fd for */
	uint32_t local_port, peer_port;
	struct list_head hash;	 /* in vs->buckets while it has ports */
	struct list_head owe;	 /* on vs->owe_list while owed != 0 */
	struct list_head wait;	 /* on vs->rx_wait or vs->free_list */
	unsigned int owed;	 /* VC_OWE_* */
	uint32_t shutdown_flags; /* of the SHUTDOWN owed */
	uint32_t peer_shut;	 /* the guest's SHUTDOWN flags so far */
	bool host_eof;		 /* the host socket read 0 */
	bool host_shut_wr;	 /* shutdown(SHUT_WR) done */
	bool rx_waiting;	 /* on rx_wait: no receive buffer */
	bool credit_stalled;	 /* out of the guest's credit; CREDIT_REQUEST sent */
	bool opened;		 /* counted in conns_opened */
	bool buf_touched;	 /* the ring has held bytes: its pages exist */

	/* The guest as receiver: its buffer, what it consumed, what we sent. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, rx_cnt;
	/* We as receiver: bytes taken by the host socket, last told the guest. */
	uint32_t fwd_cnt, fwd_told;

	/* Guest bytes the host socket has not taken yet: a ring of VSOCK_BUF_ALLOC. */
	uint8_t *buf;
	uint32_t buf_head, buf_used;

	char line[VSOCK_LINE_MAX];
	unsigned int line_len;
	uint64_t since_ms; /* CLOCK_MONOTONIC: accepted, or REQUEST owed to the guest */
};

struct vsock_stats {
	mvm_counter_t conns_opened, conns_closed, conns_reset;
	mvm_counter_t bytes_to_host, bytes_to_guest;
	mvm_counter_t credit_stalls, pkts_dropped;
};

static inline void vsock_count(mvm_counter_t *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

struct virtio_vsock {
	struct virtio_dev vdev; /* first */
	struct vsock_config cfg;

	int listen_fd;
	struct loop_handler listen_h;
	bool listen_paused; /* accept() failed for want of fds or memory */
	dev_t uds_dev;
	ino_t uds_ino;

	struct vsock_conn *conns; /* VSOCK_MAX_CONNS */
	uint8_t *bufs;		  /* VSOCK_MAX_CONNS rings of VSOCK_BUF_ALLOC */
	unsigned int nr_conns;
	struct list_head free_list;
	struct list_head buckets[VSOCK_HASH_SIZE];
	struct list_head owe_list; /* connections owing control packets */
	struct list_head rx_wait;  /* connections waiting for receive buffers */
	uint32_t next_local_port;
	unsigned int handshake_ms; /* VSOCK_HANDSHAKE_MS (tests shorten it) */

	struct vsock_hdr orphans[VSOCK_ORPHAN_MAX]; /* RSTs owed, FIFO */
	unsigned int orphan_head, nr_orphans;
	bool tx_blocked; /* TX stopped on a full orphan queue */

	bool event_pending; /* a TRANSPORT_RESET waits for an event buffer */

	struct virtq_chain *tx_chain;
	struct virtq_chain *rx_chain;
	bool rx_held;	   /* rx_chain was popped and is still unused */
	bool rx_give_back; /* restored: the saved device held one, the guest gets it back */

	struct vsock_stats stats;
};

/* vsock_pkt.c: parsing and building headers, credit arithmetic. */

/*
 * Copies a TX chain's header out and checks its shape: a header's worth of
 * device-readable bytes, no device-writable buffer needed, len no larger
 * than VSOCK_MAX_PKT nor the readable bytes after the header. 0 or -EINVAL.
 */
int vsock_pkt_parse(const struct virtq_chain *c, struct vsock_hdr *h);
/* Bytes the device may still send the guest: its buffer less what is unread (0 if it lies). */
uint32_t vsock_peer_credit(uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t rx_cnt);
/*
 * Parses "CONNECT <port>\n" at the start of buf[0, len): 0 with *port when
 * the line is complete and valid, -EAGAIN when more bytes are needed, and
 * -EINVAL for anything else (garbage, overlong, a port above 2^32 - 1).
 */
int vsock_connect_line_parse(const char *buf, size_t len, uint32_t *port);
/* Fills a header from the host's side of conn (addresses, credit); fwd_cnt is told. */
void vsock_hdr_from_conn(struct vsock_hdr *h, struct vsock_conn *conn, uint16_t op, uint32_t flags,
			 uint32_t len);

/* vsock_conn.c: connections. */
void vsock_conns_init(struct virtio_vsock *vs);
struct vsock_conn *vsock_conn_lookup(struct virtio_vsock *vs, uint32_t local_port,
				     uint32_t peer_port);
/* A free slot, or NULL when VSOCK_MAX_CONNS are in use. */
struct vsock_conn *vsock_conn_alloc(struct virtio_vsock *vs);
void vsock_conn_free(struct vsock_conn *conn);
/* Closes every connection (reset, transport reset, release). */
void vsock_conns_close_all(struct virtio_vsock *vs);
/* Handles one packet of the TX queue (its header checked by vsock_pkt_parse). */
void vsock_conn_tx(struct virtio_vsock *vs, const struct vsock_hdr *h, const struct virtq_chain *c);
/* Accepts host connections on uds_path (the listener's loop handler). */
void vsock_conn_accept(struct loop_handler *h, uint32_t events);
/* Watches the listener again after accept() ran out of fds (a connection closed, a kick). */
void vsock_listen_resume(struct virtio_vsock *vs);
/* Receive buffers were posted: connections waiting for them watch their sockets again. */
void vsock_conns_rx_ready(struct virtio_vsock *vs);
/* Marks a control packet owed; vsock_rx_flush() sends it. */
void vsock_conn_owe(struct vsock_conn *conn, unsigned int what);

/* vsock.c: the receive queue. */

/*
 * The next receive chain (held over from a previous call or popped), or
 * NULL when the driver has posted none. A malformed chain sets NEEDS_RESET.
 */
struct virtq_chain *vsock_rx_chain(struct virtio_vsock *vs);
/* Returns the held chain to the driver with len bytes written. */
void vsock_rx_push(struct virtio_vsock *vs, uint32_t len);
/* Sends owed control packets and RSTs while receive buffers last. */
void vsock_rx_flush(struct virtio_vsock *vs);
/* Owes the guest an RST for a packet that has no connection. */
void vsock_orphan_rst(struct virtio_vsock *vs, const struct vsock_hdr *to);

/* src/vsock/uds.c: the Unix sockets. */

/*
 * Listens on path, replacing a stale socket and refusing a live one or a
 * file that is not a socket; *dev and *ino identify the socket for removal.
 * A non-blocking listening fd, or -errno.
 */
int vsock_uds_listen(const char *path, dev_t *dev, ino_t *ino);
/* Removes the socket at path if it is still the one vsock_uds_listen() made. */
void vsock_uds_remove(const char *path, dev_t dev, ino_t ino);
/* 0 if path can be listened on (absent or stale), else -errno and a message. */
int vsock_uds_check(const char *path, char *msg, size_t len);
/*
 * Connects (non-blocking) to "<base>_<port>". A connected fd, or -errno
 * (-ECONNREFUSED, -ENOENT: nobody listens; -EAGAIN: its backlog is full).
 */
int vsock_uds_connect(const char *base, uint32_t port);

#endif
