/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-gpio inside the library: the model (gpio.c) and its backends
 * (gpio_sim.c, gpio_gpiod.c) meet here.
 *
 * Locking: the model has one mutex (struct vgpio.lock) for the line state.
 * It is taken inside a queue lock, never around one, and every backend op
 * is called with it held. A backend that sees an input change (a control
 * socket command, a libgpiod edge event) takes it with vgpio_lock() and
 * calls vgpio_input_locked(); delivery to the eventq happens on the
 * eventq's own thread (vdev_queue_schedule), so no thread ever pushes on a
 * queue whose lock it does not hold.
 */
#ifndef VDEV_GPIO_INTERNAL_H
#define VDEV_GPIO_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/device.h>
#include <virtio/gpio.h>

#define VGPIO_NAME_MAX 32 /* with the NUL */

struct vgpio;
struct vgpio_backend;

struct vgpio_backend_ops {
	/* The driver set @line's direction (NONE releases it); @out is the
	 * value an output starts with. */
	int (*set_direction)(struct vgpio_backend *b, unsigned line,
			     uint8_t dir, uint8_t out);
	/* The level of a line that is not an output: 0, 1 or -errno. */
	int (*get_value)(struct vgpio_backend *b, unsigned line);
	/* Drives an output. */
	int (*set_value)(struct vgpio_backend *b, unsigned line, uint8_t v);
	/* Edge detection on or off for @line (IRQ type NONE = off). Levels
	 * are followed through both edges. */
	int (*set_irq)(struct vgpio_backend *b, unsigned line, uint8_t type);
	/* Device reset: every line released. */
	void (*reset)(struct vgpio_backend *b);
	/* The device exists: watch fds (on queue 0). */
	int (*start)(struct vgpio_backend *b, struct vdev *dev,
		     struct vgpio *g);
	/* Unwatch, close, free. */
	void (*destroy)(struct vgpio_backend *b, struct vdev *dev);
};

struct vgpio_backend {
	const struct vgpio_backend_ops *ops;
	unsigned nlines;
	char (*names)[VGPIO_NAME_MAX]; /* nlines names, "" for none */
	bool sim;
};

/* Simulated chip (gpio_sim.c). NULL with errno. */
struct vgpio_backend *vgpio_sim_new(const struct vdev_gpio_config *cfg);
int vgpio_sim_drive(struct vgpio_backend *b, struct vgpio *g, unsigned line,
		    int value);
int vgpio_sim_level(struct vgpio_backend *b, unsigned line);
/* Host chip through libgpiod (gpio_gpiod.c); ENOTSUP without it. */
struct vgpio_backend *vgpio_gpiod_new(const char *chip);

void vgpio_lock(struct vgpio *g);
void vgpio_unlock(struct vgpio *g);
/* Input @line is now at @level (0/1): an edge the IRQ type asks for is
 * latched and the eventq told. Lock held. */
void vgpio_input_locked(struct vgpio *g, unsigned line, int level);
/* For the control socket: the line as the driver sees it. Lock held. */
int vgpio_line_state_locked(struct vgpio *g, unsigned line, int *dir,
			    int *value, uint8_t *irq_type, bool *masked);
const char *vgpio_line_name(struct vgpio *g, unsigned line);
struct vgpio *vgpio_of(struct vdev *dev); /* NULL: not a gpio device */
struct vgpio_backend *vgpio_backend(struct vgpio *g);

#endif
