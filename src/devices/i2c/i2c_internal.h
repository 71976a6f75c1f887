/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-i2c inside the library: the model (i2c.c), the simulated clients
 * (i2c_sim.c) and the host adapters (i2c_dev.c).
 *
 * A transfer is a run of messages to clients of one backend (one host
 * adapter, or one simulated client), executed as one repeated-start
 * transfer. It returns how many messages completed: all of them, or the
 * index of the one that failed (it and the rest of the transaction fail).
 */
#ifndef VDEV_I2C_INTERNAL_H
#define VDEV_I2C_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/i2c.h>

struct vi2c_msg {
	uint16_t addr;  /* 7-bit, or VDEV_I2C_ADDR_10BIT | 10-bit */
	bool rd;
	uint16_t len;
	uint8_t *buf;   /* private copy: written data, or room for the read */
};

/* ---- host adapters ---- */
struct vi2c_adapter;
/* Opens @path ("/dev/i2c-N" or "N"). NULL with errno. */
struct vi2c_adapter *vi2c_adapter_open(const char *path);
void vi2c_adapter_close(struct vi2c_adapter *a);
const char *vi2c_adapter_path(const struct vi2c_adapter *a);
unsigned vi2c_adapter_xfer(struct vi2c_adapter *a, struct vi2c_msg *m,
			   unsigned n);

/* ---- simulated clients ---- */
struct vi2c_sim;
struct vi2c_sim *vi2c_sim_new(const struct vdev_i2c_client *c);
void vi2c_sim_free(struct vi2c_sim *s);
unsigned vi2c_sim_xfer(struct vi2c_sim *s, struct vi2c_msg *m, unsigned n);
int vi2c_sim_set_temp(struct vi2c_sim *s, int32_t millidegrees);
void vi2c_sim_nack(struct vi2c_sim *s, int byte);
/* State: at most VI2C_SIM_STATE bytes. */
#define VI2C_SIM_STATE 16
unsigned vi2c_sim_save(struct vi2c_sim *s, uint8_t *buf);
int vi2c_sim_load(struct vi2c_sim *s, const uint8_t *buf, unsigned len);

#endif
