/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: the vfio-user server's message path (framing,
 * vfu_validate, every handler, and through REGION_READ/WRITE the
 * virtio-pci register file). The input is a stream of messages sent after
 * a valid VERSION, over a socketpair; replies are drained as they come.
 * No fds can be passed, so DMA maps are fd-less (tracked, not mapped).
 *
 * The peer's two threads are made once and handed each input's socket:
 * creating them per input cost more than the server's own work.
 */
#include <pthread.h>
#include <semaphore.h>
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
 * on the fuzzer's thread, never waits for itself. Each waits for its
 * start semaphore, serves one input and posts its done semaphore. */
struct peer {
	sem_t go, done;
	struct feed *f;
	void (*run)(struct feed *f);
};

static void write_all(struct feed *f)
{
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
}

static void read_all(struct feed *f)
{
	static char buf[65536];

	while (read(f->fd, buf, sizeof(buf)) > 0)
		;
}

static void *peer_thread(void *arg)
{
	struct peer *p = arg;

	for (;;) {
		while (sem_wait(&p->go) != 0)
			;
		p->run(p->f);
		sem_post(&p->done);
	}
	return NULL;
}

static void peer_start(struct peer *p, void (*run)(struct feed *f))
{
	pthread_t t;

	p->run = run;
	if (sem_init(&p->go, 0, 0) || sem_init(&p->done, 0, 0) ||
	    pthread_create(&t, NULL, peer_thread, p) || pthread_detach(t))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vdev *dev;
	static struct peer pw, pr;
	struct vdev_vfio_user_config cfg = { .socket_path = NULL };
	struct vdev_vfio_user *s;
	struct feed f = { -1, data, size };
	int sv[2];

	if (size > (1u << 20))
		return 0;
	if (!dev) {
		dev = vdev_rng_new(NULL);
		peer_start(&pw, write_all);
		peer_start(&pr, read_all);
	}
	if (!dev || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		abort();
	cfg.conn_fd = sv[0];
	s = vdev_vfio_user_new(dev, &cfg, NULL);
	if (!s)
		abort();
	f.fd = sv[1];
	pw.f = pr.f = &f;
	sem_post(&pw.go);
	sem_post(&pr.go);
	while (vdev_vfio_user_dispatch(s) == 0)
		;
	while (sem_wait(&pw.done) != 0)
		;
	while (sem_wait(&pr.done) != 0)
		;
	vdev_vfio_user_free(s);
	close(sv[1]);
	return 0;
}
