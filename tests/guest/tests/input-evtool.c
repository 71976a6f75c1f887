/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Guest side helper of input.sh (built -static on the host): what a
 * busybox shell cannot do with an evdev node.
 *   abs DEV AXIS                 EVIOCGABS: "min max fuzz flat res"
 *   led DEV CODE VALUE           writes an EV_LED event (and SYN_REPORT)
 *   read DEV N SECS [CODE VALUE] opens DEV, writes that LED (the host's
 *                                cue), prints N events "TYPE CODE VALUE"
 *                                (hex, hex, decimal), LED changes
 *                                left out; 1 on timeout
 *   flood DEV SECS CODE VALUE    the same cue, then reads packets until
 *                                KEY_B down: each must be ABS_Y, ABS_PRESSURE
 *                                and ABS_DISTANCE with one value; prints
 *                                "packets N torn T guest-dropped D last V"
 *                                and fails when one was torn
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/input.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int open_dev(const char *path)
{
	int fd = open(path, O_RDWR);

	if (fd < 0) {
		perror(path);
		exit(2);
	}
	return fd;
}

static void put(int fd, int type, int code, int value)
{
	struct input_event e;

	memset(&e, 0, sizeof(e));
	e.type = (unsigned short)type;
	e.code = (unsigned short)code;
	e.value = value;
	if (write(fd, &e, sizeof(e)) != sizeof(e)) {
		perror("write");
		exit(2);
	}
}

static void led(int fd, int code, int value)
{
	put(fd, EV_LED, code, value);
	put(fd, EV_SYN, SYN_REPORT, 0);
}

/* The next event within the deadline; 0 on timeout. */
static int next(int fd, time_t end, struct input_event *e)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		time_t now = time(NULL);

		if (now >= end)
			return 0;
		if (poll(&p, 1, (int)(end - now) * 1000) != 1)
			continue;
		if (read(fd, e, sizeof(*e)) == sizeof(*e))
			return 1;
	}
}

int main(int argc, char **argv)
{
	struct input_event e;
	int fd;

	if (argc < 3) {
		fprintf(stderr, "usage: see the source\n");
		return 2;
	}
	fd = open_dev(argv[2]);
	if (!strcmp(argv[1], "abs") && argc == 4) {
		struct input_absinfo ai;

		if (ioctl(fd, EVIOCGABS(atoi(argv[3])), &ai) < 0) {
			perror("EVIOCGABS");
			return 1;
		}
		printf("%d %d %d %d %d\n", ai.minimum, ai.maximum, ai.fuzz,
		       ai.flat, ai.resolution);
		return 0;
	}
	if (!strcmp(argv[1], "led") && argc == 5) {
		led(fd, atoi(argv[3]), atoi(argv[4]));
		return 0;
	}
	if (!strcmp(argv[1], "read") && argc >= 5) {
		int n = atoi(argv[3]);
		time_t end = time(NULL) + atoi(argv[4]);

		int any = 0;

		if (argc == 7)
			led(fd, atoi(argv[5]), atoi(argv[6]));
		for (int i = 0; i < n; i++) {
			if (!next(fd, end, &e)) {
				printf("timeout after %d events\n", i);
				return 1;
			}
			/* Our own LED change comes back to readers: not the
			 * device's events. */
			if (e.type == EV_LED ||
			    (e.type == EV_SYN && e.code == SYN_REPORT && !any)) {
				i--;
				continue;
			}
			any = !(e.type == EV_SYN && e.code == SYN_REPORT);
			printf("%04x %04x %d\n", e.type, e.code, e.value);
			fflush(stdout);
		}
		return 0;
	}
	if (!strcmp(argv[1], "flood") && argc == 6) {
		time_t end = time(NULL) + atoi(argv[3]);
		long packets = 0, torn = 0, dropped = 0;
		int seen = 0, v[3] = { 0 }, last = -1, skip = 0;

		led(fd, atoi(argv[4]), atoi(argv[5]));
		while (next(fd, end, &e)) {
			if (e.type == EV_SYN && e.code == SYN_DROPPED) {
				/* the guest's own evdev buffer overflowed */
				dropped++;
				skip = 1;
				seen = 0;
				continue;
			}
			if (e.type == EV_LED)
				continue; /* our cue, reported back */
			if (e.type == EV_SYN && e.code == SYN_REPORT) {
				if (!seen && !skip)
					continue;
				if (skip) {
					skip = 0;
				} else if (seen == 7 && v[0] == v[1] &&
					   v[1] == v[2] && v[0] > last) {
					packets++;
					last = v[0];
				} else if (seen == 8) {
					printf("packets %ld torn %ld "
					       "guest-dropped %ld last %d\n",
					       packets, torn, dropped, last);
					return torn || !packets;
				} else {
					printf("torn packet: seen %x values "
					       "%d %d %d after %d\n", seen,
					       v[0], v[1], v[2], last);
					torn++;
				}
				seen = 0;
				continue;
			}
			if (e.type == EV_ABS && e.code == ABS_Y)
				seen |= 1, v[0] = e.value;
			else if (e.type == EV_ABS && e.code == ABS_PRESSURE)
				seen |= 2, v[1] = e.value;
			else if (e.type == EV_ABS && e.code == ABS_DISTANCE)
				seen |= 4, v[2] = e.value;
			else if (e.type == EV_KEY && e.code == KEY_B &&
				 e.value == 1)
				seen = 8;
			else
				seen |= 16; /* anything else tears it */
		}
		printf("timeout: packets %ld torn %ld guest-dropped %ld "
		       "last %d\n", packets, torn, dropped, last);
		return 1;
	}
	fprintf(stderr, "bad arguments\n");
	return 2;
}
