/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Export control and conventions shared by every public header.
 *
 * Conventions that hold for every call in include/virtio/ unless its comment
 * says otherwise:
 *  - a call returns 0 (or a count) on success and a negative errno on failure;
 *  - a constructor (`*_new`) returns NULL and sets errno on failure;
 *  - a destructor (`*_free`) accepts NULL;
 *  - nothing a caller passes in is retained after the call returns unless the
 *    comment says the object keeps it.
 */
#ifndef VIRTIO_API_H
#define VIRTIO_API_H

/*
 * The version of these headers, for compile-time checks; vdev_version()
 * (caps.h) says which library a program runs against. The CMake build
 * refuses to configure when these disagree with the project's version.
 *	#if VDEV_VERSION >= VDEV_VERSION_NUMBER(0, 2, 0)
 */
#define VDEV_VERSION_MAJOR 0
#define VDEV_VERSION_MINOR 1
#define VDEV_VERSION_PATCH 0
#define VDEV_VERSION_NUMBER(major, minor, patch)                          \
	(((major) << 16) | ((minor) << 8) | (patch))
#define VDEV_VERSION                                                      \
	VDEV_VERSION_NUMBER(VDEV_VERSION_MAJOR, VDEV_VERSION_MINOR,       \
			    VDEV_VERSION_PATCH)

#if defined(VDEV_BUILDING) && defined(__GNUC__)
#define VDEV_API __attribute__((visibility("default")))
#else
#define VDEV_API
#endif

#ifdef __cplusplus
#define VDEV_BEGIN_DECLS extern "C" {
#define VDEV_END_DECLS }
#else
#define VDEV_BEGIN_DECLS
#define VDEV_END_DECLS
#endif

#endif /* VIRTIO_API_H */
