// SPDX-License-Identifier: MIT
/* The test vfio-user server (tests/vfio/server.c), for the vfio-user scenario's child. */
#define VTS_NO_MAIN
#include "../vfio/server.c"
