// SPDX-License-Identifier: MIT
/* The MMDS store, its configuration and V2 session tokens (mvm/mmds.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "mvm/mmds.h"
#include "mvm/sys.h"

struct mmds_token {
	char tok[MMDS_TOKEN_LEN + 1];
	uint64_t expires; /* ns; 0: free */
};

struct mmds {
	pthread_mutex_t lock;
	json_t *data;
	size_t limit;
	struct mmds_config cfg;
	struct mmds_token tokens[MMDS_MAX_TOKENS];
	struct mmds_stats stats;
};

struct mmds *mmds_create(size_t limit)
{
	struct mmds *m = mvm_zalloc(sizeof(*m));

	if (!m)
		return NULL;
	m->data = json_object();
	if (!m->data) {
		free(m);
		return NULL;
	}
	m->limit = limit;
	m->cfg.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void mmds_destroy(struct mmds *m)
{
	if (!m)
		return;
	json_decref(m->data);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

size_t mmds_limit(const struct mmds *m)
{
	return m->limit;
}

struct mmds_stats *mmds_stats(struct mmds *m)
{
	return &m->stats;
}

/* Serialised size of v, or SIZE_MAX when it cannot be serialised. */
static size_t json_size(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	size_t n = s ? strlen(s) : SIZE_MAX;

	free(s);
	return n;
}

/* Takes new as the store if it fits; new is consumed either way. */
static int store_replace(struct mmds *m, json_t *new, char *msg, size_t len)
{
	size_t n;

	if (!new) {
		snprintf(msg, len, "out of memory");
		return -ENOMEM;
	}
	n = json_size(new);
	if (n > m->limit) {
		json_decref(new);
		snprintf(msg, len, "the MMDS data store would be %zu bytes: the limit is %zu", n,
			 m->limit);
		return -E2BIG;
	}
	json_decref(m->data);
	m->data = new;
	return 0;
}

int mmds_put(struct mmds *m, const json_t *data, char *msg, size_t len)
{
	int err;

	if (!json_is_object(data)) {
		snprintf(msg, len, "the MMDS data store must be a JSON object");
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	err = store_replace(m, json_deep_copy(data), msg, len);
	pthread_mutex_unlock(&m->lock);
	return err;
}

/* RFC 7396: target becomes the result; false: no memory. */
static bool merge_patch(json_t *target, const json_t *patch)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)patch, key, v) {
		json_t *cur = json_object_get(target, key);

		if (json_is_null(v)) {
			json_object_del(target, key);
		} else if (json_is_object(v) && json_is_object(cur)) {
			if (!merge_patch(cur, v))
				return false;
		} else if (json_is_object(v)) {
			json_t *n = json_object();

			if (!n || !merge_patch(n, v) || json_object_set_new(target, key, n))
				return false;
		} else if (json_object_set_new(target, key, json_deep_copy(v))) {
			return false;
		}
	}
	return true;
}

int mmds_patch(struct mmds *m, const json_t *patch, char *msg, size_t len)
{
	json_t *new;
	int err;

	if (!json_is_object(patch)) {
		snprintf(msg, len, "an MMDS patch must be a JSON object");
		return -EINVAL;
	}
	pthread_mutex_lock(&m->lock);
	new = json_deep_copy(m->data);
	if (new && !merge_patch(new, patch)) {
		json_decref(new);
		new = NULL;
	}
	err = store_replace(m, new, msg, len);
	pthread_mutex_unlock(&m->lock);
	return err;
}

json_t *mmds_get(struct mmds *m)
{
	json_t *j;

	pthread_mutex_lock(&m->lock);
	j = json_deep_copy(m->data);
	pthread_mutex_unlock(&m->lock);
	return j;
}

int mmds_load_file(struct mmds *m, const char *path, char *msg, size_t len)
{
	json_error_t e;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
	int err;

	if (!j) {
		snprintf(msg, len, "'%s': %s (line %d)", path, e.text, e.line);
		return -EINVAL;
	}
	err = mmds_put(m, j, msg, len);
	json_decref(j);
	return err;
}

void mmds_set_config(struct mmds *m, const struct mmds_config *c)
{
	pthread_mutex_lock(&m->lock);
	m->cfg = *c;
	m->cfg.set = true;
	pthread_mutex_unlock(&m->lock);
}

void mmds_get_config(struct mmds *m, struct mmds_config *c)
{
	pthread_mutex_lock(&m->lock);
	*c = m->cfg;
	pthread_mutex_unlock(&m->lock);
}

bool mmds_iface_enabled(struct mmds *m, const char *iface, uint32_t *ipv4)
{
	bool on = false;

	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; m->cfg.set && i < m->cfg.nr_ifaces && !on; i++)
		on = !strcmp(m->cfg.ifaces[i], iface);
	if (ipv4)
		*ipv4 = m->cfg.ipv4;
	pthread_mutex_unlock(&m->lock);
	return on;
}

int mmds_token_new(struct mmds *m, uint64_t ttl, uint64_t now_ns, char tok[MMDS_TOKEN_LEN + 1])
{
	uint8_t raw[MMDS_TOKEN_LEN / 2];
	struct mmds_token *slot;
	size_t got = 0;

	if (ttl < 1 || ttl > MMDS_TOKEN_TTL_MAX)
		return -EINVAL;
	while (got < sizeof(raw)) {
		ssize_t n = getrandom(raw + got, sizeof(raw) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		got += (size_t)n;
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(tok + 2 * i, 3, "%02x", raw[i]);
	pthread_mutex_lock(&m->lock);
	/* A free or expired slot, else the one closest to expiry. */
	slot = &m->tokens[0];
	for (unsigned int i = 0; i < MMDS_MAX_TOKENS; i++) {
		struct mmds_token *t = &m->tokens[i];

		if (t->expires <= now_ns) {
			slot = t;
			break;
		}
		if (t->expires < slot->expires)
			slot = t;
	}
	memcpy(slot->tok, tok, MMDS_TOKEN_LEN + 1);
	slot->expires = now_ns + ttl * 1000000000ULL;
	pthread_mutex_unlock(&m->lock);
	counter_inc(&m->stats.tokens);
	return 0;
}

bool mmds_token_valid(struct mmds *m, const char *tok, uint64_t now_ns)
{
	bool ok = false;

	if (!tok || strlen(tok) != MMDS_TOKEN_LEN)
		return false;
	pthread_mutex_lock(&m->lock);
	for (unsigned int i = 0; i < MMDS_MAX_TOKENS && !ok; i++)
		ok = m->tokens[i].expires > now_ns && !strcmp(m->tokens[i].tok, tok);
	pthread_mutex_unlock(&m->lock);
	return ok;
}

/* Walks path's segments (JSON Pointer escapes ~0 ~1) from the store's root. */
static const json_t *lookup(const json_t *v, const char *path)
{
	char seg[MMDS_HTTP_MAX_REQUEST];

	while (v && *path) {
		size_t n = 0;

		while (*path == '/')
			path++;
		if (!*path)
			break;
		while (*path && *path != '/' && n + 1 < sizeof(seg)) {
			if (path[0] == '~' && path[1] == '1') {
				seg[n++] = '/';
				path += 2;
			} else if (path[0] == '~' && path[1] == '0') {
				seg[n++] = '~';
				path += 2;
			} else {
				seg[n++] = *path++;
			}
		}
		seg[n] = '\0';
		v = json_is_object(v) ? json_object_get(v, seg) : NULL;
	}
	return v;
}

/* IMDS text: a string as is; an object's keys sorted, one per line, "key/" for objects. */
static int render_imds(const json_t *v, char **body, size_t *len)
{
	const char **keys;
	size_t n, i, total = 0, off = 0;
	const char *key;
	json_t *c;
	char *out;

	if (json_is_string(v)) {
		*len = json_string_length(v);
		*body = malloc(*len + 1);
		if (!*body)
			return -ENOMEM;
		memcpy(*body, json_string_value(v), *len + 1);
		return 200;
	}
	if (!json_is_object(v))
		return 501;
	n = json_object_size(v);
	keys = calloc(n ? n : 1, sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	i = 0;
	json_object_foreach ((json_t *)v, key, c) {
		keys[i++] = key;
		total += strlen(key) + 2;
	}
	for (i = 1; i < n; i++) /* sort: insertion, stores are small */
		for (size_t k = i; k > 0 && strcmp(keys[k - 1], keys[k]) > 0; k--) {
			const char *t = keys[k];

			keys[k] = keys[k - 1];
			keys[k - 1] = t;
		}
	out = malloc(total + 1);
	if (!out) {
		free(keys);
		return -ENOMEM;
	}
	for (i = 0; i < n; i++)
		off += (size_t)sprintf(out + off, "%s%s%s", i ? "\n" : "", keys[i],
				       json_is_object(json_object_get(v, keys[i])) ? "/" : "");
	out[off] = '\0';
	free(keys);
	*body = out;
	*len = off;
	return 200;
}

int mmds_render(struct mmds *m, const char *path, bool json, char **body, size_t *len)
{
	const json_t *v;
	int ret;

	*body = NULL;
	*len = 0;
	pthread_mutex_lock(&m->lock);
	v = lookup(m->data, path);
	if (!v) {
		ret = 404;
	} else if (json) {
		*body = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		*len = *body ? strlen(*body) : 0;
		ret = *body ? 200 : -ENOMEM;
	} else {
		ret = render_imds(v, body, len);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}
