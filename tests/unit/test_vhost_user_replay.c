/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay of captured vhost-user conversations (tests/data/vhost-user/NAME.txt,
 * written by the adapter's capture mode). Each "recv" line is sent to a
 * fresh adapter serving vdev-rng, with fds synthesised from its fdinfo
 * (memfd of the stated size, eventfd, socketpair end, pipe end); a reply
 * is awaited where the capture had one. The replies and the device state
 * (before and after the disconnect) are written as text and compared with
 * <name>.expected; VDEV_REGENERATE=1 rewrites the expected file instead.
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
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/le.h>
#include <virtio/rng.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "adapters/vhost-user/vhu_internal.h"
#include "vhu_frontend.h"

struct out {
	char *buf;
	size_t len, cap;
};

static void outf(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if ((size_t)n < o->cap - o->len)
			break;
		o->cap = o->cap * 2 + (size_t)n + 256;
		o->buf = realloc(o->buf, o->cap);
		assert_non_null(o->buf);
	}
	o->len += (size_t)n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Makes an fd like the one described ("eventfd", "memfd:SIZE", ...);
 * @keep receives a peer end to hold open (socket, pipe), or -1. */
static int make_fd(const char *desc, size_t len, int *keep)
{
	int fd = -1, p[2];

	*keep = -1;
	if (len == 7 && !strncmp(desc, "eventfd", 7)) {
		fd = eventfd(0, EFD_CLOEXEC);
	} else if (len > 6 && !strncmp(desc, "memfd:", 6)) {
		fd = memfd_create("replay", MFD_CLOEXEC);
		if (fd >= 0 && ftruncate(fd, (off_t)strtoull(desc + 6, NULL,
							     10)) < 0) {
			close(fd);
			fd = -1;
		}
	} else if (len == 6 && !strncmp(desc, "socket", 6)) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) == 0) {
			fd = p[0];
			*keep = p[1];
		}
	} else if (len == 4 && !strncmp(desc, "pipe", 4)) {
		if (pipe2(p, O_CLOEXEC) == 0) {
			fd = p[1];
			*keep = p[0];
		}
	}
	return fd;
}

/*
 * The captures come from x86-64, and vhost-user numbers are in the host's
 * byte order: on a big-endian host each field of a captured payload is
 * swapped (as that host's frontend would have sent it), and each reply is
 * swapped back before it is compared, so one .expected file serves both.
 * The layouts are vhost-user.rst's, written out here independently of the
 * adapter's structures. Config space bytes are virtio's (little-endian
 * everywhere) and stay as they are.
 */
static void swap_field(uint8_t *p, unsigned n)
{
	for (unsigned i = 0; i < n / 2; i++) {
		uint8_t t = p[i];

		p[i] = p[n - 1 - i];
		p[n - 1 - i] = t;
	}
}

static void swap_fields(uint8_t *p, uint32_t size, const char *layout)
{
	uint32_t off = 0;

	for (const char *f = layout; *f && off < size; f++) {
		unsigned n = (unsigned)(*f - '0');

		if (off + n > size)
			break;
		swap_field(p + off, n);
		off += n;
	}
}

static void capture_order(uint32_t req, uint8_t *p, uint32_t size)
{
	if (!VDEV_HOST_BIG_ENDIAN)
		return;
	switch (req) {
	case 5: /* SET_MEM_TABLE: nregions, padding, then the regions */
		swap_fields(p, size, "44");
		for (uint32_t off = 8; off + 32 <= size; off += 32)
			swap_fields(p + off, 32, "8888");
		break;
	case 6: /* SET_LOG_BASE */
		swap_fields(p, size, "88");
		break;
	case 8: case 10: case 11: case 18: case 35: case 42:
		/* vring state (and the device state transfer parameters) */
		swap_fields(p, size, "44");
		break;
	case 9: /* SET_VRING_ADDR */
		swap_fields(p, size, "448888");
		break;
	case 24: case 25: /* GET/SET_CONFIG: offset, size, flags */
		swap_fields(p, size, "444");
		break;
	case 31: case 32: /* GET/SET_INFLIGHT_FD */
		swap_fields(p, size, "8822");
		break;
	case 37: case 38: /* ADD/REM_MEM_REG: padding, one region */
		swap_fields(p, size, "88888");
		break;
	default: /* a u64 or nothing */
		if (size == 8)
			swap_field(p, 8);
		break;
	}
}

struct line {
	bool recv, reply;
	uint32_t req, flags, size;
	unsigned nfds;
	char fdinfo[256];
	uint8_t payload[512];
};

static bool parse_line(const char *s, struct line *l)
{
	const char *p;

	memset(l, 0, sizeof(*l));
	l->recv = !strncmp(s, "recv ", 5);
	l->reply = !strncmp(s, "reply ", 6);
	if (!l->recv && !l->reply)
		return false;
	if (sscanf(strstr(s, "req="), "req=%u flags=%x size=%u fds=%u",
		   &l->req, &l->flags, &l->size, &l->nfds) != 4)
		return false;
	p = strstr(s, "fdinfo=");
	if (p)
		sscanf(p, "fdinfo=%255s", l->fdinfo);
	p = strstr(s, "payload=");
	if (!p || l->size > sizeof(l->payload))
		return false;
	p += 8;
	for (uint32_t i = 0; i < l->size; i++) {
		int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		l->payload[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}

static void dump_state(struct out *o, const char *when, struct vdev *dev)
{
	struct vdev_mem *mem = vdev_get_mem(dev);

	outf(o, "  state%s: features=0x%llx status=0x%x regions=%u", when,
	     (unsigned long long)vdev_driver_features(dev),
	     vdev_get_status(dev), mem ? vdev_mem_count(mem) : 0);
	for (unsigned q = 0; q < vdev_num_queues(dev); q++)
		outf(o, " q%u=%s", q, vdev_vq_enabled(dev, q) ? "on" : "off");
	outf(o, "\n");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *b = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		b = calloc(1, (size_t)n + 1);
		if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
			free(b);
			b = NULL;
		}
		*len = (size_t)n;
	}
	fclose(f);
	return b;
}

static const struct vdev_vhost_user_config inband = {
	.protocol_features_on =
		VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS),
};

static void replay(const char *name)
{
	const char *data = getenv("VDEV_TEST_DATA");
	char path[512], exp_path[512], src[512];
	struct vdev_rng_config rc = { 0 };
	struct vhu_fe_server srv;
	struct out o = { 0 };
	struct vhu_fe *fe;
	struct vdev *dev;
	int keep[64], nkeep = 0;
	char text[4096];
	unsigned fds_before;
	FILE *f;

	assert_non_null(data);
	snprintf(path, sizeof(path), "%s/vhost-user/%s.txt", data, name);
	snprintf(exp_path, sizeof(exp_path), "%s/vhost-user/%s.expected", data,
		 name);
	snprintf(src, sizeof(src), "%s/vhost-user/%s.txt", data, name);
	rc.source = src; /* any known file */
	dev = vdev_rng_new(&rc);
	assert_non_null(dev);
	/* As the captures were made: the daemon then offered
	 * INBAND_NOTIFICATIONS by default, and UML used it. */
	assert_int_equal(vhu_fe_server_start(&srv, dev, &inband), 0);
	fds_before = vhu_fe_count_fds();
	fe = vhu_fe_connect(srv.path, 2000);
	assert_non_null(fe);
	f = fopen(path, "r");
	assert_non_null(f);

	struct line cur, next;
	bool have_next = false, have_cur = false;

	/* Reads ahead one line: a "reply" after a "recv" means one is owed. */
	for (;;) {
		if (!have_next) {
			while (fgets(text, sizeof(text), f))
				if (parse_line(text, &next)) {
					have_next = true;
					break;
				}
		}
		if (have_cur) {
			bool want_reply = have_next && next.reply &&
					  next.req == cur.req;
			int fds[8], n = 0;
			const char *d = cur.fdinfo;

			while (*d && n < 8) {
				size_t len = strcspn(d, ",");
				int k;

				fds[n] = make_fd(d, len, &k);
				assert_true(fds[n] >= 0);
				n++;
				if (k >= 0 && nkeep < 64)
					keep[nkeep++] = k;
				d += len + (d[len] == ',');
			}
			assert_int_equal((unsigned)n, cur.nfds);
			outf(&o, "send %s flags=0x%x size=%u fds=%u\n",
			     vhu_req_name(cur.req), cur.flags, cur.size,
			     cur.nfds);
			capture_order(cur.req, cur.payload, cur.size);
			assert_int_equal(vhu_fe_send(fe, cur.req, cur.flags,
						     cur.payload, cur.size,
						     fds, (unsigned)n), 0);
			for (int i = 0; i < n; i++)
				close(fds[i]);
			if (want_reply) {
				struct vhu_fe_msg r;
				int ret = vhu_fe_recv(fe->fd, &r, 2000);

				if (ret) {
					outf(&o, "  no reply (%s)\n",
					     strerror(-ret));
				} else {
					capture_order(r.request, r.payload,
						      r.size);
					outf(&o, "  reply %s flags=0x%x size=%u fds=%u payload=",
					     vhu_req_name(r.request), r.flags,
					     r.size, r.nfds);
					for (uint32_t i = 0; i < r.size; i++)
						outf(&o, "%02x", r.payload[i]);
					outf(&o, "\n");
					for (unsigned i = 0; i < r.nfds; i++)
						close(r.fds[i]);
				}
			}
			/* The state each message leaves behind; a round
			 * trip first so the adapter has handled it. */
			if (!want_reply) {
				uint64_t v;

				assert_int_equal(vhu_fe_get_u64(
					fe, VHU_FE_GET_FEATURES, &v), 0);
			}
			dump_state(&o, "", dev);
			have_cur = false;
		}
		if (!have_next)
			break;
		if (next.recv) {
			cur = next;
			have_cur = true;
		}
		have_next = false;
	}
	fclose(f);
	/* One more round trip: everything above has been handled. */
	{
		uint64_t v;

		assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	}
	dump_state(&o, " connected", dev);
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&srv, 2000));
	dump_state(&o, " disconnected", dev);
	for (int i = 0; i < nkeep; i++)
		close(keep[i]);
	assert_int_equal(vhu_fe_count_fds(), fds_before);
	vhu_fe_server_stop(&srv);
	vdev_free(dev);

	if (getenv("VDEV_REGENERATE")) {
		f = fopen(exp_path, "w");
		assert_non_null(f);
		assert_int_equal(fwrite(o.buf, 1, o.len, f), o.len);
		fclose(f);
		print_message("regenerated %s\n", exp_path);
	} else {
		size_t elen = 0;
		char *exp = slurp(exp_path, &elen);

		if (!exp)
			fail_msg("%s missing: run with VDEV_REGENERATE=1",
				 exp_path);
		if (elen != o.len || memcmp(exp, o.buf, o.len)) {
			print_error("replay output differs from %s:\n%s",
				    exp_path, o.buf);
			free(exp);
			fail();
		}
		free(exp);
	}
	free(o.buf);
}

static void test_qemu_rng(void **state)
{
	replay("qemu-rng");
}

static void test_uml_rng(void **state)
{
	replay("uml-rng");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qemu_rng),
		cmocka_unit_test(test_uml_rng),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
