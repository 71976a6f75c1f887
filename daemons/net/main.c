/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-net: the virtio-net back-end daemon. rust-vmm has no vhost-device
 * for net; the options follow QEMU's netdev names (tap ifname/fd, stream,
 * dgram, queues, mac, mtu) and DPDK vhost PMD's "queues" (queue pairs),
 * with the common options of include/virtio/daemon.h. With -c N, socket i
 * gets backend name/path + i (tap0, tap1; PATH0, PATH1) and the MAC's last
 * byte + i.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <virtio/daemon.h>
#include <virtio/net.h>

struct net_opts {
	const char *tap, *stream, *stream_server, *dgram, *dgram_remote;
	uint32_t tap_fd; /* 0: not given; else fd + 1 */
	bool sink;
	uint32_t source_len, source_count;
	uint8_t mac[6];
	uint16_t mtu;
	uint16_t queues;
	bool no_csum, no_tso, no_mrg, no_ctrl, link_down;
};

#define F(member) VDEV_DAEMON_FIELD(struct net_opts, member)

static int parse_mac(void *ctx, const char *arg)
{
	struct net_opts *o = ctx;
	unsigned b[6];
	char end;

	if (sscanf(arg, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3],
		   &b[4], &b[5], &end) != 6)
		goto bad;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			goto bad;
		o->mac[i] = (uint8_t)b[i];
	}
	if (o->mac[0] & 1) {
		fprintf(stderr, "vdev-net: --mac %s is a multicast address\n",
			arg);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, "vdev-net: --mac %s: not xx:xx:xx:xx:xx:xx\n", arg);
	return -EINVAL;
}

static int parse_tap_fd(void *ctx, const char *arg)
{
	struct net_opts *o = ctx;
	uint64_t v;
	int r = vdev_daemon_parse_uint("vdev-net", "tap-fd", arg, 0, 65535,
				       &v);

	if (r < 0)
		return r;
	o->tap_fd = (uint32_t)v + 1;
	return 0;
}

static const struct vdev_daemon_option net_options[] = {
	{ .name = "tap", .type = VDEV_DAEMON_STRING, .arg = "NAME",
	  .help = "Backend: the tap interface NAME (created if absent; needs "
		  "CAP_NET_ADMIN), one tap queue per queue pair.",
	  .flags = VDEV_DAEMON_CAPABILITY, F(tap) },
	{ .name = "tap-fd", .type = VDEV_DAEMON_CALL, .arg = "FD",
	  .help = "Backend: an open tap fd (one queue pair).",
	  .parse = parse_tap_fd },
	{ .name = "stream", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Backend: connect to the UNIX stream socket PATH, frames "
		  "framed as QEMU's -netdev stream (4-byte length).",
	  .flags = VDEV_DAEMON_CAPABILITY, F(stream) },
	{ .name = "stream-server", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Backend: listen on PATH for one -netdev stream peer at a "
		  "time (QEMU's server=on).",
	  F(stream_server) },
	{ .name = "dgram", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Backend: a UNIX datagram socket bound to PATH, one frame "
		  "per datagram (QEMU's -netdev dgram local).",
	  .flags = VDEV_DAEMON_CAPABILITY, F(dgram) },
	{ .name = "dgram-remote", .type = VDEV_DAEMON_STRING, .arg = "PATH",
	  .help = "Where --dgram sends frames (QEMU's remote).",
	  F(dgram_remote) },
	{ .name = "sink", .type = VDEV_DAEMON_FLAG,
	  .help = "Backend: drop what the guest sends; with --source-len, "
		  "fill every receive buffer with a generated frame "
		  "(benchmarks).",
	  .flags = VDEV_DAEMON_CAPABILITY, F(sink) },
	{ .name = "source-len", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .def = "0 (none)", .help = "Size of the frames --sink generates.",
	  .max = 65553, F(source_len) },
	{ .name = "source-count", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "0 (no end)",
	  .help = "Frames --sink generates in all, then none: a run of "
		  "known length whose count the driver's must equal.",
	  F(source_count) },
	{ .name = "mac", .type = VDEV_DAEMON_CALL, .arg = "MAC",
	  .def = "random (locally administered)",
	  .help = "The device's MAC address.", .parse = parse_mac },
	{ .name = "mtu", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "not offered", .help = "MTU offered to the driver.",
	  .min = 68, .max = 65535, F(mtu) },
	{ .name = "queues", .type = VDEV_DAEMON_UINT, .arg = "N", .def = "1",
	  .help = "Queue pairs (as QEMU's and DPDK's queues=N); tap and "
		  "sink only.",
	  .min = 1, .max = VDEV_NET_PAIRS_MAX, F(queues) },
	{ .name = "no-csum", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer no checksum offload (nor TSO).", F(no_csum) },
	{ .name = "no-tso", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer no TSO even where the tap could.", F(no_tso) },
	{ .name = "no-mrg-rxbuf", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer no mergeable receive buffers.", F(no_mrg) },
	{ .name = "no-ctrl-vq", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer no control queue (nor filters, MQ, announce).",
	  F(no_ctrl) },
	{ .name = "link-down", .type = VDEV_DAEMON_FLAG,
	  .help = "Start with the link down.", F(link_down) },
	{ 0 },
};

static int net_check(void *ctx, const struct vdev_daemon_instance *in)
{
	struct net_opts *o = ctx;
	int n = !!o->tap + !!o->tap_fd + !!o->stream + !!o->stream_server +
		!!o->dgram + o->sink;

	if (n != 1) {
		fprintf(stderr, "vdev-net: give one backend: --tap, --tap-fd, "
				"--stream, --stream-server, --dgram or "
				"--sink\n");
		return -EINVAL;
	}
	if (o->dgram_remote && !o->dgram) {
		fprintf(stderr, "vdev-net: --dgram-remote needs --dgram\n");
		return -EINVAL;
	}
	if (o->source_len && !o->sink) {
		fprintf(stderr, "vdev-net: --source-len needs --sink\n");
		return -EINVAL;
	}
	if (o->source_count && !o->source_len) {
		fprintf(stderr, "vdev-net: --source-count needs --source-len\n");
		return -EINVAL;
	}
	if (o->source_len && o->source_len < 14) {
		fprintf(stderr, "vdev-net: --source-len is at least 14\n");
		return -EINVAL;
	}
	if (o->queues > 1 && !o->tap && !o->sink) {
		/* One socket is one ordered wire, as QEMU's stream and
		 * dgram netdevs have it; spreading pairs over it would
		 * reorder a flow's frames. */
		fprintf(stderr, "vdev-net: --queues > 1 needs --tap or "
				"--sink: a --stream or --dgram socket (as "
				"QEMU's) carries one queue pair, and a "
				"--tap-fd is one tap queue\n");
		return -EINVAL;
	}
	if (o->tap_fd && in->count > 1) {
		fprintf(stderr, "vdev-net: --tap-fd serves one socket\n");
		return -EINVAL;
	}
	return 0;
}

/* NAME, or NAME + index when there are several sockets. */
static const char *nth(char *buf, size_t len, const char *name,
		       const struct vdev_daemon_instance *in)
{
	if (!name || in->count <= 1)
		return name;
	snprintf(buf, len, "%s%u", name, in->index);
	return buf;
}

static struct vdev *net_create(void *ctx,
			       const struct vdev_daemon_instance *in)
{
	const struct net_opts *o = ctx;
	char b1[4096], b2[4096];
	struct vdev_net_config c = {
		.queue_pairs = o->queues ? o->queues : 1,
		.queue_size = in->queue_size,
		.mtu = o->mtu,
		.source_len = o->source_len,
		.link_down = o->link_down,
		.no = (o->no_csum ? VDEV_NET_NO_CSUM : 0) |
		      (o->no_tso ? VDEV_NET_NO_TSO : 0) |
		      (o->no_mrg ? VDEV_NET_NO_MRG : 0) |
		      (o->no_ctrl ? VDEV_NET_NO_CTRL : 0),
	};
	struct vdev *dev;

	memcpy(c.mac, o->mac, 6);
	if (in->count > 1 && (c.mac[0] | c.mac[1] | c.mac[2] | c.mac[3] |
			      c.mac[4] | c.mac[5]))
		c.mac[5] = (uint8_t)(c.mac[5] + in->index);
	if (o->sink) {
		c.backend = VDEV_NET_SINK;
	} else if (o->tap || o->tap_fd) {
		c.backend = VDEV_NET_TAP;
		c.tap_name = nth(b1, sizeof(b1), o->tap, in);
		if (o->tap_fd) {
			c.use_fd = true;
			c.fd = (int)o->tap_fd - 1;
		}
	} else if (o->stream || o->stream_server) {
		c.backend = VDEV_NET_STREAM;
		c.listen = o->stream_server;
		c.path = nth(b1, sizeof(b1),
			     o->stream ? o->stream : o->stream_server, in);
	} else {
		c.backend = VDEV_NET_DGRAM;
		c.path = nth(b1, sizeof(b1), o->dgram, in);
		c.remote = nth(b2, sizeof(b2), o->dgram_remote, in);
	}
	dev = vdev_net_new(&c);
	if (dev && o->source_count)
		vdev_net_set_source_limit(dev, o->source_count);
	if (!dev)
		fprintf(stderr, "vdev-net: backend %s: %s\n",
			c.tap_name ? c.tap_name : c.path ? c.path : "sink",
			strerror(errno));
	return dev;
}

/* Each queue's packets and drops by reason beside the generic counters
 * (SIGUSR1, --stats-socket): queue 2p is pair p's rx, 2p + 1 its tx; the
 * control queue has none. */
static int net_counters(void *ctx, struct vdev *dev, unsigned queue,
			struct vdev_daemon_counter *out, unsigned max)
{
	struct vdev_net_stats s;
	bool rx = queue % 2 == 0;

	(void)ctx;
	if (max < 5 || vdev_net_get_stats(dev, queue / 2, &s) < 0)
		return 0;
	out[0] = (struct vdev_daemon_counter){ "packets",
					       rx ? s.rx_packets : s.tx_packets };
	out[1] = (struct vdev_daemon_counter){ "bytes",
					       rx ? s.rx_bytes : s.tx_bytes };
	if (rx) {
		out[2] = (struct vdev_daemon_counter){ "drop_filtered",
						       s.rx_filtered };
		out[3] = (struct vdev_daemon_counter){ "drop_no_buffer",
						       s.rx_no_buffer };
		out[4] = (struct vdev_daemon_counter){ "drop_bad", s.rx_bad };
	} else {
		out[2] = (struct vdev_daemon_counter){ "drop_bad_hdr",
						       s.tx_bad_hdr };
		out[3] = (struct vdev_daemon_counter){ "drop_bad_len",
						       s.tx_bad_len };
		out[4] = (struct vdev_daemon_counter){ "drop_backend",
						       s.tx_backend };
	}
	return 5;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md):
 * the tap backend sets TUNSETOFFLOAD when the guest acks offloads. */
static const char *const net_syscalls[] = { "ioctl", NULL };

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-net",
		.type = "net",
		.summary = "virtio-net device back-end (libvdev)",
		.description =
			"A virtio-net device on a tap interface, a UNIX "
			"stream or datagram socket framed as QEMU's "
			"-netdev stream/dgram, or a sink/source for "
			"benchmarks. QEMU keeps the control queue of a "
			"vhost-user net device to itself; User-Mode Linux "
			"and vfio-user clients hand it to the daemon, which "
			"then filters by the guest's MAC table and VLANs.",
		.options = net_options,
		.check = net_check,
		.create = net_create,
		.syscalls = net_syscalls,
	};
	struct net_opts o = { .queues = 1 };

	vdev_daemon_set_counters(net_counters);
	return vdev_daemon_main(&d, &o, argc, argv);
}
