/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A daemon's counters for operators: per device and queue, the requests,
 * bytes and errors of vdev_queue_get_stats() and the daemon's own
 * (vdev_daemon_set_counters: packets, drops by reason ...), printed to the
 * log on SIGUSR1 and served as JSON to whoever connects to --stats-socket (one
 * document per connection, then closed), as qemu-storage-daemon's
 * query-blockstats answers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtio/device.h>

#include "daemon_internal.h"
#include "peer/peer_listen.h"

static vdev_daemon_counters_fn *counters_fn;
static void *counters_ctx;

void vdev_daemon_set_counters(vdev_daemon_counters_fn *fn)
{
	counters_fn = fn;
}

void vdd_stats_set_ctx(void *ctx)
{
	counters_ctx = ctx;
}

static bool counter_name_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

/* The daemon's counters of queue @q into @out: how many, names checked
 * (they go into JSON keys and log lines unquoted). */
static unsigned counters_get(struct vdev *dev, unsigned q,
			     struct vdev_daemon_counter *out)
{
	struct vdev_daemon_counter raw[VDEV_DAEMON_COUNTERS_MAX];
	unsigned n = 0;
	int r;

	if (!counters_fn)
		return 0;
	memset(raw, 0, sizeof(raw));
	r = counters_fn(counters_ctx, dev, q, raw, VDEV_DAEMON_COUNTERS_MAX);
	if (r <= 0)
		return 0;
	if (r > VDEV_DAEMON_COUNTERS_MAX)
		r = VDEV_DAEMON_COUNTERS_MAX;
	for (int i = 0; i < r; i++)
		if (counter_name_ok(raw[i].name))
			out[n++] = raw[i];
	return n;
}

int vdd_stats_json(const struct vdev_daemon *d, const struct vdd_stats_dev *devs,
		   unsigned n, FILE *f)
{
	fputs("{\"daemon\": ", f);
	vdd_json_str(f, d->name);
	fputs(", \"devices\": [", f);
	for (unsigned i = 0; i < n; i++) {
		const struct vdev_info *info;

		if (!devs[i].dev)
			continue;
		info = vdev_get_info(devs[i].dev);
		fprintf(f, "%s\n  {\"index\": %u, \"socket\": ", i ? "," : "",
			i);
		vdd_json_str(f, devs[i].path ? devs[i].path : "");
		fputs(", \"device\": ", f);
		vdd_json_str(f, info->name ? info->name : "");
		fputs(", \"queues\": [", f);
		for (unsigned q = 0; q < vdev_num_queues(devs[i].dev); q++) {
			struct vdev_daemon_counter c[VDEV_DAEMON_COUNTERS_MAX];
			struct vdev_queue_stats st;
			unsigned nc;

			if (vdev_queue_get_stats(vdev_get_queue(devs[i].dev, q),
						 &st, sizeof(st)) < 0)
				continue;
			fprintf(f,
				"%s\n    {\"index\": %u, \"requests\": %" PRIu64
				", \"read_bytes\": %" PRIu64
				", \"written_bytes\": %" PRIu64
				", \"errors\": %" PRIu64
				", \"notifies\": %" PRIu64,
				q ? "," : "", q, st.requests, st.read_bytes,
				st.written_bytes, st.errors, st.notifies);
			nc = counters_get(devs[i].dev, q, c);
			if (nc) {
				fputs(", \"counters\": {", f);
				for (unsigned k = 0; k < nc; k++)
					fprintf(f, "%s\"%s\": %" PRIu64,
						k ? ", " : "", c[k].name,
						c[k].value);
				fputc('}', f);
			}
			fputc('}', f);
		}
		fputs("]}", f);
	}
	fputs("\n]}\n", f);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

/*
 * A ring's state for the log: who waits for whom on a stalled queue.
 * Split: avail (device's next / driver's index), used (device's / at the
 * last interrupt decision), the events each side asked for, whether the
 * device asks for kicks, chains in flight.
 */
static void ring_state(struct vdev *dev, unsigned q, char *buf, size_t len)
{
	struct vdev_queue_ring_state r;

	if (vdev_vq_get_ring_state(dev, q, &r, sizeof(r)) < 0 ||
	    !(r.flags & VDEV_RING_STATE_MAPPED)) {
		snprintf(buf, len, "not mapped");
		return;
	}
	snprintf(buf, len,
		 "%s%s avail %u/%u used %u/%u used_event %u "
		 "avail_event %u flags drv 0x%x dev 0x%x kicks %s "
		 "inflight %u",
		 r.flags & VDEV_RING_STATE_PACKED ? "packed" : "split",
		 r.flags & VDEV_RING_STATE_BROKEN ? " broken" : "",
		 r.avail, r.driver_avail, r.used, r.signalled, r.used_event,
		 r.avail_event, r.driver_flags, r.device_flags,
		 r.flags & VDEV_RING_STATE_KICKS_ON ? "on" : "off",
		 r.inflight);
}

void vdd_stats_log(const struct vdev_daemon *d,
		   const struct vdd_stats_dev *devs, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (!devs[i].dev)
			continue;
		for (unsigned q = 0; q < vdev_num_queues(devs[i].dev); q++) {
			struct vdev_daemon_counter c[VDEV_DAEMON_COUNTERS_MAX];
			struct vdev_queue_stats st;
			char line[1024];
			unsigned nc;
			size_t len;

			if (vdev_queue_get_stats(vdev_get_queue(devs[i].dev, q),
						 &st, sizeof(st)) < 0)
				continue;
			snprintf(line, sizeof(line),
				 "%s queue %u: %" PRIu64 " requests, %" PRIu64
				 " bytes read, %" PRIu64 " bytes written, %"
				 PRIu64 " errors, %" PRIu64 " interrupts",
				 devs[i].path ? devs[i].path : "--fd", q,
				 st.requests, st.read_bytes, st.written_bytes,
				 st.errors, st.notifies);
			nc = counters_get(devs[i].dev, q, c);
			for (unsigned k = 0; k < nc; k++) {
				len = strlen(line);
				snprintf(line + len, sizeof(line) - len,
					 "%s%s %" PRIu64, k ? ", " : "; ",
					 c[k].name, c[k].value);
			}
			vdd_log_always(line);
			/* A line of its own: the counters' line keeps
			 * its format for the scripts that read it. */
			len = (size_t)snprintf(line, sizeof(line),
					       "%s queue %u ring: ",
					       devs[i].path ? devs[i].path :
							      "--fd", q);
			if (len < sizeof(line)) {
				ring_state(devs[i].dev, q, line + len,
					   sizeof(line) - len);
				vdd_log_always(line);
			}
		}
	}
	(void)d;
}

int vdd_stats_listen(const char *prog, const char *path,
		     const struct vdd_sockperm *p)
{
	const struct vpeer_sockperm perm = {
		.set_gid = p->set_gid,
		.set_mode = p->set_mode,
		.gid = p->gid,
		.mode = p->mode,
	};
	int fd, fl;

	if (strlen(path) > vdd_socket_path_max()) {
		fprintf(stderr, "%s: --stats-socket %s: longer than a UNIX "
			"socket path may be (%zu bytes)\n", prog, path,
			vdd_socket_path_max());
		return -1;
	}
	/* A stale socket is replaced; a live one or another file is not.
	 * The path appears listening, with its group and mode. */
	fd = vpeer_listen_unix(path, 8, &perm);
	if (fd == -EEXIST) {
		fprintf(stderr, "%s: --stats-socket %s exists and is not a "
			"socket\n", prog, path);
		return -1;
	}
	if (fd == -EADDRINUSE) {
		fprintf(stderr, "%s: --stats-socket %s: another process is "
			"serving it\n", prog, path);
		return -1;
	}
	if (fd == -EPERM && p->set_gid) {
		fprintf(stderr, "%s: --socket-group: cannot give %s to group "
			"%u: %s (only root, or a member of the group, may)\n",
			prog, path, p->gid, strerror(EPERM));
		return -1;
	}
	if (fd < 0) {
		fprintf(stderr, "%s: --stats-socket %s: %s\n", prog, path,
			strerror(-fd));
		return -1;
	}
	/* accept() after poll() must not wait for a client that left. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		fprintf(stderr, "%s: --stats-socket %s: %s\n", prog, path,
			strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	return fd;
}

void vdd_stats_answer(const struct vdev_daemon *d, int lfd,
		      const struct vdd_stats_dev *devs, unsigned n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int c;

	c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return;
	f = open_memstream(&buf, &len);
	if (f && vdd_stats_json(d, devs, n, f) == 0 && fclose(f) == 0) {
		/* Never blocks: a reader that does not read loses the
		 * rest of the document, not the daemon. */
		(void)!send(c, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	} else if (f) {
		fclose(f);
	}
	free(buf);
	close(c);
}
