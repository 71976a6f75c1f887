/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Loaders: what goes into guest RAM before the first KVM_RUN and where
 * vCPU 0 starts. Today: flat binaries (the freestanding test guests) and
 * raw data files. A Linux loader (bzImage boot protocol, or PVH entry of
 * an ELF vmlinux) belongs here too: it fills struct vmm_entry with a
 * 64-bit entry and describes the devices with vmm_dev_cmdline() or a DSDT
 * built from vm->devs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm.h"

static int read_into(struct vmm *vm, const char *path, uint64_t addr,
		     uint64_t *size)
{
	struct stat st;
	uint8_t *dst;
	ssize_t n;
	size_t done = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "vdev-vmm: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	dst = vmm_gpa(vm, addr, (uint64_t)st.st_size);
	if (!dst) {
		fprintf(stderr,
			"vdev-vmm: %s (%lld bytes) does not fit in guest RAM "
			"at 0x%llx\n",
			path, (long long)st.st_size, (unsigned long long)addr);
		close(fd);
		return -1;
	}
	while (done < (size_t)st.st_size) {
		n = read(fd, dst + done, (size_t)st.st_size - done);
		if (n <= 0) {
			fprintf(stderr, "vdev-vmm: reading %s: %s\n", path,
				n ? strerror(errno) : "short file");
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	*size = done;
	return 0;
}

int vmm_load_file(struct vmm *vm, const struct vmm_load *l)
{
	uint64_t size;

	return read_into(vm, l->path, l->addr, &size);
}

int vmm_load_flat(struct vmm *vm, const char *path, uint64_t addr,
		  enum vmm_entry_mode mode)
{
	uint64_t size;

	if (mode == VMM_ENTRY_REAL && addr + 0x10000 > 0x100000) {
		fprintf(stderr, "vdev-vmm: a real-mode image must be loaded "
				"below 960 KiB\n");
		return -1;
	}
	if (read_into(vm, path, addr, &size) < 0)
		return -1;
	vm->entry.mode = mode;
	vm->entry.rip = addr;
	/* The test guests set up their own stack; this one is only for a
	 * binary that does not. */
	vm->entry.rsp = mode == VMM_ENTRY_REAL ? 0xfffe : 0x80000;
	return 0;
}
