/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target for the virtio-scsi request and control parsers and the
 * SCSI command set behind them (src/devices/scsi).
 *
 * Input: an 8-byte header, then the device-readable bytes (virtio header,
 * CDB, data-out):
 *   [0] bit 0 control queue instead of a request queue,
 *       bit 1 the read-only device, bit 2 use [1] and [2] as the
 *       driver-chosen cdb_size and sense_size, bit 3 4 KiB blocks,
 *       bit 4 the request's LUN field is forced to LUN [3] & 3
 *   [1] cdb_size, [2] sense_size (with bit 2)
 *   [3] LUN (with bit 4)
 *   [4] device-readable iovecs (1 + v % 4), [5] device-writable (v % 5)
 *   [6..7] device-writable bytes (le16)
 * Each iovec is its own heap block, so a byte read or written past what
 * the driver gave is an ASan report. The used length must never exceed
 * the writable bytes, and no image may grow. The LUNs are two small
 * image files.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <virtio/scsi.h>

#include "devices/scsi/scsi_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* [read-only][block size 4096] */
static struct vdev *devs[2][2];
static char paths[2][64];

static const uint64_t lun_sizes[2] = { 256u << 10, 64u << 10 };

static void make_images(void)
{

	for (unsigned i = 0; i < 2; i++) {
		int fd;

		snprintf(paths[i], sizeof(paths[i]),
			 "/tmp/vdev-fuzz-scsi-XXXXXX");
		fd = mkstemp(paths[i]);
		if (fd < 0 || ftruncate(fd, (off_t)lun_sizes[i]) < 0)
			abort();
		close(fd);
	}
}

static struct vdev *dev_for(bool ro, bool big)
{
	if (!devs[0][0]) {
		const char *p[2];

		make_images();
		p[0] = paths[0];
		p[1] = paths[1];
		for (unsigned r = 0; r < 2; r++) {
			for (unsigned b = 0; b < 2; b++) {
				struct vdev_scsi_config cfg = {
					.paths = p,
					.num_luns = 2,
					.read_only = r,
					.logical_block_size = b ? 4096 : 512,
				};

				devs[r][b] = vdev_scsi_new(&cfg);
				if (!devs[r][b])
					abort();
			}
		}
		/* The fds stay open; nothing is left in /tmp. */
		unlink(paths[0]);
		unlink(paths[1]);
	}
	return devs[ro][big];
}

/* Splits @len bytes into @n heap blocks described by @iov. */
static void split(struct iovec *iov, unsigned n, size_t len,
		  const uint8_t *src)
{
	size_t off = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t l = i + 1 == n ? len - off : len / n;

		iov[i].iov_base = malloc(l ? l : 1);
		if (!iov[i].iov_base)
			abort();
		iov[i].iov_len = l;
		if (src)
			memcpy(iov[i].iov_base, src + off, l);
		else
			memset(iov[i].iov_base, 0xa5, l);
		off += l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct iovec iov[9];
	struct vdev_req vr = { .iov = iov, .iov_max = 9 };
	struct scsi_dev *s;
	unsigned nout, nin;
	size_t out_len, in_len;
	uint8_t *body;
	uint32_t written;

	if (size < 8)
		return 0;
	s = vdev_priv(dev_for(data[0] & 2, data[0] & 8));
	if (data[0] & 4) {
		atomic_store(&s->cdb_size, data[1]);
		atomic_store(&s->sense_size, data[2]);
	} else {
		atomic_store(&s->cdb_size, VDEV_SCSI_CDB_SIZE_DEFAULT);
		atomic_store(&s->sense_size, VDEV_SCSI_SENSE_SIZE_DEFAULT);
	}
	nout = 1 + data[4] % 4;
	nin = data[5] % 5;
	in_len = (size_t)(data[6] | data[7] << 8);
	out_len = size - 8;
	body = malloc(out_len ? out_len : 1);
	if (!body)
		abort();
	memcpy(body, data + 8, out_len);
	if ((data[0] & 16) && out_len >= 4) {
		body[0] = 1;
		body[1] = 0;
		body[2] = 0x40;
		body[3] = data[3] & 3;
	}
	split(iov, nout, out_len, body);
	split(iov + nout, nin, nin ? in_len : 0, NULL);
	if (!nin)
		in_len = 0;
	vr.nout = (uint16_t)nout;
	vr.nin = (uint16_t)nin;
	vr.out = iov;
	vr.in = iov + nout;
	vr.out_bytes = (uint32_t)out_len;
	vr.in_bytes = (uint32_t)in_len;

	if (data[0] & 1)
		written = scsi_ctrl_run(s, &vr);
	else
		written = scsi_req_run(s, &s->queues[0], &vr);
	if (written > in_len)
		abort();
	/* Nothing is ever written past a LUN's end. */
	for (unsigned i = 0; i < s->nluns; i++) {
		struct stat st;

		if (fstat(s->luns[i].img->fd, &st) ||
		    (uint64_t)st.st_size != lun_sizes[i])
			abort();
	}

	for (unsigned i = 0; i < nout + nin; i++)
		free(iov[i].iov_base);
	free(body);
	return 0;
}
