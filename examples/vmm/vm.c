/* SPDX-License-Identifier: BSD-3-Clause */
/* The VM itself: KVM handles, guest RAM, vCPU threads and their exits. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

void *vmm_gpa(struct vmm *vm, uint64_t gpa, uint64_t len)
{
	if (gpa > vm->ram_size || len > vm->ram_size - gpa)
		return NULL;
	return vm->ram + gpa;
}

static int vmm_skip(const char *what)
{
	printf("SKIP: %s: %s (no usable KVM on this machine)\n", what,
	       strerror(errno));
	return VMM_EXIT_SKIP;
}

static int vmm_ram(struct vmm *vm)
{
	struct kvm_userspace_memory_region slot = { 0 };
	struct vdev_mem_region r = { 0 };
	int rc;

	vm->ram_size = vm->opt.mem_mib << 20;
	/* A memfd, so the same RAM could be handed to vhost-user daemons. */
	vm->ram_fd = memfd_create("vdev-vmm-ram", MFD_CLOEXEC);
	if (vm->ram_fd < 0 || ftruncate(vm->ram_fd, (off_t)vm->ram_size) < 0) {
		perror("vdev-vmm: guest RAM");
		return VMM_EXIT_ERROR;
	}
	vm->ram = mmap(NULL, vm->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       vm->ram_fd, 0);
	if (vm->ram == MAP_FAILED) {
		vm->ram = NULL;
		perror("vdev-vmm: mmap guest RAM");
		return VMM_EXIT_ERROR;
	}
	slot.slot = 0;
	slot.guest_phys_addr = 0;
	slot.memory_size = vm->ram_size;
	slot.userspace_addr = (uintptr_t)vm->ram;
	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &slot) < 0) {
		perror("vdev-vmm: KVM_SET_USER_MEMORY_REGION");
		return VMM_EXIT_ERROR;
	}

	/* The devices' view of guest memory: the same slot. */
	vm->mem = vdev_mem_new();
	if (!vm->mem)
		return VMM_EXIT_ERROR;
	r.guest_addr = 0;
	r.size = vm->ram_size;
	r.host = vm->ram;
	r.fd = vm->ram_fd;
	r.fd_offset = 0;
	rc = vdev_mem_add(vm->mem, &r);
	if (rc < 0) {
		fprintf(stderr, "vdev-vmm: vdev_mem_add: %s\n", strerror(-rc));
		return VMM_EXIT_ERROR;
	}
	return 0;
}

int vmm_create(struct vmm *vm)
{
	int rc;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return vmm_skip("/dev/kvm");
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0)
		return vmm_skip("KVM_CREATE_VM");
	vm->run_size = (size_t)ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	/* Intel needs a TSS and identity map address below 4 GiB outside
	 * RAM and MMIO; harmless elsewhere. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		perror("vdev-vmm: KVM_CREATE_IRQCHIP");
		return VMM_EXIT_ERROR;
	}
	rc = vmm_ram(vm);
	if (rc)
		return rc;
	serial_init(&vm->serial);
	return 0;
}

static int vmm_setup_regs(struct vmm *vm, struct vmm_vcpu *c)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs = { 0 };
	struct kvm_segment seg = { 0 };

	if (ioctl(c->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	if (vm->entry.mode == VMM_ENTRY_REAL) {
		seg.base = vm->entry.rip & ~0xfull;
		seg.selector = (uint16_t)(seg.base >> 4);
		seg.limit = 0xffff;
		seg.present = 1;
		seg.s = 1;
		seg.type = 0xb;
		sregs.cs = seg;
		seg.type = 0x3;
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
		regs.rip = vm->entry.rip & 0xf;
	} else {
		seg.base = 0;
		seg.limit = 0xffffffff;
		seg.present = 1;
		seg.s = 1;
		seg.db = 1;
		seg.g = 1;
		seg.selector = 0x08;
		seg.type = 0xb;
		sregs.cs = seg;
		seg.selector = 0x10;
		seg.type = 0x3;
		sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = seg;
		sregs.cr0 = 0x11; /* PE | ET */
		regs.rip = vm->entry.rip;
	}
	regs.rsp = vm->entry.rsp;
	regs.rflags = 0x2;
	if (ioctl(c->fd, KVM_SET_SREGS, &sregs) < 0 ||
	    ioctl(c->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;
	return 0;
}

static void vmm_port_io(struct vmm *vm, struct kvm_run *run)
{
	uint8_t *data = (uint8_t *)run + run->io.data_offset;
	bool is_write = run->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
		uint16_t port = run->io.port;

		if (run->io.size == 1 && serial_io(&vm->serial, port, data,
						   is_write))
			continue;
		if (port == VMM_EXIT_PORT && is_write) {
			uint32_t v = 0;
			char why[64];

			memcpy(&v, data, run->io.size);
			if (v == 0) {
				vmm_finish(vm, VMM_EXIT_PASS,
					   "guest reported PASS");
			} else {
				snprintf(why, sizeof(why),
					 "guest reported FAIL (code %u)", v);
				vmm_finish(vm, VMM_EXIT_FAIL, why);
			}
			continue;
		}
		/* Nothing else on the I/O bus: reads float high. */
		if (!is_write)
			memset(data, 0xff, run->io.size);
	}
}

static void vmm_mmio(struct vmm *vm, struct kvm_run *run)
{
	static atomic_bool warned;
	int rc = vmm_dev_mmio_exit(vm, run->mmio.phys_addr, run->mmio.data,
				   run->mmio.len, run->mmio.is_write);

	if (rc == -ENOENT) {
		if (!run->mmio.is_write)
			memset(run->mmio.data, 0xff, sizeof(run->mmio.data));
		if (!atomic_exchange(&warned, true))
			fprintf(stderr,
				"vdev-vmm: MMIO %s at 0x%llx hits nothing "
				"(further ones not reported)\n",
				run->mmio.is_write ? "write" : "read",
				(unsigned long long)run->mmio.phys_addr);
	}
}

static void *vmm_vcpu_thread(void *arg)
{
	struct vmm_vcpu *c = arg;
	struct vmm *vm = c->vm;
	struct kvm_run *run = c->run;
	char why[128];

	for (;;) {
		if (ioctl(c->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (run->immediate_exit)
					return NULL;
				continue;
			}
			snprintf(why, sizeof(why), "KVM_RUN: %s",
				 strerror(errno));
			vmm_finish(vm, VMM_EXIT_ERROR, why);
			return NULL;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO:
			vmm_port_io(vm, run);
			break;
		case KVM_EXIT_MMIO:
			vmm_mmio(vm, run);
			break;
		case KVM_EXIT_HLT:
			vmm_finish(vm, VMM_EXIT_FAIL, "guest halted");
			return NULL;
		case KVM_EXIT_SHUTDOWN:
			vmm_finish(vm, VMM_EXIT_FAIL,
				   "guest shut down (triple fault)");
			return NULL;
		case KVM_EXIT_INTERNAL_ERROR: {
			struct kvm_regs regs = { 0 };

			ioctl(c->fd, KVM_GET_REGS, &regs);
			snprintf(why, sizeof(why),
				 "KVM internal error, suberror %u at rip "
				 "0x%llx (the kernel could not emulate an "
				 "instruction)",
				 run->internal.suberror,
				 (unsigned long long)regs.rip);
			vmm_finish(vm, VMM_EXIT_ERROR, why);
			return NULL;
		}
		case KVM_EXIT_FAIL_ENTRY:
			snprintf(why, sizeof(why),
				 "KVM entry failure, reason 0x%llx",
				 (unsigned long long)run->fail_entry
					 .hardware_entry_failure_reason);
			vmm_finish(vm, VMM_EXIT_ERROR, why);
			return NULL;
		default:
			snprintf(why, sizeof(why), "unexpected KVM exit %u",
				 run->exit_reason);
			vmm_finish(vm, VMM_EXIT_ERROR, why);
			return NULL;
		}
	}
}

static void vmm_sigusr1(int sig)
{
	/* Only here to make KVM_RUN return EINTR. */
}

int vmm_start_cpus(struct vmm *vm)
{
	struct sigaction sa = { .sa_handler = vmm_sigusr1 };

	sigaction(SIGUSR1, &sa, NULL);
	vm->ncpus = vm->opt.cpus;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *c = &vm->cpus[i];
		int rc;

		c->vm = vm;
		c->index = i;
		c->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)i);
		if (c->fd < 0) {
			perror("vdev-vmm: KVM_CREATE_VCPU");
			return VMM_EXIT_ERROR;
		}
		c->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE,
			      MAP_SHARED, c->fd, 0);
		if (c->run == MAP_FAILED) {
			c->run = NULL;
			perror("vdev-vmm: mmap kvm_run");
			return VMM_EXIT_ERROR;
		}
		/* vCPU 0 starts at the loader's entry; the others wait in
		 * the kernel for INIT/SIPI from the guest. */
		if (i == 0) {
			rc = vmm_setup_regs(vm, c);
			if (rc < 0) {
				fprintf(stderr,
					"vdev-vmm: vCPU registers: %s\n",
					strerror(-rc));
				return VMM_EXIT_ERROR;
			}
		}
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *c = &vm->cpus[i];

		if (pthread_create(&c->thread, NULL, vmm_vcpu_thread, c)) {
			fprintf(stderr, "vdev-vmm: cannot start vCPU %u\n", i);
			vmm_finish(vm, VMM_EXIT_ERROR, "thread creation");
			return VMM_EXIT_ERROR;
		}
		c->started = true;
	}
	return 0;
}

void vmm_finish(struct vmm *vm, int code, const char *why)
{
	pthread_mutex_lock(&vm->done_lock);
	if (!vm->done) {
		vm->done = true;
		vm->exit_code = code;
		printf("vdev-vmm: %s\n", why);
		fflush(stdout);
		for (unsigned i = 0; i < vm->ncpus; i++)
			if (vm->cpus[i].run)
				vm->cpus[i].run->immediate_exit = 1;
		for (unsigned i = 0; i < vm->ncpus; i++)
			if (vm->cpus[i].started)
				pthread_kill(vm->cpus[i].thread, SIGUSR1);
		pthread_cond_broadcast(&vm->done_cond);
	}
	pthread_mutex_unlock(&vm->done_lock);
}

int vmm_wait(struct vmm *vm)
{
	struct timespec until;
	char why[64];
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += vm->opt.timeout_s;
	pthread_mutex_lock(&vm->done_lock);
	while (!vm->done && rc == 0)
		rc = vm->opt.timeout_s ?
			     pthread_cond_timedwait(&vm->done_cond,
						    &vm->done_lock, &until) :
			     pthread_cond_wait(&vm->done_cond, &vm->done_lock);
	pthread_mutex_unlock(&vm->done_lock);
	if (rc) {
		snprintf(why, sizeof(why),
			 "FAIL: timeout, guest did not finish in %u s",
			 vm->opt.timeout_s);
		vmm_finish(vm, VMM_EXIT_FAIL, why);
	}
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vmm_vcpu *c = &vm->cpus[i];

		if (!c->started)
			continue;
		/* A vCPU that entered KVM_RUN just before immediate_exit was
		 * set has been signalled; repeat until it is out. */
		while (pthread_tryjoin_np(c->thread, NULL) == EBUSY) {
			pthread_kill(c->thread, SIGUSR1);
			usleep(1000);
		}
		c->started = false;
	}
	return vm->exit_code;
}

void vmm_destroy(struct vmm *vm)
{
	vmm_dev_free(vm);
	for (unsigned i = 0; i < vm->ncpus; i++) {
		if (vm->cpus[i].run)
			munmap(vm->cpus[i].run, vm->run_size);
		if (vm->cpus[i].fd >= 0)
			close(vm->cpus[i].fd);
	}
	vdev_mem_free(vm->mem);
	if (vm->ram)
		munmap(vm->ram, vm->ram_size);
	if (vm->ram_fd >= 0)
		close(vm->ram_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}
