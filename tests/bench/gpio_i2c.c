/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * virtio-gpio and virtio-i2c in process, through the software driver
 * (split ring): requests per second per core, and the time from a host
 * input change to the interrupt's buffer coming back.
 *   gpio GET_VALUE           one request at a time, synchronous kicks
 *   gpio SET_VALUE           the same on an output
 *   gpio edge -> event       vdev_gpio_sim_pulse() to the eventq buffer
 *                            returned VALID (eventfd kicks, the driver's
 *                            loop serves both), then the unmask
 *   i2c EEPROM 16-byte read  write pointer + repeated-start read of 16
 *   i2c LM75 word read       write pointer + read 2
 * The EEPROM lives in /dev/shm. Usage: bench_gpio_i2c [seconds per case,
 * default 1; VDEV_BENCH_QUICK=1: 0.3]. Prints numbers, never fails on
 * time.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <virtio/gpio.h>
#include <virtio/i2c.h>
#include <virtio/testing.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_gpio_i2c: %s failed\n", what);
	exit(1);
}

static void report(const char *name, unsigned long n, double wall, double c)
{
	printf("%-34s %10.0f /s  %8.2f us each  (%.0f /s per core)\n", name,
	       n / wall, wall / n * 1e6, c > 0 ? n / c : 0);
}

static void gpio_req(struct vdev_drv *drv, uint16_t type, uint16_t line,
		     uint32_t v)
{
	struct vdev_gpio_request r = { vdev_cpu_to_le16(type),
				       vdev_cpu_to_le16(line),
				       vdev_cpu_to_le32(v) };
	uint8_t resp[2];
	uint32_t w;

	if (vdev_drv_xfer(drv, 0, &r, sizeof(r), resp, 2, &w, 2000) ||
	    resp[0])
		die("gpio request");
}

static void bench_gpio(double secs)
{
	struct vdev_gpio_config gc = { .sim_lines = 8 };
	struct vdev *dev = vdev_gpio_new(&gc);
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev_drv *drv = NULL;
	unsigned long n;
	double t0, c0;

	if (!dev || !(drv = vdev_drv_new(dev, &dc)) || vdev_drv_init(drv))
		die("gpio setup");
	for (int k = 0; k < 2; k++) {
		uint16_t type = k ? VDEV_GPIO_MSG_SET_VALUE :
				    VDEV_GPIO_MSG_GET_VALUE;

		if (k)
			gpio_req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 2,
				 VDEV_GPIO_DIRECTION_OUT);
		t0 = now();
		c0 = cpu();
		for (n = 0; now() - t0 < secs; n++)
			gpio_req(drv, type, 2, n & 1);
		report(k ? "gpio SET_VALUE" : "gpio GET_VALUE", n, now() - t0,
		       cpu() - c0);
	}
	vdev_drv_free(drv);
	vdev_free(dev);

	/* edge to event, eventfds and the driver's loop in between */
	dev = vdev_gpio_new(&gc);
	dc.use_eventfds = true;
	if (!dev || !(drv = vdev_drv_new(dev, &dc)) || vdev_drv_init(drv))
		die("gpio setup");
	gpio_req(drv, VDEV_GPIO_MSG_SET_DIRECTION, 5, VDEV_GPIO_DIRECTION_IN);
	gpio_req(drv, VDEV_GPIO_MSG_SET_IRQ_TYPE, 5,
		 VDEV_GPIO_IRQ_TYPE_EDGE_RISING);
	{
		struct vdev_drv_mem *mem = vdev_drv_get_mem(drv);
		struct vdev_drv_seg segs[2];
		vdev_le16 *g = vdev_drv_mem_alloc(mem, 2, 2, &segs[0].gpa);
		uint8_t *st = vdev_drv_mem_alloc(mem, 1, 1, &segs[1].gpa);
		void *tok;
		uint32_t len;

		*g = vdev_cpu_to_le16(5);
		segs[0].len = 2;
		segs[1].len = 1;
		t0 = now();
		c0 = cpu();
		for (n = 0; now() - t0 < secs; n++) {
			if (vdev_drv_ring_add(vdev_drv_ring(drv, 1), segs, 1, 1,
					      st, 0) ||
			    vdev_drv_kick(drv, 1))
				die("unmask");
			vdev_gpio_sim_pulse(dev, 5);
			if (vdev_drv_wait(drv, 1, 2000, &tok, &len) ||
			    *st != VDEV_GPIO_IRQ_STATUS_VALID)
				die("edge event");
		}
		report("gpio edge -> event (+ unmask)", n, now() - t0,
		       cpu() - c0);
	}
	vdev_drv_free(drv);
	vdev_free(dev);
}

static void i2c_txn(struct vdev_drv *drv, uint8_t addr, uint8_t reg,
		    uint16_t len, struct vdev_drv_mem *mem, size_t mark)
{
	struct vdev_drv_seg s0[2], s1[3];
	struct vdev_i2c_out_hdr *h0, *h1;
	uint8_t *st0, *st1, *buf;
	void *tok;
	uint32_t l;

	vdev_drv_mem_reset_to(mem, mark);
	h0 = vdev_drv_mem_alloc(mem, 9, 8, &s0[0].gpa);
	st0 = vdev_drv_mem_alloc(mem, 1, 1, &s0[1].gpa);
	h1 = vdev_drv_mem_alloc(mem, 8, 8, &s1[0].gpa);
	buf = vdev_drv_mem_alloc(mem, len, 1, &s1[1].gpa);
	st1 = vdev_drv_mem_alloc(mem, 1, 1, &s1[2].gpa);
	(void)buf;
	h0->addr = h1->addr = vdev_cpu_to_le16((uint16_t)(addr << 1));
	h0->flags = vdev_cpu_to_le32(VDEV_I2C_FLAGS_FAIL_NEXT);
	h1->flags = vdev_cpu_to_le32(VDEV_I2C_FLAGS_M_RD);
	((uint8_t *)h0)[8] = reg;
	s0[0].len = 9;
	s0[1].len = 1;
	s1[0].len = 8;
	s1[1].len = len;
	s1[2].len = 1;
	if (vdev_drv_ring_add(vdev_drv_ring(drv, 0), s0, 1, 1, (void *)1, 0) ||
	    vdev_drv_ring_add(vdev_drv_ring(drv, 0), s1, 1, 2, (void *)2, 0) ||
	    vdev_drv_kick(drv, 0) ||
	    vdev_drv_wait(drv, 0, 2000, &tok, &l) ||
	    vdev_drv_wait(drv, 0, 2000, &tok, &l) || *st0 || *st1)
		die("i2c transaction");
}

static void bench_i2c(double secs)
{
	char path[64];
	struct vdev_i2c_client c[2] = {
		{ VDEV_I2C_EEPROM, 0x50, path }, { VDEV_I2C_LM75, 0x48, NULL },
	};
	struct vdev_i2c_config cfg = { .clients = c, .nclients = 2 };
	struct vdev_drv_config dc = { .queue_size = 256 };
	struct vdev *dev;
	struct vdev_drv *drv = NULL;
	struct vdev_drv_mem *mem;
	size_t mark;

	snprintf(path, sizeof(path), "/dev/shm/vdev-bench-ee-%d", (int)getpid());
	dev = vdev_i2c_new(&cfg);
	if (!dev || !(drv = vdev_drv_new(dev, &dc)) || vdev_drv_init(drv))
		die("i2c setup");
	mem = vdev_drv_get_mem(drv);
	mark = vdev_drv_mem_mark(mem);
	for (int k = 0; k < 2; k++) {
		unsigned long n;
		double t0 = now(), c0 = cpu();

		for (n = 0; now() - t0 < secs; n++)
			i2c_txn(drv, k ? 0x48 : 0x50, 0, k ? 2 : 16, mem, mark);
		report(k ? "i2c LM75 word read" : "i2c EEPROM 16-byte read", n,
		       now() - t0, cpu() - c0);
	}
	vdev_drv_free(drv);
	vdev_free(dev);
	unlink(path);
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) :
		      getenv("VDEV_BENCH_QUICK") &&
				      !strcmp(getenv("VDEV_BENCH_QUICK"), "1") ?
			      0.3 : 1.0;

	if (secs <= 0)
		secs = 1.0;
	bench_gpio(secs);
	bench_i2c(secs);
	return 0;
}
