// SPDX-License-Identifier: MIT
/*
 * The management commands' HTTP client: libcurl over a VMM's Unix socket.
 *
 * libcurl is loaded with dlopen() when a management command first talks to
 * a VMM, not linked: it brings some twenty libraries whose loading and
 * relocation would otherwise be paid by every `mvm run` at exec (measured:
 * mvm's first guest output went from 1.0x to 2.6x the raw-KVM floor).
 */
#include <curl/curl.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "mvm/control.h"

#define CLIENT_TIMEOUT_S 10
#define LIBCURL_SONAME	 "libcurl.so.4"

static struct {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode rc);
	void (*easy_cleanup)(CURL *c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
	const char *error; /* why it could not be loaded */
} curl;

static void curl_load(void)
{
	void *h = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		curl.error = "cannot load " LIBCURL_SONAME " (apt-get install libcurl4)";
		return;
	}
	curl.easy_init = dlsym(h, "curl_easy_init");
	curl.easy_setopt = dlsym(h, "curl_easy_setopt");
	curl.easy_perform = dlsym(h, "curl_easy_perform");
	curl.easy_getinfo = dlsym(h, "curl_easy_getinfo");
	curl.easy_strerror = dlsym(h, "curl_easy_strerror");
	curl.easy_cleanup = dlsym(h, "curl_easy_cleanup");
	curl.slist_append = dlsym(h, "curl_slist_append");
	curl.slist_free_all = dlsym(h, "curl_slist_free_all");
	if (!curl.easy_init || !curl.easy_setopt || !curl.easy_perform || !curl.easy_getinfo ||
	    !curl.easy_strerror || !curl.easy_cleanup || !curl.slist_append ||
	    !curl.slist_free_all) {
		curl.error = LIBCURL_SONAME " lacks the easy interface";
		curl.easy_init = NULL;
	}
	/* The handle stays open: the process is a short-lived command. */
}

static size_t client_write(char *data, size_t size, size_t nmemb, void *opaque)
{
	struct api_reply *r = opaque;
	size_t n = size * nmemb;
	char *b;

	if (r->len + n + 1 > MVM_CLIENT_BODY_MAX)
		return 0; /* a VMM does not answer that much: abort */
	b = realloc(r->body, r->len + n + 1);
	if (!b)
		return 0;
	memcpy(b + r->len, data, n);
	r->body = b;
	r->len += n;
	r->body[r->len] = '\0';
	return n;
}

int api_request(const char *sock, const char *method, const char *path, const char *body,
		struct api_reply *r)
{
	struct curl_slist *hdrs = NULL;
	char url[512];
	CURLcode rc;
	CURL *c;

	static pthread_once_t once = PTHREAD_ONCE_INIT;

	memset(r, 0, sizeof(*r));
	pthread_once(&once, curl_load);
	if (!curl.easy_init) {
		snprintf(r->error, sizeof(r->error), "%s", curl.error);
		return -ENOSYS;
	}
	c = curl.easy_init();
	if (!c)
		return -ENOMEM;
	/* The host part is ignored over a Unix socket; Firecracker's clients use "localhost". */
	snprintf(url, sizeof(url), "http://localhost%s", path);
	curl.easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl.easy_setopt(c, CURLOPT_URL, url);
	curl.easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl.easy_setopt(c, CURLOPT_TIMEOUT, (long)CLIENT_TIMEOUT_S);
	curl.easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl.easy_setopt(c, CURLOPT_WRITEFUNCTION, client_write);
	curl.easy_setopt(c, CURLOPT_WRITEDATA, r);
	hdrs = curl.slist_append(hdrs, "Accept: application/json");
	if (body) {
		hdrs = curl.slist_append(hdrs, "Content-Type: application/json");
		curl.easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl.easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	curl.easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	rc = curl.easy_perform(c);
	if (rc == CURLE_OK)
		curl.easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	else
		snprintf(r->error, sizeof(r->error), "%s", curl.easy_strerror(rc));
	curl.slist_free_all(hdrs);
	curl.easy_cleanup(c);
	if (rc != CURLE_OK) {
		free(r->body);
		r->body = NULL;
		r->len = 0;
		return rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EIO;
	}
	return 0;
}

void api_reply_free(struct api_reply *r)
{
	free(r->body);
	r->body = NULL;
}

json_t *api_reply_json(const struct api_reply *r)
{
	json_error_t err;

	if (!r->body)
		return NULL;
	return json_loadb(r->body, r->len, 0, &err);
}

const char *api_reply_fault(const struct api_reply *r, char *buf, size_t len)
{
	json_t *j = api_reply_json(r);
	const char *m = j ? json_string_value(json_object_get(j, "fault_message")) : NULL;

	if (m)
		snprintf(buf, len, "%s", m);
	else
		snprintf(buf, len, "HTTP %ld%s%.200s", r->status, r->body ? ": " : "",
			 r->body ? r->body : "");
	json_decref(j);
	return buf;
}

int api_get_json(const char *sock, const char *path, json_t **out, char *err, size_t errlen)
{
	struct api_reply r;
	int e;

	*out = NULL;
	e = api_request(sock, "GET", path, NULL, &r);
	if (e) {
		snprintf(err, errlen, "%s: %s", sock, r.error);
		return e;
	}
	if (r.status != 200) {
		api_reply_fault(&r, err, errlen);
		api_reply_free(&r);
		return -EPROTO;
	}
	*out = api_reply_json(&r);
	api_reply_free(&r);
	if (!*out) {
		snprintf(err, errlen, "GET %s: the answer is not JSON", path);
		return -EPROTO;
	}
	return 0;
}

int vmm_find(const char *id, struct runtime_entry *e)
{
	int err = runtime_lookup(id, e);

	if (err)
		fprintf(stderr, "mvm: no running VMM with id '%s' (see 'mvm ls')\n", id);
	return err;
}
