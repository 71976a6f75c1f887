/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libvdev devices on virtio-mmio: each one gets the next page of the MMIO
 * hole and the next free legacy IRQ line, and is attached to the VM with
 * vdev_kvm_attach(). Adding a device type is one function like
 * vmm_add_rng(): create the vdev, then vmm_attach().
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <virtio/blk.h>
#include <virtio/rng.h>
#include <virtio/transport.h>

#include "vmm.h"

/* ISA lines free on this machine (no PIT, no RTC, COM1 without
 * interrupts): routed to both the PIC and the IOAPIC by KVM's default
 * GSI routing. */
static const uint32_t vmm_gsis[VMM_MAX_DEVS] = { 5, 6, 7, 9, 10, 11, 12, 15 };

static int vmm_attach(struct vmm *vm, const char *kind, struct vdev *dev)
{
	struct vmm_dev *d;
	struct vdev_kvm_config cfg = { 0 };

	if (vm->ndevs == VMM_MAX_DEVS) {
		fprintf(stderr, "vdev-vmm: at most %u devices\n",
			VMM_MAX_DEVS);
		vdev_free(dev);
		return -1;
	}
	d = &vm->devs[vm->ndevs];
	d->kind = kind;
	d->dev = dev;
	d->base = VMM_MMIO_BASE + (uint64_t)vm->ndevs * VDEV_MMIO_WINDOW;
	d->gsi = vmm_gsis[vm->ndevs];
	cfg.mmio_base = d->base;
	cfg.gsi = d->gsi;
	cfg.mem = vm->mem;
	cfg.flags = vm->opt.kvm_flags;
	d->kvm = vdev_kvm_attach(vm->vm_fd, dev, &cfg);
	if (!d->kvm) {
		fprintf(stderr, "vdev-vmm: attaching %s: %s\n", kind,
			strerror(errno));
		vdev_free(dev);
		return -1;
	}
	vm->ndevs++;
	if (vm->opt.verbose)
		printf("vdev-vmm: %s at 0x%llx, GSI %u\n", kind,
		       (unsigned long long)d->base, d->gsi);
	return 0;
}

int vmm_add_rng(struct vmm *vm, const char *source)
{
	struct vdev_rng_config cfg = { .source = source };
	struct vdev *dev = vdev_rng_new(&cfg);

	if (!dev) {
		fprintf(stderr, "vdev-vmm: rng (%s): %s\n",
			source ? source : "/dev/urandom", strerror(errno));
		return -1;
	}
	return vmm_attach(vm, "rng", dev);
}

int vmm_add_blk(struct vmm *vm, const char *spec)
{
	struct vdev_blk_config cfg = { .fd = -1, .serial = "vdev-vmm" };
	char path[4096];
	char *opt;
	struct vdev *dev;

	/* PATH[,ro][,sync] */
	snprintf(path, sizeof(path), "%s", spec);
	while ((opt = strrchr(path, ',')) != NULL) {
		if (!strcmp(opt, ",ro")) {
			cfg.read_only = true;
		} else if (!strcmp(opt, ",sync")) {
			cfg.backend = VDEV_BLK_BACKEND_SYNC;
		} else {
			fprintf(stderr, "vdev-vmm: --blk: unknown option %s\n",
				opt + 1);
			return -1;
		}
		*opt = 0;
	}
	cfg.path = path;
	dev = vdev_blk_new(&cfg);
	if (!dev) {
		fprintf(stderr, "vdev-vmm: blk (%s): %s\n", path,
			strerror(errno));
		return -1;
	}
	return vmm_attach(vm, "blk", dev);
}

int vmm_dev_mmio_exit(struct vmm *vm, uint64_t addr, uint8_t *data,
		      unsigned len, bool is_write)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		int rc = vdev_kvm_mmio_exit(vm->devs[i].kvm, addr, data, len,
					    is_write);

		if (rc != -ENOENT)
			return rc;
	}
	return -ENOENT;
}

void vmm_dev_cmdline(struct vmm *vm, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < vm->ndevs && off < len; i++) {
		int n = snprintf(buf + off, len - off,
				 "%svirtio_mmio.device=4K@0x%llx:%u",
				 i ? " " : "",
				 (unsigned long long)vm->devs[i].base,
				 vm->devs[i].gsi);

		if (n < 0)
			break;
		off += (size_t)n;
	}
}

void vmm_dev_stats(struct vmm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vdev_kvm_stats st;

		vdev_kvm_get_stats(vm->devs[i].kvm, &st);
		printf("vdev-vmm: %s@0x%llx: %s irq, %s, mmio exits %llu "
		       "(notify %llu), irqfd signals %llu, resamples %llu, "
		       "re-asserted %llu\n",
		       vm->devs[i].kind, (unsigned long long)vm->devs[i].base,
		       st.level ? "level" : "edge",
		       st.ioeventfd ? "ioeventfd kicks" : "kicks by exit",
		       (unsigned long long)st.mmio_exits,
		       (unsigned long long)st.notify_exits,
		       (unsigned long long)st.irqs,
		       (unsigned long long)st.resamples,
		       (unsigned long long)st.reasserts);
	}
}

void vmm_dev_free(struct vmm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		vdev_kvm_detach(vm->devs[i].kvm);
		vdev_free(vm->devs[i].dev);
	}
	vm->ndevs = 0;
}
