/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev_daemon_sandbox(): in a forked child each, a forbidden call (execve,
 * a network socket, an ioctl outside the storage requests, fork) kills the
 * process with SIGSYS after a line naming the call; what serving needs
 * (threads, UNIX sockets, eventfds, epoll, memory) still works; a daemon's
 * extra names allow their calls; threads started before the filter are
 * under it too; open fails with EACCES instead; an unknown name is
 * refused. The daemons themselves run sandboxed in every daemon test
 * (test_vhost_user_daemon checks the kernel's view of it).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/daemon.h>

#include "tspawn.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif
/* Their runtimes open files: the sandbox allows open there. */
#ifndef VDEV_COVERAGE
#define VDEV_COVERAGE 0
#endif
#define OPEN_ALLOWED (SANITIZED || VDEV_COVERAGE)

static char log_path[64];

static void need_sandbox(void)
{
	if (!vdev_daemon_sandbox_available()) {
		assert_int_equal(vdev_daemon_sandbox("t", NULL), -ENOSYS);
		print_message("SKIP: built without libseccomp: no sandbox\n");
		skip();
	}
}

/* In the child: stderr to the log, no core file for the SIGSYS. */
static int enter(const char *const *extra)
{
	struct rlimit no = { 0, 0 };
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0600);

	if (fd < 0 || dup2(fd, 2) < 0)
		return 90;
	close(fd);
	setrlimit(RLIMIT_CORE, &no);
	return vdev_daemon_sandbox("sbx-test", extra) ? 91 : 0;
}

/* Runs @fn in a child; returns its tspawn result. */
static int run(int (*fn)(void *), void *arg)
{
	struct tspawn t;

	memset(&t, 0, sizeof(t));
	assert_int_equal(tspawn_fork(&t, fn, arg, "sandboxed child"), 0);
	return tspawn_wait(&t, TSPAWN_TIMEOUT_MS);
}

static void assert_log_names(const char *call)
{
	char buf[1024] = "", want[64];
	FILE *f = fopen(log_path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	snprintf(want, sizeof(want), "sandbox: system call %s (", call);
	if (!strstr(buf, want))
		fail_msg("no \"%s\" in: %s", want, buf);
	assert_non_null(strstr(buf, "sbx-test: "));
}

static int do_execve(void *arg)
{
	char *const argv[] = { (char *)"true", NULL };

	(void)arg;
	if (enter(NULL))
		return 1;
	execve("/bin/true", argv, (char *const[]){ NULL });
	return 2; /* the call came back: not killed */
}

static void test_execve_kills(void **state)
{
	(void)state;
	need_sandbox();
	assert_int_equal(run(do_execve, NULL), TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("execve");
}

static int do_inet(void *arg)
{
	const char *const *extra = arg;
	int fd;

	if (enter(extra))
		return 1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 3;
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 4;
	close(fd);
	return 0;
}

static void test_network_socket(void **state)
{
	(void)state;
	need_sandbox();
	/* UNIX sockets are the library's; any other family is not. */
	assert_int_equal(run(do_inet, NULL), TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("socket");
	/* A daemon with a network backend lists "socket". */
	assert_int_equal(run(do_inet, (void *)(const char *const[]){
				     "socket", NULL }), 0);
}

static int do_ioctl(void *arg)
{
	const char *const *extra = arg;
	int fds[2], n = -1;

	if (pipe2(fds, O_CLOEXEC) < 0 || enter(extra))
		return 1;
	/* FIONREAD: not one of the storage layer's block requests. */
	if (ioctl(fds[0], FIONREAD, &n) < 0 || n != 0)
		return 3;
	return 0;
}

static void test_ioctl(void **state)
{
	(void)state;
	need_sandbox();
	assert_int_equal(run(do_ioctl, NULL), TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("ioctl");
	assert_int_equal(run(do_ioctl, (void *)(const char *const[]){
				     "ioctl", NULL }), 0);
}

static int do_fork(void *arg)
{
	pid_t p;

	(void)arg;
	if (enter(NULL))
		return 1;
	p = fork();
	if (p == 0)
		_exit(0);
	return 2;
}

static void test_fork_kills(void **state)
{
	(void)state;
	need_sandbox();
	if (SANITIZED) {
		/* LeakSanitizer forks its tracer at exit: a sanitizer
		 * build allows clone with any flags. */
		print_message("SKIP: a sanitizer build allows processes\n");
		skip();
	}
	assert_int_equal(run(do_fork, NULL), TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("clone");
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* What serving needs keeps working. */
static int do_serving_calls(void *arg)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int efd, ep, sv[2];
	uint64_t v = 1;
	pthread_t th;
	void *p, *ret = NULL;

	(void)arg;
	if (enter(NULL))
		return 1;
	if (pthread_create(&th, NULL, thread_fn, &v) ||
	    pthread_join(th, &ret) || ret != &v)
		return 3;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	ep = epoll_create1(EPOLL_CLOEXEC);
	if (efd < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev) ||
	    write(efd, &v, sizeof(v)) != sizeof(v) ||
	    epoll_wait(ep, &ev, 1, 1000) != 1)
		return 4;
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || munmap(p, 1 << 20))
		return 5;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0)
		return 6; /* not on the list: the call traps first */
	return 0;
}

static void test_serving_calls_work(void **state)
{
	(void)state;
	need_sandbox();
	/* socketpair is not on the list: reaching it proves the rest
	 * passed, and it must kill. */
	assert_int_equal(run(do_serving_calls, NULL),
			 TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("socketpair");
}

/* A thread started before the filter (the storage pool's) is under it. */
static pthread_mutex_t go_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go_cv = PTHREAD_COND_INITIALIZER;
static bool go;

static void *early_thread(void *arg)
{
	char *const argv[] = { (char *)"true", NULL };

	(void)arg;
	pthread_mutex_lock(&go_lock);
	while (!go)
		pthread_cond_wait(&go_cv, &go_lock);
	pthread_mutex_unlock(&go_lock);
	execve("/bin/true", argv, (char *const[]){ NULL });
	return NULL;
}

static int do_early_thread(void *arg)
{
	pthread_t th;

	(void)arg;
	if (pthread_create(&th, NULL, early_thread, NULL) || enter(NULL))
		return 1;
	pthread_mutex_lock(&go_lock);
	go = true;
	pthread_cond_signal(&go_cv);
	pthread_mutex_unlock(&go_lock);
	pthread_join(th, NULL);
	return 2;
}

static void test_threads_before(void **state)
{
	(void)state;
	need_sandbox();
	assert_int_equal(run(do_early_thread, NULL), TSPAWN_SIGNALED + SIGSYS);
	assert_log_names("execve");
}

static int do_open(void *arg)
{
	const char *const *extra = arg;
	int fd;

	if (enter(extra))
		return 1;
	fd = open("/proc/sys/vm/overcommit_memory", O_RDONLY | O_CLOEXEC);
	if (extra || OPEN_ALLOWED)
		return fd >= 0 ? 0 : 3;
	/* Refused, not killed: glibc's malloc opens this file when a
	 * thread's arena first shrinks, and copes. */
	return fd < 0 && errno == EACCES ? 0 : 4;
}

static void test_open_refused(void **state)
{
	(void)state;
	need_sandbox();
	if (OPEN_ALLOWED)
		print_message("a sanitizer or coverage build allows open: "
			      "checking that it works\n");
	assert_int_equal(run(do_open, NULL), 0);
	/* A daemon that lists them may open files (a name the base list
	 * has already, "read", is no error). */
	assert_int_equal(run(do_open, (void *)(const char *const[]){
				     "open", "openat", "read", NULL }), 0);
}

static int do_bad_name(void *arg)
{
	char *const argv[] = { (char *)"true", NULL };

	(void)arg;
	if (enter((const char *const[]){ "no_such_call", NULL }) != 91)
		return 1;
	/* Refused before anything was loaded: still unconfined. */
	execve("/bin/true", argv, (char *const[]){ NULL });
	return 2;
}

static void test_unknown_name(void **state)
{
	(void)state;
	need_sandbox();
	assert_int_equal(run(do_bad_name, NULL), 0);
}

static int setup(void **state)
{
	(void)state;
	snprintf(log_path, sizeof(log_path), "/tmp/vdev-sbx-%d.log",
		 (int)getpid());
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(log_path);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_execve_kills),
		cmocka_unit_test(test_network_socket),
		cmocka_unit_test(test_ioctl),
		cmocka_unit_test(test_fork_kills),
		cmocka_unit_test(test_serving_calls_work),
		cmocka_unit_test(test_threads_before),
		cmocka_unit_test(test_open_refused),
		cmocka_unit_test(test_unknown_name),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
