/* SPDX-License-Identifier: MIT */
/* The test vfio-user server (tests/vfio/server.c): its device's layout. */
#ifndef MVM_TEST_VFIO_SERVER_H
#define MVM_TEST_VFIO_SERVER_H

#include <stdint.h>

#define VTS_VENDOR 0x1de5
#define VTS_DEVICE 0x7f01
#define VTS_ID	   0x5245535546494f56ULL /* "VFIOUSER" read backwards */

/* BAR0 registers, 64 bits each. */
#define VTS_REG_ID	   0x00 /* read-only: VTS_ID */
#define VTS_REG_SCRATCH	   0x08
#define VTS_REG_DMA_SRC	   0x10
#define VTS_REG_DMA_DST	   0x18
#define VTS_REG_DMA_LEN	   0x20
#define VTS_REG_DMA_VECTOR 0x28
#define VTS_REG_DOORBELL   0x30 /* write: copy, then raise DMA_VECTOR */
#define VTS_REG_STATUS	   0x38 /* copies done; VTS_STATUS_ERROR once one failed */
#define VTS_REG_INTX	   0x40 /* write: raise INTx */
#define VTS_REG_HANG	   0x48 /* with VTS_HANG, a read here is never answered */
#define VTS_STATUS_ERROR   (1ULL << 63)

/* BAR2: the MSI-X table and PBA. */
#define VTS_MSIX_TABLE 0x000
#define VTS_MSIX_PBA   0x800

/* Behaviours (the server's command-line flags). */
#define VTS_NO_MAP    0x01 /* do not map guest RAM: DMA through messages */
#define VTS_HANG      0x02
#define VTS_BAD_AREA  0x04
#define VTS_BAD_REPLY 0x08
#define VTS_EXTRA_FDS 0x10
#define VTS_BAD_MSIX  0x20 /* an MSI-X table outside its BAR */

/* Serves one client on sock until it leaves: 0 then, 1 on error. */
int vts_serve(int sock, unsigned int flags);
/* A listening Unix socket at path (replacing a stale one), or -1. */
int vts_listen(const char *path);

#endif
