/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-i2c (virtio 1.2 section 5.19): an I2C bus whose clients are
 * devices of host adapters (/dev/i2c-N) or simulated devices.
 *
 * One requestq. Each chain is one I2C message: {le16 addr; le16 padding;
 * le32 flags} (device-readable), the data (readable for a write,
 * writable for a read, VIRTIO_I2C_FLAGS_M_RD), then {u8 status}
 * (writable). Chains with FAIL_NEXT are collected with the chain that
 * ends them into one transaction, run as one repeated-start transfer;
 * when a message fails, it and every later one of the transaction get
 * ERR. A message without data is a quick command
 * (VIRTIO_I2C_F_ZERO_LENGTH_REQUEST, which Linux requires, is offered).
 *
 * Addresses: a 7-bit address A is sent as A << 1; a 10-bit address A as
 * the two address bytes of the wire, 0b11110 A9 A8 0 in the low byte and
 * A7..A0 in the high one. Clients take VDEV_I2C_ADDR_10BIT | A for a
 * 10-bit address A.
 *
 * Simulated clients:
 *  - EEPROM: a 24C02-style 256-byte EEPROM kept in a file: a write's first
 *    byte sets the address pointer, the next bytes are written in its
 *    8-byte page (wrapping inside the page), reads go on from the pointer
 *    and wrap at 256;
 *  - LM75: a temperature sensor: pointer register (0 temperature, 1
 *    configuration, 2 T_hyst, 3 T_os), two-byte big-endian registers in
 *    units of 1/256 degree (9 bits used), temperature set by the host.
 * A NACK can be injected at byte N of the next transfer to a client: the
 * bytes of that transfer are counted as they go on the wire (each
 * message's address byte, then its data); at byte N (0 = the first
 * address byte) the client stops answering: the messages before complete,
 * the one holding byte N fails (a write keeps the data bytes before N),
 * the rest of the transaction fails. It fires once.
 *
 * Control socket (ctlsock: one command per line, one reply line):
 *   temp ADDR MILLIDEGREES   set an LM75's temperature      -> "ok"
 *   nack ADDR N|off          inject a NACK at byte N          -> "ok"
 * ADDR as in C (0x48, 72). Anything else: "err REASON".
 */
#ifndef VIRTIO_I2C_H
#define VIRTIO_I2C_H

#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

#define VDEV_I2C_F_ZERO_LENGTH_REQUEST 0
#define VDEV_I2C_FLAGS_FAIL_NEXT (1u << 0)
#define VDEV_I2C_FLAGS_M_RD      (1u << 1)
#define VDEV_I2C_MSG_OK  0
#define VDEV_I2C_MSG_ERR 1

struct vdev_i2c_out_hdr {
	vdev_le16 addr;
	vdev_le16 padding;
	vdev_le32 flags;
};

struct vdev_i2c_in_hdr {
	uint8_t status;
};

/* A client address: 7-bit (0x00..0x7f), or this flag | a 10-bit one. */
#define VDEV_I2C_ADDR_10BIT 0x8000u
/* Longest message (i2c-dev's limit). */
#define VDEV_I2C_MSG_MAX 8192
/* Most messages in one transaction (I2C_RDWR takes 42). */
#define VDEV_I2C_TXN_MAX 42
#define VDEV_I2C_MAX_CLIENTS 128

enum vdev_i2c_kind {
	VDEV_I2C_HOST,   /* a device on a host adapter */
	VDEV_I2C_EEPROM, /* simulated 24C02 */
	VDEV_I2C_LM75,   /* simulated LM75 */
};

struct vdev_i2c_client {
	enum vdev_i2c_kind kind;
	uint16_t addr;        /* 7-bit, or VDEV_I2C_ADDR_10BIT | 10-bit */
	/* HOST: "/dev/i2c-N" or "N". EEPROM: the backing file (created and
	 * filled with 0xff up to 256 bytes when shorter). LM75: unused. */
	const char *path;
};

struct vdev_i2c_config {
	const struct vdev_i2c_client *clients;
	unsigned nclients;    /* 1..VDEV_I2C_MAX_CLIENTS, distinct addrs */
	/* Control socket of the simulated clients; NULL: none. */
	const char *control;
	uint16_t queue_size;  /* largest queue size offered; 0 = 1024 */
};

/*
 * A virtio-i2c device. NULL with errno: EINVAL (no clients, too many, an
 * address twice or out of range), the errno of opening an adapter or an
 * EEPROM file, ENOTSUP (an adapter that can neither I2C_RDWR nor SMBus),
 * EADDRINUSE/EEXIST (@control), ENOMEM.
 */
VDEV_API struct vdev *vdev_i2c_new(const struct vdev_i2c_config *cfg,
				   size_t size,
				   size_t client_size);
#define vdev_i2c_new(...) \
	vdev_i2c_new(__VA_ARGS__, sizeof(struct vdev_i2c_config), \
			 sizeof(struct vdev_i2c_client))

/*
 * The simulated clients from the host (what the control socket does).
 * -EINVAL: no such simulated client (an LM75 for set_temp). Safe from any
 * thread.
 */
VDEV_API int vdev_i2c_sim_set_temp(struct vdev *dev, uint16_t addr,
				   int32_t millidegrees);
/* @byte < 0 clears a pending injection. */
VDEV_API int vdev_i2c_sim_nack(struct vdev *dev, uint16_t addr, int byte);

VDEV_END_DECLS

#endif /* VIRTIO_I2C_H */
