/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Malformed vhost-user messages, one case each. Every case checks the
 * error reply or the closed connection, that the adapter then serves a new
 * connection, and that no fd leaked (open fds counted before and after).
 * First, the byte order of a well-formed one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include <virtio/le.h>
#include <virtio/rng.h>
#include <virtio/spec.h>
#include <virtio/transport.h>

#include "adapters/vhost-user/vhu_internal.h"
#include "twait.h"
#include "vhu_frontend.h"

#define REPLY_ACK VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_REPLY_ACK)
#define LOG_SHMFD VDEV_BIT(VDEV_VHOST_USER_PROTOCOL_F_LOG_SHMFD)

struct fixture {
	struct vdev *dev;
	struct vhu_fe_server srv;
	unsigned fds_before;
};

static int setup(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.dev = vdev_rng_new(NULL);
	if (!f.dev || vhu_fe_server_start(&f.srv, f.dev, NULL))
		return -1;
	f.fds_before = vhu_fe_count_fds();
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vhu_fe_server_stop(&f->srv);
	vdev_free(f->dev);
	return 0;
}

/* The case's connection is gone: the adapter serves a new one and every
 * fd the case sent was closed (@held: fds the case itself still holds). */
static void check_held(struct fixture *f, unsigned held)
{
	struct vhu_fe *fe;
	uint64_t v;

	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	assert_true(v & VDEV_BIT(VDEV_F_VERSION_1));
	vhu_fe_close(fe);
	assert_true(vhu_fe_server_idle(&f->srv, TWAIT_MS));
	assert_int_equal(vhu_fe_count_fds(), f->fds_before + held);
}

static void check_recovered(struct fixture *f)
{
	check_held(f, 0);
}

static struct vhu_fe *connect_with(struct fixture *f, uint64_t proto)
{
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint64_t v;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES, &v),
			 0);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_PROTOCOL_FEATURES,
					v & proto, -1, false), 0);
	return fe;
}

/* Closes the case's connection after checking the adapter closed it. */
static void expect_closed(struct vhu_fe *fe)
{
	assert_true(vhu_fe_peer_closed(fe, TWAIT_MS));
	vhu_fe_close(fe);
}

/* With REPLY_ACK the failure comes back as a non-zero ack and the
 * connection goes on. */
static void expect_nack_then_alive(struct vhu_fe *fe, int ret)
{
	uint64_t v;

	assert_true(ret > 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	vhu_fe_close(fe);
}

/* Reads exactly @len bytes of @fd within 2 s. */
static void read_exact(int fd, uint8_t *buf, size_t len)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	size_t got = 0;

	while (got < len) {
		ssize_t n;

		assert_int_equal(poll(&p, 1, 2000), 1);
		n = read(fd, buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
}

/*
 * "All numbers are in the machine native byte order" (vhost-user.rst),
 * unlike virtio's rings and config space, which are little-endian. The
 * bytes are spelled out here rather than encoded by the test frontend, so
 * a back-end and a frontend helper that both converted to little-endian
 * (as this adapter once did) fail together on a big-endian host.
 */
static void test_native_byte_order(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	/* GET_FEATURES (1), version 1, no payload. */
	static const uint8_t req_le[12] = { 1, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t req_be[12] = { 0, 0, 0, 1, 0, 0, 0, 1 };
	/* The reply: GET_FEATURES, version 1 | REPLY (0x5), 8 bytes. */
	static const uint8_t rep_le[12] = { 1, 0, 0, 0, 5, 0, 0, 0, 8 };
	static const uint8_t rep_be[12] = { 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 8 };
	const bool be = VDEV_HOST_BIG_ENDIAN;
	uint8_t rep[20], *feat = rep + 12;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_send_raw(fe, be ? req_be : req_le, 12, NULL,
					 0), 0);
	read_exact(fe->fd, rep, sizeof(rep));
	assert_memory_equal(rep, be ? rep_be : rep_le, 12);
	/* VERSION_1 (bit 32) and PROTOCOL_FEATURES (bit 30), as a u64 in
	 * host order: bytes 4 and 3 counted from the low end. */
	assert_true(feat[be ? 3 : 4] & 1);
	assert_true(feat[be ? 4 : 3] & 0x40);
	vhu_fe_close(fe);
	check_recovered(f);
}

static void test_short_header(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint8_t part[5] = { 1, 0, 0, 0, 1 };

	assert_int_equal(vhu_fe_send_raw(fe, part, sizeof(part), NULL, 0), 0);
	shutdown(fe->fd, SHUT_WR);
	expect_closed(fe);
	check_recovered(f);
}

static void test_payload_over_limit(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	uint32_t h[3] = { VHU_FE_SET_FEATURES,
			   VHU_FE_VERSION,
			   1u << 20 };
	int efd = eventfd(0, EFD_CLOEXEC);

	/* An fd rides along: it must not survive the rejection. */
	assert_int_equal(vhu_fe_send_raw(fe, h, sizeof(h), &efd, 1), 0);
	close(efd);
	expect_closed(fe);
	check_recovered(f);
}

static void test_payload_under_size(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, 0);
	uint32_t four = 0;

	/* SET_FEATURES needs 8 bytes; no ack asked: the close says it. */
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_FEATURES, &four, 4,
					NULL, 0, false), 0);
	expect_closed(fe);
	check_recovered(f);

	fe = connect_with(f, REPLY_ACK);
	expect_nack_then_alive(fe, vhu_fe_request(fe, VHU_FE_SET_FEATURES,
						  &four, 4, NULL, 0, true));
	check_recovered(f);
}

static void test_too_many_fds(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	int fds[12];
	uint64_t v = 0;

	for (unsigned i = 0; i < 12; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	/* SET_FEATURES carries no fd at all. */
	expect_nack_then_alive(fe, vhu_fe_request(fe, VHU_FE_SET_FEATURES, &v,
						  8, fds, 2, true));
	check_held(f, 12);
	/* More than the 8 any message may carry. */
	fe = connect_with(f, REPLY_ACK);
	v = 0;
	expect_nack_then_alive(fe, vhu_fe_request(fe, VHU_FE_SET_VRING_CALL,
						  &v, 8, fds, 12, true));
	for (unsigned i = 0; i < 12; i++)
		close(fds[i]);
	check_recovered(f);
}

static void test_too_few_fds(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	uint64_t v = 0; /* queue 0, no NOFD flag: one fd expected */

	expect_nack_then_alive(fe, vhu_fe_request(fe, VHU_FE_SET_VRING_KICK,
						  &v, 8, NULL, 0, true));
	check_recovered(f);
	fe = connect_with(f, 0);
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_VRING_KICK, &v, 8, NULL,
					0, false), 0);
	expect_closed(fe);
	check_recovered(f);
}

static void test_queue_index_range(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	int efd = eventfd(0, EFD_CLOEXEC);

	expect_nack_then_alive(fe, vhu_fe_set_state(fe, VHU_FE_SET_VRING_NUM,
						    5, 64, true));
	check_held(f, 1);
	fe = connect_with(f, REPLY_ACK);
	expect_nack_then_alive(fe, vhu_fe_set_u64(fe, VHU_FE_SET_VRING_CALL,
						  0xff, efd, true));
	close(efd);
	check_recovered(f);
	/* GET_VRING_BASE owes a reply: a bad index closes. */
	fe = connect_with(f, REPLY_ACK);
	uint32_t num;

	assert_int_not_equal(vhu_fe_get_vring_base(fe, 7, &num), 0);
	vhu_fe_close(fe);
	check_recovered(f);
}

static int mem_table(struct vhu_fe *fe, const uint64_t (*r)[4], unsigned n,
		     int memfd, bool ack)
{
	uint8_t buf[8 + 8 * 32];
	uint32_t nr = n;
	int fds[8];

	memset(buf, 0, sizeof(buf));
	memcpy(buf, &nr, 4);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned k = 0; k < 4; k++) {
			uint64_t le = r[i][k];

			memcpy(buf + 8 + 32 * i + 8 * k, &le, 8);
		}
		fds[i] = memfd;
	}
	return vhu_fe_request(fe, VHU_FE_SET_MEM_TABLE, buf, 8 + 32 * n, fds,
			      n, ack);
}

static void test_mem_table_overlap_overflow(void **state)
{
	struct fixture *f = *state;
	int memfd = memfd_create("guest", MFD_CLOEXEC);
	const uint64_t overlap[2][4] = {
		{ 0x0, 0x10000, 0x7f0000000000, 0 },
		{ 0x8000, 0x10000, 0x7f0000100000, 0x8000 },
	};
	const uint64_t overlap_uva[2][4] = {
		{ 0x0, 0x10000, 0x7f0000000000, 0 },
		{ 0x100000, 0x10000, 0x7f0000008000, 0x10000 },
	};
	const uint64_t wrap[1][4] = {
		{ UINT64_MAX - 0xfff, 0x10000, 0x7f0000000000, 0 },
	};
	const uint64_t wrap_off[1][4] = {
		{ 0, 0x10000, 0x7f0000000000, UINT64_MAX - 0xfff },
	};
	struct vhu_fe *fe;

	assert_true(memfd >= 0);
	assert_int_equal(ftruncate(memfd, 0x20000), 0);
	fe = connect_with(f, REPLY_ACK);
	expect_nack_then_alive(fe, mem_table(fe, overlap, 2, memfd, true));
	check_held(f, 1);
	fe = connect_with(f, REPLY_ACK);
	expect_nack_then_alive(fe, mem_table(fe, overlap_uva, 2, memfd, true));
	check_held(f, 1);
	fe = connect_with(f, REPLY_ACK);
	expect_nack_then_alive(fe, mem_table(fe, wrap, 1, memfd, true));
	check_held(f, 1);
	fe = connect_with(f, 0);
	assert_int_equal(mem_table(fe, wrap_off, 1, memfd, false), 0);
	expect_closed(fe);
	check_held(f, 1);
	/* A region past the end of its fd (would fault when touched). */
	{
		const uint64_t past[1][4] = {
			{ 0, 0x40000, 0x7f0000000000, 0 },
		};

		fe = connect_with(f, REPLY_ACK);
		expect_nack_then_alive(fe, mem_table(fe, past, 1, memfd,
						     true));
		check_held(f, 1);
	}
	/* Region count and fd count disagree. */
	fe = connect_with(f, REPLY_ACK);
	{
		uint8_t buf[8 + 64] = { 2 };
		int one = memfd;

		expect_nack_then_alive(fe, vhu_fe_request(
			fe, VHU_FE_SET_MEM_TABLE, buf, sizeof(buf), &one, 1,
			true));
	}
	close(memfd);
	check_recovered(f);
}

static void test_log_base_overflow(void **state)
{
	struct fixture *f = *state;
	int memfd = memfd_create("log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	uint64_t log[2];
	struct vhu_fe *fe;

	assert_int_equal(ftruncate(memfd, 4096), 0);
	/* Sealed as QEMU's is, so the ranges are what gets refused. */
	assert_int_equal(fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
	fe = connect_with(f, REPLY_ACK | LOG_SHMFD);
	log[0] = 0x2000;
	log[1] = UINT64_MAX - 0xfff;
	/* SET_LOG_BASE has its own reply; a failure closes. */
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_LOG_BASE, log,
					sizeof(log), &memfd, 1, false), 0);
	expect_closed(fe);
	check_held(f, 1);
	/* Larger than the file. */
	fe = connect_with(f, REPLY_ACK | LOG_SHMFD);
	log[0] = 8192;
	log[1] = 0;
	assert_int_equal(vhu_fe_request(fe, VHU_FE_SET_LOG_BASE, log,
					sizeof(log), &memfd, 1, false), 0);
	expect_closed(fe);
	close(memfd);
	check_recovered(f);
}

static void test_wrong_order(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	uint64_t addr[5] = { 0, 0x7f0000000000,
			      0x7f0000002000,
			      0x7f0000001000, 0 };

	expect_nack_then_alive(fe, vhu_fe_request(fe, VHU_FE_SET_VRING_ADDR,
						  addr, sizeof(addr), NULL, 0,
						  true));
	check_recovered(f);
}

static void test_unknown_request(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	uint64_t v = 0;

	expect_nack_then_alive(fe, vhu_fe_request(fe, 99, &v, 8, NULL, 0,
						  true));
	check_recovered(f);
	/* Known but not implemented (SEND_RARP), without an ack: closed. */
	fe = connect_with(f, 0);
	assert_int_equal(vhu_fe_request(fe, 19, &v, 8, NULL, 0, false), 0);
	expect_closed(fe);
	check_recovered(f);
	/* Needs a protocol feature that was not negotiated (STATUS); it
	 * owes a reply, so the answer is the close. */
	fe = connect_with(f, REPLY_ACK);
	assert_int_equal(vhu_fe_request(fe, VHU_FE_GET_STATUS, NULL, 0, NULL,
					0, false), 0);
	expect_closed(fe);
	check_recovered(f);
}

static void test_bad_version_flags(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = connect_with(f, REPLY_ACK);
	uint64_t v = 0;

	/* Version 2. */
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_OWNER, 0x2, NULL, 0, NULL,
				     0), 0);
	expect_closed(fe);
	check_recovered(f);
	/* A "reply" sent to the back-end. */
	fe = connect_with(f, 0);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_FEATURES,
				     VHU_FE_VERSION | VHU_FE_REPLY, &v, 8, NULL,
				     0), 0);
	expect_closed(fe);
	check_recovered(f);
	/* Unknown flag bits. */
	fe = connect_with(f, 0);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_OWNER,
				     VHU_FE_VERSION | 0x100, NULL, 0, NULL, 0),
			 0);
	expect_closed(fe);
	check_recovered(f);
}

/* The table itself: every request a handler serves has a name and sane
 * size bounds; request 0 and out-of-range numbers are unknown. */
static void test_request_table(void **state)
{
	unsigned served = 0;

	assert_null(vhu_req_info(0));
	assert_null(vhu_req_info(VHU_REQUEST_MAX));
	assert_null(vhu_req_info(UINT32_MAX));
	for (uint32_t r = 1; r < VHU_REQUEST_MAX; r++) {
		const struct vhu_req_info *ri = vhu_req_info(r);

		assert_non_null(ri);
		assert_non_null(ri->name);
		assert_true(ri->min_size <= ri->max_size);
		assert_true(ri->max_size <= VHU_MAX_PAYLOAD);
		served += ri->handle != NULL;
	}
	assert_int_equal(served, 32);
	assert_string_equal(vhu_req_name(VHU_GET_VRING_BASE),
			    "GET_VRING_BASE");
}

/* The SET_PROTOCOL_FEATURES that acks REPLY_ACK with need_reply set gets
 * its ack (User-Mode Linux waits for it); without REPLY_ACK nothing comes
 * back for need_reply. */
static void test_ack_of_negotiation(void **state)
{
	struct fixture *f = *state;
	struct vhu_fe *fe = vhu_fe_connect(f->srv.path, TWAIT_MS);
	struct vhu_fe_msg r;
	uint64_t v;

	assert_non_null(fe);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_FEATURES, &v), 0);
	assert_int_equal(vhu_fe_get_u64(fe, VHU_FE_GET_PROTOCOL_FEATURES, &v),
			 0);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_PROTOCOL_FEATURES, 0,
					-1, false), 0);
	assert_int_equal(vhu_fe_send(fe, VHU_FE_SET_OWNER,
				     VHU_FE_VERSION | VHU_FE_NEED_REPLY, NULL, 0,
				     NULL, 0), 0);
	assert_int_equal(vhu_fe_recv(fe->fd, &r, 200), -ETIMEDOUT);
	assert_int_equal(vhu_fe_set_u64(fe, VHU_FE_SET_PROTOCOL_FEATURES,
					REPLY_ACK, -1, true), 0);
	vhu_fe_close(fe);
	check_recovered(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request_table),
		cmocka_unit_test_setup_teardown(test_ack_of_negotiation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_native_byte_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_short_header, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_payload_over_limit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_payload_under_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_many_fds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_too_few_fds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_queue_index_range, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mem_table_overlap_overflow,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_base_overflow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_wrong_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_request, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_version_flags, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
