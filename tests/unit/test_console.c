/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-console through the software driver: the MULTIPORT handshake
 * with a console and a named port, data both ways, output held while the
 * host side is away (and the guest held back beyond the cap), a dropping
 * port, hot add and remove, resize, emergency write, malformed control
 * messages, save/restore of held output.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/caps.h>
#include <virtio/console.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#define NAME "org.libvdev.test"

struct fx {
	struct vdev *dev;
	struct vdev_drv *drv;
	int host[2];  /* our ends of ports 0 and 1 */
	char sock[64]; /* port 2: UNIX, held output */
};

static void up(struct fx *f, bool drop2)
{
	int s0[2], s1[2];
	struct vdev_console_port ports[3] = {
		{ .console = true, .backend = VDEV_CONSOLE_FDS },
		{ .name = NAME, .backend = VDEV_CONSOLE_FDS },
		{ .name = "held", .backend = VDEV_CONSOLE_UNIX, .drop = drop2 },
	};
	struct vdev_console_config cfg = {
		.ports = ports, .nports = 3, .max_ports = 4, .buffer = 16,
	};
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };

	memset(f, 0, sizeof(*f));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s0), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, s1), 0);
	ports[0].in_fd = ports[0].out_fd = s0[1];
	ports[1].in_fd = ports[1].out_fd = s1[1];
	snprintf(f->sock, sizeof(f->sock), "/tmp/con-test-%d.sock",
		 (int)getpid());
	ports[2].path = f->sock;
	f->dev = vdev_console_new(&cfg);
	assert_non_null(f->dev);
	close(s0[1]);
	close(s1[1]);
	f->host[0] = s0[0];
	f->host[1] = s1[0];
	fcntl(f->host[0], F_SETFL, O_NONBLOCK);
	fcntl(f->host[1], F_SETFL, O_NONBLOCK);
	f->drv = vdev_drv_new(f->dev, &dc);
	assert_non_null(f->drv);
	assert_int_equal(vdev_drv_init(f->drv), 0);
	assert_int_equal(vdev_drv_num_queues(f->drv), 10);
}

static void down(struct fx *f)
{
	vdev_drv_free(f->drv);
	vdev_free(f->dev);
	close(f->host[0]);
	close(f->host[1]);
	assert_int_equal(access(f->sock, F_OK), -1);
}

static void stock(struct fx *f, unsigned q, unsigned n, uint32_t len)
{
	struct vdev_drv_mem *m = vdev_drv_get_mem(f->drv);

	for (unsigned i = 0; i < n; i++) {
		struct vdev_drv_seg s = { .len = len };
		void *buf = vdev_drv_mem_alloc(m, len, 8, &s.gpa);

		assert_non_null(buf);
		assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(f->drv, q), &s,
						   0, 1, buf, 0), 0);
	}
	assert_int_equal(vdev_drv_kick(f->drv, q), 0);
}

static void ctrl_send(struct fx *f, uint32_t id, uint16_t ev, uint16_t val)
{
	struct vdev_console_control m = {
		.id = vdev_cpu_to_le32(id),
		.event = vdev_cpu_to_le16(ev),
		.value = vdev_cpu_to_le16(val),
	};
	uint32_t w;

	assert_int_equal(vdev_drv_xfer(f->drv, 3, &m, sizeof(m), NULL, 0, &w,
				       3000), 0);
}

/* The next control message; its extra bytes in @extra. */
static void ctrl_expect(struct fx *f, uint32_t id, uint16_t ev, uint16_t val,
			const void *extra, size_t elen)
{
	struct vdev_console_control m;
	uint32_t len;
	void *tok;

	assert_int_equal(vdev_drv_wait(f->drv, 2, 3000, &tok, &len), 0);
	assert_int_equal(len, sizeof(m) + elen);
	memcpy(&m, tok, sizeof(m));
	if (vdev_le32_to_cpu(m.id) != id || vdev_le16_to_cpu(m.event) != ev ||
	    vdev_le16_to_cpu(m.value) != val)
		fail_msg("control: id %u event %u value %u, want %u %u %u",
			 vdev_le32_to_cpu(m.id), vdev_le16_to_cpu(m.event),
			 vdev_le16_to_cpu(m.value), id, ev, val);
	if (elen)
		assert_memory_equal((uint8_t *)tok + sizeof(m), extra, elen);
}

static void handshake_open(struct fx *f)
{
	stock(f, 2, 32, 256);
	ctrl_send(f, 0, VDEV_CONSOLE_DEVICE_READY, 1);
	for (unsigned i = 0; i < 3; i++)
		ctrl_expect(f, i, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_send(f, 2, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(f, 2, VDEV_CONSOLE_PORT_NAME, 1, "held", 4);
	ctrl_expect(f, 2, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	/* host input waits for the guest to open the port */
	assert_int_equal(vdev_drv_wait(f->drv, 6, 200, NULL, NULL), -ETIMEDOUT);
	ctrl_send(f, 2, VDEV_CONSOLE_PORT_OPEN, 1);
}

static void handshake(struct fx *f)
{
	stock(f, 2, 32, 256);
	ctrl_send(f, 0, VDEV_CONSOLE_DEVICE_READY, 1);
	ctrl_expect(f, 0, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_expect(f, 1, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_expect(f, 2, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_send(f, 0, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(f, 0, VDEV_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
	ctrl_expect(f, 0, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	ctrl_send(f, 1, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(f, 1, VDEV_CONSOLE_PORT_NAME, 1, NAME, strlen(NAME));
	ctrl_expect(f, 1, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	ctrl_send(f, 2, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(f, 2, VDEV_CONSOLE_PORT_NAME, 1, "held", 4);
	ctrl_expect(f, 2, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
	ctrl_send(f, 1, VDEV_CONSOLE_PORT_OPEN, 1);
}

/* Guest output on tx queue @q, completed within 3 s. */
static void guest_write(struct fx *f, unsigned q, const char *s)
{
	uint32_t w;

	assert_int_equal(vdev_drv_xfer(f->drv, q, s, strlen(s), NULL, 0, &w,
				       3000), 0);
}

/* Reads exactly @n bytes from @fd within 3 s, running the driver. */
static void host_read(struct fx *f, int fd, char *buf, size_t n)
{
	size_t got = 0;

	for (int i = 0; i < 600 && got < n; i++) {
		ssize_t r = read(fd, buf + got, n - got);

		if (r > 0)
			got += (size_t)r;
		else
			vdev_drv_poll(f->drv, 5);
	}
	assert_int_equal(got, n);
}

static void test_handshake_and_data(void **state)
{
	char buf[64];
	uint32_t len;
	void *tok;
	struct fx f;

	(void)state;
	up(&f, false);
	handshake(&f);
	/* named port: both ways, any bytes */
	guest_write(&f, 5, "hello\xff\x00x");
	host_read(&f, f.host[1], buf, 6);
	assert_memory_equal(buf, "hello\xff", 6);
	stock(&f, 4, 2, 64);
	assert_int_equal(write(f.host[1], "w\0rld", 5), 5);
	assert_int_equal(vdev_drv_wait(f.drv, 4, 3000, &tok, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(tok, "w\0rld", 5);
	/* the console, port 0 (queues 0 and 1) */
	guest_write(&f, 1, "ping\n");
	host_read(&f, f.host[0], buf, 5);
	assert_memory_equal(buf, "ping\n", 5);
	assert_true(vdev_has_capability(VDEV_CAP_DEVICE, "console"));
	down(&f);
}

static int connect_to(const char *path)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	return fd;
}

/* Host away: 16 bytes are held, then the guest waits; a client gets
 * them in order, and the guest goes on. */
static void test_held_output(void **state)
{
	struct vdev_drv_ring *r;
	struct vdev_drv_mem *m;
	char buf[32];
	uint32_t len;
	void *tok;
	struct fx f;
	int k;

	(void)state;
	up(&f, false);
	handshake(&f);
	r = vdev_drv_ring(f.drv, 7);
	m = vdev_drv_get_mem(f.drv);
	for (int i = 0; i < 3; i++) {
		struct vdev_drv_seg s = { .len = 10 };
		char *b = vdev_drv_mem_alloc(m, 10, 8, &s.gpa);

		memset(b, 'a' + i, 10);
		assert_int_equal(vdev_drv_ring_add(r, &s, 1, 0, b, 0), 0);
	}
	assert_int_equal(vdev_drv_kick(f.drv, 7), 0);
	/* the first fits; the second is taken in part and waits */
	assert_int_equal(vdev_drv_wait(f.drv, 7, 3000, &tok, &len), 0);
	assert_int_equal(vdev_drv_wait(f.drv, 7, 200, &tok, &len), -ETIMEDOUT);
	k = connect_to(f.sock);
	ctrl_expect(&f, 2, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	host_read(&f, k, buf, 30);
	assert_memory_equal(buf, "aaaaaaaaaabbbbbbbbbbcccccccccc", 30);
	assert_int_equal(vdev_drv_wait(f.drv, 7, 3000, &tok, &len), 0);
	assert_int_equal(vdev_drv_wait(f.drv, 7, 3000, &tok, &len), 0);
	/* the client leaves: the guest hears it */
	close(k);
	ctrl_expect(&f, 2, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
	down(&f);
}

/* A dropping port loses output while nobody is there, never blocks. */
static void test_drop(void **state)
{
	char buf[8];
	struct fx f;
	int k;

	(void)state;
	up(&f, true);
	handshake(&f);
	for (int i = 0; i < 8; i++)
		guest_write(&f, 7, "0123456789");
	k = connect_to(f.sock);
	ctrl_expect(&f, 2, VDEV_CONSOLE_PORT_OPEN, 1, NULL, 0);
	guest_write(&f, 7, "new");
	host_read(&f, k, buf, 3);
	assert_memory_equal(buf, "new", 3);
	close(k);
	down(&f);
}

static void test_hotplug_resize_emerg(void **state)
{
	struct vdev_console_port p3 = { .name = "late",
					.backend = VDEV_CONSOLE_NONE };
	struct vdev_console_config_space cs;
	vdev_le16 size[2];
	unsigned before;
	uint8_t z = 'Z';
	char c;
	struct fx f;

	(void)state;
	up(&f, false);
	handshake(&f);
	assert_int_equal(vdev_console_add_port(f.dev, 3, &p3), 0);
	ctrl_expect(&f, 3, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	assert_int_equal(vdev_console_add_port(f.dev, 3, &p3), -EEXIST);
	assert_int_equal(vdev_console_add_port(f.dev, 4, &p3), -EINVAL);
	ctrl_send(&f, 3, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(&f, 3, VDEV_CONSOLE_PORT_NAME, 1, "late", 4);
	ctrl_expect(&f, 3, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
	assert_int_equal(vdev_console_remove_port(f.dev, 1), 0);
	ctrl_expect(&f, 1, VDEV_CONSOLE_DEVICE_REMOVE, 0, NULL, 0);
	assert_int_equal(vdev_console_remove_port(f.dev, 1), -ENOENT);
	/* resize: a RESIZE for the console (cols, then rows) and config
	 * space */
	before = vdev_drv_config_interrupts(f.drv);
	assert_int_equal(vdev_console_resize(f.dev, 0, 132, 43), 0);
	size[0] = vdev_cpu_to_le16(132);
	size[1] = vdev_cpu_to_le16(43);
	ctrl_expect(&f, 0, VDEV_CONSOLE_RESIZE, 0, size, sizeof(size));
	assert_int_equal(vdev_drv_config_read(f.drv, 0, &cs, sizeof(cs)), 0);
	assert_int_equal(vdev_le16_to_cpu(cs.cols), 132);
	assert_int_equal(vdev_le16_to_cpu(cs.rows), 43);
	assert_int_equal(vdev_le32_to_cpu(cs.max_nr_ports), 4);
	assert_true(vdev_drv_config_interrupts(f.drv) > before);
	assert_int_equal(vdev_console_resize(f.dev, 3, 1, 1), -ENOENT);
	/* emergency write: straight to port 0's host side */
	assert_int_equal(vdev_drv_config_write(f.drv, 8, &z, 1), 0);
	host_read(&f, f.host[0], &c, 1);
	assert_int_equal(c, 'Z');
	/* the rest of config space is not the driver's */
	cs.cols = vdev_cpu_to_le16(1);
	assert_int_equal(vdev_drv_config_write(f.drv, 0, &cs, sizeof(cs)),
			 -EPERM);
	down(&f);
}

/* Malformed and unexpected control messages are counted and ignored:
 * the device goes on. */
static void test_bad_control(void **state)
{
	uint32_t w;
	struct fx f;

	(void)state;
	up(&f, false);
	stock(&f, 2, 8, 256);
	assert_int_equal(vdev_drv_xfer(f.drv, 3, "abcd", 4, NULL, 0, &w, 3000),
			 0);
	ctrl_send(&f, 9, VDEV_CONSOLE_PORT_READY, 1);   /* no such port */
	ctrl_send(&f, 1, VDEV_CONSOLE_PORT_READY, 1);   /* before ADD */
	ctrl_send(&f, 0, 77, 1);                        /* unknown */
	ctrl_send(&f, 0xffffffffu, VDEV_CONSOLE_PORT_OPEN, 1);
	ctrl_send(&f, 0, VDEV_CONSOLE_DEVICE_READY, 0); /* failed */
	assert_int_equal(vdev_drv_wait(f.drv, 2, 100, NULL, &w), -ETIMEDOUT);
	assert_false(vdev_drv_status(f.drv) & VDEV_STATUS_DEVICE_NEEDS_RESET);
	handshake(&f);
	down(&f);
}

static void test_bad_config(void **state)
{
	struct vdev_console_port p = { .backend = VDEV_CONSOLE_UNIX };
	char longname[VDEV_CONSOLE_NAME_MAX + 2];
	struct vdev_console_config cfg = { .ports = &p, .nports = 1 };

	(void)state;
	assert_null(vdev_console_new(&cfg)); /* UNIX without a path */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	p = (struct vdev_console_port){ .name = longname };
	assert_null(vdev_console_new(&cfg));
	assert_int_equal(errno, EINVAL);
	cfg.max_ports = VDEV_CONSOLE_PORTS_MAX + 1;
	p.name = NULL;
	assert_null(vdev_console_new(&cfg));
	cfg.max_ports = 0;
	cfg.nports = 0;
	assert_null(vdev_console_new(&cfg));
	assert_null(vdev_console_new(NULL));
}

/* Output held for an absent host survives save and restore. */
static void test_save_restore(void **state)
{
	char buf[16];
	void *blob;
	size_t len;
	struct fx f;
	int k;

	(void)state;
	up(&f, false);
	handshake(&f);
	guest_write(&f, 7, "kept bytes");
	for (unsigned q = 0; q < 10; q++)
		assert_int_equal(vdev_vq_stop(f.dev, q, NULL), 0);
	assert_int_equal(vdev_save(f.dev, &blob, &len), 0);
	vdev_reset(f.dev);
	assert_int_equal(vdev_restore(f.dev, blob, len), 0);
	free(blob);
	k = connect_to(f.sock);
	host_read(&f, k, buf, 10);
	assert_memory_equal(buf, "kept bytes", 10);
	close(k);
	down(&f);
}

/* A host client that connected and sent before the driver was ready:
 * its bytes reach the guest once the port is. */
static void test_early_client(void **state)
{
	uint32_t len;
	void *tok;
	struct fx f;
	int k;

	(void)state;
	up(&f, false);
	k = connect_to(f.sock);
	assert_int_equal(write(k, "early", 5), 5);
	vdev_drv_poll(f.drv, 50);
	stock(&f, 6, 4, 64);
	handshake_open(&f);
	assert_int_equal(vdev_drv_wait(f.drv, 6, 3000, &tok, &len), 0);
	assert_int_equal(len, 5);
	assert_memory_equal(tok, "early", 5);
	close(k);
	down(&f);
}

static void test_parse_port(void **state)
{
	struct vdev_console_port p;
	char a[] = "name=org.qemu.guest_agent.0,console=off,backend=unix:/x.sock";
	char b[] = "backend=tcp:12345,console=on,drop=on";
	char c[] = "backend=stdio";
	static const char *const bad[] = {
		"name=", "console=maybe", "backend=tcp:0", "backend=tcp:70000",
		"backend=unix:", "backend=serial", "colour=red", "name",
	};

	(void)state;
	assert_int_equal(vdev_console_parse_port(a, &p), 0);
	assert_string_equal(p.name, "org.qemu.guest_agent.0");
	assert_false(p.console);
	assert_int_equal(p.backend, VDEV_CONSOLE_UNIX);
	assert_string_equal(p.path, "/x.sock");
	assert_int_equal(vdev_console_parse_port(b, &p), 0);
	assert_int_equal(p.backend, VDEV_CONSOLE_TCP);
	assert_int_equal(p.tcp_port, 12345);
	assert_true(p.console && p.drop);
	assert_int_equal(vdev_console_parse_port(c, &p), 0);
	assert_int_equal(p.backend, VDEV_CONSOLE_FDS);
	assert_int_equal(p.in_fd, 0);
	assert_int_equal(p.out_fd, 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char buf[64];

		snprintf(buf, sizeof(buf), "%s", bad[i]);
		if (vdev_console_parse_port(buf, &p) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
	}
}

/* The control socket: resize, remove and add by line, errors said. */
static void test_control_socket(void **state)
{
	struct vdev_console_port ports[2] = {
		{ .console = true, .backend = VDEV_CONSOLE_NONE },
		{ .name = NAME, .backend = VDEV_CONSOLE_NONE },
	};
	struct vdev_console_config cfg = { .ports = ports, .nports = 2,
					   .max_ports = 3 };
	struct vdev_drv_config dc = { .use_eventfds = true, .queue_size = 64 };
	static const char *const cmds[][2] = {
		{ "resize 0 100 40\n", "ok\n" },
		{ "remove 1\n", "ok\n" },
		{ "remove 1\n", "error: No such file or directory\n" },
		{ "add 2 name=late,backend=none\n", "ok\n" },
		{ "add 2 backend=stdio\n", "error: Invalid argument\n" },
		{ "reboot\n", "error: resize ID COLS ROWS, remove ID or add ID "
			      "SPEC\n" },
	};
	char ctl[64], buf[128];
	struct fx f;
	int k;

	(void)state;
	memset(&f, 0, sizeof(f));
	f.host[0] = f.host[1] = -1;
	snprintf(ctl, sizeof(ctl), "/tmp/con-ctl-%d.sock", (int)getpid());
	cfg.control = ctl;
	f.dev = vdev_console_new(&cfg);
	assert_non_null(f.dev);
	f.drv = vdev_drv_new(f.dev, &dc);
	assert_non_null(f.drv);
	assert_int_equal(vdev_drv_init(f.drv), 0);
	stock(&f, 2, 16, 256);
	ctrl_send(&f, 0, VDEV_CONSOLE_DEVICE_READY, 1);
	ctrl_expect(&f, 0, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_expect(&f, 1, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
	ctrl_send(&f, 0, VDEV_CONSOLE_PORT_READY, 1);
	ctrl_expect(&f, 0, VDEV_CONSOLE_CONSOLE_PORT, 1, NULL, 0);
	ctrl_expect(&f, 0, VDEV_CONSOLE_PORT_OPEN, 0, NULL, 0);
	k = connect_to(ctl);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		size_t want = strlen(cmds[i][1]);

		assert_int_equal(write(k, cmds[i][0], strlen(cmds[i][0])),
				 (ssize_t)strlen(cmds[i][0]));
		host_read(&f, k, buf, want);
		assert_memory_equal(buf, cmds[i][1], want);
		if (i == 0) {
			vdev_le16 size[2] = { vdev_cpu_to_le16(100),
					      vdev_cpu_to_le16(40) };

			ctrl_expect(&f, 0, VDEV_CONSOLE_RESIZE, 0, size,
				    sizeof(size));
		} else if (i == 1) {
			ctrl_expect(&f, 1, VDEV_CONSOLE_DEVICE_REMOVE, 0, NULL,
				    0);
		} else if (i == 3) {
			ctrl_expect(&f, 2, VDEV_CONSOLE_DEVICE_ADD, 0, NULL, 0);
		}
	}
	close(k);
	vdev_drv_free(f.drv);
	vdev_free(f.dev);
	assert_int_equal(access(ctl, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_and_data),
		cmocka_unit_test(test_held_output),
		cmocka_unit_test(test_drop),
		cmocka_unit_test(test_hotplug_resize_emerg),
		cmocka_unit_test(test_bad_control),
		cmocka_unit_test(test_bad_config),
		cmocka_unit_test(test_save_restore),
		cmocka_unit_test(test_early_client),
		cmocka_unit_test(test_parse_port),
		cmocka_unit_test(test_control_socket),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
