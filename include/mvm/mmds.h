/* SPDX-License-Identifier: MIT */
/*
 * The microVM metadata service (MMDS), as Firecracker's: a JSON store the
 * host fills through the API (PUT/PATCH/GET /mmds, --metadata FILE) and the
 * guest reads with plain HTTP at a link-local address on the interfaces
 * PUT /mmds/config names. V1 answers any GET; V2 wants a session token from
 * PUT /latest/api/token first. Answers are IMDS text (keys one per line) or,
 * on Accept: application/json, JSON.
 *
 * One store per VMM, shared by its interfaces and the API thread (it has
 * its own lock); the front end that creates it owns it and outlives the VM.
 */
#ifndef MVM_MMDS_H
#define MVM_MMDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mvm/stats.h"

struct json_t;
struct mmds;

#define MMDS_DEFAULT_LIMIT 51200 /* bytes of the store as JSON, as Firecracker's */
#define MMDS_DEFAULT_IPV4  "169.254.169.254"
#define MMDS_MAX_IFACES	   32
#define MMDS_IFACE_ID_MAX  64
#define MMDS_TOKEN_TTL_MAX 21600 /* s */
#define MMDS_TOKEN_LEN	   64	 /* hex characters */
#define MMDS_MAX_TOKENS	   128

enum mmds_version {
	MMDS_V1 = 0,
	MMDS_V2,
};

struct mmds_config {
	bool set; /* PUT /mmds/config was given */
	enum mmds_version version;
	uint32_t ipv4; /* network byte order */
	bool imds_compat;
	unsigned int nr_ifaces;
	char ifaces[MMDS_MAX_IFACES][MMDS_IFACE_ID_MAX + 1];
};

/* Counters of the guest-facing service, all interfaces together. */
struct mmds_stats {
	mvm_counter_t requests;	  /* HTTP requests answered */
	mvm_counter_t errors;	  /* of them, answered 4xx/5xx */
	mvm_counter_t rx_frames;  /* frames from the guest to the MMDS address */
	mvm_counter_t tx_frames;  /* frames from the MMDS to the guest */
	mvm_counter_t tokens;	  /* session tokens issued */
	mvm_counter_t bad_tokens; /* V2 requests refused for their token */
};

/* An empty store of at most `limit` bytes (serialised JSON); NULL: no memory. */
struct mmds *mmds_create(size_t limit);
/*
 * Loads the library of the MMDS's network stack (libslirp) now: a process
 * that may serve the MMDS calls it before any thread enters a sandbox,
 * which forbids mapping code (the first stack loads it otherwise).
 * 0 or -ENOSYS.
 */
int mmds_net_preload(void);
void mmds_destroy(struct mmds *m);
size_t mmds_limit(const struct mmds *m);

/* PUT /mmds: replaces the store with a copy of data. 0, or -E2BIG/-EINVAL + msg. */
int mmds_put(struct mmds *m, const struct json_t *data, char *msg, size_t len);
/* PATCH /mmds: RFC 7396 merge patch (null deletes). 0, or -E2BIG/-EINVAL + msg. */
int mmds_patch(struct mmds *m, const struct json_t *patch, char *msg, size_t len);
/* GET /mmds: a copy of the store (caller decrefs); NULL: no memory. */
struct json_t *mmds_get(struct mmds *m);
/* Loads the store from a JSON file (--metadata). 0, or -errno + msg. */
int mmds_load_file(struct mmds *m, const char *path, char *msg, size_t len);

void mmds_set_config(struct mmds *m, const struct mmds_config *c);
void mmds_get_config(struct mmds *m, struct mmds_config *c);
/* Whether the guest reaches the MMDS through interface `iface`; *ipv4 gets the address. */
bool mmds_iface_enabled(struct mmds *m, const char *iface, uint32_t *ipv4);

/* Issues a token valid ttl seconds from now_ns into tok. 0, or -EINVAL for a bad ttl. */
int mmds_token_new(struct mmds *m, uint64_t ttl, uint64_t now_ns, char tok[MMDS_TOKEN_LEN + 1]);
bool mmds_token_valid(struct mmds *m, const char *tok, uint64_t now_ns);

/*
 * The value at `path` ("/latest/meta-data", JSON Pointer segments, empty
 * ones ignored) rendered as JSON or IMDS text into a malloc'd *body.
 * 200, 404 (no such value) or 501 (IMDS cannot show it: a number, a bool,
 * null or an array); -ENOMEM.
 */
int mmds_render(struct mmds *m, const char *path, bool json, char **body, size_t *len);

struct mmds_stats *mmds_stats(struct mmds *m);

/*
 * Answers one HTTP request from the guest (src/net/mmds_http.c). buf holds
 * len bytes received so far on the connection. Returns the bytes the
 * request took (> 0) with a malloc'd response in *resp, 0 when the request
 * is not complete yet, or -1 when it is malformed (a 400 response is in
 * *resp and the connection should close). *close: close after sending.
 */
#define MMDS_HTTP_MAX_REQUEST 4096
long mmds_http_serve(struct mmds *m, const char *buf, size_t len, uint64_t now_ns, char **resp,
		     size_t *resp_len, bool *close);

#endif
