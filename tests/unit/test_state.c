/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * state.h / vdev_save / vdev_restore: a round trip through a live device,
 * the section API, and every refusal (each leaves the device reset).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/le.h>
#include <virtio/state.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "twait.h"
#include "vcore_tdev.h"

#define HDR 32
#define TAG_A VDEV_STATE_TAG('S', 'M', 'A', '0')
#define TAG_B VDEV_STATE_TAG('S', 'M', 'B', '0')

/* ---- a model whose save/load the tests script ---------------------- */

static struct {
	int save_mode; /* 0 normal, 1 duplicate tag, 2 fail */
	int load_ret;
	uint32_t load_version;
	uint64_t a;
	uint8_t b[16];  /* section TAG_B, copied in load */
	uint32_t blen;
	int get_u64_ret_b;
	int loads, resets;
	uint8_t cfg[16]; /* vdev_state_config in load, copied */
	uint32_t cfglen;
} S;

static int s_save(struct vdev *dev, struct vdev_state_writer *w)
{
	int r = vdev_state_put_u64(w, TAG_A, S.a);

	if (r < 0)
		return r;
	if (S.save_mode == 2)
		return -EIO;
	r = vdev_state_put(w, TAG_B, "hello", 5);
	if (r < 0)
		return r;
	if (S.save_mode == 1) {
		r = vdev_state_put(w, TAG_A, "x", 1);
		assert_int_equal(r, -EINVAL);
		return r;
	}
	/* Zero-length sections exist and are found. */
	return vdev_state_put(w, VDEV_STATE_TAG('S', 'M', 'Z', '0'), NULL, 0);
}

static int s_load(struct vdev *dev, struct vdev_state_reader *r,
		  uint32_t version)
{
	uint64_t dummy;
	uint32_t zl = 99;

	S.loads++;
	S.load_version = version;
	{
		/* Valid only during load: kept as copies. */
		const void *c = vdev_state_config(r, &S.cfglen);
		const void *b;

		if (c && S.cfglen <= sizeof(S.cfg))
			memcpy(S.cfg, c, S.cfglen);
		b = vdev_state_get(r, TAG_B, &S.blen);
		if (b && S.blen <= sizeof(S.b))
			memcpy(S.b, b, S.blen);
	}
	assert_int_equal(vdev_state_get_u64(r, TAG_A, &S.a), 0);
	S.get_u64_ret_b = vdev_state_get_u64(r, TAG_B, &dummy);
	assert_int_equal(vdev_state_get_u64(r, VDEV_STATE_TAG('N', 'O', 'N',
							      'E'), &dummy),
			 -ENOENT);
	assert_null(vdev_state_get(r, VDEV_STATE_TAG('N', 'O', 'N', 'E'),
				   NULL));
	assert_non_null(vdev_state_get(r, VDEV_STATE_TAG('S', 'M', 'Z', '0'),
				       &zl));
	assert_int_equal(zl, 0);
	return S.load_ret;
}

static void s_reset(struct vdev *dev)
{
	S.resets++;
}

static void s_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
}

static const struct vdev_ops s_ops = {
	.save = s_save,
	.load = s_load,
	.reset = s_reset,
	.handle = s_handle,
};

static const struct vdev_info s_info = {
	.name = "smodel",
	.device_id = 0xfff2,
	.num_queues = 2,
	.max_queue_size = 128,
	.config_size = 6,
	.state_version = 3,
};

static uint32_t crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & -(c & 1));
	}
	return ~c;
}

static void fix_crc(uint8_t *b, size_t len)
{
	put_le32(b + 20, crc32(b + HDR, len - HDR));
	put_le32(b + 24, (uint32_t)len);
	put_le32(b + 28, 0);
}

/* Offset of the section @tag in the body, or 0. */
static size_t find_sec(const uint8_t *b, size_t len, uint32_t tag)
{
	size_t off = HDR;

	while (off + 8 <= len) {
		if (get_le32(b + off) == tag)
			return off;
		off += 8 + get_le32(b + off + 4);
	}
	return 0;
}

static const uint8_t ACKDRV = VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER;

/* A device at FEATURES_OK with one queue set up (no RAM needed for a
 * queue that is not enabled), config written, generation bumped. */
static struct vdev *smodel(void)
{
	struct vdev *dev = vdev_new(&s_info, &s_ops, NULL);

	assert_non_null(dev);
	memset(&S, 0, sizeof(S));
	S.a = 0x1122334455667788ull;
	memcpy(vdev_config(dev), "abcdef", 6);
	vdev_config_changed(dev);
	vdev_config_changed(dev);
	assert_int_equal(vdev_set_status(dev, ACKDRV), 0);
	assert_int_equal(vdev_set_driver_features(dev,
		VDEV_BIT(VDEV_F_VERSION_1) | VDEV_BIT(VDEV_F_EVENT_IDX)), 0);
	assert_int_equal(vdev_set_status(dev, ACKDRV |
					 VDEV_STATUS_FEATURES_OK), 0);
	assert_int_equal(vdev_vq_set_size(dev, 1, 32), 0);
	assert_int_equal(vdev_vq_set_addr(dev, 1, 0x1000, 0x2000, 0x3000), 0);
	return dev;
}

static void saved(struct vdev *dev, uint8_t **b, size_t *len)
{
	void *blob;

	assert_int_equal(vdev_save(dev, &blob, len), 0);
	*b = blob;
}

static void assert_reset(struct vdev *dev, int resets_before)
{
	assert_int_equal(vdev_get_status(dev), 0);
	assert_int_equal(vdev_driver_features(dev), 0);
	assert_true(S.resets > resets_before);
}

/* The section tagged @tag (four characters, as they appear in the blob),
 * walked byte by byte; NULL if absent. */
static const uint8_t *section(const uint8_t *b, size_t len, const char *tag,
			      uint32_t *slen)
{
	for (size_t off = HDR; off + 8 <= len;
	     off += 8 + get_le32(b + off + 4)) {
		if (!memcmp(b + off, tag, 4)) {
			*slen = get_le32(b + off + 4);
			return b + off + 8;
		}
	}
	return NULL;
}

static void test_round_trip_plain(void **state)
{
	struct vdev *dev = smodel();
	struct vdev *dev2 = vdev_new(&s_info, &s_ops, NULL);
	uint32_t gen = vdev_config_generation(dev);
	uint8_t *b;
	size_t len;

	saved(dev, &b, &len);
	assert_memory_equal(b, "VDEVSTAT", 8);
	assert_int_equal(get_le32(b + 8), 1);
	assert_int_equal(get_le32(b + 12), 0xfff2);
	assert_int_equal(get_le32(b + 16), 3);
	assert_int_equal(get_le32(b + 20), crc32(b + HDR, len - HDR));
	assert_int_equal(get_le32(b + 24), len);
	/* Sections are little-endian whatever the host: a blob moves
	 * between hosts (migration), byte for byte. */
	{
		static const uint8_t a_le[8] = { 0x88, 0x77, 0x66, 0x55,
						 0x44, 0x33, 0x22, 0x11 };
		static const uint8_t fea_le[8] = { 0, 0, 0, 0x20, 1 };
		const uint8_t *p;
		uint32_t slen;

		p = section(b, len, "SMA0", &slen);
		assert_non_null(p);
		assert_int_equal(slen, 8);
		assert_memory_equal(p, a_le, 8);
		p = section(b, len, "_FEA", &slen);
		assert_non_null(p);
		assert_int_equal(slen, 8);
		assert_memory_equal(p, fea_le, 8);
	}
	/* Into another instance of the same model, whose config space says
	 * something else: it is the model's, the blob does not overwrite
	 * it; the model's load sees the saved bytes. */
	memcpy(vdev_config(dev2), "ABCDEF", 6);
	S.a = 0;
	assert_int_equal(vdev_restore(dev2, b, len), 0);
	assert_int_equal(S.cfglen, 6);
	assert_memory_equal(S.cfg, "abcdef", 6);
	assert_memory_equal(vdev_config(dev2), "ABCDEF", 6);
	memcpy(vdev_config(dev2), "abcdef", 6);
	assert_int_equal(S.loads, 1);
	assert_int_equal(S.load_version, 3);
	assert_int_equal(S.a, 0x1122334455667788ull);
	assert_int_equal(S.blen, 5);
	assert_memory_equal(S.b, "hello", 5);
	assert_int_equal(S.get_u64_ret_b, -EBADMSG);
	assert_int_equal(vdev_get_status(dev2),
			 ACKDRV | VDEV_STATUS_FEATURES_OK);
	assert_int_equal(vdev_features(dev2),
			 VDEV_BIT(VDEV_F_VERSION_1) |
				 VDEV_BIT(VDEV_F_EVENT_IDX));
	assert_memory_equal(vdev_config(dev2), "abcdef", 6);
	assert_int_equal(vdev_config_generation(dev2), gen);
	assert_false(vdev_vq_enabled(dev2, 1));
	/* The collected queue setup came along: the same blob again. */
	{
		uint8_t *b2;
		size_t len2;

		saved(dev2, &b2, &len2);
		assert_int_equal(len2, len);
		assert_memory_equal(b2, b, len);
		free(b2);
	}
	free(b);
	vdev_free(dev);
	vdev_free(dev2);
}

static void test_round_trip_live(void **state)
{
	static struct tdev t;
	struct vdev_drv_config dc = { .packed = true, .queue_size = 32 };
	struct vdev_drv *drv;
	uint8_t in[4];
	uint32_t w;
	void *blob;
	size_t len;

	assert_non_null(tdev_new(&t, 2, 64, 1));
	drv = vdev_drv_new(t.dev, &dc);
	assert_int_equal(vdev_drv_init(drv), 0);
	assert_int_equal(vdev_drv_xfer(drv, 0, "abc", 4, in, 4, &w,
				       TWAIT_MS), 0);
	t.counter = 77;
	assert_int_equal(vdev_save(t.dev, &blob, &len), -EBUSY);
	assert_int_equal(vdev_vq_stop(t.dev, 0, NULL), 0);
	assert_int_equal(vdev_save(t.dev, &blob, &len), -EBUSY);
	assert_int_equal(vdev_vq_stop(t.dev, 1, NULL), 0);
	assert_int_equal(vdev_save(t.dev, &blob, &len), 0);
	vdev_reset(t.dev);
	assert_int_equal(t.counter, 0);
	assert_int_equal(vdev_restore(t.dev, blob, len), 0);
	free(blob);
	assert_int_equal(t.counter, 77);
	assert_int_equal(t.loads, 1);
	assert_true(vdev_get_status(t.dev) & VDEV_STATUS_DRIVER_OK);
	assert_true(vdev_has_feature(t.dev, VDEV_F_RING_PACKED));
	/* The driver carries on where it was, on both queues. */
	for (unsigned q = 0; q < 2; q++) {
		memset(in, 0, sizeof(in));
		assert_int_equal(vdev_drv_xfer(drv, q, "xyz", 4, in, 4, &w,
					       TWAIT_MS), 0);
		assert_string_equal((char *)in, "xyz");
	}
	vdev_drv_free(drv);
	vdev_free(t.dev);
}

static void test_save_errors(void **state)
{
	struct vdev *dev = smodel();
	void *blob = NULL;
	size_t len;

	assert_int_equal(vdev_save(dev, NULL, &len), -EINVAL);
	assert_int_equal(vdev_save(dev, &blob, NULL), -EINVAL);
	S.save_mode = 1;
	assert_int_equal(vdev_save(dev, &blob, &len), -EINVAL);
	S.save_mode = 2;
	assert_int_equal(vdev_save(dev, &blob, &len), -EIO);
	assert_null(blob);
	vdev_free(dev);
}

/* Saves, lets @patch damage the blob, expects @err and a reset device. */
static void refused(void (*patch)(uint8_t *b, size_t *len), int err)
{
	struct vdev *dev = smodel();
	uint8_t *b;
	size_t len;
	int resets;

	saved(dev, &b, &len);
	b = realloc(b, len + 64);
	patch(b, &len);
	resets = S.resets;
	S.loads = 0;
	assert_int_equal(vdev_restore(dev, b, len), err);
	assert_int_equal(S.loads, 0); /* validated before the model runs */
	assert_reset(dev, resets);
	free(b);
	vdev_free(dev);
}

static void p_magic(uint8_t *b, size_t *len) { b[3] ^= 1; }
static void p_devid(uint8_t *b, size_t *len) { put_le32(b + 12, 4); }
static void p_format(uint8_t *b, size_t *len) { put_le32(b + 8, 2); }
static void p_model(uint8_t *b, size_t *len) { put_le32(b + 16, 4); }
static void p_trunc(uint8_t *b, size_t *len) { *len -= 1; }
static void p_short(uint8_t *b, size_t *len) { *len = 20; }
static void p_longer(uint8_t *b, size_t *len) { b[(*len)++] = 0; }
static void p_crc(uint8_t *b, size_t *len) { b[HDR + 9] ^= 0x40; }

static void p_overrun(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, TAG_B);

	assert_true(off);
	put_le32(b + off + 4, 1000);
	fix_crc(b, *len);
}

static void p_trailing(uint8_t *b, size_t *len)
{
	/* Half a section header at the end. */
	memset(b + *len, 0, 4);
	*len += 4;
	fix_crc(b, *len);
}

static void p_nostatus(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, VDEV_STATE_TAG('_', 'S', 'T', 'S'));

	assert_true(off);
	b[off + 1] = 'X';
	fix_crc(b, *len);
}

static void p_dup(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, TAG_B);

	assert_true(off);
	/* Rename B into A: two sections with one tag. */
	put_le32(b + off, TAG_A);
	fix_crc(b, *len);
}

static void p_qsize(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, VDEV_STATE_TAG('_', 'Q', 1, 0));

	assert_true(off);
	b[off + 8] = 0;
	b[off + 9] = 1; /* 256 > max 128 */
	fix_crc(b, *len);
}

static void p_features(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, VDEV_STATE_TAG('_', 'F', 'E', 'A'));

	assert_true(off);
	b[off + 8] |= 0x20; /* bit 5: never offered */
	fix_crc(b, *len);
}

static void p_config_len(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, VDEV_STATE_TAG('_', 'C', 'F', 'G'));

	assert_true(off);
	put_le32(b + off + 4, get_le32(b + off + 4) - 1);
	/* The byte that fell out now starts the next section's header:
	 * whatever it parses as, the config is refused. */
	fix_crc(b, *len);
}

static void p_nqueues(uint8_t *b, size_t *len)
{
	size_t off = find_sec(b, *len, VDEV_STATE_TAG('_', 'N', 'Q', ' '));

	assert_true(off);
	put_le32(b + off + 8, 3);
	fix_crc(b, *len);
}

static void test_refusals(void **state)
{
	refused(p_magic, -EPROTO);
	refused(p_devid, -EPROTO);
	refused(p_format, -EPROTO);
	refused(p_model, -EPROTO);
	refused(p_features, -EPROTO);
	refused(p_nqueues, -EPROTO);
	refused(p_trunc, -EBADMSG);
	refused(p_short, -EBADMSG);
	refused(p_longer, -EBADMSG);
	refused(p_crc, -EBADMSG);
	refused(p_overrun, -EBADMSG);
	refused(p_trailing, -EBADMSG);
	refused(p_nostatus, -EBADMSG);
	refused(p_dup, -EBADMSG);
	refused(p_qsize, -EBADMSG);
	refused(p_config_len, -EBADMSG);
}

static void test_model_refuses(void **state)
{
	struct vdev *dev = smodel();
	uint8_t *b;
	size_t len;
	int resets;

	saved(dev, &b, &len);
	S.load_ret = -EINVAL;
	resets = S.resets;
	assert_int_equal(vdev_restore(dev, b, len), -EINVAL);
	assert_int_equal(S.loads, 1);
	assert_reset(dev, resets);
	free(b);
	vdev_free(dev);
}

/*
 * A refused blob leaves the config space as it was, whatever the model's
 * load did to it before it refused.
 */
static int scribbling_load(struct vdev *dev, struct vdev_state_reader *r,
			   uint32_t version)
{
	memcpy(vdev_config(dev), "zzzzzz", 6);
	return -EINVAL;
}

static void test_refused_keeps_config(void **state)
{
	static const struct vdev_ops ops = { .save = s_save,
					     .load = scribbling_load,
					     .handle = s_handle };
	struct vdev *dev = smodel();
	struct vdev *dev2 = vdev_new(&s_info, &ops, NULL);
	uint32_t gen;
	uint8_t *b;
	size_t len;

	assert_non_null(dev2);
	saved(dev, &b, &len);
	memcpy(vdev_config(dev2), "ABCDEF", 6);
	gen = vdev_config_generation(dev2);
	assert_int_equal(vdev_restore(dev2, b, len), -EINVAL);
	assert_memory_equal(vdev_config(dev2), "ABCDEF", 6);
	assert_int_equal(vdev_config_generation(dev2), gen);
	free(b);
	vdev_free(dev);
	vdev_free(dev2);
}

/* The same with a real model: a blk device restores a blob made by
 * another blk device (other image size, other block size). Accepted or
 * refused, its config space still describes its own image. */
static struct vdev *blk_ram(uint64_t size, uint32_t lbs)
{
	struct vdev_blk_config c = { .backend = VDEV_BLK_BACKEND_RAM,
				     .size = size, .logical_block_size = lbs };
	struct vdev *dev = vdev_blk_new(&c);

	assert_non_null(dev);
	return dev;
}

static void blk_config(struct vdev *dev, uint64_t *sectors, uint32_t *bs)
{
	struct vdev_blk_config_space cs;

	assert_int_equal(vdev_config_read(dev, 0, &cs,
					  offsetof(struct vdev_blk_config_space,
						   blk_size) + 4),
			 0);
	*sectors = vdev_le64_to_cpu(cs.capacity);
	*bs = vdev_le32_to_cpu(cs.blk_size);
}

static void test_blk_config_is_the_models(void **state)
{
	struct vdev *dev = blk_ram(64u << 20, 512);
	struct vdev *dev2 = blk_ram(32u << 20, 4096);
	uint64_t sectors;
	uint32_t bs;
	uint8_t *b;
	size_t len, off;

	assert_int_equal(vdev_set_status(dev, ACKDRV), 0);
	assert_int_equal(vdev_set_driver_features(dev,
				VDEV_BIT(VDEV_F_VERSION_1)), 0);
	assert_int_equal(vdev_set_status(dev, ACKDRV |
					 VDEV_STATUS_FEATURES_OK), 0);
	saved(dev, &b, &len);
	assert_int_equal(vdev_restore(dev2, b, len), 0);
	blk_config(dev2, &sectors, &bs);
	assert_int_equal(sectors, (32u << 20) / 512);
	assert_int_equal(bs, 4096);
	/* Refused in the model's load (writeback 2): still its own. */
	off = find_sec(b, len, VDEV_STATE_TAG('B', 'L', 'K', 'W'));
	assert_true(off != 0);
	b[off + 8] = 2;
	fix_crc(b, len);
	assert_int_equal(vdev_restore(dev2, b, len), -EBADMSG);
	blk_config(dev2, &sectors, &bs);
	assert_int_equal(sectors, (32u << 20) / 512);
	assert_int_equal(bs, 4096);
	free(b);
	vdev_free(dev);
	vdev_free(dev2);
}

static void test_older_model_and_unknown_section(void **state)
{
	struct vdev *dev = smodel();
	uint8_t *b;
	size_t len;

	saved(dev, &b, &len);
	b = realloc(b, len + 16);
	/* A section this reader does not know (newer writer): skipped. */
	put_le32(b + len, VDEV_STATE_TAG('N', 'E', 'W', '1'));
	put_le32(b + len + 4, 4);
	put_le32(b + len + 8, 0xdeadbeef);
	len += 12;
	/* An older model state version is handed to the model. */
	put_le32(b + 16, 1);
	fix_crc(b, len);
	assert_int_equal(vdev_restore(dev, b, len), 0);
	assert_int_equal(S.load_version, 1);
	assert_int_equal(vdev_get_status(dev),
			 ACKDRV | VDEV_STATUS_FEATURES_OK);
	assert_int_equal(vdev_restore(dev, NULL, 0), -EBADMSG);
	assert_int_equal(vdev_restore(dev, NULL, 5), -EINVAL);
	free(b);
	vdev_free(dev);
}

/*
 * A hostile blob (a migration stream is the peer's) made of a million empty
 * sections: parsing and lookups must not be quadratic in their number, or
 * one restore holds the control thread for hours.
 */
static void test_many_sections(void **state)
{
	struct vdev *dev = smodel();
	const size_t extra = 1u << 20;
	uint8_t *b;
	size_t len;

	saved(dev, &b, &len);
	b = realloc(b, len + 8 * extra);
	assert_non_null(b);
	for (size_t i = 0; i < extra; i++) {
		put_le32(b + len, 'Z' | (uint32_t)i << 8);
		put_le32(b + len + 4, 0);
		len += 8;
	}
	fix_crc(b, len);
	alarm(30);
	assert_int_equal(vdev_restore(dev, b, len), 0);
	/* A duplicate far down the list is still seen. */
	put_le32(b + len - 8, 'Z' | 5u << 8);
	fix_crc(b, len);
	assert_int_equal(vdev_restore(dev, b, len), -EBADMSG);
	alarm(0);
	free(b);
	vdev_free(dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_plain),
		cmocka_unit_test(test_round_trip_live),
		cmocka_unit_test(test_save_errors),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_model_refuses),
		cmocka_unit_test(test_refused_keeps_config),
		cmocka_unit_test(test_blk_config_is_the_models),
		cmocka_unit_test(test_older_model_and_unknown_section),
		cmocka_unit_test(test_many_sections),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
