/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-vmm: a small x86-64 KVM VMM that embeds libvdev, in the spirit of
 * kvmtool and Firecracker. It shows what an embedder does: guest RAM in a
 * memfd (shareable with vhost-user daemons), an in-kernel irqchip, vCPU
 * threads, a serial port, and libvdev devices on virtio-mmio, each on its
 * own window and GSI, attached with vdev_kvm_attach().
 */
#ifndef VMM_H
#define VMM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/kvm.h>
#include <virtio/kvm.h>

#define VMM_MAX_CPUS 8
#define VMM_MAX_DEVS 8
#define VMM_MAX_LOADS 8

/* The machine. Guest RAM is one slot from 0; devices sit in the 32-bit
 * MMIO hole, one page each, from VMM_MMIO_BASE. */
#define VMM_MMIO_BASE 0xd0000000ull
#define VMM_RAM_MAX VMM_MMIO_BASE

/* Port the test guests report on: 0 = pass, anything else = a failure
 * code (as isa-debug-exit, but the value is the status itself). */
#define VMM_EXIT_PORT 0xf4

/* Exit status of vdev-vmm. */
#define VMM_EXIT_PASS 0
#define VMM_EXIT_FAIL 1
#define VMM_EXIT_ERROR 2
#define VMM_EXIT_SKIP 77

enum vmm_entry_mode {
	VMM_ENTRY_REAL,   /* 16-bit real mode, CS:IP = addr >> 4 : 0 */
	VMM_ENTRY_PROT32, /* 32-bit protected mode, flat segments, no paging */
};

/* How vCPU 0 starts; the loader fills it in. A Linux loader (bzImage boot
 * protocol or PVH) would add a 64-bit mode with page tables, a zero page
 * and a command line here. */
struct vmm_entry {
	enum vmm_entry_mode mode;
	uint64_t rip;
	uint64_t rsp;
};

struct vmm_load {
	const char *path;
	uint64_t addr;
};

struct vmm_dev {
	const char *kind; /* "rng", "blk" */
	struct vdev *dev;
	struct vdev_kvm *kvm;
	uint64_t base;
	uint32_t gsi;
};

struct vmm_serial {
	pthread_mutex_t lock;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
};

struct vmm_vcpu {
	struct vmm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool started;
};

struct vmm_options {
	size_t mem_mib;
	unsigned cpus;
	const char *flat;
	uint64_t load_addr;
	enum vmm_entry_mode entry;
	struct vmm_load loads[VMM_MAX_LOADS];
	unsigned nloads;
	unsigned kvm_flags; /* VDEV_KVM_F_* for every device */
	unsigned timeout_s;
	bool stats;
	bool verbose;
};

struct vmm {
	struct vmm_options opt;
	int kvm_fd;
	int vm_fd;
	int ram_fd;
	uint8_t *ram;
	size_t ram_size;
	struct vdev_mem *mem;
	size_t run_size;

	struct vmm_vcpu cpus[VMM_MAX_CPUS];
	unsigned ncpus;
	struct vmm_entry entry;
	struct vmm_serial serial;

	struct vmm_dev devs[VMM_MAX_DEVS];
	unsigned ndevs;

	pthread_mutex_t done_lock;
	pthread_cond_t done_cond;
	bool done;
	int exit_code;
};

/* vm.c: VM, RAM, vCPUs and their exits. A return of VMM_EXIT_SKIP means
 * KVM is not usable here. */
int vmm_create(struct vmm *vm);
int vmm_start_cpus(struct vmm *vm);
/* Ends the run with @code (the first call wins) and stops every vCPU. */
void vmm_finish(struct vmm *vm, int code, const char *why);
/* Waits for vmm_finish or the timeout; joins the vCPUs. */
int vmm_wait(struct vmm *vm);
void vmm_destroy(struct vmm *vm);
void *vmm_gpa(struct vmm *vm, uint64_t gpa, uint64_t len);

/* serial.c: a 16550A at 0x3f8, output only (no interrupts, no input). */
void serial_init(struct vmm_serial *s);
bool serial_io(struct vmm_serial *s, uint16_t port, uint8_t *data,
	       bool is_write);

/* loader.c */
int vmm_load_flat(struct vmm *vm, const char *path, uint64_t addr,
		  enum vmm_entry_mode mode);
int vmm_load_file(struct vmm *vm, const struct vmm_load *l);

/* devices.c: libvdev devices on virtio-mmio. */
int vmm_add_rng(struct vmm *vm, const char *source);
/* @spec: PATH[,ro][,sync] */
int vmm_add_blk(struct vmm *vm, const char *spec);
int vmm_dev_mmio_exit(struct vmm *vm, uint64_t addr, uint8_t *data,
		      unsigned len, bool is_write);
/* "virtio_mmio.device=4K@0xd0000000:5 ..." for a kernel built with
 * VIRTIO_MMIO_CMDLINE_DEVICES (what a Linux loader will append). */
void vmm_dev_cmdline(struct vmm *vm, char *buf, size_t len);
void vmm_dev_stats(struct vmm *vm);
void vmm_dev_free(struct vmm *vm);

#endif
