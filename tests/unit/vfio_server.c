// SPDX-License-Identifier: MIT
/* The test vfio-user server (tests/vfio/server.c), linked in to run in a forked child. */
#define VTS_NO_MAIN
#include "../vfio/server.c"
