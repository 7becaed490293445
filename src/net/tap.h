/* SPDX-License-Identifier: MIT */
/*
 * A tap device as a network back end: /dev/net/tun attached to an
 * interface the user created, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, so that
 * every frame read or written starts with a 12-byte virtio_net_hdr_v1 and
 * the kernel does the checksum and segmentation offloads the guest
 * negotiated. The fd is non-blocking.
 */
#ifndef MVM_NET_TAP_H
#define MVM_NET_TAP_H

#include <net/if.h>
#include <stddef.h>

#define TAP_VNET_HDR_LEN 12

struct tap {
	int fd;
	char name[IFNAMSIZ];
};

/*
 * Attaches to tap `name`. 0, or -errno with msg naming the tap and the
 * reason (missing, busy, not a tap, not permitted).
 */
int tap_open(struct tap *t, const char *name, char *msg, size_t len);
void tap_close(struct tap *t);
/* The offloads (TUN_F_*) the kernel may hand us in frames it sends. 0 or -errno. */
int tap_set_offload(struct tap *t, unsigned int tun_flags);
/* Whether `name` can be attached now (opens and closes it). 0 or -errno + msg. */
int tap_probe(const char *name, char *msg, size_t len);

#endif
