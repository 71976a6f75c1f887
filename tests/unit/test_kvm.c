/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The KVM adapter without a running guest: argument checks, attach and
 * detach (ioeventfds and irqfd really go away: the window can be attached
 * again), a conflicting window, MMIO-exit routing, hidden
 * NOTIFICATION_DATA, and a transfer whose kick comes through an MMIO exit
 * and is served by the device thread, which signals the irqfd; vCPU
 * threads hammering the registers while transfers run. Skipped
 * when /dev/kvm cannot create a VM with an in-kernel irqchip.
 */
#include <stdio.h>

#include "vdev_build_config.h"

#if !VDEV_WITH_KVM
int main(void)
{
	printf("SKIP: the KVM adapter is not built for this architecture "
	       "(x86-64 and aarch64 only)\n");
	return 77;
}
#else
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <cmocka.h>
#include <virtio/kvm.h>
#include <virtio/rng.h>
#include <virtio/testing.h>
#include <virtio/transport.h>

#define BASE 0xd0000000ull

struct kfx {
	int kvm_fd;
	int vm_fd;
	struct vdev_drv_mem *ram;
	char src[32];
};

static int setup(void **state)
{
	struct kfx *k = calloc(1, sizeof(*k));
	int fd;

	assert_non_null(k);
	k->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	k->vm_fd = k->kvm_fd < 0 ? -1 : ioctl(k->kvm_fd, KVM_CREATE_VM, 0);
	if (k->vm_fd < 0 || ioctl(k->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		fprintf(stderr, "SKIP: no usable KVM here (%s)\n",
			strerror(errno));
		if (k->vm_fd >= 0)
			close(k->vm_fd);
		if (k->kvm_fd >= 0)
			close(k->kvm_fd);
		free(k);
		*state = NULL;
		return 0;
	}
	k->ram = vdev_drv_mem_new(0x100000, 1 << 20, 1);
	assert_non_null(k->ram);
	snprintf(k->src, sizeof(k->src), "/tmp/vdev-kvm-XXXXXX");
	fd = mkstemp(k->src);
	assert_true(fd >= 0);
	for (int i = 0; i < 256; i++) {
		uint8_t b = (uint8_t)(i ^ 0x5a);

		assert_int_equal(write(fd, &b, 1), 1);
	}
	close(fd);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct kfx *k = *state;

	if (!k)
		return 0;
	unlink(k->src);
	vdev_drv_mem_free(k->ram);
	close(k->vm_fd);
	close(k->kvm_fd);
	free(k);
	return 0;
}

static struct kfx *need_kvm(void **state)
{
	if (!*state)
		skip();
	return *state;
}

static struct vdev *rng(struct kfx *k)
{
	struct vdev_rng_config rc = { .source = k->src };
	struct vdev *dev = vdev_rng_new(&rc);

	assert_non_null(dev);
	return dev;
}

static struct vdev_kvm_config cfg(struct kfx *k, uint64_t base, uint32_t gsi,
				  unsigned flags)
{
	struct vdev_kvm_config c = {
		.mmio_base = base,
		.gsi = gsi,
		.mem = vdev_drv_mem_map(k->ram),
		.flags = flags,
	};

	return c;
}

static uint32_t xrd(struct vdev_kvm *kv, uint64_t off)
{
	uint32_t v = 0;

	assert_int_equal(vdev_kvm_mmio_exit(kv, BASE + off, (uint8_t *)&v, 4,
					    false),
			 0);
	return v;
}

static void xwr(struct vdev_kvm *kv, uint64_t off, uint32_t v)
{
	assert_int_equal(vdev_kvm_mmio_exit(kv, BASE + off, (uint8_t *)&v, 4,
					    true),
			 0);
}

static void test_bad_args(void **state)
{
	struct kfx *k = need_kvm(state);
	struct vdev *dev = rng(k);
	struct vdev_kvm_config c = cfg(k, BASE, 5, 0);

	errno = 0;
	assert_null(vdev_kvm_attach(-1, dev, &c));
	assert_int_equal(errno, EINVAL);
	assert_null(vdev_kvm_attach(k->vm_fd, NULL, &c));
	assert_null(vdev_kvm_attach(k->vm_fd, dev, NULL));
	c.mmio_base = BASE + 0x800;
	assert_null(vdev_kvm_attach(k->vm_fd, dev, &c));
	c = cfg(k, BASE, 5, 0);
	c.mem = NULL;
	assert_null(vdev_kvm_attach(k->vm_fd, dev, &c));
	vdev_kvm_detach(NULL);
	vdev_free(dev);
}

static void test_attach_detach(void **state)
{
	struct kfx *k = need_kvm(state);
	struct vdev *a = rng(k), *b = rng(k);
	struct vdev_kvm_config c = cfg(k, BASE, 5, 0);
	struct vdev_kvm *ka, *kb;
	struct vdev_kvm_stats st;
	uint8_t d[8];

	ka = vdev_kvm_attach(k->vm_fd, a, &c);
	assert_non_null(ka);
	vdev_kvm_get_stats(ka, &st);
	assert_true(st.level);
	assert_true(st.ioeventfd);
	assert_non_null(vdev_kvm_mmio(ka));
	assert_int_equal(xrd(ka, VDEV_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(xrd(ka, VDEV_MMIO_DEVICE_ID), VDEV_ID_RNG);

	/* Routing: outside the window is someone else's; odd sizes are
	 * refused. */
	assert_int_equal(vdev_kvm_mmio_exit(ka, BASE - 4, d, 4, false),
			 -ENOENT);
	assert_int_equal(vdev_kvm_mmio_exit(ka, BASE + VDEV_MMIO_WINDOW, d, 4,
					    false),
			 -ENOENT);
	assert_int_equal(vdev_kvm_mmio_exit(ka, BASE, d, 3, false), -EINVAL);

	/* The same QueueNotify address twice: the ioeventfd conflicts and
	 * the failed attach leaves nothing behind. */
	c.gsi = 6;
	errno = 0;
	kb = vdev_kvm_attach(k->vm_fd, b, &c);
	assert_null(kb);
	assert_int_equal(errno, EEXIST);

	/* Another window works; after a detach the first one is free. */
	c.mmio_base = BASE + VDEV_MMIO_WINDOW;
	kb = vdev_kvm_attach(k->vm_fd, b, &c);
	assert_non_null(kb);
	vdev_kvm_detach(kb);
	vdev_kvm_detach(ka);
	c.mmio_base = BASE;
	kb = vdev_kvm_attach(k->vm_fd, b, &c);
	assert_non_null(kb);
	vdev_kvm_detach(kb);
	vdev_free(a);
	vdev_free(b);
}

static void test_flags(void **state)
{
	struct kfx *k = need_kvm(state);
	struct vdev *dev = rng(k);
	struct vdev_kvm_config c = cfg(k, BASE, 5, 0);
	struct vdev_kvm *kv;
	struct vdev_kvm_stats st;

	kv = vdev_kvm_attach(k->vm_fd, dev, &c);
	assert_non_null(kv);
	xwr(kv, VDEV_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_false(xrd(kv, VDEV_MMIO_DEVICE_FEATURES) &
		     (1u << (VDEV_F_NOTIFICATION_DATA - 32)));
	vdev_kvm_detach(kv);

	c.flags = VDEV_KVM_F_EDGE | VDEV_KVM_F_NOTIFICATION_DATA |
		  VDEV_KVM_F_NO_IOEVENTFD;
	kv = vdev_kvm_attach(k->vm_fd, dev, &c);
	assert_non_null(kv);
	vdev_kvm_get_stats(kv, &st);
	assert_false(st.level);
	assert_false(st.ioeventfd);
	xwr(kv, VDEV_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_true(xrd(kv, VDEV_MMIO_DEVICE_FEATURES) &
		    (1u << (VDEV_F_NOTIFICATION_DATA - 32)));
	vdev_kvm_detach(kv);
	vdev_free(dev);
}

/* A driver through MMIO exits; the kick reaches the device thread. */
static void test_transfer_by_exit(void **state)
{
	struct kfx *k = need_kvm(state);
	struct vdev *dev = rng(k);
	struct vdev_kvm_config c = cfg(k, BASE, 5, 0);
	const uint32_t ok = VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
			    VDEV_STATUS_FEATURES_OK;
	struct vdev_kvm *kv;
	struct vdev_drv_ring *r;
	struct vdev_queue_config qc;
	struct vdev_kvm_stats st;
	struct vdev_drv_seg seg;
	uint8_t *buf;
	void *token;
	uint32_t len;
	int rc = -EAGAIN;

	kv = vdev_kvm_attach(k->vm_fd, dev, &c);
	assert_non_null(kv);
	xwr(kv, VDEV_MMIO_STATUS, 0);
	xwr(kv, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	xwr(kv, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	xwr(kv, VDEV_MMIO_DRIVER_FEATURES_SEL, 1);
	xwr(kv, VDEV_MMIO_DRIVER_FEATURES, 1);
	xwr(kv, VDEV_MMIO_STATUS, ok);
	assert_int_equal(xrd(kv, VDEV_MMIO_STATUS), ok);
	r = vdev_drv_ring_new(k->ram, 8, VDEV_BIT(VDEV_F_VERSION_1));
	assert_non_null(r);
	vdev_drv_ring_queue_config(r, &qc);
	xwr(kv, VDEV_MMIO_QUEUE_SEL, 0);
	xwr(kv, VDEV_MMIO_QUEUE_NUM, 8);
	xwr(kv, VDEV_MMIO_QUEUE_DESC_LOW, (uint32_t)qc.desc_addr);
	xwr(kv, VDEV_MMIO_QUEUE_DRIVER_LOW, (uint32_t)qc.driver_addr);
	xwr(kv, VDEV_MMIO_QUEUE_DEVICE_LOW, (uint32_t)qc.device_addr);
	xwr(kv, VDEV_MMIO_QUEUE_READY, 1);
	assert_int_equal(xrd(kv, VDEV_MMIO_QUEUE_READY), 1);
	xwr(kv, VDEV_MMIO_STATUS, ok | VDEV_STATUS_DRIVER_OK);

	buf = vdev_drv_mem_alloc(k->ram, 32, 16, &seg.gpa);
	seg.len = 32;
	assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, buf, 0), 0);
	xwr(kv, VDEV_MMIO_QUEUE_NOTIFY, 0);
	/* The device thread completes it. */
	for (int i = 0; i < 2000 && rc == -EAGAIN; i++) {
		rc = vdev_drv_ring_get_used(r, &token, &len);
		if (rc == -EAGAIN)
			usleep(1000);
	}
	assert_int_equal(rc, 0);
	assert_int_equal(len, 32);
	for (int i = 0; i < 32; i++)
		assert_int_equal(buf[i], (uint8_t)(i ^ 0x5a));
	/* The interrupt was raised through the irqfd. */
	for (int i = 0; i < 2000; i++) {
		vdev_kvm_get_stats(kv, &st);
		if (st.irqs)
			break;
		usleep(1000);
	}
	assert_true(st.irqs >= 1);
	assert_int_equal(st.notify_exits, 1);
	assert_true(st.mmio_exits > 10);
	assert_int_equal(xrd(kv, VDEV_MMIO_INTERRUPT_STATUS),
			 VDEV_MMIO_INT_VRING);
	xwr(kv, VDEV_MMIO_INTERRUPT_ACK, VDEV_MMIO_INT_VRING);
	assert_int_equal(xrd(kv, VDEV_MMIO_INTERRUPT_STATUS), 0);

	/* Detach resets the device. */
	vdev_kvm_detach(kv);
	assert_int_equal(vdev_get_status(dev), 0);
	vdev_drv_ring_free(r);
	vdev_free(dev);
}

struct hammer {
	struct vdev_kvm *kv;
	atomic_bool stop;
	atomic_ulong reads;
};

/* A vCPU that keeps reading registers and config space and acking. */
static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	static const uint64_t offs[] = {
		VDEV_MMIO_STATUS, VDEV_MMIO_INTERRUPT_STATUS,
		VDEV_MMIO_CONFIG_GENERATION, VDEV_MMIO_QUEUE_READY,
		VDEV_MMIO_CONFIG, VDEV_MMIO_DEVICE_FEATURES,
	};
	uint32_t v;

	while (!atomic_load(&h->stop)) {
		for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
			vdev_kvm_mmio_exit(h->kv, BASE + offs[i], (uint8_t *)&v,
					   4, false);
		v = 0; /* an ack of nothing: must not disturb the others */
		vdev_kvm_mmio_exit(h->kv, BASE + VDEV_MMIO_INTERRUPT_ACK,
				   (uint8_t *)&v, 4, true);
		h->reads++;
	}
	return NULL;
}

static void test_concurrent_vcpus(void **state)
{
	struct kfx *k = need_kvm(state);
	struct vdev *dev = rng(k);
	struct vdev_kvm_config c = cfg(k, BASE, 5, 0);
	const uint32_t ok = VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER |
			    VDEV_STATUS_FEATURES_OK;
	struct hammer h = { 0 };
	pthread_t t[3];
	struct vdev_drv_ring *r;
	struct vdev_queue_config qc;
	struct vdev_kvm_stats st;
	unsigned done = 0;

	h.kv = vdev_kvm_attach(k->vm_fd, dev, &c);
	assert_non_null(h.kv);
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer_thread, &h),
				 0);
	xwr(h.kv, VDEV_MMIO_STATUS, 0);
	xwr(h.kv, VDEV_MMIO_STATUS, VDEV_STATUS_ACKNOWLEDGE);
	xwr(h.kv, VDEV_MMIO_STATUS,
	    VDEV_STATUS_ACKNOWLEDGE | VDEV_STATUS_DRIVER);
	xwr(h.kv, VDEV_MMIO_DRIVER_FEATURES_SEL, 1);
	xwr(h.kv, VDEV_MMIO_DRIVER_FEATURES, 1 | 4); /* VERSION_1, PACKED */
	xwr(h.kv, VDEV_MMIO_STATUS, ok);
	r = vdev_drv_ring_new(k->ram, 16,
			      VDEV_BIT(VDEV_F_VERSION_1) |
				      VDEV_BIT(VDEV_F_RING_PACKED));
	assert_non_null(r);
	vdev_drv_ring_queue_config(r, &qc);
	xwr(h.kv, VDEV_MMIO_QUEUE_SEL, 0);
	xwr(h.kv, VDEV_MMIO_QUEUE_NUM, 16);
	xwr(h.kv, VDEV_MMIO_QUEUE_DESC_LOW, (uint32_t)qc.desc_addr);
	xwr(h.kv, VDEV_MMIO_QUEUE_DRIVER_LOW, (uint32_t)qc.driver_addr);
	xwr(h.kv, VDEV_MMIO_QUEUE_DEVICE_LOW, (uint32_t)qc.device_addr);
	xwr(h.kv, VDEV_MMIO_QUEUE_READY, 1);
	xwr(h.kv, VDEV_MMIO_STATUS, ok | VDEV_STATUS_DRIVER_OK);

	/* 200 requests, kicked through exits, completed by the device
	 * thread while three vCPUs read registers. */
	for (unsigned i = 0; i < 200; i++) {
		struct vdev_drv_seg seg;
		void *token;
		uint32_t len;
		int rc = -EAGAIN;

		assert_non_null(vdev_drv_mem_alloc(k->ram, 16, 16, &seg.gpa));
		seg.len = 16;
		assert_int_equal(vdev_drv_ring_add(r, &seg, 0, 1, NULL, 0), 0);
		xwr(h.kv, VDEV_MMIO_QUEUE_NOTIFY, 0);
		for (int n = 0; n < 5000 && rc == -EAGAIN; n++) {
			rc = vdev_drv_ring_get_used(r, &token, &len);
			if (rc == -EAGAIN)
				usleep(200);
		}
		assert_int_equal(rc, 0);
		assert_int_equal(len, 16);
		done++;
	}
	atomic_store(&h.stop, true);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	assert_int_equal(done, 200);
	assert_true(h.reads > 0);
	vdev_kvm_get_stats(h.kv, &st);
	assert_true(st.irqs >= 1);
	assert_int_equal(st.notify_exits, 200);
	vdev_kvm_detach(h.kv);
	vdev_drv_ring_free(r);
	vdev_free(dev);
}

/* Whether this machine can create a VM with an in-kernel irqchip at all. */
static bool kvm_usable(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm = -1;
	bool ok = false;

	if (kvm >= 0)
		vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm >= 0)
		ok = ioctl(vm, KVM_CREATE_IRQCHIP, 0) == 0;
	if (!ok)
		fprintf(stderr, "SKIP: no usable KVM here (%s)%s\n",
			strerror(errno),
			getenv("VDEV_TEST_EMULATOR") ?
				"; under qemu-user, which does not pass KVM "
				"ioctls through" : "");
	if (vm >= 0)
		close(vm);
	if (kvm >= 0)
		close(kvm);
	return ok;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_args),
		cmocka_unit_test(test_attach_detach),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_transfer_by_exit),
		cmocka_unit_test(test_concurrent_vcpus),
	};

	/* ctest counts exit code 77 as skipped, not passed. */
	if (!kvm_usable())
		return 77;
	return cmocka_run_group_tests(tests, setup, teardown);
}
#endif /* VDEV_WITH_KVM */
