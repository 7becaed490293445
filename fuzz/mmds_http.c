// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness: the MMDS's HTTP request handling, as a guest's bytes
 * reach it, over a store with strings, objects, numbers and arrays. The
 * first byte picks V1/V2, imds_compat and how the input is split (the
 * bytes arrive in pieces, requests may be pipelined); a token the harness
 * obtained may be substituted where the input says "TOKEN".
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mvm/mmds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct mmds *m;
static char token[MMDS_TOKEN_LEN + 1];

static void init(void)
{
	json_t *j = json_loads("{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-1\", \"n\": 3, "
			       "\"l\": [1, 2], \"o\": {\"k\": \"v\"}, \"e\": {}, \"t\": true}}, "
			       "\"a~b/c\": null}",
			       0, NULL);
	char msg[128];

	m = mmds_create(MMDS_DEFAULT_LIMIT);
	if (!m || !j || mmds_put(m, j, msg, sizeof(msg)) || mmds_token_new(m, 60, 0, token))
		abort();
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mmds_config c = { .nr_ifaces = 1 };
	static char buf[MMDS_HTTP_MAX_REQUEST * 2];
	size_t len = 0, off = 1, step;

	if (!m)
		init();
	if (size < 1)
		return 0;
	c.version = data[0] & 1 ? MMDS_V2 : MMDS_V1;
	c.imds_compat = data[0] & 2;
	c.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	mmds_set_config(m, &c);
	step = (size_t)(data[0] >> 2) + 1;
	while (off < size || len) {
		size_t take = size - off < step ? size - off : step;
		char *resp;
		size_t rlen;
		bool close;
		long used;
		char *t;

		if (len + take > sizeof(buf))
			take = sizeof(buf) - len;
		memcpy(buf + len, data + off, take);
		len += take;
		off += take;
		/* "TOKEN" stands for a valid token (64 characters: room permitting). */
		t = memmem(buf, len, "TOKEN", 5);
		if (t && len - 5 + MMDS_TOKEN_LEN <= sizeof(buf)) {
			size_t at = (size_t)(t - buf);

			memmove(buf + at + MMDS_TOKEN_LEN, buf + at + 5, len - at - 5);
			memcpy(buf + at, token, MMDS_TOKEN_LEN);
			len += MMDS_TOKEN_LEN - 5;
		}
		used = mmds_http_serve(m, buf, len, 1, &resp, &rlen, &close);
		if (resp && (rlen < 17 || memcmp(resp, "HTTP/1.1 ", 9)))
			abort(); /* every answer is a status line */
		free(resp);
		if (used < 0 || close || (used == 0 && off >= size))
			break;
		if (used > 0) {
			if ((size_t)used > len)
				abort();
			memmove(buf, buf + used, len - (size_t)used);
			len -= (size_t)used;
		}
	}
	return 0;
}
