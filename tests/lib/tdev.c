/* SPDX-License-Identifier: BSD-3-Clause */
/* Test helpers for the gpio and i2c tests: see tdev.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <virtio/gpio.h>
#include <virtio/i2c.h>
#include <virtio/testing.h>

#include "tdev.h"
#include "tspawn.h"
#include "twait.h"

int tgpio_req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
	      uint32_t value, uint8_t *out)
{
	struct vdev_gpio_request r = {
		.type = vdev_cpu_to_le16(type),
		.gpio = vdev_cpu_to_le16(gpio),
		.value = vdev_cpu_to_le32(value),
	};
	uint8_t resp[2] = { 0xee, 0xee };
	uint32_t w = 0;

	if (vdev_drv_xfer(drv, 0, &r, sizeof(r), resp, sizeof(resp), &w,
			  TWAIT_MS) != 0 || w != 2)
		return -EPROTO;
	if (out)
		*out = resp[1];
	return resp[0];
}

int tgpio_unmask(struct vdev_drv *drv, uint16_t line, uint8_t **st,
		 int kick)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	struct vdev_drv_seg segs[2];
	vdev_le16 *g = vdev_drv_mem_alloc(mem, 2, 2, &segs[0].gpa);

	*st = vdev_drv_mem_alloc(mem, 1, 1, &segs[1].gpa);
	if (!g || !*st)
		return -ENOMEM;
	*g = vdev_cpu_to_le16(line);
	**st = 0xee;
	segs[0].len = 2;
	segs[1].len = 1;
	if (vdev_drv_ring_add(vdev_drv_ring(drv, 1), segs, 1, 1,
			      (void *)(uintptr_t)(line + 1), 0) != 0)
		return -ENOSPC;
	return kick ? vdev_drv_kick(drv, 1) : 0;
}

int tgpio_event(struct vdev_drv *drv, int ms)
{
	void *tok;
	uint32_t len;
	int r = vdev_drv_wait(drv, 1, ms, &tok, &len);

	if (r == -ETIMEDOUT)
		return -1;
	if (r != 0 || len != 1)
		return -2;
	return (int)(uintptr_t)tok - 1;
}

int ti2c_txn(struct vdev_drv *drv, struct ti2c_msg *m, unsigned n)
{
	struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
	size_t mark = vdev_drv_mem_mark(mem);
	uint8_t *st[64], *rbuf[64];
	int r = 0;

	if (n > 64)
		return -EINVAL;
	for (unsigned i = 0; i < n && !r; i++) {
		struct vdev_drv_seg segs[3];
		struct vdev_i2c_out_hdr *h;
		unsigned nin = 0;
		bool rd = m[i].flags & VDEV_I2C_FLAGS_M_RD;

		h = vdev_drv_mem_alloc(mem, 8 + (rd ? 0 : m[i].len) + 1, 8,
				       &segs[0].gpa);
		h->addr = vdev_cpu_to_le16(m[i].wire);
		h->padding = 0;
		h->flags = vdev_cpu_to_le32(m[i].flags |
			(i + 1 < n ? VDEV_I2C_FLAGS_FAIL_NEXT : 0));
		segs[0].len = 8;
		if (!rd && m[i].len) {
			memcpy((uint8_t *)h + 8, m[i].data, m[i].len);
			segs[0].len += m[i].len;
		}
		rbuf[i] = NULL;
		if (rd && m[i].len) {
			rbuf[i] = vdev_drv_mem_alloc(mem, m[i].len, 1,
						     &segs[1].gpa);
			segs[1].len = m[i].len;
			nin++;
		}
		st[i] = vdev_drv_mem_alloc(mem, 1, 1, &segs[1 + nin].gpa);
		*st[i] = 0xee;
		segs[1 + nin].len = 1;
		nin++;
		r = vdev_drv_ring_add(vdev_drv_ring(drv, 0), segs, 1, nin,
				      (void *)(uintptr_t)(i + 1), 0);
	}
	if (!r)
		r = vdev_drv_kick(drv, 0);
	for (unsigned k = 0; k < n && !r; k++) {
		void *tok;
		uint32_t len;
		unsigned i;

		r = vdev_drv_wait(drv, 0, TWAIT_MS, &tok, &len);
		if (r)
			break;
		i = (unsigned)(uintptr_t)tok - 1;
		if (i >= n)
			r = -EPROTO;
		else
			m[i].used = len;
	}
	for (unsigned i = 0; i < n && !r; i++) {
		m[i].status = *st[i];
		if (rbuf[i])
			memcpy(m[i].data, rbuf[i], m[i].len);
	}
	vdev_drv_mem_reset_to(mem, mark);
	return r;
}

int tctl_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;

		close(fd);
		return e;
	}
	return fd;
}

void tctl_fd(int fd, const char *cmd, char *reply, size_t len,
	     struct vdev_drv *drv)
{
	size_t got = 0;

	reply[0] = 0;
	if (*cmd && send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) !=
			    (ssize_t)strlen(cmd))
		return;
	for (uint64_t end = twait_now_ms() + TWAIT_MS;
	     !memchr(reply, '\n', got) && twait_now_ms() < end;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (drv)
			vdev_drv_poll(drv, 10);
		if (poll(&p, 1, drv ? 0 : 10) != 1)
			continue;
		n = recv(fd, reply + got, len - 1 - got, 0);
		if (n <= 0)
			break;
		got += (size_t)n;
		reply[got] = 0;
	}
}

void tctl(const char *path, const char *cmd, char *reply, size_t len,
	  struct vdev_drv *drv)
{
	int fd = tctl_connect(path);

	reply[0] = 0;
	if (fd < 0)
		return;
	tctl_fd(fd, cmd, reply, len, drv);
	close(fd);
}

int trun(const char *const *argv, const char *log, char *out, size_t len)
{
	struct tspawn t;
	int ret, fd;
	ssize_t n;

	unlink(log);
	out[0] = 0;
	ret = tspawn_start(&t, argv, &(struct tspawn_opts){ .fd = -1,
							    .log = log });
	if (ret < 0)
		return ret;
	ret = tspawn_wait(&t, 10000);
	fd = open(log, O_RDONLY);
	if (fd < 0)
		return ret;
	n = read(fd, out, len - 1);
	close(fd);
	out[n > 0 ? n : 0] = 0;
	return ret;
}
