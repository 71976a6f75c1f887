/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-scsi commands through the software driver, each checked against
 * the image files: INQUIRY (standard and every VPD page), TEST UNIT READY,
 * READ CAPACITY 10/16, READ/WRITE 6/10/12/16, SYNCHRONIZE CACHE 10/16,
 * REPORT LUNS, MODE SENSE 6/10, REQUEST SENSE, UNMAP, WRITE SAME 16, a
 * read-only device, a missing LUN, residuals and overruns, 4 KiB blocks,
 * several request queues and the packed ring.
 */
#include <sys/stat.h>
#include <virtio/caps.h>

#include "scsi_harness.h"

static void file_read(struct fx *f, unsigned lun, void *buf, size_t len,
		      uint64_t off)
{
	assert_int_equal(pread(f->imgfd[lun], buf, len, (off_t)off),
			 (ssize_t)len);
}

static void file_write(struct fx *f, unsigned lun, const void *buf,
		       size_t len, uint64_t off)
{
	assert_int_equal(pwrite(f->imgfd[lun], buf, len, (off_t)off),
			 (ssize_t)len);
}

static void check_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			fail_msg("byte %zu is %#x, not 0", i, p[i]);
}

static void test_config(void **state)
{
	struct fx *f = *state;
	struct vdev_scsi_config_space cs;

	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_drv_config_read(f->drv, 0, &cs, sizeof(cs)), 0);
	assert_int_equal(vdev_le32_to_cpu(cs.num_queues), 1);
	assert_int_equal(vdev_le32_to_cpu(cs.seg_max), SCSI_SEG_MAX);
	assert_int_equal(vdev_le32_to_cpu(cs.max_sectors), 8192);
	assert_int_equal(vdev_le32_to_cpu(cs.cmd_per_lun), 256);
	assert_int_equal(vdev_le32_to_cpu(cs.event_info_size), 16);
	assert_int_equal(vdev_le32_to_cpu(cs.sense_size), 96);
	assert_int_equal(vdev_le32_to_cpu(cs.cdb_size), 32);
	assert_int_equal(vdev_le16_to_cpu(cs.max_channel), 0);
	assert_int_equal(vdev_le16_to_cpu(cs.max_target), 0);
	assert_int_equal(vdev_le32_to_cpu(cs.max_lun), NLUNS - 1);
	assert_int_equal(vdev_num_queues(f->dev), 3);
	assert_int_equal(vdev_scsi_num_luns(f->dev), NLUNS);
	/* CHANGE offered, HOTPLUG only on request, no INOUT or T10_PI */
	assert_true(vdev_has_feature(f->dev, VDEV_SCSI_F_CHANGE));
	assert_false(vdev_has_feature(f->dev, VDEV_SCSI_F_HOTPLUG));
	assert_false(vdev_has_feature(f->dev, VDEV_SCSI_F_INOUT));
	assert_false(vdev_has_feature(f->dev, VDEV_SCSI_F_T10_PI));
	assert_true(vdev_has_capability(VDEV_CAP_DEVICE, "scsi"));
}

static void test_inquiry_standard(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[6] = { 0x12, 0, 0, 0, 96, 0 }, b[96];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp) + 36);
	assert_int_equal(r.resid, 96 - 36);
	assert_int_equal(b[0], 0x00);           /* disk, connected */
	assert_int_equal(b[2], 0x06);
	assert_int_equal(b[3] & 0x0f, 2);
	assert_int_equal(b[4], 31);
	assert_memory_equal(b + 8, "LIBVDEV ", 8);
	assert_memory_equal(b + 16, "VDEV SCSI DISK  ", 16);
	assert_int_equal(b[36], 0xdd);          /* untouched past the data */

	/* allocation length below the data: cut, and the rest is residual */
	cdb[4] = 5;
	cmd(f, 0, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(r.resid, 96 - 5);
	assert_int_equal(b[4], 31);
	assert_int_equal(b[5], 0xdd);

	/* buffer below the allocation length: never written past */
	cdb[4] = 96;
	cmd(f, 0, cdb, 6, NULL, 0, b, 8, &r);
	assert_good(&r);
	assert_int_equal(r.resid, 0);
	assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp) + 8);

	/* a LUN that does not exist: qualifier 3, type 0x1f */
	cmd(f, 7, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[0], 0x7f);

	/* page code without EVPD, CMDDT: invalid field */
	cdb[2] = 0x80;
	cmd(f, 0, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	cdb[2] = 0;
	cdb[1] = 0x02;
	cmd(f, 0, cdb, 6, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
}

static void vpd(struct fx *f, unsigned lun, uint8_t page, uint8_t *b,
		struct res *r)
{
	uint8_t cdb[6] = { 0x12, 1, page, 0, 255, 0 };

	memset(b, 0, 255);
	cmd(f, lun, cdb, 6, NULL, 0, b, 255, r);
}

static void test_inquiry_vpd(void **state)
{
	struct fx *f = *state;
	uint8_t b[255];
	struct res r;

	f->cfg.serial = "sn";
	f->cfg.solid_state = true;
	assert_int_equal(fx_open(f), 0);

	vpd(f, 0, 0x00, b, &r);
	assert_good(&r);
	assert_int_equal(b[1], 0x00);
	assert_int_equal(b[3], 6);
	assert_memory_equal(b + 4, "\x00\x80\x83\xb0\xb1\xb2", 6);

	vpd(f, 1, 0x80, b, &r);
	assert_good(&r);
	assert_int_equal(b[1], 0x80);
	assert_int_equal(b[3], 4);
	assert_memory_equal(b + 4, "sn-1", 4);

	vpd(f, 0, 0x83, b, &r);
	assert_good(&r);
	assert_int_equal(b[1], 0x83);
	/* NAA (binary, LU, type 3, 8 bytes, NAA 3), then T10 vendor id */
	assert_int_equal(b[4], 0x01);
	assert_int_equal(b[5], 0x03);
	assert_int_equal(b[7], 8);
	assert_int_equal(b[8] >> 4, 3);
	assert_int_equal(b[16], 0x02);
	assert_int_equal(b[17], 0x01);
	assert_int_equal(b[19], 12);
	assert_memory_equal(b + 20, "LIBVDEV sn-0", 12);
	assert_int_equal(b[3], 4 + 8 + 4 + 12);
	{
		uint8_t naa0[8], b1[255];

		memcpy(naa0, b + 8, 8);
		vpd(f, 1, 0x83, b1, &r);
		/* two images never share an identifier */
		assert_memory_not_equal(naa0, b1 + 8, 8);
	}

	vpd(f, 0, 0xb0, b, &r);
	assert_good(&r);
	assert_int_equal(b[3], 0x3c);
	assert_int_equal(b[4] & 1, 1);          /* WSNZ */
	assert_int_equal(get_be32(b + 8), (4u << 20) / 512);
	assert_int_equal(get_be32(b + 20), SCSI_MAX_UNMAP_BLOCKS);
	assert_int_equal(get_be32(b + 24), SCSI_MAX_UNMAP_DESC);
	assert_int_equal(get_be64(b + 36), SCSI_MAX_WSAME_BLOCKS(512));

	vpd(f, 0, 0xb1, b, &r);
	assert_good(&r);
	assert_int_equal(b[3], 0x3c);
	assert_int_equal(b[4] << 8 | b[5], 1);  /* non-rotating */

	vpd(f, 0, 0xb2, b, &r);
	assert_good(&r);
	assert_int_equal(b[3], 4);
	assert_int_equal(b[5] & 0xc0, 0xc0);    /* LBPU, LBPWS */
	assert_int_equal(b[6] & 7, 2);

	vpd(f, 0, 0x86, b, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	vpd(f, 5, 0x80, b, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
}

static void test_tur_and_missing_lun(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16] = { 0 };
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, cdb, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp));
	cmd(f, 1, cdb, 6, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	cmd(f, NLUNS, cdb, 6, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	cdb[0] = 0x28;
	cmd(f, 300, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED);
	/* REQUEST SENSE on a missing LUN says why (SPC-4 6.39) */
	memset(cdb, 0, sizeof(cdb));
	cdb[0] = 0x03;
	cdb[4] = 18;
	{
		uint8_t s[18];

		cmd(f, 9, cdb, 6, NULL, 0, s, sizeof(s), &r);
		assert_good(&r);
		assert_int_equal(s[0], 0x70);
		assert_int_equal(s[2], SK_ILLEGAL_REQUEST);
		assert_int_equal(s[12], 0x25);
	}
}

static void test_read_capacity(void **state)
{
	struct fx *f = *state;
	uint8_t c10[10] = { 0x25 }, c16[16] = { 0x9e, 0x10 }, b[32];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, c10, 10, NULL, 0, b, 8, &r);
	assert_good(&r);
	assert_int_equal(get_be32(b), LUN0_SIZE / 512 - 1);
	assert_int_equal(get_be32(b + 4), 512);
	cmd(f, 1, c10, 10, NULL, 0, b, 8, &r);
	assert_int_equal(get_be32(b), LUN1_SIZE / 512 - 1);

	put_be32(c16 + 10, 32);
	cmd(f, 0, c16, 16, NULL, 0, b, 32, &r);
	assert_good(&r);
	assert_int_equal(get_be64(b), LUN0_SIZE / 512 - 1);
	assert_int_equal(get_be32(b + 8), 512);
	assert_int_equal(b[14] & 0x80, 0x80);   /* LBPME */
	/* other service actions of 0x9e are not ours */
	c16[1] = 0x11;
	cmd(f, 0, c16, 16, NULL, 0, b, 32, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
}

/* A READ or WRITE CDB of @size bytes (6, 10, 12, 16). */
static unsigned rw_cdb(uint8_t *cdb, unsigned size, bool write, uint64_t lba,
		       uint32_t n)
{
	memset(cdb, 0, 16);
	switch (size) {
	case 6:
		cdb[0] = write ? 0x0a : 0x08;
		cdb[1] = (uint8_t)(lba >> 16 & 0x1f);
		put_be16(cdb + 2, (uint16_t)lba);
		cdb[4] = (uint8_t)n;
		break;
	case 10:
		cdb[0] = write ? 0x2a : 0x28;
		put_be32(cdb + 2, (uint32_t)lba);
		put_be16(cdb + 7, (uint16_t)n);
		break;
	case 12:
		cdb[0] = write ? 0xaa : 0xa8;
		put_be32(cdb + 2, (uint32_t)lba);
		put_be32(cdb + 6, n);
		break;
	default:
		cdb[0] = write ? 0x8a : 0x88;
		put_be64(cdb + 2, lba);
		put_be32(cdb + 10, n);
		break;
	}
	return size;
}

static void test_read_write(void **state)
{
	static const unsigned sizes[] = { 6, 10, 12, 16 };
	struct fx *f = *state;
	uint8_t cdb[16], *w = malloc(132096), *rd = malloc(132096);
	struct res r;

	assert_non_null(w);
	assert_non_null(rd);
	assert_int_equal(fx_open(f), 0);
	for (unsigned i = 0; i < 4; i++) {
		unsigned n = 8 * (i + 1);
		uint64_t lba = 1000 + 100 * i;
		size_t len = n * 512;

		pattern(w, len, i + 1);
		cmd(f, 0, cdb, rw_cdb(cdb, sizes[i], true, lba, n), w, len,
		    NULL, 0, &r);
		assert_good(&r);
		assert_int_equal(r.resid, 0);
		assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp));
		memset(rd, 0, len);
		file_read(f, 0, rd, len, lba * 512);
		assert_memory_equal(w, rd, len);

		/* read back what another writer put in the image */
		pattern(w, len, i + 50);
		file_write(f, 0, w, len, lba * 512);
		cmd(f, 0, cdb, rw_cdb(cdb, sizes[i], false, lba, n), NULL, 0,
		    rd, len, &r);
		assert_good(&r);
		assert_int_equal(r.used,
				 sizeof(struct vdev_scsi_cmd_resp) + len);
		assert_memory_equal(w, rd, len);
	}
	/* READ(6) with a length of 0 means 256 blocks */
	cmd(f, 0, cdb, rw_cdb(cdb, 6, false, 0, 0), NULL, 0, w, 132096, &r);
	assert_good(&r);
	assert_int_equal(r.resid, 1024);
	/* READ(10) of 0 blocks moves nothing */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 0, 0), NULL, 0, w, 512, &r);
	assert_good(&r);
	assert_int_equal(r.resid, 512);
	/* the last block of LUN 1 */
	pattern(w, 512, 77);
	cmd(f, 1, cdb, rw_cdb(cdb, 16, true, LUN1_SIZE / 512 - 1, 1), w, 512,
	    NULL, 0, &r);
	assert_good(&r);
	file_read(f, 1, rd, 512, LUN1_SIZE - 512);
	assert_memory_equal(w, rd, 512);
	/* FUA write */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 5, 1), w, 512, NULL, 0, &r);
	cdb[1] = 0x08;
	cmd(f, 0, cdb, 10, w, 512, NULL, 0, &r);
	assert_good(&r);
	/* RDPROTECT without protection information */
	rw_cdb(cdb, 10, false, 5, 1);
	cdb[1] = 0x20;
	cmd(f, 0, cdb, 10, NULL, 0, rd, 512, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	free(w);
	free(rd);
}

static void test_lba_range(void **state)
{
	static const unsigned sizes[] = { 6, 10, 12, 16 };
	struct fx *f = *state;
	uint64_t last = LUN1_SIZE / 512 - 1;
	uint8_t cdb[16], b[1024], before[1024];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	file_read(f, 1, before, sizeof(before), LUN1_SIZE - 1024);
	for (unsigned i = 0; i < 4; i++) {
		/* one block past the end, and a range that crosses it */
		cmd(f, 1, cdb, rw_cdb(cdb, sizes[i], false, last + 1, 1),
		    NULL, 0, b, 512, &r);
		assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
		assert_int_equal(r.resid, 512);
		cmd(f, 1, cdb, rw_cdb(cdb, sizes[i], true, last, 2), b, 1024,
		    NULL, 0, &r);
		assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	}
	/* 64-bit wrap */
	cmd(f, 1, cdb, rw_cdb(cdb, 16, false, UINT64_MAX, 2), NULL, 0, b, 1024,
	    &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	memset(b, 0, sizeof(b));
	file_read(f, 1, b, sizeof(b), LUN1_SIZE - 1024);
	assert_memory_equal(b, before, sizeof(b));
}

/* The CDB asks for more than the buffers hold: OVERRUN, nothing done. */
static void test_overrun(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16], w[4096], b[4096];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	pattern(w, sizeof(w), 3);
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 10, 8), w, 2048, NULL, 0, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	assert_int_equal(r.resid, 2048);
	file_read(f, 0, b, 4096, 10 * 512);
	check_zero(b, 4096);
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 10, 8), NULL, 0, b, 1024, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp));
	/* a READ with no data-in buffer at all */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 10, 1), NULL, 0, NULL, 0, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	/* a WRITE that got a data-in buffer instead of data-out */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 10, 1), NULL, 0, b, 512, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	/* a longer buffer: the rest is residual, and neither the image
	 * past the transfer nor the buffer past it is touched */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 10, 2), w, 4096, NULL, 0, &r);
	assert_good(&r);
	assert_int_equal(r.resid, 3072);
	file_read(f, 0, b, 4096, 10 * 512);
	assert_memory_equal(b, w, 1024);
	check_zero(b + 1024, 3072);
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 10, 2), NULL, 0, b, 4096, &r);
	assert_good(&r);
	assert_int_equal(r.resid, 3072);
	assert_int_equal(r.used, sizeof(struct vdev_scsi_cmd_resp) + 1024);
	assert_memory_equal(b, w, 1024);
	for (unsigned i = 1024; i < 4096; i++)
		assert_int_equal(b[i], 0xdd);
	/* at the end of the LUN a longer buffer cannot grow the image */
	cmd(f, 1, cdb, rw_cdb(cdb, 16, true, LUN1_SIZE / 512 - 1, 1), w, 4096,
	    NULL, 0, &r);
	assert_good(&r);
	{
		struct stat st;

		assert_int_equal(fstat(f->imgfd[1], &st), 0);
		assert_int_equal(st.st_size, LUN1_SIZE);
	}
}

static void test_read_only(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16] = { 0 }, w[512], b[255];
	struct res r;

	f->cfg.read_only = true;
	assert_int_equal(fx_open(f), 0);
	pattern(w, sizeof(w), 9);
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 0, 1), w, 512, NULL, 0, &r);
	assert_sense(&r, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	memset(cdb, 0, 16);
	cdb[0] = 0x42;
	put_be16(cdb + 7, 24);
	cmd(f, 0, cdb, 10, w, 24, NULL, 0, &r);
	assert_sense(&r, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	memset(cdb, 0, 16);
	cdb[0] = 0x93;
	put_be32(cdb + 10, 1);
	cmd(f, 0, cdb, 16, w, 512, NULL, 0, &r);
	assert_sense(&r, SK_DATA_PROTECT, ASC_WRITE_PROTECTED);
	file_read(f, 0, b, 255, 0);
	check_zero(b, 255);
	/* reads work; WP in MODE SENSE; no thin provisioning */
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 0, 1), NULL, 0, w, 512, &r);
	assert_good(&r);
	memset(cdb, 0, 16);
	cdb[0] = 0x1a;
	cdb[2] = 0x3f;
	cdb[4] = 255;
	cmd(f, 0, cdb, 6, NULL, 0, b, 255, &r);
	assert_good(&r);
	assert_int_equal(b[2] & 0x80, 0x80);
	vpd(f, 0, 0xb2, b, &r);
	assert_int_equal(b[5], 0);
	/* SYNCHRONIZE CACHE has nothing to do but succeeds */
	memset(cdb, 0, 16);
	cdb[0] = 0x35;
	cmd(f, 0, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_good(&r);
}

static void test_sync_cache(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16] = { 0x35 };
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	put_be32(cdb + 2, 100);
	put_be16(cdb + 7, 10);
	cmd(f, 0, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	put_be32(cdb + 2, LUN0_SIZE / 512);
	cmd(f, 0, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	memset(cdb, 0, 16);
	cdb[0] = 0x91;
	cmd(f, 1, cdb, 16, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	put_be64(cdb + 2, LUN1_SIZE / 512 - 1);
	put_be32(cdb + 10, 2);
	cmd(f, 1, cdb, 16, NULL, 0, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
}

static void test_report_luns(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[12] = { 0xa0 }, b[64];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	put_be32(cdb + 6, sizeof(b));
	/* answered on LUN 0 and on a LUN that does not exist alike */
	for (unsigned lun = 0; lun < 10; lun += 9) {
		cmd(f, lun, cdb, 12, NULL, 0, b, sizeof(b), &r);
		assert_good(&r);
		assert_int_equal(get_be32(b), 8 * NLUNS);
		assert_int_equal(r.resid, sizeof(b) - 8 - 8 * NLUNS);
		for (unsigned i = 0; i < NLUNS; i++) {
			assert_int_equal(b[8 + 8 * i], 0);
			assert_int_equal(b[8 + 8 * i + 1], i);
		}
	}
	/* well-known LUNs only: none */
	cdb[2] = 1;
	cmd(f, 0, cdb, 12, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(get_be32(b), 0);
	cdb[2] = 3;
	cmd(f, 0, cdb, 12, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	cdb[2] = 0;
	put_be32(cdb + 6, 15);      /* SPC-4: at least 16 */
	cmd(f, 0, cdb, 12, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
}

/* Finds mode page @page after the header and block descriptors. */
static const uint8_t *find_page(const uint8_t *b, size_t len, size_t off,
				uint8_t page)
{
	while (off + 2 <= len) {
		if ((b[off] & 0x3f) == page)
			return b + off;
		off += 2u + b[off + 1];
	}
	return NULL;
}

static void test_mode_sense(void **state)
{
	struct fx *f = *state;
	uint8_t c6[6] = { 0x1a, 0, 0x3f, 0, 255 }, c10[10] = { 0x5a };
	uint8_t b[255];
	const uint8_t *p;
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, c6, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[0] + 1u, sizeof(b) - r.resid);
	assert_int_equal(b[2], 0x10);           /* DPOFUA, not WP */
	assert_int_equal(b[3], 8);
	assert_int_equal(get_be32(b + 4), LUN0_SIZE / 512);
	assert_int_equal(get_be32(b + 8) & 0xffffff, 512);
	p = find_page(b, b[0] + 1u, 12, 0x08);
	assert_non_null(p);
	assert_int_equal(p[1], 0x12);
	assert_int_equal(p[2] & 0x04, 0x04);    /* WCE */
	p = find_page(b, b[0] + 1u, 12, 0x0a);
	assert_non_null(p);
	assert_int_equal(p[1], 0x0a);

	/* MODE SENSE(10), caching page only, no block descriptor */
	c10[1] = 0x08;
	c10[2] = 0x08;
	put_be16(c10 + 7, sizeof(b));
	cmd(f, 0, c10, 10, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[0] << 8 | b[1], 8 + 20 - 2);
	assert_int_equal(b[6] << 8 | b[7], 0);
	assert_int_equal(b[8], 0x08);
	assert_int_equal(b[10] & 0x04, 0x04);
	/* changeable values: nothing can change */
	c10[2] = 0x48;
	cmd(f, 0, c10, 10, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(b[10], 0);
	/* saved values are not supported */
	c10[2] = 0xc8;
	cmd(f, 0, c10, 10, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_SAVING_NOT_SUPPORTED);
	/* unknown page, unknown subpage */
	c6[2] = 0x1c;
	cmd(f, 0, c6, 6, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	c6[2] = 0x08;
	c6[3] = 1;
	cmd(f, 0, c6, 6, NULL, 0, b, sizeof(b), &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	/* all pages and subpages */
	c6[2] = 0x3f;
	c6[3] = 0xff;
	cmd(f, 0, c6, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	/* allocation length cuts */
	c6[3] = 0;
	c6[4] = 4;
	cmd(f, 0, c6, 6, NULL, 0, b, sizeof(b), &r);
	assert_good(&r);
	assert_int_equal(r.resid, sizeof(b) - 4);
}

static void test_request_sense(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[6] = { 0x03, 0, 0, 0, 252 }, s[252];
	struct res r;

	assert_int_equal(fx_open(f), 0);
	cmd(f, 0, cdb, 6, NULL, 0, s, sizeof(s), &r);
	assert_good(&r);
	assert_int_equal(r.resid, sizeof(s) - 18);
	assert_int_equal(s[0], 0x70);
	assert_int_equal(s[2], SK_NO_SENSE);
	assert_int_equal(s[12], 0);
	/* a pending unit attention is reported and cleared */
	assert_int_equal(tmf(f, VDEV_SCSI_T_TMF_LOGICAL_UNIT_RESET, 1, NULL),
			 VDEV_SCSI_S_FUNCTION_COMPLETE);
	cmd(f, 1, cdb, 6, NULL, 0, s, sizeof(s), &r);
	assert_good(&r);
	assert_int_equal(s[2], SK_UNIT_ATTENTION);
	assert_int_equal(s[12] << 8 | s[13], ASC_POWER_ON_RESET);
	cmd(f, 1, cdb, 6, NULL, 0, s, sizeof(s), &r);
	assert_int_equal(s[2], SK_NO_SENSE);
}

static void unmap_desc(uint8_t *p, unsigned n, const uint64_t *lba,
		       const uint32_t *nb)
{
	memset(p, 0, 8 + 16 * n);
	put_be16(p, (uint16_t)(6 + 16 * n));
	put_be16(p + 2, (uint16_t)(16 * n));
	for (unsigned i = 0; i < n; i++) {
		put_be64(p + 8 + 16 * i, lba[i]);
		put_be32(p + 8 + 16 * i + 8, nb[i]);
	}
}

static void test_unmap(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[10] = { 0x42 }, p[8 + 16 * 65], *img = malloc(65536);
	uint64_t lba[2] = { 16, 64 };
	uint32_t nb[2] = { 8, 16 };
	struct res r;

	assert_non_null(img);
	assert_int_equal(fx_open(f), 0);
	pattern(img, 65536, 5);
	file_write(f, 0, img, 65536, 0);
	unmap_desc(p, 2, lba, nb);
	put_be16(cdb + 7, 8 + 32);
	cmd(f, 0, cdb, 10, p, 8 + 32, NULL, 0, &r);
	assert_good(&r);
	memset(img, 0xaa, 65536);
	file_read(f, 0, img, 65536, 0);
	check_zero(img + 16 * 512, 8 * 512);
	check_zero(img + 64 * 512, 16 * 512);
	{
		uint8_t *orig = malloc(65536);

		assert_non_null(orig);
		pattern(orig, 65536, 5);
		/* neighbours untouched */
		assert_memory_equal(img, orig, 16 * 512);
		assert_memory_equal(img + 24 * 512, orig + 24 * 512, 40 * 512);
		assert_memory_equal(img + 80 * 512, orig + 80 * 512,
				    65536 - 80 * 512);
		free(orig);
	}

	/* parameter list length 0: nothing to do; 1..7: error */
	put_be16(cdb + 7, 0);
	cmd(f, 0, cdb, 10, NULL, 0, NULL, 0, &r);
	assert_good(&r);
	put_be16(cdb + 7, 4);
	cmd(f, 0, cdb, 10, p, 4, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH);
	/* out of range */
	lba[0] = LUN0_SIZE / 512 - 4;
	unmap_desc(p, 1, lba, nb);
	put_be16(cdb + 7, 24);
	cmd(f, 0, cdb, 10, p, 24, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	/* descriptor length beyond the list, not a multiple of 16 */
	lba[0] = 0;
	unmap_desc(p, 1, lba, nb);
	put_be16(p + 2, 32);
	cmd(f, 0, cdb, 10, p, 24, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
	put_be16(p + 2, 15);
	cmd(f, 0, cdb, 10, p, 24, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
	/* more descriptors than the block limits page allows */
	{
		uint64_t l[65] = { 0 };
		uint32_t n[65] = { 0 };

		unmap_desc(p, 65, l, n);
		put_be16(cdb + 7, sizeof(p));
		cmd(f, 0, cdb, 10, p, sizeof(p), NULL, 0, &r);
		assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_PARAM);
	}
	/* list longer than the buffer */
	put_be16(cdb + 7, 40);
	cmd(f, 0, cdb, 10, p, 24, NULL, 0, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	/* ANCHOR */
	cdb[1] = 1;
	put_be16(cdb + 7, 24);
	cmd(f, 0, cdb, 10, p, 24, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	free(img);
}

static void test_write_same(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16] = { 0x93 }, blk[512], *img = malloc(40 * 512);
	struct res r;

	assert_non_null(img);
	assert_int_equal(fx_open(f), 0);
	pattern(blk, 512, 8);
	put_be64(cdb + 2, 100);
	put_be32(cdb + 10, 37);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_good(&r);
	file_read(f, 0, img, 39 * 512, 99 * 512);
	check_zero(img, 512);
	for (unsigned i = 1; i <= 37; i++)
		assert_memory_equal(img + i * 512, blk, 512);
	check_zero(img + 38 * 512, 512);

	/* zeroes with UNMAP: a hole, reads back as zeroes */
	memset(blk, 0, sizeof(blk));
	cdb[1] = 0x08;
	put_be64(cdb + 2, 101);
	put_be32(cdb + 10, 10);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_good(&r);
	file_read(f, 0, img, 12 * 512, 100 * 512);
	check_zero(img + 512, 10 * 512);
	assert_int_not_equal(memcmp(img, blk, 512), 0);
	assert_int_not_equal(memcmp(img + 11 * 512, blk, 512), 0);
	/* zeroes without UNMAP */
	cdb[1] = 0;
	put_be64(cdb + 2, 120);
	put_be32(cdb + 10, 2);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_good(&r);
	file_read(f, 0, img, 3 * 512, 120 * 512);
	check_zero(img, 2 * 512);
	assert_int_not_equal(img[2 * 512 + 1], 0);

	/* 0 blocks (WSNZ), too many, out of range, ANCHOR, no data */
	put_be32(cdb + 10, 0);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	put_be32(cdb + 10, SCSI_MAX_WSAME_BLOCKS(512) + 1);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	put_be64(cdb + 2, LUN0_SIZE / 512 - 1);
	put_be32(cdb + 10, 2);
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE);
	put_be64(cdb + 2, 0);
	cdb[1] = 0x10;
	cmd(f, 0, cdb, 16, blk, 512, NULL, 0, &r);
	assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_FIELD_CDB);
	cdb[1] = 0;
	cmd(f, 0, cdb, 16, NULL, 0, NULL, 0, &r);
	assert_int_equal(r.response, VDEV_SCSI_S_OVERRUN);
	free(img);
}

static void test_unknown_opcode(void **state)
{
	static const uint8_t ops[] = { 0x01, 0x04, 0x15, 0x1b, 0x1e, 0x2f,
				       0x41, 0x4d, 0x55, 0x7f, 0x89, 0xa3,
				       0xc0, 0xff };
	struct fx *f = *state;
	uint8_t cdb[16] = { 0 };
	struct res r;

	assert_int_equal(fx_open(f), 0);
	for (unsigned i = 0; i < sizeof(ops); i++) {
		cdb[0] = ops[i];
		cmd(f, 0, cdb, 16, NULL, 0, NULL, 0, &r);
		assert_sense(&r, SK_ILLEGAL_REQUEST, ASC_INVALID_OPCODE);
	}
}

static void test_block_4k(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16], w[8192], b[8192];
	struct res r;

	f->cfg.logical_block_size = 4096;
	assert_int_equal(fx_open(f), 0);
	memset(cdb, 0, 16);
	cdb[0] = 0x25;
	cmd(f, 0, cdb, 10, NULL, 0, b, 8, &r);
	assert_good(&r);
	assert_int_equal(get_be32(b), LUN0_SIZE / 4096 - 1);
	assert_int_equal(get_be32(b + 4), 4096);
	pattern(w, sizeof(w), 4);
	cmd(f, 0, cdb, rw_cdb(cdb, 10, true, 3, 2), w, 8192, NULL, 0, &r);
	assert_good(&r);
	file_read(f, 0, b, 8192, 3 * 4096);
	assert_memory_equal(w, b, 8192);
}

static void test_multi_queue_packed(void **state)
{
	struct fx *f = *state;
	uint8_t cdb[16], w[1024], b[1024];
	struct vdev_scsi_config_space cs;
	struct res r;

	f->cfg.num_queues = 3;
	f->dcfg.packed = true;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(vdev_num_queues(f->dev), 5);
	assert_int_equal(vdev_drv_config_read(f->drv, 0, &cs, sizeof(cs)), 0);
	assert_int_equal(vdev_le32_to_cpu(cs.num_queues), 3);
	assert_true(vdev_has_feature(f->dev, VDEV_F_RING_PACKED));
	for (unsigned q = 0; q < 3; q++) {
		struct vdev_scsi_cmd_req req = { 0 };
		struct vdev_scsi_cmd_resp resp;

		pattern(w, sizeof(w), q);
		lun_addr(req.lun, 0);
		rw_cdb(req.cdb, 10, true, 40 * q, 2);
		raw_xfer(f, RQ + q, &req, sizeof(req), w, sizeof(w), &resp,
			 sizeof(resp), NULL, 0);
		assert_int_equal(resp.response, 0);
		assert_int_equal(resp.status, 0);
		file_read(f, 0, b, sizeof(b), 40 * q * 512);
		assert_memory_equal(w, b, sizeof(b));
	}
	cmd(f, 0, cdb, rw_cdb(cdb, 10, false, 40, 2), NULL, 0, b, 1024, &r);
	pattern(w, sizeof(w), 1);
	assert_memory_equal(w, b, sizeof(b));
}

/* Data split over many descriptors, with the response sharing none. */
static void test_multi_segment(void **state)
{
	struct fx *f = *state;
	struct vdev_drv_mem *m;
	struct vdev_scsi_cmd_req *req;
	struct vdev_scsi_cmd_resp *resp;
	struct vdev_drv_seg segs[20];
	uint8_t *data, w[16 * 512], b[16 * 512];
	size_t mark;
	void *tok;
	uint32_t used;

	assert_int_equal(fx_open(f), 0);
	m = vdev_drv_get_mem(f->drv);
	mark = vdev_drv_mem_mark(m);
	pattern(w, sizeof(w), 12);
	file_write(f, 0, w, sizeof(w), 7 * 512);
	req = vdev_drv_mem_alloc(m, sizeof(*req), 8, &segs[0].gpa);
	segs[0].len = sizeof(*req);
	lun_addr(req->lun, 0);
	rw_cdb(req->cdb, 10, false, 7, 16);
	resp = vdev_drv_mem_alloc(m, sizeof(*resp), 8, &segs[1].gpa);
	segs[1].len = sizeof(*resp);
	data = vdev_drv_mem_alloc(m, sizeof(w), 8, &segs[2].gpa);
	/* 16 segments of 512 bytes, one byte off for good measure */
	for (unsigned i = 0; i < 16; i++) {
		segs[2 + i].gpa = segs[2].gpa + i * 512;
		segs[2 + i].len = 512;
	}
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, RQ), segs, 1,
					   17, req, VDEV_DRV_F_INDIRECT),
			 0);
	assert_int_equal(vdev_drv_kick(f->drv, RQ), 0);
	assert_int_equal(vdev_drv_wait(f->drv, RQ, TMO, &tok, &used), 0);
	assert_int_equal(used, sizeof(*resp) + sizeof(w));
	assert_int_equal(resp->status, 0);
	memcpy(b, data, sizeof(b));
	assert_memory_equal(w, b, sizeof(b));
	vdev_drv_mem_reset_to(m, mark);
}

/* VPD 0xb1 without --solid-state: the medium of each LUN's image. */
static void test_vpd_medium(void **state)
{
	struct fx *f = *state;
	char shm[] = "/dev/shm/vdev-scsi-test-XXXXXX";
	uint8_t b[255];
	struct res r;
	int fd;

	assert_int_equal(fx_open(f), 0);
	vpd(f, 0, 0xb1, b, &r);
	assert_good(&r);
	/* 1: non-rotating; 0: not reported (never "rotating at N rpm") */
	assert_int_equal(b[4] << 8 | b[5], fx_scsi(f)->luns[0].img->nonrot);
	fx_close(f);

	fd = mkstemp(shm);
	if (fd < 0) {
		print_message("SKIP: no /dev/shm (%s)\n", strerror(errno));
		skip();
	}
	assert_int_equal(ftruncate(fd, LUN1_SIZE), 0);
	f->paths[1] = shm;
	assert_int_equal(fx_open(f), 0);
	unlink(shm);
	close(fd);
	vpd(f, 1, 0xb1, b, &r);
	assert_good(&r);
	assert_int_equal(b[4] << 8 | b[5], 1); /* tmpfs */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		SCSI_TEST(test_config),
		SCSI_TEST(test_inquiry_standard),
		SCSI_TEST(test_inquiry_vpd),
		SCSI_TEST(test_vpd_medium),
		SCSI_TEST(test_tur_and_missing_lun),
		SCSI_TEST(test_read_capacity),
		SCSI_TEST(test_read_write),
		SCSI_TEST(test_lba_range),
		SCSI_TEST(test_overrun),
		SCSI_TEST(test_read_only),
		SCSI_TEST(test_sync_cache),
		SCSI_TEST(test_report_luns),
		SCSI_TEST(test_mode_sense),
		SCSI_TEST(test_request_sense),
		SCSI_TEST(test_unmap),
		SCSI_TEST(test_write_same),
		SCSI_TEST(test_unknown_opcode),
		SCSI_TEST(test_block_4k),
		SCSI_TEST(test_multi_queue_packed),
		SCSI_TEST(test_multi_segment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
