/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Structs that grow without breaking old binaries (api.h, docs/abi.md):
 * every call that reads a struct its caller fills in takes the size the
 * caller compiled it with. These tests call the functions themselves
 * (the names in parentheses skip the macros that pass sizeof) to play
 *  - an old caller: a smaller struct, whose later fields the library
 *    must take as zero (their defaults) whatever lies beyond;
 *  - a newer caller: a larger struct, accepted when the bytes this
 *    library does not know are zero, refused (EINVAL) when not;
 * for every kind of such call: device configs (one of them with an array
 * of element structs), vdev_new's info and ops, the transports' configs
 * (vfio-user's with the PCI identity it points to), the software driver's
 * config, and the daemon table with its options.
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/blk.h>
#include <virtio/caps.h>
#include <virtio/console.h>
#include <virtio/daemon.h>
#include <virtio/gpio.h>
#include <virtio/i2c.h>
#include <virtio/mmio.h>
#include <virtio/net.h>
#include <virtio/pci.h>
#include <virtio/rng.h>
#include <virtio/scsi.h>
#include <virtio/sound.h>
#include <virtio/testing.h>
#include <virtio/vfio-user.h>
#include <virtio/vhost-user.h>
#include <virtio/vsock.h>

#include "core/sized.h"

/* A struct as a newer header might declare it: ours, then more. */
#define GROWN(T)                                                            \
	struct {                                                            \
		T s;                                                        \
		uint64_t more[2];                                           \
	}

static void test_copy_rules(void **state)
{
	struct { uint32_t a, b; } dst;
	uint32_t src[4] = { 1, 2, 0, 0 };

	(void)state;
	/* Old: b is not the caller's, so it is zero. */
	src[1] = 0xdead;
	assert_int_equal(vsized_copy(&dst, sizeof(dst), src, 4), 0);
	assert_int_equal(dst.a, 1);
	assert_int_equal(dst.b, 0);
	/* Same size; newer with a zero tail. */
	src[1] = 2;
	assert_int_equal(vsized_copy(&dst, sizeof(dst), src, 8), 0);
	assert_int_equal(dst.b, 2);
	assert_int_equal(vsized_copy(&dst, sizeof(dst), src, 16), 0);
	assert_int_equal(dst.b, 2);
	/* Newer, asking for something: refused, dst untouched. */
	src[3] = 1;
	dst.a = 7;
	assert_int_equal(vsized_copy(&dst, sizeof(dst), src, 16), -EINVAL);
	assert_int_equal(dst.a, 7);
	/* No size at all: a caller that did not say. */
	assert_int_equal(vsized_copy(&dst, sizeof(dst), src, 0), -EINVAL);
}

/* vdev_rng_new with a config of @size bytes whose queue_size says 64. */
static struct vdev *rng_sized(size_t size, uint64_t more)
{
	GROWN(struct vdev_rng_config) g;

	memset(&g, 0, sizeof(g));
	g.s.queue_size = 64;
	g.more[1] = more;
	return (vdev_rng_new)(&g.s, size);
}

static void test_device_config(void **state)
{
	struct vdev *dev;

	(void)state;
	/* A caller from before queue_size existed: the default (1024), not
	 * the 64 that happens to lie beyond its struct. */
	dev = rng_sized(offsetof(struct vdev_rng_config, queue_size), 0);
	assert_non_null(dev);
	assert_int_equal(vdev_get_info(dev)->max_queue_size, 1024);
	vdev_free(dev);
	dev = rng_sized(sizeof(struct vdev_rng_config), 0);
	assert_non_null(dev);
	assert_int_equal(vdev_get_info(dev)->max_queue_size, 64);
	vdev_free(dev);
	/* Newer: fine while the new fields are zero (their defaults). */
	dev = rng_sized(sizeof(GROWN(struct vdev_rng_config)), 0);
	assert_non_null(dev);
	assert_int_equal(vdev_get_info(dev)->max_queue_size, 64);
	vdev_free(dev);
	errno = 0;
	assert_null(rng_sized(sizeof(GROWN(struct vdev_rng_config)), 1));
	assert_int_equal(errno, EINVAL);
	errno = 0;
	assert_null(rng_sized(0, 0));
	assert_int_equal(errno, EINVAL);
}

/* Each device constructor: accepted at a larger size with a zero tail,
 * refused with anything in it. @cfg: a valid config (a variable). */
#define TAIL_CASE(dev, cfg, ...)                                            \
	do {                                                                \
		GROWN(__typeof__(cfg)) g;                                   \
		struct vdev *d;                                             \
                                                                            \
		memset(&g, 0, sizeof(g));                                   \
		g.s = (cfg);                                                \
		d = (dev)(&g.s, sizeof(g), ##__VA_ARGS__);                  \
		if (!d)                                                     \
			fail_msg(#dev ": %s", strerror(errno));             \
		vdev_free(d);                                               \
		g.more[0] = 1;                                              \
		errno = 0;                                                  \
		assert_null((dev)(&g.s, sizeof(g), ##__VA_ARGS__));         \
		assert_int_equal(errno, EINVAL);                            \
	} while (0)

static void test_every_device(void **state)
{
	const struct vdev_i2c_client lm75 = { .kind = VDEV_I2C_LM75,
					      .addr = 0x48 };
	const struct vdev_sound_stream out = { .direction = VDEV_SND_D_OUTPUT };
	const struct vdev_console_port port = { .backend =
							VDEV_CONSOLE_NONE };
	struct vdev_rng_config rng = { .queue_size = 64 };
	struct vdev_gpio_config gpio = { .sim_lines = 2 };
	struct vdev_i2c_config i2c = { .clients = &lm75, .nclients = 1 };
	struct vdev_sound_config snd = { .num_streams = 1, .streams = &out };
	struct vdev_console_config con = { .ports = &port, .nports = 1 };
	struct vdev_net_config net = { .backend = VDEV_NET_SINK };
	struct vdev_vsock_config vsock = { .guest_cid = 3 };
	char img[] = "/tmp/vdev-abi-img-XXXXXX";
	const char *paths[] = { img };
	struct vdev_blk_config blk = { .path = img };
	struct vdev_scsi_config scsi = { .paths = paths, .num_luns = 1 };
	int fd = mkstemp(img);

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 1 << 20), 0);
	close(fd);
	TAIL_CASE(vdev_blk_new, blk);
	TAIL_CASE(vdev_scsi_new, scsi);
	unlink(img);
	TAIL_CASE(vdev_net_new, net);
	TAIL_CASE(vdev_vsock_new, vsock);
	TAIL_CASE(vdev_rng_new, rng);
	TAIL_CASE(vdev_gpio_new, gpio);
	TAIL_CASE(vdev_i2c_new, i2c, sizeof(struct vdev_i2c_client));
	TAIL_CASE(vdev_sound_new, snd, sizeof(struct vdev_sound_stream));
	TAIL_CASE(vdev_console_new, con, sizeof(struct vdev_console_port));
}

/* Arrays of element structs are read at the caller's element size. */
static void test_element_arrays(void **state)
{
	GROWN(struct vdev_i2c_client) c[2];
	struct vdev_i2c_config cfg = { .nclients = 2 };
	struct vdev *d;

	(void)state;
	memset(c, 0, sizeof(c));
	c[0].s = (struct vdev_i2c_client){ .kind = VDEV_I2C_LM75,
					    .addr = 0x48 };
	c[1].s = (struct vdev_i2c_client){ .kind = VDEV_I2C_LM75,
					    .addr = 0x49 };
	cfg.clients = &c[0].s;
	d = (vdev_i2c_new)(&cfg, sizeof(cfg), sizeof(c[0]));
	assert_non_null(d);
	/* Both clients were read at the right stride: each answers. */
	assert_int_equal(vdev_i2c_sim_set_temp(d, 0x48, 1000), 0);
	assert_int_equal(vdev_i2c_sim_set_temp(d, 0x49, 1000), 0);
	assert_int_equal(vdev_i2c_sim_set_temp(d, 0x4a, 1000), -EINVAL);
	vdev_free(d);
	c[1].more[1] = 1;
	errno = 0;
	assert_null((vdev_i2c_new)(&cfg, sizeof(cfg), sizeof(c[0])));
	assert_int_equal(errno, EINVAL);
	/* A port the console parses is written at the caller's size. */
	{
		char spec[] = "name=a,console=on";
		struct vdev_console_port p[2];

		memset(p, 0xa5, sizeof(p));
		assert_int_equal((vdev_console_parse_port)(
					 spec, &p[0],
					 offsetof(struct vdev_console_port,
						  backend)),
				 0);
		assert_string_equal(p[0].name, "a");
		assert_true(p[0].console);
		/* Not a byte past the size it was given. */
		assert_int_equal(((unsigned char *)&p[0])[offsetof(
					 struct vdev_console_port, backend)],
				 0xa5);
	}
}

/* What the library fills in is written at the caller's size. */
static void test_outputs(void **state)
{
	struct vdev *d = vdev_net_new(&(struct vdev_net_config){
		.backend = VDEV_NET_SINK });
	GROWN(struct vdev_net_stats) g;

	(void)state;
	assert_non_null(d);
	memset(&g, 0xa5, sizeof(g));
	assert_int_equal((vdev_net_get_stats)(d, 0, &g.s, 8), 0);
	/* An old caller's struct of 8 bytes: nothing past it. */
	assert_int_equal(((unsigned char *)&g)[8], 0xa5);
	/* A newer caller's: the fields we do not know are zero. */
	assert_int_equal((vdev_net_get_stats)(d, 0, &g.s, sizeof(g)), 0);
	assert_int_equal(g.more[0], 0);
	assert_int_equal(g.more[1], 0);
	assert_int_equal((vdev_net_get_stats)(d, 0, &g.s, 0), -EINVAL);
	vdev_free(d);
}

static int destroyed;

static void m_handle(struct vdev *dev, unsigned qidx, struct vdev_queue *q)
{
	(void)dev;
	(void)qidx;
	(void)q;
}

static void m_destroy(struct vdev *dev)
{
	(void)dev;
	destroyed++;
}

static void test_info_and_ops(void **state)
{
	const struct vdev_info info = { .name = "t", .device_id = 0xfff0,
					.num_queues = 1 };
	GROWN(struct vdev_info) gi;
	GROWN(struct vdev_ops) go;
	struct vdev *d;

	(void)state;
	memset(&gi, 0, sizeof(gi));
	memset(&go, 0, sizeof(go));
	gi.s = info;
	go.s.handle = m_handle;
	go.s.destroy = m_destroy;
	/* An old model whose table ends before destroy: the pointer past
	 * its end is never called. */
	destroyed = 0;
	d = (vdev_new)(&info, &go.s, NULL, sizeof(info),
		       offsetof(struct vdev_ops, destroy));
	assert_non_null(d);
	vdev_free(d);
	assert_int_equal(destroyed, 0);
	/* A newer one: its table is copied, callbacks we know run. */
	d = (vdev_new)(&gi.s, &go.s, NULL, sizeof(gi), sizeof(go));
	assert_non_null(d);
	vdev_free(d);
	assert_int_equal(destroyed, 1);
	go.more[1] = 1;
	errno = 0;
	assert_null((vdev_new)(&info, &go.s, NULL, sizeof(info), sizeof(go)));
	assert_int_equal(errno, EINVAL);
	go.more[1] = 0;
	gi.more[0] = 1;
	errno = 0;
	assert_null((vdev_new)(&gi.s, &go.s, NULL, sizeof(gi), sizeof(go)));
	assert_int_equal(errno, EINVAL);
}

static void set_irq(void *opaque, bool level)
{
	(void)opaque;
	(void)level;
}

static void test_transports(void **state)
{
	char path[64];
	struct vdev *dev = vdev_rng_new(NULL);
	GROWN(struct vdev_mmio_config) gm;
	GROWN(struct vdev_pci_config) gp;
	GROWN(struct vdev_pci_ops) go;
	GROWN(struct vdev_vhost_user_config) gv;
	GROWN(struct vdev_vfio_user_config) gf;
	GROWN(struct vdev_drv_config) gd;
	struct stat st;
	void *h;
	int sv[2];

	(void)state;
	assert_non_null(dev);
	memset(&gm, 0, sizeof(gm));
	gm.s.set_irq = set_irq;
	h = (vdev_mmio_new)(dev, &gm.s, sizeof(gm));
	assert_non_null(h);
	vdev_mmio_free(h);
	gm.more[1] = 1;
	assert_null((vdev_mmio_new)(dev, &gm.s, sizeof(gm)));
	assert_int_equal(errno, EINVAL);

	memset(&gp, 0, sizeof(gp));
	memset(&go, 0, sizeof(go));
	h = (vdev_pci_new)(dev, &gp.s, &go.s, NULL, sizeof(gp), sizeof(go));
	assert_non_null(h);
	vdev_pci_free(h);
	gp.more[0] = 1;
	assert_null((vdev_pci_new)(dev, &gp.s, &go.s, NULL, sizeof(gp),
				   sizeof(go)));
	assert_int_equal(errno, EINVAL);
	gp.more[0] = 0;
	go.more[0] = 1;
	assert_null((vdev_pci_new)(dev, &gp.s, &go.s, NULL, sizeof(gp),
				   sizeof(go)));
	assert_int_equal(errno, EINVAL);

	/* vhost-user from before the socket's group and mode: whatever lies
	 * past its struct, the socket keeps bind()'s mode. */
	snprintf(path, sizeof(path), "/tmp/vdev-abi-%d", (int)getpid());
	memset(&gv, 0, sizeof(gv));
	gv.s.mode = VDEV_VHOST_USER_LISTEN;
	gv.s.path = path;
	gv.s.set_socket_mode = true;
	gv.s.socket_mode = 0;
	h = (vdev_vhost_user_new)(dev, &gv.s,
				  offsetof(struct vdev_vhost_user_config,
					   set_socket_group));
	assert_non_null(h);
	assert_int_equal(stat(path, &st), 0);
	assert_int_not_equal(st.st_mode & 0777, 0);
	vdev_vhost_user_free(h);
	h = (vdev_vhost_user_new)(dev, &gv.s, sizeof(gv));
	assert_non_null(h);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0);
	vdev_vhost_user_free(h);
	gv.more[1] = 1;
	assert_null((vdev_vhost_user_new)(dev, &gv.s, sizeof(gv)));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(stat(path, &st), -1);

	/* vfio-user, and the PCI identity its config points to. */
	if (vdev_has_capability(VDEV_CAP_TRANSPORT, "vfio-user")) {
		memset(&gf, 0, sizeof(gf));
		memset(&gp, 0, sizeof(gp));
		gf.s.socket_path = path;
		gf.s.pci = &gp.s;
		h = (vdev_vfio_user_new)(dev, &gf.s, NULL, sizeof(gf),
					 sizeof(gp));
		assert_non_null(h);
		vdev_vfio_user_free(h);
		gp.more[1] = 1;
		assert_null((vdev_vfio_user_new)(dev, &gf.s, NULL, sizeof(gf),
						 sizeof(gp)));
		assert_int_equal(errno, EINVAL);
		gp.more[1] = 0;
		gf.more[1] = 1;
		assert_null((vdev_vfio_user_new)(dev, &gf.s, NULL, sizeof(gf),
						 sizeof(gp)));
		assert_int_equal(errno, EINVAL);
	}

	/* The software driver, local and over vhost-user (which owns the
	 * fd from the call on, refused or not). */
	memset(&gd, 0, sizeof(gd));
	h = (vdev_drv_new)(dev, &gd.s, sizeof(gd));
	assert_non_null(h);
	vdev_drv_free(h);
	gd.more[0] = 1;
	assert_null((vdev_drv_new)(dev, &gd.s, sizeof(gd)));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_null((vdev_drv_vhost_user_fd)(sv[0], &gd.s, sizeof(gd)));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fcntl(sv[0], F_GETFD), -1);
	close(sv[1]);
	vdev_free(dev);
}

struct opts {
	unsigned n;
};

static struct vdev *no_create(void *ctx, const struct vdev_daemon_instance *in)
{
	(void)ctx;
	(void)in;
	errno = ENOTSUP;
	return NULL;
}

static void test_daemon_table(void **state)
{
	GROWN(struct vdev_daemon_option) o[2];
	GROWN(struct vdev_daemon) d;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	memset(o, 0, sizeof(o));
	memset(&d, 0, sizeof(d));
	o[0].s = (struct vdev_daemon_option){
		.name = "widgets", .type = VDEV_DAEMON_UINT, .arg = "N",
		.help = "How many widgets.",
		VDEV_DAEMON_FIELD(struct opts, n) };
	d.s.name = "vdev-abi";
	d.s.type = "rng";
	d.s.summary = "a table at another size";
	d.s.options = &o[0].s;
	d.s.create = no_create;
	/* A newer program: option entries farther apart than ours, the
	 * entries and the table with zero tails. */
	f = open_memstream(&buf, &len);
	assert_int_equal((vdev_daemon_write_help)(&d.s, f, sizeof(d),
						  sizeof(o[0])),
			 0);
	fclose(f);
	assert_non_null(strstr(buf, "--widgets N"));
	free(buf);
	/* An old one: a table that ends before syscalls; the garbage
	 * beyond it is not a list of names. */
	d.s.syscalls = (const char *const *)(uintptr_t)1;
	f = open_memstream(&buf, &len);
	assert_int_equal((vdev_daemon_write_help)(&d.s, f,
						  offsetof(struct vdev_daemon,
							   syscalls),
						  sizeof(o[0])),
			 0);
	fclose(f);
	free(buf);
	d.s.syscalls = NULL;
	/* Something set in an entry's unknown tail: refused. */
	o[0].more[1] = 1;
	f = open_memstream(&buf, &len);
	assert_int_equal((vdev_daemon_write_help)(&d.s, f, sizeof(d),
						  sizeof(o[0])),
			 -EINVAL);
	fclose(f);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_rules),
		cmocka_unit_test(test_device_config),
		cmocka_unit_test(test_every_device),
		cmocka_unit_test(test_element_arrays),
		cmocka_unit_test(test_outputs),
		cmocka_unit_test(test_info_and_ops),
		cmocka_unit_test(test_transports),
		cmocka_unit_test(test_daemon_table),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
