/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Ring requests. The adapter keeps what the frontend said about each ring
 * (size, frontend addresses, base, fds, started/enabled) and mirrors it
 * into the core's queue: the core's queue runs exactly while the ring is
 * started (SET_VRING_KICK) and enabled (SET_VRING_ENABLE, or always
 * without PROTOCOL_FEATURES).
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "peer/peer_io.h"
#include "vhu_internal.h"

static bool packed(const struct vdev_vhost_user *vu)
{
	return vdev_driver_features(vu->dev) & VDEV_BIT(VDEV_F_RING_PACKED);
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void ring_clear(struct vhu_ring *r)
{
	memset(r, 0, sizeof(*r));
	r->kick_fd = r->call_fd = r->err_fd = -1;
}

void vhu_rings_init(struct vdev_vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++)
		ring_clear(&vu->rings[i]);
}

bool vhu_any_ring_started(const struct vdev_vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++)
		if (vu->rings[i].started)
			return true;
	return false;
}

/* Stops the core's queue, keeps its position in ring->st. */
static void vhu_ring_halt(struct vdev_vhost_user *vu, unsigned i)
{
	struct vhu_ring *r = &vu->rings[i];
	struct vdev_queue_state st = r->st;

	if (!r->running)
		return;
	if (vdev_vq_stop(vu->dev, i, &st) < 0)
		vdev_log(VDEV_LOG_WARN,
			 "vhost-user: queue %u: requests still in flight", i);
	r->st = st;
	r->st_valid = true;
	r->running = false;
}

void vhu_rings_reset(struct vdev_vhost_user *vu)
{
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->rings[i];

		vhu_ring_halt(vu, i);
		vdev_vq_set_kick_fd(vu->dev, i, -1);
		vdev_vq_set_call_fd(vu->dev, i, -1);
		close_fd(&r->kick_fd);
		close_fd(&r->call_fd);
		pthread_mutex_lock(&vu->backend_lock);
		close_fd(&r->err_fd);
		ring_clear(r);
		pthread_mutex_unlock(&vu->backend_lock);
	}
}

/* Ring part sizes for the current layout. */
static void part_sizes(const struct vdev_vhost_user *vu, uint16_t num,
		       uint64_t *desc, uint64_t *avail, uint64_t *used)
{
	uint32_t n = num ? num : 1;

	*desc = 16ull * n;
	if (packed(vu)) {
		*avail = *used = 4; /* struct vdev_packed_event */
	} else {
		*avail = vdev_split_avail_size(n);
		*used = vdev_split_used_size(n);
	}
}

/* Frontend addresses to guest addresses against the current table. */
static int translate(struct vdev_vhost_user *vu, struct vhu_ring *r,
		     uint64_t *desc, uint64_t *avail, uint64_t *used)
{
	struct vdev_mem_table *t;
	uint64_t ld, la, lu;
	int ret;

	if (vdev_mem_count(vu->mem) == 0)
		return -EPROTO; /* SET_VRING_ADDR before SET_MEM_TABLE */
	part_sizes(vu, r->num, &ld, &la, &lu);
	t = vdev_mem_acquire(vu->mem);
	ret = vdev_mem_uva_to_gpa(t, r->desc_uva, ld, desc);
	if (!ret)
		ret = vdev_mem_uva_to_gpa(t, r->avail_uva, la, avail);
	if (!ret)
		ret = vdev_mem_uva_to_gpa(t, r->used_uva, lu, used);
	vdev_mem_release(t);
	return ret;
}

/* Split rings keep the used index in guest memory: read it so a ring that
 * is resumed after a reconnect continues where the device left it. */
static uint16_t split_used_idx(struct vdev_vhost_user *vu,
			       const struct vhu_ring *r, uint16_t fallback)
{
	struct vdev_mem_table *t = vdev_mem_acquire(vu->mem);
	vdev_le16 idx;
	int ret;

	ret = vdev_mem_read(t, r->used_gpa + 2, &idx, sizeof(idx));
	vdev_mem_release(t);
	return ret ? fallback : vdev_le16_to_cpu(idx);
}

/*
 * A packed ring's base of 0 says both wrap counters are 0, which is also
 * what User-Mode Linux sends for a new ring (whose counters start at 1).
 * The first descriptor tells them apart: its USED flag is set once the
 * ring has gone round, and is clear during the first lap.
 */
static bool packed_first_lap(struct vdev_vhost_user *vu,
			     const struct vhu_ring *r)
{
	struct vdev_mem_table *t = vdev_mem_acquire(vu->mem);
	struct vdev_packed_desc d;
	int ret;

	ret = vdev_mem_read(t, r->desc_gpa, &d, sizeof(d));
	vdev_mem_release(t);
	return ret == 0 &&
	       !(vdev_le16_to_cpu(d.flags) & (1u << VDEV_PACKED_DESC_F_USED));
}

static void decode_base(struct vdev_vhost_user *vu, struct vhu_ring *r)
{
	uint32_t v = r->base;

	memset(&r->st, 0, sizeof(r->st));
	if (packed(vu)) {
		r->st.avail_idx = v & 0x7fff;
		r->st.avail_wrap = (v >> 15) & 1;
		r->st.used_idx = (v >> 16) & 0x7fff;
		r->st.used_wrap = (v >> 31) & 1;
		if (v == 0 && packed_first_lap(vu, r))
			r->st.avail_wrap = r->st.used_wrap = true;
		/* DPDK (virtio-user, and its vhost library's reading) sends
		 * only the avail half, 0x8000 for a new ring, and means
		 * used = avail. In the full encoding an empty used half with
		 * the avail wrap set would be a whole ring in flight. */
		if (!(v >> 16) && (v & 0x8000)) {
			r->st.used_idx = r->st.avail_idx;
			r->st.used_wrap = true;
		}
	} else {
		r->st.avail_idx = (uint16_t)v;
		r->st.used_idx = split_used_idx(vu, r, (uint16_t)v);
	}
	r->st_valid = true;
}

static uint32_t encode_base(struct vdev_vhost_user *vu,
			    const struct vdev_queue_state *st)
{
	if (!packed(vu))
		return st->avail_idx;
	return (uint32_t)(st->avail_idx & 0x7fff) |
	       (uint32_t)st->avail_wrap << 15 |
	       (uint32_t)(st->used_idx & 0x7fff) << 16 |
	       (uint32_t)st->used_wrap << 31;
}

/* Sets @bit (FEATURES_OK or DRIVER_OK) and what must precede it. */
static int ensure_status(struct vdev_vhost_user *vu, uint8_t bit)
{
	uint8_t s = vdev_get_status(vu->dev);

	if (s & bit)
		return 0;
	if (!vu->features_set)
		return -EPROTO; /* a ring before SET_FEATURES */
	s |= VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
	     VDEV_STATUS_FEATURES_OK | bit;
	return vdev_set_status(vu->dev, s);
}

/* Mirrors the ring into the core's queue and runs it. */
static int ring_run(struct vdev_vhost_user *vu, unsigned i)
{
	struct vhu_ring *r = &vu->rings[i];
	int ret;

	if (r->running || !r->started || !r->enabled)
		return 0;
	if (!r->num || !r->addr_set)
		return -EPROTO;
	if (!r->st_valid)
		decode_base(vu, r);
	ret = vdev_vq_set_size(vu->dev, i, r->num);
	if (!ret)
		ret = vdev_vq_set_addr(vu->dev, i, r->desc_gpa, r->avail_gpa,
				       r->used_gpa);
	if (!ret)
		ret = vdev_vq_set_state(vu->dev, i, &r->st);
	if (!ret) {
		size_t len;
		void *ifl = vhu_inflight_queue(vu, i, &len);

		ret = vdev_vq_set_inflight(vu->dev, i, ifl, len);
	}
	if (!ret)
		ret = vdev_vq_set_call_fd(vu->dev, i, r->call_fd);
	if (!ret)
		ret = vdev_vq_set_kick_fd(vu->dev, i, r->kick_fd);
	if (!ret)
		ret = ensure_status(vu, VDEV_STATUS_FEATURES_OK);
	if (!ret)
		ret = vdev_vq_enable(vu->dev, i, true);
	if (ret)
		return ret;
	r->running = true;
	/*
	 * A started ring runs (vhost-user.rst, "Starting and stopping
	 * rings"), whatever the status byte says: the first running ring is
	 * the driver's "go" even with PROTOCOL_F_STATUS, because QEMU 7.2's
	 * vhost-user-rng negotiates STATUS and never sends DRIVER_OK.
	 */
	return ensure_status(vu, VDEV_STATUS_DRIVER_OK);
}

int vhu_set_vring_num(struct vdev_vhost_user *vu, struct vhu_msg *m,
		      struct vhu_msg *rep)
{
	unsigned i = m->p.state.index;
	uint32_t num = m->p.state.num;

	if (num == 0 || num > vdev_vq_max_size(vu->dev, i))
		return -EINVAL;
	if (!packed(vu) && (num & (num - 1)))
		return -EINVAL;
	vu->rings[i].num = (uint16_t)num;
	return 0;
}

int vhu_set_vring_addr(struct vdev_vhost_user *vu, struct vhu_msg *m,
		       struct vhu_msg *rep)
{
	const struct vhu_vring_addr *a = &m->p.addr;
	unsigned i = a->index;
	struct vhu_ring *r = &vu->rings[i], nr = *r;
	int ret;

	nr.addr_flags = a->flags;
	if (nr.addr_flags & ~VHU_VRING_F_LOG)
		return -EINVAL;
	nr.desc_uva = a->desc;
	nr.used_uva = a->used;
	nr.avail_uva = a->avail;
	nr.log_gpa = a->log;
	ret = translate(vu, &nr, &nr.desc_gpa, &nr.avail_gpa, &nr.used_gpa);
	if (ret)
		return ret;
	nr.addr_set = true;
	if (r->running && (nr.desc_gpa != r->desc_gpa ||
			   nr.avail_gpa != r->avail_gpa ||
			   nr.used_gpa != r->used_gpa)) {
		/* Moving a running ring: stop it where it is first. */
		vhu_ring_halt(vu, i);
		nr.st = r->st;
		nr.st_valid = r->st_valid;
		nr.running = false;
		*r = nr;
		return ring_run(vu, i);
	}
	*r = nr;
	/* A started ring that lost its memory runs again once it has
	 * addresses inside guest memory. */
	return ring_run(vu, i);
}

int vhu_set_vring_base(struct vdev_vhost_user *vu, struct vhu_msg *m,
		       struct vhu_msg *rep)
{
	unsigned i = m->p.state.index;
	struct vhu_ring *r = &vu->rings[i];
	uint32_t v = m->p.state.num;

	/* Split: an index; packed: 15-bit indexes below the queue size. */
	if (packed(vu) && r->num &&
	    ((v & 0x7fff) >= r->num || ((v >> 16) & 0x7fff) >= r->num))
		return -EINVAL;
	if (!packed(vu) && v > 0xffff)
		return -EINVAL;
	r->base = v;
	r->base_set = true;
	r->st_valid = false; /* decoded when the ring starts */
	return 0;
}

int vhu_get_vring_base(struct vdev_vhost_user *vu, struct vhu_msg *m,
		       struct vhu_msg *rep)
{
	unsigned i = m->p.state.index;
	struct vhu_ring *r = &vu->rings[i];
	uint32_t v;

	vhu_ring_halt(vu, i);
	if (r->st_valid)
		v = encode_base(vu, &r->st);
	else
		v = r->base;
	/* A stopped ring no longer listens to its kick fd. */
	vdev_vq_set_kick_fd(vu->dev, i, -1);
	close_fd(&r->kick_fd);
	r->started = false;
	r->base = v;
	rep->size = sizeof(rep->p.state);
	rep->p.state.index = i;
	rep->p.state.num = v;
	return 1;
}

static unsigned file_index(const struct vhu_msg *m)
{
	return (unsigned)(vhu_u64(m) & VHU_VRING_IDX_MASK);
}

static int file_fd(struct vhu_msg *m)
{
	return (vhu_u64(m) & VHU_VRING_NOFD) ? -1 : vhu_msg_take_fd(m, 0);
}

int vhu_set_vring_kick(struct vdev_vhost_user *vu, struct vhu_msg *m,
		       struct vhu_msg *rep)
{
	unsigned i = file_index(m);
	struct vhu_ring *r = &vu->rings[i];
	int fd = file_fd(m);

	if (fd < 0 && !vhu_proto(vu,
			VDEV_VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS))
		vdev_log(VDEV_LOG_WARN,
			 "vhost-user: queue %u has no kick fd and no in-band "
			 "kicks; it runs only when scheduled", i);
	vhu_ring_halt(vu, i);
	vdev_vq_set_kick_fd(vu->dev, i, -1);
	close_fd(&r->kick_fd);
	r->kick_fd = fd;
	r->started = true;
	return ring_run(vu, i);
}

int vhu_set_vring_call(struct vdev_vhost_user *vu, struct vhu_msg *m,
		       struct vhu_msg *rep)
{
	unsigned i = file_index(m);
	struct vhu_ring *r = &vu->rings[i];
	int fd = file_fd(m);
	int ret;

	/* The core stops using the old fd before it is closed. */
	ret = vdev_vq_set_call_fd(vu->dev, i, fd);
	if (ret) {
		if (fd >= 0)
			close(fd);
		return ret;
	}
	close_fd(&r->call_fd);
	r->call_fd = fd;
	return 0;
}

int vhu_set_vring_err(struct vdev_vhost_user *vu, struct vhu_msg *m,
		      struct vhu_msg *rep)
{
	struct vhu_ring *r = &vu->rings[file_index(m)];
	int fd = file_fd(m), kind = VPEER_OTHER;

	/* Written under backend_lock, never blocking (peer_io.h). */
	if (fd >= 0) {
		kind = vpeer_prepare_write(fd);
		if (kind < 0) {
			close(fd);
			return kind;
		}
	}
	pthread_mutex_lock(&vu->backend_lock);
	close_fd(&r->err_fd);
	r->err_fd = fd;
	r->err_kind = kind;
	pthread_mutex_unlock(&vu->backend_lock);
	return 0;
}

int vhu_set_vring_enable(struct vdev_vhost_user *vu, struct vhu_msg *m,
			 struct vhu_msg *rep)
{
	unsigned i = m->p.state.index;
	uint32_t on = m->p.state.num;
	struct vhu_ring *r = &vu->rings[i];

	if (on > 1)
		return -EINVAL;
	r->enabled = on;
	if (!on) {
		vhu_ring_halt(vu, i);
		return 0;
	}
	return ring_run(vu, i);
}

int vhu_vring_kick(struct vdev_vhost_user *vu, struct vhu_msg *m,
		   struct vhu_msg *rep)
{
	unsigned i = m->p.state.index;
	struct vhu_ring *r = &vu->rings[i];
	int ret;

	/* A kick starts a ring (vhost-user.rst "Starting and stopping
	 * rings"): User-Mode Linux sends no SET_VRING_KICK at all with
	 * in-band notifications. */
	if (!r->started) {
		r->started = true;
		ret = ring_run(vu, i);
		if (ret)
			return ret;
	}
	/* The round runs on the queue's own thread, never on this one. */
	if (r->running)
		vdev_queue_schedule(vu->dev, i);
	return 0;
}

/* True when [gpa, gpa + len) lies inside one of @regions. */
static bool inside(const struct vdev_mem_region *regions, unsigned n,
		   uint64_t gpa, uint64_t len)
{
	for (unsigned i = 0; i < n; i++)
		if (gpa >= regions[i].guest_addr &&
		    gpa - regions[i].guest_addr <= regions[i].size &&
		    len <= regions[i].size - (gpa - regions[i].guest_addr))
			return true;
	return false;
}

void vhu_rings_halt_outside(struct vdev_vhost_user *vu,
			    const struct vdev_mem_region *regions, unsigned n)
{
	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->rings[i];
		uint64_t ld, la, lu;

		if (!r->running)
			continue;
		part_sizes(vu, r->num, &ld, &la, &lu);
		if (!inside(regions, n, r->desc_gpa, ld) ||
		    !inside(regions, n, r->avail_gpa, la) ||
		    !inside(regions, n, r->used_gpa, lu))
			vhu_ring_halt(vu, i);
	}
}

int vhu_rings_remap(struct vdev_vhost_user *vu)
{
	int err = 0;

	for (unsigned i = 0; i < vu->nq; i++) {
		struct vhu_ring *r = &vu->rings[i];
		uint64_t d, a, u;
		int ret;

		if (!r->addr_set)
			continue;
		ret = translate(vu, r, &d, &a, &u);
		if (ret) {
			/* The ring left guest memory: it cannot run. */
			vhu_ring_halt(vu, i);
			r->addr_set = false;
			if (r->started)
				err = -EFAULT;
			continue;
		}
		if (d == r->desc_gpa && a == r->avail_gpa &&
		    u == r->used_gpa) {
			/* Halted before the change in case it went away
			 * (vhu_rings_halt_outside): it did not. */
			ret = ring_run(vu, i);
			if (ret)
				err = ret;
			continue;
		}
		vhu_ring_halt(vu, i);
		r->desc_gpa = d;
		r->avail_gpa = a;
		r->used_gpa = u;
		ret = ring_run(vu, i);
		if (ret)
			err = ret;
	}
	return err;
}
