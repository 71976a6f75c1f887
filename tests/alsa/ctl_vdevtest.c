/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * ctl "vdevtest": a mixer for tests, as an alsa-lib external control
 * plugin. Two elements, as a card's: "Vdevtest Playback Volume" (two
 * members, 0..200, a dB scale) and "Vdevtest Playback Switch" (two
 * members). Their values live in a file that every opener maps (config
 * "state"), so the test and a daemon it started see the same mixer; a
 * write from any opener puts a byte into a FIFO (config "fifo") that is
 * the poll fd, and an opener that subscribed reports each element whose
 * values moved as a VALUE event, as a card does.
 *
 *   ctl_type.vdevtest { lib "BUILD/tests/alsa/libasound_module_ctl_vdevtest.so" }
 *   ctl.vdevtest { type vdevtest state "/tmp/s" fifo "/tmp/f" }
 */
#include <alsa/asoundlib.h>
#include <alsa/control_external.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct state {
	long v[2][2]; /* [element][member] */
};

struct vt {
	snd_ctl_ext_t ext;
	struct state *st;
	int fifo;
	long seen[2][2];
	unsigned pending; /* elements whose move is not reported yet */
};

static const char *const names[2] = { "Vdevtest Playback Volume",
				      "Vdevtest Playback Switch" };
/* SNDRV_CTL_TLVT_DB_SCALE: -50.00 dB, 0.25 dB a step, muted at 0 */
static const unsigned int db_scale[4] = { 1, 8, (unsigned int)-5000,
					  25 | 0x10000 };

static void vt_close(snd_ctl_ext_t *ext)
{
	struct vt *vt = ext->private_data;

	munmap(vt->st, sizeof(*vt->st));
	close(vt->fifo);
	free(vt);
}

static int vt_count(snd_ctl_ext_t *ext)
{
	(void)ext;
	return 2;
}

static void fill_id(snd_ctl_elem_id_t *id, unsigned k)
{
	snd_ctl_elem_id_set_interface(id, SND_CTL_ELEM_IFACE_MIXER);
	snd_ctl_elem_id_set_name(id, names[k]);
	snd_ctl_elem_id_set_numid(id, k + 1);
}

static int vt_list(snd_ctl_ext_t *ext, unsigned int offset,
		   snd_ctl_elem_id_t *id)
{
	(void)ext;
	if (offset >= 2)
		return -EINVAL;
	fill_id(id, offset);
	return 0;
}

static snd_ctl_ext_key_t vt_find(snd_ctl_ext_t *ext,
				 const snd_ctl_elem_id_t *id)
{
	unsigned numid = snd_ctl_elem_id_get_numid(id);

	(void)ext;
	if (numid >= 1 && numid <= 2)
		return numid - 1;
	for (unsigned k = 0; k < 2; k++)
		if (!strcmp(snd_ctl_elem_id_get_name(id), names[k]) &&
		    !snd_ctl_elem_id_get_index(id))
			return k;
	return SND_CTL_EXT_KEY_NOT_FOUND;
}

static int vt_attr(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, int *type,
		   unsigned int *acc, unsigned int *count)
{
	(void)ext;
	*type = key ? SND_CTL_ELEM_TYPE_BOOLEAN : SND_CTL_ELEM_TYPE_INTEGER;
	*acc = SND_CTL_EXT_ACCESS_READWRITE |
	       (key ? 0 : SND_CTL_EXT_ACCESS_TLV_READ);
	*count = 2;
	return 0;
}

static int vt_int_info(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key,
		       long *imin, long *imax, long *istep)
{
	(void)ext;
	(void)key;
	*imin = 0;
	*imax = 200;
	*istep = 1;
	return 0;
}

static int vt_read(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *value)
{
	struct vt *vt = ext->private_data;

	memcpy(value, vt->st->v[key], sizeof(vt->st->v[key]));
	return 0;
}

static int vt_write(snd_ctl_ext_t *ext, snd_ctl_ext_key_t key, long *value)
{
	struct vt *vt = ext->private_data;
	int changed = memcmp(vt->st->v[key], value, sizeof(vt->st->v[key]));

	memcpy(vt->st->v[key], value, sizeof(vt->st->v[key]));
	if (changed && write(vt->fifo, "x", 1) < 0) {
		/* full: the readers have a byte to wake on already */
	}
	return changed ? 1 : 0;
}

static void vt_subscribe(snd_ctl_ext_t *ext, int subscribe)
{
	struct vt *vt = ext->private_data;

	(void)subscribe;
	memcpy(vt->seen, vt->st->v, sizeof(vt->seen));
	vt->pending = 0;
}

static int vt_event(snd_ctl_ext_t *ext, snd_ctl_elem_id_t *id,
		    unsigned int *mask)
{
	struct vt *vt = ext->private_data;
	char b[64];

	while (read(vt->fifo, b, sizeof(b)) > 0)
		;
	for (unsigned k = 0; k < 2; k++)
		if (memcmp(vt->seen[k], vt->st->v[k], sizeof(vt->seen[k]))) {
			memcpy(vt->seen[k], vt->st->v[k], sizeof(vt->seen[k]));
			vt->pending |= 1u << k;
		}
	for (unsigned k = 0; k < 2; k++)
		if (vt->pending & 1u << k) {
			vt->pending &= ~(1u << k);
			fill_id(id, k);
			*mask = SND_CTL_EVENT_MASK_VALUE;
			return 1;
		}
	return -EAGAIN;
}

static const snd_ctl_ext_callback_t vt_ops = {
	.close = vt_close,
	.elem_count = vt_count,
	.elem_list = vt_list,
	.find_elem = vt_find,
	.get_attribute = vt_attr,
	.get_integer_info = vt_int_info,
	.read_integer = vt_read,
	.write_integer = vt_write,
	.subscribe_events = vt_subscribe,
	.read_event = vt_event,
};

SND_CTL_PLUGIN_DEFINE_FUNC(vdevtest); /* alsa-lib looks it up by name */

SND_CTL_PLUGIN_DEFINE_FUNC(vdevtest)
{
	const char *state = NULL, *fifo = NULL;
	snd_config_iterator_t i, next;
	struct vt *vt;
	int fd, err;

	(void)root;
	snd_config_for_each(i, next, conf) {
		snd_config_t *n = snd_config_iterator_entry(i);
		const char *key;

		if (snd_config_get_id(n, &key) < 0)
			continue;
		if (!strcmp(key, "state"))
			snd_config_get_string(n, &state);
		else if (!strcmp(key, "fifo"))
			snd_config_get_string(n, &fifo);
	}
	if (!state || !fifo)
		return -EINVAL;
	vt = calloc(1, sizeof(*vt));
	if (!vt)
		return -ENOMEM;
	fd = open(state, O_RDWR | O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, sizeof(struct state)) < 0) {
		err = -errno;
		goto fail;
	}
	vt->st = mmap(NULL, sizeof(*vt->st), PROT_READ | PROT_WRITE,
		      MAP_SHARED, fd, 0);
	close(fd);
	fd = -1;
	if (vt->st == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	/* O_RDWR: never EOF when the last writer goes */
	vt->fifo = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (vt->fifo < 0) {
		err = -errno;
		munmap(vt->st, sizeof(*vt->st));
		goto fail;
	}
	vt->ext.version = SND_CTL_EXT_VERSION;
	vt->ext.card_idx = 0;
	strcpy(vt->ext.id, "Vdevtest");
	strcpy(vt->ext.driver, "vdevtest");
	strcpy(vt->ext.name, "vdevtest");
	strcpy(vt->ext.longname, "libvdev test mixer");
	strcpy(vt->ext.mixername, "vdevtest");
	vt->ext.poll_fd = vt->fifo;
	vt->ext.callback = &vt_ops;
	vt->ext.private_data = vt;
	vt->ext.tlv.p = db_scale;
	err = snd_ctl_ext_create(&vt->ext, name, mode);
	if (err < 0) {
		close(vt->fifo);
		munmap(vt->st, sizeof(*vt->st));
		goto fail;
	}
	*handlep = vt->ext.handle;
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	free(vt);
	return err;
}

SND_CTL_PLUGIN_SYMBOL(vdevtest);
