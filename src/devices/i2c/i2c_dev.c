/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A host I2C adapter through /dev/i2c-N: a transfer is one I2C_RDWR, or,
 * on an adapter without I2C_FUNC_I2C (SMBus-only controllers, i2c-stub),
 * the SMBus transaction the messages amount to: a quick command (one
 * message without data), receive/send byte (one message of one byte),
 * write byte/word data (one write of two or three bytes), read byte/word
 * data (a one-byte write then a read of one or two bytes). Anything else
 * fails on such an adapter, as it would on its bus.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/i2c-dev.h>
#include <linux/i2c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "devices/i2c/i2c_internal.h"

struct vi2c_adapter {
	int fd;
	unsigned long funcs;
	char path[64];
};

struct vi2c_adapter *vi2c_adapter_open(const char *path)
{
	struct vi2c_adapter *a = calloc(1, sizeof(*a));
	int err;

	if (!a)
		return NULL;
	if (path[0] >= '0' && path[0] <= '9')
		snprintf(a->path, sizeof(a->path), "/dev/i2c-%s", path);
	else
		snprintf(a->path, sizeof(a->path), "%s", path);
	a->fd = open(a->path, O_RDWR | O_CLOEXEC);
	if (a->fd < 0)
		goto fail;
	if (ioctl(a->fd, I2C_FUNCS, &a->funcs) < 0)
		goto fail;
	if (!(a->funcs & (I2C_FUNC_I2C | I2C_FUNC_SMBUS_QUICK |
			  I2C_FUNC_SMBUS_BYTE | I2C_FUNC_SMBUS_BYTE_DATA |
			  I2C_FUNC_SMBUS_WORD_DATA))) {
		errno = ENOTSUP;
		goto fail;
	}
	return a;
fail:
	err = errno;
	if (a->fd >= 0)
		close(a->fd);
	free(a);
	errno = err;
	return NULL;
}

void vi2c_adapter_close(struct vi2c_adapter *a)
{
	if (!a)
		return;
	close(a->fd);
	free(a);
}

const char *vi2c_adapter_path(const struct vi2c_adapter *a)
{
	return a->path;
}

static unsigned rdwr(struct vi2c_adapter *a, struct vi2c_msg *m, unsigned n)
{
	struct i2c_msg msgs[VDEV_I2C_TXN_MAX];
	struct i2c_rdwr_ioctl_data d = { .msgs = msgs, .nmsgs = n };

	for (unsigned i = 0; i < n; i++) {
		msgs[i] = (struct i2c_msg){
			.addr = m[i].addr & ~VDEV_I2C_ADDR_10BIT,
			.flags = (uint16_t)((m[i].rd ? I2C_M_RD : 0) |
				 (m[i].addr & VDEV_I2C_ADDR_10BIT ?
				  I2C_M_TEN : 0)),
			.len = m[i].len,
			.buf = m[i].buf,
		};
	}
	/* The kernel says only that the transfer failed, not where: the
	 * first message takes the blame and the rest fail with it. */
	return ioctl(a->fd, I2C_RDWR, &d) == (int)n ? n : 0;
}

static int smbus(struct vi2c_adapter *a, uint8_t rw, uint8_t cmd, int size,
		 union i2c_smbus_data *data)
{
	struct i2c_smbus_ioctl_data d = {
		.read_write = rw, .command = cmd, .size = (uint32_t)size,
		.data = data,
	};

	return ioctl(a->fd, I2C_SMBUS, &d);
}

static bool can(struct vi2c_adapter *a, unsigned long f)
{
	return (a->funcs & f) == f;
}

static unsigned smbus_xfer(struct vi2c_adapter *a, struct vi2c_msg *m,
			   unsigned n)
{
	union i2c_smbus_data d;
	int r = -1;
	bool ten = m[0].addr & VDEV_I2C_ADDR_10BIT;

	if (ten && !can(a, I2C_FUNC_10BIT_ADDR))
		return 0;
	if (can(a, I2C_FUNC_10BIT_ADDR) &&
	    ioctl(a->fd, I2C_TENBIT, ten ? 1UL : 0UL) < 0)
		return 0;
	if (ioctl(a->fd, I2C_SLAVE, (unsigned long)(m[0].addr &
						    ~VDEV_I2C_ADDR_10BIT)) < 0)
		return 0;
	if (n == 1 && m[0].len == 0 && can(a, I2C_FUNC_SMBUS_QUICK)) {
		r = smbus(a, m[0].rd ? I2C_SMBUS_READ : I2C_SMBUS_WRITE, 0,
			  I2C_SMBUS_QUICK, NULL);
	} else if (n == 1 && m[0].len == 1 && m[0].rd &&
		   can(a, I2C_FUNC_SMBUS_READ_BYTE)) {
		r = smbus(a, I2C_SMBUS_READ, 0, I2C_SMBUS_BYTE, &d);
		m[0].buf[0] = d.byte;
	} else if (n == 1 && m[0].len == 1 && can(a, I2C_FUNC_SMBUS_WRITE_BYTE)) {
		r = smbus(a, I2C_SMBUS_WRITE, m[0].buf[0], I2C_SMBUS_BYTE,
			  NULL);
	} else if (n == 1 && !m[0].rd && m[0].len == 2 &&
		   can(a, I2C_FUNC_SMBUS_WRITE_BYTE_DATA)) {
		d.byte = m[0].buf[1];
		r = smbus(a, I2C_SMBUS_WRITE, m[0].buf[0],
			  I2C_SMBUS_BYTE_DATA, &d);
	} else if (n == 1 && !m[0].rd && m[0].len == 3 &&
		   can(a, I2C_FUNC_SMBUS_WRITE_WORD_DATA)) {
		d.word = (uint16_t)(m[0].buf[1] | m[0].buf[2] << 8);
		r = smbus(a, I2C_SMBUS_WRITE, m[0].buf[0],
			  I2C_SMBUS_WORD_DATA, &d);
	} else if (n == 2 && !m[0].rd && m[0].len == 1 && m[1].rd &&
		   m[1].addr == m[0].addr && m[1].len == 1 &&
		   can(a, I2C_FUNC_SMBUS_READ_BYTE_DATA)) {
		r = smbus(a, I2C_SMBUS_READ, m[0].buf[0], I2C_SMBUS_BYTE_DATA,
			  &d);
		m[1].buf[0] = d.byte;
	} else if (n == 2 && !m[0].rd && m[0].len == 1 && m[1].rd &&
		   m[1].addr == m[0].addr && m[1].len == 2 &&
		   can(a, I2C_FUNC_SMBUS_READ_WORD_DATA)) {
		r = smbus(a, I2C_SMBUS_READ, m[0].buf[0], I2C_SMBUS_WORD_DATA,
			  &d);
		m[1].buf[0] = (uint8_t)d.word;
		m[1].buf[1] = (uint8_t)(d.word >> 8);
	}
	return r < 0 ? 0 : n;
}

unsigned vi2c_adapter_xfer(struct vi2c_adapter *a, struct vi2c_msg *m,
			   unsigned n)
{
	if (can(a, I2C_FUNC_I2C))
		return rdwr(a, m, n);
	return smbus_xfer(a, m, n);
}
