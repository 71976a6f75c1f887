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
 *
 * Structs that grow (docs/abi.md). A call that reads a struct its caller
 * fills in (a device's or transport's config, vdev_new's info and ops, the
 * software driver's config, the daemon table and its options, arrays of
 * element structs such as console ports) takes that struct's size as the
 * caller compiled it, in trailing size_t arguments. A macro of the call's
 * own name passes sizeof(struct ...) for them, so callers write
 * vdev_rng_new(&cfg) and need not know; bindings that call the symbol
 * pass the sizes themselves. The library then
 *  - reads only the first @size bytes: a field added after the caller was
 *    built is taken as zero, and zero is every field's default;
 *  - accepts a larger struct (a caller built against a newer libvdev)
 *    when the bytes it does not know are all zero, and refuses it with
 *    EINVAL when not: the caller asked for something this library cannot
 *    do;
 *  - refuses a size of 0 (EINVAL).
 * So fields are only ever added at the end of such a struct, with zero
 * meaning "as before"; nothing is removed, reordered or resized without a
 * SOVERSION bump. Structs whose layout is fixed (wire formats, ring
 * layouts, vdev_queue_config/state, vdev_mem_region, vdev_watcher,
 * vdev_input_caps, vdev_input_event, vdev_daemon_counter) never grow: a
 * need beyond them is a new call. Structs the library fills in for the
 * caller take a size too (the *_get_stats calls): it writes no more than
 * that, and zeros what the caller has beyond the fields it knows.
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
#define VDEV_VERSION_MINOR 2
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
