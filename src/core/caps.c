/* SPDX-License-Identifier: BSD-3-Clause */
/* What this build can do; the table is generated from the sources.cmake
 * files, so a folder that is built is a capability that is reported. */
#include <string.h>
#include <virtio/caps.h>

#include "vdev_build_config.h"

static const struct vdev_cap caps[] = {
#include "vdev_caps_table.h"
};

const char *vdev_version(void)
{
	return VDEV_VERSION_STRING;
}

const struct vdev_cap *vdev_capabilities(size_t *n)
{
	if (n)
		*n = sizeof(caps) / sizeof(caps[0]);
	return caps;
}

bool vdev_has_capability(enum vdev_cap_kind kind, const char *name)
{
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		if (caps[i].kind == kind && strcmp(caps[i].name, name) == 0)
			return true;
	return false;
}
