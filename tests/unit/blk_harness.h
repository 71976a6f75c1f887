/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the virtio-blk unit tests: a device on a temporary image,
 * driven by the software driver, and a helper that builds one request
 * (header, data split into segments, status) in guest memory.
 */
#ifndef BLK_HARNESS_H
#define BLK_HARNESS_H

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
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "devices/blk/blk_internal.h"
#include "storage/storage_internal.h"
#include "vdev_build_config.h"

#define IMG_SIZE (8u << 20)
#define IMG_SECTORS (IMG_SIZE / 512u)
#define TMO 5000

struct fx {
	enum vdev_blk_backend be;
	char path[64];
	int imgfd;           /* our own view of the image file */
	struct vdev *dev;
	struct vdev_drv *drv;
	struct vdev_blk_config cfg;
	struct vdev_drv_config dcfg;
};

/* One request laid out in guest memory. */
struct io {
	void *token;
	uint8_t *hdr;
	uint8_t *data;       /* contiguous host view of the data segments */
	size_t len;
	uint8_t *st;
	uint32_t written;
	size_t mark;
};

static inline bool is_file_backend(enum vdev_blk_backend be)
{
	return be == VDEV_BLK_BACKEND_URING || be == VDEV_BLK_BACKEND_SYNC;
}

/* Creates the image and the device; the test may adjust f->cfg before. */
static inline int fx_open(struct fx *f)
{
	f->cfg.backend = f->be;
	f->cfg.path = f->path;
	f->cfg.size = IMG_SIZE;
	f->dev = vdev_blk_new(&f->cfg);
	if (!f->dev)
		return -errno;
	f->drv = vdev_drv_new(f->dev, &f->dcfg);
	if (!f->drv)
		return -errno;
	return vdev_drv_init(f->drv);
}

static inline void fx_close(struct fx *f)
{
	vdev_drv_free(f->drv);
	vdev_free(f->dev);
	f->drv = NULL;
	f->dev = NULL;
}

/* The io_uring backend again, with the image on tmpfs (b->in_memory),
 * and with every transfer forced through the ring. */
static const enum vdev_blk_backend be_uring_shm = VDEV_BLK_BACKEND_URING;
static const enum vdev_blk_backend be_uring_ring = VDEV_BLK_BACKEND_URING;

static inline int fx_setup(void **state)
{
	const enum vdev_blk_backend *param = *state;
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	f->be = *param;
#if VDEV_WITH_URING_FOUND
	stg_uring_test_ring_only = param == &be_uring_ring;
#endif
	snprintf(f->path, sizeof(f->path), "%s/vdev-blk-test-XXXXXX",
		 param == &be_uring_shm ? "/dev/shm" : "/tmp");
	f->imgfd = mkstemp(f->path);
	assert_true(f->imgfd >= 0);
	assert_int_equal(ftruncate(f->imgfd, IMG_SIZE), 0);
	f->cfg.serial = "vdev-serial";
	f->dcfg.queue_size = 128;
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	close(f->imgfd);
	unlink(f->path);
	free(f);
	return 0;
}

static inline struct blk_dev *fx_blk(struct fx *f)
{
	return vdev_priv(f->dev);
}

/*
 * Lays out a request: header (type, sector), @len data bytes in @nseg
 * segments (device-readable for OUT-like types, writable otherwise), and
 * a status byte. @st_in_data puts the status byte in the last data
 * descriptor. Does not kick.
 */
static inline void io_add(struct fx *f, unsigned q, struct io *io,
			  uint32_t type, uint64_t sector, size_t len,
			  unsigned nseg, bool data_out, unsigned flags,
			  bool st_in_data)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	struct vdev_drv_seg segs[64];
	struct vdev_blk_req_hdr *h;
	unsigned n = 0, nout, nin;
	uint64_t gpa;
	size_t seg = nseg ? (len + nseg - 1) / nseg : 0;

	memset(io, 0, sizeof(*io));
	io->mark = vdev_drv_mem_mark(m);
	io->token = io;
	io->len = len;
	h = vdev_drv_mem_alloc(m, sizeof(*h), 16, &segs[n].gpa);
	assert_non_null(h);
	h->type = vdev_cpu_to_le32(type);
	h->sector = vdev_cpu_to_le64(sector);
	io->hdr = (uint8_t *)h;
	segs[n++].len = sizeof(*h);
	io->data = vdev_drv_mem_alloc(m, len + 1, 4096, &gpa);
	assert_non_null(io->data);
	for (size_t off = 0; off < len; off += seg) {
		segs[n].gpa = gpa + off;
		segs[n].len = (uint32_t)(len - off < seg ? len - off : seg);
		n++;
	}
	if (st_in_data && !data_out && n > 1) {
		/* status shares the last data descriptor */
		segs[n - 1].len++;
		io->st = io->data + len;
	} else {
		io->st = vdev_drv_mem_alloc(m, 1, 1, &segs[n].gpa);
		assert_non_null(io->st);
		segs[n++].len = 1;
	}
	*io->st = 0xee;
	nout = data_out ? n - 1 : 1;
	nin = n - nout;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, q), segs,
					   nout, nin, io->token, flags),
			 0);
}

/* Waits for @n completions on @q and records their lengths. */
static inline void io_wait(struct fx *f, unsigned q, struct io **ios,
			   unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		void *tok;
		uint32_t len;
		unsigned j;

		assert_int_equal(vdev_drv_wait(f->drv, q, TMO, &tok, &len), 0);
		for (j = 0; j < n; j++)
			if (ios[j]->token == tok)
				break;
		assert_true(j < n);
		ios[j]->written = len;
	}
}

/* One request, synchronously; returns the status byte. */
static inline uint8_t io_do(struct fx *f, unsigned q, uint32_t type,
			    uint64_t sector, void *buf, size_t len,
			    unsigned nseg, unsigned flags)
{
	bool out = type == VDEV_BLK_T_OUT || type == VDEV_BLK_T_DISCARD ||
		   type == VDEV_BLK_T_WRITE_ZEROES;
	struct io io, *p = &io;
	uint8_t st;

	io_add(f, q, &io, type, sector, len, nseg ? nseg : 1, out, flags,
	       false);
	if (out && len)
		memcpy(io.data, buf, len);
	assert_int_equal(vdev_drv_kick(f->drv, q), 0);
	io_wait(f, q, &p, 1);
	if (!out && len && buf)
		memcpy(buf, io.data, len);
	st = *io.st;
	vdev_drv_mem_reset_to(vdev_drv_get_mem(f->drv), io.mark);
	return st;
}

static inline void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}

/* The backends every test runs against. */
static const enum vdev_blk_backend be_uring = VDEV_BLK_BACKEND_URING;
static const enum vdev_blk_backend be_sync = VDEV_BLK_BACKEND_SYNC;
static const enum vdev_blk_backend be_ram = VDEV_BLK_BACKEND_RAM;

#define BLK_TEST_ONE(fn, be)                                                \
	{ .name = #fn "/" #be, .test_func = fn, .setup_func = fx_setup,     \
	  .teardown_func = fx_teardown, .initial_state = (void *)&(be) }

#if VDEV_WITH_URING_FOUND
#define BLK_TEST(fn)                                                        \
	BLK_TEST_ONE(fn, be_uring), BLK_TEST_ONE(fn, be_uring_ring),        \
		BLK_TEST_ONE(fn, be_uring_shm), BLK_TEST_ONE(fn, be_sync),  \
		BLK_TEST_ONE(fn, be_ram)
#else
#define BLK_TEST(fn) BLK_TEST_ONE(fn, be_sync), BLK_TEST_ONE(fn, be_ram)
#endif

#endif /* BLK_HARNESS_H */
