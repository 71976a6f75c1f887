/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-input (virtio 1.2 section 5.8): an input device (keyboard,
 * mouse, tablet, touchscreen) whose events the device sends to the driver
 * in the Linux evdev encoding, and whose LED and sound events (caps lock,
 * a bell) the driver sends back on the status queue.
 *
 * Queues: 0 eventq (device to driver, 8-byte buffers the driver keeps
 * stocked), 1 statusq (driver to device). No feature bits.
 *
 * Config space: the driver writes select and subsel (one byte each) and
 * reads size and the union; the answer is recomputed at each write, from
 * the device's capabilities (struct vdev_input_caps): NAME, SERIAL,
 * DEVIDS, PROP_BITS, EV_BITS (subsel: event type) and ABS_INFO (subsel:
 * axis). An unknown select or subsel reads size 0.
 *
 * Events leave in whole batches: a batch is the events up to and
 * including an EV_SYN/SYN_REPORT. It goes out only when the eventq holds
 * a buffer for each of its events, so the driver never sees part of one;
 * a batch that does not fit the device's backlog (the driver is not
 * taking events) or that could never fit the ring is dropped whole and
 * counted (vdev_input_get_stats). SYN_DROPPED from a source drops the
 * batch it interrupts.
 *
 * Sources (one per device, chosen in struct vdev_input_config):
 *  - caps: capabilities given by the caller, events from
 *    vdev_input_send();
 *  - script: a description file in the evemu format (what evemu-describe
 *    and evemu-record write: N:, I:, P:, B:, A: lines, E: event lines),
 *    whose events are replayed, paced by their timestamps, when the driver
 *    starts and when a control client asks (P:);
 *  - evdev: passthrough of a host /dev/input/eventN: its name, ids,
 *    properties, event bits and axis ranges (multitouch slots included),
 *    its events, optionally grabbed (EVIOCGRAB), and the guest's LED and
 *    sound events written back to it.
 * Any of them may add a control socket (a listening UNIX stream socket):
 * a client writes event lines ("E: SEC.USEC TYPE CODE VALUE", type and
 * code hexadecimal, value decimal, as evemu-record writes them; a batch is
 * sent when its SYN_REPORT arrives), "P:" to replay the script, and "S:"
 * for a statistics line; every client receives the guest's status
 * events as "E: 0.000000 TYPE CODE VALUE" lines.
 *
 * Threads: sources are served on the eventq's thread (vdev_watch_fd);
 * vdev_input_send() is safe from any thread.
 */
#ifndef VIRTIO_INPUT_H
#define VIRTIO_INPUT_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>
#include <virtio/le.h>

VDEV_BEGIN_DECLS

/* Config selects (5.8.2). */
#define VDEV_INPUT_CFG_UNSET     0x00
#define VDEV_INPUT_CFG_ID_NAME   0x01
#define VDEV_INPUT_CFG_ID_SERIAL 0x02
#define VDEV_INPUT_CFG_ID_DEVIDS 0x03
#define VDEV_INPUT_CFG_PROP_BITS 0x10
#define VDEV_INPUT_CFG_EV_BITS   0x11
#define VDEV_INPUT_CFG_ABS_INFO  0x12

#define VDEV_INPUT_EV_CNT   0x20  /* event types (Linux EV_CNT) */
#define VDEV_INPUT_ABS_CNT  0x40  /* axes (Linux ABS_CNT) */
#define VDEV_INPUT_BITS     128   /* bytes of a bitmap: the union's size */
#define VDEV_INPUT_STR_MAX  128   /* bytes of NAME and SERIAL */

/* The Linux event types and codes the device itself looks at. */
#define VDEV_INPUT_EV_SYN      0x00
#define VDEV_INPUT_EV_KEY      0x01
#define VDEV_INPUT_EV_ABS      0x03
#define VDEV_INPUT_EV_LED      0x11
#define VDEV_INPUT_EV_SND      0x12
#define VDEV_INPUT_SYN_REPORT  0
#define VDEV_INPUT_SYN_DROPPED 3
#define VDEV_INPUT_ABS_MT_SLOT 0x2f

/* One event, as it travels on both queues. */
struct vdev_input_event {
	vdev_le16 type;
	vdev_le16 code;
	vdev_le32 value;
};

/* Config space (5.8.4). */
struct vdev_input_absinfo_le {
	vdev_le32 min, max, fuzz, flat, res;
};

struct vdev_input_config_space {
	uint8_t select;
	uint8_t subsel;
	uint8_t size;
	uint8_t reserved[5];
	union {
		char string[VDEV_INPUT_STR_MAX];
		uint8_t bitmap[VDEV_INPUT_BITS];
		struct vdev_input_absinfo_le abs;
		struct {
			vdev_le16 bustype, vendor, product, version;
		} ids;
	} u;
};

struct vdev_input_absinfo {
	int32_t min, max, fuzz, flat, res;
};

/*
 * What the device is: what the driver reads from config space. Strings
 * are NUL-terminated (at most VDEV_INPUT_STR_MAX bytes are shown); bits[t]
 * is the bitmap of the codes of event type t (bit c of byte c / 8); abs[a]
 * counts only for axes set in bits[EV_ABS]. bits[EV_SYN] (EV_BITS with
 * subsel 0) is made by the device: the types that have codes.
 */
struct vdev_input_caps {
	char name[VDEV_INPUT_STR_MAX + 1];
	char serial[VDEV_INPUT_STR_MAX + 1];
	uint16_t bustype, vendor, product, version;
	uint8_t props[VDEV_INPUT_BITS];
	uint8_t bits[VDEV_INPUT_EV_CNT][VDEV_INPUT_BITS];
	struct vdev_input_absinfo abs[VDEV_INPUT_ABS_CNT];
};

/* Sets code @code of event type @type in @caps; -EINVAL out of range. */
VDEV_API int vdev_input_caps_set(struct vdev_input_caps *caps,
				 unsigned type, unsigned code);

/* A guest status event (LED, sound), on the statusq's thread. */
typedef void (*vdev_input_status_fn)(void *opaque, uint16_t type,
				     uint16_t code, int32_t value);

struct vdev_input_config {
	/* The source: exactly one of the three. */
	const struct vdev_input_caps *caps; /* copied */
	const char *script; /* evemu description (+ events) file */
	const char *evdev;  /* /dev/input/eventN */
	bool grab;          /* evdev: EVIOCGRAB while the device lives */
	/* A control socket to listen on (NULL: none); an existing socket
	 * file is replaced. */
	const char *control;
	/* Events kept while the driver has no buffers; 0 = 256. A batch
	 * that does not fit is dropped whole. 16 .. 65536. */
	unsigned backlog;
	uint16_t queue_size; /* largest ring accepted; 0 = 1024 */
	vdev_input_status_fn status; /* may be NULL */
	void *opaque;
};

/*
 * The device; NULL with errno: EINVAL (no source or two, bad backlog),
 * EBADMSG (the script is malformed: the reason is logged with its line),
 * the errno of opening the script, the evdev node (ENOTTY: not an evdev
 * device) or the control socket, EBUSY (grab refused: another process
 * grabbed the evdev device).
 */
VDEV_API struct vdev *vdev_input_new(const struct vdev_input_config *cfg,
				   size_t size);
#define vdev_input_new(...) \
	vdev_input_new(__VA_ARGS__, sizeof(struct vdev_input_config))

/*
 * Hands @n events to the device, from any thread: they must end with
 * SYN_REPORT, and each SYN_REPORT closes a batch. 0 when every batch was
 * taken; -ENOSPC when some were dropped (counted); -EINVAL: @n 0 or over
 * 4096, or the last event is not a SYN_REPORT.
 */
VDEV_API int vdev_input_send(struct vdev *dev,
			     const struct vdev_input_event *ev, unsigned n);

struct vdev_input_stats {
	uint64_t batches;        /* delivered to the driver */
	uint64_t events;         /* in those batches */
	uint64_t dropped;        /* batches dropped */
	uint64_t dropped_events; /* events in them */
	uint64_t status;         /* status events from the driver */
	uint64_t bad_status;     /* status buffers that were malformed */
};

/* Counters since the device was made (a reset keeps them). */
VDEV_API void vdev_input_get_stats(struct vdev *dev,
				   struct vdev_input_stats *st, size_t size);
#define vdev_input_get_stats(...) \
	vdev_input_get_stats(__VA_ARGS__, sizeof(struct vdev_input_stats))

VDEV_END_DECLS

#endif /* VIRTIO_INPUT_H */
