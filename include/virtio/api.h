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
