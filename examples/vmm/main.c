/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-vmm: command line and the order things are set up in.
 *
 * Exit status: 0 the guest reported pass, 1 it reported a failure (or
 * hung, crashed, timed out), 2 a VMM-side error, 77 no usable KVM here
 * (ctest's skip code; the reason is printed).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <virtio/caps.h>

#include "vmm.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: vdev-vmm [options] --flat IMAGE\n"
"  --flat IMAGE        flat binary to run (a test guest)\n"
"  --load-addr ADDR    where to load it and start (default 0x10000)\n"
"  --entry MODE        prot32 (flat 32-bit protected mode, default) or real\n"
"  --load FILE@ADDR    copy FILE into guest RAM at ADDR (repeatable)\n"
"  --mem MIB           guest RAM in MiB (default 64, at most 3328)\n"
"  --cpus N            vCPUs (default 1; the others wait for INIT/SIPI)\n"
"  --rng[=SOURCE]      a virtio-rng device reading SOURCE (default\n"
"                      /dev/urandom; a regular file wraps around)\n"
"  --blk=PATH[,ro][,sync]  a virtio-blk device on an image file or block\n"
"                      device (ro: read-only; sync: no io_uring)\n"
"  --edge              edge-triggered device interrupts (no resample fd)\n"
"  --no-ioeventfd      every kick is an MMIO exit\n"
"  --notification-data offer VIRTIO_F_NOTIFICATION_DATA\n"
"  --timeout SEC       fail when the guest has not finished (default 30)\n"
"  --stats             print per-device counters at exit\n"
"  -v, --verbose       print the machine layout\n"
"Devices are virtio-mmio, 4 KiB each from 0x%llx, GSIs 5, 6, 7, 9, ...\n"
"in command-line order. The guest ends the run by writing a 32-bit status\n"
"to port 0x%x (0 = pass). Exit status: 0 pass, 1 fail, 2 error, 77 skip.\n",
		VMM_MMIO_BASE, VMM_EXIT_PORT);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -1 : 0;
}

enum {
	OPT_FLAT = 256,
	OPT_LOAD_ADDR,
	OPT_ENTRY,
	OPT_LOAD,
	OPT_MEM,
	OPT_CPUS,
	OPT_RNG,
	OPT_BLK,
	OPT_EDGE,
	OPT_NO_IOEVENTFD,
	OPT_NOTIFICATION_DATA,
	OPT_TIMEOUT,
	OPT_STATS,
};

/* Devices are created after the VM, in command-line order. */
struct dev_arg {
	int kind;
	const char *arg;
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "flat", required_argument, NULL, OPT_FLAT },
		{ "load-addr", required_argument, NULL, OPT_LOAD_ADDR },
		{ "entry", required_argument, NULL, OPT_ENTRY },
		{ "load", required_argument, NULL, OPT_LOAD },
		{ "mem", required_argument, NULL, OPT_MEM },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "rng", optional_argument, NULL, OPT_RNG },
		{ "blk", required_argument, NULL, OPT_BLK },
		{ "edge", no_argument, NULL, OPT_EDGE },
		{ "no-ioeventfd", no_argument, NULL, OPT_NO_IOEVENTFD },
		{ "notification-data", no_argument, NULL,
		  OPT_NOTIFICATION_DATA },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "stats", no_argument, NULL, OPT_STATS },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static struct vmm vm;
	struct dev_arg devs[VMM_MAX_DEVS];
	unsigned ndevs = 0;
	struct timespec t0, t1;
	uint64_t v;
	char *at;
	int c, rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vm.opt.mem_mib = 64;
	vm.opt.cpus = 1;
	vm.opt.load_addr = 0x10000;
	vm.opt.entry = VMM_ENTRY_PROT32;
	vm.opt.timeout_s = 30;
	vm.kvm_fd = vm.vm_fd = vm.ram_fd = -1;
	for (unsigned i = 0; i < VMM_MAX_CPUS; i++)
		vm.cpus[i].fd = -1;
	pthread_mutex_init(&vm.done_lock, NULL);
	pthread_cond_init(&vm.done_cond, NULL);

	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case OPT_FLAT:
			vm.opt.flat = optarg;
			break;
		case OPT_LOAD_ADDR:
			if (parse_u64(optarg, &vm.opt.load_addr))
				goto bad;
			break;
		case OPT_ENTRY:
			if (!strcmp(optarg, "real"))
				vm.opt.entry = VMM_ENTRY_REAL;
			else if (!strcmp(optarg, "prot32"))
				vm.opt.entry = VMM_ENTRY_PROT32;
			else
				goto bad;
			break;
		case OPT_LOAD:
			at = strrchr(optarg, '@');
			if (!at || vm.opt.nloads == VMM_MAX_LOADS ||
			    parse_u64(at + 1, &v))
				goto bad;
			*at = 0;
			vm.opt.loads[vm.opt.nloads].path = optarg;
			vm.opt.loads[vm.opt.nloads++].addr = v;
			break;
		case OPT_MEM:
			if (parse_u64(optarg, &v) || v < 2 ||
			    v > (VMM_RAM_MAX >> 20))
				goto bad;
			vm.opt.mem_mib = v;
			break;
		case OPT_CPUS:
			if (parse_u64(optarg, &v) || v < 1 ||
			    v > VMM_MAX_CPUS)
				goto bad;
			vm.opt.cpus = (unsigned)v;
			break;
		case OPT_RNG:
		case OPT_BLK:
			if (ndevs == VMM_MAX_DEVS)
				goto bad;
			devs[ndevs].kind = c;
			devs[ndevs++].arg = optarg;
			break;
		case OPT_EDGE:
			vm.opt.kvm_flags |= VDEV_KVM_F_EDGE;
			break;
		case OPT_NO_IOEVENTFD:
			vm.opt.kvm_flags |= VDEV_KVM_F_NO_IOEVENTFD;
			break;
		case OPT_NOTIFICATION_DATA:
			vm.opt.kvm_flags |= VDEV_KVM_F_NOTIFICATION_DATA;
			break;
		case OPT_TIMEOUT:
			if (parse_u64(optarg, &v) || v > 86400)
				goto bad;
			vm.opt.timeout_s = (unsigned)v;
			break;
		case OPT_STATS:
			vm.opt.stats = true;
			break;
		case 'v':
			vm.opt.verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc || !vm.opt.flat)
		goto bad;
	if (!vdev_has_capability(VDEV_CAP_TRANSPORT, "kvm-mmio")) {
		printf("SKIP: this libvdev was built without kvm-mmio\n");
		return VMM_EXIT_SKIP;
	}

	rc = vmm_create(&vm);
	if (rc)
		goto out;
	rc = VMM_EXIT_ERROR;
	if (vmm_load_flat(&vm, vm.opt.flat, vm.opt.load_addr, vm.opt.entry))
		goto out;
	for (unsigned i = 0; i < vm.opt.nloads; i++)
		if (vmm_load_file(&vm, &vm.opt.loads[i]))
			goto out;
	for (unsigned i = 0; i < ndevs; i++) {
		if (devs[i].kind == OPT_RNG ? vmm_add_rng(&vm, devs[i].arg) :
					      vmm_add_blk(&vm, devs[i].arg))
			goto out;
	}
	if (vm.opt.verbose && vm.ndevs) {
		char line[VMM_MAX_DEVS * 48];

		vmm_dev_cmdline(&vm, line, sizeof(line));
		printf("vdev-vmm: a Linux guest would get: %s\n", line);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = vmm_start_cpus(&vm);
	if (rc) {
		vmm_wait(&vm);
		goto out;
	}
	rc = vmm_wait(&vm);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (vm.opt.stats) {
		printf("vdev-vmm: guest ran %.3f s\n",
		       (double)(t1.tv_sec - t0.tv_sec) +
			       (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
		vmm_dev_stats(&vm);
	}
out:
	vmm_destroy(&vm);
	return rc;
bad:
	usage(stderr);
	return VMM_EXIT_ERROR;
}
