// SPDX-License-Identifier: MIT
/* The test vfio-user server (tests/vfio/server.c), linked into the benchmark's child. */
#define VTS_NO_MAIN
#include "../tests/vfio/server.c"
