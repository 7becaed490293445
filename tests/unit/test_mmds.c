// SPDX-License-Identifier: MIT
/*
 * The MMDS without a guest: the store's limit and merge patches, IMDS and
 * JSON rendering, V1/V2 request handling at the HTTP level (tokens, their
 * expiry and refusal, formats, methods), malformed and partial requests,
 * and the API routes.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/api_internal.h"
#include "mvm/err.h"
#include "mvm/mmds.h"
#include "unit.h"

#define SEC 1000000000ULL

static struct mmds *store(const char *json, size_t limit)
{
	struct mmds *m = mmds_create(limit);
	json_t *j = json_loads(json, 0, NULL);
	char msg[256];

	assert_non_null(m);
	assert_non_null(j);
	assert_int_equal(mmds_put(m, j, msg, sizeof(msg)), 0);
	json_decref(j);
	return m;
}

static void v2(struct mmds *m, bool imds_compat)
{
	struct mmds_config c = { .version = MMDS_V2, .imds_compat = imds_compat, .nr_ifaces = 1 };

	c.ipv4 = inet_addr(MMDS_DEFAULT_IPV4);
	strcpy(c.ifaces[0], "eth0");
	mmds_set_config(m, &c);
}

/* One request; *status gets the answer's code, the body is returned (free it). */
static char *ask(struct mmds *m, const char *req, uint64_t now, int *status, long *used)
{
	char *resp, *body;
	size_t len;
	bool close;
	long n = mmds_http_serve(m, req, strlen(req), now, &resp, &len, &close);

	*used = n;
	if (!resp) {
		*status = 0;
		return NULL;
	}
	assert_true(len > 12);
	assert_int_equal(strncmp(resp, "HTTP/1.1 ", 9), 0);
	*status = atoi(resp + 9);
	body = strstr(resp, "\r\n\r\n");
	assert_non_null(body);
	body = strdup(body + 4);
	/* Content-Length matches the body. */
	assert_int_equal(atol(strstr(resp, "Content-Length: ") + 16), (long)strlen(body));
	free(resp);
	return body;
}

static void expect(struct mmds *m, const char *req, uint64_t now, int status, const char *body)
{
	int st;
	long used;
	char *b = ask(m, req, now, &st, &used);

	assert_int_equal(st, status);
	if (body)
		assert_string_equal(b, body);
	free(b);
}

static const char *data = "{\"latest\": {\"meta-data\": {\"ami-id\": \"ami-87654321\", "
			  "\"reservation-id\": \"r-79054aef\", \"net\": {\"a\": \"b\"}, "
			  "\"n\": 3, \"l\": [1]}}, \"a/b\": \"slash\"}";

static void test_mmds_store(void **state)
{
	struct mmds *m = store("{\"a\": {\"b\": 1, \"c\": 2}, \"d\": \"x\"}", 64);
	json_t *p =
		json_loads("{\"a\": {\"b\": null, \"e\": {\"f\": \"g\"}}, \"d\": [1]}", 0, NULL);
	json_t *big = json_pack("{s:s}", "k",
				"0123456789012345678901234567890123456789"
				"0123456789012345678901234567890123456789");
	char msg[256], *s;
	json_t *g;

	(void)state;
	assert_int_equal(mmds_patch(m, p, msg, sizeof(msg)), 0);
	g = mmds_get(m);
	s = json_dumps(g, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(s, "{\"a\":{\"c\":2,\"e\":{\"f\":\"g\"}},\"d\":[1]}");
	free(s);
	json_decref(g);
	/* Over the limit: refused, the store unchanged. */
	assert_int_equal(mmds_put(m, big, msg, sizeof(msg)), -E2BIG);
	assert_non_null(strstr(msg, "limit is 64"));
	assert_int_equal(mmds_patch(m, big, msg, sizeof(msg)), -E2BIG);
	g = mmds_get(m);
	assert_non_null(json_object_get(g, "a"));
	json_decref(g);
	/* Only objects. */
	json_decref(p);
	p = json_loads("[1]", 0, NULL);
	assert_int_equal(mmds_put(m, p, msg, sizeof(msg)), -EINVAL);
	json_decref(p);
	json_decref(big);
	mmds_destroy(m);
}

static void test_mmds_render(void **state)
{
	struct mmds *m = store(data, MMDS_DEFAULT_LIMIT);

	(void)state;
	/* V1: no token needed; IMDS: sorted keys, "/" for objects, no trailing newline. */
	expect(m, "GET /latest/meta-data HTTP/1.1\r\nHost: x\r\n\r\n", 0, 200,
	       "ami-id\nl\nn\nnet/\nreservation-id");
	expect(m, "GET /latest/meta-data/ HTTP/1.1\r\n\r\n", 0, 200,
	       "ami-id\nl\nn\nnet/\nreservation-id");
	expect(m, "GET / HTTP/1.1\r\n\r\n", 0, 200, "a/b\nlatest/");
	expect(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", 0, 200, "ami-87654321");
	expect(m, "GET /a~1b HTTP/1.1\r\n\r\n", 0, 200, "slash");
	expect(m, "GET /latest/meta-data/ami-id?x=1 HTTP/1.1\r\n\r\n", 0, 200, "ami-87654321");
	/* IMDS has no numbers or arrays: 501; JSON has. */
	expect(m, "GET /latest/meta-data/n HTTP/1.1\r\n\r\n", 0, 501, NULL);
	expect(m, "GET /latest/meta-data/l HTTP/1.1\r\n\r\n", 0, 501, NULL);
	expect(m, "GET /latest/meta-data/n HTTP/1.1\r\nAccept: application/json\r\n\r\n", 0, 200,
	       "3");
	expect(m, "GET /latest/meta-data/net HTTP/1.1\r\naccept: application/json\r\n\r\n", 0, 200,
	       "{\"a\":\"b\"}");
	expect(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\nAccept: application/json\r\n\r\n", 0,
	       200, "\"ami-87654321\"");
	expect(m, "GET /latest/nope HTTP/1.1\r\n\r\n", 0, 404, NULL);
	expect(m, "GET /latest/meta-data/ami-id/x HTTP/1.1\r\n\r\n", 0, 404, NULL);
	/* imds_compat: text/plain whatever Accept says. */
	v2(m, true);
	{
		int st;
		long used;
		char *tok = ask(m,
				"PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: "
				"60\r\n\r\n",
				0, &st, &used);
		char req[512];

		assert_int_equal(st, 200);
		snprintf(req, sizeof(req),
			 "GET /latest/meta-data/net HTTP/1.1\r\nAccept: application/json\r\n"
			 "X-metadata-token: %s\r\n\r\n",
			 tok);
		expect(m, req, 0, 200, "a");
		free(tok);
	}
	mmds_destroy(m);
}

static void test_mmds_v2_tokens(void **state)
{
	struct mmds *m = store(data, MMDS_DEFAULT_LIMIT);
	const char *get = "GET /latest/meta-data/ami-id HTTP/1.1\r\n%s: %s\r\n\r\n";
	char req[512], *tok, *tok2;
	long used;
	int st;

	(void)state;
	v2(m, false);
	/* No token, a made-up one: 401. */
	expect(m, "GET /latest/meta-data/ami-id HTTP/1.1\r\n\r\n", 0, 401, NULL);
	snprintf(req, sizeof(req), get, "X-metadata-token", "deadbeef");
	expect(m, req, 0, 401, NULL);
	/* Token requests: ttl 1 to 21600, no X-Forwarded-For. */
	expect(m, "PUT /latest/api/token HTTP/1.1\r\n\r\n", 0, 400, NULL);
	expect(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 0\r\n\r\n", 0,
	       400, NULL);
	expect(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 21601\r\n\r\n",
	       0, 400, NULL);
	expect(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5x\r\n\r\n", 0,
	       400, NULL);
	expect(m,
	       "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 5\r\n"
	       "X-Forwarded-For: 1.2.3.4\r\n\r\n",
	       0, 400, NULL);
	tok = ask(m, "PUT /latest/api/token HTTP/1.1\r\nX-metadata-token-ttl-seconds: 10\r\n\r\n",
		  100 * SEC, &st, &used);
	assert_int_equal(st, 200);
	assert_int_equal(strlen(tok), MMDS_TOKEN_LEN);
	tok2 = ask(m,
		   "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: "
		   "21600\r\nContent-Length: 0\r\n\r\n",
		   100 * SEC, &st, &used);
	assert_int_equal(st, 200);
	assert_string_not_equal(tok, tok2);
	snprintf(req, sizeof(req), get, "X-metadata-token", tok);
	expect(m, req, 100 * SEC, 200, "ami-87654321");
	expect(m, req, 110 * SEC - 1, 200, "ami-87654321");
	/* Expired after its ttl. */
	expect(m, req, 110 * SEC, 401, NULL);
	snprintf(req, sizeof(req), get, "X-aws-ec2-metadata-token", tok2);
	expect(m, req, 110 * SEC, 200, "ami-87654321");
	assert_int_equal(counter_read(&mmds_stats(m)->tokens), 2);
	assert_true(counter_read(&mmds_stats(m)->bad_tokens) >= 3);
	free(tok);
	free(tok2);
	mmds_destroy(m);
}

static void test_mmds_http_malformed(void **state)
{
	struct mmds *m = store(data, MMDS_DEFAULT_LIMIT);
	static const char *const bad[] = {
		"GET\r\n\r\n",
		"GET /x\r\n\r\n",
		"GET x HTTP/1.1\r\n\r\n",
		"GET /x HTTP/2.0\r\n\r\n",
		"GET /x y HTTP/1.1\r\n\r\n",
		"GET /x HTTP/1.1\r\nNoColon\r\n\r\n",
		"GET /x HTTP/1.1\r\n: empty\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
		"GET /x HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET /\x01 HTTP/1.1\r\n\r\n",
		"VERYLONGMETHOD / HTTP/1.1\r\n\r\n",
	};
	char big[MMDS_HTTP_MAX_REQUEST + 16], *resp;
	size_t len;
	bool close;
	long used;
	int st;

	(void)state;
	for (unsigned int i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(mmds_http_serve(m, bad[i], strlen(bad[i]), 0, &resp, &len, &close),
				 -1);
		assert_true(close);
		assert_int_equal(strncmp(resp, "HTTP/1.1 400", 12), 0);
		free(resp);
	}
	/* Incomplete: wait for more. */
	assert_int_equal(mmds_http_serve(m, "GET / HTTP/1.1\r\n", 16, 0, &resp, &len, &close), 0);
	assert_null(resp);
	assert_int_equal(mmds_http_serve(m, "GET / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab", 40, 0,
					 &resp, &len, &close),
			 0);
	/* Never-ending headers: 413, close. */
	memset(big, 'a', sizeof(big));
	assert_int_equal(mmds_http_serve(m, big, sizeof(big), 0, &resp, &len, &close), -1);
	assert_int_equal(strncmp(resp, "HTTP/1.1 413", 12), 0);
	free(resp);
	/* Methods: only GET and PUT (token); 405 says so. */
	assert_int_equal(mmds_http_serve(m, "POST / HTTP/1.1\r\n\r\n", 19, 0, &resp, &len, &close),
			 19);
	assert_non_null(strstr(resp, "405 Method Not Allowed"));
	assert_non_null(strstr(resp, "Allow: GET, PUT\r\n"));
	free(resp);
	expect(m, "PUT /latest/meta-data HTTP/1.1\r\n\r\n", 0, 405, NULL);
	/* Two pipelined requests: the first is taken alone; HTTP/1.0 closes. */
	{
		const char *two = "GET /a~1b HTTP/1.0\r\n\r\nGET / HTTP/1.1\r\n\r\n";

		assert_int_equal(mmds_http_serve(m, two, strlen(two), 0, &resp, &len, &close), 22);
		assert_true(close);
		assert_non_null(strstr(resp, "Connection: close"));
		free(resp);
	}
	free(ask(m, "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", 0, &st, &used));
	assert_int_equal(st, 200);
	assert_true(counter_read(&mmds_stats(m)->errors) >= ARRAY_SIZE(bad));
	mmds_destroy(m);
}

static void test_mmds_load_file(void **state)
{
	char path[] = "/tmp/mvm-mmds-XXXXXX", msg[256];
	struct mmds *m = mmds_create(MMDS_DEFAULT_LIMIT);
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"k\": \"v\"}", 10), 10);
	close(fd);
	assert_int_equal(mmds_load_file(m, path, msg, sizeof(msg)), 0);
	expect(m, "GET /k HTTP/1.1\r\n\r\n", 0, 200, "v");
	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "{\"k\": ", 6), 6);
	close(fd);
	assert_int_equal(mmds_load_file(m, path, msg, sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, path));
	unlink(path);
	assert_int_equal(mmds_load_file(m, path, msg, sizeof(msg)), -EINVAL);
	mmds_destroy(m);
}

static unsigned int api(struct vmm *vmm, const char *method, const char *url, const char *body,
			char **out)
{
	struct api_response r;
	unsigned int st;

	api_handle(vmm, method, url, body, body ? strlen(body) : 0, &r);
	st = r.status;
	if (out)
		*out = r.body ? strdup(r.body) : NULL;
	api_response_free(&r);
	return st;
}

/* The routes: the store before boot, the config's checks, GET /vm/config. */
static void test_mmds_api(void **state)
{
	struct vmm *vmm = vmm_create_hooked("unit-mmds", NULL);
	char *out;

	(void)state;
	assert_false(IS_ERR(vmm));
	assert_int_equal(api(vmm, "PUT", "/mmds", "{\"a\": {\"b\": \"c\"}}", NULL), 204);
	assert_int_equal(api(vmm, "PATCH", "/mmds", "{\"a\": {\"d\": 1}}", NULL), 204);
	assert_int_equal(api(vmm, "GET", "/mmds", NULL, &out), 200);
	assert_string_equal(out, "{\"a\":{\"b\":\"c\",\"d\":1}}");
	free(out);
	assert_int_equal(api(vmm, "PUT", "/mmds", "[1]", &out), 400);
	free(out);
	/* An interface that is not configured; a bad address; a bad version. */
	assert_int_equal(
		api(vmm, "PUT", "/mmds/config", "{\"network_interfaces\": [\"eth0\"]}", &out), 400);
	assert_non_null(strstr(out, "no network interface 'eth0'"));
	free(out);
	assert_int_equal(api(vmm, "PUT", "/mmds/config", "{\"version\": \"V2\"}", &out), 400);
	assert_non_null(strstr(out, "network_interfaces"));
	free(out);
	assert_int_equal(api(vmm, "GET", "/vm/config", NULL, &out), 200);
	/* Not configured: null, as Firecracker shows it. */
	assert_non_null(strstr(out, "\"mmds-config\":null"));
	free(out);
	vmm_destroy(vmm);
}

int run_mmds_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mmds_store),     cmocka_unit_test(test_mmds_render),
		cmocka_unit_test(test_mmds_v2_tokens), cmocka_unit_test(test_mmds_http_malformed),
		cmocka_unit_test(test_mmds_load_file), cmocka_unit_test(test_mmds_api),
	};

	return cmocka_run_group_tests_name("MMDS store and HTTP", tests, NULL, NULL);
}
