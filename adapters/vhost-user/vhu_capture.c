/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Capture mode: VDEV_VHOST_USER_CAPTURE=FILE appends every message as one
 * readable line, so a conversation with a real frontend can be stored and
 * replayed (tests/data/vhost-user). Line format:
 *   recv|reply|backend NAME req=N flags=0xF size=S fds=K [fdinfo] payload=HEX
 * For fds the kind and size are noted (memfd/eventfd/pipe/socket) so a
 * replay can synthesise equivalent ones.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vhu_internal.h"

void vhu_capture_open(struct vdev_vhost_user *vu)
{
	const char *path = getenv("VDEV_VHOST_USER_CAPTURE");

	pthread_mutex_init(&vu->capture_lock, NULL);
	vu->capture = NULL;
	if (!path || !*path)
		return;
	vu->capture = fopen(path, "ae");
	if (!vu->capture)
		vdev_log(VDEV_LOG_WARN, "vhost-user: capture file %s: %s",
			 path, strerror(errno));
}

void vhu_capture_close(struct vdev_vhost_user *vu)
{
	if (vu->capture)
		fclose(vu->capture);
	vu->capture = NULL;
	pthread_mutex_destroy(&vu->capture_lock);
}

static void describe_fd(FILE *f, int fd)
{
	char link[64], target[128];
	struct stat st;
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	if (fstat(fd, &st) < 0) {
		fputs("bad", f);
		return;
	}
	if (strstr(target, "eventfd"))
		fputs("eventfd", f);
	else if (S_ISFIFO(st.st_mode))
		fputs("pipe", f);
	else if (S_ISSOCK(st.st_mode))
		fputs("socket", f);
	else if (S_ISREG(st.st_mode))
		fprintf(f, "memfd:%llu", (unsigned long long)st.st_size);
	else
		fputs("other", f);
}

void vhu_capture_msg(struct vdev_vhost_user *vu, const char *dir,
		     const struct vhu_msg *m, bool backend)
{
	FILE *f = vu->capture;
	unsigned nfds;

	if (!f)
		return;
	nfds = m->nfds > VHU_MAX_FDS ? VHU_MAX_FDS : m->nfds;
	pthread_mutex_lock(&vu->capture_lock);
	fprintf(f, "%s %s req=%u flags=0x%x size=%u fds=%u", dir,
		backend ? vhu_backend_req_name(m->request) :
			  vhu_req_name(m->request),
		m->request, m->flags, m->size, m->nfds);
	if (nfds) {
		fputs(" fdinfo=", f);
		for (unsigned i = 0; i < nfds; i++) {
			if (i)
				fputc(',', f);
			describe_fd(f, m->fds[i]);
		}
	}
	fputs(" payload=", f);
	for (uint32_t i = 0; i < m->size && i < VHU_MAX_PAYLOAD; i++)
		fprintf(f, "%02x", m->p.bytes[i]);
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&vu->capture_lock);
}

void vhu_capture_note(struct vdev_vhost_user *vu, const char *fmt, ...)
{
	va_list ap;

	if (!vu->capture)
		return;
	pthread_mutex_lock(&vu->capture_lock);
	fputs("# ", vu->capture);
	va_start(ap, fmt);
	vfprintf(vu->capture, fmt, ap);
	va_end(ap);
	fputc('\n', vu->capture);
	fflush(vu->capture);
	pthread_mutex_unlock(&vu->capture_lock);
}
