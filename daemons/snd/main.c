/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-snd: the virtio-sound back-end daemon, a drop-in for rust-vmm's
 * vhost-device-sound: --socket PATH, --socket-fd FD and --backend
 * null|alsa|pipewire (pipewire is the ALSA PCM "pipewire" that
 * pipewire-alsa provides), plus the file backend (--out, --in), the ALSA
 * PCM name (--device), the controls on the ALSA mixer (--mixer,
 * --capture-mixer, --mixer-device), the streams (--stream, repeatable) and jacks, and
 * the common options of include/virtio/daemon.h (--queue-size up to 1024
 * and beyond: User-Mode Linux asks 256, which vhost-device-sound's 64
 * refuses).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/daemon.h>
#include <virtio/sound.h>

struct snd_opts {
	unsigned backend;  /* index in backends[] */
	const char *device;
	const char *out, *in;
	const char *mixer_device, *mixer, *capture_mixer;
	uint32_t jacks;
	bool controls;
	unsigned nstreams;
	struct vdev_sound_stream streams[VDEV_SOUND_MAX_STREAMS];
};

static const char *const backends[] = { "null", "alsa", "file", "pipewire",
					NULL };
enum { BE_NULL, BE_ALSA, BE_FILE, BE_PIPEWIRE };

/* --stream out|in[:CHANNELS] */
static int parse_stream(void *ctx, const char *arg)
{
	struct snd_opts *o = ctx;
	struct vdev_sound_stream s = { 0 };
	const char *colon = strchr(arg, ':');
	size_t n = colon ? (size_t)(colon - arg) : strlen(arg);

	if (o->nstreams == VDEV_SOUND_MAX_STREAMS) {
		fprintf(stderr, "vdev-snd: at most %d streams\n",
			VDEV_SOUND_MAX_STREAMS);
		return -EINVAL;
	}
	if (n == 3 && !strncmp(arg, "out", 3)) {
		s.direction = VDEV_SND_D_OUTPUT;
	} else if (n == 2 && !strncmp(arg, "in", 2)) {
		s.direction = VDEV_SND_D_INPUT;
	} else {
		fprintf(stderr, "vdev-snd: --stream %s: out or in, then "
				"optionally :CHANNELS\n", arg);
		return -EINVAL;
	}
	if (colon) {
		uint64_t ch;

		if (vdev_daemon_parse_uint("vdev-snd", "stream", colon + 1,
					   1, VDEV_SOUND_MAX_CHANNELS,
					   &ch) < 0)
			return -EINVAL;
		s.channels_min = 1;
		s.channels_max = (uint8_t)ch;
	}
	o->streams[o->nstreams++] = s;
	return 0;
}

#define F(member) VDEV_DAEMON_FIELD(struct snd_opts, member)

static const struct vdev_daemon_option snd_options[] = {
	{ .name = "backend", .type = VDEV_DAEMON_CHOICE, .def = "null",
	  .help = "Audio backend: null (discards playback, captures "
		  "silence), alsa (the PCM of --device), file (--out and "
		  "--in), pipewire (the ALSA PCM \"pipewire\"). Every one "
		  "runs at the streams' real rate.",
	  .choices = backends, F(backend) },
	{ .name = "device", .type = VDEV_DAEMON_STRING, .arg = "PCM",
	  .def = "default",
	  .help = "ALSA PCM name for --backend alsa (\"hw:0,0\", a plugin "
		  "of an asoundrc).",
	  F(device) },
	{ .name = "out", .type = VDEV_DAEMON_STRING, .arg = "FILE",
	  .help = "--backend file: playback is written here (a .wav name "
		  "gets a WAV header), truncated at each session.",
	  F(out) },
	{ .name = "in", .type = VDEV_DAEMON_STRING, .arg = "FILE",
	  .help = "--backend file: capture reads from here (.wav or raw), "
		  "from its start at each session; silence after its end.",
	  F(in) },
	{ .name = "stream", .type = VDEV_DAEMON_CALL, .arg = "out|in[:CH]",
	  .flags = VDEV_DAEMON_REPEAT, .parse = parse_stream,
	  .def = "out:2 then in:2",
	  .help = "Adds a stream (playback or capture, 1 to CH channels, "
		  "every format from U8 to FLOAT64 and 8 to 192 kHz); "
		  "repeat for more." },
	{ .name = "jacks", .type = VDEV_DAEMON_UINT, .arg = "N", .def = "0",
	  .help = "Jacks reported to the driver, all connected.",
	  .min = 0, .max = VDEV_SOUND_MAX_JACKS, F(jacks) },
	{ .name = "controls", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer VIRTIO_SND_F_CTLS (virtio 1.3): a volume and a "
		  "switch per stream, applied to the frames, or with "
		  "--backend alsa on the card's mixer (--mixer) when it has "
		  "the element (QEMU: vhost-user-snd-pci,controls=on; Linux "
		  "6.7+).",
	  F(controls) },
	{ .name = "mixer", .type = VDEV_DAEMON_STRING, .arg = "NAME",
	  .def = "Master, else PCM",
	  .help = "--backend alsa with --controls: the mixer control (as "
		  "amixer names it) the first playback stream's volume and "
		  "switch act on (NAME Playback Volume / Switch); \"none\": "
		  "in software.",
	  F(mixer) },
	{ .name = "capture-mixer", .type = VDEV_DAEMON_STRING, .arg = "NAME",
	  .def = "Capture",
	  .help = "The same for the first capture stream (NAME Capture "
		  "Volume / Switch, or NAME Volume / Switch).",
	  F(capture_mixer) },
	{ .name = "mixer-device", .type = VDEV_DAEMON_STRING, .arg = "CTL",
	  .def = "the card of --device",
	  .help = "The ALSA control device of those controls (\"hw:0\" for "
		  "--device hw:0,0 or plughw:0,0; else the PCM's name).",
	  F(mixer_device) },
	{ 0 },
};

static int snd_check(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct snd_opts *o = ctx;

	(void)in;
	if (o->backend == BE_FILE && !o->out && !o->in) {
		fprintf(stderr, "vdev-snd: --backend file needs --out FILE "
				"and/or --in FILE\n");
		return -EINVAL;
	}
	if ((o->mixer || o->capture_mixer || o->mixer_device) &&
	    (o->backend != BE_ALSA || !o->controls)) {
		fprintf(stderr, "vdev-snd: --mixer, --capture-mixer and "
				"--mixer-device go with --backend alsa and "
				"--controls\n");
		return -EINVAL;
	}
	if (o->backend != BE_FILE && (o->out || o->in)) {
		fprintf(stderr, "vdev-snd: --out and --in go with --backend "
				"file\n");
		return -EINVAL;
	}
	return 0;
}

static struct vdev *snd_create(void *ctx, const struct vdev_daemon_instance *in)
{
	const struct snd_opts *o = ctx;
	struct vdev_sound_config c = {
		.out_path = o->out,
		.in_path = o->in,
		.alsa_device = o->backend == BE_PIPEWIRE ? "pipewire" :
							    o->device,
		.num_streams = o->nstreams,
		.streams = o->streams,
		.num_jacks = o->jacks,
		.controls = o->controls,
		.queue_size = in->queue_size,
	};
	struct vdev *dev;

	switch (o->backend) {
	case BE_ALSA:
	case BE_PIPEWIRE:
		c.backend = VDEV_SOUND_BACKEND_ALSA;
		break;
	case BE_FILE:
		c.backend = VDEV_SOUND_BACKEND_FILE;
		break;
	default:
		c.backend = VDEV_SOUND_BACKEND_NULL;
		break;
	}
	dev = vdev_sound_new(&c);
	if (!dev && errno == ENOTSUP)
		fprintf(stderr, "vdev-snd: this libvdev was built without "
				"alsa-lib\n");
	if (dev && (o->mixer || o->capture_mixer || o->mixer_device)) {
		int err = vdev_sound_set_mixer(dev, o->mixer_device, o->mixer,
					       o->capture_mixer);

		if (err < 0) {
			fprintf(stderr, "vdev-snd: mixer: %s\n",
				strerror(-err));
			vdev_free(dev);
			errno = -err;
			return NULL;
		}
	}
	return dev;
}

/*
 * vhost-device-sound's names for the socket options. The common table has
 * --socket-path and --fd, and getopt would take "--socket" as an
 * ambiguous abbreviation: the two spellings are translated before parsing.
 */
static char **translate(int argc, char **argv)
{
	char **v = calloc((size_t)argc + 1, sizeof(*v));

	if (!v)
		return NULL;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--"))
			break;
		if (!strcmp(a, "--socket"))
			v[i] = strdup("--socket-path");
		else if (!strncmp(a, "--socket=", 9) &&
			 asprintf(&v[i], "--socket-path=%s", a + 9) < 0)
			v[i] = NULL;
		else if (!strcmp(a, "--socket-fd"))
			v[i] = strdup("--fd");
		else if (!strncmp(a, "--socket-fd=", 12) &&
			 asprintf(&v[i], "--fd=%s", a + 12) < 0)
			v[i] = NULL;
		else
			continue;
		if (!v[i]) {
			for (int k = 0; k < i; k++)
				free(v[k]);
			free(v);
			return NULL;
		}
	}
	for (int i = 0; i < argc; i++)
		if (!v[i])
			v[i] = argv[i];
	return v;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md): a
 * stream is opened when the guest starts it: the WAV file backend opens its
 * file, ALSA opens the PCM (reading its configuration, ioctls, shared memory
 * for dmix). */
static const char *const snd_syscalls[] = {
	"open", "openat", "ioctl", "access", "faccessat", "readlink",
	"uname", "getdents64", "shmget", "shmat", "shmdt", "shmctl",
	"semget", "semop", "semctl", NULL,
};

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = "vdev-snd",
		.type = "sound",
		.summary = "virtio-sound device back-end (libvdev)",
		.description =
			"A virtio-sound device (PCM playback and capture, jacks, "
			"channel maps) with vhost-device-sound's options: "
			"--socket PATH or --socket-fd FD, --backend. Control "
			"requests are answered at once; periods complete in "
			"real time whatever the backend.",
		.options = snd_options,
		.check = snd_check,
		.create = snd_create,
		.syscalls = snd_syscalls,
	};
	static struct snd_opts o;
	char **args = translate(argc, argv);
	int ret;

	if (!args) {
		perror("vdev-snd");
		return 1;
	}
	o.device = "default";
	ret = vdev_daemon_main(&d, &o, argc, args);
	for (int i = 0; i < argc; i++)
		if (args[i] != argv[i])
			free(args[i]);
	free(args);
	return ret;
}
