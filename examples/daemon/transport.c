/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The daemon's transport table. vhost-user is always built; other
 * transports are weak references, so a daemon gets one exactly when its
 * file (examples/daemon/transport_<name>.c) is part of the build.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "daemon.h"

extern const struct vdevd_transport vdevd_transport_vhost_user;
extern const struct vdevd_transport vdevd_transport_vfio_user
	__attribute__((weak));

static const struct vdevd_transport *transports(unsigned i)
{
	const struct vdevd_transport *const all[] = {
		&vdevd_transport_vhost_user,
		&vdevd_transport_vfio_user,
	};

	return i < sizeof(all) / sizeof(all[0]) ? all[i] : NULL;
}

#define TRANSPORT_SLOTS 2u

const struct vdevd_transport *vdevd_transport_find(const char *name)
{
	for (unsigned i = 0; i < TRANSPORT_SLOTS; i++) {
		const struct vdevd_transport *t = transports(i);

		if (t && strcmp(t->name, name) == 0)
			return t;
	}
	return NULL;
}

void vdevd_transport_list(char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < TRANSPORT_SLOTS; i++) {
		const struct vdevd_transport *t = transports(i);
		int n;

		if (!t)
			continue;
		n = snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
			     t->name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}
