/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound through the software driver: config, every control request
 * in and out of the spec's order, with bad stream ids, bad parameters and
 * short buffers; playback and capture through the file backend checked
 * byte for byte; pacing against a fake clock (never early) and against
 * the real one; RELEASE after the I/O; events (XRUN, jacks); malformed I/O
 * messages; save/restore of a running stream; and the daemon, vdev-snd,
 * over vhost-user with vhost-device-sound's options and UML's queue size.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/caps.h>
#include <virtio/sound.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "core/bytes.h"
#include "tspawn.h"
#include "twait.h"
#include "vdev_build_config.h"
#if VDEV_WITH_ALSA_FOUND
#include <alsa/asoundlib.h>
#endif

enum {
	R_JACK_INFO = 1, R_JACK_REMAP, R_PCM_INFO = 0x100, R_SET_PARAMS,
	R_PREPARE, R_RELEASE, R_START, R_STOP, R_CHMAP_INFO = 0x200,
	S_OK = 0x8000, S_BAD_MSG, S_NOT_SUPP, S_IO_ERR,
	EVT_JACK_CONNECTED = 0x1000, EVT_JACK_DISCONNECTED,
	EVT_PERIOD = 0x1100, EVT_XRUN, EVT_CTL_NOTIFY = 0x1200,
	R_CTL_INFO = 0x300, R_CTL_ENUM_ITEMS, R_CTL_READ, R_CTL_WRITE,
	R_CTL_TLV_READ, R_CTL_TLV_WRITE, R_CTL_TLV_COMMAND,
};

#define PERIOD 1920u /* 10 ms of S16 stereo 48 kHz */
#define MS 1000000ull

static uint64_t fake_ns;
static char out_path[64], in_path[64];
static uint8_t pattern[PERIOD * 8];

static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_ns;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct t {
	struct vdev *dev;
	struct vdev_drv *drv;
};

static const char *alsa_pcm;
static bool with_controls;

static struct t make(enum vdev_sound_backend be, bool fake, bool packed,
		     unsigned jacks)
{
	struct vdev_sound_config c = {
		.backend = be,
		.alsa_device = alsa_pcm,
		.controls = with_controls,
		.out_path = be == VDEV_SOUND_BACKEND_FILE ? out_path : NULL,
		.in_path = be == VDEV_SOUND_BACKEND_FILE ? in_path : NULL,
		.num_jacks = jacks,
		.clock = fake ? fake_clock : NULL,
	};
	struct vdev_drv_config dc = { .packed = packed, .use_eventfds = true,
				      .queue_size = 64 };
	struct t t;

	t.dev = vdev_sound_new(&c);
	assert_non_null(t.dev);
	t.drv = vdev_drv_new(t.dev, &dc);
	assert_non_null(t.drv);
	assert_int_equal(vdev_drv_init(t.drv), 0);
	return t;
}

static void destroy(struct t *t)
{
	vdev_drv_free(t->drv);
	vdev_free(t->dev);
}

static char daemon_path[512];

static void need_daemon(void)
{
	const char *b = getenv("VDEV_BUILD_DIR");

	if (b)
		snprintf(daemon_path, sizeof(daemon_path),
			 "%s/daemons/snd/vdev-snd", b);
	if (!b || access(daemon_path, X_OK) != 0) {
		print_message("vdev-snd not built (VDEV_BUILD_DIR unset or "
			      "daemons off): skipped\n");
		skip();
	}
}

/* vdev-snd with @args (NULL-terminated) on @sock, the driver connected
 * with queues of 256 (what User-Mode Linux asks). */
static struct t make_daemon(struct tspawn *ts, const char *sock,
			    const char *const *args)
{
	const char *argv[24] = { daemon_path };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct t t = { 0 };
	int n = 1;

	while (*args && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	assert_int_equal(tspawn_start(ts, argv, NULL), 0);
	assert_int_equal(tspawn_drv_connect(ts, sock, 10000, &dc, &t.drv), 0);
	assert_int_equal(vdev_drv_init(t.drv), 0);
	return t;
}

/* A control request; returns the status (or -1 when the device wrote
 * nothing), the whole answer in @resp. */
static int ctl(struct t *t, const void *req, size_t len, void *resp,
	       size_t resp_len)
{
	uint8_t r[1024] = { 0 };
	uint32_t w = 0;

	assert_true(resp_len <= sizeof(r));
	assert_int_equal(vdev_drv_xfer(t->drv, 0, req, len, r, resp_len, &w,
				       TWAIT_MS), 0);
	if (resp)
		memcpy(resp, r, resp_len);
	if (w < 4)
		return -1;
	return (int)get_le32(r);
}

static int pcm(struct t *t, uint32_t code, uint32_t sid)
{
	uint8_t req[8];

	put_le32(req, code);
	put_le32(req + 4, sid);
	return ctl(t, req, sizeof(req), NULL, 4);
}

static int set_params(struct t *t, uint32_t sid, uint32_t buffer,
		      uint32_t period, uint32_t features, uint8_t channels,
		      uint8_t format, uint8_t rate)
{
	uint8_t req[24] = { 0 };

	put_le32(req, R_SET_PARAMS);
	put_le32(req + 4, sid);
	put_le32(req + 8, buffer);
	put_le32(req + 12, period);
	put_le32(req + 16, features);
	req[20] = channels;
	req[21] = format;
	req[22] = rate;
	return ctl(t, req, sizeof(req), NULL, 4);
}

static int std_params(struct t *t, uint32_t sid, uint32_t features)
{
	return set_params(t, sid, PERIOD * 4, PERIOD, features, 2,
			  VDEV_SND_FMT_S16, VDEV_SND_RATE_48000);
}

/* One I/O buffer in guest memory. */
struct io {
	uint8_t *hdr, *data, *status;
	struct vdev_drv_seg seg[3];
};

static void io_add(struct t *t, struct io *io, uint32_t sid, bool out,
		   const void *frames, uint32_t len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(t->drv);
	unsigned q = out ? 2 : 3;

	io->hdr = vdev_drv_mem_alloc(m, 4, 4, &io->seg[0].gpa);
	io->data = vdev_drv_mem_alloc(m, len, 16, &io->seg[1].gpa);
	io->status = vdev_drv_mem_alloc(m, 8, 4, &io->seg[2].gpa);
	assert_non_null(io->status);
	io->seg[0].len = 4;
	io->seg[1].len = len;
	io->seg[2].len = 8;
	put_le32(io->hdr, sid);
	if (out && frames)
		memcpy(io->data, frames, len);
	memset(io->status, 0xee, 8);
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(t->drv, q), io->seg,
					   out ? 2 : 1, out ? 1 : 2, io, 0),
			 0);
	assert_int_equal(vdev_drv_kick(t->drv, q), 0);
}

static struct io *io_wait(struct t *t, unsigned q, int ms, uint32_t *len)
{
	void *tok = NULL;
	uint32_t l;

	if (vdev_drv_wait(t->drv, q, ms, &tok, &l) < 0)
		return NULL;
	if (len)
		*len = l;
	return tok;
}

static int group_setup(void **state)
{
	int fd;

	(void)state;
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + (i >> 8));
	snprintf(out_path, sizeof(out_path), "/tmp/vdev-snd-out-XXXXXX");
	fd = mkstemp(out_path);
	assert_true(fd >= 0);
	close(fd);
	snprintf(in_path, sizeof(in_path), "/tmp/vdev-snd-in-XXXXXX");
	fd = mkstemp(in_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, pattern, PERIOD * 3), PERIOD * 3);
	close(fd);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(out_path);
	unlink(in_path);
	return 0;
}

static void test_config_and_info(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, false, false, 2);
	uint8_t cfg[12], req[16], r[4 + 2 * 32];

	(void)state;
	assert_int_equal(vdev_drv_config_read(t.drv, 0, cfg, 12), 0);
	assert_int_equal(get_le32(cfg), 2);      /* jacks */
	assert_int_equal(get_le32(cfg + 4), 2);  /* streams */
	assert_int_equal(get_le32(cfg + 8), 2);  /* chmaps */

	put_le32(req, R_PCM_INFO);
	put_le32(req + 4, 0);
	put_le32(req + 8, 2);
	put_le32(req + 12, 32);
	assert_int_equal(ctl(&t, req, 16, r, sizeof(r)), S_OK);
	/* EVT_SHMEM_PERIODS, EVT_XRUNS */
	assert_int_equal(get_le32(r + 4 + 4), 1u << 3 | 1u << 4);
	assert_true(r[4 + 16] & (1u << VDEV_SND_RATE_48000));
	assert_int_equal(r[4 + 24], VDEV_SND_D_OUTPUT);
	assert_int_equal(r[4 + 25], 1);
	assert_int_equal(r[4 + 26], 2);
	assert_int_equal(r[36 + 24], VDEV_SND_D_INPUT);
	/* S16, S32 and FLOAT among the formats */
	assert_true(get_le32(r + 4 + 8) & (1u << VDEV_SND_FMT_S16));
	assert_true(get_le32(r + 4 + 8) & (1u << VDEV_SND_FMT_FLOAT));
	assert_true(get_le32(r + 4 + 8) & (1u << VDEV_SND_FMT_U8));
	/* A bigger item size: the rest is zero. */
	put_le32(req + 8, 1);
	put_le32(req + 12, 40);
	memset(r, 0xff, sizeof(r));
	assert_int_equal(ctl(&t, req, 16, r, 44), S_OK);
	for (int i = 36; i < 44; i++)
		assert_int_equal(r[i], 0);

	put_le32(req, R_CHMAP_INFO);
	put_le32(req + 4, 1);
	put_le32(req + 8, 1);
	put_le32(req + 12, 24);
	assert_int_equal(ctl(&t, req, 16, r, 28), S_OK);
	assert_int_equal(r[4 + 4], VDEV_SND_D_INPUT);
	assert_int_equal(r[4 + 5], 2);
	assert_int_equal(r[4 + 6], 3); /* FL */
	assert_int_equal(r[4 + 7], 4); /* FR */

	put_le32(req, R_JACK_INFO);
	put_le32(req + 4, 0);
	put_le32(req + 8, 2);
	put_le32(req + 12, 24);
	assert_int_equal(ctl(&t, req, 16, r, 52), S_OK);
	assert_int_equal(r[4 + 16], 1); /* connected */
	assert_int_equal(r[28 + 16], 1);
	destroy(&t);
}

static void test_ctl_bad(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, false, false, 1);
	uint8_t req[24] = { 0 }, r[128];

	(void)state;
	/* shorter than a header */
	assert_int_equal(ctl(&t, req, 2, NULL, 4), S_BAD_MSG);
	/* unknown code */
	put_le32(req, 0x777);
	assert_int_equal(ctl(&t, req, 4, NULL, 4), S_NOT_SUPP);
	/* no room for the status: nothing written */
	put_le32(req, R_PCM_INFO);
	assert_int_equal(ctl(&t, req, 16, NULL, 2), -1);
	/* queries: short, count 0, past the end, small items, short
	 * answer space */
	assert_int_equal(ctl(&t, req, 12, NULL, 4), S_BAD_MSG);
	put_le32(req + 4, 0);
	put_le32(req + 8, 0);
	put_le32(req + 12, 32);
	assert_int_equal(ctl(&t, req, 16, r, 100), S_BAD_MSG);
	put_le32(req + 4, 1);
	put_le32(req + 8, 2);
	assert_int_equal(ctl(&t, req, 16, r, 100), S_BAD_MSG);
	put_le32(req + 4, 0xffffffffu);
	put_le32(req + 8, 2);
	assert_int_equal(ctl(&t, req, 16, r, 100), S_BAD_MSG);
	put_le32(req + 4, 0);
	put_le32(req + 8, 1);
	put_le32(req + 12, 31);
	assert_int_equal(ctl(&t, req, 16, r, 100), S_BAD_MSG);
	put_le32(req + 12, 32);
	assert_int_equal(ctl(&t, req, 16, r, 20), S_BAD_MSG);
	put_le32(req + 12, 1u << 20);
	assert_int_equal(ctl(&t, req, 16, r, 100), S_BAD_MSG);
	/* jacks: remap of a jack that does not exist, short remap */
	put_le32(req, R_JACK_REMAP);
	put_le32(req + 4, 1);
	assert_int_equal(ctl(&t, req, 16, NULL, 4), S_BAD_MSG);
	put_le32(req + 4, 0);
	assert_int_equal(ctl(&t, req, 16, NULL, 4), S_OK);
	assert_int_equal(ctl(&t, req, 12, NULL, 4), S_BAD_MSG);
	/* PCM commands: bad stream id, short */
	assert_int_equal(pcm(&t, R_PREPARE, 2), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_START, 0xffffffffu), S_BAD_MSG);
	put_le32(req, R_PREPARE);
	assert_int_equal(ctl(&t, req, 6, NULL, 4), S_BAD_MSG);
	/* SET_PARAMS: short, unsupported things, inconsistent sizes */
	put_le32(req, R_SET_PARAMS);
	put_le32(req + 4, 0);
	assert_int_equal(ctl(&t, req, 20, NULL, 4), S_BAD_MSG);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 0, 3,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_48000),
			 S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 0, 0,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_48000),
			 S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 0, 2,
				    VDEV_SND_FMT_IMA_ADPCM,
				    VDEV_SND_RATE_48000), S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 0, 2, 200,
				    VDEV_SND_RATE_48000), S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 0, 2,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_384000),
			 S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD, 1u << 0, 2,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_48000),
			 S_NOT_SUPP);
	assert_int_equal(set_params(&t, 0, PERIOD * 4, PERIOD + 2, 0, 2,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_48000),
			 S_BAD_MSG);
	assert_int_equal(set_params(&t, 0, PERIOD * 4 + 4, PERIOD, 0, 2,
				    VDEV_SND_FMT_S16, VDEV_SND_RATE_48000),
			 S_BAD_MSG);
	assert_int_equal(set_params(&t, 0, 0, 0, 0, 2, VDEV_SND_FMT_S16,
				    VDEV_SND_RATE_48000), S_BAD_MSG);
	/* None of that broke anything. */
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(vdev_get_status(t.dev) &
				 VDEV_STATUS_DEVICE_NEEDS_RESET, 0);
	destroy(&t);
}

static void test_state_order(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, false, true, 0);

	(void)state;
	/* Nothing before SET_PARAMS. */
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_STOP, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	/* SET_PARAMS -> SET_PARAMS, PREPARE only */
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	/* PREPARE -> SET_PARAMS, PREPARE, START, RELEASE; not STOP */
	assert_int_equal(pcm(&t, R_STOP, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	/* START -> STOP only */
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_BAD_MSG);
	/* the other stream is independent */
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	/* STOP -> START, RELEASE */
	assert_int_equal(pcm(&t, R_STOP, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	/* RELEASE -> SET_PARAMS, PREPARE (the parameters are kept) */
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_STOP, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_BAD_MSG);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	destroy(&t);
}

static void read_file(const char *path, uint8_t *buf, size_t cap,
		      size_t *len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	assert_true(fd >= 0);
	n = read(fd, buf, cap);
	assert_true(n >= 0);
	*len = (size_t)n;
	close(fd);
}

/* Plays @n periods of the pattern on prepared stream 0, four queued at a
 * time, in real time (never faster), then STOP and RELEASE. */
static void play_periods(struct t *t, unsigned n)
{
	struct io io[4];
	unsigned queued = 0, done = 0;
	int64_t t0;

	for (; queued < 4 && queued < n; queued++)
		io_add(t, &io[queued], 0, true, pattern + queued * PERIOD,
		       PERIOD);
	t0 = now_ms();
	assert_int_equal(pcm(t, R_START, 0), S_OK);
	while (done < n) {
		struct io *d = io_wait(t, 2, 2000, NULL);

		assert_non_null(d);
		assert_int_equal(get_le32(d->status), S_OK);
		done++;
		if (queued < n) {
			io_add(t, d, 0, true, pattern + queued * PERIOD,
			       PERIOD);
			queued++;
		}
	}
	assert_true(now_ms() - t0 >= (int64_t)n * 10 - 1);
	assert_int_equal(pcm(t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(t, R_RELEASE, 0), S_OK);
}

/* Playback into the file, paced by a fake clock: a period never
 * completes before the clock says it has been played. */
static void test_playback_fake_clock(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_FILE, true, false, 0);
	struct io io[4];
	uint8_t got[PERIOD * 8];
	size_t n;

	(void)state;
	fake_ns = 1000 * MS;
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	for (int i = 0; i < 4; i++)
		io_add(&t, &io[i], 0, true, pattern + i * PERIOD, PERIOD);
	/* Prepared, not started: nothing plays. */
	assert_null(io_wait(&t, 2, 30, NULL));
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	/* The clock stands still: nothing completes, however long. */
	assert_null(io_wait(&t, 2, 50, NULL));
	fake_ns += 10 * MS - 1;
	assert_null(io_wait(&t, 2, 30, NULL));
	fake_ns += 1;
	{
		uint32_t len;

		assert_ptr_equal(io_wait(&t, 2, 1000, &len), &io[0]);
		assert_int_equal(len, 8);
		assert_int_equal(get_le32(io[0].status), S_OK);
		/* the three periods behind it */
		assert_int_equal(get_le32(io[0].status + 4), 3 * PERIOD);
	}
	assert_null(io_wait(&t, 2, 30, NULL));
	fake_ns += 30 * MS;
	for (int i = 1; i < 4; i++)
		assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[i]);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, 4 * PERIOD);
	assert_memory_equal(got, pattern, 4 * PERIOD);
	/* A new session starts the file again. */
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io[0], 0, true, pattern + PERIOD, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[0]);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, PERIOD);
	assert_memory_equal(got, pattern + PERIOD, PERIOD);
	destroy(&t);
}

/* Real time: ten 10 ms periods take at least 100 ms. */
static void test_playback_real_time(void **state)
{
	for (int packed = 0; packed < 2; packed++) {
		struct t t = make(VDEV_SOUND_BACKEND_NULL, false, packed, 0);
		struct io io[4];
		int64_t t0;
		int got = 0;

		(void)state;
		assert_int_equal(std_params(&t, 0, 0), S_OK);
		assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
		for (int i = 0; i < 4; i++)
			io_add(&t, &io[i], 0, true, pattern, PERIOD);
		t0 = now_ms();
		assert_int_equal(pcm(&t, R_START, 0), S_OK);
		while (got < 10) {
			struct io *d = io_wait(&t, 2, 1000, NULL);

			assert_non_null(d);
			assert_int_equal(get_le32(d->status), S_OK);
			/* never ahead of the clock */
			assert_true(now_ms() - t0 >= (got + 1) * 10 - 1);
			got++;
			if (got <= 6)
				io_add(&t, d, 0, true, pattern, PERIOD);
		}
		assert_true(now_ms() - t0 >= 99);
		assert_true(now_ms() - t0 < 2000);
		assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
		assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
		destroy(&t);
	}
}

static void test_capture_file(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_FILE, true, false, 0);
	struct io io[4];

	(void)state;
	fake_ns = 5000 * MS;
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	for (int i = 0; i < 4; i++)
		io_add(&t, &io[i], 1, false, NULL, PERIOD);
	assert_int_equal(pcm(&t, R_START, 1), S_OK);
	assert_null(io_wait(&t, 3, 30, NULL));
	fake_ns += 40 * MS;
	for (int i = 0; i < 4; i++) {
		uint32_t len;

		assert_ptr_equal(io_wait(&t, 3, 1000, &len), &io[i]);
		assert_int_equal(len, PERIOD + 8);
		assert_int_equal(get_le32(io[i].status), S_OK);
		if (i < 3) {
			assert_memory_equal(io[i].data, pattern + i * PERIOD,
					    PERIOD);
		} else {
			/* past the end of the input: silence */
			for (unsigned k = 0; k < PERIOD; k++)
				assert_int_equal(io[i].data[k], 0);
		}
	}
	assert_int_equal(pcm(&t, R_STOP, 1), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 1), S_OK);
	destroy(&t);
}

/* RELEASE is answered after every held buffer came back, and controls
 * are answered at once while I/O waits. */
static void test_release_after_io(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, true, false, 0);
	struct vdev_drv_mem *m = vdev_drv_get_mem(t.drv);
	struct vdev_drv_seg seg[2];
	struct io io[3];
	uint8_t *req, *resp, q[16];
	void *tok;
	uint32_t len;
	int64_t t0;

	(void)state;
	fake_ns = 1000 * MS;
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	for (int i = 0; i < 3; i++)
		io_add(&t, &io[i], 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	/* I/O is held (frozen clock); a query is answered at once. */
	put_le32(q, R_PCM_INFO);
	put_le32(q + 4, 0);
	put_le32(q + 8, 1);
	put_le32(q + 12, 32);
	t0 = now_ms();
	assert_int_equal(ctl(&t, q, 16, NULL, 36), S_OK);
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(vdev_drv_ring_inflight(vdev_drv_ring(t.drv, 2)), 3);

	req = vdev_drv_mem_alloc(m, 8, 4, &seg[0].gpa);
	resp = vdev_drv_mem_alloc(m, 4, 4, &seg[1].gpa);
	seg[0].len = 8;
	seg[1].len = 4;
	put_le32(req, R_RELEASE);
	put_le32(req + 4, 0);
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(t.drv, 0), seg, 1, 1,
					   resp, 0), 0);
	assert_int_equal(vdev_drv_kick(t.drv, 0), 0);
	assert_int_equal(vdev_drv_wait(t.drv, 0, 2000, &tok, &len), 0);
	assert_ptr_equal(tok, resp);
	assert_int_equal(get_le32(resp), S_OK);
	/* By the time RELEASE was answered, the I/O was back. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(t.drv, 2),
							&tok, &len), 0);
		assert_ptr_equal(tok, &io[i]);
	}
	assert_int_equal(vdev_drv_ring_inflight(vdev_drv_ring(t.drv, 2)), 0);
	destroy(&t);
}

static void test_io_bad(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, true, false, 0);
	struct vdev_drv_mem *m = vdev_drv_get_mem(t.drv);
	struct io io;
	uint32_t len;

	(void)state;
	/* before SET_PARAMS/PREPARE */
	io_add(&t, &io, 0, true, pattern, PERIOD);
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	/* bad stream id */
	io_add(&t, &io, 9, true, pattern, PERIOD);
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	/* the input stream on the tx queue */
	io_add(&t, &io, 1, true, pattern, PERIOD);
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	/* the output stream on the rx queue */
	io_add(&t, &io, 0, false, NULL, PERIOD);
	assert_ptr_equal(io_wait(&t, 3, 1000, &len), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	assert_int_equal(len, PERIOD + 8);
	/* not whole frames; more than the buffer */
	io_add(&t, &io, 0, true, pattern, 3);
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	io_add(&t, &io, 0, true, pattern, PERIOD * 5);
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_BAD_MSG);
	/* no header; no room for a status */
	{
		struct vdev_drv_seg seg[2];
		void *tok;

		assert_non_null(vdev_drv_mem_alloc(m, 8, 4, &seg[0].gpa));
		assert_non_null(vdev_drv_mem_alloc(m, 8, 4, &seg[1].gpa));
		seg[0].len = 2;
		seg[1].len = 8;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(t.drv, 2),
						   seg, 1, 1, seg, 0), 0);
		assert_int_equal(vdev_drv_kick(t.drv, 2), 0);
		assert_int_equal(vdev_drv_wait(t.drv, 2, 1000, &tok, &len), 0);
		assert_int_equal(len, 8);
		seg[0].len = 8;
		seg[1].len = 4;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(t.drv, 2),
						   seg, 1, 1, seg, 0), 0);
		assert_int_equal(vdev_drv_kick(t.drv, 2), 0);
		assert_int_equal(vdev_drv_wait(t.drv, 2, 1000, &tok, &len), 0);
		assert_int_equal(len, 0);
	}
	/* Still usable. */
	io_add(&t, &io, 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_OK);
	assert_int_equal(vdev_get_status(t.dev) &
				 VDEV_STATUS_DEVICE_NEEDS_RESET, 0);
	destroy(&t);
}

static void evt_add(struct t *t, uint8_t *ev[], int n)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(t->drv);

	for (int i = 0; i < n; i++) {
		struct vdev_drv_seg seg;

		ev[i] = vdev_drv_mem_alloc(m, 8, 4, &seg.gpa);
		seg.len = 8;
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(t->drv, 1),
						   &seg, 0, 1, ev[i], 0), 0);
	}
	assert_int_equal(vdev_drv_kick(t->drv, 1), 0);
}

static void test_events(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, true, false, 2);
	uint8_t *ev[4];
	struct io io;
	void *tok;
	uint32_t len;

	(void)state;
	evt_add(&t, ev, 4);
	/* jacks */
	assert_int_equal(vdev_sound_set_jack(t.dev, 1, false), 0);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(get_le32(tok), EVT_JACK_DISCONNECTED);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 1);
	assert_int_equal(vdev_sound_set_jack(t.dev, 2, true), -EINVAL);
	assert_int_equal(vdev_sound_set_jack(t.dev, 1, true), 0);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(get_le32(tok), EVT_JACK_CONNECTED);
	/* an underrun: one period played, then nothing for a period */
	fake_ns = 100 * MS;
	assert_int_equal(std_params(&t, 0, 1u << 4), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io, 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 30, &tok, &len), -ETIMEDOUT);
	fake_ns += 10 * MS + 1;
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(get_le32(tok), EVT_XRUN);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 0);
	/* once per underrun */
	fake_ns += 50 * MS;
	assert_int_equal(vdev_drv_wait(t.drv, 1, 30, &tok, &len), -ETIMEDOUT);
	/* the next buffer plays from now on, a full period */
	io_add(&t, &io, 0, true, pattern, PERIOD);
	assert_null(io_wait(&t, 2, 30, NULL));
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	destroy(&t);
}

/*
 * PCM_PERIOD_ELAPSED for a stream that negotiated EVT_SHMEM_PERIODS: one
 * per period, when the period has elapsed on the stream's clock (never
 * before); not queued twice while the driver gives no eventq buffer (the
 * periods in between are counted); none without the feature; a buffer of
 * two periods tells two.
 */
static void test_period_events(void **state)
{
	struct t t = make(VDEV_SOUND_BACKEND_NULL, true, false, 0);
	struct vdev_sound_stats st;
	uint8_t *ev[4];
	struct io io[8];
	void *tok;
	uint32_t len;

	(void)state;
	fake_ns = 100 * MS;
	evt_add(&t, ev, 1);
	assert_int_equal(std_params(&t, 0, 1u << 3), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io[0], 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS - 1;
	assert_int_equal(vdev_drv_wait(t.drv, 1, 30, &tok, &len), -ETIMEDOUT);
	fake_ns += 1;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[0]);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(len, 8);
	assert_int_equal(get_le32(tok), EVT_PERIOD);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 0);
	/* eight periods with no eventq buffer: one event waits, seven more
	 * periods are counted in it */
	for (int i = 0; i < 8; i++)
		io_add(&t, &io[i], 0, true, pattern, PERIOD);
	/* held (placed on the clock) before it moves */
	assert_null(io_wait(&t, 2, 30, NULL));
	fake_ns += 80 * MS;
	for (int i = 0; i < 8; i++)
		assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[i]);
	evt_add(&t, ev, 4);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(get_le32(tok), EVT_PERIOD);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 30, &tok, &len), -ETIMEDOUT);
	assert_int_equal(vdev_sound_get_stats(t.dev, &st), 0);
	assert_int_equal(st.periods_elapsed, 2);
	assert_int_equal(st.periods_coalesced, 7);
	assert_int_equal(st.events, 2);
	assert_int_equal(st.events_dropped, 0);
	/* a buffer of two periods: two boundaries crossed at its
	 * completion, one event that tells both */
	{
		static uint8_t two[2 * PERIOD];

		io_add(&t, &io[0], 0, true, two, 2 * PERIOD);
		assert_null(io_wait(&t, 2, 30, NULL));
		fake_ns += 20 * MS;
		assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[0]);
		assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
		assert_int_equal(get_le32(tok), EVT_PERIOD);
		assert_int_equal(vdev_sound_get_stats(t.dev, &st), 0);
		assert_int_equal(st.periods_elapsed + st.periods_coalesced, 11);
	}
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	/* without the feature: the completions alone */
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io[0], 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io[0]);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 30, &tok, &len), -ETIMEDOUT);
	/* bits the device does not offer are refused */
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	assert_int_equal(std_params(&t, 0, 1u << 2), S_NOT_SUPP);
	assert_int_equal(std_params(&t, 0, 1u << 0), S_NOT_SUPP);
	assert_int_equal(vdev_sound_get_stats(NULL, &st), -EINVAL);
	destroy(&t);
}

static int ctl_write(struct t *t, uint32_t id, const uint32_t *v, unsigned n)
{
	uint8_t req[8 + 512] = { 0 };

	put_le32(req, R_CTL_WRITE);
	put_le32(req + 4, id);
	for (unsigned i = 0; i < n; i++)
		put_le32(req + 8 + 4 * i, v[i]);
	return ctl(t, req, sizeof(req), NULL, 4);
}

static int ctl_id(struct t *t, uint32_t code, uint32_t id, uint8_t *r,
		  size_t rlen)
{
	uint8_t req[8];

	put_le32(req, code);
	put_le32(req + 4, id);
	return ctl(t, req, sizeof(req), r, rlen);
}

/* A running stream is saved and restored into a fresh device: its
 * parameters and state come back and it plays on. */
static void test_save_restore(void **state)
{
	struct t t, t2;
	struct vdev_queue_state st;
	struct io io;
	void *blob;
	size_t len;

	(void)state;
	with_controls = true;
	t = make(VDEV_SOUND_BACKEND_NULL, true, false, 1);
	fake_ns = 100 * MS;
	assert_int_equal(ctl_write(&t, 2, (uint32_t[]){ 40, 60 }, 2), S_OK);
	assert_int_equal(set_params(&t, 0, 800, 400, 0, 1, VDEV_SND_FMT_U8,
				    VDEV_SND_RATE_8000), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(vdev_sound_set_jack(t.dev, 0, false), 0);
	for (unsigned q = 0; q < 4; q++)
		assert_int_equal(vdev_vq_stop(t.dev, q, &st), 0);
	assert_int_equal(vdev_save(t.dev, &blob, &len), 0);

	t2 = make(VDEV_SOUND_BACKEND_NULL, true, false, 1);
	with_controls = false;
	assert_int_equal(vdev_restore(t2.dev, blob, len), 0);
	/* A restore into a device with other streams is refused (its own
	 * driver's RAM has the same layout, so only the model refuses). */
	{
		struct vdev_sound_stream one = { .direction = 0 };
		struct vdev_sound_config c = { .num_streams = 1,
					       .streams = &one,
					       .controls = true };
		struct vdev_drv_config dc = { .use_eventfds = true,
					      .queue_size = 64 };
		struct t t3;

		t3.dev = vdev_sound_new(&c);
		assert_non_null(t3.dev);
		t3.drv = vdev_drv_new(t3.dev, &dc);
		assert_non_null(t3.drv);
		assert_int_equal(vdev_drv_init(t3.drv), 0);
		assert_int_equal(vdev_restore(t3.dev, blob, len), -EBADMSG);
		destroy(&t3);
	}
	free(blob);
	destroy(&t2);

	/* In place: restore into the same device under the same driver. */
	assert_int_equal(vdev_save(t.dev, &blob, &len), 0);
	assert_int_equal(vdev_restore(t.dev, blob, len), 0);
	free(blob);
	/* stream 0 runs on: START is out of order, I/O plays at 8 kHz */
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	io_add(&t, &io, 0, true, pattern, 400);
	assert_null(io_wait(&t, 2, 30, NULL));
	fake_ns += 50 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(get_le32(io.status), S_OK);
	/* stream 1 kept its parameters: PREPARE is in order */
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	{
		uint8_t q[16], r[28];

		put_le32(q, R_JACK_INFO);
		put_le32(q + 4, 0);
		put_le32(q + 8, 1);
		put_le32(q + 12, 24);
		assert_int_equal(ctl(&t, q, 16, r, 28), S_OK);
		assert_int_equal(r[4 + 16], 0); /* still unplugged */
	}
	{
		uint8_t r[4 + 512];

		/* the capture volume came back */
		assert_int_equal(ctl_id(&t, R_CTL_READ, 2, r, sizeof(r)), S_OK);
		assert_int_equal(get_le32(r + 4), 40);
		assert_int_equal(get_le32(r + 8), 60);
	}
	destroy(&t);
}

/* CTLS: the controls as the driver sees them, their effect on the frames
 * (S16 and U8 at 50 %, a switch off), bad requests, host-side changes
 * notified, and no controls without the feature. */
static void test_controls(void **state)
{
	struct t t;
	uint8_t cfg[16], q[16], r[4 + 512], got[PERIOD * 2];
	struct io io;
	size_t n;
	void *tok;
	uint32_t len;

	(void)state;
	with_controls = false;
	t = make(VDEV_SOUND_BACKEND_NULL, true, false, 0);
	assert_int_equal(vdev_drv_device_features(t.drv) & 1, 0);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, NULL, 4 + 512), S_NOT_SUPP);
	put_le32(q, R_CTL_INFO);
	put_le32(q + 4, 0);
	put_le32(q + 8, 1);
	put_le32(q + 12, 96);
	assert_int_equal(ctl(&t, q, 16, NULL, 100), S_NOT_SUPP);
	destroy(&t);

	/* the ALSA backend whose card has no control device: software */
	if (vdev_has_capability(VDEV_CAP_BACKEND, "alsa")) {
		alsa_pcm = "hw:vdevnosuchcard,0";
		with_controls = true;
		t = make(VDEV_SOUND_BACKEND_ALSA, true, false, 0);
		alsa_pcm = NULL;
		assert_int_equal(vdev_sound_set_mixer(t.dev, NULL, "Master",
						      NULL), 0);
		assert_int_equal(ctl(&t, q, 16, r, 4 + 96), S_OK);
		assert_int_equal(get_le32(r + 4 + 76), 100); /* software */
		assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 50, 50 }, 2),
				 S_OK);
		assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
		assert_int_equal(get_le32(r + 4), 50);
		destroy(&t);
	}
	with_controls = true;
	t = make(VDEV_SOUND_BACKEND_FILE, true, false, 0);
	with_controls = false;
	/* no ALSA mixer for another backend */
	assert_int_equal(vdev_sound_set_mixer(t.dev, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(vdev_sound_set_mixer(NULL, NULL, NULL, NULL),
			 -EINVAL);
	assert_int_equal(vdev_drv_features(t.drv) & 1, 1);
	assert_int_equal(vdev_drv_config_read(t.drv, 0, cfg, 16), 0);
	assert_int_equal(get_le32(cfg + 12), 4);
	put_le32(q + 8, 4);
	assert_int_equal(ctl(&t, q, 16, r, sizeof(r)), S_OK);
	assert_string_equal((char *)r + 4 + 24, "PCM Playback Volume");
	assert_int_equal(get_le32(r + 4 + 4), 1);        /* role volume */
	assert_int_equal(get_le32(r + 4 + 8), 1);        /* integer */
	assert_int_equal(get_le32(r + 4 + 16), 2);       /* count */
	assert_int_equal(get_le32(r + 4 + 76), 100);     /* max */
	assert_string_equal((char *)r + 100 + 24, "PCM Playback Switch");
	assert_int_equal(get_le32(r + 100 + 8), 0);      /* boolean */
	assert_string_equal((char *)r + 196 + 24, "Capture Volume");
	assert_string_equal((char *)r + 292 + 24, "Capture Switch");
	/* defaults */
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 100);
	assert_int_equal(get_le32(r + 8), 100);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 1, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 1);
	/* TLV of a volume: dB linear, mute to 0 dB */
	assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 0, r, 4 + 64), S_OK);
	assert_int_equal(get_le32(r + 4), 2);
	assert_int_equal(get_le32(r + 12), (uint32_t)-9999999);
	/* bad ones */
	assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 1, r, 4 + 64), S_BAD_MSG);
	assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 0, r, 4 + 8), S_BAD_MSG);
	assert_int_equal(ctl_id(&t, R_CTL_TLV_WRITE, 0, r, 4), S_NOT_SUPP);
	assert_int_equal(ctl_id(&t, R_CTL_TLV_COMMAND, 0, r, 4), S_NOT_SUPP);
	assert_int_equal(ctl_id(&t, R_CTL_ENUM_ITEMS, 0, r, 4 + 64),
			 S_BAD_MSG);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 4, r, 4 + 512), S_BAD_MSG);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 4), S_BAD_MSG);
	assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 101, 3 }, 2),
			 S_BAD_MSG);
	assert_int_equal(ctl_write(&t, 1, (uint32_t[]){ 2, 0 }, 2), S_BAD_MSG);
	{
		uint8_t req[10] = { 0 };

		put_le32(req, R_CTL_WRITE);
		assert_int_equal(ctl(&t, req, 10, NULL, 4), S_BAD_MSG);
	}
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 100); /* unchanged */

	/* 50 %: S16 samples halved (toward zero) */
	assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 50, 50 }, 2), S_OK);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 50);
	fake_ns = 1000 * MS;
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io, 0, true, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	/* the guest's buffer is not touched */
	assert_memory_equal(io.data, pattern, PERIOD);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, PERIOD);
	for (unsigned i = 0; i < PERIOD; i += 2) {
		int16_t in = (int16_t)(pattern[i] | pattern[i + 1] << 8);
		int16_t o = (int16_t)(got[i] | got[i + 1] << 8);

		assert_int_equal(o, in * 50 / 100);
	}
	/* U8 mono 8 kHz at 50 %: around 128 */
	assert_int_equal(set_params(&t, 0, 800, 400, 0, 1, VDEV_SND_FMT_U8,
				    VDEV_SND_RATE_8000), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io, 0, true, pattern, 400);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	fake_ns += 50 * MS;
	assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, 400);
	for (unsigned i = 0; i < 400; i++)
		assert_int_equal(got[i], (pattern[i] - 128) * 50 / 100 + 128);
	/* switch off: silence; the capture side too */
	assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 100, 100 }, 2), S_OK);
	assert_int_equal(ctl_write(&t, 1, (uint32_t[]){ 0, 1 }, 2), S_OK);
	assert_int_equal(ctl_write(&t, 3, (uint32_t[]){ 0, 0 }, 2), S_OK);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	io_add(&t, &io, 0, true, pattern, PERIOD);
	{
		struct io rio;

		io_add(&t, &rio, 1, false, NULL, PERIOD);
		memset(rio.data, 0x55, PERIOD);
		assert_int_equal(pcm(&t, R_START, 0), S_OK);
		assert_int_equal(pcm(&t, R_START, 1), S_OK);
		fake_ns += 10 * MS;
		assert_ptr_equal(io_wait(&t, 2, 1000, NULL), &io);
		assert_ptr_equal(io_wait(&t, 3, 1000, NULL), &rio);
		for (unsigned i = 0; i < PERIOD; i++)
			assert_int_equal(rio.data[i], 0);
	}
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, PERIOD);
	for (unsigned i = 0; i < PERIOD; i += 4) {
		/* left muted, right passes */
		assert_int_equal(got[i], 0);
		assert_int_equal(got[i + 1], 0);
		assert_int_equal(got[i + 2], pattern[i + 2]);
		assert_int_equal(got[i + 3], pattern[i + 3]);
	}
	/* host-side change: the driver is told */
	evt_add(&t, (uint8_t *[2]){ NULL, NULL }, 2);
	assert_int_equal(vdev_sound_set_volume(t.dev, 1, 30, true), 0);
	assert_int_equal(vdev_sound_set_volume(t.dev, 2, 30, true), -EINVAL);
	assert_int_equal(vdev_sound_set_volume(t.dev, 1, 101, true), -EINVAL);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(get_le32(tok), EVT_CTL_NOTIFY);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 2 | 1u << 16);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 1000, &tok, &len), 0);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 3 | 1u << 16);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 2, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 30);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 3, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 0);
	destroy(&t);
}

/* Plays @n bytes of @in as mono 8 kHz @fmt through the file backend
 * (volume control 0 at @pct) and returns what reached the file. */
static void play_mono(struct t *t, uint8_t fmt, unsigned pct,
		      const uint8_t *in, uint8_t *got, size_t n)
{
	struct io io;
	size_t len;

	assert_int_equal(ctl_write(t, 0, (uint32_t[]){ pct, pct }, 2), S_OK);
	assert_int_equal(set_params(t, 0, 2 * (uint32_t)n, (uint32_t)n, 0, 1,
				    fmt, VDEV_SND_RATE_8000), S_OK);
	assert_int_equal(pcm(t, R_PREPARE, 0), S_OK);
	io_add(t, &io, 0, true, in, (uint32_t)n);
	assert_int_equal(pcm(t, R_START, 0), S_OK);
	fake_ns += 10 * MS;
	assert_ptr_equal(io_wait(t, 2, 1000, NULL), &io);
	assert_int_equal(pcm(t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(t, R_RELEASE, 0), S_OK);
	read_file(out_path, got, n, &len);
	assert_int_equal(len, n);
}

/* Volume on mu-law and A-law: expanded, scaled (toward zero) and
 * compressed again; the expected bytes are G.711's (computed with
 * Python's audioop, the classic Sun tables). 100 % is bit-exact, 0 % is
 * the format's silence; capture goes through the same. */
static void test_controls_companded(void **state)
{
	static const uint8_t mu_in[8] = { 0x00, 0x80, 0x7f, 0xff,
					  0x10, 0x9a, 0x45, 0xc3 };
	static const uint8_t mu_50[8] = { 0x10, 0x90, 0xff, 0xff,
					  0x20, 0xaa, 0x53, 0xd1 };
	static const uint8_t mu_25[8] = { 0x20, 0xa0, 0xff, 0xff,
					  0x2f, 0xb9, 0x5f, 0xde };
	static const uint8_t a_in[8] = { 0x55, 0xd5, 0x2a, 0xaa,
					 0x00, 0x80, 0x13, 0xe7 };
	static const uint8_t a_50[8] = { 0x55, 0xd5, 0x3a, 0xba,
					 0x10, 0x90, 0x63, 0xf7 };
	static const uint8_t a_25[8] = { 0x55, 0xd5, 0x0a, 0x8a,
					 0x60, 0xe0, 0x73, 0xc7 };
	/* pattern[0..39] captured as A-law at 25 % */
	static const uint8_t cap_25[40] = {
		0x60, 0x67, 0x6e, 0x75, 0x7c, 0x03, 0x0a, 0x11, 0x18, 0x1f,
		0x51, 0x53, 0x55, 0x56, 0x42, 0x49, 0x5f, 0x5c, 0x58, 0xe5,
		0xec, 0xf3, 0xfa, 0x81, 0x88, 0x8f, 0x96, 0x9d, 0xd1, 0xd2,
		0xd4, 0xd6, 0xc0, 0xc7, 0xce, 0xdd, 0xd9, 0x63, 0x6a, 0x71,
	};
	uint8_t got[8], silence[8];
	struct t t;

	(void)state;
	with_controls = true;
	t = make(VDEV_SOUND_BACKEND_FILE, true, false, 0);
	with_controls = false;
	fake_ns = 1000 * MS;
	play_mono(&t, VDEV_SND_FMT_MU_LAW, 50, mu_in, got, 8);
	assert_memory_equal(got, mu_50, 8);
	play_mono(&t, VDEV_SND_FMT_MU_LAW, 25, mu_in, got, 8);
	assert_memory_equal(got, mu_25, 8);
	play_mono(&t, VDEV_SND_FMT_MU_LAW, 100, mu_in, got, 8);
	assert_memory_equal(got, mu_in, 8);
	play_mono(&t, VDEV_SND_FMT_MU_LAW, 0, mu_in, got, 8);
	memset(silence, 0xff, 8);
	assert_memory_equal(got, silence, 8);
	play_mono(&t, VDEV_SND_FMT_A_LAW, 50, a_in, got, 8);
	assert_memory_equal(got, a_50, 8);
	play_mono(&t, VDEV_SND_FMT_A_LAW, 25, a_in, got, 8);
	assert_memory_equal(got, a_25, 8);
	play_mono(&t, VDEV_SND_FMT_A_LAW, 100, a_in, got, 8);
	assert_memory_equal(got, a_in, 8);
	play_mono(&t, VDEV_SND_FMT_A_LAW, 0, a_in, got, 8);
	memset(silence, 0xd5, 8);
	assert_memory_equal(got, silence, 8);
	/* the switch off is silence too, whatever the volume */
	assert_int_equal(ctl_write(&t, 1, (uint32_t[]){ 0, 0 }, 2), S_OK);
	play_mono(&t, VDEV_SND_FMT_MU_LAW, 100, mu_in, got, 8);
	memset(silence, 0xff, 8);
	assert_memory_equal(got, silence, 8);
	/* capture: the input file's bytes, scaled */
	{
		struct io rio;

		assert_int_equal(ctl_write(&t, 2, (uint32_t[]){ 25, 25 }, 2),
				 S_OK);
		assert_int_equal(set_params(&t, 1, 80, 40, 0, 1,
					    VDEV_SND_FMT_A_LAW,
					    VDEV_SND_RATE_8000), S_OK);
		assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
		io_add(&t, &rio, 1, false, NULL, 40);
		assert_int_equal(pcm(&t, R_START, 1), S_OK);
		fake_ns += 10 * MS;
		assert_ptr_equal(io_wait(&t, 3, 1000, NULL), &rio);
		assert_int_equal(get_le32(rio.status), S_OK);
		assert_memory_equal(rio.data, cap_25, 40);
		assert_int_equal(pcm(&t, R_STOP, 1), S_OK);
		assert_int_equal(pcm(&t, R_RELEASE, 1), S_OK);
	}
	destroy(&t);
}

static void test_new_errors(void **state)
{
	struct vdev_sound_stream bad = { .direction = 2 };
	struct vdev_sound_stream many = { .direction = 0,
					  .channels_max = 19 };
	struct vdev_sound_config c = { .num_streams = 1, .streams = &bad };

	(void)state;
	errno = 0;
	assert_null(vdev_sound_new(&c));
	assert_int_equal(errno, EINVAL);
	c.streams = &many;
	assert_null(vdev_sound_new(&c));
	c.num_streams = VDEV_SOUND_MAX_STREAMS + 1;
	assert_null(vdev_sound_new(&c));
	c = (struct vdev_sound_config){ .backend = VDEV_SOUND_BACKEND_FILE };
	assert_null(vdev_sound_new(&c));
	assert_int_equal(errno, EINVAL);
	c = (struct vdev_sound_config){ .num_jacks = 33 };
	assert_null(vdev_sound_new(&c));
}

/*
 * The ALSA backend against real alsa-lib PCMs without sound hardware: the
 * "file" plugin over a null slave, from an asoundrc of the test's own
 * (ALSA_CONFIG_PATH). Playback: the WAV the plugin writes has the
 * stream's format, rate and channels and the frames byte for byte;
 * capture: the plugin's input file comes back. Paced by the device's
 * clock (the plugin takes everything at once).
 */
static void test_alsa_file(void **state)
{
	char conf[64], wav[64];
	struct t t;
	struct io io[4];
	uint8_t got[PERIOD * 12];
	size_t n;
	int fd;
	FILE *f;

	(void)state;
	if (!vdev_has_capability(VDEV_CAP_BACKEND, "alsa")) {
		print_message("libvdev built without alsa-lib: skipped\n");
		skip();
	}
	snprintf(conf, sizeof(conf), "/tmp/vdev-snd-asoundrc-XXXXXX");
	snprintf(wav, sizeof(wav), "/tmp/vdev-snd-alsa-%d.wav", (int)getpid());
	fd = mkstemp(conf);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "pcm.vdevout { type file slave.pcm { type null } "
		   "file \"%s\" format \"wav\" }\n"
		   "pcm.vdevin { type file slave.pcm { type null } "
		   "file \"/dev/null\" infile \"%s\" format \"raw\" }\n",
		wav, in_path);
	fclose(f);
	setenv("ALSA_CONFIG_PATH", conf, 1);

	/* Playback, S16 stereo 48 kHz. */
	alsa_pcm = "vdevout";
	t = make(VDEV_SOUND_BACKEND_ALSA, false, false, 0);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	play_periods(&t, 8);
	read_file(wav, got, sizeof(got), &n);
	assert_int_equal(n, 44 + 8 * PERIOD);
	assert_memory_equal(got, "RIFF", 4);
	assert_int_equal(got[22], 2);                 /* channels */
	assert_int_equal(get_le32(got + 24), 48000);     /* rate */
	assert_int_equal(got[34], 16);                /* bits */
	assert_memory_equal(got + 44, pattern, 8 * PERIOD);

	/* Another format through the same PCM: U8 mono 8 kHz. */
	assert_int_equal(set_params(&t, 0, 800, 400, 0, 1, VDEV_SND_FMT_U8,
				    VDEV_SND_RATE_8000), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	io_add(&t, &io[0], 0, true, pattern, 400);
	assert_int_equal(pcm(&t, R_START, 0), S_OK);
	assert_ptr_equal(io_wait(&t, 2, 2000, NULL), &io[0]);
	assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
	read_file(wav, got, sizeof(got), &n);
	assert_int_equal(n, 44 + 400);
	assert_int_equal(got[22], 1);
	assert_int_equal(get_le32(got + 24), 8000);
	assert_int_equal(got[34], 8);
	assert_memory_equal(got + 44, pattern, 400);
	destroy(&t);

	/* Capture: the plugin's input file comes back. */
	alsa_pcm = "vdevin";
	t = make(VDEV_SOUND_BACKEND_ALSA, false, false, 0);
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	for (int i = 0; i < 3; i++)
		io_add(&t, &io[i], 1, false, NULL, PERIOD);
	assert_int_equal(pcm(&t, R_START, 1), S_OK);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(io_wait(&t, 3, 2000, NULL), &io[i]);
		assert_int_equal(get_le32(io[i].status), S_OK);
		assert_memory_equal(io[i].data, pattern + i * PERIOD, PERIOD);
	}
	assert_int_equal(pcm(&t, R_STOP, 1), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 1), S_OK);
	destroy(&t);

	/* The daemon's ALSA backend, inside its sandbox (the child gets
	 * ALSA_CONFIG_PATH from us). */
	if (vdev_has_capability(VDEV_CAP_BACKEND, "alsa")) {
		const char *b = getenv("VDEV_BUILD_DIR");

		snprintf(daemon_path, sizeof(daemon_path),
			 "%s/daemons/snd/vdev-snd", b ? b : ".");
	}
	if (getenv("VDEV_BUILD_DIR") && access(daemon_path, X_OK) == 0) {
		char sock[64];
		struct tspawn ts;

		snprintf(sock, sizeof(sock), "/tmp/vdev-snd-a-%d.sock",
			 (int)getpid());
		t = make_daemon(&ts, sock, (const char *[]){
			"--socket", sock, "--backend", "alsa", "--device",
			"vdevout", NULL });
		assert_int_equal(std_params(&t, 0, 0), S_OK);
		assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
		play_periods(&t, 4);
		vdev_drv_free(t.drv);
		assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
		read_file(wav, got, sizeof(got), &n);
		assert_int_equal(n, 44 + 4 * PERIOD);
		assert_memory_equal(got + 44, pattern, 4 * PERIOD);
	} else {
		print_message("vdev-snd not built: its ALSA backend not "
			      "run as a daemon\n");
	}

	/* A PCM that does not exist: PREPARE says IO_ERR, nothing else
	 * breaks. */
	alsa_pcm = "vdevnosuch";
	t = make(VDEV_SOUND_BACKEND_ALSA, false, false, 0);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_IO_ERR);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_BAD_MSG);
	destroy(&t);
	alsa_pcm = NULL;
	unsetenv("ALSA_CONFIG_PATH");
	unlink(conf);
	unlink(wav);
}

/*
 * The ALSA backend against a kernel sound driver: snd-aloop. One device
 * plays a random pattern into hw:Loopback,0,0 while another captures
 * hw:Loopback,1,0 (what the first plays, as the kernel's loopback card
 * copies it); the capture holds silence, the pattern byte for byte, then
 * silence again (the player goes on with silence until both stop). Runs
 * wherever the loopback card exists (/proc/asound/Loopback): the host's
 * snd-aloop, or User-Mode Linux's built-in one (tests/guest/tests/snd.sh
 * runs this test there).
 *
 * Nothing is left to timing: the pattern is played only once the capture
 * delivered its first period (the loopback copies only to a running
 * capture), and where it starts is searched for, not assumed. Both
 * streams negotiate EVT_XRUNS, and an xrun (an ALSA underrun or overrun,
 * or a device queue left without buffers for a period, as a loaded
 * machine causes) is told by the devices' xrun counters and events: a
 * transfer with one is reported and run again (at most ALOOP_TRIES
 * times), never taken as a pass; data that differs without one fails.
 */
#define ALOOP_PERIODS 30
#define ALOOP_CAPTURE (ALOOP_PERIODS + 20)
#define ALOOP_TRIES 8

/* The xruns of one device: its counter, and the XRUN events on its
 * eventq (what a driver sees), which must tell the same (16 eventq
 * buffers: beyond that many, the device keeps the newest). */
static unsigned aloop_xruns(struct t *t)
{
	struct vdev_sound_stats st;
	uint64_t evts = 0;
	void *tok;
	uint32_t len;

	assert_int_equal(vdev_sound_get_stats(t->dev, &st), 0);
	while (vdev_drv_wait(t->drv, 1, evts < st.xruns ? 1000 : 0, &tok,
			     &len) == 0)
		if (len == 8 && get_le32(tok) == EVT_XRUN)
			evts++;
	assert_int_equal(evts, st.xruns < 16 ? st.xruns : 16);
	return (unsigned)st.xruns;
}

/* One transfer on new devices: the periods captured in @cap (*@got of
 * them); returns the xruns either device counted (then @cap is not to be
 * trusted). */
static unsigned aloop_once(const uint8_t *pat, uint8_t *cap, unsigned *got)
{
	static const uint8_t zero[PERIOD];
	struct vdev_sound_stream out = { .direction = VDEV_SND_D_OUTPUT };
	struct vdev_sound_stream in = { .direction = VDEV_SND_D_INPUT };
	struct vdev_sound_config po = { .backend = VDEV_SOUND_BACKEND_ALSA,
					.alsa_device = "hw:Loopback,0,0",
					.num_streams = 1, .streams = &out };
	struct vdev_sound_config pi = { .backend = VDEV_SOUND_BACKEND_ALSA,
					.alsa_device = "hw:Loopback,1,0",
					.num_streams = 1, .streams = &in };
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	uint8_t *pev[16], *cev[16];
	struct t p, c;
	struct io pio[4], cio[4], *d;
	unsigned sent = 0, played = 0, xp, xc;
	uint32_t len;
	int64_t t0;

	*got = 0;
	p.dev = vdev_sound_new(&po);
	c.dev = vdev_sound_new(&pi);
	assert_non_null(p.dev);
	assert_non_null(c.dev);
	p.drv = vdev_drv_new(p.dev, &dc);
	c.drv = vdev_drv_new(c.dev, &dc);
	assert_int_equal(vdev_drv_init(p.drv), 0);
	assert_int_equal(vdev_drv_init(c.drv), 0);
	evt_add(&p, pev, 16);
	evt_add(&c, cev, 16);
	assert_int_equal(std_params(&p, 0, 1u << 4), S_OK); /* EVT_XRUNS */
	assert_int_equal(std_params(&c, 0, 1u << 4), S_OK);
	assert_int_equal(pcm(&c, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&p, R_PREPARE, 0), S_OK);
	/* The capture runs before anything plays: its first period came
	 * from the running PCM, and nothing played into it yet. */
	for (int i = 0; i < 4; i++)
		io_add(&c, &cio[i], 0, false, NULL, PERIOD);
	assert_int_equal(pcm(&c, R_START, 0), S_OK);
	d = io_wait(&c, 3, 5000, &len);
	assert_non_null(d);
	assert_int_equal(get_le32(d->status), S_OK);
	assert_int_equal(len, PERIOD + 8);
	memcpy(cap, d->data, PERIOD);
	(*got)++;
	io_add(&c, d, 0, false, NULL, PERIOD);
	for (; sent < 4; sent++)
		io_add(&p, &pio[sent], 0, true, pat + sent * PERIOD, PERIOD);
	t0 = now_ms();
	assert_int_equal(pcm(&p, R_START, 0), S_OK);
	while (*got < ALOOP_CAPTURE && now_ms() - t0 < 10000) {
		/* Two drivers, two loops: run the player's without
		 * blocking, then wait on the recorder's. The player never
		 * runs dry: silence follows the pattern until the stop. */
		vdev_drv_poll(p.drv, 0);
		if ((d = io_wait(&p, 2, 0, NULL)) != NULL) {
			assert_int_equal(get_le32(d->status), S_OK);
			played++;
			io_add(&p, d, 0, true,
			       sent < ALOOP_PERIODS ? pat + sent * PERIOD :
						      zero,
			       PERIOD);
			sent++;
		}
		d = io_wait(&c, 3, 5, &len);
		if (!d)
			continue;
		assert_int_equal(get_le32(d->status), S_OK);
		assert_int_equal(len, PERIOD + 8);
		memcpy(cap + (size_t)*got * PERIOD, d->data, PERIOD);
		(*got)++;
		io_add(&c, d, 0, false, NULL, PERIOD);
	}
	assert_true(played >= ALOOP_PERIODS);
	/* The loopback ran in real time too. */
	assert_true(now_ms() - t0 >= ALOOP_PERIODS * 10 - 10);
	assert_int_equal(pcm(&p, R_STOP, 0), S_OK);
	assert_int_equal(pcm(&c, R_STOP, 0), S_OK);
	xp = aloop_xruns(&p);
	xc = aloop_xruns(&c);
	assert_int_equal(pcm(&p, R_RELEASE, 0), S_OK);
	assert_int_equal(pcm(&c, R_RELEASE, 0), S_OK);
	destroy(&p);
	destroy(&c);
	if (xp + xc)
		print_message("aloop: xruns: playback %u, capture %u (each "
			      "also an XRUN event), %u periods captured\n",
			      xp, xc, *got);
	return xp + xc;
}

static void test_alsa_aloop(void **state)
{
	static uint8_t pat[PERIOD * ALOOP_PERIODS];
	static uint8_t cap[PERIOD * ALOOP_CAPTURE];
	size_t start = SIZE_MAX, n, lost = 0;
	unsigned got = 0, tries = 0, xruns = 0;

	(void)state;
	if (!vdev_has_capability(VDEV_CAP_BACKEND, "alsa")) {
		print_message("libvdev built without alsa-lib: skipped\n");
		skip();
	}
	if (access("/proc/asound/Loopback", F_OK) != 0) {
		print_message("no ALSA loopback card here (/proc/asound/Loopback:"
			      " %s; modprobe snd-aloop as root where the kernel"
			      " has the module): skipped\n",
			      access("/proc/asound", F_OK) ?
				      "the kernel has no ALSA at all" :
				      "no snd-aloop");
		skip();
	}
	srand(77);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = (uint8_t)(rand() | 1); /* never silence */
	do {
		tries++;
		xruns = aloop_once(pat, cap, &got);
		if (xruns)
			print_message("aloop: attempt %u of %u had %u xruns: "
				      "its data is not checked, the transfer "
				      "runs again\n", tries, ALOOP_TRIES,
				      xruns);
	} while (xruns && tries < ALOOP_TRIES);
	if (xruns)
		fail_msg("aloop: xruns in every one of %u transfers (the "
			 "machine too loaded to stream 10 ms periods?)",
			 ALOOP_TRIES);
	n = (size_t)got * PERIOD;
	for (size_t i = 0; i < n; i++)
		if (cap[i]) {
			start = i;
			break;
		}
	/* A capture that starts inside the pattern lost its beginning:
	 * say how much (its first frames, found in the pattern). */
	if (start != SIZE_MAX && start + 16 <= n &&
	    memcmp(cap + start, pat, 16) != 0) {
		for (lost = 4; lost + 16 <= sizeof(pat); lost += 4)
			if (memcmp(cap + start, pat + lost, 16) == 0)
				break;
		if (lost + 16 > sizeof(pat))
			print_message("aloop: the capture's first frames "
				      "are nowhere in the pattern\n");
		else
			print_message("aloop: the capture starts %zu bytes "
				      "into the pattern, without an xrun\n",
				      lost);
	}
	print_message("aloop: %u periods captured, the pattern from byte "
		      "%zu (transfer %u of at most %u: %u run again after "
		      "xruns)\n", got, start, tries, ALOOP_TRIES, tries - 1);
	assert_true(start != SIZE_MAX);
	assert_true(start >= PERIOD); /* the first period was silence */
	assert_true(start % 4 == 0); /* whole frames */
	assert_true(start + sizeof(pat) <= n);
	assert_memory_equal(cap + start, pat, sizeof(pat));
	/* and only silence behind it */
	for (size_t i = start + sizeof(pat); i < n; i++)
		if (cap[i])
			fail_msg("aloop: byte %zu after the pattern is %#x, "
				 "not silence", i - start - sizeof(pat),
				 cap[i]);
}

#if VDEV_WITH_ALSA_FOUND
/* The test's own view of the card's elements (as amixer would be). */
static snd_ctl_t *mix_ctl;

static void mix_id(snd_ctl_elem_id_t *id, const char *name)
{
	snd_ctl_elem_id_clear(id);
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, name);
}

static void mix_get(const char *name, long *v, unsigned n)
{
	snd_ctl_elem_id_t *id;
	snd_ctl_elem_value_t *val;

	snd_ctl_elem_id_alloca(&id);
	snd_ctl_elem_value_alloca(&val);
	mix_id(id, name);
	snd_ctl_elem_value_set_id(val, id);
	assert_int_equal(snd_ctl_elem_read(mix_ctl, val), 0);
	for (unsigned i = 0; i < n; i++)
		v[i] = snd_ctl_elem_value_get_integer(val, i);
}

static void mix_set(const char *name, const long *v, unsigned n)
{
	snd_ctl_elem_id_t *id;
	snd_ctl_elem_value_t *val;

	snd_ctl_elem_id_alloca(&id);
	snd_ctl_elem_value_alloca(&val);
	mix_id(id, name);
	snd_ctl_elem_value_set_id(val, id);
	for (unsigned i = 0; i < n; i++)
		snd_ctl_elem_value_set_integer(val, i, v[i]);
	assert_true(snd_ctl_elem_write(mix_ctl, val) >= 0);
}

static const char *const mix_names[] = {
	"Vdevtest Playback Volume", "Vdevtest Playback Switch",
	"Vdevtest Capture Volume",
};

static void mix_remove(void)
{
	snd_ctl_elem_id_t *id;

	snd_ctl_elem_id_alloca(&id);
	for (unsigned i = 0; i < 3; i++) {
		mix_id(id, mix_names[i]);
		snd_ctl_elem_remove(mix_ctl, id);
	}
}
#endif

/*
 * CTLS on a real ALSA mixer: user elements added to the kernel's loopback
 * card (as alsa-lib's softvol does), a stereo playback volume 0..200 with
 * a dB scale, a playback switch, a mono capture volume -10..10 and no
 * capture switch. The driver sees each element as it is (type, count,
 * range, TLV word for word), its writes reach the kernel's element (read
 * back through a control handle of the test's own), bad values are
 * refused, a change made on the host comes as CTL_NOTIFY (the device's
 * own writes do not), the control without an element stays in software,
 * and vdev_sound_set_volume sets the element. Needs a card: the host here
 * has none (SKIP); UML's snd-aloop runs it (snd-uml-alsa-aloop).
 */
static void test_alsa_mixer(void **state)
{
#if VDEV_WITH_ALSA_FOUND
	struct vdev_sound_config c = {
		.backend = VDEV_SOUND_BACKEND_ALSA,
		.alsa_device = "hw:Loopback,0,0",
		.controls = true,
	};
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	/* SNDRV_CTL_TLVT_DB_SCALE: -50.00 dB, 0.25 dB a step, muted at 0 */
	const unsigned int tlv[4] = { 1, 8, (unsigned int)-5000,
				      25 | 0x10000 };
	snd_ctl_elem_id_t *id;
	uint8_t q[16], r[4 + 512], *ev[4];
	long v[2];
	struct t t;
	void *tok;
	uint32_t len;

	(void)state;
	if (access("/proc/asound/Loopback", F_OK) != 0) {
		print_message("no ALSA card here to hold mixer elements "
			      "(/proc/asound/Loopback: %s): skipped\n",
			      access("/proc/asound", F_OK) ?
				      "the kernel has no ALSA at all" :
				      "no snd-aloop");
		skip();
	}
	/* The kernel gives a user element to the handle that added it until
	 * that one is closed (softvol's PCM adds and closes the same way):
	 * one handle adds, a second is the test's view. */
	assert_int_equal(snd_ctl_open(&mix_ctl, "hw:Loopback", 0), 0);
	mix_remove(); /* a run that died before its end */
	snd_ctl_elem_id_alloca(&id);
	mix_id(id, mix_names[0]);
	assert_int_equal(snd_ctl_elem_add_integer(mix_ctl, id, 2, 0, 200, 1),
			 0);
	assert_true(snd_ctl_elem_tlv_write(mix_ctl, id, tlv) >= 0);
	mix_id(id, mix_names[1]);
	assert_int_equal(snd_ctl_elem_add_boolean(mix_ctl, id, 2), 0);
	mix_id(id, mix_names[2]);
	assert_int_equal(snd_ctl_elem_add_integer(mix_ctl, id, 1, -10, 10, 1),
			 0);
	mix_set(mix_names[0], (long[]){ 200, 200 }, 2);
	mix_set(mix_names[1], (long[]){ 1, 1 }, 2);
	snd_ctl_close(mix_ctl);
	assert_int_equal(snd_ctl_open(&mix_ctl, "hw:Loopback", 0), 0);

	t.dev = vdev_sound_new(&c);
	assert_non_null(t.dev);
	/* the defaults (Master, PCM, Capture) are not on this card: a
	 * name of the test's own */
	assert_int_equal(vdev_sound_set_mixer(t.dev, NULL, "Vdevtest",
					      "Vdevtest"), 0);
	t.drv = vdev_drv_new(t.dev, &dc);
	assert_non_null(t.drv);
	assert_int_equal(vdev_drv_init(t.drv), 0);
	evt_add(&t, ev, 4);
	/* what the driver sees */
	put_le32(q, R_CTL_INFO);
	put_le32(q + 4, 0);
	put_le32(q + 8, 4);
	put_le32(q + 12, 96);
	assert_int_equal(ctl(&t, q, 16, r, 4 + 4 * 96), S_OK);
	assert_string_equal((char *)r + 4 + 24, "PCM Playback Volume");
	assert_int_equal(get_le32(r + 4 + 8), 1);           /* integer */
	assert_int_equal(get_le32(r + 4 + 12) & 0x13, 0x13); /* R, W, TLV R */
	assert_int_equal(get_le32(r + 4 + 16), 2);
	assert_int_equal(get_le32(r + 4 + 72), 0);
	assert_int_equal(get_le32(r + 4 + 76), 200);
	assert_int_equal(get_le32(r + 100 + 8), 0);         /* boolean */
	assert_int_equal(get_le32(r + 100 + 16), 2);
	assert_string_equal((char *)r + 196 + 24, "Capture Volume");
	assert_int_equal(get_le32(r + 196 + 16), 1);        /* mono */
	assert_int_equal(get_le32(r + 196 + 72), (uint32_t)-10);
	assert_int_equal(get_le32(r + 196 + 76), 10);
	assert_int_equal(get_le32(r + 196 + 12) & 0x10, 0); /* no TLV */
	/* the capture switch: software, as the stream has two channels */
	assert_int_equal(get_le32(r + 292 + 16), 2);
	/* the element's dB scale, word for word */
	assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 0, r, 4 + 64), S_OK);
	assert_int_equal(get_le32(r + 4), 1);
	assert_int_equal(get_le32(r + 8), 8);
	assert_int_equal(get_le32(r + 12), (uint32_t)-5000);
	assert_int_equal(get_le32(r + 16), 25 | 0x10000);
	assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 2, r, 4 + 64), S_BAD_MSG);
	/* the driver's writes reach the card */
	assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 150, 20 }, 2), S_OK);
	mix_get(mix_names[0], v, 2);
	assert_int_equal(v[0], 150);
	assert_int_equal(v[1], 20);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 150);
	assert_int_equal(get_le32(r + 8), 20);
	assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 201, 0 }, 2),
			 S_BAD_MSG);
	assert_int_equal(ctl_write(&t, 2, (uint32_t[]){ (uint32_t)-11 }, 1),
			 S_BAD_MSG);
	mix_get(mix_names[0], v, 2);
	assert_int_equal(v[0], 150);
	assert_int_equal(ctl_write(&t, 2, (uint32_t[]){ (uint32_t)-7 }, 1),
			 S_OK);
	mix_get(mix_names[2], v, 1);
	assert_int_equal(v[0], -7);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 2, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), (uint32_t)-7);
	assert_int_equal(ctl_write(&t, 1, (uint32_t[]){ 0, 1 }, 2), S_OK);
	mix_get(mix_names[1], v, 2);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 1);
	assert_int_equal(ctl_write(&t, 3, (uint32_t[]){ 0, 1 }, 2), S_OK);
	/* its own writes are not notified back */
	assert_int_equal(vdev_drv_wait(t.drv, 1, 100, &tok, &len), -ETIMEDOUT);
	/* a change on the host is */
	mix_set(mix_names[0], (long[]){ 33, 44 }, 2);
	assert_int_equal(vdev_drv_wait(t.drv, 1, 2000, &tok, &len), 0);
	assert_int_equal(get_le32(tok), EVT_CTL_NOTIFY);
	assert_int_equal(get_le32((uint8_t *)tok + 4), 0 | 1u << 16);
	assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
	assert_int_equal(get_le32(r + 4), 33);
	assert_int_equal(get_le32(r + 8), 44);
	/* the host API sets the elements: 50 % of 0..200, switch off */
	assert_int_equal(vdev_sound_set_volume(t.dev, 0, 50, true), 0);
	mix_get(mix_names[0], v, 2);
	assert_int_equal(v[0], 100);
	assert_int_equal(v[1], 100);
	mix_get(mix_names[1], v, 2);
	assert_int_equal(v[0], 0);
	assert_int_equal(v[1], 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vdev_drv_wait(t.drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(get_le32(tok), EVT_CTL_NOTIFY);
	}
	assert_int_equal(vdev_drv_wait(t.drv, 1, 100, &tok, &len), -ETIMEDOUT);
	destroy(&t);
	mix_remove();
	snd_ctl_close(mix_ctl);
	print_message("mixer: elements on hw:Loopback read, written, "
		      "notified\n");
#else
	(void)state;
	print_message("libvdev built without alsa-lib: skipped\n");
	skip();
#endif
}

/*
 * CTLS on a mixer the test controls, on the host: an alsa-lib external
 * control plugin (tests/alsa/ctl_vdevtest.c) whose elements every opener
 * shares, loaded through an asoundrc of the test's own. In the device
 * made here, then in vdev-snd (--mixer-device, --mixer, --capture-mixer
 * none; under its sandbox in a release build, the plugin loaded before
 * it): the element as the driver sees it, a driver's write reaching the
 * mixer, a change made by the test reaching the driver as CTL_NOTIFY.
 */
static void test_alsa_mixer_plugin(void **state)
{
#if VDEV_WITH_ALSA_FOUND
	char conf[64], st[64], fifo[80], lib[600], sock[64], sarg[80];
	const char *b = getenv("VDEV_BUILD_DIR");
	struct vdev_sound_config c = { .backend = VDEV_SOUND_BACKEND_ALSA,
				       .alsa_device = "vdevnull",
				       .controls = true };
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	uint8_t q[16], r[4 + 512], *ev[4];
	struct tspawn ts;
	long v[2];
	FILE *f;
	int fd;

	(void)state;
	snprintf(lib, sizeof(lib), "%s/tests/alsa/libasound_module_ctl_vdevtest.so",
		 b ? b : ".");
	if (!b || access(lib, R_OK) != 0) {
		print_message("no test mixer plugin at %s (VDEV_BUILD_DIR "
			      "unset?): skipped\n", lib);
		skip();
	}
	snprintf(st, sizeof(st), "/tmp/vdev-mix-st-XXXXXX");
	fd = mkstemp(st);
	assert_true(fd >= 0);
	close(fd);
	snprintf(fifo, sizeof(fifo), "%s.fifo", st);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(conf, sizeof(conf), "/tmp/vdev-mix-conf-XXXXXX");
	fd = mkstemp(conf);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	fprintf(f, "ctl_type.vdevtest { lib \"%s\" }\n"
		   "ctl.vdevtest { type vdevtest state \"%s\" fifo \"%s\" }\n"
		   "pcm.vdevnull { type null }\n", lib, st, fifo);
	fclose(f);
	setenv("ALSA_CONFIG_PATH", conf, 1);
	assert_int_equal(snd_ctl_open(&mix_ctl, "vdevtest", 0), 0);
	mix_set(mix_names[0], (long[]){ 200, 200 }, 2);
	put_le32(q, R_CTL_INFO);
	put_le32(q + 4, 0);
	put_le32(q + 8, 2);
	put_le32(q + 12, 96);

	for (int daemon = 0; daemon < 2; daemon++) {
		struct t t;
		void *tok;
		uint32_t len;

		if (!daemon) {
			t.dev = vdev_sound_new(&c);
			assert_non_null(t.dev);
			assert_int_equal(vdev_sound_set_mixer(t.dev, "vdevtest",
							      "Vdevtest",
							      "none"), 0);
			t.drv = vdev_drv_new(t.dev, &dc);
			assert_non_null(t.drv);
			assert_int_equal(vdev_drv_init(t.drv), 0);
		} else {
			need_daemon();
			snprintf(sock, sizeof(sock), "/tmp/vdev-snd-mix-%d.sock",
				 (int)getpid());
			snprintf(sarg, sizeof(sarg), "--socket=%s", sock);
			t = make_daemon(&ts, sock, (const char *[]){
				sarg, "--backend", "alsa", "--device",
				"vdevnull", "--controls", "--mixer-device",
				"vdevtest", "--mixer", "Vdevtest",
				"--capture-mixer", "none", NULL });
		}
		evt_add(&t, ev, 4);
		assert_int_equal(ctl(&t, q, 16, r, 4 + 2 * 96), S_OK);
		assert_string_equal((char *)r + 4 + 24, "PCM Playback Volume");
		assert_int_equal(get_le32(r + 4 + 16), 2);
		assert_int_equal(get_le32(r + 4 + 76), 200);
		assert_int_equal(get_le32(r + 4 + 12) & 0x13, 0x13);
		assert_int_equal(get_le32(r + 100 + 8), 0); /* boolean */
		assert_int_equal(ctl_id(&t, R_CTL_TLV_READ, 0, r, 4 + 64), S_OK);
		assert_int_equal(get_le32(r + 12), (uint32_t)-5000);
		assert_int_equal(get_le32(r + 16), 25 | 0x10000);
		assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 150, 20 }, 2),
				 S_OK);
		mix_get(mix_names[0], v, 2);
		assert_int_equal(v[0], 150);
		assert_int_equal(v[1], 20);
		assert_int_equal(ctl_write(&t, 0, (uint32_t[]){ 201, 0 }, 2),
				 S_BAD_MSG);
		/* its own write is not notified back */
		assert_int_equal(vdev_drv_wait(t.drv, 1, 100, &tok, &len),
				 -ETIMEDOUT);
		mix_set(mix_names[0], (long[]){ 33, 44 }, 2);
		assert_int_equal(vdev_drv_wait(t.drv, 1, 2000, &tok, &len), 0);
		assert_int_equal(get_le32(tok), EVT_CTL_NOTIFY);
		assert_int_equal(get_le32((uint8_t *)tok + 4), 0 | 1u << 16);
		assert_int_equal(ctl_id(&t, R_CTL_READ, 0, r, 4 + 512), S_OK);
		assert_int_equal(get_le32(r + 4), 33);
		assert_int_equal(get_le32(r + 8), 44);
		/* the capture stream's controls stay in software */
		assert_int_equal(ctl_id(&t, R_CTL_READ, 2, r, 4 + 512), S_OK);
		assert_int_equal(get_le32(r + 4), 100);
		if (daemon) {
			vdev_drv_free(t.drv);
			assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
			unlink(sock);
		} else {
			destroy(&t);
		}
	}
	snd_ctl_close(mix_ctl);
	unsetenv("ALSA_CONFIG_PATH");
	unlink(conf);
	unlink(fifo);
	unlink(st);
#else
	(void)state;
	print_message("libvdev built without alsa-lib: skipped\n");
	skip();
#endif
}

/* The daemon as vhost-device-sound is started: --socket, --backend; the
 * file backend plays and captures byte for byte in real time. */
static void test_daemon(void **state)
{
	char sock[64], sarg[80];
	struct tspawn ts;
	struct t t;
	struct io io[4];
	uint8_t got[PERIOD * 8];
	size_t n;

	(void)state;
	need_daemon();
	snprintf(sock, sizeof(sock), "/tmp/vdev-snd-%d.sock", (int)getpid());
	snprintf(sarg, sizeof(sarg), "--socket=%s", sock);
	t = make_daemon(&ts, sock, (const char *[]){
		sarg, "--backend", "file", "--out", out_path, "--in", in_path,
		"--queue-size", "256", NULL });
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	assert_int_equal(std_params(&t, 1, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
	assert_int_equal(pcm(&t, R_PREPARE, 1), S_OK);
	play_periods(&t, 8);
	read_file(out_path, got, sizeof(got), &n);
	assert_int_equal(n, 8 * PERIOD);
	assert_memory_equal(got, pattern, 8 * PERIOD);
	/* capture */
	for (int i = 0; i < 3; i++)
		io_add(&t, &io[i], 1, false, NULL, PERIOD);
	assert_int_equal(pcm(&t, R_START, 1), S_OK);
	for (int i = 0; i < 3; i++) {
		assert_ptr_equal(io_wait(&t, 3, 2000, NULL), &io[i]);
		assert_memory_equal(io[i].data, pattern + i * PERIOD, PERIOD);
	}
	assert_int_equal(pcm(&t, R_STOP, 1), S_OK);
	assert_int_equal(pcm(&t, R_RELEASE, 1), S_OK);
	vdev_drv_free(t.drv);
	assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
	assert_int_equal(access(sock, F_OK), -1);
}

static void test_daemon_options(void **state)
{
	static const char *const bad[][6] = {
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--backend", "file",
		  NULL },
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--backend",
		  "gstreamer", NULL },
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--out", "/tmp/x",
		  NULL },
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--stream", "sideways",
		  NULL },
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--stream", "out:19",
		  NULL },
		{ "--socket", "/tmp/vdev-snd-bad.sock", "--queue-size", "32",
		  NULL },
	};
	char sock[64];
	struct tspawn ts;
	struct t t;
	uint8_t cfg[12], req[16], r[4 + 3 * 32];

	(void)state;
	need_daemon();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *argv[8] = { daemon_path };
		struct tspawn_opts o = { .fd = -1, .log = "/dev/null" };

		for (int k = 0; bad[i][k]; k++)
			argv[k + 1] = bad[i][k];
		assert_int_equal(tspawn_start(&ts, argv, &o), 0);
		assert_int_equal(tspawn_wait(&ts, 10000), 1);
	}
	/* --socket PATH (two words), three streams, jacks, null backend */
	snprintf(sock, sizeof(sock), "/tmp/vdev-snd-o-%d.sock", (int)getpid());
	t = make_daemon(&ts, sock, (const char *[]){
		"--socket", sock, "--stream", "out:6", "--stream", "in:1",
		"--stream", "out", "--jacks", "3", NULL });
	assert_int_equal(vdev_drv_config_read(t.drv, 0, cfg, 12), 0);
	assert_int_equal(get_le32(cfg), 3);
	assert_int_equal(get_le32(cfg + 4), 3);
	put_le32(req, R_PCM_INFO);
	put_le32(req + 4, 0);
	put_le32(req + 8, 3);
	put_le32(req + 12, 32);
	assert_int_equal(ctl(&t, req, 16, r, sizeof(r)), S_OK);
	assert_int_equal(r[4 + 24], VDEV_SND_D_OUTPUT);
	assert_int_equal(r[4 + 26], 6);
	assert_int_equal(r[36 + 24], VDEV_SND_D_INPUT);
	assert_int_equal(r[36 + 26], 1);
	assert_int_equal(r[68 + 26], 2);
	vdev_drv_free(t.drv);
	assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
}

/* --socket-fd FD: an inherited listening socket, as vhost-device-sound
 * takes it. */
static void test_daemon_socket_fd(void **state)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct vdev_drv_config dc = { .queue_size = 256 };
	const char *argv[] = { daemon_path, "--socket-fd", "3", NULL };
	struct tspawn ts;
	struct t t = { 0 };
	uint8_t cfg[12];
	int lfd;

	(void)state;
	need_daemon();
	snprintf(a.sun_path, sizeof(a.sun_path), "/tmp/vdev-snd-fd-%d.sock",
		 (int)getpid());
	unlink(a.sun_path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(tspawn_start(&ts, argv,
				      &(const struct tspawn_opts){
					      .fd = lfd, .fd_as = 3 }), 0);
	close(lfd);
	assert_int_equal(tspawn_drv_connect(&ts, a.sun_path, 10000, &dc,
					    &t.drv), 0);
	assert_int_equal(vdev_drv_init(t.drv), 0);
	assert_int_equal(vdev_drv_config_read(t.drv, 0, cfg, 12), 0);
	assert_int_equal(get_le32(cfg + 4), 2);
	assert_int_equal(pcm(&t, R_START, 0), S_BAD_MSG);
	assert_int_equal(std_params(&t, 0, 0), S_OK);
	vdev_drv_free(t.drv);
	assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
	unlink(a.sun_path);
}

/* A worker per queue: START, STOP and RELEASE come on the control
 * queue's thread while the I/O is held on the tx queue's; the RELEASE is
 * answered once the other thread returned the buffers. */
static void test_daemon_thread_per_queue(void **state)
{
	char sock[64];
	struct tspawn ts;
	struct t t;
	struct io io[3];
	void *tok;
	uint32_t len;

	(void)state;
	need_daemon();
	snprintf(sock, sizeof(sock), "/tmp/vdev-snd-q-%d.sock", (int)getpid());
	t = make_daemon(&ts, sock, (const char *[]){
		"--socket", sock, "--thread-per-queue", NULL });
	for (int round = 0; round < 3; round++) {
		assert_int_equal(std_params(&t, 0, 0), S_OK);
		assert_int_equal(pcm(&t, R_PREPARE, 0), S_OK);
		for (int i = 0; i < 3; i++)
			io_add(&t, &io[i], 0, true, pattern, PERIOD);
		assert_int_equal(pcm(&t, R_START, 0), S_OK);
		/* the first period plays, the rest is held */
		assert_ptr_equal(io_wait(&t, 2, 2000, NULL), &io[0]);
		assert_int_equal(pcm(&t, R_STOP, 0), S_OK);
		assert_int_equal(pcm(&t, R_RELEASE, 0), S_OK);
		for (int i = 1; i < 3; i++) {
			assert_int_equal(vdev_drv_wait(t.drv, 2, 2000, &tok,
						       &len), 0);
			assert_ptr_equal(tok, &io[i]);
		}
		assert_int_equal(vdev_drv_ring_inflight(vdev_drv_ring(t.drv,
								      2)), 0);
	}
	vdev_drv_free(t.drv);
	assert_int_equal(tspawn_stop(&ts, SIGTERM, 10000), 0);
}

static int kill_leftovers(void **state)
{
	(void)state;
	tspawn_kill_all();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_info),
		cmocka_unit_test(test_ctl_bad),
		cmocka_unit_test(test_state_order),
		cmocka_unit_test(test_playback_fake_clock),
		cmocka_unit_test(test_playback_real_time),
		cmocka_unit_test(test_capture_file),
		cmocka_unit_test(test_release_after_io),
		cmocka_unit_test(test_io_bad),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_period_events),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_new_errors),
		cmocka_unit_test(test_controls),
		cmocka_unit_test(test_controls_companded),
		cmocka_unit_test(test_alsa_file),
		cmocka_unit_test(test_alsa_aloop),
		cmocka_unit_test(test_alsa_mixer),
		cmocka_unit_test_teardown(test_alsa_mixer_plugin,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_daemon, kill_leftovers),
		cmocka_unit_test_teardown(test_daemon_options,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_daemon_socket_fd,
					  kill_leftovers),
		cmocka_unit_test_teardown(test_daemon_thread_per_queue,
					  kill_leftovers),
	};

	/* One test by name (a guest runs test_alsa_aloop alone). */
	if (getenv("VDEV_TEST_FILTER"))
		cmocka_set_test_filter(getenv("VDEV_TEST_FILTER"));
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
