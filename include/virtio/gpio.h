/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-gpio (virtio 1.2 section 5.18): a chip of named lines that the
 * driver configures as inputs or outputs, reads, drives and, with
 * VIRTIO_GPIO_F_IRQ, takes interrupts from (edges and levels).
 *
 * Two backends:
 *  - a simulated chip (every build): lines whose inputs the host drives,
 *    through vdev_gpio_sim_set()/vdev_gpio_sim_pulse() or the text
 *    protocol of a control socket (below), and whose outputs it reads;
 *  - a host chip through libgpiod (1.6 or 2.x, chosen at configure time;
 *    vdev_has_capability(VDEV_CAP_BACKEND, "libgpiod")): /dev/gpiochipN,
 *    its lines requested as the driver configures them.
 *
 * Interrupts from either backend are served on the thread of the request
 * queue through the device's watched fds (the control socket and its
 * connections, the libgpiod line fds), never by a thread per line.
 *
 * Control socket protocol (one command per line, one reply line each):
 *   set LINE 0|1   drive input LINE low or high      -> "ok"
 *   pulse LINE     drive it to the other level and back (two edges)
 *                                                    -> "ok"
 *   get LINE       -> "ok DIR VALUE": DIR none|in|out, VALUE the level
 *                  the driver reads (the output it set for an output)
 *   info LINE      -> "ok NAME IRQ MASKED": the line's name, its IRQ type
 *                  (none|rising|falling|both|high|low), masked 0|1
 * Anything else gets "err REASON". A line of more than 255 bytes closes
 * the connection; at most 8 connections at once.
 */
#ifndef VIRTIO_GPIO_H
#define VIRTIO_GPIO_H

#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Feature bit. */
#define VDEV_GPIO_F_IRQ 0

/* Request types, statuses, directions, IRQ types (5.18.6). */
#define VDEV_GPIO_MSG_GET_LINE_NAMES 1
#define VDEV_GPIO_MSG_GET_DIRECTION  2
#define VDEV_GPIO_MSG_SET_DIRECTION  3
#define VDEV_GPIO_MSG_GET_VALUE      4
#define VDEV_GPIO_MSG_SET_VALUE      5
#define VDEV_GPIO_MSG_SET_IRQ_TYPE   6
#define VDEV_GPIO_STATUS_OK  0
#define VDEV_GPIO_STATUS_ERR 1
#define VDEV_GPIO_DIRECTION_NONE 0
#define VDEV_GPIO_DIRECTION_OUT  1
#define VDEV_GPIO_DIRECTION_IN   2
#define VDEV_GPIO_IRQ_TYPE_NONE         0
#define VDEV_GPIO_IRQ_TYPE_EDGE_RISING  1
#define VDEV_GPIO_IRQ_TYPE_EDGE_FALLING 2
#define VDEV_GPIO_IRQ_TYPE_EDGE_BOTH    3
#define VDEV_GPIO_IRQ_TYPE_LEVEL_HIGH   4
#define VDEV_GPIO_IRQ_TYPE_LEVEL_LOW    8
#define VDEV_GPIO_IRQ_STATUS_INVALID 0
#define VDEV_GPIO_IRQ_STATUS_VALID   1

/* Wire structures. */
struct vdev_gpio_config_space {
	vdev_le16 ngpio;
	uint8_t padding[2];
	vdev_le32 gpio_names_size;
};

struct vdev_gpio_request {
	vdev_le16 type;
	vdev_le16 gpio;
	vdev_le32 value;
};

struct vdev_gpio_response {
	uint8_t status;
	uint8_t value;
};

struct vdev_gpio_irq_request {
	vdev_le16 gpio;
};

struct vdev_gpio_irq_response {
	uint8_t status;
};

/* Most lines a chip may have (the simulated one, or a host chip). */
#define VDEV_GPIO_MAX_LINES 1024

struct vdev_gpio_config {
	/*
	 * Host chip: "/dev/gpiochipN", or "N" for that. NULL: a simulated
	 * chip of @sim_lines lines.
	 */
	const char *chip;
	/* Simulated chip: 1..VDEV_GPIO_MAX_LINES lines. */
	unsigned sim_lines;
	/* Simulated chip: the line names, @sim_lines of them, each at most
	 * 31 bytes; NULL = "<sim_prefix>-<line>" ("sim-0", ...). */
	const char *const *sim_names;
	const char *sim_prefix; /* NULL = "sim" */
	/* Simulated chip: the control socket path (created, replaced if a
	 * stale socket is there, removed by vdev_free). NULL: none. */
	const char *control;
	/* Do not offer VIRTIO_GPIO_F_IRQ. */
	bool no_irq;
	uint16_t queue_size; /* largest queue size offered; 0 = 1024 */
};

/*
 * A virtio-gpio device. NULL with errno: EINVAL (no chip and sim_lines out
 * of range, a name too long), ENOTSUP (a host chip in a build without
 * libgpiod), ENODEV/ENOENT/EACCES (the host chip could not be opened),
 * EADDRINUSE (@control is a live socket of someone else), ENOMEM.
 */
VDEV_API struct vdev *vdev_gpio_new(const struct vdev_gpio_config *cfg,
				   size_t size);
#define vdev_gpio_new(...) \
	vdev_gpio_new(__VA_ARGS__, sizeof(struct vdev_gpio_config))

/*
 * The simulated chip seen from the host (what the control socket does).
 * -EINVAL: not a simulated chip or @line out of range. Safe from any
 * thread.
 *   set:   drives input @line to @value (0/1); an edge that the line's IRQ
 *          type asks for raises (or latches) an interrupt.
 *   pulse: drives it to the other level and back.
 *   get:   the direction (VDEV_GPIO_DIRECTION_*) and the level the driver
 *          reads (an output: the value it set).
 */
VDEV_API int vdev_gpio_sim_set(struct vdev *dev, unsigned line, int value);
VDEV_API int vdev_gpio_sim_pulse(struct vdev *dev, unsigned line);
VDEV_API int vdev_gpio_sim_get(struct vdev *dev, unsigned line, int *dir,
			       int *value);

VDEV_END_DECLS

#endif /* VIRTIO_GPIO_H */
