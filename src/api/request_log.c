// SPDX-License-Identifier: MIT
/*
 * The API's request and answer lines in the log, at Info, as Firecracker
 * writes them (clients and tests read them): the method as Rust's Debug
 * prints it ("Put"), the path and body quoted and escaped as Rust's Debug
 * of a string, so that a client's newline cannot forge a log line.
 */
#include <stdio.h>
#include <string.h>

#include "api_internal.h"
#include "messages.h"
#include "mvm/log.h"

#define QUOTED_MAX 1024

/* "Put" for PUT; an unknown method as it came, escaped by the caller's quoting. */
static void method_name(const char *m, char *buf, size_t len)
{
	size_t i;

	snprintf(buf, len, "%s", m);
	for (i = 1; buf[i]; i++)
		if (buf[i] >= 'A' && buf[i] <= 'Z')
			buf[i] = (char)(buf[i] - 'A' + 'a');
}

/* s[0..n) as a Rust Debug string: quoted, \" \\ \n \r \t escaped, other controls \u{..}. */
static void quote(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0, i;

	out[o++] = '"';
	for (i = 0; i < n && o + 12 < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			out[o++] = '\\';
			out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
		} else if (c < 0x20 || c == 0x7f) {
			o += (size_t)snprintf(out + o, len - o, "\\u{%x}", c);
		} else {
			out[o++] = (char)c;
		}
	}
	if (i < n && o + 4 < len) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o++] = '"';
	out[o] = '\0';
}

void api_log_request(const char *method, const char *url, const char *body, size_t len)
{
	char m[16], path[QUOTED_MAX / 2], text[QUOTED_MAX];

	method_name(method, m, sizeof(m));
	quote(url, strlen(url), path, sizeof(path));
	if (body && len) {
		quote(body, len, text, sizeof(text));
		pr_info(MSG_LOG_REQUEST_BODY, m, path, text);
	} else {
		pr_info(MSG_LOG_REQUEST, m, path);
	}
}

void api_log_response(const struct api_response *r)
{
	json_t *j;

	if (r->status == 204) {
		pr_info(MSG_LOG_NO_CONTENT);
	} else if (r->status == 200) {
		pr_info(MSG_LOG_OK);
	} else {
		j = r->body ? json_loads(r->body, 0, NULL) : NULL;
		pr_err(MSG_LOG_ERROR, r->status,
		       r->status == 413	  ? "Payload too large"
		       : r->status == 500 ? "Internal Server Error"
					  : "Bad Request",
		       json_string_value(json_object_get(j, "fault_message")) ?: "");
		json_decref(j);
	}
}
