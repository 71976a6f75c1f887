/* SPDX-License-Identifier: BSD-3-Clause */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "tthreads.h"

/* The state letter of thread @tid ('R', 'S', 'D', ...), '?' if unknown. */
static char thread_state(long tid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	/* "tid (comm) S ...": comm may hold spaces and parentheses. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

/* True when every other thread is in state S right now. */
static bool others_asleep(void)
{
	long self = (long)syscall(SYS_gettid);
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	bool all = d != NULL;

	while (all && (e = readdir(d))) {
		long tid = strtol(e->d_name, NULL, 10);

		if (tid <= 0 || tid == self)
			continue;
		all = thread_state(tid) == 'S';
	}
	if (d)
		closedir(d);
	return all;
}

bool tthreads_asleep(int timeout_ms)
{
	const struct timespec step = { 0, 10 * 1000 * 1000 };
	int seen = 0;

	/* Several samples, the caller sleeping in between: a thread that is
	 * only waiting for its turn (valgrind runs one thread at a time, and
	 * the others wait in the kernel) gets it meanwhile and shows up. */
	for (int waited = 0; waited <= timeout_ms; waited += 10) {
		seen = others_asleep() ? seen + 1 : 0;
		if (seen == 5)
			return true;
		nanosleep(&step, NULL);
	}
	return false;
}
