/* SPDX-License-Identifier: BSD-3-Clause */
/* virtio-console inside the library: the model (console.c) and the host
 * backends of its ports (backend.c). */
#ifndef VDEV_CONSOLE_INTERNAL_H
#define VDEV_CONSOLE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <virtio/console.h>
#include <virtio/queue.h>

#define CON_CTRL_RING 256
#define CON_MSG_MAX (sizeof(struct vdev_console_control) + \
		     VDEV_CONSOLE_NAME_MAX)

struct con_msg {
	uint8_t b[CON_MSG_MAX];
	uint16_t len;
};

struct con;

struct con_port {
	bool used;        /* the port exists */
	bool added;       /* DEVICE_ADD went to the driver */
	bool guest_ready; /* the driver's PORT_READY */
	bool guest_open;  /* the guest has it open (its PORT_OPEN) */
	bool host_open;   /* a host side is there */
	bool console, drop;
	char name[VDEV_CONSOLE_NAME_MAX + 1];
	char pty[64];
	enum vdev_console_backend kind;
	char *path;
	int lfd, in_fd, out_fd, keep_fd;
	bool in_on, out_on; /* what the fds are watched for now */
	/* guest output held for the host */
	uint8_t *buf;
	size_t len, alloc;
	/* the tx request being taken in pieces */
	struct vdev_req cur;
	struct iovec cur_iov[16];
	size_t cur_off;
	bool has_cur;
	struct con *c;
	unsigned id;
};

struct vctl;

struct con {
	struct vdev *dev;
	struct vctl *ctl;
	pthread_mutex_t lock;
	unsigned max_ports;
	size_t cap;
	bool ready; /* DEVICE_READY */
	struct con_msg ctrl[CON_CTRL_RING];
	unsigned chead, ccount;
	uint64_t ctrl_dropped, ctrl_bad;
	struct con_port port[VDEV_CONSOLE_PORTS_MAX];
};

unsigned con_rxq(unsigned id);
unsigned con_txq(unsigned id);
void con_ctrl(struct con *c, unsigned id, uint16_t event, uint16_t value,
	      const void *extra, size_t elen);
void con_rx(struct vdev *dev, unsigned id, struct vdev_queue *q);
void con_tx(struct vdev *dev, unsigned id, struct vdev_queue *q);

/* backend.c; c->lock held for all but con_port_init. */
void con_port_init(struct con_port *p);
int con_port_open(struct vdev *dev, unsigned id,
		  const struct vdev_console_port *port);
void con_port_close(struct vdev *dev, unsigned id);
void con_watch_in(struct vdev *dev, struct con_port *p, unsigned id, bool on);
void con_watch_out(struct vdev *dev, struct con_port *p, unsigned id, bool on);
/* The host side went away (a socket client left, an fd broke): PORT_OPEN
 * 0 to the driver (the caller schedules the control queue). */
void con_host_gone(struct vdev *dev, unsigned id);
/* Its input ended (end of file): a socket client left; stdin at its end
 * leaves the output. */
void con_input_ended(struct vdev *dev, unsigned id);
/* EMERG_WRITE: one byte to port 0's host side, now. */
void con_emerg(struct con *c, uint8_t byte);

/* control.c: the control socket (console_config.control). */
int con_control_start(struct con *c, const char *path);
void con_control_stop(struct con *c);

#endif
