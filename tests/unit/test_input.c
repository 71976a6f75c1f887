/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-input through the software driver, in process and through the
 * vhost-user adapter: every config select, whole batches on the eventq
 * (a full ring, a full backlog, a batch longer than the ring, SYN_DROPPED),
 * the statusq (malformed buffers included), the scripted source (replay
 * and control socket), and save/restore into a fresh device.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <linux/input.h>
#include <sys/ioctl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/caps.h>
#include <virtio/input.h>
#include <virtio/testing.h>
#include <virtio/transport.h>
#include <virtio/vhost-user.h>

#include "devices/input/input_internal.h"


struct fx {
	struct vdev *dev;
	struct vdev_drv *drv;
	struct vdev_vhost_user *vu;
	pthread_t thread;
	char path[64];
	/* status events the device reported */
	pthread_mutex_t lock;
	unsigned nstatus;
	uint16_t st_type, st_code;
	int32_t st_value;
};

static void *serve(void *arg)
{
	vdev_vhost_user_run(arg);
	return NULL;
}

static void on_status(void *opaque, uint16_t type, uint16_t code,
		      int32_t value)
{
	struct fx *f = opaque;

	pthread_mutex_lock(&f->lock);
	f->nstatus++;
	f->st_type = type;
	f->st_code = code;
	f->st_value = value;
	pthread_mutex_unlock(&f->lock);
}

static void caps_tablet(struct vdev_input_caps *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->name, "libvdev test tablet");
	strcpy(c->serial, "SN-0042");
	c->bustype = 0x06;
	c->vendor = 0x1af4;
	c->product = 0x1234;
	c->version = 0x0101;
	c->props[0] = 1u << 1; /* INPUT_PROP_DIRECT */
	vdev_input_caps_set(c, EV_KEY, KEY_A);
	vdev_input_caps_set(c, EV_KEY, KEY_B);
	vdev_input_caps_set(c, EV_KEY, 0x14a); /* BTN_TOUCH */
	vdev_input_caps_set(c, EV_ABS, ABS_X);
	vdev_input_caps_set(c, EV_ABS, ABS_Y);
	vdev_input_caps_set(c, EV_LED, LED_CAPSL);
	c->abs[ABS_X] = (struct vdev_input_absinfo){ 0, 32767, 4, 8, 12 };
	c->abs[ABS_Y] = (struct vdev_input_absinfo){ -100, 100, 0, 0, 0 };
}

static void up_cfg(struct fx *f, bool vhost_user, struct vdev_input_config *ic,
		   uint16_t qsize)
{
	struct vdev_drv_config dc = { .use_eventfds = true,
				      .queue_size = qsize ? qsize : 256 };

	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	ic->status = on_status;
	ic->opaque = f;
	f->dev = vdev_input_new(ic);
	assert_non_null(f->dev);
	if (vhost_user) {
		struct vdev_vhost_user_config vc = {
			.mode = VDEV_VHOST_USER_LISTEN, .path = f->path,
		};

		snprintf(f->path, sizeof(f->path), "/tmp/input-test-%d.sock",
			 (int)getpid());
		f->vu = vdev_vhost_user_new(f->dev, &vc);
		assert_non_null(f->vu);
		assert_int_equal(pthread_create(&f->thread, NULL, serve, f->vu),
				 0);
		f->drv = vdev_drv_connect_vhost_user(f->path, &dc);
	} else {
		f->drv = vdev_drv_new(f->dev, &dc);
	}
	assert_non_null(f->drv);
	assert_int_equal(vdev_drv_init(f->drv), 0);
}

static void up(struct fx *f, bool vhost_user, unsigned backlog,
	       uint16_t qsize)
{
	struct vdev_input_caps c;
	struct vdev_input_config ic = { .caps = &c, .backlog = backlog };

	caps_tablet(&c);
	up_cfg(f, vhost_user, &ic, qsize);
}

static void down(struct fx *f)
{
	vdev_drv_free(f->drv);
	if (f->vu) {
		vdev_vhost_user_stop(f->vu);
		pthread_join(f->thread, NULL);
		vdev_vhost_user_free(f->vu);
	}
	vdev_free(f->dev);
	pthread_mutex_destroy(&f->lock);
}

/* Gives the device @n more event buffers of @len bytes. */
static void stock_len(struct fx *f, unsigned n, uint32_t len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg s = { .len = len };
		void *buf = vdev_drv_mem_alloc(m, s.len, 8, &s.gpa);

		assert_non_null(buf);
		memset(buf, 0xee, len);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, 0), &s,
						   0, 1, buf, 0), 0);
	}
	assert_int_equal(vdev_drv_kick(f->drv, 0), 0);
}

static void stock(struct fx *f, unsigned n)
{
	stock_len(f, n, sizeof(struct vdev_input_event));
}

static int next_event(struct fx *f, struct vdev_input_event *ev, int ms)
{
	void *tok;
	uint32_t len;
	int r = vdev_drv_wait(f->drv, 0, ms, &tok, &len);

	if (r < 0)
		return r;
	assert_int_equal(len, sizeof(*ev));
	memcpy(ev, tok, sizeof(*ev));
	return 0;
}

static struct vdev_input_event ev(uint16_t type, uint16_t code, int32_t value)
{
	struct vdev_input_event e = {
		.type = vdev_cpu_to_le16(type),
		.code = vdev_cpu_to_le16(code),
		.value = vdev_cpu_to_le32((uint32_t)value),
	};

	return e;
}

static void expect_ms(struct fx *f, uint16_t type, uint16_t code,
		      int32_t value, int ms)
{
	struct vdev_input_event e;

	assert_int_equal(next_event(f, &e, ms), 0);
	assert_int_equal(vdev_le16_to_cpu(e.type), type);
	assert_int_equal(vdev_le16_to_cpu(e.code), code);
	assert_int_equal((int32_t)vdev_le32_to_cpu(e.value), value);
}

static void expect(struct fx *f, uint16_t type, uint16_t code, int32_t value)
{
	expect_ms(f, type, code, value, 3000);
}

/* Select and subsel written one byte each, as virtio-pci drivers do. */
static void sel(struct fx *f, uint8_t s, uint8_t sub,
		struct vdev_input_config_space *out)
{
	assert_int_equal(vdev_drv_config_write(f->drv, 0, &s, 1), 0);
	assert_int_equal(vdev_drv_config_write(f->drv, 1, &sub, 1), 0);
	assert_int_equal(vdev_drv_config_read(f->drv, 0, out, sizeof(*out)),
			 0);
	assert_int_equal(out->select, s);
	assert_int_equal(out->subsel, sub);
}

static void check_config(struct fx *f)
{
	struct vdev_input_config_space c;

	sel(f, VDEV_INPUT_CFG_ID_NAME, 0, &c);
	assert_int_equal(c.size, strlen("libvdev test tablet"));
	assert_memory_equal(c.u.string, "libvdev test tablet", c.size);
	sel(f, VDEV_INPUT_CFG_ID_SERIAL, 0, &c);
	assert_int_equal(c.size, 7);
	assert_memory_equal(c.u.string, "SN-0042", 7);
	sel(f, VDEV_INPUT_CFG_ID_DEVIDS, 0, &c);
	assert_int_equal(c.size, 8);
	assert_int_equal(vdev_le16_to_cpu(c.u.ids.bustype), 6);
	assert_int_equal(vdev_le16_to_cpu(c.u.ids.vendor), 0x1af4);
	assert_int_equal(vdev_le16_to_cpu(c.u.ids.product), 0x1234);
	assert_int_equal(vdev_le16_to_cpu(c.u.ids.version), 0x0101);
	sel(f, VDEV_INPUT_CFG_PROP_BITS, 0, &c);
	assert_int_equal(c.size, 1);
	assert_int_equal(c.u.bitmap[0], 2);
	/* EV_BITS: the types (computed), then each type's codes. */
	sel(f, VDEV_INPUT_CFG_EV_BITS, EV_SYN, &c);
	assert_int_equal(c.size, 3);
	assert_int_equal(c.u.bitmap[0], 1 | 1 << EV_KEY | 1 << EV_ABS);
	assert_int_equal(c.u.bitmap[2], 1 << (EV_LED - 16));
	sel(f, VDEV_INPUT_CFG_EV_BITS, EV_KEY, &c);
	assert_int_equal(c.size, 0x14a / 8 + 1);
	assert_int_equal(c.u.bitmap[KEY_A / 8], 1 << (KEY_A % 8));
	assert_int_equal(c.u.bitmap[KEY_B / 8], 1 << (KEY_B % 8));
	assert_int_equal(c.u.bitmap[0x14a / 8], 1 << (0x14a % 8));
	sel(f, VDEV_INPUT_CFG_EV_BITS, EV_ABS, &c);
	assert_int_equal(c.size, 1);
	assert_int_equal(c.u.bitmap[0], 3);
	sel(f, VDEV_INPUT_CFG_EV_BITS, 2 /* EV_REL: none */, &c);
	assert_int_equal(c.size, 0);
	sel(f, VDEV_INPUT_CFG_EV_BITS, 0x20, &c);
	assert_int_equal(c.size, 0);
	sel(f, VDEV_INPUT_CFG_ABS_INFO, ABS_X, &c);
	assert_int_equal(c.size, 20);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.min), 0);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.max), 32767);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.fuzz), 4);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.flat), 8);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.res), 12);
	sel(f, VDEV_INPUT_CFG_ABS_INFO, ABS_Y, &c);
	assert_int_equal((int32_t)vdev_le32_to_cpu(c.u.abs.min), -100);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.max), 100);
	sel(f, VDEV_INPUT_CFG_ABS_INFO, 2 /* no such axis */, &c);
	assert_int_equal(c.size, 0);
	sel(f, VDEV_INPUT_CFG_ABS_INFO, 0x40, &c);
	assert_int_equal(c.size, 0);
	sel(f, VDEV_INPUT_CFG_ID_NAME, 1, &c);
	assert_int_equal(c.size, 0);
	sel(f, 0x13, 0, &c);
	assert_int_equal(c.size, 0);
	sel(f, VDEV_INPUT_CFG_UNSET, 0, &c);
	assert_int_equal(c.size, 0);
	/* QEMU's frontend writes the whole space with what it last read
	 * (a stale size and union): only select and subsel count. */
	sel(f, VDEV_INPUT_CFG_ID_NAME, 0, &c);
	c.select = VDEV_INPUT_CFG_ABS_INFO;
	c.subsel = ABS_X;
	assert_int_equal(vdev_drv_config_write(f->drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(vdev_drv_config_read(f->drv, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.size, 20);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.max), 32767);
	assert_int_equal(c.u.bitmap[20], 0);
}

static void test_config(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		struct fx f;

		up(&f, vu, 0, 0);
		assert_int_equal(vdev_drv_num_queues(f.drv), 2);
		check_config(&f);
		down(&f);
	}
	assert_true(vdev_has_capability(VDEV_CAP_DEVICE, "input"));
}

static void test_events(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		const struct vdev_input_event b[] = {
			ev(EV_KEY, KEY_A, 1), ev(EV_SYN, 0, 0),
			ev(EV_KEY, KEY_A, 0), ev(EV_SYN, 0, 0),
		};
		struct vdev_input_stats st;
		struct fx f;

		up(&f, vu, 0, 0);
		stock(&f, 8);
		assert_int_equal(vdev_input_send(f.dev ? f.dev : NULL, b, 4),
				 0);
		expect(&f, EV_KEY, KEY_A, 1);
		expect(&f, EV_SYN, 0, 0);
		expect(&f, EV_KEY, KEY_A, 0);
		expect(&f, EV_SYN, 0, 0);
		vdev_input_get_stats(f.dev, &st);
		assert_int_equal(st.batches, 2);
		assert_int_equal(st.events, 4);
		assert_int_equal(st.dropped, 0);
		/* A batch must end. */
		assert_int_equal(vdev_input_send(f.dev, b, 1), -EINVAL);
		assert_int_equal(vdev_input_send(f.dev, b, 0), -EINVAL);
		down(&f);
	}
}

/* A batch waits for a buffer per event: never half of it. */
static void test_batch_whole(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		const struct vdev_input_event b[] = {
			ev(EV_ABS, ABS_X, 5), ev(EV_ABS, ABS_Y, 6),
			ev(EV_SYN, 0, 0),
		};
		struct vdev_input_event e;
		struct fx f;

		up(&f, vu, 0, 0);
		stock(&f, 2);
		assert_int_equal(vdev_input_send(f.dev, b, 3), 0);
		assert_int_equal(next_event(&f, &e, 150), -ETIMEDOUT);
		stock(&f, 1);
		expect(&f, EV_ABS, ABS_X, 5);
		expect(&f, EV_ABS, ABS_Y, 6);
		expect(&f, EV_SYN, 0, 0);
		down(&f);
	}
}

/* No buffers: the backlog fills, then whole batches are dropped and
 * counted; what waited arrives whole once buffers come. */
static void test_full_backlog(void **state)
{
	struct vdev_input_stats st;
	struct fx f;
	unsigned ok = 0;

	(void)state;
	up(&f, false, 16, 0);
	for (int i = 0; i < 10; i++) {
		const struct vdev_input_event b[] = {
			ev(EV_ABS, ABS_X, i), ev(EV_ABS, ABS_Y, i),
			ev(EV_SYN, 0, 0),
		};

		ok += vdev_input_send(f.dev, b, 3) == 0;
	}
	assert_int_equal(ok, 5); /* 16 / 3 */
	vdev_input_get_stats(f.dev, &st);
	assert_int_equal(st.dropped, 5);
	assert_int_equal(st.dropped_events, 15);
	stock(&f, 64);
	for (int i = 0; i < 5; i++) {
		expect(&f, EV_ABS, ABS_X, i);
		expect(&f, EV_ABS, ABS_Y, i);
		expect(&f, EV_SYN, 0, 0);
	}
	down(&f);
}

/* A batch longer than the ring could never leave: dropped, and the
 * next one is not held up behind it. */
static void test_batch_longer_than_ring(void **state)
{
	struct vdev_input_event b[12];
	struct vdev_input_stats st;
	struct fx f;

	(void)state;
	up(&f, false, 0, 8);
	for (int i = 0; i < 11; i++)
		b[i] = ev(EV_ABS, ABS_X, i);
	b[11] = ev(EV_SYN, 0, 0);
	stock(&f, 8);
	assert_int_equal(vdev_input_send(f.dev, b, 12), 0);
	assert_int_equal(vdev_input_send(f.dev, b + 10, 2), 0);
	expect(&f, EV_ABS, ABS_X, 10);
	expect(&f, EV_SYN, 0, 0);
	vdev_input_get_stats(f.dev, &st);
	assert_int_equal(st.dropped, 1);
	assert_int_equal(st.dropped_events, 12);
	down(&f);
}

/* A source's SYN_DROPPED tears the batch under way; the next whole one
 * goes through. A batch longer than a stage is dropped whole. */
static void test_syn_dropped(void **state)
{
	struct input_stage *s = calloc(1, sizeof(*s));
	struct vdev_input_stats st;
	struct fx f;

	(void)state;
	assert_non_null(s);
	up(&f, false, 0, 0);
	stock(&f, 8);
	assert_false(input_feed(f.dev, s, EV_KEY, KEY_A, 1));
	assert_false(input_feed(f.dev, s, EV_SYN, 3, 0));
	assert_false(input_feed(f.dev, s, EV_KEY, KEY_A, 0));
	assert_false(input_feed(f.dev, s, EV_SYN, 0, 0)); /* resync */
	assert_false(input_feed(f.dev, s, EV_KEY, KEY_B, 1));
	assert_true(input_feed(f.dev, s, EV_SYN, 0, 0));
	for (unsigned i = 0; i <= INPUT_STAGE_MAX; i++)
		input_feed(f.dev, s, EV_ABS, ABS_X, (int32_t)i);
	assert_false(input_feed(f.dev, s, EV_SYN, 0, 0));
	assert_false(input_feed(f.dev, s, EV_KEY, KEY_B, 0));
	assert_true(input_feed(f.dev, s, EV_SYN, 0, 0));
	vdev_queue_schedule(f.dev, 0);
	expect(&f, EV_KEY, KEY_B, 1);
	expect(&f, EV_SYN, 0, 0);
	expect(&f, EV_KEY, KEY_B, 0);
	expect(&f, EV_SYN, 0, 0);
	vdev_input_get_stats(f.dev, &st);
	assert_int_equal(st.dropped, 2);
	down(&f);
	free(s);
}

/* An event buffer smaller than an event breaks a MUST: reset needed,
 * and the driver is not handed a torn batch. */
static void test_short_buffer(void **state)
{
	const struct vdev_input_event b[] = { ev(EV_KEY, KEY_A, 1),
					      ev(EV_SYN, 0, 0) };
	void *tok;
	uint32_t len;
	struct fx f;

	(void)state;
	up(&f, false, 0, 0);
	stock(&f, 1);
	stock_len(&f, 1, 4);
	assert_int_equal(vdev_input_send(f.dev, b, 2), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vdev_drv_wait(f.drv, 0, 3000, &tok, &len), 0);
		assert_int_equal(len, 0);
	}
	assert_true(vdev_drv_status(f.drv) & VDEV_STATUS_DEVICE_NEEDS_RESET);
	down(&f);
}

/* Statusq: an LED event reaches the callback; a buffer shorter than an
 * event is counted and completed, nothing else lost. */
static void test_status(void **state)
{
	(void)state;
	for (int vu = 0; vu < 2; vu++) {
		struct vdev_input_event e = ev(EV_LED, LED_CAPSL, 1);
		struct vdev_input_stats st;
		uint32_t w = 99;
		struct fx f;

		up(&f, vu, 0, 0);
		assert_int_equal(vdev_drv_xfer(f.drv, 1, &e, sizeof(e), NULL, 0,
					       &w, 3000), 0);
		assert_int_equal(w, 0);
		assert_int_equal(vdev_drv_xfer(f.drv, 1, &e, 4, NULL, 0, &w,
					       3000), 0);
		pthread_mutex_lock(&f.lock);
		assert_int_equal(f.nstatus, 1);
		assert_int_equal(f.st_type, EV_LED);
		assert_int_equal(f.st_code, LED_CAPSL);
		assert_int_equal(f.st_value, 1);
		pthread_mutex_unlock(&f.lock);
		vdev_input_get_stats(f.dev ? f.dev : NULL, &st);
		assert_int_equal(st.status, 1);
		assert_int_equal(st.bad_status, 1);
		down(&f);
	}
}

/* ---- the scripted source --------------------------------------------- */

static const char script_text[] =
	"# EVEMU 1.3\n"
	"N: libvdev test tablet\n"
	"U: SN-0042\n"
	"I: 0006 1af4 1234 0101\n"
	"P: 02 00 00 00 00 00 00 00\n"
	"B: 00 0b 00 02\n"
	"K: 01 1e 30 14a\n"
	"K: 11 01\n"
	"A: 00 0 32767 4 8 12\n"
	"A: 01 -100 100 0 0\r\n"
	"E: 0.000000 0001 001e 0001\n"
	"E: 0.000000 0000 0000 0000\n"
	"E: 0.030000 0001 001e 0000\n"
	"E: 0.030000 0000 0000 0000\n";

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* Reads one line within 3 s (driving the driver's loop meanwhile, which
 * also serves the device's watched fds). */
static void ctl_line(struct fx *f, int fd, char *buf, size_t max)
{
	size_t n = 0;

	for (int i = 0; i < 300 && n < max - 1; i++) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		vdev_drv_poll(f->drv, 5);
		if (poll(&p, 1, 5) != 1)
			continue;
		r = read(fd, buf + n, 1);
		assert_true(r == 1);
		if (buf[n] == '\n') {
			buf[n] = 0;
			return;
		}
		n++;
		i = 0;
	}
	fail_msg("no line from the control socket");
}

static void ctl_send(int fd, const char *s)
{
	assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
}

static void test_script(void **state)
{
	char spath[64], cpath[64], line[256];

	(void)state;
	snprintf(spath, sizeof(spath), "/tmp/input-test-%d.evemu",
		 (int)getpid());
	snprintf(cpath, sizeof(cpath), "/tmp/input-test-%d.ctl",
		 (int)getpid());
	write_file(spath, script_text);
	for (int vu = 0; vu < 2; vu++) {
		struct vdev_input_config ic = { .script = spath,
						.control = cpath };
		struct vdev_input_event e = ev(EV_LED, LED_CAPSL, 1);
		uint32_t w;
		struct fx f;
		int fd, fd2;

		up_cfg(&f, vu, &ic, 0);
		check_config(&f);
		/* The replay ran at DRIVER_OK; buffers come later. */
		stock(&f, 16);
		expect(&f, EV_KEY, KEY_A, 1);
		expect(&f, EV_SYN, 0, 0);
		expect(&f, EV_KEY, KEY_A, 0);
		expect(&f, EV_SYN, 0, 0);
		fd = ctl_connect(cpath);
		fd2 = ctl_connect(cpath);
		/* Events from a client, a batch at its SYN_REPORT; a line
		 * may come in pieces. */
		ctl_send(fd, "E: 0.000000 0003 0000 777\nE: 0.0000");
		ctl_send(fd, "00 0000 0000 0000\n");
		expect(&f, EV_ABS, ABS_X, 777);
		expect(&f, EV_SYN, 0, 0);
		/* P: replays the script. */
		ctl_send(fd, "P:\n");
		expect(&f, EV_KEY, KEY_A, 1);
		expect(&f, EV_SYN, 0, 0);
		expect(&f, EV_KEY, KEY_A, 0);
		expect(&f, EV_SYN, 0, 0);
		/* The guest's LED goes to every client. */
		assert_int_equal(vdev_drv_xfer(f.drv, 1, &e, sizeof(e), NULL, 0,
					       &w, 3000), 0);
		ctl_line(&f, fd, line, sizeof(line));
		assert_string_equal(line, "E: 0.000000 0011 0001 1");
		ctl_line(&f, fd2, line, sizeof(line));
		assert_string_equal(line, "E: 0.000000 0011 0001 1");
		ctl_send(fd, "S:\n");
		ctl_line(&f, fd, line, sizeof(line));
		assert_string_equal(line, "S: batches 5 events 10 dropped 0 "
					  "dropped_events 0 status 1 "
					  "bad_status 0");
		ctl_send(fd, "E: 1 2 3\n");
		ctl_line(&f, fd, line, sizeof(line));
		assert_string_equal(line, "error: E: takes SEC.USEC TYPE CODE "
					  "VALUE");
		ctl_send(fd, "X:\n");
		ctl_line(&f, fd, line, sizeof(line));
		assert_string_equal(line,
				    "error: unknown command (E:, P: or S:)");
		/* An endless line closes that client only. The device may
		 * close it before the test is done sending: EPIPE then,
		 * never SIGPIPE. */
		for (int i = 0; i < 64; i++) {
			if (send(fd, "EEEEEEEEEEEEEEEE", 16, MSG_NOSIGNAL) < 0) {
				assert_true(errno == EPIPE ||
					    errno == ECONNRESET);
				break;
			}
		}
		ctl_line(&f, fd, line, sizeof(line));
		assert_string_equal(line, "error: line too long");
		ctl_send(fd2, "E: 0.000000 0001 0030 0001\n"
			      "E: 0.000000 0000 0000 0000\n");
		expect(&f, EV_KEY, KEY_B, 1);
		expect(&f, EV_SYN, 0, 0);
		close(fd);
		close(fd2);
		down(&f);
		assert_int_equal(access(cpath, F_OK), -1);
	}
	unlink(spath);
}

static void test_script_errors(void **state)
{
	static const char *const bad[] = {
		"N",
		"Q: what\n",
		"I: 1 2 3\n",
		"I: 1 2 3 10000\n",
		"I: 1 2 3 4 5\n",
		"P: 100\n",
		"B: 20 00\n",
		"B: 01 zz\n",
		"K: 00 01\n",
		"K: 01 400\n",
		"A: 40 0 1 0 0\n",
		"A: 00 0 1 0\n",
		"A: 00 0 99999999999 0 0\n",
		"A: 00 0 1 0 0 0 0\n",
		"E: 0.0 0001 001e\n",
		"E: 0.1000000 0001 001e 1\n",
		"E: 0.0 10000 001e 1\n",
		"E: x.0 0001 001e 1\n",
	};
	struct input_script s;
	char err[128], big[INPUT_LINE_MAX + 8];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int r = input_script_parse(&s, bad[i], strlen(bad[i]), err,
					   sizeof(err));

		if (r != -EBADMSG)
			fail_msg("\"%s\" gave %d", bad[i], r);
		assert_non_null(strstr(err, "line 1:"));
		assert_null(s.ev);
	}
	/* 17 bytes of P: are too many? No: 128 are allowed, 129 are not. */
	memset(big, 0, sizeof(big));
	strcpy(big, "P:");
	for (int i = 0; i < 129; i++)
		strcat(big, " 00");
	assert_int_equal(input_script_parse(&s, big, strlen(big), err,
					    sizeof(err)), -EBADMSG);
	memset(big, 'N', sizeof(big) - 1);
	assert_int_equal(input_script_parse(&s, big, sizeof(big) - 1, err,
					    sizeof(err)), -EBADMSG);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(input_script_parse(&s, "N: a\0b", 6, err,
					    sizeof(err)), -EBADMSG);
	/* What evemu-record writes parses. */
	assert_int_equal(input_script_parse(&s, script_text,
					    strlen(script_text), err,
					    sizeof(err)), 0);
	assert_int_equal(s.n, 4);
	assert_int_equal(s.ev[2].us, 30000);
	assert_int_equal(s.caps.abs[1].min, -100);
	assert_int_equal(s.caps.abs[0].res, 12);
	assert_string_equal(s.caps.name, "libvdev test tablet");
	input_script_free(&s);
}

static void test_bad_config(void **state)
{
	struct vdev_input_caps c;
	struct vdev_input_config ic = { .caps = &c, .script = "x" };

	(void)state;
	caps_tablet(&c);
	assert_null(vdev_input_new(&ic));
	assert_int_equal(errno, EINVAL);
	ic.script = NULL;
	ic.backlog = 8;
	assert_null(vdev_input_new(&ic));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_input_new(NULL));
	ic = (struct vdev_input_config){ .script = "/nonexistent.evemu" };
	assert_null(vdev_input_new(&ic));
	assert_int_equal(errno, ENOENT);
	ic = (struct vdev_input_config){ .evdev = "/dev/null" };
	assert_null(vdev_input_new(&ic));
	/* qemu-user answers an evdev ioctl it cannot translate ENOSYS. */
	assert_int_equal(errno,
			 getenv("VDEV_TEST_EMULATOR") ? ENOSYS : ENOTTY);
	assert_int_equal(vdev_input_caps_set(&c, 0x20, 0), -EINVAL);
	assert_int_equal(vdev_input_caps_set(&c, 1, 1024), -EINVAL);
}

/* Capabilities and waiting batches move to a fresh device, whose own
 * source differs: the guest keeps seeing what it probed. */
static void test_save_restore(void **state)
{
	const struct vdev_input_event b[] = { ev(EV_KEY, KEY_A, 1),
					      ev(EV_SYN, 0, 0),
					      ev(EV_KEY, KEY_A, 0),
					      ev(EV_SYN, 0, 0) };
	struct vdev_input_caps other;
	struct vdev_input_config oc = { .caps = &other };
	struct vdev_input_config_space c;
	struct vdev *fresh;
	void *blob, *blob2;
	size_t len, len2;
	struct fx f;

	(void)state;
	memset(&other, 0, sizeof(other));
	strcpy(other.name, "another device");
	up(&f, false, 0, 0);
	sel(&f, VDEV_INPUT_CFG_ABS_INFO, ABS_X, &c);
	assert_int_equal(vdev_input_send(f.dev, b, 4), 0);
	assert_int_equal(vdev_vq_stop(f.dev, 0, NULL), 0);
	assert_int_equal(vdev_vq_stop(f.dev, 1, NULL), 0);
	assert_int_equal(vdev_save(f.dev, &blob, &len), 0);
	fresh = vdev_input_new(&oc);
	assert_non_null(fresh);
	assert_int_equal(vdev_set_mem(fresh, vdev_get_mem(f.dev)), 0);
	assert_int_equal(vdev_restore(fresh, blob, len), 0);
	assert_int_equal(vdev_config_read(fresh, 0, &c, sizeof(c)), 0);
	assert_int_equal(c.select, VDEV_INPUT_CFG_ABS_INFO);
	assert_int_equal(c.size, 20);
	assert_int_equal(vdev_le32_to_cpu(c.u.abs.max), 32767);
	assert_int_equal(vdev_vq_stop(fresh, 0, NULL), 0);
	assert_int_equal(vdev_vq_stop(fresh, 1, NULL), 0);
	assert_int_equal(vdev_save(fresh, &blob2, &len2), 0);
	vdev_free(fresh);
	/* Back through the driver's device: the batches arrive. */
	vdev_reset(f.dev);
	assert_int_equal(vdev_restore(f.dev, blob2, len2), 0);
	stock(&f, 4);
	expect(&f, EV_KEY, KEY_A, 1);
	expect(&f, EV_SYN, 0, 0);
	expect(&f, EV_KEY, KEY_A, 0);
	expect(&f, EV_SYN, 0, 0);
	check_config(&f);
	free(blob);
	free(blob2);
	down(&f);
}

/*
 * evdev passthrough against a real evdev node: VDEV_TEST_EVDEV names one
 * whose description VDEV_TEST_EVDEV_NAME gives (the guest test runs this
 * inside a guest, on the virtio-input device a scripted vdev-input serves
 * from the host). Without one, SKIP.
 */
static void test_evdev(void **state)
{
	const char *path = getenv("VDEV_TEST_EVDEV");
	const char *name = getenv("VDEV_TEST_EVDEV_NAME");
	struct vdev_input_config ic = { 0 };
	struct vdev_input_config_space c;
	struct vdev_input_event e;
	uint32_t w;
	struct fx f;
	int fd2;

	(void)state;
	if (!path) {
		skip();
		return;
	}
	ic.evdev = path;
	ic.grab = true;
	up_cfg(&f, false, &ic, 0);
	sel(&f, VDEV_INPUT_CFG_ID_NAME, 0, &c);
	if (name) {
		assert_int_equal(c.size, strlen(name));
		assert_memory_equal(c.u.string, name, c.size);
	}
	sel(&f, VDEV_INPUT_CFG_ABS_INFO, ABS_X, &c);
	printf("evdev: ABS_X %d..%d fuzz %d flat %d res %d\n",
	       (int)vdev_le32_to_cpu(c.u.abs.min),
	       (int)vdev_le32_to_cpu(c.u.abs.max),
	       (int)vdev_le32_to_cpu(c.u.abs.fuzz),
	       (int)vdev_le32_to_cpu(c.u.abs.flat),
	       (int)vdev_le32_to_cpu(c.u.abs.res));
	sel(&f, VDEV_INPUT_CFG_ABS_INFO, VDEV_INPUT_ABS_MT_SLOT, &c);
	printf("evdev: ABS_MT_SLOT size %u max %d\n", c.size,
	       (int)vdev_le32_to_cpu(c.u.abs.max));
	/* Grabbed: a second grab is refused. */
	fd2 = open(path, O_RDONLY);
	assert_true(fd2 >= 0);
	assert_int_equal(ioctl(fd2, EVIOCGRAB, 1), -1);
	assert_int_equal(errno, EBUSY);
	close(fd2);
	stock(&f, 64);
	/* Caps lock on, from our driver: through the statusq it is written
	 * to the evdev node (which only its grabber may do), and on the
	 * guest's own virtio-input device it reaches the host's control
	 * socket, whose client answers with KEY_A down and up. */
	e = ev(EV_LED, LED_CAPSL, 1);
	assert_int_equal(vdev_drv_xfer(f.drv, 1, &e, sizeof(e), NULL, 0, &w,
				       3000), 0);
	/* The node reports the LED change to its readers, us included;
	 * then the round trip through the host (TCG guests are slow). */
	expect_ms(&f, EV_LED, LED_CAPSL, 1, 10000);
	expect_ms(&f, EV_SYN, 0, 0, 5000);
	expect_ms(&f, EV_KEY, KEY_A, 1, 60000);
	expect_ms(&f, EV_SYN, 0, 0, 5000);
	expect_ms(&f, EV_KEY, KEY_A, 0, 5000);
	expect_ms(&f, EV_SYN, 0, 0, 5000);
	down(&f);
}

int main(void)
{
	const struct CMUnitTest evdev_only[] = {
		cmocka_unit_test(test_evdev),
	};
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_batch_whole),
		cmocka_unit_test(test_full_backlog),
		cmocka_unit_test(test_batch_longer_than_ring),
		cmocka_unit_test(test_syn_dropped),
		cmocka_unit_test(test_short_buffer),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_script_errors),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_evdev),
	};

	/* In a guest, only the evdev case has what it needs. */
	if (getenv("VDEV_TEST_EVDEV"))
		return cmocka_run_group_tests(evdev_only, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
