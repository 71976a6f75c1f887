/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The image layer (src/storage) on its own, without a device: format
 * detection and the refusal of non-raw files; reads and writes through
 * every engine, small, large (split over the worker pool) and bounced;
 * FUA, FLUSH, DISCARD, WRITE_ZEROES and WRITE_SAME on files, on a block
 * device (a loop device, when the test may make one) and in memory;
 * cancellation of a request that waits and of one in the kernel.
 *
 * The queue has no device, so no watcher: stg_kick() waits for each
 * batch, which is what an embedder without fd watching gets.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <signal.h>
#include <sys/wait.h>
#include <cmocka.h>
#include <virtio/caps.h>
#include <virtio/image.h>

#include "storage/storage_internal.h"
#include "tspawn.h"

#define IMG (8u << 20)

struct treq {
	struct stg_req r;
	int res;
	bool done;
	struct iovec iov[300];
};

static void on_done(struct stg_req *r, int res)
{
	struct treq *t = (struct treq *)r;

	assert_false(t->done);
	t->res = res;
	t->done = true;
}

struct fx {
	char path[64];
	char qcow[80];       /* NBD: the qcow2 image qemu-nbd serves */
	char sock[80];
	char uri[128];
	struct tspawn nbd;
	int fd;
	struct stg_image *img;
	struct stg_queue *q;
	struct stg_open_opts o;
};

static char logged[1024];

static void log_fn(enum vdev_log_level lvl, const char *msg, void *opaque)
{
	snprintf(logged, sizeof(logged), "%s", msg);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	snprintf(f->path, sizeof(f->path), "/tmp/vdev-stg-test-XXXXXX");
	f->fd = mkstemp(f->path);
	assert_true(f->fd >= 0);
	assert_int_equal(ftruncate(f->fd, IMG), 0);
	f->o.path = f->path;
	f->o.fd = -1;
	f->o.who = "test";
	*state = f;
	return 0;
}

static void fx_close(struct fx *f)
{
	stg_queue_free(f->q);
	stg_image_close(f->img);
	f->q = NULL;
	f->img = NULL;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	if (f->nbd.pid > 0)
		tspawn_stop(&f->nbd, SIGTERM, 5000);
	if (*f->qcow)
		unlink(f->qcow);
	if (*f->sock)
		unlink(f->sock);
	close(f->fd);
	unlink(f->path);
	free(f);
	return 0;
}

static void fx_open(struct fx *f, enum stg_engine e)
{
	f->o.engine = e;
	f->img = stg_image_open(&f->o);
	assert_non_null(f->img);
	f->q = stg_queue_new(NULL, 0, 64, &f->img, 1, NULL, NULL);
	assert_non_null(f->q);
}

static void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}

/* @t describes @len bytes of @buf cut into segments of the lengths in
 * @segs (repeated). */
static void tr_init(struct treq *t, uint8_t op, uint64_t off, uint8_t *buf,
		    size_t len, const size_t *segs, unsigned nsegs)
{
	size_t done = 0;
	unsigned n = 0;

	memset(t, 0, sizeof(*t));
	while (done < len) {
		size_t l = segs ? segs[n % nsegs] : len;

		if (l > len - done)
			l = len - done;
		assert_true(n < 300);
		t->iov[n].iov_base = buf + done;
		t->iov[n].iov_len = l;
		done += l;
		n++;
	}
	t->r.op = op;
	t->r.img = NULL; /* run() sets it */
	t->r.off = off;
	t->r.len = len;
	t->r.iov = t->iov;
	t->r.iovcnt = (int)n;
	t->r.done = on_done;
}

static int run(struct fx *f, struct treq *t)
{
	t->r.img = f->img;
	stg_submit(f->q, &t->r);
	stg_kick(f->q);
	assert_true(t->done);
	assert_int_equal(stg_inflight(f->q), 0);
	return t->res;
}

static int rw(struct fx *f, uint8_t op, uint64_t off, uint8_t *buf,
	      size_t len, const size_t *segs, unsigned nsegs, uint8_t flags)
{
	struct treq t;

	tr_init(&t, op, off, buf, len, segs, nsegs);
	t.r.flags = flags;
	return run(f, &t);
}

static int op(struct fx *f, uint8_t o, uint64_t off, uint64_t len,
	      uint8_t flags)
{
	struct treq t;

	tr_init(&t, o, off, NULL, 0, NULL, 0);
	t.r.len = len;
	t.r.flags = flags;
	return run(f, &t);
}

/* ---- formats ------------------------------------------------------------ */

struct sig {
	const char *fmt;
	unsigned off;
	const char *bytes;
	unsigned len;
};

static const struct sig sigs[] = {
	{ "qcow2", 0, "QFI\xfb\0\0\0\3", 8 },
	{ "qcow2", 0, "QFI\xfb\0\0\0\2", 8 },
	{ "qcow", 0, "QFI\xfb\0\0\0\1", 8 },
	{ "qed", 0, "QED\0", 4 },
	{ "vmdk", 0, "KDMV", 4 },
	{ "vmdk", 0, "COWD", 4 },
	{ "vmdk", 0, "# Disk DescriptorFile\n", 22 },
	{ "vdi", 0x40, "\x7f\x10\xda\xbe", 4 },
	{ "vhdx", 0, "vhdxfile", 8 },
	{ "vpc", 0, "conectix", 8 },
	{ "luks", 0, "LUKS\xba\xbe\0\1", 8 },
	{ "parallels", 0, "WithoutFreeSpace", 16 },
	{ "parallels", 0, "WithouFreSpacExt", 16 },
	{ "bochs", 0, "Bochs Virtual HD Image", 22 },
	{ "cloop", 0, "#!/bin/sh\n#V2.0 Format\n", 23 },
};

static void test_probe(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4096];

	/* zeroes, data, a near miss: raw */
	assert_string_equal(vdev_image_probe(f->fd), "raw");
	pattern(buf, sizeof(buf), 1);
	assert_int_equal(pwrite(f->fd, buf, sizeof(buf), 0), 4096);
	assert_string_equal(vdev_image_probe(f->fd), "raw");
	assert_int_equal(pwrite(f->fd, "QFI", 3, 0), 3);
	assert_string_equal(vdev_image_probe(f->fd), "raw");
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		memset(buf, 0, sizeof(buf));
		memcpy(buf + sigs[i].off, sigs[i].bytes, sigs[i].len);
		assert_int_equal(pwrite(f->fd, buf, sizeof(buf), 0), 4096);
		if (strcmp(vdev_image_probe(f->fd), sigs[i].fmt))
			fail_msg("%s: probed as %s", sigs[i].fmt,
				 vdev_image_probe(f->fd));
	}
	/* a file shorter than the probe, and an empty one */
	assert_int_equal(pwrite(f->fd, sigs[0].bytes, 8, 0), 8);
	assert_int_equal(ftruncate(f->fd, 8), 0);
	assert_string_equal(vdev_image_probe(f->fd), "qcow2");
	assert_int_equal(ftruncate(f->fd, 0), 0);
	assert_string_equal(vdev_image_probe(f->fd), "raw");
	assert_null(vdev_image_probe(-1));
	assert_int_equal(errno, EBADF);
}

/* Images made by qemu-img, when it is installed, probe as their format. */
static void test_probe_qemu_img(void **state)
{
	static const char *const fmts[] = { "qcow2", "vmdk", "vdi", "vhdx",
					    "vpc", "qed", "parallels" };
	struct fx *f = *state;
	unsigned made = 0;

	if (system("qemu-img --version >/dev/null 2>&1")) {
		print_message("SKIP: no qemu-img\n");
		skip();
	}
	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
		char cmd[256];
		int fd;

		snprintf(cmd, sizeof(cmd),
			 "qemu-img create -q -f %s %s.%s 4M 2>/dev/null",
			 fmts[i], f->path, fmts[i]);
		if (system(cmd))
			continue; /* this qemu-img lacks the format */
		snprintf(cmd, sizeof(cmd), "%s.%s", f->path, fmts[i]);
		fd = open(cmd, O_RDONLY);
		assert_true(fd >= 0);
		if (strcmp(vdev_image_probe(fd), fmts[i]))
			fail_msg("qemu-img %s probed as %s", fmts[i],
				 vdev_image_probe(fd));
		close(fd);
		unlink(cmd);
		made++;
	}
	assert_true(made >= 2);
}

static void test_refuse_non_raw(void **state)
{
	struct fx *f = *state;
	uint8_t buf[512] = "QFI\xfb\0\0\0\3";

	assert_int_equal(pwrite(f->fd, buf, sizeof(buf), 0), 512);
	logged[0] = 0;
	vdev_set_log_fn(log_fn, NULL, VDEV_LOG_ERROR);
	f->o.engine = STG_ENGINE_SYNC;
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, EMEDIUMTYPE);
	vdev_set_log_fn(NULL, NULL, VDEV_LOG_WARN);
	/* the message names the file, the format and the ways out */
	assert_non_null(strstr(logged, f->path));
	assert_non_null(strstr(logged, "qcow2 image"));
	assert_non_null(strstr(logged, "qemu-nbd --format=qcow2"));
	assert_non_null(strstr(logged, "NBD"));
	assert_non_null(strstr(logged, "force raw"));
	/* forced raw: served as bytes */
	f->o.format = VDEV_IMAGE_FORMAT_RAW;
	fx_open(f, STG_ENGINE_SYNC);
	memset(buf, 0, sizeof(buf));
	assert_int_equal(rw(f, STG_READ, 0, buf, 512, NULL, 0, 0), 0);
	assert_memory_equal(buf, "QFI\xfb", 4);
}

/* The engines this build has are capabilities (vdev_capabilities()). */
static void test_capabilities(void **state)
{
	(void)state;
	assert_int_equal(vdev_has_capability(VDEV_CAP_BACKEND, "libnbd"),
			 STG_WITH_NBD);
	assert_int_equal(vdev_has_capability(VDEV_CAP_BACKEND, "liburing"),
			 STG_WITH_URING);
}

static void test_open_errors(void **state)
{
	struct fx *f = *state;

	f->o.path = "/nonexistent/vdev-img";
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, ENOENT);
	f->o.path = "/dev/null"; /* a character device */
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, EINVAL);
	f->o.path = f->path;
	assert_int_equal(ftruncate(f->fd, 100), 0); /* under one block */
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(ftruncate(f->fd, IMG + 1000), 0);
	f->o.block_size = 1024;
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, EINVAL);
	f->o.block_size = 4096;
	fx_open(f, STG_ENGINE_SYNC);
	/* the size rounds down to whole blocks */
	assert_int_equal(f->img->size, IMG);
	assert_int_equal(f->img->block_size, 4096);
	fx_close(f);
	f->o.block_size = 0;
	f->o.engine = STG_ENGINE_NBD;
	f->o.nbd_uri = "nbd+unix:///?socket=/nonexistent/sock";
	assert_null(stg_image_open(&f->o));
	f->o.nbd_uri = NULL;
}

/* ---- transfers ------------------------------------------------------------ */

static int rw(struct fx *f, uint8_t op, uint64_t off, uint8_t *buf,
	      size_t len, const size_t *segs, unsigned nsegs, uint8_t flags);

/* The image holds @want at @off: read from its file, or through the
 * layer when it has none (NBD). */
static void check_file(struct fx *f, const uint8_t *want, size_t len,
		       uint64_t off)
{
	uint8_t *got = malloc(len);

	assert_non_null(got);
	if (f->img->fd < 0)
		assert_int_equal(rw(f, STG_READ, off, got, len, NULL, 0, 0),
				 0);
	else
		assert_int_equal(pread(f->fd, got, len, (off_t)off),
				 (ssize_t)len);
	assert_memory_equal(got, want, len);
	free(got);
}

/* Write then read back @len bytes in segments @segs, check the file. */
static void roundtrip(struct fx *f, uint64_t off, size_t len,
		      const size_t *segs, unsigned nsegs, unsigned seed,
		      uint8_t flags)
{
	uint8_t *w = malloc(len), *r = calloc(1, len);

	assert_non_null(w);
	assert_non_null(r);
	pattern(w, len, seed);
	assert_int_equal(rw(f, STG_WRITE, off, w, len, segs, nsegs, flags), 0);
	assert_int_equal(rw(f, STG_READ, off, r, len, segs, nsegs, 0), 0);
	assert_memory_equal(w, r, len);
	/* a loop device writes its file back when flushed */
	if (f->img->blockdev)
		assert_int_equal(op(f, STG_FLUSH, 0, 0, 0), 0);
	if (f->img->fd >= 0)
		check_file(f, w, len, off);
	free(w);
	free(r);
}

static const enum stg_engine e_sync = STG_ENGINE_SYNC;

static void test_rw(void **state)
{
	struct fx *f = *state;
	static const size_t pages[] = { 4096 };
	static const size_t odd[] = { 1000, 3096, 512, 77, 435 };
	static const size_t big[] = { 100000, 31584, 4096, 65459, 77 };

	fx_open(f, f->o.engine);
	roundtrip(f, 0, 4096, NULL, 0, 1, 0);
	roundtrip(f, 512, 8192, odd, 5, 2, 0);
	/* large: split over the worker pool (file engines) */
	roundtrip(f, 1 << 20, 1 << 20, pages, 1, 3, 0);
	roundtrip(f, 3 << 20, (3 << 20) - 512, big, 5, 4, 0);
	roundtrip(f, 0, 4 << 20, NULL, 0, 5, 0);
	/* durable writes take the same paths */
	roundtrip(f, 4096, 4096, NULL, 0, 6, STG_FUA);
	roundtrip(f, 2 << 20, 1 << 20, pages, 1, 7, STG_FUA);
	assert_int_equal(op(f, STG_FLUSH, 0, 0, 0), 0);
	/* zero length is nothing */
	assert_int_equal(rw(f, STG_READ, 0, NULL, 0, NULL, 0, 0), 0);
}

/* Several large transfers in flight at once, to different ranges. */
static void test_parallel(void **state)
{
	struct fx *f = *state;
	enum { N = 6, LEN = 768 << 10 };
	static const size_t segs[] = { 4096, 8192, 1536, 2560 };
	struct treq *t = calloc(N, sizeof(*t));
	uint8_t *buf = malloc((size_t)N * LEN), *ref = malloc(LEN);

	assert_non_null(t);
	assert_non_null(buf);
	assert_non_null(ref);
	fx_open(f, f->o.engine);
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < N; i++) {
			if (!pass)
				pattern(buf + (size_t)i * LEN, LEN, 30 + i);
			else
				memset(buf + (size_t)i * LEN, 0, LEN);
			tr_init(&t[i], pass ? STG_READ : STG_WRITE,
				(uint64_t)i * LEN, buf + (size_t)i * LEN, LEN,
				segs, 4);
			t[i].r.img = f->img;
			stg_submit(f->q, &t[i].r);
		}
		stg_kick(f->q);
		for (unsigned i = 0; i < N; i++) {
			assert_true(t[i].done);
			assert_int_equal(t[i].res, 0);
		}
	}
	for (unsigned i = 0; i < N; i++) {
		pattern(ref, LEN, 30 + i);
		assert_memory_equal(buf + (size_t)i * LEN, ref, LEN);
	}
	free(t);
	free(buf);
	free(ref);
}

static bool is_hole(struct fx *f, off_t off, off_t len)
{
	off_t d;

	if (lseek(f->fd, off, SEEK_HOLE) != off)
		return false;
	d = lseek(f->fd, off, SEEK_DATA);
	return d >= off + len || (d < 0 && errno == ENXIO);
}

static void check_zero(struct fx *f, uint64_t off, size_t len)
{
	uint8_t *z = calloc(1, len), *r = malloc(len);

	assert_non_null(z);
	assert_non_null(r);
	memset(r, 0xaa, len);
	assert_int_equal(rw(f, STG_READ, off, r, len, NULL, 0, 0), 0);
	assert_memory_equal(r, z, len);
	free(z);
	free(r);
}

static void test_discard_zeroes(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(IMG);

	assert_non_null(w);
	fx_open(f, f->o.engine);
	pattern(w, IMG, 9);
	assert_int_equal(rw(f, STG_WRITE, 0, w, IMG, NULL, 0, 0), 0);
	assert_int_equal(op(f, STG_DISCARD, 1 << 20, 1 << 20, 0), 0);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 3 << 20, 1 << 20, 0), 0);
	check_zero(f, 3 << 20, 1 << 20);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 5 << 20, 1 << 20,
			    STG_UNMAP | STG_FUA),
			 0);
	check_zero(f, 5 << 20, 1 << 20);
	/* what is around is untouched */
	check_file(f, w, 1 << 20, 0);
	check_file(f, w + (2 << 20), 1 << 20, 2 << 20);
	check_file(f, w + (4 << 20), 1 << 20, 4 << 20);
	if (f->img->fd >= 0 && !f->img->blockdev) {
		/* files: a discard and an unmapping zero punch holes, a
		 * plain zero does not have to */
		assert_true(is_hole(f, 1 << 20, 1 << 20));
		assert_true(is_hole(f, 5 << 20, 1 << 20));
	}
	free(w);
}

static void test_write_same(void **state)
{
	struct fx *f = *state;
	uint8_t blk[512], *r;
	const size_t len = STG_BOUNCE_SLOT * 2 + 4096;
	struct treq t;

	r = malloc(len);
	assert_non_null(r);
	fx_open(f, f->o.engine);
	pattern(blk, sizeof(blk), 11);
	tr_init(&t, STG_WRITE_SAME, 4096, blk, sizeof(blk), NULL, 0);
	t.r.len = len;
	assert_int_equal(run(f, &t), 0);
	assert_int_equal(rw(f, STG_READ, 4096, r, len, NULL, 0, 0), 0);
	for (size_t o = 0; o < len; o += 512)
		assert_memory_equal(r + o, blk, 512);
	/* a zero block is WRITE_ZEROES, with UNMAP a hole */
	memset(blk, 0, sizeof(blk));
	tr_init(&t, STG_WRITE_SAME, 1 << 20, blk, sizeof(blk), NULL, 0);
	t.r.len = 1 << 20;
	t.r.flags = STG_UNMAP;
	assert_int_equal(run(f, &t), 0);
	check_zero(f, 1 << 20, 1 << 20);
	if (f->img->fd >= 0 && !f->img->blockdev)
		assert_true(is_hole(f, 1 << 20, 1 << 20));
	/* not one block: refused */
	tr_init(&t, STG_WRITE_SAME, 0, blk, 100, NULL, 0);
	t.r.len = 4096;
	assert_int_equal(run(f, &t), -EINVAL);
	free(r);
}

/* Out of the image, unaligned, or a write to a read-only one. */
static void test_bad_requests(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4096];

	fx_open(f, f->o.engine);
	assert_int_equal(rw(f, STG_READ, IMG, buf, 512, NULL, 0, 0), -EINVAL);
	assert_int_equal(rw(f, STG_READ, IMG - 512, buf, 1024, NULL, 0, 0),
			 -EINVAL);
	assert_int_equal(rw(f, STG_READ, 100, buf, 512, NULL, 0, 0), -EINVAL);
	assert_int_equal(op(f, STG_DISCARD, UINT64_MAX - 511, 512, 0),
			 -EINVAL);
	fx_close(f);
	f->o.read_only = true;
	fx_open(f, f->o.engine);
	assert_int_equal(rw(f, STG_READ, 0, buf, 512, NULL, 0, 0), 0);
	assert_int_equal(rw(f, STG_WRITE, 0, buf, 512, NULL, 0, 0), -EROFS);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 0, 512, 0), -EROFS);
	assert_int_equal(op(f, STG_DISCARD, 0, 512, 0), -EROFS);
}

/* O_DIRECT with buffers it cannot take: bounced, chunk by chunk. */
static void test_direct_bounce(void **state)
{
	struct fx *f = *state;
	static const size_t odd[] = { 100000, 31584, 4096, 65459, 77 };
	uint8_t *mem = malloc((2 << 20) + 8);

	assert_non_null(mem);
	f->o.direct = true;
	fx_open(f, f->o.engine);
	assert_true(f->img->direct);
	assert_true(f->img->len_align >= 512);
	/* odd segments and an odd start: every byte bounced */
	pattern(mem + 1, 2 << 20, 12);
	assert_int_equal(rw(f, STG_WRITE, 8192, mem + 1, 2 << 20, odd, 5, 0),
			 0);
	check_file(f, mem + 1, 2 << 20, 8192);
	memset(mem, 0, (2 << 20) + 8);
	assert_int_equal(rw(f, STG_READ, 8192, mem + 3, 2 << 20, odd, 5, 0),
			 0);
	{
		uint8_t *ref = malloc(2 << 20);

		assert_non_null(ref);
		pattern(ref, 2 << 20, 12);
		assert_memory_equal(mem + 3, ref, 2 << 20);
		free(ref);
	}
	assert_int_equal(f->q->bbusy, 0);
	free(mem);
}

/*
 * A request waiting for a bounce slot ends at once when cancelled; the
 * ones holding slots finish normally; one in the kernel ends with either
 * its result or -ECANCELED, exactly once.
 */
static void test_cancel(void **state)
{
	struct fx *f = *state;
	enum { N = STG_BOUNCE_SLOTS + 2 };
	struct treq *t = calloc(N, sizeof(*t));
	uint8_t *mem = malloc((size_t)N * 65536 + 8);

	assert_non_null(t);
	assert_non_null(mem);
	f->o.direct = true;
	fx_open(f, f->o.engine);
	for (unsigned i = 0; i < N; i++) {
		tr_init(&t[i], STG_READ, (uint64_t)i * 65536,
			mem + 1 + (size_t)i * 65536, 65536, NULL, 0);
		t[i].r.img = f->img;
		stg_submit(f->q, &t[i].r);
	}
	if (f->q->uring) {
		/* nothing was handed to the kernel yet: the last two wait */
		assert_int_equal(f->q->bbusy, (1u << STG_BOUNCE_SLOTS) - 1);
		assert_false(t[N - 1].done);
		stg_cancel(f->q, &t[N - 1].r);
		assert_true(t[N - 1].done);
		assert_int_equal(t[N - 1].res, -ECANCELED);
		stg_cancel(f->q, &t[0].r); /* queued for the kernel */
	}
	stg_kick(f->q);
	for (unsigned i = 0; i < N; i++) {
		assert_true(t[i].done);
		if (f->q->uring && (i == 0 || i == N - 1))
			assert_true(t[i].res == 0 || t[i].res == -ECANCELED);
		else
			assert_int_equal(t[i].res, 0);
	}
	assert_int_equal(f->q->bbusy, 0);
	assert_int_equal(stg_inflight(f->q), 0);
	free(t);
	free(mem);
}

/* ---- memory ---------------------------------------------------------------- */

static void test_memory(void **state)
{
	struct fx *f = *state;
	uint8_t buf[8192], z[8192] = { 0 };

	f->o.path = NULL;
	f->o.mem_size = IMG + 100;
	fx_open(f, STG_ENGINE_RAM);
	assert_int_equal(f->img->size, IMG);
	roundtrip(f, 4096, 8192, NULL, 0, 13, 0);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 4096, 8192, STG_UNMAP), 0);
	assert_int_equal(rw(f, STG_READ, 4096, buf, 8192, NULL, 0, 0), 0);
	assert_memory_equal(buf, z, 8192);
	fx_close(f);
	fx_open(f, STG_ENGINE_NULL);
	memset(buf, 1, sizeof(buf));
	assert_int_equal(rw(f, STG_WRITE, 0, buf, 8192, NULL, 0, 0), 0);
	assert_int_equal(rw(f, STG_READ, 0, buf, 8192, NULL, 0, 0), 0);
	assert_memory_equal(buf, z, 8192);
}

/* The medium: memory and tmpfs have no seek cost (a SCSI LUN reports
 * them non-rotating). */
static void test_medium(void **state)
{
	struct fx *f = *state;
	char shm[] = "/dev/shm/vdev-stg-test-XXXXXX";
	int fd = mkstemp(shm);

	if (fd < 0) {
		print_message("SKIP: no /dev/shm (%s)\n", strerror(errno));
		skip();
	}
	assert_int_equal(ftruncate(fd, IMG), 0);
	f->o.path = shm;
	fx_open(f, STG_ENGINE_SYNC);
	unlink(shm);
	close(fd);
	assert_true(f->img->in_memory);
	assert_true(f->img->nonrot);
	fx_close(f);
	f->o.path = NULL;
	f->o.mem_size = IMG;
	fx_open(f, STG_ENGINE_RAM);
	assert_true(f->img->nonrot);
}

/* ---- a block device ----------------------------------------------------- */

/* What the kernel says of the loop device @dev (/dev/loopN): 1 rotating,
 * 0 not, -1 unknown. */
static int sysfs_rotational(const char *dev)
{
	char path[64], c = 0;
	int fd;

	snprintf(path, sizeof(path), "/sys/block/%s/queue/rotational",
		 dev + 5);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (read(fd, &c, 1) != 1)
		c = 0;
	close(fd);
	return c == '0' ? 0 : c == '1' ? 1 : -1;
}

/* A loop device over the test's file, or -1 (not root, no loop driver). */
static int loop_attach(struct fx *f, char *dev, size_t len)
{
	int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC), n, lfd;
	struct loop_config cfg = { 0 };

	if (ctl < 0)
		return -1;
	n = ioctl(ctl, LOOP_CTL_GET_FREE);
	close(ctl);
	if (n < 0)
		return -1;
	snprintf(dev, len, "/dev/loop%d", n);
	lfd = open(dev, O_RDWR | O_CLOEXEC);
	if (lfd < 0)
		return -1;
	cfg.fd = (unsigned)f->fd;
	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) < 0) {
		close(lfd);
		return -1;
	}
	return lfd;
}

static void test_blockdev(void **state)
{
	struct fx *f = *state;
	char dev[32];
	int lfd = loop_attach(f, dev, sizeof(dev));

	if (lfd < 0) {
		print_message("SKIP: cannot make a loop device (%s)\n",
			      strerror(errno));
		skip();
	}
	f->o.path = dev;
	f->img = stg_image_open(&f->o);
	if (!f->img) {
		ioctl(lfd, LOOP_CLR_FD, 0);
		close(lfd);
		fail_msg("open %s: %s", dev, strerror(errno));
	}
	f->q = stg_queue_new(NULL, 0, 64, &f->img, 1, NULL, NULL);
	assert_true(f->img->blockdev);
	assert_int_equal(f->img->size, IMG);
	/* the medium is the kernel's word for the device */
	if (sysfs_rotational(dev) >= 0)
		assert_int_equal(f->img->nonrot, sysfs_rotational(dev) == 0);
	{
		unsigned pbs = 0;

		/* the physical block size is reported as the kernel has it */
		assert_int_equal(ioctl(lfd, BLKPBSZGET, &pbs), 0);
		assert_int_equal(f->img->phys_block,
				 pbs > f->img->block_size ? pbs
							  : f->img->block_size);
	}
	roundtrip(f, 0, 1 << 20, NULL, 0, 14, 0);
	roundtrip(f, 8192, 4096, NULL, 0, 15, STG_FUA);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 0, 65536, 0), 0);
	check_zero(f, 0, 65536);
	assert_int_equal(op(f, STG_WRITE_ZEROES, 65536, 65536, STG_UNMAP), 0);
	check_zero(f, 65536, 65536);
	assert_int_equal(op(f, STG_DISCARD, 1 << 20, 1 << 20, 0), 0);
	assert_int_equal(op(f, STG_FLUSH, 0, 0, 0), 0);
	fx_close(f);
	ioctl(lfd, LOOP_CLR_FD, 0);
	close(lfd);
}

/* ---- NBD ------------------------------------------------------------------ */

/* @prog found in $PATH, into @buf; false when it is not there. */
static bool in_path(const char *prog, char *buf, size_t len)
{
	const char *p = getenv("PATH");

	while (p && *p) {
		const char *e = strchr(p, ':');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		snprintf(buf, len, "%.*s/%s", (int)n, p, prog);
		if (n && access(buf, X_OK) == 0)
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* qemu-nbd serving a fresh 8 MiB qcow2 image (read-only with @ro). */
static void nbd_serve(struct fx *f, bool ro)
{
	char cmd[256], qemu_nbd[256];
	const char *argv[12];
	int n = 0;

	if (!STG_WITH_NBD) {
		print_message("SKIP: built without libnbd\n");
		skip();
	}
	if (!in_path("qemu-nbd", qemu_nbd, sizeof(qemu_nbd)) ||
	    system("qemu-img --version >/dev/null 2>&1")) {
		print_message("SKIP: no qemu-nbd or qemu-img\n");
		skip();
	}
	snprintf(f->qcow, sizeof(f->qcow), "%s.qcow2", f->path);
	snprintf(f->sock, sizeof(f->sock), "%s.sock", f->path);
	snprintf(f->uri, sizeof(f->uri), "nbd+unix:///?socket=%s", f->sock);
	snprintf(cmd, sizeof(cmd), "qemu-img create -q -f qcow2 %s 8M",
		 f->qcow);
	assert_int_equal(system(cmd), 0);
	argv[n++] = qemu_nbd;
	argv[n++] = "--format=qcow2";
	argv[n++] = "--persistent";
	argv[n++] = "--shared=4";
	argv[n++] = "--socket";
	argv[n++] = f->sock;
	if (ro)
		argv[n++] = "--read-only";
	argv[n++] = f->qcow;
	argv[n] = NULL;
	/* Its output goes nowhere: the probe connection below makes it
	 * complain about the handshake it could not finish. */
	assert_int_equal(tspawn_start(&f->nbd, argv,
				      &(struct tspawn_opts){
					      .fd = -1, .log = "/dev/null" }),
			 0);
	/* Listening, not only bound. */
	assert_int_equal(tspawn_wait_socket(&f->nbd, f->sock, 10000, NULL),
			 0);
	f->o.path = NULL;
	f->o.nbd_uri = f->uri;
	f->o.engine = STG_ENGINE_NBD;
}


/* What was written through NBD is in the qcow2 image, as qemu-img sees
 * it once the server is gone. */
static void test_nbd_persisted(void **state)
{
	struct fx *f = *state;
	uint8_t *w = malloc(1 << 20), *r = malloc(1 << 20);
	char cmd[256], raw[96];
	int fd;

	assert_non_null(w);
	assert_non_null(r);
	fx_open(f, STG_ENGINE_NBD);
	assert_int_equal(f->img->size, IMG);
	assert_true(f->img->can_flush);
	pattern(w, 1 << 20, 21);
	assert_int_equal(rw(f, STG_WRITE, 3 << 20, w, 1 << 20, NULL, 0,
			    STG_FUA),
			 0);
	assert_int_equal(op(f, STG_FLUSH, 0, 0, 0), 0);
	fx_close(f);
	assert_int_equal(tspawn_stop(&f->nbd, SIGTERM, 5000), 0);
	snprintf(raw, sizeof(raw), "%s.raw", f->path);
	snprintf(cmd, sizeof(cmd), "qemu-img convert -f qcow2 -O raw %s %s",
		 f->qcow, raw);
	assert_int_equal(system(cmd), 0);
	fd = open(raw, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, 1 << 20, 3 << 20), 1 << 20);
	close(fd);
	unlink(raw);
	assert_memory_equal(r, w, 1 << 20);
	free(w);
	free(r);
}

static void setup_nbd_ro(struct fx *f)
{
	nbd_serve(f, true);
}

/* A read-only export opened read-write: refused with EROFS and a word
 * of why; read-only it serves reads and refuses writes. */
static void test_nbd_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t buf[4096];

	setup_nbd_ro(f);
	logged[0] = 0;
	vdev_set_log_fn(log_fn, NULL, VDEV_LOG_ERROR);
	assert_null(stg_image_open(&f->o));
	assert_int_equal(errno, EROFS);
	vdev_set_log_fn(NULL, NULL, VDEV_LOG_WARN);
	assert_non_null(strstr(logged, "read-only"));
	f->o.read_only = true;
	fx_open(f, STG_ENGINE_NBD);
	assert_int_equal(rw(f, STG_READ, 0, buf, 4096, NULL, 0, 0), 0);
	assert_int_equal(rw(f, STG_WRITE, 0, buf, 4096, NULL, 0, 0), -EROFS);
}

#define ENGINE_TEST(fn, e)                                                  \
	{ .name = #fn "/" #e, .test_func = fn, .setup_func = setup_engine_##e, \
	  .teardown_func = teardown, .initial_state = NULL }

#define ENGINE_SETUP(e)                                                     \
	static int setup_engine_##e(void **state)                           \
	{                                                                   \
		setup(state);                                               \
		((struct fx *)*state)->o.engine = e;                        \
		return 0;                                                   \
	}

ENGINE_SETUP(e_sync)
#if STG_WITH_URING
static const enum stg_engine e_uring = STG_ENGINE_URING;
ENGINE_SETUP(e_uring)
#endif

/* The NBD variants start their server in the test, not in a setup
 * function: a setup that skips (no libnbd, no qemu-nbd) is an error to
 * cmocka, and builds without libnbd (musl, cross) would fail. */
#define NBD_VARIANT(fn)                                                     \
	static void nbd_##fn(void **state)                                  \
	{                                                                   \
		nbd_serve(*state, false);                                   \
		fn(state);                                                  \
	}
NBD_VARIANT(test_rw)
NBD_VARIANT(test_parallel)
NBD_VARIANT(test_discard_zeroes)
NBD_VARIANT(test_write_same)
NBD_VARIANT(test_nbd_persisted)

#define NBD_TEST(fn) cmocka_unit_test_setup_teardown(nbd_##fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_probe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_qemu_img, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refuse_non_raw, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_open_errors, setup,
						teardown),
		cmocka_unit_test(test_capabilities),
		cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_medium, setup, teardown),
		ENGINE_TEST(test_rw, e_sync),
		ENGINE_TEST(test_parallel, e_sync),
		ENGINE_TEST(test_discard_zeroes, e_sync),
		ENGINE_TEST(test_write_same, e_sync),
		ENGINE_TEST(test_bad_requests, e_sync),
		ENGINE_TEST(test_direct_bounce, e_sync),
		ENGINE_TEST(test_cancel, e_sync),
		ENGINE_TEST(test_blockdev, e_sync),
#if STG_WITH_URING
		ENGINE_TEST(test_rw, e_uring),
		ENGINE_TEST(test_parallel, e_uring),
		ENGINE_TEST(test_discard_zeroes, e_uring),
		ENGINE_TEST(test_write_same, e_uring),
		ENGINE_TEST(test_bad_requests, e_uring),
		ENGINE_TEST(test_direct_bounce, e_uring),
		ENGINE_TEST(test_cancel, e_uring),
		ENGINE_TEST(test_blockdev, e_uring),
#endif
		NBD_TEST(test_rw),
		NBD_TEST(test_parallel),
		NBD_TEST(test_discard_zeroes),
		NBD_TEST(test_write_same),
		NBD_TEST(test_nbd_persisted),
		cmocka_unit_test_setup_teardown(test_nbd_read_only, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
