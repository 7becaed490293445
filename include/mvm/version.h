/* SPDX-License-Identifier: MIT */
#ifndef MVM_VERSION_H
#define MVM_VERSION_H

#define MVM_VERSION "0.1.0"

/*
 * The Firecracker release whose API, command line and messages mvm
 * follows: `firecracker --version` (mvm invoked as firecracker), GET
 * /version and, as firecracker, GET /'s vmm_version. A release, not the
 * "-dev" of the spec copy: orchestrators compare it with their minimum.
 */
#define MVM_FIRECRACKER_VERSION "1.16.1"

#endif
