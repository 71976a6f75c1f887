/* SPDX-License-Identifier: BSD-3-Clause */
/* Guest memory map: regions, translation, copies, dirty log, RCU. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include <virtio/mem.h>

#define PG 4096u

static uint8_t *buf_a, *buf_b;

static int setup(void **state)
{
	(void)state;
	buf_a = calloc(1, 8 * PG);
	buf_b = calloc(1, 8 * PG);
	for (unsigned i = 0; i < 8 * PG; i++) {
		buf_a[i] = (uint8_t)i;
		buf_b[i] = (uint8_t)(i ^ 0xff);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(buf_a);
	free(buf_b);
	return 0;
}

static struct vdev_mem_region host_region(uint64_t gpa, uint64_t size,
					  void *host)
{
	return (struct vdev_mem_region){ .guest_addr = gpa, .size = size,
					 .host = host, .fd = -1 };
}

static void t_add_remove(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r = host_region(0x10000, 4 * PG, buf_a), out;
	uint64_t g0 = vdev_mem_generation(m);

	(void)state;
	assert_non_null(m);
	assert_int_equal(vdev_mem_count(m), 0);
	assert_int_equal(vdev_mem_add(m, &r), 0);
	assert_true(vdev_mem_generation(m) != g0);
	assert_int_equal(vdev_mem_count(m), 1);
	assert_int_equal(vdev_mem_region_get(m, 0, &out), 0);
	assert_int_equal(out.guest_addr, 0x10000);
	assert_int_equal(out.size, 4 * PG);
	assert_ptr_equal(out.host, buf_a);
	assert_int_equal(vdev_mem_region_get(m, 1, &out), -ENOENT);
	/* Overlaps, front, back and inside. */
	r = host_region(0x10000 + 4 * PG - 1, PG, buf_b);
	assert_int_equal(vdev_mem_add(m, &r), -EEXIST);
	r = host_region(0x10000 - PG, PG + 1, buf_b);
	assert_int_equal(vdev_mem_add(m, &r), -EEXIST);
	r = host_region(0x10000 + PG, PG, buf_b);
	assert_int_equal(vdev_mem_add(m, &r), -EEXIST);
	/* Adjacent is fine; kept sorted. */
	r = host_region(0x10000 - 4 * PG, 4 * PG, buf_b);
	assert_int_equal(vdev_mem_add(m, &r), 0);
	assert_int_equal(vdev_mem_region_get(m, 0, &out), 0);
	assert_int_equal(out.guest_addr, 0x10000 - 4 * PG);
	/* Removal needs an exact match. */
	assert_int_equal(vdev_mem_remove(m, 0x10000, PG), -ENOENT);
	assert_int_equal(vdev_mem_remove(m, 0x10001, 4 * PG), -ENOENT);
	assert_int_equal(vdev_mem_remove(m, 0x10000, 4 * PG), 0);
	assert_int_equal(vdev_mem_count(m), 1);
	assert_int_equal(vdev_mem_remove(m, 0x10000, 4 * PG), -ENOENT);
	vdev_mem_free(m);
}

static void t_invalid(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r;

	(void)state;
	r = host_region(0x1000, 0, buf_a);
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	r = host_region(UINT64_MAX - PG + 2, PG, buf_a);
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	/* Ending exactly at 2^64 is fine. */
	r = host_region(UINT64_MAX - PG + 1, PG, buf_a);
	assert_int_equal(vdev_mem_add(m, &r), 0);
	r = host_region(0x1000, PG, NULL);
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	r.fd = 12345;
	r.fd_offset = UINT64_MAX - 10;
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	r.fd_offset = 0;
	assert_int_equal(vdev_mem_add(m, &r), -EBADF);
	assert_int_equal(vdev_mem_count(m), 1);
	vdev_mem_free(m);
	vdev_mem_free(NULL);
	vdev_mem_release(NULL);
}

static void t_max_regions(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r;

	(void)state;
	for (unsigned i = 0; i < VDEV_MEM_MAX_REGIONS; i++) {
		r = host_region((uint64_t)i * PG, PG, buf_a);
		assert_int_equal(vdev_mem_add(m, &r), 0);
	}
	r = host_region((uint64_t)VDEV_MEM_MAX_REGIONS * PG, PG, buf_a);
	assert_int_equal(vdev_mem_add(m, &r), -ENOSPC);
	/* Lookups go through the binary search with many regions. */
	{
		struct vdev_mem_table *t = vdev_mem_acquire(m);
		struct iovec iov[4];

		assert_int_equal(vdev_mem_translate(t, 300 * PG + 10, PG, iov,
						    4), 2);
		assert_ptr_equal(iov[0].iov_base, buf_a + 10);
		assert_int_equal(iov[0].iov_len, PG - 10);
		assert_int_equal(iov[1].iov_len, 10);
		assert_null(vdev_mem_ptr(t, VDEV_MEM_MAX_REGIONS * PG, 1));
		assert_non_null(vdev_mem_ptr(t, 508 * PG + PG - 1, 1));
		vdev_mem_release(t);
	}
	vdev_mem_free(m);
}

static void t_translate(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region rs[2] = {
		host_region(0x100000, 2 * PG, buf_a),
		host_region(0x100000 + 2 * PG, 2 * PG, buf_b),
	};
	struct vdev_mem_table *t;
	struct iovec iov[3];

	(void)state;
	assert_int_equal(vdev_mem_replace(m, rs, 2), 0);
	t = vdev_mem_acquire(m);
	assert_int_equal(vdev_mem_table_generation(t), vdev_mem_generation(m));
	assert_int_equal(vdev_mem_translate(t, 0x100000, 0, iov, 3), 0);
	assert_int_equal(vdev_mem_translate(t, 0x100000 + 5, 100, iov, 3), 1);
	assert_ptr_equal(iov[0].iov_base, buf_a + 5);
	assert_int_equal(iov[0].iov_len, 100);
	/* Crossing into the adjacent region. */
	assert_int_equal(vdev_mem_translate(t, 0x100000 + 2 * PG - 3, 10, iov,
					    3), 2);
	assert_ptr_equal(iov[0].iov_base, buf_a + 2 * PG - 3);
	assert_int_equal(iov[0].iov_len, 3);
	assert_ptr_equal(iov[1].iov_base, buf_b);
	assert_int_equal(iov[1].iov_len, 7);
	assert_int_equal(vdev_mem_translate(t, 0x100000 + 2 * PG - 3, 10, iov,
					    1), -ENOBUFS);
	/* The last byte, one past it, before the first. */
	assert_int_equal(vdev_mem_translate(t, 0x100000 + 4 * PG - 1, 1, iov,
					    3), 1);
	assert_int_equal(vdev_mem_translate(t, 0x100000 + 4 * PG - 1, 2, iov,
					    3), -EFAULT);
	assert_int_equal(vdev_mem_translate(t, 0x100000 - 1, 2, iov, 3),
			 -EFAULT);
	assert_int_equal(vdev_mem_translate(t, UINT64_MAX - 2, 10, iov, 3),
			 -EOVERFLOW);
	/* ptr: one region only. */
	assert_ptr_equal(vdev_mem_ptr(t, 0x100000 + 2 * PG - 16, 16),
			 buf_a + 2 * PG - 16);
	assert_null(vdev_mem_ptr(t, 0x100000 + 2 * PG - 16, 17));
	assert_null(vdev_mem_ptr(t, UINT64_MAX, 2));
	assert_null(vdev_mem_ptr(t, 0x100000 + 4 * PG, 1));
	vdev_mem_release(t);
	vdev_mem_free(m);
}

static void t_replace_failure_keeps_old(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region rs[2] = {
		host_region(0x100000, 2 * PG, buf_a),
		host_region(0x100000 + PG, 2 * PG, buf_b),
	};
	uint64_t g;

	(void)state;
	assert_int_equal(vdev_mem_replace(m, rs, 1), 0);
	g = vdev_mem_generation(m);
	assert_int_equal(vdev_mem_replace(m, rs, 2), -EEXIST);
	rs[1] = host_region(0x100000 + 2 * PG, PG, NULL);
	rs[1].fd = -1;
	assert_int_equal(vdev_mem_replace(m, rs, 2), -EINVAL);
	assert_int_equal(vdev_mem_generation(m), g);
	assert_int_equal(vdev_mem_count(m), 1);
	assert_int_equal(vdev_mem_replace(m, NULL, 0), 0);
	assert_int_equal(vdev_mem_count(m), 0);
	vdev_mem_free(m);
}

static void t_uva(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r = host_region(0x100000, 4 * PG, buf_a);
	struct vdev_mem_table *t;
	uint64_t gpa = 0;

	(void)state;
	r.user_addr = 0x7f0000000000ull;
	assert_int_equal(vdev_mem_add(m, &r), 0);
	t = vdev_mem_acquire(m);
	assert_int_equal(vdev_mem_uva_to_gpa(t, 0x7f0000000010ull, 16, &gpa),
			 0);
	assert_int_equal(gpa, 0x100010);
	assert_int_equal(vdev_mem_uva_to_gpa(t, 0x7f0000000000ull + 4 * PG - 1,
					     2, &gpa), -EFAULT);
	assert_int_equal(vdev_mem_uva_to_gpa(t, 0x10, 1, &gpa), -EFAULT);
	assert_int_equal(vdev_mem_uva_to_gpa(t, UINT64_MAX, 4, &gpa),
			 -EFAULT);
	vdev_mem_release(t);
	vdev_mem_free(m);
}

static void t_read_write(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region rs[2] = {
		host_region(0x100000, PG, buf_a),
		host_region(0x100000 + PG, PG, buf_b),
	};
	struct vdev_mem_table *t;
	uint8_t b[32], z[32];

	(void)state;
	assert_int_equal(vdev_mem_replace(m, rs, 2), 0);
	t = vdev_mem_acquire(m);
	memset(b, 0xee, sizeof(b));
	assert_int_equal(vdev_mem_write(t, 0x100000 + PG - 16, b, 32), 0);
	assert_int_equal(buf_a[PG - 1], 0xee);
	assert_int_equal(buf_b[15], 0xee);
	assert_int_equal(buf_b[16], (uint8_t)(16 ^ 0xff));
	memset(z, 0, sizeof(z));
	assert_int_equal(vdev_mem_read(t, 0x100000 + PG - 16, z, 32), 0);
	assert_memory_equal(z, b, 32);
	/* Partly outside: nothing is copied. */
	memset(b, 0x11, sizeof(b));
	assert_int_equal(vdev_mem_write(t, 0x100000 + 2 * PG - 16, b, 32),
			 -EFAULT);
	assert_int_equal(buf_b[PG - 16], (uint8_t)((PG - 16) ^ 0xff));
	assert_int_equal(vdev_mem_read(t, UINT64_MAX - 4, z, 32), -EOVERFLOW);
	assert_int_equal(vdev_mem_read(t, 0x100000, z, 0), 0);
	vdev_mem_release(t);
	vdev_mem_free(m);
}

static void t_fd_regions(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	int fd = memfd_create("t", 0);
	struct vdev_mem_region r = { .guest_addr = 0x200000, .size = PG + 100,
				     .fd = fd, .fd_offset = PG + 28 };
	struct vdev_mem_table *t;
	uint8_t *p, v = 0;

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 * PG), 0);
	assert_int_equal(pwrite(fd, "xyz", 3, PG + 28), 3);
	/* Unaligned file offset is handled. */
	assert_int_equal(vdev_mem_add(m, &r), 0);
	t = vdev_mem_acquire(m);
	p = vdev_mem_ptr(t, 0x200000, 3);
	assert_non_null(p);
	assert_memory_equal(p, "xyz", 3);
	/* The fd may go; the mapping stays. */
	close(fd);
	/* Removing the region while a snapshot is held: still mapped. */
	assert_int_equal(vdev_mem_remove(m, 0x200000, PG + 100), 0);
	assert_int_equal(vdev_mem_read(t, 0x200001, &v, 1), 0);
	assert_int_equal(v, 'y');
	assert_int_equal(p[2], 'z');
	vdev_mem_release(t);
	r.fd = -1;
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	vdev_mem_free(m);
}

/* Permissions of the mapping holding @p, from /proc/self/maps ("r--s"). */
static void map_perms(const void *p, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];

	strcpy(perms, "?");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
		    (unsigned long)p >= lo && (unsigned long)p < hi)
			break;
		strcpy(perms, "?");
	}
	fclose(f);
}

/* A read-only region (issue #19, defect 10): mapped PROT_READ from a
 * read-only fd, readable, and every write path refuses it. */
static void t_rdonly_region(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	int fd = memfd_create("t", 0), ro;
	char path[64], perms[5];
	struct vdev_mem_region r = { .guest_addr = 0x300000, .size = 2 * PG,
				     .fd = -1, .flags = VDEV_MEM_F_RDONLY },
			       rw = host_region(0x300000 + 2 * PG, PG, buf_a),
			       out;
	struct vdev_mem_table *t;
	struct iovec iov[2];
	uint8_t v = 0, b[8] = { 0 };

	(void)state;
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 2 * PG), 0);
	assert_int_equal(pwrite(fd, "ro", 2, 10), 2);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ro = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(ro >= 0);
	r.fd = ro;
	/* Unknown flags are refused. */
	r.flags = 2;
	assert_int_equal(vdev_mem_add(m, &r), -EINVAL);
	/* A read-write mapping of a read-only fd is not possible. */
	r.flags = 0;
	assert_int_equal(vdev_mem_add(m, &r), -EACCES);
	r.flags = VDEV_MEM_F_RDONLY;
	assert_int_equal(vdev_mem_add(m, &r), 0);
	assert_int_equal(vdev_mem_add(m, &rw), 0);
	assert_int_equal(vdev_mem_region_get(m, 0, &out), 0);
	assert_int_equal(out.flags, VDEV_MEM_F_RDONLY);
	assert_int_equal(vdev_mem_region_get(m, 1, &out), 0);
	assert_int_equal(out.flags, 0);
	t = vdev_mem_acquire(m);
	map_perms(vdev_mem_ptr(t, 0x300000, 1), perms);
	assert_string_equal(perms, "r--s");
	assert_int_equal(vdev_mem_read(t, 0x300000 + 11, &v, 1), 0);
	assert_int_equal(v, 'o');
	assert_int_equal(vdev_mem_translate(t, 0x300000, 10, iov, 2), 1);
	assert_int_equal(vdev_mem_translate_write(t, 0x300000, 10, iov, 2),
			 -EACCES);
	/* Across the boundary into the read-write region: still refused,
	 * and nothing is written on either side. */
	assert_int_equal(vdev_mem_translate_write(t, 0x300000 + 2 * PG - 4, 8,
						  iov, 2), -EACCES);
	assert_int_equal(vdev_mem_write(t, 0x300000 + 2 * PG - 4, b, 8),
			 -EACCES);
	assert_int_equal(buf_a[0], 0);
	assert_int_equal(buf_a[1], 1);
	assert_int_equal(vdev_mem_translate_write(t, 0x300000 + 2 * PG, 8,
						  iov, 2), 1);
	assert_int_equal(vdev_mem_write(t, 0x300000 + 11, b, 1), -EACCES);
	assert_int_equal(pread(fd, &v, 1, 11), 1);
	assert_int_equal(v, 'o');
	vdev_mem_release(t);
	vdev_mem_free(m);
	close(ro);
	close(fd);
}

/* The map outlives its last user while a snapshot is held. */
static void t_snapshot_outlives_map(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r = host_region(0x1000, PG, buf_a);
	struct vdev_mem_table *t;

	(void)state;
	assert_int_equal(vdev_mem_add(m, &r), 0);
	vdev_mem_ref(m);
	vdev_mem_free(m);
	t = vdev_mem_acquire(m);
	vdev_mem_free(m);
	assert_non_null(vdev_mem_ptr(t, 0x1000, PG));
	assert_false(vdev_mem_logging(t));
	vdev_mem_release(t);
}

static void t_dirty_log(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r = host_region(0, 8 * PG, buf_a);
	struct vdev_mem_table *t;
	uint8_t log[2] = { 0, 0 };

	(void)state;
	assert_int_equal(vdev_mem_add(m, &r), 0);
	t = vdev_mem_acquire(m);
	vdev_mem_log_write(t, 0, 100);
	assert_false(vdev_mem_logging(t));
	vdev_mem_release(t);
	assert_int_equal(vdev_mem_set_dirty_log(m, log, 0), -EINVAL);
	assert_int_equal(vdev_mem_set_dirty_log(m, log, 1), 0);
	t = vdev_mem_acquire(m);
	assert_true(vdev_mem_logging(t));
	vdev_mem_log_write(t, PG - 1, 2);  /* pages 0 and 1 */
	vdev_mem_log_write(t, 5 * PG, 0);  /* nothing */
	vdev_mem_log_write(t, 7 * PG + 5, 1);
	vdev_mem_log_write(t, 9 * PG, PG); /* past the log: ignored */
	vdev_mem_log_write(t, UINT64_MAX - 5, 100); /* clamps, no crash */
	assert_int_equal(log[0], 0x83);
	assert_int_equal(log[1], 0);
	vdev_mem_release(t);
	assert_int_equal(vdev_mem_set_dirty_log(m, NULL, 0), 0);
	t = vdev_mem_acquire(m);
	assert_false(vdev_mem_logging(t));
	vdev_mem_release(t);
	vdev_mem_free(m);
}

static unsigned released;
static void *released_log;

static void on_release(void *log, uint64_t size, void *opaque)
{
	assert_int_equal(size, 1);
	assert_ptr_equal(opaque, &released);
	released++;
	released_log = log;
}

/* A log is handed back only when no snapshot logs into it any more. */
static void t_dirty_log_release(void **state)
{
	struct vdev_mem *m = vdev_mem_new();
	struct vdev_mem_region r = host_region(0, 8 * PG, buf_a);
	struct vdev_mem_table *t;
	uint8_t a = 0, b = 0;

	(void)state;
	assert_int_equal(vdev_mem_add(m, &r), 0);
	assert_int_equal(vdev_mem_set_dirty_log_release(m, &a, 1, on_release,
							&released), 0);
	t = vdev_mem_acquire(m);
	/* Tables made by later changes keep using the same log. */
	r = host_region(16 * PG, PG, buf_b);
	assert_int_equal(vdev_mem_add(m, &r), 0);
	assert_int_equal(vdev_mem_set_dirty_log_release(m, &b, 1, on_release,
							&released), 0);
	assert_int_equal(released, 0);
	vdev_mem_log_write(t, 0, 1);
	assert_int_equal(a, 1);
	vdev_mem_release(t);
	assert_int_equal(released, 1);
	assert_ptr_equal(released_log, &a);
	assert_int_equal(vdev_mem_set_dirty_log(m, NULL, 0), 0);
	assert_int_equal(released, 2);
	assert_ptr_equal(released_log, &b);
	vdev_mem_free(m);
}

/* One thread replaces the table (new mmaps each time) while another
 * translates and reads through its snapshots. */
struct race {
	struct vdev_mem *m;
	int fd;
	atomic_int stop;
	unsigned reads;
};

static void *reader(void *arg)
{
	struct race *rc = arg;

	while (!atomic_load(&rc->stop)) {
		struct vdev_mem_table *t = vdev_mem_acquire(rc->m);
		struct iovec iov[4];
		int n = vdev_mem_translate(t, 0x10000 + PG - 8, 16, iov, 4);
		uint8_t sum = 0;

		if (n > 0) {
			for (int i = 0; i < n; i++)
				for (size_t k = 0; k < iov[i].iov_len; k++)
					sum += ((uint8_t *)iov[i].iov_base)[k];
			assert_int_equal(sum, (uint8_t)(16 * 7));
			rc->reads++;
		}
		vdev_mem_release(t);
	}
	return NULL;
}

static void t_concurrent_replace(void **state)
{
	struct race rc = { .m = vdev_mem_new() };
	pthread_t th;
	uint8_t page[2 * PG];

	(void)state;
	rc.fd = memfd_create("race", 0);
	memset(page, 7, sizeof(page));
	assert_int_equal(pwrite(rc.fd, page, sizeof(page), 0),
			 (ssize_t)sizeof(page));
	assert_int_equal(pthread_create(&th, NULL, reader, &rc), 0);
	for (unsigned i = 0; i < 20000; i++) {
		/* Alternate one region and two adjacent ones. */
		struct vdev_mem_region rs[2] = {
			{ .guest_addr = 0x10000, .size = PG, .fd = rc.fd },
			{ .guest_addr = 0x10000 + PG, .size = PG, .fd = rc.fd,
			  .fd_offset = PG },
		};

		if (i % 2) {
			rs[0].size = 2 * PG;
			assert_int_equal(vdev_mem_replace(rc.m, rs, 1), 0);
		} else {
			assert_int_equal(vdev_mem_replace(rc.m, rs, 2), 0);
		}
		if (i % 7 == 0)
			assert_int_equal(vdev_mem_replace(rc.m, NULL, 0), 0);
	}
	atomic_store(&rc.stop, 1);
	pthread_join(th, NULL);
	assert_true(rc.reads > 0);
	close(rc.fd);
	vdev_mem_free(rc.m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(t_add_remove),
		cmocka_unit_test(t_invalid),
		cmocka_unit_test(t_max_regions),
		cmocka_unit_test(t_translate),
		cmocka_unit_test(t_replace_failure_keeps_old),
		cmocka_unit_test(t_uva),
		cmocka_unit_test(t_read_write),
		cmocka_unit_test(t_fd_regions),
		cmocka_unit_test(t_rdonly_region),
		cmocka_unit_test(t_snapshot_outlives_map),
		cmocka_unit_test(t_dirty_log),
		cmocka_unit_test(t_dirty_log_release),
		cmocka_unit_test(t_concurrent_replace),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
