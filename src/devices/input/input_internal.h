/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-input inside the library: the model (input.c) and its sources
 * (script.c: the evemu text format; src.c: replay and control socket;
 * evdev.c: host passthrough). Sources run on the eventq's thread and
 * feed events one at a time into a stage of their own, which hands whole
 * batches to the model.
 */
#ifndef VDEV_INPUT_INTERNAL_H
#define VDEV_INPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <virtio/input.h>

/* Longest batch a source may make: ten multitouch contacts with every
 * axis fit several times over. */
#define INPUT_STAGE_MAX 256

/* A batch being assembled by one source (one per source, one thread). */
struct input_stage {
	struct vdev_input_event ev[INPUT_STAGE_MAX];
	unsigned n;
	bool skip; /* drop everything up to the next SYN_REPORT */
};

/*
 * Feeds one event of a source into @s. At a SYN_REPORT the batch goes to
 * the device's backlog (or is dropped and counted); SYN_DROPPED, and a
 * batch longer than INPUT_STAGE_MAX, drop the batch under way. Returns
 * true when a batch was queued (the caller delivers or schedules).
 */
bool input_feed(struct vdev *dev, struct input_stage *s, uint16_t type,
		uint16_t code, int32_t value);
/* Delivers what the backlog holds; on the eventq's thread, with its
 * lock held (a watched-fd callback). */
void input_deliver_now(struct vdev *dev);

/* ---- script.c: the evemu format ------------------------------------- */

struct input_timed_event {
	uint64_t us; /* time stamp, microseconds */
	uint16_t type, code;
	int32_t value;
};

struct input_script {
	struct vdev_input_caps caps;
	struct input_timed_event *ev;
	size_t n, alloc;
};

/* Events a script may hold (a replay of a few minutes of touch input). */
#define INPUT_SCRIPT_EVENTS_MAX (1u << 20)
/* Longest line of a script or of the control socket. */
#define INPUT_LINE_MAX 512

/*
 * Parses @len bytes of @text into @s (which it zeroes first). -EBADMSG
 * with the line number and the reason in @err; -ENOMEM; -E2BIG (more than
 * INPUT_SCRIPT_EVENTS_MAX events). @s holds nothing to free on error.
 */
int input_script_parse(struct input_script *s, const char *text, size_t len,
		       char *err, size_t errlen);
void input_script_free(struct input_script *s);
/* One "E: SEC.USEC TYPE CODE VALUE" line (no newline); -EBADMSG. */
int input_parse_event(const char *line, struct input_timed_event *e);

/* ---- src.c: replay and control socket ------------------------------- */

struct input_src;

/* @script: events to replay (taken over; may hold none). @path: control
 * socket to listen on, or NULL. NULL with errno. */
struct input_src *input_src_new(struct vdev *dev, struct input_script *script,
				const char *path);
/* Watches its fds on the eventq (after vdev_new). */
int input_src_watch(struct input_src *s);
void input_src_start(struct input_src *s); /* DRIVER_OK: replay */
void input_src_stop(struct input_src *s);  /* reset: stop replaying */
/* A guest status event, to every control client (any thread). */
void input_src_status(struct input_src *s, uint16_t type, uint16_t code,
		      int32_t value);
void input_src_free(struct input_src *s);

/* ---- evdev.c: host passthrough -------------------------------------- */

struct input_evdev;

/* Opens @path, reads its capabilities into @caps, grabs it if asked.
 * NULL with errno. */
struct input_evdev *input_evdev_open(const char *path, bool grab,
				     struct vdev_input_caps *caps);
int input_evdev_watch(struct input_evdev *e, struct vdev *dev);
/* Writes a guest LED/sound event back to the device (any thread). */
void input_evdev_status(struct input_evdev *e, uint16_t type, uint16_t code,
			int32_t value);
void input_evdev_close(struct input_evdev *e, struct vdev *dev);

#endif /* VDEV_INPUT_INTERNAL_H */
