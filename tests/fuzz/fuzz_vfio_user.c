/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the vfio-user server's message path (framing,
 * vfu_validate, every handler, and through REGION_READ/WRITE the
 * virtio-pci register file). The input is a stream of messages sent after
 * a valid VERSION, over a socketpair; replies are drained as they come.
 * No fds can be passed, so DMA maps are fd-less (tracked, not mapped).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <virtio/rng.h>
#include <virtio/vfio-user.h>

#include "adapters/vfio-user/vfu_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

/* The peer runs on two threads (one writes, one reads), so the server,
 * on the fuzzer's thread, never waits for itself. */
static void *writer(void *arg)
{
	struct feed *f = arg;
	struct {
		struct vfu_hdr h;
		struct vfu_version v;
	} ver = { { 1, VFU_CMD_VERSION, sizeof(ver), 0, 0 }, { 0, 1 } };
	size_t off = 0;

	if (send(f->fd, &ver, sizeof(ver), MSG_NOSIGNAL) == sizeof(ver)) {
		while (off < f->size) {
			ssize_t n = send(f->fd, f->data + off, f->size - off,
					 MSG_NOSIGNAL);

			if (n <= 0)
				break;
			off += (size_t)n;
		}
	}
	shutdown(f->fd, SHUT_WR);
	return NULL;
}

static void *reader(void *arg)
{
	struct feed *f = arg;
	char buf[65536];

	while (read(f->fd, buf, sizeof(buf)) > 0)
		;
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vdev *dev;
	struct vdev_vfio_user_config cfg = { .socket_path = NULL };
	struct vdev_vfio_user *s;
	struct feed f = { -1, data, size };
	pthread_t tw, tr;
	int sv[2];

	if (size > (1u << 20))
		return 0;
	if (!dev)
		dev = vdev_rng_new(NULL);
	if (!dev || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	cfg.conn_fd = sv[0];
	s = vdev_vfio_user_new(dev, &cfg, NULL);
	if (!s)
		abort();
	f.fd = sv[1];
	if (pthread_create(&tw, NULL, writer, &f) ||
	    pthread_create(&tr, NULL, reader, &f))
		abort();
	while (vdev_vfio_user_dispatch(s) == 0)
		;
	pthread_join(tw, NULL);
	pthread_join(tr, NULL);
	vdev_vfio_user_free(s);
	close(sv[1]);
	return 0;
}
