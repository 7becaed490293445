/* SPDX-License-Identifier: MIT */
/*
 * virtio-vsock (virtio 1.2 §5.10) with Firecracker's hybrid host side: the
 * guest's AF_VSOCK stream sockets meet host AF_UNIX sockets.
 *
 *   - host-initiated: a host process connects to uds_path and writes
 *     "CONNECT <port>\n"; the device opens the guest connection to that
 *     port and answers "OK <host port>\n", then bytes flow both ways;
 *   - guest-initiated: a guest connecting to CID 2 port P reaches the Unix
 *     socket "<uds_path>_<P>" that a host process listens on.
 *
 * The device owns uds_path: it replaces a stale socket there, refuses a live
 * one and removes its own when it is released.
 */
#ifndef MVM_VSOCK_H
#define MVM_VSOCK_H

#include <stdint.h>

#include <sys/un.h>

struct vm;
struct virtio_dev;

#define VSOCK_HOST_CID 2
#define VSOCK_CID_MIN  3	  /* 0-2 are the hypervisor, local and host */
#define VSOCK_CID_MAX  0xfffffffe /* -1 is VMADDR_CID_ANY */

/* Longest uds_path: it must fit sockaddr_un's sun_path with its NUL. */
#define VSOCK_UDS_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path) - 1)
#define VSOCK_ID_MAX	   64

/* The option blob of the device type (mvm run --vsock, PUT /vsock). */
struct vsock_config {
	uint64_t guest_cid;
	char uds_path[VSOCK_UDS_PATH_MAX + 1];
	char id[VSOCK_ID_MAX + 1]; /* Firecracker's optional vsock_id; only echoed */
};

/* Creates and registers the device (the VM owns it), or ERR_PTR(-errno). */
struct virtio_dev *virtio_vsock_create(struct vm *vm, const struct vsock_config *cfg);

/*
 * Resets every connection (host sockets closed, guest told nothing more
 * about them) and sends the driver VIRTIO_VSOCK_EVENT_TRANSPORT_RESET on the
 * event queue, as after a snapshot restore; the driver then drops its
 * sockets and re-reads guest_cid. Delivered when the driver next posts an
 * event buffer if none is posted now. 0, or -EINVAL if vdev is not a vsock.
 */
int virtio_vsock_transport_reset(struct virtio_dev *vdev);

#endif
