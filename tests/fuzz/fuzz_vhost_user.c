/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the vhost-user adapter: a hostile frontend sending
 * any sequence of messages, with fds, to an adapter serving vdev-rng.
 *
 * Input: a sequence of records
 *   [0]      fds to attach: bits 0-3 count (0..15, more than any request
 *            may carry), bit 4 memfds (1 MiB) instead of eventfds, bit 5
 *            the memfds sealed against shrinking (as QEMU's log is; the
 *            adapter takes no inflight or log fd without the seal)
 *   [1..12]  message header (request, flags, size; little-endian)
 *   [13..]   payload: min(size, VHU_MAX_PAYLOAD) bytes, zero-padded
 *            when the input ends first
 * The adapter runs on this thread (vdev_vhost_user_dispatch); its replies
 * are drained. After the input the connection is closed and the adapter
 * must be ready for the next one with no fd left behind.
 *
 * VDEV_FUZZ_FLIP=1 (the double-fetch mode, tests/lib/flipper.h): the
 * memfds attached are copies of four made once (two sealed), which a
 * thread of the fuzzer keeps changing while the adapter maps them as
 * guest memory, inflight and log regions.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <virtio/rng.h>
#include <virtio/vhost-user.h>

#include "adapters/vhost-user/vhu_proto.h"
#include "flipper.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vdev *dev;
static struct vdev_vhost_user *vu;
static char path[108];

/* Flip mode: [0..1] sealed against shrinking, [2..3] not. */
#define POOL_SIZE (1u << 20)
static int pool[4] = { -1, -1, -1, -1 };

static void pool_init(void)
{
	void *maps[4];
	size_t lens[4];

	for (unsigned i = 0; i < 4; i++) {
		pool[i] = memfd_create("fuzz-pool", MFD_CLOEXEC |
				       MFD_ALLOW_SEALING);
		if (pool[i] < 0 || ftruncate(pool[i], POOL_SIZE) < 0 ||
		    (i < 2 && fcntl(pool[i], F_ADD_SEALS, F_SEAL_SHRINK) < 0))
			abort();
		maps[i] = mmap(NULL, POOL_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED, pool[i], 0);
		if (maps[i] == MAP_FAILED)
			abort();
		lens[i] = POOL_SIZE;
	}
	flipper_fuzz_start(maps, lens, 4);
}

static void init(void)
{
	struct vdev_vhost_user_config cfg = { .mode = VDEV_VHOST_USER_LISTEN };

	snprintf(path, sizeof(path), "/tmp/fuzz-vhu-%d.sock", (int)getpid());
	cfg.path = path;
	dev = vdev_rng_new(NULL);
	vu = dev ? vdev_vhost_user_new(dev, &cfg) : NULL;
	if (!vu)
		abort();
	if (flipper_fuzz_mode())
		pool_init();
}

/*
 * Open fds, pipes left out when @pipes is false: the sanitizer's
 * symbolizer keeps two pipes open once libFuzzer first prints a source
 * location, and nothing here hands the adapter a pipe. Telling pipes
 * apart takes a readlink per fd, which cost more than the adapter's own
 * work per input; the caller does it only when the total moved.
 */
static unsigned count_fds(bool pipes)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	unsigned n = 0;

	if (!d)
		abort();
	while ((e = readdir(d))) {
		char l[300], t[64] = "";

		if (pipes) {
			n++;
			continue;
		}
		snprintf(l, sizeof(l), "/proc/self/fd/%s", e->d_name);
		if (readlink(l, t, sizeof(t) - 1) > 0 &&
		    strncmp(t, "pipe:", 5) == 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static void drain(int fd)
{
	char buf[4096];
	union {
		char b[CMSG_SPACE(8 * sizeof(int))];
		struct cmsghdr align;
	} ctl;

	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c;
		     c = CMSG_NXTHDR(&mh, c)) {
			unsigned k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (unsigned i = 0; i < k; i++) {
				int f;

				memcpy(&f, CMSG_DATA(c) + i * sizeof(int), 4);
				close(f);
			}
		}
	}
}

static void send_record(int sock, uint8_t spec, const uint8_t *msg,
			size_t len)
{
	union {
		char b[CMSG_SPACE(16 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { (void *)msg, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	unsigned n = spec & 15;
	int fds[16];

	for (unsigned i = 0; i < n; i++) {
		if ((spec & 16) && pool[0] >= 0) {
			fds[i] = fcntl(pool[(spec & 32 ? 0 : 2) + (i & 1)],
				       F_DUPFD_CLOEXEC, 0);
		} else if (spec & 16) {
			fds[i] = memfd_create("fuzz", MFD_CLOEXEC |
					      MFD_ALLOW_SEALING);
			if (fds[i] >= 0 &&
			    (ftruncate(fds[i], 1 << 20) < 0 ||
			     ((spec & 32) &&
			      fcntl(fds[i], F_ADD_SEALS, F_SEAL_SHRINK) < 0))) {
				close(fds[i]);
				fds[i] = -1;
			}
		} else {
			fds[i] = eventfd(0, EFD_CLOEXEC);
		}
		if (fds[i] < 0)
			abort();
	}
	if (n) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(n * sizeof(int));
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(n * sizeof(int));
		memcpy(CMSG_DATA(c), fds, n * sizeof(int));
	}
	if (sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		/* buffer full or closed: the adapter copes either way */
	}
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	unsigned before;
	int sock;

	if (!vu)
		init();
	sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	strcpy(sa.sun_path, path);
	if (sock < 0 || connect(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	before = vdev_vhost_user_connections(vu);
	while (vdev_vhost_user_connections(vu) == before)
		vdev_vhost_user_dispatch(vu, 100);

	while (size >= 13) {
		uint8_t msg[12 + VHU_MAX_PAYLOAD] = { 0 };
		uint32_t msz;
		size_t len, have;

		/* Whole messages only (zero-padded): the adapter reads a
		 * message with blocking reads on this very thread. */
		memcpy(&msz, data + 9, 4);
		/* Never less than the header announces (up to the
		 * adapter's own cap): a short message would make the
		 * adapter wait out its stall timeout. */
		len = 12 + (msz < VHU_MAX_PAYLOAD ? msz : VHU_MAX_PAYLOAD);
		have = len < size - 1 ? len : size - 1;
		memcpy(msg, data + 1, have);
		send_record(sock, data[0], msg, len);
		/* Let the adapter take it, and drain what it answers. */
		while (vdev_vhost_user_connected(vu) &&
		       vdev_vhost_user_dispatch(vu, 0) > 0)
			drain(sock);
		drain(sock);
		data += 1 + have;
		size -= 1 + have;
	}
	shutdown(sock, SHUT_WR);
	while (vdev_vhost_user_connected(vu)) {
		vdev_vhost_user_dispatch(vu, 10);
		drain(sock);
	}
	close(sock);
	/* Every fd the input sent was closed by the adapter. The total
	 * (pipes included) unchanged since the last full count means no
	 * leak: the only fds that come and go outside the adapter are the
	 * symbolizer's pipes, which are only ever added. */
	{
		static unsigned baseline, total;
		unsigned now = count_fds(true);

		if (now == total)
			return 0;
		total = now;
		now = count_fds(false);
		if (!baseline)
			baseline = now;
		if (now != baseline) {
			DIR *d = opendir("/proc/self/fd");
			struct dirent *e;

			fprintf(stderr, "fd leak: %u open, %u before\n", now,
				baseline);
			while (d && (e = readdir(d))) {
				char l[300], t[256] = "";

				snprintf(l, sizeof(l), "/proc/self/fd/%s",
					 e->d_name);
				if (readlink(l, t, sizeof(t) - 1) < 0)
					continue;
				fprintf(stderr, "  fd %s -> %s\n", e->d_name, t);
			}
			if (d)
				closedir(d);
			abort();
		}
	}
	return 0;
}
