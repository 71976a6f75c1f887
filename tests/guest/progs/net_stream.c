/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * TCP transfers for the virtio-net guest tests, in the guest and on the
 * host, without storing the data: the sender generates a deterministic
 * stream (xorshift64* from a seed, so every MiB differs) and the receiver
 * hashes what arrives, both on the fly. A guest's RAM disk no longer
 * bounds the size, and the busybox pipes (cat | tee | nc, about 1.5 MB/s
 * under UML) no longer set the pace.
 *
 *   net_stream [-c CPU] [-n] [-t SECS] send HOST PORT MIB [SEED]
 *                                            connect, send
 *   net_stream [-c CPU] [-n] recv HOST PORT  connect, receive to EOF
 *   net_stream [-n] [-t SECS] serve-send PORT MIB [SEED]  accept one, send
 *   net_stream [-n] serve-recv PORT          accept one, receive
 *
 * -c pins the process to CPU (a multiqueue device's pair is chosen by the
 * sending CPU, XPS). -n neither generates nor hashes (a throughput
 * benchmark, tests/bench/net/guest-tcp.sh: under TCG the guest's SHA-256
 * would be what is measured); the sum printed is then "-". -t stops
 * sending after SECS seconds (MIB 0: no size limit). A connect is retried
 * for 60 s (the peer may not listen yet). Prints one line
 * "NET-STREAM sent|received <sha256> <bytes> <ms>" and exits 0; 1 on an
 * error (said on stderr).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536

static int no_hash;		/* -n */
static uint64_t limit_ms;	/* -t, 0: none */

/* SHA-256, FIPS 180-4. */
struct sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t n;
};

static const uint32_t K[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
	0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
	0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
	0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
	0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
	0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
	0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
	0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha_block(struct sha256 *s, const uint8_t *p)
{
	uint32_t w[64], a, b, c, d, e, f, g, h;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 64; i++) {
		uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^
			      (w[i - 15] >> 3);
		uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
			      (w[i - 2] >> 10);

		w[i] = w[i - 16] + s0 + w[i - 7] + s1;
	}
	a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3];
	e = s->h[4], f = s->h[5], g = s->h[6], h = s->h[7];
	for (int i = 0; i < 64; i++) {
		uint32_t t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) +
			      ((e & f) ^ (~e & g)) + K[i] + w[i];
		uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) +
			      ((a & b) ^ (a & c) ^ (b & c));

		h = g, g = f, f = e, e = d + t1;
		d = c, c = b, b = a, a = t1 + t2;
	}
	s->h[0] += a, s->h[1] += b, s->h[2] += c, s->h[3] += d;
	s->h[4] += e, s->h[5] += f, s->h[6] += g, s->h[7] += h;
}

static void sha_init(struct sha256 *s)
{
	static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372,
					0xa54ff53a, 0x510e527f, 0x9b05688c,
					0x1f83d9ab, 0x5be0cd19 };

	memset(s, 0, sizeof(*s));
	memcpy(s->h, iv, sizeof(iv));
}

static void sha_update(struct sha256 *s, const uint8_t *p, size_t len)
{
	s->len += len;
	if (s->n) {
		size_t k = 64 - s->n < len ? 64 - s->n : len;

		memcpy(s->buf + s->n, p, k);
		s->n += k, p += k, len -= k;
		if (s->n < 64)
			return;
		sha_block(s, s->buf);
		s->n = 0;
	}
	for (; len >= 64; p += 64, len -= 64)
		sha_block(s, p);
	memcpy(s->buf, p, len);
	s->n = len;
}

static void sha_hex(struct sha256 *s, char out[65])
{
	uint64_t bits = s->len * 8;
	uint8_t pad[72] = { 0x80 };
	size_t padlen = (s->n < 56 ? 56 : 120) - s->n;

	for (int i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha_update(s, pad, padlen + 8);
	for (int i = 0; i < 8; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int fail(const char *what)
{
	fprintf(stderr, "net_stream: %s: %s\n", what, strerror(errno));
	return 1;
}

static int dial(const char *host, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };

	sa.sin_port = htons((uint16_t)atoi(port));
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "net_stream: %s: not an IPv4 address\n", host);
		return -1;
	}
	for (int i = 0; i < 600; i++) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return fd;
		close(fd);
		if (errno != ECONNREFUSED && errno != ENETUNREACH &&
		    errno != EHOSTUNREACH && errno != ETIMEDOUT)
			return -1;
		usleep(100000);
	}
	return -1;
}

static int accept_one(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int one = 1, l, c;

	sa.sin_port = htons((uint16_t)atoi(port));
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0)
		return -1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(l, 1) < 0) {
		close(l);
		return -1;
	}
	c = accept(l, NULL, NULL);
	close(l);
	return c;
}

static int do_send(int fd, uint64_t mib, uint64_t seed)
{
	static uint64_t buf[CHUNK / 8];
	uint64_t x = seed ? seed : 1, total = mib << 20, done = 0;
	uint64_t t0 = now_ms();
	struct sha256 s;
	char hex[65] = "-";

	sha_init(&s);
	while ((done < total || (!total && limit_ms)) &&
	       (!limit_ms || now_ms() - t0 < limit_ms)) {
		for (size_t i = 0; i < CHUNK / 8 && !no_hash; i++) {
			x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
			buf[i] = x * 0x2545f4914f6cdd1dull;
		}
		if (!no_hash)
			sha_update(&s, (const uint8_t *)buf, CHUNK);
		for (size_t off = 0; off < CHUNK;) {
			ssize_t n = write(fd, (uint8_t *)buf + off, CHUNK - off);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return fail("write");
			off += (size_t)n;
		}
		done += CHUNK;
	}
	if (shutdown(fd, SHUT_WR) < 0)
		return fail("shutdown");
	/* Until the peer closes, so every byte was taken. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (!no_hash)
		sha_hex(&s, hex);
	printf("NET-STREAM sent %s %llu %llu\n", hex, (unsigned long long)done,
	       (unsigned long long)(now_ms() - t0));
	return 0;
}

static int do_recv(int fd)
{
	static uint8_t buf[CHUNK];
	uint64_t t0 = now_ms(), got = 0;
	struct sha256 s;
	char hex[65] = "-";
	ssize_t n;

	sha_init(&s);
	while ((n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return fail("read");
		got += (uint64_t)n;
		if (!no_hash)
			sha_update(&s, buf, (size_t)n);
	}
	if (!no_hash)
		sha_hex(&s, hex);
	printf("NET-STREAM received %s %llu %llu\n", hex,
	       (unsigned long long)got, (unsigned long long)(now_ms() - t0));
	return 0;
}

static int usage(void)
{
	fprintf(stderr, "usage: net_stream [-c CPU] [-n] [-t SECS] send HOST PORT MIB [SEED]\n"
		"       net_stream [-c CPU] [-n] recv HOST PORT\n"
		"       net_stream [-n] [-t SECS] serve-send PORT MIB [SEED]\n"
		"       net_stream [-n] serve-recv PORT\n");
	return 2;
}

int main(int argc, char **argv)
{
	int fd, rc;

	for (;;) {
		if (argc > 2 && !strcmp(argv[1], "-c")) {
			cpu_set_t set;

			CPU_ZERO(&set);
			CPU_SET(atoi(argv[2]), &set);
			if (sched_setaffinity(0, sizeof(set), &set) < 0)
				return fail("sched_setaffinity");
			argc -= 2, argv += 2;
		} else if (argc > 2 && !strcmp(argv[1], "-t")) {
			limit_ms = strtoull(argv[2], NULL, 0) * 1000;
			argc -= 2, argv += 2;
		} else if (argc > 1 && !strcmp(argv[1], "-n")) {
			no_hash = 1;
			argc--, argv++;
		} else {
			break;
		}
	}
	if (argc < 3)
		return usage();
	if (!strcmp(argv[1], "send") && (argc == 5 || argc == 6))
		fd = dial(argv[2], argv[3]);
	else if (!strcmp(argv[1], "recv") && argc == 4)
		fd = dial(argv[2], argv[3]);
	else if (!strcmp(argv[1], "serve-send") && (argc == 4 || argc == 5))
		fd = accept_one(argv[2]);
	else if (!strcmp(argv[1], "serve-recv") && argc == 3)
		fd = accept_one(argv[2]);
	else
		return usage();
	if (fd < 0)
		return fail(strncmp(argv[1], "serve", 5) ? "connect" : "accept");
	if (!strcmp(argv[1], "send"))
		rc = do_send(fd, strtoull(argv[4], NULL, 0),
			     argc == 6 ? strtoull(argv[5], NULL, 0) : 1);
	else if (!strcmp(argv[1], "serve-send"))
		rc = do_send(fd, strtoull(argv[3], NULL, 0),
			     argc == 5 ? strtoull(argv[4], NULL, 0) : 1);
	else
		rc = do_recv(fd);
	close(fd);
	return rc;
}
