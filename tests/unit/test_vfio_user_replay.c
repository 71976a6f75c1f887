/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replay of captured vfio-user conversations (the .txt files in
 * tests/data/vfio-user, the text format of VDEV_VFIO_USER_CAPTURE): every
 * client message in a file is sent to a fresh server (fds recreated: a
 * memfd for DMA_MAP, an eventfd otherwise), the replies are formatted the same way, and the
 * result must equal the file. VDEV_REGENERATE=1 rewrites the files with
 * the replies the server gives now (review the diff before committing).
 *
 * The sessions themselves are produced here too: each is driven by the
 * test client against a server capturing to a temporary file; that
 * capture must replay identically (capture/replay round trip), and with
 * VDEV_REGENERATE=1 it becomes the stored file.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/le.h>
#include <virtio/rng.h>
#include <virtio/testing.h>

#include "adapters/vfio-user/vfu_internal.h"
#include "vfu_client.h"

static char sock_path[108];

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			assert_non_null(buf);
		}
		size_t n = fread(buf + len, 1, cap - len - 1, f);

		if (!n)
			break;
		len += n;
	}
	fclose(f);
	buf[len] = 0;
	return buf;
}

/*
 * The stored sessions were captured on x86-64, and vfio-user data is "in
 * the endianness of the host system" (vfio-user.rst): on a big-endian host
 * each field of a stored body is swapped before it is sent, and the
 * transcript's bodies are swapped back at the end, so one stored file
 * serves both. The layouts are the spec's, written out here independently
 * of the adapter's structures; region data (PCI registers) and the version
 * JSON are byte strings and stay as they are.
 */
static void swap_fields(uint8_t *p, size_t size, const char *layout)
{
	size_t off = 0;

	for (const char *f = layout; *f; f++) {
		unsigned n = (unsigned)(*f - '0');

		if (off + n > size)
			return;
		for (unsigned i = 0; i < n / 2; i++) {
			uint8_t t = p[off + i];

			p[off + i] = p[off + n - 1 - i];
			p[off + n - 1 - i] = t;
		}
		off += n;
	}
}

static void capture_order(unsigned cmd, uint8_t *body, size_t len)
{
	static const char *const layout[] = {
		[VFU_CMD_VERSION] = "22",
		[VFU_CMD_DMA_MAP] = "44888",
		[VFU_CMD_DMA_UNMAP] = "4488",
		[VFU_CMD_DEVICE_GET_INFO] = "4444",
		[VFU_CMD_DEVICE_GET_REGION_INFO] = "444488",
		[VFU_CMD_DEVICE_GET_IRQ_INFO] = "4444",
		[VFU_CMD_DEVICE_SET_IRQS] = "44444",
		[VFU_CMD_REGION_READ] = "844",
		[VFU_CMD_REGION_WRITE] = "844",
		[VFU_CMD_DMA_READ] = "88",
		[VFU_CMD_DMA_WRITE] = "88",
	};

	if (VDEV_HOST_BIG_ENDIAN &&
	    cmd < sizeof(layout) / sizeof(layout[0]) && layout[cmd])
		swap_fields(body, len, layout[cmd]);
}

/* Puts every body of transcript @t in capture order, in place: the hex
 * bytes of each message block are rewritten where they stand. */
static void transcript_to_capture_order(char *t)
{
	char *tok[4096];
	uint8_t b[4096];
	unsigned cmd = 0, n = 0;

	if (!VDEV_HOST_BIG_ENDIAN)
		return;
	for (char *line = t;; ) {
		char *eol = strchr(line, '\n');
		bool indented = line[0] == ' ' && line[1] == ' ';

		if (indented && line[2] == '#') {
			/* a comment inside the block */
		} else if (!indented || !*line) {
			/* The block ends: swap what it held. */
			for (unsigned i = 0; i < n; i++)
				b[i] = (uint8_t)strtoul(tok[i], NULL, 16);
			capture_order(cmd, b, n);
			for (unsigned i = 0; i < n; i++) {
				static const char hex[] = "0123456789abcdef";

				tok[i][0] = hex[b[i] >> 4];
				tok[i][1] = hex[b[i] & 15];
			}
			n = 0;
			if ((line[0] == '>' || line[0] == '<') &&
			    sscanf(line + 1, " id %*u cmd %u", &cmd) != 1)
				cmd = 0;
		} else {
			for (char *c = line + 2; eol ? c < eol : *c; c += 3)
				if (n < 4096)
					tok[n++] = c;
		}
		if (!eol || !*line)
			break;
		line = eol + 1;
	}
}

static int make_fd(uint16_t cmd, const uint8_t *body, uint32_t len)
{
	if (cmd == VFU_CMD_DMA_MAP && len >= sizeof(struct vfu_dma_map)) {
		struct vfu_dma_map d;
		int fd = memfd_create("replay", MFD_CLOEXEC);

		memcpy(&d, body, sizeof(d));
		assert_true(fd >= 0);
		assert_true(d.offset + d.size <= (64ull << 20));
		assert_int_equal(ftruncate(fd, (off_t)(d.offset + d.size)), 0);
		return fd;
	}
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* Replays @text against a new server; returns the transcript (malloc'd). */
static char *replay(const char *text)
{
	struct vdev *dev = vdev_rng_new(NULL);
	struct vfu_testsrv *srv;
	struct vfu_client *c;
	char *out = NULL;
	size_t outlen = 0;
	FILE *o = open_memstream(&out, &outlen);
	const char *p = text;
	int base;

	assert_non_null(dev);
	assert_non_null(o);
	srv = vfu_testsrv_start(dev, sock_path, -1);
	assert_non_null(srv);
	base = vfu_count_fds();
	c = vfu_client_connect(sock_path);
	assert_non_null(c);
	while (*p) {
		const char *eol = strchr(p, '\n');
		size_t ll = eol ? (size_t)(eol - p) : strlen(p);
		struct vfu_hdr h = { 0 };
		unsigned id, cmd, flags, err, size, nfds;
		uint8_t *body = NULL;
		uint32_t blen = 0;
		int fds[VFU_MAX_FDS];

		if (p[0] == '#') {
			fprintf(o, "%.*s\n", (int)ll, p);
			if (!strncmp(p, "# disconnect", 12)) {
				vfu_client_free(c);
				assert_true(vfu_testsrv_wait_idle(srv));
				c = vfu_client_connect(sock_path);
				assert_non_null(c);
			}
		}
		if (p[0] != '>') {
			p += ll + (eol != NULL);
			continue;
		}
		assert_int_equal(sscanf(p, "> id %u cmd %u %*s flags 0x%x "
					   "error %u size %u fds %u",
					&id, &cmd, &flags, &err, &size, &nfds),
				 6);
		p += ll + (eol != NULL);
		/* Payload lines: two spaces, hex bytes. */
		body = malloc(size > 16 ? size : 16);
		assert_non_null(body);
		while (p[0] == ' ' && p[1] == ' ') {
			char *end;

			p += 2;
			for (;;) {
				unsigned long b = strtoul(p, &end, 16);

				if (end == p)
					break;
				body[blen++] = (uint8_t)b;
				p = end;
			}
			while (*p && *p != '\n')
				p++;
			if (*p)
				p++;
		}
		assert_true(nfds <= VFU_MAX_FDS);
		capture_order(cmd, body, blen);
		for (unsigned i = 0; i < nfds; i++)
			fds[i] = make_fd((uint16_t)cmd, body, blen);
		h = (struct vfu_hdr){ (uint16_t)id, (uint16_t)cmd, size, flags,
				      err };
		vfu_capture_write(o, '>', &h, body, blen, nfds);
		{
			uint8_t *msg = malloc(sizeof(h) + blen);

			assert_non_null(msg);
			memcpy(msg, &h, sizeof(h));
			memcpy(msg + sizeof(h), body, blen);
			assert_int_equal(vfu_client_send_raw(c, msg,
							     sizeof(h) + blen,
							     fds, nfds), 0);
			free(msg);
		}
		for (unsigned i = 0; i < nfds; i++)
			close(fds[i]);
		free(body);
		if (!(flags & VFU_F_NO_REPLY) || size < VFU_HDR_SIZE) {
			uint8_t rep[4096];
			struct vfu_hdr rh;
			uint32_t rlen = 0;

			assert_int_equal(vfu_client_recv(c, &rh, rep,
							 sizeof(rep), &rlen),
					 0);
			assert_true(rlen <= sizeof(rep));
			vfu_capture_write(o, '<', &rh, rep, rlen, 0);
		}
	}
	vfu_client_free(c);
	assert_int_equal(vfu_wait_fd_count(base), base);
	vfu_testsrv_stop(srv);
	vdev_free(dev);
	fclose(o);
	transcript_to_capture_order(out);
	return out;
}

static bool regenerate(void)
{
	const char *r = getenv("VDEV_REGENERATE");

	return r && *r && strcmp(r, "0");
}

static void dump(const char *text, char *tmpl)
{
	int fd = mkstemp(tmpl);

	if (fd < 0)
		return;
	if (write(fd, text, strlen(text)) < 0)
		tmpl[0] = 0;
	close(fd);
}

/* Fails with where to look (a diff of the two files) when they differ. */
static void same_or_fail(char *want, char *got, const char *what)
{
	char a[] = "/tmp/vdev-vfu-want-XXXXXX";
	char b[] = "/tmp/vdev-vfu-got-XXXXXX";

	if (!strcmp(want, got))
		return;
	dump(want, a);
	dump(got, b);
	free(want);
	free(got);
	fail_msg("%s: replies differ (diff %s %s); VDEV_REGENERATE=1 "
		 "updates the stored file", what, a, b);
}

static void check_file(const char *path)
{
	char *want = slurp(path);
	char *got;

	if (!want && regenerate())
		return;
	assert_non_null(want);
	got = replay(want);
	if (regenerate()) {
		FILE *f = fopen(path, "we");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	} else {
		same_or_fail(want, got, path);
	}
	free(want);
	free(got);
}

static void data_path(char *buf, size_t n, const char *name)
{
	const char *d = getenv("VDEV_TEST_DATA");

	snprintf(buf, n, "%s/vfio-user/%s", d ? d : "tests/data", name);
}

/* ---- the sessions ------------------------------------------------------ */

static void session_rng(struct vfu_client *c)
{
	struct vdev_drv_mem *mem = vdev_drv_mem_new(0x80000000ull, 1 << 20, 1);
	struct vdev_drv_ring *r;
	int efd[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };

	assert_non_null(mem);
	assert_int_equal(vfu_client_version(c), 0);
	assert_int_equal(vfu_client_probe(c), 0);
	assert_int_equal(vfu_client_dma_map(c, vdev_drv_mem_fd(mem), 0,
					    0x80000000ull, 1 << 20), 0);
	assert_int_equal(vfu_client_set_irqs(c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_EVENTFD |
						     VFU_IRQ_SET_ACTION_TRIGGER,
					     0, 2, efd, 2), 0);
	close(efd[0]);
	close(efd[1]);
	for (int packed = 0; packed < 2; packed++) {
		uint64_t want = ~VDEV_BIT(VDEV_F_RING_PACKED);

		if (packed)
			want = ~0ull;
		assert_int_equal(vpci_negotiate(&c->pci, want), 0);
		r = vdev_drv_ring_new(mem, 16, c->pci.features);
		assert_non_null(r);
		vpci_common_wr(&c->pci, VPCI_MSIX, 1, 2);
		assert_int_equal(vpci_setup_queue(&c->pci, 0, r, 0), 0);
		assert_int_equal(vpci_driver_ok(&c->pci), 0);
		for (int i = 0; i < 3; i++) {
			uint64_t gpa;
			void *buf = vdev_drv_mem_alloc(mem, 32, 16, &gpa);
			struct vdev_drv_seg seg = { gpa, 32 };
			void *tok;
			uint32_t len;

			assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf,
							   0), 0);
			assert_int_equal(vpci_notify(&c->pci, 0, r), 0);
			assert_int_equal(vdev_drv_ring_get_used(r, &tok, &len),
					 0);
		}
		vdev_drv_ring_free(r);
	}
	assert_int_equal(vfu_client_call(c, VFU_CMD_DEVICE_RESET, NULL, 0,
					 NULL, 0, NULL, 0, NULL), 0);
	assert_int_equal(vfu_client_dma_unmap(c, 0x80000000ull, 1 << 20), 0);
	vdev_drv_mem_free(mem);
}

static void session_bad(struct vfu_client *c)
{
	struct vfu_hdr h = { .id = 500, .cmd = VFU_CMD_DEVICE_GET_INFO,
			     .size = 8 };
	struct vfu_region_access a = { 252, VFU_PCI_CONFIG_REGION, 8 };
	uint8_t p[20] = { 20 };
	int fd = memfd_create("bad", MFD_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 65536), 0);
	assert_int_equal(vfu_client_call(c, VFU_CMD_DEVICE_GET_INFO, p, 16,
					 NULL, 0, NULL, 0, NULL), -EINVAL);
	assert_int_equal(vfu_client_version(c), 0);
	assert_int_equal(vfu_client_send_raw(c, &h, sizeof(h), NULL, 0), 0);
	assert_int_equal(vfu_client_recv(c, &h, NULL, 0, NULL), 0);
	assert_int_equal(vfu_client_call(c, VFU_CMD_DEVICE_GET_INFO, p, 20,
					 NULL, 0, NULL, 0, NULL), -EINVAL);
	assert_int_equal(vfu_client_call(c, 14, p, 16, NULL, 0, NULL, 0,
					 NULL), -ENOSYS);
	assert_int_equal(vfu_client_call(c, VFU_CMD_REGION_READ, &a,
					 sizeof(a), NULL, 0, NULL, 0, NULL),
			 -EINVAL);
	assert_int_equal(vfu_client_dma_map(c, fd, 0, 0x10000, 65536), 0);
	assert_int_equal(vfu_client_dma_map(c, fd, 0, 0x18000, 4096),
			 -EEXIST);
	assert_int_equal(vfu_client_dma_unmap(c, 0x90000, 4096), -ENOENT);
	assert_int_equal(vfu_client_call(c, VFU_CMD_DMA_READ, p, 16, NULL, 0,
					 NULL, 0, NULL), -EINVAL);
	assert_int_equal(vfu_client_set_irqs(c, VFU_IRQ_MSIX,
					     VFU_IRQ_SET_DATA_NONE, 0, 1,
					     NULL, 0), -EINVAL);
	close(fd);
}

static void run_session(const char *name, void (*fn)(struct vfu_client *))
{
	char tmp[] = "/tmp/vdev-vfu-capture-XXXXXX";
	char stored[512];
	struct vdev *dev = vdev_rng_new(NULL);
	struct vfu_testsrv *srv;
	struct vfu_client *c;
	char *cap, *again;
	int fd = mkstemp(tmp);

	assert_true(fd >= 0);
	close(fd);
	assert_non_null(dev);
	setenv("VDEV_VFIO_USER_CAPTURE", tmp, 1);
	srv = vfu_testsrv_start(dev, sock_path, -1);
	unsetenv("VDEV_VFIO_USER_CAPTURE");
	assert_non_null(srv);
	c = vfu_client_connect(sock_path);
	assert_non_null(c);
	fn(c);
	vfu_client_free(c);
	assert_true(vfu_testsrv_wait_idle(srv));
	vfu_testsrv_stop(srv);
	vdev_free(dev);

	cap = slurp(tmp);
	unlink(tmp);
	assert_non_null(cap);
	/* This host's capture, in the stored files' order. */
	transcript_to_capture_order(cap);
	/* The capture replays to itself. */
	again = replay(cap);
	same_or_fail(cap, again, "capture round trip");
	data_path(stored, sizeof(stored), name);
	if (regenerate()) {
		FILE *f = fopen(stored, "we");

		assert_non_null(f);
		fprintf(f, "# vfio-user conversation captured from the test "
			   "client (%s);\n# see "
			   "tests/unit/test_vfio_user_replay.c\n", name);
		fputs(cap, f);
		fclose(f);
	}
	free(cap);
	free(again);
}

static void test_capture_rng(void **state)
{
	run_session("rng-session.txt", session_rng);
}

static void test_capture_bad(void **state)
{
	run_session("bad-messages.txt", session_bad);
}

static void test_replay_rng(void **state)
{
	char path[512];

	data_path(path, sizeof(path), "rng-session.txt");
	check_file(path);
}

static void test_replay_bad(void **state)
{
	char path[512];

	data_path(path, sizeof(path), "bad-messages.txt");
	check_file(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_capture_rng),
		cmocka_unit_test(test_capture_bad),
		cmocka_unit_test(test_replay_rng),
		cmocka_unit_test(test_replay_bad),
	};

	unsetenv("VDEV_VFIO_USER_CAPTURE");
	snprintf(sock_path, sizeof(sock_path), "/tmp/vdev-vfu-replay-%d.sock",
		 (int)getpid());
	return cmocka_run_group_tests(tests, NULL, NULL);
}
