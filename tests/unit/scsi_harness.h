/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared by the virtio-scsi unit tests: a device with two LUNs on
 * temporary images (LUN 0: 8 MiB, LUN 1: 1 MiB), driven by the software
 * driver, and helpers that lay out one request (header, data-out,
 * response, data-in) in guest memory and check sense data.
 */
#ifndef SCSI_HARNESS_H
#define SCSI_HARNESS_H

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
#include <virtio/scsi.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "devices/scsi/scsi_internal.h"

#define NLUNS 2
#define LUN0_SIZE (8u << 20)
#define LUN1_SIZE (1u << 20)
#define TMO 5000
#define RQ VDEV_SCSI_REQ_QUEUE0

struct fx {
	char path[NLUNS][64];
	const char *paths[NLUNS];
	int imgfd[NLUNS];     /* our own view of the images */
	struct vdev *dev;
	struct vdev_drv *drv;
	struct vdev_scsi_config cfg;
	struct vdev_drv_config dcfg;
};

/* What a command returned. */
struct res {
	uint32_t used;
	uint8_t response;
	uint8_t status;
	uint32_t sense_len;
	uint32_t resid;
	uint8_t sense[VDEV_SCSI_SENSE_SIZE_DEFAULT];
};

static inline int fx_open(struct fx *f)
{
	f->cfg.paths = f->paths;
	f->cfg.num_luns = NLUNS;
	f->dev = vdev_scsi_new(&f->cfg);
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

static inline int fx_setup(void **state)
{
	static const uint32_t sizes[NLUNS] = { LUN0_SIZE, LUN1_SIZE };
	struct fx *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	for (unsigned i = 0; i < NLUNS; i++) {
		snprintf(f->path[i], sizeof(f->path[i]),
			 "/tmp/vdev-scsi-test-XXXXXX");
		f->imgfd[i] = mkstemp(f->path[i]);
		assert_true(f->imgfd[i] >= 0);
		assert_int_equal(ftruncate(f->imgfd[i], sizes[i]), 0);
		f->paths[i] = f->path[i];
	}
	f->dcfg.queue_size = 128;
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;

	fx_close(f);
	for (unsigned i = 0; i < NLUNS; i++) {
		close(f->imgfd[i]);
		unlink(f->path[i]);
	}
	free(f);
	return 0;
}

static inline struct scsi_dev *fx_scsi(struct fx *f)
{
	return vdev_priv(f->dev);
}

/*
 * One raw chain on queue @q: device-readable @out (@out_len bytes) and
 * @dout, device-writable @in_len bytes then @din_len bytes; waits for the
 * completion, copies back what the device wrote. Returns the used length.
 */
static inline uint32_t raw_xfer(struct fx *f, unsigned q, const void *out,
				size_t out_len, const void *dout,
				size_t dout_len, void *in, size_t in_len,
				void *din, size_t din_len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);
	size_t mark = vdev_drv_mem_mark(m);
	struct vdev_drv_seg segs[4];
	unsigned nout = 0, nin = 0;
	uint8_t *p_in = NULL, *p_din = NULL, *p;
	void *tok;
	uint32_t used;

	if (out_len) {
		p = vdev_drv_mem_alloc(m, out_len, 8, &segs[nout].gpa);
		assert_non_null(p);
		memcpy(p, out, out_len);
		segs[nout++].len = (uint32_t)out_len;
	}
	if (dout_len) {
		p = vdev_drv_mem_alloc(m, dout_len, 512, &segs[nout].gpa);
		assert_non_null(p);
		memcpy(p, dout, dout_len);
		segs[nout++].len = (uint32_t)dout_len;
	}
	if (in_len) {
		p_in = vdev_drv_mem_alloc(m, in_len, 8, &segs[nout + nin].gpa);
		assert_non_null(p_in);
		memset(p_in, 0xee, in_len);
		segs[nout + nin++].len = (uint32_t)in_len;
	}
	if (din_len) {
		p_din = vdev_drv_mem_alloc(m, din_len, 512,
					   &segs[nout + nin].gpa);
		assert_non_null(p_din);
		memset(p_din, 0xdd, din_len);
		segs[nout + nin++].len = (uint32_t)din_len;
	}
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, q), segs,
					   nout, nin, p_in ? p_in : (void *)f,
					   0),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, q), 0);
	assert_int_equal(vdev_drv_wait(f->drv, q, TMO, &tok, &used), 0);
	if (in_len)
		memcpy(in, p_in, in_len);
	if (din_len && din)
		memcpy(din, p_din, din_len);
	vdev_drv_mem_reset_to(m, mark);
	return used;
}

static inline void lun_addr(uint8_t *lun, unsigned n)
{
	memset(lun, 0, 8);
	lun[0] = 1;
	lun[2] = (uint8_t)(0x40 | n >> 8);
	lun[3] = (uint8_t)n;
}

/* A command with the default header sizes. @dout/@din: data buffers. */
static inline void cmd_lun(struct fx *f, const uint8_t *lun,
			   const uint8_t *cdb, unsigned cdb_len,
			   const void *dout, size_t dout_len, void *din,
			   size_t din_len, struct res *r)
{
	struct vdev_scsi_cmd_req req = { 0 };
	struct vdev_scsi_cmd_resp resp;

	memcpy(req.lun, lun, 8);
	req.id = vdev_cpu_to_le64(0x1234);
	memcpy(req.cdb, cdb, cdb_len);
	r->used = raw_xfer(f, RQ, &req, sizeof(req), dout, dout_len, &resp,
			   sizeof(resp), din, din_len);
	r->response = resp.response;
	r->status = resp.status;
	r->sense_len = vdev_le32_to_cpu(resp.sense_len);
	r->resid = vdev_le32_to_cpu(resp.resid);
	memcpy(r->sense, resp.sense, sizeof(r->sense));
}

static inline void cmd(struct fx *f, unsigned lun, const uint8_t *cdb,
		       unsigned cdb_len, const void *dout, size_t dout_len,
		       void *din, size_t din_len, struct res *r)
{
	uint8_t l[8];

	lun_addr(l, lun);
	cmd_lun(f, l, cdb, cdb_len, dout, dout_len, din, din_len, r);
}

static inline void assert_good(const struct res *r)
{
	assert_int_equal(r->response, VDEV_SCSI_S_OK);
	assert_int_equal(r->status, VDEV_SCSI_STATUS_GOOD);
	assert_int_equal(r->sense_len, 0);
}

/* CHECK CONDITION with fixed sense data: key, ASC << 8 | ASCQ. */
static inline void assert_sense(const struct res *r, uint8_t key,
				uint16_t asc)
{
	assert_int_equal(r->response, VDEV_SCSI_S_OK);
	assert_int_equal(r->status, VDEV_SCSI_STATUS_CHECK_CONDITION);
	assert_int_equal(r->sense_len, 18);
	assert_int_equal(r->sense[0], 0x70);
	assert_int_equal(r->sense[2], key);
	assert_int_equal(r->sense[7], 10);
	assert_int_equal(r->sense[12] << 8 | r->sense[13], asc);
}

static inline void pattern(uint8_t *p, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(seed * 131u + i * 7u + (i >> 9));
}

/* A control-queue TMF; returns the response byte (0xee: none written). */
static inline uint8_t tmf(struct fx *f, uint32_t subtype, unsigned lun,
			  uint32_t *used)
{
	struct vdev_scsi_ctrl_tmf_req req = { 0 };
	uint8_t resp = 0xee;
	uint32_t u;

	req.type = vdev_cpu_to_le32(VDEV_SCSI_T_TMF);
	req.subtype = vdev_cpu_to_le32(subtype);
	lun_addr(req.lun, lun);
	u = raw_xfer(f, VDEV_SCSI_CTRL_QUEUE, &req, sizeof(req), NULL, 0,
		     &resp, 1, NULL, 0);
	if (used)
		*used = u;
	return resp;
}

#define SCSI_TEST(fn)                                                       \
	cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)

#endif /* SCSI_HARNESS_H */
