/* SPDX-License-Identifier: MIT */
/* HTTP over a VMM's API socket (libcurl), for the management commands. */
#ifndef MVM_CLI_CLIENT_H
#define MVM_CLI_CLIENT_H

#include <stddef.h>

#include <jansson.h>

#include "mvm/control.h"

#define MVM_CLIENT_BODY_MAX (16 << 20)

struct api_reply {
	long status;
	char *body; /* NUL-terminated, may be NULL */
	size_t len;
	char error[256]; /* transport error */
};

/* One request; body NULL for none. 0 (r->status set) or -errno (r->error set). */
int api_request(const char *sock, const char *method, const char *path, const char *body,
		struct api_reply *r);
void api_reply_free(struct api_reply *r);
/* The body as JSON, or NULL. */
json_t *api_reply_json(const struct api_reply *r);
/* The fault_message of an error answer (or a description) into buf. */
const char *api_reply_fault(const struct api_reply *r, char *buf, size_t len);
/* GET path expecting 200 + JSON: 0 and *out, or -errno with err set. */
int api_get_json(const char *sock, const char *path, json_t **out, char *err, size_t errlen);
/* The live VMM with this id, or -ENOENT with a message on stderr. */
int vmm_find(const char *id, struct runtime_entry *e);

#endif
