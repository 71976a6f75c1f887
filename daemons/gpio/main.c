/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-gpio: the virtio-gpio back-end daemon, with the options of rust-vmm's
 * vhost-device-gpio (-s/--socket-path, -c/--socket-count, -l/--device-list
 * "N:sM:...", one entry per socket: N for /dev/gpiochipN, sM for a
 * simulated chip of M lines) and the common ones of
 * include/virtio/daemon.h. It adds --control PATH: the control socket of
 * the simulated chips (PATH for one socket, PATH<i> for socket i when
 * there are several), and --no-irq.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/daemon.h>
#include <virtio/gpio.h>

#define MAX_DEVICES 256

struct gpio_opts {
	const char *device_list;
	const char *control;
	bool no_irq;
	unsigned n;
	struct {
		char chip[24];      /* "" for a simulated chip */
		unsigned sim_lines;
	} dev[MAX_DEVICES];
};

#define F(member) VDEV_DAEMON_FIELD(struct gpio_opts, member)

static const struct vdev_daemon_option gpio_options[] = {
	{ .name = "device-list", .short_name = 'l', .type = VDEV_DAEMON_STRING,
	  .arg = "LIST", .flags = VDEV_DAEMON_REQUIRED,
	  .help = "One GPIO chip per socket, separated by ':': N serves "
		  "/dev/gpiochipN, sM a simulated chip of M lines (1..1024); "
		  "e.g. \"3:s8\" with -c 2.",
	  F(device_list) },
	{ .name = "control", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Control socket of the simulated chips (PATH with one "
		  "socket, PATH<i> for socket i with several): set, pulse "
		  "and read lines (include/virtio/gpio.h).",
	  F(control) },
	{ .name = "no-irq", .type = VDEV_DAEMON_FLAG,
	  .help = "Do not offer VIRTIO_GPIO_F_IRQ (no interrupts).",
	  F(no_irq) },
	{ 0 },
};

static int parse_entry(struct gpio_opts *o, const char *e, size_t len)
{
	char buf[24];
	uint64_t v;

	if (!len || len >= sizeof(buf)) {
		fprintf(stderr, "vdev-gpio: --device-list: empty or too long "
			"entry\n");
		return -EINVAL;
	}
	memcpy(buf, e, len);
	buf[len] = 0;
	if (o->n == MAX_DEVICES) {
		fprintf(stderr, "vdev-gpio: --device-list: more than %d "
			"entries\n", MAX_DEVICES);
		return -EINVAL;
	}
	if (buf[0] == 's') {
		if (vdev_daemon_parse_uint("vdev-gpio", "device-list", buf + 1,
					   1, VDEV_GPIO_MAX_LINES, &v) < 0)
			return -EINVAL;
		o->dev[o->n].sim_lines = (unsigned)v;
	} else {
		if (vdev_daemon_parse_uint("vdev-gpio", "device-list", buf, 0,
					   65535, &v) < 0)
			return -EINVAL;
		snprintf(o->dev[o->n].chip, sizeof(o->dev[o->n].chip),
			 "/dev/gpiochip%u", (unsigned)v);
	}
	o->n++;
	return 0;
}

static int gpio_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct gpio_opts *o = ctx;
	const char *p = o->device_list;
	bool sim = false;

	o->n = 0;
	for (;;) {
		const char *end = strchr(p, ':');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (parse_entry(o, p, len) < 0)
			return -EINVAL;
		if (!end)
			break;
		p = end + 1;
	}
	if (o->n != in->count) {
		fprintf(stderr, "vdev-gpio: --device-list has %u entries for "
			"%u sockets (-c): one per socket\n", o->n, in->count);
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->n; i++)
		sim |= !o->dev[i].chip[0];
	if (o->control && !sim) {
		fprintf(stderr, "vdev-gpio: --control drives simulated chips; "
			"--device-list has none\n");
		return -EINVAL;
	}
	return 0;
}

static struct vdev *gpio_create(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct gpio_opts *o = ctx;
	char prefix[16], control[4096];
	struct vdev_gpio_config cfg = {
		.no_irq = o->no_irq,
		.queue_size = in->queue_size,
	};
	struct vdev *dev;

	if (o->dev[in->index].chip[0]) {
		cfg.chip = o->dev[in->index].chip;
	} else {
		cfg.sim_lines = o->dev[in->index].sim_lines;
		snprintf(prefix, sizeof(prefix), "sim%u", in->index);
		cfg.sim_prefix = prefix;
		if (o->control) {
			if (in->count > 1)
				snprintf(control, sizeof(control), "%s%u",
					 o->control, in->index);
			else
				snprintf(control, sizeof(control), "%s",
					 o->control);
			cfg.control = control;
		}
	}
	dev = vdev_gpio_new(&cfg);
	if (!dev) {
		int err = errno;

		if (cfg.chip)
			fprintf(stderr, "vdev-gpio: %s: %s%s\n", cfg.chip,
				strerror(err), err == ENOTSUP ?
				" (this build has no libgpiod)" : "");
		else
			fprintf(stderr, "vdev-gpio: simulated chip %u%s%s: "
				"%s\n", in->index, cfg.control ? ", control " : "",
				cfg.control ? cfg.control : "", strerror(err));
		errno = err;
	}
	return dev;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md):
 * libgpiod requests and reconfigures lines while the guest drives them
 * (GPIO_V2 ioctls on the chip and line fds). */
static const char *const gpio_syscalls[] = { "ioctl", NULL };

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-gpio",
		.type = "gpio",
		.summary = "virtio-gpio device back-end (libvdev)",
		.description =
			"Serves GPIO chips to virtual machines: host chips "
			"through libgpiod, or simulated chips whose inputs a "
			"control socket drives. Edge (rising, falling, both) "
			"and level (high, low) interrupts.",
		.options = gpio_options,
		.check = gpio_check,
		.create = gpio_create,
		.syscalls = gpio_syscalls,
	};
	static struct gpio_opts o;

	return vdev_daemon_main(&d, &o, argc, argv);
}
