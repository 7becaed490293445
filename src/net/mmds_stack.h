/* SPDX-License-Identifier: MIT */
/*
 * The guest-facing side of the MMDS on one interface: the frames a guest
 * sends to the MMDS address (ARP for it, IPv4 to it) go here instead of the
 * tap, and the answers come back as frames for the guest's receive queue.
 */
#ifndef MVM_NET_MMDS_STACK_H
#define MVM_NET_MMDS_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mmds;
struct mvm_loop;
struct mmds_stack;

/* Gets each frame for the guest (Ethernet, no virtio header); any thread of the stack's. */
typedef void (*mmds_output_fn)(void *opaque, const uint8_t *frame, size_t len);

/* A stack answering at ipv4 (network order) from store m; timers on loop. NULL on failure. */
struct mmds_stack *mmds_stack_create(struct mmds *m, uint32_t ipv4, struct mvm_loop *loop,
				     mmds_output_fn out, void *opaque);
void mmds_stack_destroy(struct mmds_stack *s);
/* Whether a frame from the guest is the MMDS's (len: what is at hand, 42 bytes suffice). */
bool mmds_stack_claims(const struct mmds_stack *s, const uint8_t *frame, size_t len);
/* Takes a frame the stack claimed (checksums complete). */
void mmds_stack_input(struct mmds_stack *s, const uint8_t *frame, size_t len);

#endif
