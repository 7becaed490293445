// SPDX-License-Identifier: MIT
/*
 * The Linux guest's side of tests/integration/linux-vsock.py: a static
 * program in the test image, run by its /init. AF_VSOCK stream sockets.
 *
 *   vsock-linux serve PORT N              accept N connections, echo each
 *   vsock-linux send CID PORT BYTES       send BYTES of the test stream,
 *                                         print "LINUX-SHA256 <hex>"
 *   vsock-linux parallel CID PORT N BYTES N connections at once, each sends
 *                                         BYTES and checks its echo:
 *                                         "LINUX-PARALLEL N ok" or "... FAIL"
 *   vsock-linux selftest                  SHA-256 of known inputs
 *   vsock-linux hash BYTES                the test stream's SHA-256 (no socket)
 *
 * The test stream is xorshift32 from seed 1 (the host makes the same).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

/* ---- SHA-256 (FIPS 180-4) ---- */

struct sha256 {
	uint32_t h[8];
	uint8_t buf[64];
	uint64_t len;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = w[i - 16] + (ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) +
		       w[i - 7] + (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10));
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) +
			      K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));

		h = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha256_init(struct sha256 *s)
{
	static const uint32_t h0[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
					0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };

	memcpy(s->h, h0, sizeof(h0));
	s->len = 0;
}

static void sha256_update(struct sha256 *s, const void *data, size_t n)
{
	const uint8_t *p = data;

	while (n) {
		size_t fill = s->len % 64, take = 64 - fill < n ? 64 - fill : n;

		memcpy(s->buf + fill, p, take);
		s->len += take, p += take, n -= take;
		if (s->len % 64 == 0)
			sha256_block(s, s->buf);
	}
}

static void sha256_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, z = 0, lenb[8];
	int i;

	sha256_update(s, &pad, 1);
	while (s->len % 64 != 56)
		sha256_update(s, &z, 1);
	for (i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, lenb, 8);
	for (i = 0; i < 8; i++)
		sprintf(out + 8 * i, "%08x", s->h[i]);
}

/* ---- the test stream and sockets ---- */

static void stream_fill(uint32_t *state, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t x = *state;

		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		*state = x;
		buf[i] = (uint8_t)x;
	}
}

static int vconnect(unsigned int cid, unsigned int port)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM, 0);

	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		fprintf(stderr, "vsock-linux: connect %u:%u: %s\n", cid, port, strerror(errno));
		exit(1);
	}
	return fd;
}

static int write_all(int fd, const void *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p = (const uint8_t *)p + w, n -= (size_t)w;
	}
	return 0;
}

static int serve(unsigned int port, int n)
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK,
				  .svm_cid = VMADDR_CID_ANY,
				  .svm_port = port };
	int lfd = socket(AF_VSOCK, SOCK_STREAM, 0), bad = 0;
	static uint8_t buf[65536];

	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 16)) {
		perror("vsock-linux: listen");
		return 1;
	}
	printf("LINUX-LISTENING %u\n", port);
	fflush(stdout);
	for (int i = 0; i < n; i++) {
		int fd = accept(lfd, NULL, NULL);
		ssize_t r;

		if (fd < 0)
			return 1;
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			if (write_all(fd, buf, (size_t)r))
				break;
		bad += r < 0;
		close(fd);
	}
	printf("LINUX-SERVED %d %s\n", n, bad ? "FAIL" : "ok");
	return bad != 0;
}

static int send_stream(unsigned int cid, unsigned int port, size_t bytes)
{
	static uint8_t buf[65536];
	uint32_t st = 1;
	struct sha256 s;
	char hex[65];
	int fd = vconnect(cid, port);

	sha256_init(&s);
	for (size_t done = 0; done < bytes;) {
		size_t n = bytes - done < sizeof(buf) ? bytes - done : sizeof(buf);

		stream_fill(&st, buf, n);
		sha256_update(&s, buf, n);
		if (write_all(fd, buf, n))
			return 1;
		done += n;
	}
	shutdown(fd, SHUT_WR);
	while (read(fd, buf, sizeof(buf)) > 0) /* until the host closes */
		;
	close(fd);
	sha256_hex(&s, hex);
	printf("LINUX-SHA256 %zu %s\n", bytes, hex);
	return 0;
}

/* One connection: writes BYTES of its stream, reads the echo back, compares. */
static int echo_one(unsigned int cid, unsigned int port, size_t bytes, uint32_t seed)
{
	static uint8_t out[16384], in[16384], want[16384];
	uint32_t wst = seed, rst = seed;
	size_t sent = 0, got = 0;
	int fd = vconnect(cid, port);

	while (got < bytes) {
		if (sent < bytes) {
			size_t n = bytes - sent < sizeof(out) ? bytes - sent : sizeof(out);

			stream_fill(&wst, out, n);
			if (write_all(fd, out, n))
				return 1;
			sent += n;
		}
		while (got < sent) {
			ssize_t r = read(fd, in, sent - got < sizeof(in) ? sent - got : sizeof(in));

			if (r <= 0)
				return 1;
			stream_fill(&rst, want, (size_t)r);
			if (memcmp(in, want, (size_t)r))
				return 1;
			got += (size_t)r;
		}
	}
	close(fd);
	return 0;
}

static int parallel(unsigned int cid, unsigned int port, int n, size_t bytes)
{
	int fails = 0, status;

	for (int i = 0; i < n; i++)
		if (fork() == 0)
			_exit(echo_one(cid, port, bytes, 7u + (uint32_t)i));
	for (int i = 0; i < n; i++)
		if (wait(&status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
			fails++;
	printf("LINUX-PARALLEL %d %s\n", n, fails ? "FAIL" : "ok");
	return fails != 0;
}

static int selftest(void)
{
	static const struct {
		const char *in, *hex;
	} v[] = {
		{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
		{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
		{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
		  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sha256 s;
		char hex[65];

		sha256_init(&s);
		sha256_update(&s, v[i].in, strlen(v[i].in));
		sha256_hex(&s, hex);
		bad += strcmp(hex, v[i].hex) != 0;
	}
	printf("sha256 selftest: %s\n", bad ? "FAIL" : "ok");
	return bad != 0;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 4 && !strcmp(argv[1], "serve"))
		return serve((unsigned int)atoi(argv[2]), atoi(argv[3]));
	if (argc == 5 && !strcmp(argv[1], "send"))
		return send_stream((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]),
				   strtoull(argv[4], NULL, 0));
	if (argc == 6 && !strcmp(argv[1], "parallel"))
		return parallel((unsigned int)atoi(argv[2]), (unsigned int)atoi(argv[3]),
				atoi(argv[4]), strtoull(argv[5], NULL, 0));
	if (argc == 2 && !strcmp(argv[1], "selftest"))
		return selftest();
	if (argc == 3 && !strcmp(argv[1], "hash")) { /* the stream's SHA-256, no socket */
		static uint8_t buf[65536];
		size_t bytes = strtoull(argv[2], NULL, 0);
		uint32_t st = 1;
		struct sha256 s;
		char hex[65];

		sha256_init(&s);
		for (size_t done = 0, n; done < bytes; done += n) {
			n = bytes - done < sizeof(buf) ? bytes - done : sizeof(buf);
			stream_fill(&st, buf, n);
			sha256_update(&s, buf, n);
		}
		sha256_hex(&s, hex);
		printf("%s\n", hex);
		return 0;
	}
	fprintf(stderr, "usage: vsock-linux serve PORT N | send CID PORT BYTES | "
			"parallel CID PORT N BYTES | selftest\n");
	return 2;
}
