/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Static load generator for the guest-side block tests and benchmarks
 * (busybox initramfs: no fio, no libc in the guest). O_DIRECT and Linux
 * native AIO through raw syscalls, so one thread keeps QD requests queued.
 *
 *   loadgen write DEV NBLK PASSES QD    checksummed 4 KiB blocks, pass p
 *                                       writes every block with seq p in
 *                                       a shuffled order; "LOADGEN pass p"
 *   loadgen verify DEV NBLK SEQ         every block valid and of seq SEQ
 *   loadgen bench DEV MODE BS QD SECS   MODE randread|randwrite|seqread|
 *                                       seqwrite;
 *                                       prints one LOADGEN-BENCH line
 *
 * A block: magic, block number, seq, checksum (FNV-1a of the whole block
 * with the checksum field zero), the rest a stream derived from (block,
 * seq): a torn, stale, misplaced or zeroed block is detected.
 *
 * Built outside CMake (cc -static -O2) by the scripts that use it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define BLK 4096u
#define MAGIC 0x76646576626c6b31ull /* "vdevblk1" */
#define MAXQD 256

struct hdr {
	uint64_t magic, block, seq, csum;
};

static uint64_t fnv(const void *p, size_t n)
{
	const uint8_t *b = p;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void fill(uint8_t *buf, uint64_t block, uint64_t seq)
{
	struct hdr *h = (struct hdr *)buf;
	uint64_t s = (block * 0x9e3779b97f4a7c15ull) ^ (seq + 1) ^ MAGIC;

	for (unsigned i = sizeof(*h); i < BLK; i += 8) {
		uint64_t v = rnd(&s);

		memcpy(buf + i, &v, 8);
	}
	h->magic = MAGIC;
	h->block = block;
	h->seq = seq;
	h->csum = 0;
	h->csum = fnv(buf, BLK);
}

/* 0: valid block of @block; -1: bad. Sets *seq. */
static int check(uint8_t *buf, uint64_t block, uint64_t *seq)
{
	struct hdr *h = (struct hdr *)buf;
	uint64_t c = h->csum;

	if (h->magic != MAGIC || h->block != block)
		return -1;
	h->csum = 0;
	if (fnv(buf, BLK) != c)
		return -1;
	h->csum = c;
	*seq = h->seq;
	return 0;
}

static long io_setup(unsigned n, aio_context_t *c)
{
	return syscall(SYS_io_setup, n, c);
}
static long io_submit(aio_context_t c, long n, struct iocb **v)
{
	return syscall(SYS_io_submit, c, n, v);
}
static long io_getevents(aio_context_t c, long min, long max,
			 struct io_event *ev)
{
	return syscall(SYS_io_getevents, c, min, max, ev, NULL);
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

struct ctx {
	aio_context_t aio;
	int fd;
	unsigned qd, busy;
	struct iocb cb[MAXQD];
	uint8_t *buf;
	unsigned freel[MAXQD], nfree;
	uint64_t errors;
};

static int ctx_init(struct ctx *c, const char *dev, unsigned qd, int wr,
		    size_t bs)
{
	memset(c, 0, sizeof(*c));
	if (qd == 0 || qd > MAXQD) {
		fprintf(stderr, "loadgen: QD must be 1..%u\n", MAXQD);
		return -1;
	}
	c->qd = qd;
	c->fd = open(dev, (wr ? O_RDWR : O_RDONLY) | O_DIRECT);
	if (c->fd < 0) {
		perror(dev);
		return -1;
	}
	if (posix_memalign((void **)&c->buf, 4096, bs * qd)) {
		fprintf(stderr, "loadgen: out of memory\n");
		return -1;
	}
	memset(c->buf, 0, bs * qd);
	if (io_setup(qd, &c->aio) < 0) {
		perror("io_setup");
		return -1;
	}
	for (unsigned i = 0; i < qd; i++)
		c->freel[c->nfree++] = qd - 1 - i;
	return 0;
}

static void submit(struct ctx *c, unsigned slot, int wr, size_t bs,
		   uint64_t off)
{
	struct iocb *cb = &c->cb[slot];

	memset(cb, 0, sizeof(*cb));
	cb->aio_fildes = (uint32_t)c->fd;
	cb->aio_lio_opcode = wr ? IOCB_CMD_PWRITE : IOCB_CMD_PREAD;
	cb->aio_buf = (uint64_t)(uintptr_t)(c->buf + (size_t)slot * bs);
	cb->aio_nbytes = bs;
	cb->aio_offset = (int64_t)off;
	cb->aio_data = slot;
	for (;;) {
		long r = io_submit(c->aio, 1, &cb);

		if (r == 1)
			break;
		if (r < 0 && errno == EAGAIN)
			continue;
		perror("io_submit");
		exit(1);
	}
	c->busy++;
}

/* Waits for at least @min completions; returns slots into the free list. */
static unsigned reap(struct ctx *c, unsigned min, size_t bs)
{
	struct io_event ev[MAXQD];
	long n;

	do
		n = io_getevents(c->aio, min, c->busy, ev);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		perror("io_getevents");
		exit(1);
	}
	for (long i = 0; i < n; i++) {
		if (ev[i].res != (int64_t)bs) {
			fprintf(stderr, "loadgen: I/O error: res %lld\n",
				(long long)ev[i].res);
			c->errors++;
		}
		c->freel[c->nfree++] = (unsigned)ev[i].data;
		c->busy--;
	}
	return (unsigned)n;
}

static int do_write(const char *dev, uint64_t nblk, uint64_t passes,
		    unsigned qd)
{
	uint64_t *order = malloc(nblk * sizeof(*order)), s = 88172645463325252ull;
	struct ctx c;

	if (!order || ctx_init(&c, dev, qd, 1, BLK))
		return 1;
	for (uint64_t i = 0; i < nblk; i++)
		order[i] = i;
	for (uint64_t p = 1; p <= passes; p++) {
		for (uint64_t i = nblk - 1; i > 0; i--) {
			uint64_t j = rnd(&s) % (i + 1), t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (uint64_t i = 0; i < nblk; i++) {
			unsigned slot;

			if (!c.nfree)
				reap(&c, 1, BLK);
			slot = c.freel[--c.nfree];
			fill(c.buf + (size_t)slot * BLK, order[i], p);
			submit(&c, slot, 1, BLK, order[i] * BLK);
		}
		while (c.busy)
			reap(&c, c.busy, BLK);
		if (fdatasync(c.fd)) {
			perror("fdatasync");
			return 1;
		}
		printf("LOADGEN pass %" PRIu64 "\n", p);
		fflush(stdout);
		if (c.errors)
			break;
	}
	if (c.errors) {
		fprintf(stderr, "loadgen: %" PRIu64 " I/O errors\n", c.errors);
		return 1;
	}
	return 0;
}

static int do_verify(const char *dev, uint64_t nblk, uint64_t want)
{
	uint8_t *buf;
	uint64_t bad = 0, seq;
	int fd = open(dev, O_RDONLY | O_DIRECT);

	if (fd < 0 || posix_memalign((void **)&buf, 4096, BLK)) {
		perror(dev);
		return 1;
	}
	for (uint64_t b = 0; b < nblk; b++) {
		if (pread(fd, buf, BLK, (off_t)(b * BLK)) != (ssize_t)BLK) {
			perror("pread");
			return 1;
		}
		if (check(buf, b, &seq)) {
			if (bad++ < 5)
				fprintf(stderr, "loadgen: block %" PRIu64
					" corrupt or misplaced\n", b);
		} else if (seq != want) {
			if (bad++ < 5)
				fprintf(stderr, "loadgen: block %" PRIu64
					" has seq %" PRIu64 ", want %" PRIu64
					"\n", b, seq, want);
		}
	}
	printf("LOADGEN-VERIFY %" PRIu64 " blocks, %" PRIu64 " bad\n", nblk,
	       bad);
	return bad != 0;
}

static int do_bench(const char *dev, const char *mode, size_t bs,
		    unsigned qd, double secs)
{
	int wr = !strcmp(mode, "randwrite") || !strcmp(mode, "seqwrite");
	int seq = !strcmp(mode, "seqread") || !strcmp(mode, "seqwrite");
	uint64_t size, nb, ops = 0, next = 0, s = 0x2545f4914f6cdd1dull;
	struct ctx c;
	double t0, t;

	if (!wr && !seq && strcmp(mode, "randread")) {
		fprintf(stderr, "loadgen: unknown mode %s\n", mode);
		return 2;
	}
	if (bs == 0 || bs % 512 || ctx_init(&c, dev, qd, wr, bs))
		return 1;
	if (ioctl(c.fd, BLKGETSIZE64, &size)) {
		perror("BLKGETSIZE64");
		return 1;
	}
	nb = size / bs;
	if (!nb)
		return 1;
	for (unsigned i = 0; i < qd * bs; i++)
		c.buf[i] = (uint8_t)(i * 7);
	t0 = now();
	do {
		while (c.nfree) {
			unsigned slot = c.freel[--c.nfree];
			uint64_t blk = seq ? next++ % nb : rnd(&s) % nb;

			submit(&c, slot, wr, bs, blk * bs);
		}
		ops += reap(&c, 1, bs);
		t = now();
	} while (t - t0 < secs);
	while (c.busy)
		ops += reap(&c, c.busy, bs);
	t = now() - t0;
	printf("LOADGEN-BENCH %s bs=%zu qd=%u ops=%" PRIu64
	       " secs=%.3f iops=%.0f mbps=%.1f errors=%" PRIu64 "\n",
	       mode, bs, qd, ops, t, ops / t, ops * (double)bs / t / 1048576,
	       c.errors);
	return c.errors != 0;
}

int main(int argc, char **argv)
{
	if (argc == 6 && !strcmp(argv[1], "write"))
		return do_write(argv[2], strtoull(argv[3], NULL, 0),
				strtoull(argv[4], NULL, 0),
				(unsigned)strtoul(argv[5], NULL, 0));
	if (argc == 5 && !strcmp(argv[1], "verify"))
		return do_verify(argv[2], strtoull(argv[3], NULL, 0),
				 strtoull(argv[4], NULL, 0));
	if (argc == 7 && !strcmp(argv[1], "bench"))
		return do_bench(argv[2], argv[3], strtoul(argv[4], NULL, 0),
				(unsigned)strtoul(argv[5], NULL, 0),
				strtod(argv[6], NULL));
	fprintf(stderr, "usage: loadgen write DEV NBLK PASSES QD\n"
			"       loadgen verify DEV NBLK SEQ\n"
			"       loadgen bench DEV randread|randwrite|seqread|seqwrite "
			"BS QD SECS\n");
	return 2;
}
