/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GET_INFLIGHT_FD / SET_INFLIGHT_FD (PROTOCOL_F_INFLIGHT_SHMFD) through the
 * adapter, split and packed rings: the region handed out has the layout of
 * the negotiated ring (size, header, packed free list), a region handed
 * back too small is refused, and once the ring runs on it the queue keeps
 * it up to date (a completed request leaves nothing marked and moves the
 * region's used index). Recovery itself is tested in
 * test_queue_inflight*.c.
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
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/le.h>
#include <virtio/rng.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "queue/queue_internal.h"
#include "twait.h"
#include "vhu_frontend.h"

#define P(f) VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_##f)
#define QS 64

struct fixture {
	char src[64];
	struct vdev *dev;
	struct vhu_fe_server srv;
};

/* VhostUserInflight as QEMU sends it (padded to 24 bytes). */
struct inflight_msg {
	uint64_t mmap_size;
	uint64_t mmap_offset;
	uint16_t num_queues;
	uint16_t queue_size;
	uint8_t pad[4];
};

static int setup(void **state)
{
	static struct fixture f;
	struct vdev_vhost_user_config cfg = { 0 };
	struct vdev_rng_config rc = { 0 };
	FILE *fp;

	memset(&f, 0, sizeof(f));
	snprintf(f.src, sizeof(f.src), "/tmp/vhu-ifl-src-%d", (int)getpid());
	fp = fopen(f.src, "w");
	if (!fp)
		return -1;
	for (int i = 0; i < 4096; i++)
		fputc(i & 0xff, fp);
	if (fclose(fp))
		return -1;
	rc.source = f.src;
	f.dev = vdev_rng_new(&rc);
	if (!f.dev || vhu_fe_server_start(&f.srv, f.dev, &cfg))
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vhu_fe_server_stop(&f->srv);
	vdev_free(f->dev);
	unlink(f->src);
	return 0;
}

static size_t expect_size(bool packed)
{
	size_t n = packed ? sizeof(struct vq_ifl_packed) +
			    QS * sizeof(struct vq_ifl_pdesc) :
			    sizeof(struct vq_ifl_split) +
			    QS * sizeof(struct vq_ifl_desc);

	return (n + 63) & ~(size_t)63;
}

/* The features the ring will run with, negotiated before the region is
 * asked for (QEMU's vhost_dev_prepare_inflight does the same). */
static void negotiate(struct vhu_fe *fe, bool packed)
{
	uint64_t feat, pf;

	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_OWNER, 0, NULL, 0, NULL,
				     0), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &feat), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES,
					&pf), 0);
	assert_true(pf & P(INFLIGHT_SHMFD));
	pf &= P(REPLY_ACK) | P(INFLIGHT_SHMFD);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_PROTOCOL_FEATURES, pf,
					-1, false), 0);
	fe->protocol_features = pf;
	feat &= ~(VDEV_BIT(26) | VDEV_BIT(VDEV_F_EVENT_IDX));
	if (!packed)
		feat &= ~VDEV_BIT(VDEV_F_RING_PACKED);
	assert_true(!packed || (feat & VDEV_BIT(VDEV_F_RING_PACKED)));
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_FEATURES, feat, -1,
					false), 0);
}

static void *get_region(struct vhu_fe *fe, size_t *len, int *fd)
{
	struct inflight_msg q = { 0 }, rr, *r = &rr;
	struct vhu_fe_msg m;
	void *base;

	q.num_queues = 1;
	q.queue_size = QS;
	assert_int_equal(vhu_fe_send(fe, VHU_FE_GET_INFLIGHT_FD, 0, &q,
				     sizeof(q), NULL, 0), 0);
	assert_int_equal(vhu_fe_recv(fe->fd, &m, TWAIT_MS), 0);
	assert_int_equal(m.request, VHU_FE_GET_INFLIGHT_FD);
	assert_true(m.size >= 20);
	assert_int_equal(m.nfds, 1);
	memcpy(&rr, m.payload, sizeof(rr)); /* payload is not aligned */
	assert_int_equal(r->mmap_offset, 0);
	assert_int_equal(r->num_queues, 1);
	assert_int_equal(r->queue_size, QS);
	*len = r->mmap_size;
	*fd = m.fds[0];
	base = mmap(NULL, *len, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	assert_true(base != MAP_FAILED);
	return base;
}

static int set_region(struct vhu_fe *fe, int fd, size_t len)
{
	struct inflight_msg q = { 0 };

	q.mmap_size = len;
	q.num_queues = 1;
	q.queue_size = QS;
	return vhu_fe_request(fe, VHU_FE_SET_INFLIGHT_FD, &q, sizeof(q), &fd,
			      1, true);
}

static void one_request(struct vhu_fe *fe, struct vhu_fe_guest *g)
{
	uint64_t gpa;
	uint8_t *buf = vdev_drv_mem_alloc(g->mem, 100, 16, &gpa);
	struct vdev_drv_seg seg = { .gpa = gpa, .len = 100 };
	void *token = NULL;
	uint32_t len = 0;
	int ret = -EAGAIN;

	assert_non_null(buf);
	assert_int_equal(vdev_drv_ring_add(g->ring, &seg, 0, 1, buf, 0), 0);
	assert_int_equal(vhu_fe_kick(fe, g), 0);
	for (int i = 0; i < 5000 && ret == -EAGAIN; i++) {
		ret = vdev_drv_ring_get_used(g->ring, &token, &len);
		if (ret == -EAGAIN) {
			struct timespec ts = { 0, 1000000 };

			nanosleep(&ts, NULL);
		}
	}
	assert_int_equal(ret, 0);
	assert_ptr_equal(token, buf);
	assert_int_equal(len, 100);
}

static void run(struct fixture *f, bool packed)
{
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_guest g;
	size_t len;
	void *base;
	int fd;

	assert_non_null(fe);
	negotiate(fe, packed);
	base = get_region(fe, &len, &fd);
	assert_int_equal(len, expect_size(packed));
	if (packed) {
		struct vq_ifl_packed *p = base;

		assert_int_equal(vdev_le16_to_cpu(p->version), 1);
		assert_int_equal(vdev_le16_to_cpu(p->desc_num), QS);
		assert_int_equal(p->used_wrap_counter, 1);
		assert_int_equal(p->old_used_wrap_counter, 1);
		assert_int_equal(p->live, 0);
		for (unsigned i = 0; i < QS; i++)
			assert_int_equal(vdev_le16_to_cpu(p->desc[i].next),
					 i + 1);
	} else {
		struct vq_ifl_split *s = base;

		assert_int_equal(vdev_le16_to_cpu(s->version), 1);
		assert_int_equal(vdev_le16_to_cpu(s->desc_num), QS);
	}
	/* Sealed: the frontend can neither shrink it under the back-end
	 * (a SIGBUS for the back-end) nor undo the seal. */
	assert_int_equal(fcntl(fd, F_GET_SEALS) & (F_SEAL_SHRINK |
						   F_SEAL_GROW | F_SEAL_SEAL),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(ftruncate(fd, 0), -1);
	assert_int_equal(errno, EPERM);
	/* Handed back: one byte short of the layout is refused. */
	assert_int_not_equal(set_region(fe, fd, expect_size(packed) - 1),
			     0);
	/* A region of the right size that could shrink is refused too. */
	{
		int ufd = memfd_create("unsealed", MFD_CLOEXEC);

		assert_int_equal(ftruncate(ufd, (off_t)len), 0);
		assert_int_not_equal(set_region(fe, ufd, len), 0);
		close(ufd);
	}
	assert_int_equal(set_region(fe, fd, len), 0);
	assert_int_equal(vhu_fe_setup(fe, &g, QS, packed,
				      P(REPLY_ACK) | P(INFLIGHT_SHMFD), false),
			 0);
	one_request(fe, &g);
	one_request(fe, &g);
	/* The queue ran on the region: nothing marked, used index moved. */
	if (packed) {
		struct vq_ifl_packed *p = base;

		assert_int_equal(p->live, VQ_IFL_LIVE);
		assert_int_equal(vdev_le16_to_cpu(p->old_used_idx), 2);
		assert_int_equal(vdev_le16_to_cpu(p->used_idx), 2);
		assert_int_equal(p->old_used_wrap_counter, 1);
		for (unsigned i = 0; i < QS; i++)
			assert_int_equal(p->desc[i].inflight, 0);
		/* The two chains' entries were copies of ring descriptors
		 * of 100 device-writable bytes. */
		assert_int_equal(vdev_le32_to_cpu(p->desc[0].len), 100);
		assert_true(vdev_le16_to_cpu(p->desc[0].flags) &
			    VDEV_DESC_F_WRITE);
	} else {
		struct vq_ifl_split *s = base;

		assert_int_equal(vdev_le16_to_cpu(s->used_idx), 2);
		for (unsigned i = 0; i < QS; i++)
			assert_int_equal(s->desc[i].inflight, 0);
		assert_int_equal(vdev_le64_to_cpu(s->desc[0].counter), 1);
	}
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	vhu_fe_guest_fini(&g);
	munmap(base, len);
	close(fd);
}

static void test_split(void **state)
{
	run(*state, false);
}

static void test_packed(void **state)
{
	run(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split, setup, teardown),
		cmocka_unit_test_setup_teardown(test_packed, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
