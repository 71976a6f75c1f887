/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a daemon says about an image it cannot serve: the file, the option
 * it came from, what is wrong and the way out in the daemon's own options
 * (issue 17: errors name the file, the option and the fix), said before
 * any device is made.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <virtio/daemon.h>
#include <virtio/image.h>

void vdev_daemon_explain_format(const char *prog, const char *option,
				const char *path)
{
	const char *fmt = NULL;
	int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;

	if (fd >= 0) {
		fmt = vdev_image_probe(fd);
		close(fd);
	}
	if (!fmt)
		fmt = "non-raw";
	fprintf(stderr,
		"%s: %s %s is a %s image, not a raw one. Serve it through "
		"NBD:\n"
		"    qemu-nbd --format=%s --socket=/run/disk.sock %s &\n"
		"    %s --nbd 'nbd+unix:///?socket=/run/disk.sock' ...\n"
		"  (or nbdkit), or pass --format raw if its bytes really are "
		"the disk.\n",
		prog, option, path ? path : "the image", fmt,
		strcmp(fmt, "non-raw") ? fmt : "FORMAT", path ? path : "IMAGE",
		prog);
}

static const char *file_kind(mode_t m)
{
	return S_ISCHR(m) ? "character device" : S_ISDIR(m) ? "directory" :
	       S_ISFIFO(m) ? "FIFO" : S_ISSOCK(m) ? "socket" : "special file";
}

int vdev_daemon_check_image(const char *prog, const char *option,
			    const char *path, bool read_only, bool any_format)
{
	struct stat st;
	const char *fmt;
	int fd, err;

	fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT) {
			fprintf(stderr, "%s: %s %s: no such file; give a raw "
				"image file or a block device\n", prog, option,
				path);
		} else if (err == EISDIR) {
			fprintf(stderr, "%s: %s %s is a directory; give a raw "
				"image file or a block device\n", prog, option,
				path);
		} else if (!read_only &&
			   (err == EACCES || err == EPERM || err == EROFS) &&
			   access(path, R_OK) == 0) {
			fprintf(stderr, "%s: %s %s cannot be opened for "
				"writing (%s); pass -r/--read-only to serve it "
				"read-only, or give the daemon's user write "
				"access\n", prog, option, path, strerror(err));
		} else {
			fprintf(stderr, "%s: %s %s: %s%s\n", prog, option, path,
				strerror(err),
				err == EACCES ? " (the daemon's user may not "
						"read it)" : "");
		}
		return -err;
	}
	if (fstat(fd, &st) < 0) {
		err = errno;
		close(fd);
		fprintf(stderr, "%s: %s %s: %s\n", prog, option, path,
			strerror(err));
		return -err;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		close(fd);
		fprintf(stderr, "%s: %s %s is a %s, not an image: give a raw "
			"image file or a block device\n", prog, option, path,
			file_kind(st.st_mode));
		return -EINVAL;
	}
	fmt = any_format ? NULL : vdev_image_probe(fd);
	close(fd);
	if (fmt && strcmp(fmt, "raw")) {
		vdev_daemon_explain_format(prog, option, path);
		return -EMEDIUMTYPE;
	}
	return 0;
}
