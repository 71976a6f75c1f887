/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound (virtio 1.2 section 5.14): PCM streams, jacks and channel
 * maps, served by a host backend.
 *
 * Queues: controlq (0), eventq (1), txq (2), rxq (3). Control requests are
 * answered on the control queue's thread as soon as they are read; only
 * RELEASE waits, and only for the stream's own I/O buffers to be returned
 * (the spec's rule), never behind another stream or another request.
 *
 * I/O is paced: a period completes when it has been played (or captured)
 * in real time at the stream's rate, never when it was merely copied, so
 * no guest-visible audio runs faster than real time, whatever the backend.
 * The null and file backends are clocked by a timerfd per stream; the ALSA
 * backend is clocked the same way and also waits for the PCM (POLLOUT for
 * playback, POLLIN for capture).
 */
#ifndef VIRTIO_SOUND_H
#define VIRTIO_SOUND_H

#include <stdbool.h>
#include <stdint.h>
#include <virtio/api.h>
#include <virtio/device.h>

VDEV_BEGIN_DECLS

/* Stream directions (virtio_snd_pcm_info.direction). */
#define VDEV_SND_D_OUTPUT 0
#define VDEV_SND_D_INPUT  1

/* PCM formats (bit numbers of virtio_snd_pcm_info.formats). */
enum {
	VDEV_SND_FMT_IMA_ADPCM, VDEV_SND_FMT_MU_LAW, VDEV_SND_FMT_A_LAW,
	VDEV_SND_FMT_S8, VDEV_SND_FMT_U8, VDEV_SND_FMT_S16, VDEV_SND_FMT_U16,
	VDEV_SND_FMT_S18_3, VDEV_SND_FMT_U18_3, VDEV_SND_FMT_S20_3,
	VDEV_SND_FMT_U20_3, VDEV_SND_FMT_S24_3, VDEV_SND_FMT_U24_3,
	VDEV_SND_FMT_S20, VDEV_SND_FMT_U20, VDEV_SND_FMT_S24, VDEV_SND_FMT_U24,
	VDEV_SND_FMT_S32, VDEV_SND_FMT_U32, VDEV_SND_FMT_FLOAT,
	VDEV_SND_FMT_FLOAT64, VDEV_SND_FMT_DSD_U8, VDEV_SND_FMT_DSD_U16,
	VDEV_SND_FMT_DSD_U32, VDEV_SND_FMT_IEC958_SUBFRAME,
};

/* PCM rates (bit numbers of virtio_snd_pcm_info.rates). */
enum {
	VDEV_SND_RATE_5512, VDEV_SND_RATE_8000, VDEV_SND_RATE_11025,
	VDEV_SND_RATE_16000, VDEV_SND_RATE_22050, VDEV_SND_RATE_32000,
	VDEV_SND_RATE_44100, VDEV_SND_RATE_48000, VDEV_SND_RATE_64000,
	VDEV_SND_RATE_88200, VDEV_SND_RATE_96000, VDEV_SND_RATE_176400,
	VDEV_SND_RATE_192000, VDEV_SND_RATE_384000,
};

/* Every linear and companded format the backends handle (no ADPCM, DSD
 * or IEC958): the default. */
#define VDEV_SND_FORMATS_DEFAULT                                            \
	(((UINT64_C(1) << (VDEV_SND_FMT_FLOAT64 + 1)) - 1) &                \
	 ~(UINT64_C(1) << VDEV_SND_FMT_IMA_ADPCM))
/* 8 kHz to 192 kHz: the default. */
#define VDEV_SND_RATES_DEFAULT                                              \
	(((UINT64_C(1) << (VDEV_SND_RATE_192000 + 1)) - 1) &                \
	 ~(UINT64_C(1) << VDEV_SND_RATE_5512))

#define VDEV_SOUND_MAX_STREAMS 32
#define VDEV_SOUND_MAX_JACKS   32
#define VDEV_SOUND_MAX_CHANNELS 18 /* the spec's VIRTIO_SND_CHMAP_MAX_SIZE */

struct vdev_sound_stream {
	uint8_t direction;    /* VDEV_SND_D_OUTPUT or VDEV_SND_D_INPUT */
	uint8_t channels_min; /* 0 = 1 */
	uint8_t channels_max; /* 0 = 2; at most VDEV_SOUND_MAX_CHANNELS */
	uint64_t formats;     /* bits VDEV_SND_FMT_*; 0 = the default */
	uint64_t rates;       /* bits VDEV_SND_RATE_*; 0 = the default */
};

enum vdev_sound_backend {
	/* Discards playback, captures silence, paced by the stream's rate. */
	VDEV_SOUND_BACKEND_NULL,
	/* Playback into @out_path, capture from @in_path (a ".wav" name gets
	 * a WAV header, written / skipped; anything else is raw bytes),
	 * paced the same way. Each session (first PREPARE after RELEASE)
	 * starts the files again: the output is truncated, the input read
	 * from its start; capture past its end reads silence. Only the first
	 * output and the first input stream use files; others are null. */
	VDEV_SOUND_BACKEND_FILE,
	/* An ALSA PCM (@alsa_device, "default" when NULL), non-blocking. */
	VDEV_SOUND_BACKEND_ALSA,
};

struct vdev_sound_config {
	enum vdev_sound_backend backend;
	const char *out_path;     /* FILE backend: playback goes here */
	const char *in_path;      /* FILE backend: capture comes from here */
	const char *alsa_device;  /* ALSA backend: PCM name */
	/* Streams; 0 = one stereo output and one stereo input. */
	unsigned num_streams;
	const struct vdev_sound_stream *streams;
	/* Jacks reported (0 .. VDEV_SOUND_MAX_JACKS), all connected at
	 * first; vdev_sound_set_jack() changes that. */
	unsigned num_jacks;
	uint16_t queue_size;      /* largest queue size offered; 0 = 1024 */
	/*
	 * Offer VIRTIO_SND_F_CTLS (virtio 1.3): per stream a volume and a
	 * switch control (ALSA's "PCM Playback Volume" / "... Switch",
	 * "Capture Volume" / "Capture Switch"), applied in software to the
	 * frames (100 % and on: unchanged; mu-law and A-law are expanded,
	 * scaled and compressed again), or, with the ALSA backend, on the
	 * card's mixer (vdev_sound_set_mixer). Off by default, as every
	 * optional feature.
	 */
	bool controls;
	/*
	 * Tests: the clock periods are paced by, in ns (monotonic, never
	 * going back); NULL = CLOCK_MONOTONIC. The device still sleeps on a
	 * real timer for the time the clock says is left, and checks again.
	 */
	uint64_t (*clock)(void *arg);
	void *clock_arg;
};

/*
 * A virtio-sound device. EINVAL: a bad stream description (no direction,
 * channels out of range, no format or rate the device supports), too many
 * streams or jacks, a FILE backend without any path; ENOTSUP: the backend
 * was not built in (vdev_capabilities() lists "backend:alsa").
 */
VDEV_API struct vdev *vdev_sound_new(const struct vdev_sound_config *cfg,
				   size_t size,
				   size_t stream_size);
#define vdev_sound_new(...) \
	vdev_sound_new(__VA_ARGS__, sizeof(struct vdev_sound_config), \
			 sizeof(struct vdev_sound_stream))

/* Plugs or unplugs jack @jack; the driver gets JACK_CONNECTED or
 * JACK_DISCONNECTED. -EINVAL: not a sound device or no such jack. Safe
 * from any thread. */
VDEV_API int vdev_sound_set_jack(struct vdev *dev, unsigned jack,
				 bool connected);

/* Sets stream @stream's volume (0..100 %, every channel; of the
 * element's range when it is on the ALSA mixer) and switch from the host;
 * with CTLS the driver gets CTL_NOTIFY for both controls.
 * -EINVAL: not a sound device, no such stream, @percent over 100. Safe
 * from any thread. */
VDEV_API int vdev_sound_set_volume(struct vdev *dev, unsigned stream,
				   unsigned percent, bool muted);

/*
 * ALSA backend with @controls: the mixer that the volume and the switch
 * of the first output and the first input stream act on, by the simple
 * names amixer shows. The driver sees the element as it is (type,
 * members, range, step, dB TLV), its writes go to the element, and
 * changes made on the host reach it as CTL_NOTIFY. vdev_sound_new maps
 * the defaults (all three NULL); this call maps again:
 * @ctl: the control device (NULL: the card of the PCM, "hw:X" for "hw:X,Y"
 * or "plughw:X,Y", else the PCM's own name); @playback: NULL tries
 * "Master" then "PCM" ("NAME Playback Volume" / "NAME Playback Switch");
 * @capture: NULL tries "Capture" ("NAME Capture Volume", "NAME Volume",
 * and the switches alike). "none", or no such element or control device:
 * software, as with the other backends (the other streams always are).
 * 0 (also when nothing was found: the log says so); -EINVAL: not a sound
 * device on the ALSA backend with controls; -ENOMEM. Call it before the
 * driver starts the device.
 */
VDEV_API int vdev_sound_set_mixer(struct vdev *dev, const char *ctl,
				  const char *playback, const char *capture);

/* Counters since the device was made (a reset keeps them). */
struct vdev_sound_stats {
	uint64_t events;            /* delivered on the eventq */
	uint64_t events_dropped;    /* the oldest waiting event, dropped when
				       64 waited for an eventq buffer */
	uint64_t periods_elapsed;   /* PCM_PERIOD_ELAPSED events queued */
	uint64_t periods_coalesced; /* periods that elapsed while their
				       stream's event still waited for an
				       eventq buffer: told by that event */
	uint64_t xruns;             /* PCM_XRUN events queued */
};

/* -EINVAL: not a sound device. Safe from any thread. */
VDEV_API int vdev_sound_get_stats(struct vdev *dev,
				  struct vdev_sound_stats *st, size_t size);
#define vdev_sound_get_stats(...) \
	vdev_sound_get_stats(__VA_ARGS__, sizeof(struct vdev_sound_stats))

VDEV_END_DECLS

#endif /* VIRTIO_SOUND_H */
