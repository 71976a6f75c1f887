/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-i2c: the virtio-i2c back-end daemon, with the options of rust-vmm's
 * vhost-device-i2c (-s/--socket-path, -c/--socket-count,
 * -l/--device-list "BUS:ADDR[:ADDR][,BUS:ADDR...]": host adapters, by
 * number (/dev/i2c-BUS) or by name, and the client addresses passed
 * through, in decimal) and the common ones of include/virtio/daemon.h.
 * It adds --sim "eeprom@ADDR=FILE,lm75@ADDR" (simulated clients) and
 * --control PATH (their control socket: PATH for one socket, PATH<i> for
 * socket i with several). Every socket serves the same bus.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <virtio/daemon.h>
#include <virtio/i2c.h>

struct i2c_opts {
	const char *device_list;
	const char *sim;
	const char *control;
	unsigned n;
	struct vdev_i2c_client c[VDEV_I2C_MAX_CLIENTS];
	char paths[VDEV_I2C_MAX_CLIENTS][320];
};

#define F(member) VDEV_DAEMON_FIELD(struct i2c_opts, member)

static const struct vdev_daemon_option i2c_options[] = {
	{ .name = "device-list", .short_name = 'l', .type = VDEV_DAEMON_STRING,
	  .arg = "LIST",
	  .help = "Host adapters and the clients passed through: "
		  "BUS:ADDR[:ADDR][,BUS:ADDR...], BUS an adapter number "
		  "(/dev/i2c-BUS) or name, ADDR decimal (or 0x hex); e.g. "
		  "\"6:32:41,9:37\".",
	  F(device_list) },
	{ .name = "sim", .type = VDEV_DAEMON_STRING, .arg = "LIST",
	  .help = "Simulated clients: eeprom@ADDR=FILE (a 24C02 kept in "
		  "FILE), lm75@ADDR (a temperature sensor), comma-separated; "
		  "ADDR/10 for a 10-bit address.",
	  F(sim) },
	{ .name = "control", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Control socket of the simulated clients (PATH with one "
		  "socket, PATH<i> for socket i with several): temperature "
		  "and NACK injection (include/virtio/i2c.h).",
	  F(control) },
	{ 0 },
};

static int parse_addr(const char *s, size_t len, uint16_t *out)
{
	char buf[16], *end;
	unsigned long v;
	bool ten = false;

	if (!len || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (len > 3 && !strcmp(buf + len - 3, "/10")) {
		ten = true;
		buf[len - 3] = 0;
	}
	if (buf[0] < '0' || buf[0] > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(buf, &end, 0);
	if (errno || *end || v > (ten ? 0x3ffu : 0x7fu))
		return -EINVAL;
	*out = (uint16_t)(ten ? VDEV_I2C_ADDR_10BIT | v : v);
	return 0;
}

/* BUS as a number, or the adapter whose sysfs name it is. */
static int find_bus(const char *bus, size_t len, char *path, size_t plen)
{
	char name[128];
	struct dirent *e;
	DIR *dir;
	size_t i;

	for (i = 0; i < len && bus[i] >= '0' && bus[i] <= '9'; i++)
		;
	if (len && i == len && len < 8) {
		snprintf(path, plen, "/dev/i2c-%.*s", (int)len, bus);
		return 0;
	}
	dir = opendir("/sys/class/i2c-dev");
	if (!dir)
		return -ENOENT;
	while ((e = readdir(dir))) {
		char p[300];
		FILE *f;

		if (strncmp(e->d_name, "i2c-", 4))
			continue;
		snprintf(p, sizeof(p), "/sys/class/i2c-dev/%s/name", e->d_name);
		f = fopen(p, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f)) {
			name[strcspn(name, "\n")] = 0;
			if (strlen(name) == len && !strncmp(name, bus, len) &&
			    snprintf(path, plen, "/dev/%s", e->d_name) <
				    (int)plen) {
				fclose(f);
				closedir(dir);
				return 0;
			}
		}
		fclose(f);
	}
	closedir(dir);
	return -ENOENT;
}

static struct vdev_i2c_client *next(struct i2c_opts *o)
{
	if (o->n == VDEV_I2C_MAX_CLIENTS) {
		fprintf(stderr, "vdev-i2c: more than %d clients\n",
			VDEV_I2C_MAX_CLIENTS);
		return NULL;
	}
	return &o->c[o->n];
}

static int parse_devices(struct i2c_opts *o)
{
	const char *p = o->device_list;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *colon = memchr(p, ':', len);
		char path[300];
		const char *a;

		if (!colon) {
			fprintf(stderr, "vdev-i2c: --device-list: \"%.*s\" is "
				"not BUS:ADDR[:ADDR]\n", (int)len, p);
			return -EINVAL;
		}
		if (find_bus(p, (size_t)(colon - p), path, sizeof(path)) < 0) {
			fprintf(stderr, "vdev-i2c: --device-list: no I2C "
				"adapter \"%.*s\"\n", (int)(colon - p), p);
			return -EINVAL;
		}
		for (a = colon + 1; a <= p + len;) {
			const char *ae = memchr(a, ':', (size_t)(p + len - a));
			size_t al = ae ? (size_t)(ae - a) : (size_t)(p + len - a);
			struct vdev_i2c_client *c = next(o);

			if (!c)
				return -EINVAL;
			if (parse_addr(a, al, &c->addr) < 0) {
				fprintf(stderr, "vdev-i2c: --device-list: bad "
					"address \"%.*s\"\n", (int)al, a);
				return -EINVAL;
			}
			c->kind = VDEV_I2C_HOST;
			snprintf(o->paths[o->n], sizeof(o->paths[o->n]), "%s",
				 path);
			c->path = o->paths[o->n];
			o->n++;
			if (!ae)
				break;
			a = ae + 1;
		}
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int parse_sims(struct i2c_opts *o)
{
	const char *p = o->sim;

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *at = memchr(p, '@', len);
		const char *eq = at ? memchr(at, '=', (size_t)(p + len - at)) :
				      NULL;
		size_t kl = at ? (size_t)(at - p) : 0;
		struct vdev_i2c_client *c = next(o);

		if (!c)
			return -EINVAL;
		if (at && kl == 6 && !strncmp(p, "eeprom", 6) && eq &&
		    eq + 1 < p + len) {
			c->kind = VDEV_I2C_EEPROM;
			snprintf(o->paths[o->n], sizeof(o->paths[o->n]), "%.*s",
				 (int)(p + len - eq - 1), eq + 1);
			c->path = o->paths[o->n];
		} else if (at && kl == 4 && !strncmp(p, "lm75", 4) && !eq) {
			c->kind = VDEV_I2C_LM75;
			eq = p + len;
		} else {
			fprintf(stderr, "vdev-i2c: --sim: \"%.*s\" is not "
				"eeprom@ADDR=FILE or lm75@ADDR\n", (int)len, p);
			return -EINVAL;
		}
		if (parse_addr(at + 1, (size_t)(eq - at - 1), &c->addr) < 0) {
			fprintf(stderr, "vdev-i2c: --sim: bad address in "
				"\"%.*s\"\n", (int)len, p);
			return -EINVAL;
		}
		o->n++;
		if (!end)
			return 0;
		p = end + 1;
	}
}

static int i2c_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct i2c_opts *o = ctx;

	o->n = 0;
	if (!o->device_list && !o->sim) {
		fprintf(stderr, "vdev-i2c: no clients: give --device-list "
			"(-l) and/or --sim\n");
		return -EINVAL;
	}
	if (o->device_list && parse_devices(o) < 0)
		return -EINVAL;
	if (o->sim && parse_sims(o) < 0)
		return -EINVAL;
	if (o->control && !o->sim) {
		fprintf(stderr, "vdev-i2c: --control drives simulated clients; "
			"there is no --sim\n");
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->n; i++) {
		for (unsigned j = 0; j < i; j++) {
			if (o->c[i].addr == o->c[j].addr) {
				fprintf(stderr, "vdev-i2c: address 0x%x given "
					"twice\n", o->c[i].addr &
					~VDEV_I2C_ADDR_10BIT);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static struct vdev *i2c_create(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct i2c_opts *o = ctx;
	char control[4096];
	struct vdev_i2c_config cfg = {
		.clients = o->c,
		.nclients = o->n,
		.queue_size = in->queue_size,
	};
	struct vdev *dev;

	if (o->control) {
		if (in->count > 1)
			snprintf(control, sizeof(control), "%s%u", o->control,
				 in->index);
		else
			snprintf(control, sizeof(control), "%s", o->control);
		cfg.control = control;
	}
	dev = vdev_i2c_new(&cfg);
	if (!dev) {
		int err = errno;
		const char *what = NULL;

		/* name the file that failed, when one cannot be opened */
		for (unsigned i = 0; i < o->n && !what; i++) {
			if (o->c[i].kind == VDEV_I2C_HOST &&
			    access(o->c[i].path, R_OK | W_OK) < 0)
				what = o->c[i].path;
		}
		fprintf(stderr, "vdev-i2c: socket %u: %s%s%s\n", in->index,
			what ? what : "the bus", what ? ": " : ": ",
			strerror(err));
		errno = err;
	}
	return dev;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md):
 * an /dev/i2c-N adapter is driven with I2C_RDWR / I2C_SMBUS ioctls per
 * request. */
static const char *const i2c_syscalls[] = { "ioctl", NULL };

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-i2c",
		.type = "i2c",
		.summary = "virtio-i2c device back-end (libvdev)",
		.description =
			"Serves an I2C bus to virtual machines: clients of host "
			"adapters (/dev/i2c-N, I2C_RDWR or SMBus), and "
			"simulated 24C02 EEPROMs and LM75 sensors.",
		.options = i2c_options,
		.check = i2c_check,
		.create = i2c_create,
		.syscalls = i2c_syscalls,
	};
	static struct i2c_opts o;

	return vdev_daemon_main(&d, &o, argc, argv);
}
