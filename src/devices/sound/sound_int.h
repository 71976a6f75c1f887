/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-sound internals: wire format (virtio 1.2 section 5.14), the
 * device and stream objects, and the backend interface.
 */
#ifndef VDEV_SOUND_INT_H
#define VDEV_SOUND_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <virtio/sound.h>

/* ---- wire format ------------------------------------------------------ */

#define SND_Q_CTL 0
#define SND_Q_EVT 1
#define SND_Q_TX  2
#define SND_Q_RX  3

enum {
	SND_R_JACK_INFO = 1,
	SND_R_JACK_REMAP,
	SND_R_PCM_INFO = 0x0100,
	SND_R_PCM_SET_PARAMS,
	SND_R_PCM_PREPARE,
	SND_R_PCM_RELEASE,
	SND_R_PCM_START,
	SND_R_PCM_STOP,
	SND_R_CHMAP_INFO = 0x0200,
	SND_R_CTL_INFO = 0x0300,
	SND_R_CTL_ENUM_ITEMS,
	SND_R_CTL_READ,
	SND_R_CTL_WRITE,
	SND_R_CTL_TLV_READ,
	SND_R_CTL_TLV_WRITE,
	SND_R_CTL_TLV_COMMAND,
	SND_EVT_JACK_CONNECTED = 0x1000,
	SND_EVT_JACK_DISCONNECTED,
	SND_EVT_PCM_PERIOD_ELAPSED = 0x1100,
	SND_EVT_PCM_XRUN,
	SND_EVT_CTL_NOTIFY = 0x1200,
	SND_S_OK = 0x8000,
	SND_S_BAD_MSG,
	SND_S_NOT_SUPP,
	SND_S_IO_ERR,
};

#define SND_PCM_F_SHMEM_HOST      0
#define SND_PCM_F_SHMEM_GUEST     1
#define SND_PCM_F_MSG_POLLING     2
#define SND_PCM_F_EVT_SHMEM_PERIODS 3
#define SND_PCM_F_EVT_XRUNS       4
/* What SET_PARAMS may select here: the notifications (no shared memory,
 * no polling mode). */
#define SND_PCM_FEATURES                                                  \
	(1u << SND_PCM_F_EVT_XRUNS | 1u << SND_PCM_F_EVT_SHMEM_PERIODS)

/* Channel positions used here (virtio_snd chmap enum). */
enum {
	SND_CH_NONE, SND_CH_NA, SND_CH_MONO, SND_CH_FL, SND_CH_FR, SND_CH_RL,
	SND_CH_RR, SND_CH_FC, SND_CH_LFE, SND_CH_SL, SND_CH_SR,
};

struct snd_wire_config {
	uint32_t jacks, streams, chmaps;
};

struct snd_query {        /* virtio_snd_query_info */
	uint32_t code, start_id, count, size;
};
struct snd_jack_info {    /* 24 bytes */
	uint32_t hda_fn_nid, features, hda_reg_defconf, hda_reg_caps;
	uint8_t connected, pad[7];
};
struct snd_pcm_info {     /* 32 bytes */
	uint32_t hda_fn_nid, features;
	uint64_t formats, rates;
	uint8_t direction, channels_min, channels_max, pad[5];
};
struct snd_chmap_info {   /* 24 bytes */
	uint32_t hda_fn_nid;
	uint8_t direction, channels, positions[VDEV_SOUND_MAX_CHANNELS];
};
struct snd_set_params {   /* 24 bytes */
	uint32_t code, stream_id, buffer_bytes, period_bytes, features;
	uint8_t channels, format, rate, pad;
};

#define SND_HDR_LEN        4u   /* virtio_snd_hdr */
#define SND_PCM_HDR_LEN    8u   /* virtio_snd_pcm_hdr */
#define SND_SET_PARAMS_LEN 24u
#define SND_QUERY_LEN      16u
#define SND_JACK_REMAP_LEN 16u
#define SND_JACK_INFO_LEN  24u
#define SND_PCM_INFO_LEN   32u
#define SND_CHMAP_INFO_LEN 24u
#define SND_XFER_LEN       4u   /* virtio_snd_pcm_xfer */
#define SND_STATUS_LEN     8u   /* virtio_snd_pcm_status */
#define SND_EVENT_LEN      8u
#define SND_CTL_HDR_LEN    8u   /* virtio_snd_ctl_hdr */
#define SND_CTL_INFO_LEN   96u  /* virtio_snd_ctl_info (C layout) */
#define SND_CTL_VALUE_LEN  512u /* virtio_snd_ctl_value */
#define SND_F_CTLS         0    /* VIRTIO_SND_F_CTLS (virtio 1.3) */
/* Largest buffer a stream may set: ~0.3 s at the largest rate, channels
 * and sample size; every allocation a stream makes is below it. */
#define SND_BUFFER_MAX     (8u << 20)
/* Volume controls run 0..100 (percent, linear); 100 passes frames
 * unchanged. */
#define SND_VOL_MAX        100u

/* ---- objects ---------------------------------------------------------- */

/* PCM states (5.14.6.6.1); INIT: parameters never set. */
enum snd_state {
	SND_ST_INIT,
	SND_ST_PARAMS,
	SND_ST_PREPARED,
	SND_ST_RUNNING,
	SND_ST_STOPPED,
	SND_ST_RELEASED,
};

/* An I/O buffer the device holds: popped, waiting to be played. */
#define SND_IOV_MAX 260 /* 1 MiB of 4 KiB pages, header and status */
struct snd_io {
	struct snd_io *next;
	struct vdev_req req;
	uint32_t len;       /* payload bytes */
	uint32_t done;      /* payload bytes the backend took so far */
	uint64_t due;       /* clock ns when it has been played; 0: not
			       placed on the stream's clock yet */
	bool err;           /* the backend failed it: IO_ERR */
	struct iovec iov[SND_IOV_MAX];
};

struct snd_stream;
struct snd_amix;   /* be_alsa_mix.c: the ALSA control device */
struct snd_mixel;  /* one of its elements */

struct snd_backend_ops {
	/* A session starts (first PREPARE after RELEASE) / ends (RELEASE,
	 * reset). open returns 0 or a negative errno (the PREPARE gets
	 * IO_ERR). */
	int (*open)(struct snd_stream *s);
	void (*close)(struct snd_stream *s);
	/* START and STOP; may be NULL. */
	int (*start)(struct snd_stream *s);
	void (*stop)(struct snd_stream *s);
	/*
	 * Playback: takes up to @len bytes of @iov (from byte @off on);
	 * capture: fills them. Returns the bytes done (> 0), -EAGAIN when
	 * the backend cannot now (then s->poll_fd, when >= 0, says when with
	 * s->poll_events), or another negative errno (the buffer completes
	 * with IO_ERR).
	 */
	long (*io)(struct snd_stream *s, const struct iovec *iov, unsigned n,
		   size_t off, size_t len);
	/* Bytes the backend holds behind what it took (latency). May be
	 * NULL. */
	uint32_t (*delay)(struct snd_stream *s);
};

struct snd_dev;

struct snd_stream {
	struct snd_dev *snd;
	unsigned id;
	struct vdev_sound_stream info;
	unsigned qidx;            /* SND_Q_TX or SND_Q_RX */

	enum snd_state state;
	bool have_params;
	uint32_t buffer_bytes, period_bytes, features;
	uint8_t channels, format, rate;
	uint32_t frame_bytes;
	uint32_t rate_hz;

	/* Held I/O buffers, in order. */
	struct snd_io *head, **tail;
	unsigned pending;
	uint32_t pending_bytes;
	uint64_t epoch;           /* clock ns the current run started */
	uint64_t epoch_bytes;     /* bytes due since @epoch */
	bool starved;             /* an XRUN was reported for this gap */
	uint64_t lead_ns;         /* the backend may take frames this long
				     before they are due (set by open) */

	/* A RELEASE waiting for the I/O above to be returned. */
	bool releasing;
	bool release_ready;       /* I/O returned; the control queue may
				     answer */
	struct vdev_req release_req;
	struct iovec release_iov[8];

	int tfd;                  /* pacing timer */
	bool timer_armed;
	uint64_t timer_due;

	/* Backend */
	const struct snd_backend_ops *be;
	void *be_priv;
	int poll_fd;              /* -1: none */
	uint32_t poll_events;     /* what the backend waits for; 0: none */
	bool poll_watched;
	bool be_open;
	bool resume;              /* open: a restored session goes on */
	uint64_t be_bytes;        /* bytes the backend took or gave in this
				     session */
	/* CTLS: volume (0..SND_VOL_MAX) and switch (1: sound) per channel,
	 * applied in software to the frames. */
	uint8_t vol[VDEV_SOUND_MAX_CHANNELS];
	uint8_t on[VDEV_SOUND_MAX_CHANNELS];
	/* The ALSA mixer elements the volume [0] and the switch [1] act on
	 * instead (be_alsa_mix.c); NULL: software, as above. */
	struct snd_mixel *mixel[2];
	/* EVT_SHMEM_PERIODS: bytes played or captured in real time since
	 * the last period boundary (from PREPARE on), and whether this
	 * stream's PCM_PERIOD_ELAPSED waits in the event ring. */
	uint32_t period_acc;
	bool period_evt_queued;
};

#define SND_EVQ_MAX 64

struct snd_dev {
	struct vdev *dev;
	pthread_mutex_t lock;     /* stream state, events, free list */
	struct vdev_sound_config cfg;
	char *out_path, *in_path, *alsa_device;

	unsigned nstreams, njacks;
	struct snd_stream streams[VDEV_SOUND_MAX_STREAMS];
	struct {
		bool connected;
		uint32_t association, sequence;
	} jacks[VDEV_SOUND_MAX_JACKS];

	/* Events waiting for an eventq buffer (a ring). */
	struct { uint32_t type, data; } evq[SND_EVQ_MAX];
	unsigned evq_head, evq_count;
	struct vdev_sound_stats stats;

	struct snd_io *free_io;   /* recycled holders */
	struct snd_amix *amix;    /* ALSA mixer; NULL: none */
	bool ctls;                /* VIRTIO_SND_F_CTLS offered */
};

/* sound_ctl.c: one control request. @req: the request's readable bytes
 * (read once); the status goes to @resp, anything after it straight into
 * @vreq's writable part. Returns the used length (at least 4, the status,
 * when @resp_len allows; 0 when it does not). */
uint32_t snd_ctl_request(struct snd_dev *snd, struct vdev_req *vreq,
			 const uint8_t *req, uint32_t req_len, uint8_t *resp,
			 uint32_t resp_len, bool *deferred);
/* Finishes the RELEASE of @s after its I/O came back (lock held). */
void snd_release_done(struct snd_stream *s);

/* sound_io.c */
void snd_io_handle(struct snd_dev *snd, unsigned qidx, struct vdev_queue *q);
void snd_io_timer(void *arg, int fd, uint32_t events);
void snd_io_poll(void *arg, int fd, uint32_t events);
/* Returns every held buffer of @s (status @status); lock held, queue
 * @s->qidx's lock held. */
void snd_io_flush(struct snd_stream *s, struct vdev_queue *q,
		  uint32_t status);
/* The stream's state changed (START/STOP/RELEASE): re-evaluate from the
 * data queue's thread. */
void snd_io_kick(struct snd_stream *s);
void snd_event(struct snd_dev *snd, uint32_t type, uint32_t data);
/* @n periods of @s elapsed in real time (lock held). */
void snd_periods_elapsed(struct snd_stream *s, uint32_t n);
void snd_evt_handle(struct snd_dev *snd, struct vdev_queue *q);
uint64_t snd_now(struct snd_dev *snd);
void snd_timer_disarm(struct snd_stream *s);
void snd_unwatch_poll(struct snd_stream *s);

/* sound_kctl.c: CTLS control elements (2 per stream: volume, switch). */
unsigned snd_kctl_count(const struct snd_dev *snd);
uint32_t snd_kctl_request(struct snd_dev *snd, struct vdev_req *vr,
			  uint32_t code, const uint8_t *req, uint32_t req_len,
			  uint32_t *extra);
void snd_kctl_info_item(const struct snd_dev *snd, uint32_t id, uint8_t *p);
void snd_kctl_defaults(struct snd_stream *s);
bool snd_gain_identity(const struct snd_stream *s);
void snd_gain_apply(const struct snd_stream *s, uint8_t *buf, size_t len);
/* sound_g711.c: a mu-law or A-law (@format) sample at @pct percent. */
uint8_t snd_g711_scale(unsigned format, uint8_t sample, unsigned pct);
/* The backend's I/O for the next part of @io, through the gain. */
long snd_be_io(struct snd_stream *s, struct snd_io *io);

/* be_alsa_mix.c (built with alsa-lib): maps the first stream of each
 * direction's controls to mixer elements of @ctl_name (NULL: the PCM's
 * card) named @playback / @capture (NULL: the defaults; "none": not
 * mapped). 0 also when nothing was mapped; -ENOMEM. */
int snd_amix_open(struct snd_dev *snd, const char *ctl_name,
		  const char *playback, const char *capture);
void snd_amix_close(struct snd_dev *snd);
/* Overrides type, access, count and range of a CTL_INFO item. */
void snd_amix_info(const struct snd_mixel *e, uint8_t *p);
uint32_t snd_amix_request(struct snd_dev *snd, struct snd_mixel *e,
			  struct vdev_req *vr, uint32_t code,
			  const uint8_t *req, uint32_t req_len,
			  uint32_t *extra);
void snd_amix_set(struct snd_dev *snd, struct snd_stream *s, unsigned pct,
		  bool muted);

/* Sizes */
unsigned snd_format_bytes(unsigned fmt); /* 0: unsupported */
unsigned snd_rate_hz(unsigned rate);     /* 0: unknown */

/* Backends */
extern const struct snd_backend_ops snd_be_null;
extern const struct snd_backend_ops snd_be_file;
extern const struct snd_backend_ops snd_be_alsa;

#endif /* VDEV_SOUND_INT_H */
