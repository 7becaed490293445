// SPDX-License-Identifier: MIT
/*
 * The MMDS's HTTP/1.x server side, as the guest sees it: one request at a
 * time from a connection's bytes, answered per the store's configuration.
 * Pure: no sockets, no clock (the caller gives the time), so the unit tests
 * and the fuzzer drive it directly. Anything malformed gets a 400 and the
 * connection closes; nothing the guest sends is trusted for a length.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mvm/mmds.h"

#define TOKEN_PATH "/latest/api/token"

struct http_req {
	char method[8];
	char path[MMDS_HTTP_MAX_REQUEST];
	bool http10;
	bool conn_close;
	bool json;
	bool forwarded; /* X-Forwarded-For */
	const char *token;
	size_t token_len;
	const char *ttl;
	size_t ttl_len;
	bool has_ttl, has_token;
	size_t content_length;
};

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Payload Too Large";
	case 501:
		return "Not Implemented";
	}
	return "Internal Server Error";
}

/* Builds the response; body is copied. -1 on no memory (*resp NULL). */
static int respond(char **resp, size_t *resp_len, int status, const char *ctype, const char *body,
		   size_t len, bool close)
{
	size_t cap = 256 + len + 1;
	char *out = malloc(cap);
	int n;

	*resp = NULL;
	*resp_len = 0;
	if (!out)
		return -1;
	n = snprintf(out, cap,
		     "HTTP/1.1 %d %s\r\nServer: mvm\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
		     "%s%s\r\n",
		     status, reason(status), ctype, len, status == 405 ? "Allow: GET, PUT\r\n" : "",
		     close ? "Connection: close\r\n" : "");
	memcpy(out + n, body, len);
	out[n + len] = '\0'; /* for readers that look for the body as text */
	*resp = out;
	*resp_len = (size_t)n + len;
	return 0;
}

static int respond_text(char **resp, size_t *resp_len, int status, bool close, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return respond(resp, resp_len, status, "text/plain", msg, strlen(msg), close);
}

static bool header_is(const char *line, size_t nlen, const char *name)
{
	return strlen(name) == nlen && !strncasecmp(line, name, nlen);
}

/* Parses the head (request line and headers, end excluded); false: malformed. */
static bool parse_head(const char *buf, size_t len, struct http_req *r)
{
	const char *p = buf, *end = buf + len, *sp1, *sp2, *eol;
	size_t n;

	eol = memchr(p, '\r', len);
	if (!eol || eol + 1 >= end || eol[1] != '\n')
		return false;
	sp1 = memchr(p, ' ', (size_t)(eol - p));
	if (!sp1 || (size_t)(sp1 - p) >= sizeof(r->method) || sp1 == p)
		return false;
	memcpy(r->method, p, (size_t)(sp1 - p));
	r->method[sp1 - p] = '\0';
	sp2 = memchr(sp1 + 1, ' ', (size_t)(eol - sp1 - 1));
	if (!sp2 || sp2 == sp1 + 1 || sp1[1] != '/')
		return false;
	n = (size_t)(sp2 - sp1 - 1);
	if (n >= sizeof(r->path))
		return false;
	memcpy(r->path, sp1 + 1, n);
	r->path[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!isgraph((unsigned char)r->path[i]))
			return false;
	r->path[strcspn(r->path, "?#")] = '\0'; /* the query plays no part */
	n = (size_t)(eol - sp2 - 1);
	if (n == 8 && !memcmp(sp2 + 1, "HTTP/1.1", 8))
		r->http10 = false;
	else if (n == 8 && !memcmp(sp2 + 1, "HTTP/1.0", 8))
		r->http10 = r->conn_close = true;
	else
		return false;

	for (p = eol + 2; p < end;) {
		const char *colon, *v, *ve;

		eol = memchr(p, '\r', (size_t)(end - p));
		if (!eol || eol + 1 >= end || eol[1] != '\n')
			return false;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon == p)
			return false;
		for (v = colon + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		for (ve = eol; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
			;
		n = (size_t)(colon - p);
		if (header_is(p, n, "X-metadata-token") ||
		    header_is(p, n, "X-aws-ec2-metadata-token")) {
			r->has_token = true;
			r->token = v;
			r->token_len = (size_t)(ve - v);
		} else if (header_is(p, n, "X-metadata-token-ttl-seconds") ||
			   header_is(p, n, "X-aws-ec2-metadata-token-ttl-seconds")) {
			r->has_ttl = true;
			r->ttl = v;
			r->ttl_len = (size_t)(ve - v);
		} else if (header_is(p, n, "Accept")) {
			r->json = memmem(v, (size_t)(ve - v), "application/json", 16) != NULL;
		} else if (header_is(p, n, "X-Forwarded-For")) {
			r->forwarded = true;
		} else if (header_is(p, n, "Connection")) {
			if ((size_t)(ve - v) == 5 && !strncasecmp(v, "close", 5))
				r->conn_close = true;
		} else if (header_is(p, n, "Content-Length")) {
			unsigned long cl = 0;
			const char *d;

			if (v == ve)
				return false;
			for (d = v; d < ve; d++) {
				if (!isdigit((unsigned char)*d) || cl > MMDS_HTTP_MAX_REQUEST)
					return false;
				cl = cl * 10 + (unsigned long)(*d - '0');
			}
			r->content_length = cl;
		} else if (header_is(p, n, "Transfer-Encoding")) {
			return false; /* no request of ours has a chunked body */
		}
		p = eol + 2;
	}
	return true;
}

static int serve_token(struct mmds *m, const struct http_req *r, uint64_t now, char **resp,
		       size_t *resp_len, bool close)
{
	char tok[MMDS_TOKEN_LEN + 1], num[16];
	unsigned long ttl;
	char *end;

	if (r->forwarded)
		return respond_text(resp, resp_len, 400, close,
				    "Invalid header. Reason: X-Forwarded-For is not accepted.");
	if (!r->has_ttl)
		return respond_text(resp, resp_len, 400, close,
				    "Token time to live value not found. Use "
				    "X-metadata-token-ttl-seconds.");
	if (!r->ttl_len || r->ttl_len >= sizeof(num))
		goto bad_ttl;
	memcpy(num, r->ttl, r->ttl_len);
	num[r->ttl_len] = '\0';
	if (!isdigit((unsigned char)num[0]))
		goto bad_ttl;
	ttl = strtoul(num, &end, 10);
	if (*end || mmds_token_new(m, ttl, now, tok))
		goto bad_ttl;
	return respond(resp, resp_len, 200, "text/plain", tok, MMDS_TOKEN_LEN, close);
bad_ttl:
	return respond_text(resp, resp_len, 400, close,
			    "Invalid time to live value: give 1 to %d seconds.",
			    MMDS_TOKEN_TTL_MAX);
}

static int serve_get(struct mmds *m, const struct http_req *r, uint64_t now, char **resp,
		     size_t *resp_len, bool close)
{
	struct mmds_config cfg;
	char tok[MMDS_TOKEN_LEN + 1] = "";
	bool json;
	size_t len;
	char *body;
	int st;

	mmds_get_config(m, &cfg);
	if (cfg.version == MMDS_V2) {
		if (r->has_token && r->token_len == MMDS_TOKEN_LEN) {
			memcpy(tok, r->token, MMDS_TOKEN_LEN);
			tok[MMDS_TOKEN_LEN] = '\0';
		}
		if (!r->has_token || !mmds_token_valid(m, tok, now)) {
			counter_inc(&mmds_stats(m)->bad_tokens);
			return respond_text(resp, resp_len, 401, close,
					    r->has_token ? "Invalid or expired session token."
							 : "No MMDS token provided. Use "
							   "X-metadata-token.");
		}
	}
	json = r->json && !cfg.imds_compat;
	st = mmds_render(m, r->path, json, &body, &len);
	if (st == 404)
		return respond_text(resp, resp_len, 404, close, "Resource not found: %.200s.",
				    r->path);
	if (st == 501)
		return respond_text(resp, resp_len, 501, close,
				    "Cannot retrieve value. The value has an invalid format.");
	if (st < 0)
		return -1;
	st = respond(resp, resp_len, 200, json ? "application/json" : "text/plain", body, len,
		     close);
	free(body);
	return st;
}

long mmds_http_serve(struct mmds *m, const char *buf, size_t len, uint64_t now_ns, char **resp,
		     size_t *resp_len, bool *close)
{
	struct http_req *r;
	const char *end;
	size_t head, total;
	long ret;
	int st = 0;

	*resp = NULL;
	*resp_len = 0;
	*close = false;
	end = memmem(buf, len, "\r\n\r\n", 4);
	if (!end) {
		if (len < MMDS_HTTP_MAX_REQUEST)
			return 0;
		*close = true;
		counter_inc(&mmds_stats(m)->requests);
		counter_inc(&mmds_stats(m)->errors);
		respond_text(resp, resp_len, 413, true, "Request too long.");
		return -1;
	}
	head = (size_t)(end - buf) + 2; /* the last header's CRLF */
	r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	counter_inc(&mmds_stats(m)->requests);
	if (!parse_head(buf, head, r)) {
		*close = true;
		counter_inc(&mmds_stats(m)->errors);
		respond_text(resp, resp_len, 400, true, "Malformed HTTP request.");
		free(r);
		return -1;
	}
	total = head + 2 + r->content_length;
	if (total > MMDS_HTTP_MAX_REQUEST) {
		*close = true;
		counter_inc(&mmds_stats(m)->errors);
		respond_text(resp, resp_len, 413, true, "Request too long.");
		free(r);
		return -1;
	}
	if (len < total) {
		free(r);
		return 0; /* the body is on its way; it plays no part */
	}
	*close = r->conn_close;
	if (!strcmp(r->method, "PUT")) {
		if (strcmp(r->path, TOKEN_PATH) && strcmp(r->path, TOKEN_PATH "/"))
			st = respond_text(resp, resp_len, 405, *close, "PUT is only for %s.",
					  TOKEN_PATH);
		else
			st = serve_token(m, r, now_ns, resp, resp_len, *close);
	} else if (!strcmp(r->method, "GET")) {
		st = serve_get(m, r, now_ns, resp, resp_len, *close);
	} else {
		st = respond_text(resp, resp_len, 405, *close, "Not allowed HTTP method.");
	}
	ret = st < 0 || !*resp ? -1 : (long)total;
	if (ret > 0 && strncmp(*resp + 9, "200", 3))
		counter_inc(&mmds_stats(m)->errors);
	free(r);
	return ret;
}
