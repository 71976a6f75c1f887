/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Simulated I2C clients: a 24C02-style EEPROM kept in a file and an
 * LM75-style temperature sensor (include/virtio/i2c.h says how they
 * answer), with a NACK that the host injects at byte N of the next
 * transfer.
 *
 * The EEPROM's file is its memory: every read and write goes to the file
 * (pread/pwrite), so what the guest writes is in the file at once and a
 * change the host makes to the file is what the guest reads next.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devices/i2c/i2c_internal.h"

#define EEPROM_SIZE 256
#define EEPROM_PAGE 8

struct vi2c_sim {
	enum vdev_i2c_kind kind;
	int fd;
	uint8_t ptr;
	uint8_t conf;
	uint16_t temp, thyst, tos; /* LM75 registers as on the wire */
	int nack;                  /* byte of the next transfer, or -1 */
};

static uint16_t lm75_raw(int32_t mc)
{
	int32_t v;

	if (mc < -55000)
		mc = -55000;
	if (mc > 125000)
		mc = 125000;
	/* 1/256 degree units, 9 bits kept (0.5 degree steps) */
	v = mc * 256 / 1000;
	return (uint16_t)(v & 0xff80);
}

struct vi2c_sim *vi2c_sim_new(const struct vdev_i2c_client *c)
{
	struct vi2c_sim *s = calloc(1, sizeof(*s));
	struct stat st;
	int err;

	if (!s)
		return NULL;
	s->kind = c->kind;
	s->fd = -1;
	s->nack = -1;
	s->temp = lm75_raw(25000);
	s->thyst = lm75_raw(75000);
	s->tos = lm75_raw(80000);
	if (c->kind != VDEV_I2C_EEPROM)
		return s;
	if (!c->path) {
		free(s);
		errno = EINVAL;
		return NULL;
	}
	s->fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (s->fd < 0 || fstat(s->fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	/* A new or short file is an erased EEPROM beyond its end. */
	for (off_t o = st.st_size; o < EEPROM_SIZE; o++) {
		static const uint8_t ff = 0xff;

		if (pwrite(s->fd, &ff, 1, o) != 1)
			goto fail;
	}
	return s;
fail:
	err = errno;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	errno = err;
	return NULL;
}

void vi2c_sim_free(struct vi2c_sim *s)
{
	if (!s)
		return;
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

int vi2c_sim_set_temp(struct vi2c_sim *s, int32_t millidegrees)
{
	if (s->kind != VDEV_I2C_LM75)
		return -EINVAL;
	s->temp = lm75_raw(millidegrees);
	return 0;
}

void vi2c_sim_nack(struct vi2c_sim *s, int byte)
{
	s->nack = byte < 0 ? -1 : byte;
}

/* An EEPROM message of @k bytes (the ones before a NACK); false on an
 * I/O error of the file. */
static bool eeprom(struct vi2c_sim *s, struct vi2c_msg *m, unsigned k)
{
	if (m->rd) {
		/* from the pointer, wrapping at 256: in runs of the file */
		for (unsigned i = 0; i < k;) {
			unsigned run = EEPROM_SIZE - s->ptr;

			if (run > k - i)
				run = k - i;
			if (pread(s->fd, &m->buf[i], run, s->ptr) != (ssize_t)run)
				return false;
			s->ptr = (uint8_t)(s->ptr + run);
			i += run;
		}
		return true;
	}
	if (!k)
		return true;
	s->ptr = m->buf[0];
	for (unsigned i = 1; i < k; i++) {
		uint8_t a = (uint8_t)((s->ptr & ~(EEPROM_PAGE - 1)) |
				      ((s->ptr + i - 1) & (EEPROM_PAGE - 1)));

		if (pwrite(s->fd, &m->buf[i], 1, a) != 1)
			return false;
	}
	if (k > 1)
		s->ptr = (uint8_t)((s->ptr & ~(EEPROM_PAGE - 1)) |
				   ((s->ptr + k - 1) & (EEPROM_PAGE - 1)));
	return true;
}

static void lm75(struct vi2c_sim *s, struct vi2c_msg *m, unsigned k)
{
	uint16_t *reg[4] = { &s->temp, NULL, &s->thyst, &s->tos };

	if (m->rd) {
		for (unsigned i = 0; i < k; i++) {
			if (s->ptr == 1)
				m->buf[i] = s->conf;
			else
				m->buf[i] = (uint8_t)(*reg[s->ptr] >>
						      (i % 2 ? 0 : 8));
		}
		return;
	}
	if (!k)
		return;
	s->ptr = m->buf[0] & 3;
	if (s->ptr == 1 && k >= 2)
		s->conf = m->buf[1];
	else if (s->ptr >= 2 && k >= 3)
		*reg[s->ptr] = (uint16_t)((m->buf[1] << 8 | m->buf[2]) & 0xff80);
	/* the temperature register is read-only */
}

unsigned vi2c_sim_xfer(struct vi2c_sim *s, struct vi2c_msg *m, unsigned n)
{
	long b = 0; /* bytes on the wire so far */

	for (unsigned i = 0; i < n; i++) {
		unsigned k = m[i].len;

		if (s->nack == b) {
			s->nack = -1;
			return i; /* the address is not acknowledged */
		}
		b++;
		if (s->nack >= b && s->nack < b + (long)k)
			k = (unsigned)(s->nack - b);
		b += k;
		if (s->kind == VDEV_I2C_EEPROM) {
			if (!eeprom(s, &m[i], k))
				return i;
		} else {
			lm75(s, &m[i], k);
		}
		if (k < m[i].len) {
			s->nack = -1;
			return i;
		}
	}
	return n;
}

/* kind, pointer, conf, temp, thyst, tos (big-endian), nack (le16, 0xffff
 * none) */
unsigned vi2c_sim_save(struct vi2c_sim *s, uint8_t *b)
{
	uint16_t nk = s->nack < 0 || s->nack > 0xfffe ? 0xffff :
		      (uint16_t)s->nack;

	b[0] = (uint8_t)s->kind;
	b[1] = s->ptr;
	b[2] = s->conf;
	b[3] = (uint8_t)(s->temp >> 8);
	b[4] = (uint8_t)s->temp;
	b[5] = (uint8_t)(s->thyst >> 8);
	b[6] = (uint8_t)s->thyst;
	b[7] = (uint8_t)(s->tos >> 8);
	b[8] = (uint8_t)s->tos;
	b[9] = (uint8_t)nk;
	b[10] = (uint8_t)(nk >> 8);
	return 11;
}

int vi2c_sim_load(struct vi2c_sim *s, const uint8_t *b, unsigned len)
{
	uint16_t nk;

	if (len != 11 || b[0] != (uint8_t)s->kind ||
	    (s->kind == VDEV_I2C_LM75 && b[1] > 3))
		return -EBADMSG;
	nk = (uint16_t)(b[9] | b[10] << 8);
	s->ptr = b[1];
	s->conf = b[2];
	s->temp = (uint16_t)((b[3] << 8 | b[4]) & 0xff80);
	s->thyst = (uint16_t)((b[5] << 8 | b[6]) & 0xff80);
	s->tos = (uint16_t)((b[7] << 8 | b[8]) & 0xff80);
	s->nack = nk == 0xffff ? -1 : nk;
	return 0;
}
