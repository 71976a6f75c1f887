/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Threads the library starts take no process signals (they go to the
 * application's own threads) but stay open to the synchronous ones a
 * fault raises (SIGBUS on a peer's shrunk memory must reach the library's
 * handler, not kill the process): checked on every thread of a process
 * that serves a device over vhost-user, one worker per queue, while a
 * driver uses it.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#include "tenv.h"
#include "twait.h"
#include "vcore_tdev.h"
#include "vhu_frontend.h"

/* The blocked-signal mask of thread @tid, from /proc. */
static uint64_t sigblk(const char *tid)
{
	char path[300], line[128];
	unsigned long long m = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SigBlk: %llx", &m) == 1)
			break;
	fclose(f);
	return m;
}

static uint64_t bit(int sig)
{
	return 1ull << (sig - 1);
}

static volatile pthread_t got_on;

static void on_usr1(int sig)
{
	(void)sig;
	got_on = pthread_self();
}

/*
 * The tids of this process's threads, in @tids (at most @max); their
 * number.
 */
static unsigned list_tasks(long *tids, unsigned max)
{
	struct dirent *e;
	unsigned n = 0;
	DIR *d = opendir("/proc/self/task");

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max)
		if (e->d_name[0] != '.')
			tids[n++] = strtol(e->d_name, NULL, 10);
	closedir(d);
	return n;
}

static bool listed(const long *tids, unsigned n, long tid)
{
	for (unsigned i = 0; i < n; i++)
		if (tids[i] == tid)
			return true;
	return false;
}

static void test_library_threads(void **state)
{
	struct vdev_vhost_user_config vc = {
		.threads = VDEV_VHOST_USER_THREAD_PER_QUEUE,
	};
	struct vdev_drv_config dc = { .queue_size = 32 };
	struct vhu_fe_server srv;
	struct vdev_drv *drv;
	struct tdev t;
	long before[64], now[64];
	unsigned nbefore, nnow, others = 0;
	uint8_t in[4];
	uint32_t w;

	(void)state;
	if (tenv_proc_sigmask_broken()) {
		print_message("SKIP: %s\n", tenv_proc_sigmask_broken());
		skip();
	}
	/* Threads already there (a sanitizer's, cmocka's) are not the
	 * library's. */
	nbefore = list_tasks(before, 64);
	assert_true(nbefore > 0 && nbefore < 64);
	assert_non_null(tdev_new(&t, 2, 256, 1));
	assert_int_equal(vhu_fe_server_start(&srv, t.dev, &vc), 0);
	drv = vdev_drv_connect_vhost_user(srv.path, &dc);
	assert_non_null(drv);
	assert_int_equal(vdev_drv_init(drv), 0);
	/*
	 * A request on every queue, so that each worker has run. glibc
	 * starts a thread with every signal blocked and gives it the mask
	 * it inherited only once it first runs: on a loaded machine a worker
	 * that has not run yet shows SIGBUS blocked. Its served request is
	 * the event this test waits for.
	 */
	for (unsigned q = 0; q < 2; q++)
		assert_int_equal(vdev_drv_xfer(drv, q, "abc", 4, in, 4, &w,
					       TWAIT_MS), 0);

	/* Every thread that came since, but the test's server thread, is
	 * the library's: none may be left out. */
	nnow = list_tasks(now, 64);
	assert_true(nnow < 64);
	for (unsigned i = 0; i < nnow; i++) {
		char tid[24];
		uint64_t m;

		if (listed(before, nbefore, now[i]) ||
		    now[i] == __atomic_load_n(&srv.tid, __ATOMIC_ACQUIRE))
			continue;
		snprintf(tid, sizeof(tid), "%ld", now[i]);
		m = sigblk(tid);
		others++;
		assert_true(m & bit(SIGINT));
		assert_true(m & bit(SIGTERM));
		assert_true(m & bit(SIGUSR1));
		assert_true(m & bit(SIGPIPE));
		assert_false(m & bit(SIGBUS));
		assert_false(m & bit(SIGSEGV));
		assert_false(m & bit(SIGFPE));
		assert_false(m & bit(SIGILL));
	}
	/* Two queue workers at least (one per queue). */
	assert_true(others >= 2);

	/* A process-directed signal lands on a thread that does not block
	 * it: never a library thread (here, this one or the server's). */
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < 20; i++) {
		got_on = 0;
		kill(getpid(), SIGUSR1);
		/* glibc runs the handler before kill() returns; a sanitizer
		 * defers it to its next interception point, whenever that
		 * runs on a loaded machine. */
		for (int k = 0; k < 10000 && !got_on; k++)
			usleep(1000);
		assert_true(pthread_equal(got_on, pthread_self()) ||
			    pthread_equal(got_on, srv.thread));
	}
	signal(SIGUSR1, SIG_DFL);
	vdev_drv_free(drv);
	vhu_fe_server_stop(&srv);
	vdev_free(t.dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_library_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
