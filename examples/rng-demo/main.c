/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-rng-demo: a virtio-rng device driven by libvdev's software driver,
 * in one process, no VM. It shows the whole path a guest's request takes:
 * feature negotiation, ring setup, a kick through an eventfd, the device
 * filling guest buffers, the interrupt, the driver collecting the result.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/caps.h>
#include <virtio/rng.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#define CHUNK 4096u
#define MAX_BYTES (1u << 20)

static void usage(FILE *f, const char *prog)
{
	fprintf(f,
		"usage: %s [--source FILE] [--bytes N] [--split]\n"
		"  --source FILE  host entropy source (default /dev/urandom;\n"
		"                 a regular file is read from its start and\n"
		"                 wraps at its end)\n"
		"  --bytes N      bytes to read through the device (default 64,"
		" at most %u)\n"
		"  --split        use a split ring (default: packed)\n",
		prog, MAX_BYTES);
}

static void print_features(uint64_t f)
{
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{ VDEV_F_INDIRECT_DESC, "INDIRECT_DESC" },
		{ VDEV_F_EVENT_IDX, "EVENT_IDX" },
		{ VDEV_F_VERSION_1, "VERSION_1" },
		{ VDEV_F_RING_PACKED, "RING_PACKED" },
		{ VDEV_F_IN_ORDER, "IN_ORDER" },
		{ VDEV_F_NOTIFICATION_DATA, "NOTIFICATION_DATA" },
		{ VDEV_F_RING_RESET, "RING_RESET" },
	};

	printf("0x%016llx", (unsigned long long)f);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (f & VDEV_BIT(names[i].bit))
			printf(" %s", names[i].name);
	printf("\n");
}

static void hexdump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 16) {
		printf("  %06zx ", i);
		for (size_t j = i; j < i + 16 && j < n; j++)
			printf(" %02x", p[j]);
		printf("\n");
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "source", required_argument, NULL, 's' },
		{ "bytes", required_argument, NULL, 'n' },
		{ "split", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vdev_rng_config rc = { 0 };
	struct vdev_drv_config dc = { .packed = true, .use_eventfds = true };
	struct vdev_queue_config qc;
	struct vdev_drv *drv = NULL;
	struct vdev *dev = NULL;
	unsigned long nbytes = 64;
	unsigned requests = 0;
	uint8_t *buf = NULL;
	size_t got = 0;
	int c, r, ret = 1;

	while ((c = getopt_long(argc, argv, "s:n:Sh", opts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 's':
			rc.source = optarg;
			break;
		case 'n':
			errno = 0;
			nbytes = strtoul(optarg, &end, 0);
			if (errno || *end || !*optarg || nbytes == 0 ||
			    nbytes > MAX_BYTES) {
				fprintf(stderr, "--bytes: 1 .. %u\n",
					MAX_BYTES);
				return 2;
			}
			break;
		case 'S':
			dc.packed = false;
			break;
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr, argv[0]);
		return 2;
	}

	dev = vdev_rng_new(&rc);
	if (!dev) {
		fprintf(stderr, "virtio-rng: %s: %s\n",
			rc.source ? rc.source : "/dev/urandom",
			strerror(errno));
		return 1;
	}
	drv = vdev_drv_new(dev, &dc);
	if (!drv) {
		fprintf(stderr, "software driver: %s\n", strerror(errno));
		goto out;
	}
	r = vdev_drv_init(drv);
	if (r < 0) {
		fprintf(stderr, "driver bring-up failed: %s\n", strerror(-r));
		goto out;
	}
	vdev_drv_ring_queue_config(vdev_drv_ring(drv, 0), &qc);

	printf("libvdev %s: virtio-rng (device id %u) on the software "
	       "driver\n", vdev_version(), vdev_get_info(dev)->device_id);
	printf("source:     %s\n", rc.source ? rc.source : "/dev/urandom");
	printf("offered:    ");
	print_features(vdev_device_features(dev));
	printf("negotiated: ");
	print_features(vdev_features(dev));
	printf("ring:       %s, %u entries, kicks and interrupts through "
	       "eventfds\n",
	       vdev_has_feature(dev, VDEV_F_RING_PACKED) ? "packed" : "split",
	       qc.size);

	buf = malloc(nbytes);
	if (!buf)
		goto out;
	while (got < nbytes) {
		size_t want = nbytes - got < CHUNK ? nbytes - got : CHUNK;
		uint32_t w = 0;

		r = vdev_drv_xfer(drv, 0, NULL, 0, buf + got, want, &w, 5000);
		if (r < 0) {
			fprintf(stderr, "request failed: %s\n", strerror(-r));
			goto out;
		}
		requests++;
		if (w == 0) {
			fprintf(stderr, "device returned no bytes\n");
			goto out;
		}
		got += w;
	}
	printf("read:       %zu bytes in %u request%s, %u queue "
	       "interrupt%s\n",
	       got, requests, requests == 1 ? "" : "s",
	       vdev_drv_interrupts(drv, 0),
	       vdev_drv_interrupts(drv, 0) == 1 ? "" : "s");
	hexdump(buf, got);
	ret = 0;
out:
	free(buf);
	vdev_drv_free(drv);
	vdev_free(dev);
	return ret;
}
