/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Per-queue control through the software driver: nothing before
 * DRIVER_OK, DEVICE_NEEDS_RESET on malformed chains, stop/restart (also
 * with requests in flight, from another thread and from the queue's own
 * thread), reset with requests in flight, RING_RESET, budgets, scheduling,
 * memory changes, watched fds.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/loop.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "twait.h"
#include "vcore_tdev.h"

struct mode {
	bool packed;
	bool eventfds;
};

static const struct mode modes[] = {
	{ false, false }, { false, true }, { true, false }, { true, true },
};

static struct tdev T;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct vdev_drv *make(const struct mode *m, uint64_t refuse, bool init)
{
	struct vdev_drv_config dc = {
		.packed = m->packed,
		.use_eventfds = m->eventfds,
		.queue_size = 64,
		.refuse = refuse,
	};
	struct vdev_drv *drv;

	assert_non_null(tdev_new(&T, 2, 256, 1));
	drv = vdev_drv_new(T.dev, &dc);
	assert_non_null(drv);
	if (init)
		assert_int_equal(vdev_drv_init(drv), 0);
	return drv;
}

static void destroy(struct vdev_drv *drv)
{
	vdev_drv_free(drv);
	vdev_free(T.dev);
}

static uint64_t mode_features(const struct mode *m)
{
	uint64_t f = vdev_device_features(T.dev);

	return m->packed ? f : f & ~VDEV_BIT(VDEV_F_RING_PACKED);
}

/* Adds one request (8 readable, 8 writable bytes) with token @tok. */
static void add_req(struct vdev_drv *drv, unsigned q, uintptr_t tok)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	struct vdev_drv_seg s[2];
	uint8_t *o;

	o = vdev_drv_mem_alloc(mem, 8, 8, &s[0].gpa);
	assert_non_null(o);
	memset(o, (int)tok, 8);
	assert_non_null(vdev_drv_mem_alloc(mem, 8, 8, &s[1].gpa));
	s[0].len = s[1].len = 8;
	assert_int_equal(vdev_drv_ring_add(vdev_drv_ring(drv, q), s, 1, 1,
					   (void *)tok, 0), 0);
}

static void echo_ok(struct vdev_drv *drv, unsigned q)
{
	uint8_t out[5] = "ping", in[5] = { 0 };
	uint32_t w;

	assert_int_equal(vdev_drv_xfer(drv, q, out, 5, in, 5, &w,
				       TWAIT_MS), 0);
	assert_int_equal(w, 5);
	assert_string_equal(in, "ping");
}

static void test_not_before_driver_ok(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, false);
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_drv_negotiate(drv, mode_features(
							 &modes[k])), 0);
		assert_int_equal(vdev_drv_setup_queue(drv, 0, 0), 0);
		assert_int_equal(vdev_drv_setup_queue(drv, 1, 0), 0);
		assert_true(vdev_vq_enabled(T.dev, 0));
		add_req(drv, 0, 7);
		assert_int_equal(vdev_vq_kick(T.dev, 0, 0), 0);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 30, &tok, &len),
				 -ETIMEDOUT);
		assert_int_equal(T.handles[0], 0);
		/* DRIVER_OK starts the queues: what was there is served. */
		assert_int_equal(vdev_drv_driver_ok(drv), 0);
		assert_int_equal(T.starts, 1);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)7);
		assert_int_equal(len, 8);
		echo_ok(drv, 1);
		destroy(drv);
	}
}

static void test_malformed_needs_reset(void **state)
{
	unsigned tried = 0;

	for (unsigned k = 0; k < 4; k++) {
		for (int f = 0; f < VDEV_DRV_FAULT_COUNT; f++) {
			bool noind = f == VDEV_DRV_FAULT_INDIRECT_NO_FEATURE;
			uint64_t refuse = noind ?
				VDEV_BIT(VDEV_F_INDIRECT_DESC) : 0;
			struct vdev_drv *drv = make(&modes[k], refuse, true);
			void *tok;
			uint32_t len;
			int r;

			echo_ok(drv, 1);
			r = vdev_drv_ring_inject(vdev_drv_ring(drv, 0), f);
			if (r == -ENOTSUP) {
				destroy(drv);
				continue;
			}
			assert_int_equal(r, 0);
			tried++;
			assert_int_equal(vdev_vq_kick(T.dev, 0, 0), 0);
			vdev_drv_wait(drv, 0, 20, &tok, &len);
			if (!(vdev_get_status(T.dev) &
			      VDEV_STATUS_DEVICE_NEEDS_RESET))
				fail_msg("mode %u fault %s: no NEEDS_RESET", k,
					 vdev_drv_fault_name(f));
			assert_int_equal(vdev_drv_config_interrupts(drv), 1);
			assert_true(vdev_queue_broken(vdev_get_queue(T.dev,
								     0)));
			/* The other queue stops too: the driver must reset. */
			add_req(drv, 1, 9);
			vdev_vq_kick(T.dev, 1, 0);
			assert_int_equal(vdev_drv_wait(drv, 1, 20, &tok, &len),
					 -ETIMEDOUT);
			/* A reset brings it back. */
			assert_int_equal(vdev_drv_init(drv), 0);
			assert_false(vdev_queue_broken(vdev_get_queue(T.dev,
								      0)));
			echo_ok(drv, 0);
			destroy(drv);
		}
	}
	/* Most faults apply to both layouts. */
	assert_true(tried >= VDEV_DRV_FAULT_COUNT);
}

static void test_stop_restart(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		struct vdev_queue_state st, st2;
		void *tok;
		uint32_t len;

		echo_ok(drv, 0);
		echo_ok(drv, 0);
		assert_int_equal(vdev_vq_set_state(T.dev, 0, &st), -EBUSY);
		assert_int_equal(vdev_vq_set_size(T.dev, 0, 64), -EBUSY);
		assert_int_equal(vdev_vq_stop(T.dev, 0, &st), 0);
		/* Packed rings count slots: two per request. */
		assert_int_equal(st.used_idx, modes[k].packed ? 4 : 2);
		assert_int_equal(st.avail_idx, modes[k].packed ? 4 : 2);
		assert_false(vdev_vq_enabled(T.dev, 0));
		/* Stopped: nothing is served. */
		add_req(drv, 0, 3);
		vdev_drv_kick(drv, 0);
		vdev_vq_kick(T.dev, 0, 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 30, &tok, &len),
				 -ETIMEDOUT);
		/* Stopping twice reports the same state. */
		assert_int_equal(vdev_vq_stop(T.dev, 0, &st2), 0);
		assert_memory_equal(&st, &st2, sizeof(st));
		/* SET_VRING_BASE with the same state, then restart. */
		assert_int_equal(vdev_vq_set_state(T.dev, 0, &st), 0);
		assert_int_equal(vdev_vq_enable(T.dev, 0, true), 0);
		assert_true(vdev_vq_enabled(T.dev, 0));
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)3);
		echo_ok(drv, 0);
		/* Disable/enable keeps the ring position too. */
		assert_int_equal(vdev_vq_enable(T.dev, 0, false), 0);
		assert_false(vdev_vq_enabled(T.dev, 0));
		assert_int_equal(vdev_vq_enable(T.dev, 0, true), 0);
		echo_ok(drv, 0);
		/* The other queue never stopped. */
		echo_ok(drv, 1);
		destroy(drv);
	}
}

static void test_bad_state_refused(void **state)
{
	struct vdev_drv *drv = make(&modes[2], 0, true); /* packed */
	struct vdev_queue_state st = { .avail_idx = 1000, .used_idx = 1000 };

	assert_int_equal(vdev_vq_stop(T.dev, 0, NULL), 0);
	assert_int_equal(vdev_vq_set_state(T.dev, 0, &st), 0);
	assert_int_equal(vdev_vq_enable(T.dev, 0, true), -EINVAL);
	assert_false(vdev_vq_enabled(T.dev, 0));
	destroy(drv);
}

static void *worker(void *arg)
{
	vdev_loop_run(arg);
	return NULL;
}

static void *late_done(void *arg)
{
	usleep(100000);
	tdev_signal_done(&T);
	return NULL;
}

static void test_stop_waits_other_thread(void **state)
{
	for (unsigned k = 1; k < 4; k += 2) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		struct vdev_loop *loop = vdev_loop_new();
		struct vdev_watcher w;
		struct vdev_queue_state st;
		pthread_t thr, late;
		int64_t t0;
		void *tok;
		uint32_t len;

		/* Queue work now runs on its own thread. */
		T.defer = true;
		vdev_loop_watcher(loop, &w);
		assert_int_equal(vdev_set_watcher(T.dev, &w), 0);
		assert_int_equal(pthread_create(&thr, NULL, worker, loop), 0);
		add_req(drv, 0, 5);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		for (int i = 0; i < 200; i++) {
			if (__atomic_load_n(&T.nheld, __ATOMIC_ACQUIRE))
				break;
			usleep(5000);
		}
		assert_int_equal(__atomic_load_n(&T.nheld, __ATOMIC_ACQUIRE),
				 1);
		assert_int_equal(pthread_create(&late, NULL, late_done, NULL),
				 0);
		t0 = now_ms();
		assert_int_equal(vdev_vq_stop(T.dev, 0, &st), 0);
		assert_true(now_ms() - t0 >= 80);
		assert_int_equal(T.completed, 1);
		assert_int_equal(st.used_idx, modes[k].packed ? 2 : 1);
		pthread_join(late, NULL);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)5);
		vdev_loop_stop(loop);
		pthread_join(thr, NULL);
		destroy(drv);
		vdev_loop_free(loop);
	}
}

/* A worker thread serves the queue while the control thread stops and
 * restarts it over and over and the driver keeps submitting: nothing is
 * lost, nothing completes twice, nothing deadlocks. */
static void test_stop_restart_stress(void **state)
{
	for (unsigned k = 1; k < 4; k += 2) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		struct vdev_loop *loop = vdev_loop_new();
		struct vdev_watcher w;
		unsigned added = 0, got = 0;
		pthread_t thr;

		vdev_loop_watcher(loop, &w);
		assert_int_equal(vdev_set_watcher(T.dev, &w), 0);
		assert_int_equal(pthread_create(&thr, NULL, worker, loop), 0);
		for (int round = 0; round < 300; round++) {
			struct vdev_queue_state st;
			void *tok;
			uint32_t len;

			while (added - got < 8) {
				add_req(drv, 0, 100 + added);
				added++;
			}
			vdev_drv_kick(drv, 0);
			assert_int_equal(vdev_vq_stop(T.dev, 0, &st), 0);
			if (round % 3 == 0)
				assert_int_equal(vdev_vq_set_state(T.dev, 0,
								   &st), 0);
			assert_int_equal(vdev_vq_enable(T.dev, 0, true), 0);
			while (vdev_drv_wait(drv, 0, 0, &tok, &len) == 0) {
				assert_int_equal((uintptr_t)tok, 100 + got);
				got++;
			}
		}
		while (got < added) {
			void *tok;
			uint32_t len;

			assert_int_equal(vdev_drv_wait(drv, 0, 2000, &tok,
						       &len), 0);
			assert_int_equal((uintptr_t)tok, 100 + got);
			got++;
		}
		assert_int_equal(T.completed, added);
		vdev_loop_stop(loop);
		pthread_join(thr, NULL);
		destroy(drv);
		vdev_loop_free(loop);
	}
}

/*
 * Stopping a queue on its own thread (a transport that runs the control
 * path and the queue on one thread): nobody else can run the model's
 * completions, so ops->drain does, and without it the stop says so at
 * once instead of hanging.
 */
static void test_stop_same_thread(void **state)
{
	for (unsigned k = 0; k < 8; k++) {
		const struct mode *m = &modes[k % 4];
		bool with_drain = k < 4;
		struct vdev_drv *drv = make(m, 0, true);
		struct vdev_queue_state st;
		int64_t t0;
		void *tok;
		uint32_t len;

		T.defer = true;
		T.drain = with_drain ? TDEV_DRAIN_COMPLETE : TDEV_DRAIN_NONE;
		add_req(drv, 0, 6);
		add_req(drv, 0, 7);
		vdev_drv_kick(drv, 0);
		if (m->eventfds)
			vdev_drv_wait(drv, 0, 20, &tok, &len);
		assert_int_equal(T.nheld, 2);
		t0 = now_ms();
		if (with_drain) {
			assert_int_equal(vdev_vq_stop(T.dev, 0, &st), 0);
			assert_int_equal(T.drains[0], 1);
			assert_int_equal(T.completed, 2);
			assert_int_equal(st.used_idx, m->packed ? 4 : 2);
		} else {
			assert_int_equal(vdev_vq_stop(T.dev, 0, &st), -ETIMEDOUT);
			assert_true(now_ms() - t0 < 1000);
			assert_int_equal(T.completed, 0);
			assert_int_equal(st.used_idx, 0);
			/* They complete when their fd fires, on this same
			 * thread's loop. */
			tdev_signal_done(&T);
		}
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_int_equal(T.completed, 2);
		destroy(drv);
	}
}

/* From another thread, ops->drain spares the wait for the queue thread;
 * a model that cancels answers with nothing written. */
static void test_drain_other_thread(void **state)
{
	for (unsigned k = 1; k < 4; k += 2) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		struct vdev_loop *loop = vdev_loop_new();
		struct vdev_watcher w;
		struct vdev_queue_state st;
		pthread_t thr;
		int64_t t0;
		void *tok;
		uint32_t len = 99;

		T.defer = true;
		T.drain = TDEV_DRAIN_CANCEL;
		vdev_loop_watcher(loop, &w);
		assert_int_equal(vdev_set_watcher(T.dev, &w), 0);
		assert_int_equal(pthread_create(&thr, NULL, worker, loop), 0);
		add_req(drv, 0, 5);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		for (int i = 0; i < 200; i++) {
			if (__atomic_load_n(&T.nheld, __ATOMIC_ACQUIRE))
				break;
			usleep(5000);
		}
		t0 = now_ms();
		assert_int_equal(vdev_vq_stop(T.dev, 0, &st), 0);
		assert_true(now_ms() - t0 < 1000);
		assert_int_equal(T.completed, 1);
		assert_int_equal(st.used_idx, modes[k].packed ? 2 : 1);
		assert_int_equal(vdev_drv_ring_get_used(vdev_drv_ring(drv, 0),
							&tok, &len), 0);
		assert_ptr_equal(tok, (void *)5);
		assert_int_equal(len, 0);
		vdev_loop_stop(loop);
		pthread_join(thr, NULL);
		destroy(drv);
		vdev_loop_free(loop);
	}
}

/* A device reset drains every queue first: the completions land in the
 * rings before they go away. RING_RESET drains its own queue only. */
static void test_drain_on_reset(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);

		T.defer = true;
		T.drain = TDEV_DRAIN_COMPLETE;
		add_req(drv, 0, 1);
		add_req(drv, 1, 2);
		vdev_drv_kick(drv, 0);
		vdev_drv_kick(drv, 1);
		for (int i = 0; i < 100 && T.nheld < 2; i++)
			vdev_drv_wait(drv, 0, 10, NULL, NULL);
		assert_int_equal(T.nheld, 2);
		assert_int_equal(vdev_vq_reset(T.dev, 0), 0);
		assert_int_equal(T.drains[0], 1);
		assert_int_equal(T.drains[1], 0);
		assert_int_equal(T.nheld, 1);
		vdev_reset(T.dev);
		assert_int_equal(T.drains[1], 1);
		assert_int_equal(T.nheld, 0);
		assert_int_equal(T.completed, 2);
		assert_int_equal(T.last_push_ret, 0);
		T.defer = false;
		assert_int_equal(vdev_drv_init(drv), 0);
		echo_ok(drv, 0);
		destroy(drv);
	}
}

static void test_reset_inflight(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		void *tok;
		uint32_t len;

		T.defer = true;
		add_req(drv, 0, 1);
		add_req(drv, 0, 2);
		vdev_drv_kick(drv, 0);
		vdev_drv_wait(drv, 0, 20, &tok, &len);
		assert_int_equal(T.nheld, 2);
		/* The driver resets the device with both in flight. */
		assert_int_equal(vdev_drv_init(drv), 0);
		assert_int_equal(T.resets, 2);
		/* Completing them later touches no ring. */
		assert_int_equal(tdev_complete(&T), 2);
		assert_int_equal(T.last_push_ret, -ESTALE);
		T.defer = false;
		echo_ok(drv, 0);
		destroy(drv);
	}
}

static void test_ring_reset(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);

		echo_ok(drv, 0);
		assert_int_equal(vdev_vq_reset(T.dev, 0), 0);
		assert_false(vdev_vq_enabled(T.dev, 0));
		assert_false(vdev_queue_ready(vdev_get_queue(T.dev, 0)));
		echo_ok(drv, 1);
		assert_int_equal(vdev_drv_setup_queue(drv, 0, 0), 0);
		echo_ok(drv, 0);
		echo_ok(drv, 0);
		destroy(drv);
	}
}

/* RING_RESET with a request in flight on another thread: the reset waits
 * for it, so its completion lands before the ring goes away and never in
 * a buffer the driver reuses afterwards. */
static void test_ring_reset_waits_inflight(void **state)
{
	for (unsigned k = 1; k < 4; k += 2) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		struct vdev_loop *loop = vdev_loop_new();
		struct vdev_watcher w;
		pthread_t thr, late;
		int64_t t0;
		void *tok;
		uint32_t len;

		T.defer = true;
		vdev_loop_watcher(loop, &w);
		assert_int_equal(vdev_set_watcher(T.dev, &w), 0);
		assert_int_equal(pthread_create(&thr, NULL, worker, loop), 0);
		add_req(drv, 0, 7);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		for (int i = 0; i < 200; i++) {
			if (__atomic_load_n(&T.nheld, __ATOMIC_ACQUIRE))
				break;
			usleep(5000);
		}
		assert_int_equal(__atomic_load_n(&T.nheld, __ATOMIC_ACQUIRE),
				 1);
		assert_int_equal(pthread_create(&late, NULL, late_done, NULL),
				 0);
		t0 = now_ms();
		assert_int_equal(vdev_vq_reset(T.dev, 0), 0);
		assert_true(now_ms() - t0 >= 80);
		assert_int_equal(T.completed, 1);
		assert_int_equal(T.last_push_ret, 0);
		assert_false(vdev_queue_ready(vdev_get_queue(T.dev, 0)));
		pthread_join(late, NULL);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)7);
		vdev_loop_stop(loop);
		pthread_join(thr, NULL);
		destroy(drv);
		vdev_loop_free(loop);
	}
}

static void test_budget(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		unsigned got = 0;

		vdev_queue_set_budget(vdev_get_queue(T.dev, 0), 4);
		for (uintptr_t i = 1; i <= 20; i++)
			add_req(drv, 0, i);
		assert_int_equal(vdev_drv_kick(drv, 0), 0);
		while (got < 20) {
			void *tok;
			uint32_t len;

			assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok,
						       &len), 0);
			assert_int_equal(len, 8);
			got++;
		}
		assert_int_equal(T.pops[0], 20);
		/* At most 4 per round: several rounds. */
		assert_true(T.handles[0] >= 5);
		destroy(drv);
	}
}

/*
 * A synchronous kick (virtio-mmio without a kick fd, vfio-user notify) is
 * one round too: it returns after the budget, the queue's own thread
 * serves the rest, so a driver that keeps the ring full cannot hold the
 * caller (a vCPU, the vfio-user socket thread) for as long as it likes.
 */
static void test_sync_kick_one_round(void **state)
{
	for (unsigned k = 0; k < 4; k += 2) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		unsigned got = 0;

		assert_false(modes[k].eventfds);
		vdev_queue_set_budget(vdev_get_queue(T.dev, 0), 4);
		for (uintptr_t i = 1; i <= 20; i++)
			add_req(drv, 0, i);
		assert_int_equal(vdev_vq_kick(T.dev, 0, 0), 0);
		assert_int_equal(T.pops[0], 4);
		while (got < 20) {
			void *tok;
			uint32_t len;

			assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok,
						       &len), 0);
			got++;
		}
		assert_int_equal(T.pops[0], 20);
		destroy(drv);
	}
}

static void *scheduler(void *arg)
{
	vdev_queue_schedule(T.dev, 0);
	return NULL;
}

static void test_wait_and_schedule(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);
		pthread_t thr;
		void *tok;
		uint32_t len;

		T.wait = true;
		add_req(drv, 0, 4);
		vdev_drv_kick(drv, 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 50, &tok, &len),
				 -ETIMEDOUT);
		/* A waiting model is not called in a loop. */
		assert_true(T.handles[0] >= 1 && T.handles[0] <= 3);
		T.wait = false;
		assert_int_equal(pthread_create(&thr, NULL, scheduler, NULL),
				 0);
		pthread_join(thr, NULL);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)4);
		destroy(drv);
	}
}

/*
 * A kick's round leaves a pending schedule alone (it does not read the
 * schedule eventfd on every kick): the scheduled round still runs, once,
 * and its wakeup consumes the eventfd, so the loop then sleeps.
 */
static void test_schedule_outlives_kick(void **state)
{
	struct vdev_drv *drv = make(&modes[1], 0, true);
	unsigned h;
	void *tok;
	uint32_t len;

	T.wait = true;
	add_req(drv, 0, 5);
	vdev_drv_kick(drv, 0);
	assert_int_equal(vdev_drv_wait(drv, 0, 0, &tok, &len), -ETIMEDOUT);
	h = T.handles[0];
	assert_true(h >= 1);
	vdev_queue_schedule(T.dev, 0);
	vdev_vq_dispatch(T.dev, 0); /* a kick's round: the model waits */
	assert_int_equal(T.handles[0], h + 1);
	T.wait = false;
	assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
	assert_ptr_equal(tok, (void *)5);
	assert_int_equal(T.handles[0], h + 2);
	/* The used-buffer interrupt, at most; then nothing. */
	assert_true(vdev_drv_poll(drv, 0) <= 1);
	assert_int_equal(vdev_drv_poll(drv, 0), 0);
	assert_int_equal(T.handles[0], h + 2);
	destroy(drv);
}

static void test_mem(void **state)
{
	struct vdev_drv *drv = make(&modes[1], 0, true);
	struct vdev_mem *mem = vdev_get_mem(T.dev);
	void *tok;
	uint32_t len;

	assert_non_null(mem);
	assert_int_equal(vdev_set_mem(T.dev, mem), 0);
	assert_ptr_equal(vdev_get_mem(T.dev), mem);
	echo_ok(drv, 0);
	T.defer = true;
	add_req(drv, 0, 1);
	vdev_drv_kick(drv, 0);
	vdev_drv_wait(drv, 0, 20, &tok, &len);
	assert_int_equal(T.nheld, 1);
	assert_int_equal(vdev_set_mem(T.dev, mem), -EBUSY);
	tdev_complete(&T);
	assert_int_equal(vdev_drv_wait(drv, 0, 100, &tok, &len), 0);
	assert_int_equal(vdev_set_mem(T.dev, mem), 0);
	/* Another map of the same RAM: the rings are re-translated. */
	{
		struct vdev_drv_mem *dm = vdev_drv_get_mem(drv);
		struct vdev_mem_region reg = {
			.guest_addr = vdev_drv_mem_base(dm),
			.size = vdev_drv_mem_size(dm),
			.fd = vdev_drv_mem_fd(dm),
		};
		struct vdev_mem *m2 = vdev_mem_new(), *empty = vdev_mem_new();

		assert_int_equal(vdev_mem_add(m2, &reg), 0);
		assert_int_equal(vdev_set_mem(T.dev, m2), 0);
		vdev_mem_free(m2); /* the device holds its own reference */
		T.defer = false;
		echo_ok(drv, 0);
		echo_ok(drv, 1);
		/* A map without the rings: the queues cannot run... */
		assert_int_equal(vdev_set_mem(T.dev, empty), 0);
		add_req(drv, 0, 9);
		vdev_drv_kick(drv, 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 30, &tok, &len),
				 -ETIMEDOUT);
		/* ...until the transport sets the queue up again. */
		assert_int_equal(vdev_set_mem(T.dev, mem), 0);
		assert_int_equal(vdev_vq_enable(T.dev, 0, true), 0);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)9);
		echo_ok(drv, 0);
		vdev_mem_free(empty);
	}
	destroy(drv);
}

static void dummy(void *arg, int fd, uint32_t ev)
{
}

static void test_watch(void **state)
{
	struct vdev_drv *drv = make(&modes[0], 0, true);

	assert_int_equal(T.watch_ret, 0);
	assert_int_equal(vdev_watch_fd(T.dev, 0, T.done_fd, POLLIN, dummy,
				       NULL), -EEXIST);
	assert_int_equal(vdev_watch_fd(T.dev, 0, -1, POLLIN, dummy, NULL),
			 -EINVAL);
	assert_int_equal(vdev_watch_fd(T.dev, 0, 1000, POLLIN, dummy, NULL),
			 -EBADF);
	assert_int_equal(vdev_unwatch_fd(T.dev, 1, T.done_fd), -ENOENT);
	/* Watchers per queue: queue 1 on another loop. */
	{
		struct vdev_loop *loop = vdev_loop_new();
		struct vdev_watcher w;

		vdev_loop_watcher(loop, &w);
		assert_int_equal(vdev_vq_set_watcher(T.dev, 1, &w), 0);
		add_req(drv, 1, 8);
		/* The kick fd (none in sync mode) is not what matters here:
		 * a schedule goes to queue 1's loop. */
		vdev_queue_schedule(T.dev, 1);
		assert_int_equal(vdev_loop_run_once(loop, 1000), 1);
		assert_int_equal(T.pops[1], 1);
		assert_int_equal(vdev_vq_set_watcher(T.dev, 1, NULL), 0);
		vdev_loop_free(loop);
	}
	destroy(drv);
}

/* A transport call from inside the device's own op would deadlock on a
 * queue lock its caller holds: refused with -EDEADLK, the device goes
 * on. */
static void test_reentry_refused(void **state)
{
	for (unsigned k = 0; k < 4; k++) {
		struct vdev_drv *drv = make(&modes[k], 0, true);

		T.reenter = true;
		echo_ok(drv, 0);
		assert_int_equal(T.reenter_handle, -EDEADLK);
		assert_int_equal(vdev_drv_init(drv), 0);
		assert_int_equal(T.reenter_reset, -EDEADLK);
		T.reenter = false;
		echo_ok(drv, 0);
		/* Outside an op the same calls work. */
		assert_int_equal(vdev_vq_stop(T.dev, 1, NULL), 0);
		destroy(drv);
	}
}

static unsigned fired;
static uint32_t fired_events;

static void count_cb(void *arg, int fd, uint32_t ev)
{
	uint64_t v;

	(void)arg;
	fired++;
	fired_events = ev;
	if (ev & POLLIN && read(fd, &v, sizeof(v)) < 0) {
		/* spurious */
	}
}

/* An fd watched before the queue has a watcher is remembered, registered
 * when one is set, moved when it changes, and dropped by unwatch. */
static void test_watch_before_watcher(void **state)
{
	struct vdev_loop *a = vdev_loop_new(), *b = vdev_loop_new();
	struct vdev_watcher wa, wb;
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t one = 1;

	assert_non_null(tdev_new(&T, 2, 256, 1));
	assert_true(efd >= 0);
	fired = 0;
	assert_false(vdev_has_watcher(T.dev, 1));
	assert_int_equal(vdev_watch_fd(T.dev, 1, efd, POLLIN, count_cb, NULL),
			 0);
	assert_int_equal(write(efd, &one, 8), 8);
	vdev_loop_watcher(a, &wa);
	assert_int_equal(vdev_vq_set_watcher(T.dev, 1, &wa), 0);
	assert_true(vdev_has_watcher(T.dev, 1));
	assert_true(vdev_loop_run_once(a, 1000) >= 1);
	assert_int_equal(fired, 1);
	assert_true(fired_events & POLLIN);
	/* Moved to another watcher: the old one no longer sees it. */
	vdev_loop_watcher(b, &wb);
	assert_int_equal(vdev_vq_set_watcher(T.dev, 1, &wb), 0);
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(vdev_loop_run_once(a, 50), 0);
	assert_true(vdev_loop_run_once(b, 1000) >= 1);
	assert_int_equal(fired, 2);
	assert_int_equal(vdev_unwatch_fd(T.dev, 1, efd), 0);
	assert_int_equal(write(efd, &one, 8), 8);
	while (vdev_loop_run_once(b, 50) > 0)
		;
	assert_int_equal(fired, 2);
	vdev_free(T.dev);
	vdev_loop_free(a);
	vdev_loop_free(b);
	close(efd);
}

/* The events asked for are the ones waited for: POLLOUT on a pipe with
 * room, nothing with 0, and back. */
static void test_watch_events(void **state)
{
	struct vdev_loop *loop = vdev_loop_new();
	struct vdev_watcher w;
	int p[2];

	assert_non_null(tdev_new(&T, 2, 256, 1));
	assert_int_equal(pipe(p), 0);
	fired = 0;
	vdev_loop_watcher(loop, &w);
	assert_int_equal(vdev_set_watcher(T.dev, &w), 0);
	/* The read end: nothing to read, nothing fires. */
	assert_int_equal(vdev_watch_fd(T.dev, 0, p[0], POLLIN, count_cb,
				       NULL), 0);
	assert_int_equal(vdev_loop_run_once(loop, 30), 0);
	/* The write end: room to write. */
	assert_int_equal(vdev_watch_fd(T.dev, 0, p[1], POLLOUT, count_cb,
				       NULL), 0);
	assert_int_equal(vdev_loop_run_once(loop, 1000), 1);
	assert_int_equal(fired, 1);
	assert_true(fired_events & POLLOUT);
	assert_int_equal(vdev_watch_fd_events(T.dev, 0, p[1], 0), 0);
	assert_int_equal(vdev_loop_run_once(loop, 30), 0);
	assert_int_equal(vdev_watch_fd_events(T.dev, 0, p[1], POLLOUT), 0);
	assert_int_equal(vdev_loop_run_once(loop, 1000), 1);
	assert_int_equal(fired, 2);
	assert_int_equal(vdev_watch_fd_events(T.dev, 0, p[1], POLLERR),
			 -EINVAL);
	assert_int_equal(vdev_watch_fd_events(T.dev, 1, p[1], POLLOUT),
			 -ENOENT);
	vdev_unwatch_fd(T.dev, 0, p[0]);
	vdev_unwatch_fd(T.dev, 0, p[1]);
	vdev_free(T.dev);
	vdev_loop_free(loop);
	close(p[0]);
	close(p[1]);
}

static void test_kick_fd_switch(void **state)
{
	struct vdev_drv *drv = make(&modes[1], 0, true);

	echo_ok(drv, 0);
	/* A blocking kick fd: dispatch never blocks on it, and a kick
	 * through it is consumed. */
	{
		int bfd = eventfd(0, EFD_CLOEXEC);
		uint64_t one = 1;
		void *tok;
		uint32_t len;

		assert_true(bfd >= 0);
		assert_int_equal(vdev_vq_set_kick_fd(T.dev, 0, bfd), 0);
		vdev_vq_dispatch(T.dev, 0); /* nothing to read */
		add_req(drv, 0, 11);
		assert_int_equal(write(bfd, &one, 8), 8);
		assert_int_equal(vdev_drv_wait(drv, 0, 1000, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)11);
		vdev_vq_dispatch(T.dev, 0); /* consumed: must not block */
		assert_int_equal(vdev_vq_set_kick_fd(T.dev, 0, -1), 0);
		close(bfd);
	}
	/* Without a kick fd the transport kicks synchronously. */
	assert_int_equal(vdev_vq_set_kick_fd(T.dev, 0, -1), 0);
	add_req(drv, 0, 2);
	assert_int_equal(vdev_vq_kick(T.dev, 0, 0), 0);
	assert_int_equal(T.pops[0], 3);
	{
		void *tok;
		uint32_t len;

		/* Seen by the driver (EVENT_IDX: it asks for the next). */
		assert_int_equal(vdev_drv_wait(drv, 0, 100, &tok, &len), 0);
	}
	/* Without a call fd interrupts go through the transport callback. */
	{
		unsigned before = vdev_drv_interrupts(drv, 0);
		void *tok;
		uint32_t len;

		assert_int_equal(vdev_vq_set_call_fd(T.dev, 0, -1), 0);
		add_req(drv, 0, 3);
		assert_int_equal(vdev_vq_kick(T.dev, 0, 0), 0);
		assert_int_equal(vdev_drv_interrupts(drv, 0), before + 1);
		assert_int_equal(vdev_drv_wait(drv, 0, 100, &tok, &len), 0);
		assert_ptr_equal(tok, (void *)3);
	}
	destroy(drv);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_not_before_driver_ok),
		cmocka_unit_test(test_malformed_needs_reset),
		cmocka_unit_test(test_stop_restart),
		cmocka_unit_test(test_bad_state_refused),
		cmocka_unit_test(test_stop_waits_other_thread),
		cmocka_unit_test(test_stop_restart_stress),
		cmocka_unit_test(test_stop_same_thread),
		cmocka_unit_test(test_drain_other_thread),
		cmocka_unit_test(test_drain_on_reset),
		cmocka_unit_test(test_watch_before_watcher),
		cmocka_unit_test(test_reentry_refused),
		cmocka_unit_test(test_watch_events),
		cmocka_unit_test(test_reset_inflight),
		cmocka_unit_test(test_ring_reset),
		cmocka_unit_test(test_ring_reset_waits_inflight),
		cmocka_unit_test(test_budget),
		cmocka_unit_test(test_sync_kick_one_round),
		cmocka_unit_test(test_wait_and_schedule),
		cmocka_unit_test(test_schedule_outlives_kick),
		cmocka_unit_test(test_mem),
		cmocka_unit_test(test_watch),
		cmocka_unit_test(test_kick_fd_switch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
