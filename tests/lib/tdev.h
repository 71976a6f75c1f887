/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test helpers shared by the gpio and i2c tests (and any device with a
 * control socket or a daemon to run to its end): a gpio request, an
 * eventq unmask and the wait for its buffer through the software driver;
 * an i2c transaction; one control-socket command; a program run to its end with its output.
 * They report failures as values (no cmocka here: the test library is
 * built without it too); the callers assert.
 */
#ifndef TDEV_H
#define TDEV_H

#include <stddef.h>
#include <stdint.h>

struct vdev_drv;

/* One gpio request on queue 0; the status, *out the response value (may
 * be NULL); -EPROTO unless the device answered 2 bytes within TWAIT_MS. */
int tgpio_req(struct vdev_drv *drv, uint16_t type, uint16_t gpio,
	      uint32_t value, uint8_t *out);
/* Queues the eventq buffer of @line (unmask), with the token line + 1;
 * *st is its status byte (0xee until the device writes it). Kicks when
 * @kick. 0 or a negative errno. */
int tgpio_unmask(struct vdev_drv *drv, uint16_t line, uint8_t **st,
		  int kick);
/* Waits up to @ms for an eventq buffer: its line, -1 on timeout, -2 when
 * the wait failed or the buffer came back with other than 1 byte. */
int tgpio_event(struct vdev_drv *drv, int ms);

/* One message of an i2c transaction, as the driver lays it out. */
struct ti2c_msg {
	uint16_t wire;   /* the address field as sent (7-bit address << 1) */
	uint32_t flags;  /* M_RD; FAIL_NEXT is added between messages */
	uint8_t *data;   /* write data, or where a read lands */
	uint16_t len;
	uint8_t status;  /* out: the status byte, 0xee if none was written */
	uint32_t used;   /* out: the used length */
};
/* Sends @n messages (at most 64) as one transaction on queue 0 and waits
 * for all of them (TWAIT_MS each), reads copied into their data. 0, or
 * -EINVAL (too many), -EPROTO (a token that is none of them) or the
 * negative errno of the ring or the wait. */
int ti2c_txn(struct vdev_drv *drv, struct ti2c_msg *m, unsigned n);

/* Sends @cmd on a fresh connection to the control socket @path and reads
 * one reply line into @reply (NUL-terminated; empty if none came within
 * TWAIT_MS or the socket closed first). With @drv, runs its loop
 * meanwhile (a device served by the driver's own loop); an empty @cmd
 * sends nothing. */
void tctl(const char *path, const char *cmd, char *reply, size_t len,
	  struct vdev_drv *drv);
/* Same on an open connection @fd. */
void tctl_fd(int fd, const char *cmd, char *reply, size_t len,
	     struct vdev_drv *drv);
/* Connects to the control socket @path: the fd or a negative errno. */
int tctl_connect(const char *path);

/* Runs @argv to its end (10 s) with stdout and stderr in @log; returns
 * its exit status (tspawn's encoding, negative errno when it could not
 * start), its output in @out. */
int trun(const char *const *argv, const char *log, char *out, size_t len);

#endif
