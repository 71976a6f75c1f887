/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vdev-vsock: the virtio-vsock back-end daemon with the options of rust-vmm's
 * vhost-device-vsock: --guest-cid, --socket, --uds-path, --tx-buffer-size,
 * --queue-size (the common one), --groups, a repeatable --vm
 * guest-cid=..,socket=..,uds-path=..,tx-buffer-size=..,queue-size=..,
 * groups=.. and --config FILE.yaml; every VM is a device of this process,
 * so VMs that share a group reach each other by CID. It adds the memory and
 * connection caps (--mem-max, --conn-max) and SEQPACKET (--seqpacket).
 */
#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/daemon.h>
#include <virtio/vsock.h>

#define MAX_VMS 64
#define PROG "vdev-vsock"

struct vm {
	uint64_t cid;
	const char *socket;
	const char *uds_path;
	uint32_t tx_buffer_size;
	uint16_t queue_size;
	const char *groups;
};

struct vsock_opts {
	uint64_t guest_cid;
	const char *socket;
	const char *uds_path;
	uint32_t tx_buffer_size;
	const char *groups;
	uint64_t mem_max;
	uint32_t conn_max;
	bool seqpacket;
	struct vm vms[MAX_VMS];
	unsigned nvms;
	bool had_single; /* --guest-cid, --socket, --uds-path or --groups */
};

/* Strings the VMs point into, freed when the daemon ends. */
static char *owned[2 * MAX_VMS * 8];
static unsigned nowned;

static char *own_str(const char *s)
{
	char *d;

	if (nowned == sizeof(owned) / sizeof(owned[0]))
		return NULL;
	d = strdup(s);
	if (d)
		owned[nowned++] = d;
	return d;
}

static struct vsock_opts opts = {
	.guest_cid = 3,
	.tx_buffer_size = 64 * 1024,
	.groups = "default",
};

/* One key of a VM, by its --vm name (dashes) or YAML name
 * (underscores). */
static int vm_key(struct vm *vm, const char *key, size_t klen, const char *val)
{
	char k[32];
	uint64_t n;

	if (klen >= sizeof(k)) {
		fprintf(stderr, PROG ": unknown VM key '%.*s'\n", (int)klen,
			key);
		return -EINVAL;
	}
	for (size_t i = 0; i < klen; i++)
		k[i] = key[i] == '_' ? '-' : key[i];
	k[klen] = 0;
	if (!strcmp(k, "guest-cid")) {
		if (vdev_daemon_parse_uint(PROG, "guest-cid", val, 3,
					   0xfffffffeu, &n) < 0)
			return -EINVAL;
		vm->cid = n;
	} else if (!strcmp(k, "socket")) {
		vm->socket = val;
	} else if (!strcmp(k, "uds-path")) {
		vm->uds_path = val;
	} else if (!strcmp(k, "tx-buffer-size")) {
		if (vdev_daemon_parse_uint(PROG, "tx-buffer-size", val, 4096,
					   64u << 20, &n) < 0)
			return -EINVAL;
		vm->tx_buffer_size = (uint32_t)n;
	} else if (!strcmp(k, "queue-size")) {
		if (vdev_daemon_parse_uint(PROG, "queue-size", val, 64, 32768,
					   &n) < 0)
			return -EINVAL;
		vm->queue_size = (uint16_t)n;
	} else if (!strcmp(k, "groups")) {
		vm->groups = val;
	} else {
		fprintf(stderr, PROG ": unknown VM key '%s'\n", k);
		return -EINVAL;
	}
	return 0;
}

static struct vm *new_vm(struct vsock_opts *o)
{
	struct vm *vm;

	if (o->nvms == MAX_VMS) {
		fprintf(stderr, PROG ": at most %d VMs\n", MAX_VMS);
		return NULL;
	}
	vm = &o->vms[o->nvms++];
	*vm = (struct vm){ .cid = 3, .groups = "default" };
	return vm;
}

/* --vm guest-cid=4,socket=/tmp/v4.sock,uds-path=/tmp/vm4.vsock,... */
static int parse_vm(void *ctx, const char *arg)
{
	struct vsock_opts *o = ctx;
	char *s = own_str(arg), *save = NULL, *kv;
	struct vm *vm = new_vm(o);

	if (!s || !vm)
		return -EINVAL;
	for (kv = strtok_r(s, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');

		if (!eq || eq == kv || !eq[1]) {
			fprintf(stderr, PROG ": --vm: '%s' is not key=value\n",
				kv);
			return -EINVAL;
		}
		*eq = 0;
		if (vm_key(vm, kv, strlen(kv), eq + 1) < 0)
			return -EINVAL;
	}
	return 0;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = 0;
	if (e - s >= 2 && ((*s == '"' && e[-1] == '"') ||
			   (*s == '\'' && e[-1] == '\''))) {
		e[-1] = 0;
		s++;
	}
	return s;
}

/*
 * --config FILE: vhost-device-vsock's YAML, the block form it documents:
 *   vms:
 *     - guest_cid: 4
 *       socket: /tmp/vhost4.socket
 *       uds_path: /tmp/vm4.vsock
 *       tx_buffer_size: 65536
 *       queue_size: 1024
 *       groups: group1+groupA
 */
static int parse_config(void *ctx, const char *path)
{
	struct vsock_opts *o = ctx;
	FILE *f = fopen(path, "r");
	char line[4096];
	struct vm *vm = NULL;
	bool in_vms = false;
	unsigned ln = 0;

	if (!f) {
		fprintf(stderr, PROG ": --config %s: %s\n", path,
			strerror(errno));
		return -EINVAL;
	}
	while (fgets(line, sizeof(line), f)) {
		char *s, *hash, *colon, *key;

		ln++;
		hash = strchr(line, '#');
		if (hash)
			*hash = 0;
		s = trim(line);
		if (!*s || !strcmp(s, "---"))
			continue;
		if (!strcmp(s, "vms:")) {
			in_vms = true;
			continue;
		}
		if (!in_vms)
			goto bad;
		if (s[0] == '-' && (s[1] == ' ' || !s[1])) {
			vm = new_vm(o);
			if (!vm)
				goto fail;
			s = trim(s + 1);
			if (!*s)
				continue;
		}
		colon = strchr(s, ':');
		if (!vm || !colon)
			goto bad;
		*colon = 0;
		key = trim(s);
		s = own_str(trim(colon + 1));
		if (!s || vm_key(vm, key, strlen(key), s) < 0)
			goto bad;
	}
	fclose(f);
	if (!o->nvms) {
		fprintf(stderr, PROG ": --config %s: no VM\n", path);
		return -EINVAL;
	}
	return 0;
bad:
	fprintf(stderr, PROG ": --config %s:%u: not understood\n", path, ln);
fail:
	fclose(f);
	return -EINVAL;
}

static int set_single(struct vsock_opts *o)
{
	o->had_single = true;
	return 0;
}

static int opt_cid(void *ctx, const char *arg)
{
	struct vsock_opts *o = ctx;

	return vdev_daemon_parse_uint(PROG, "guest-cid", arg, 3, 0xfffffffeu,
				      &o->guest_cid) < 0 ? -EINVAL :
							   set_single(o);
}

static int opt_socket(void *ctx, const char *arg)
{
	struct vsock_opts *o = ctx;

	o->socket = arg;
	return set_single(o);
}

static int opt_uds(void *ctx, const char *arg)
{
	struct vsock_opts *o = ctx;

	o->uds_path = arg;
	return set_single(o);
}

static int opt_groups(void *ctx, const char *arg)
{
	struct vsock_opts *o = ctx;

	o->groups = arg;
	return set_single(o);
}

#define F(member) VDEV_DAEMON_FIELD(struct vsock_opts, member)

static const struct vdev_daemon_option vsock_options[] = {
	{ .name = "guest-cid", .type = VDEV_DAEMON_CALL, .arg = "CID",
	  .def = "3", .help = "Context ID of the guest.", .parse = opt_cid },
	{ .name = "socket", .type = VDEV_DAEMON_CALL, .arg = "PATH",
	  .help = "vhost-user (or vfio-user) socket of the VM (as "
		  "--socket-path).",
	  .parse = opt_socket },
	{ .name = "uds-path", .type = VDEV_DAEMON_CALL, .arg = "PATH",
	  .help = "Hybrid Unix socket: host programs connect here and write "
		  "\"CONNECT <port>\\n\"; a guest connecting to CID 2 port P "
		  "reaches PATH_P.",
	  .parse = opt_uds },
	{ .name = "tx-buffer-size", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .def = "65536",
	  .help = "Bytes a connection may hold on its way to the host (the "
		  "buffer the guest is told).",
	  .min = 4096, .max = 64u << 20, F(tx_buffer_size) },
	{ .name = "groups", .type = VDEV_DAEMON_CALL, .arg = "G1+G2",
	  .def = "default",
	  .help = "Groups of the VM; VMs of this daemon in a common group "
		  "reach each other by CID.",
	  .parse = opt_groups },
	{ .name = "vm", .type = VDEV_DAEMON_CALL, .flags = VDEV_DAEMON_REPEAT,
	  .arg = "KEY=VAL,...",
	  .help = "One VM: guest-cid, socket, uds-path, tx-buffer-size, "
		  "queue-size, groups. Repeat for more VMs.",
	  .parse = parse_vm },
	{ .name = "config", .type = VDEV_DAEMON_CALL, .arg = "FILE",
	  .help = "YAML file with a list \"vms:\" of VMs with the keys of "
		  "--vm (guest_cid, socket, uds_path, ...).",
	  .parse = parse_config },
	{ .name = "mem-max", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
	  .def = "67108864",
	  .help = "Bytes all connections of a VM may hold; each connection "
		  "reserves --tx-buffer-size (twice for SEQPACKET).",
	  .min = 4096, .max = 1ull << 40, F(mem_max) },
	{ .name = "conn-max", .type = VDEV_DAEMON_UINT, .arg = "N",
	  .def = "1024", .help = "Connections of a VM at once.",
	  .min = 1, .max = 1u << 20, F(conn_max) },
	{ .name = "seqpacket", .type = VDEV_DAEMON_FLAG,
	  .help = "Offer SEQPACKET sockets (mapped to SOCK_SEQPACKET Unix "
		  "sockets on the host).",
	  F(seqpacket) },
	{ 0 },
};

static int vsock_check(void *ctx, const struct vdev_daemon_instance *c)
{
	struct vsock_opts *o = ctx;

	if (o->nvms && o->had_single) {
		fprintf(stderr, PROG ": --vm/--config exclude --guest-cid, "
			"--socket, --uds-path and --groups\n");
		return -EINVAL;
	}
	if (c->count > 1) {
		fprintf(stderr, PROG ": one VM per socket: use --vm for "
			"more\n");
		return -EINVAL;
	}
	for (unsigned i = 0; i < o->nvms; i++) {
		if (!o->vms[i].socket) {
			fprintf(stderr, PROG ": VM %u has no socket\n", i);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++)
			if (o->vms[i].cid == o->vms[j].cid) {
				fprintf(stderr,
					PROG ": guest CID %llu given twice\n",
					(unsigned long long)o->vms[i].cid);
				return -EINVAL;
			}
	}
	return 0;
}

static unsigned vsock_sockets(void *ctx, const char **paths, unsigned max)
{
	struct vsock_opts *o = ctx;

	if (!o->nvms && o->socket) {
		/* --socket is --socket-path for one VM. */
		struct vm *vm = new_vm(o);

		vm->cid = o->guest_cid;
		vm->socket = o->socket;
		vm->uds_path = o->uds_path;
		vm->tx_buffer_size = o->tx_buffer_size;
		vm->groups = o->groups;
	}
	for (unsigned i = 0; i < o->nvms && i < max; i++)
		paths[i] = o->vms[i].socket;
	return o->nvms;
}

static struct vdev *vsock_create(void *ctx,
				 const struct vdev_daemon_instance *in)
{
	struct vsock_opts *o = ctx;
	struct vdev_vsock_config c = {
		.guest_cid = o->guest_cid,
		.uds_path = o->uds_path,
		.buf_size = o->tx_buffer_size,
		.mem_max = o->mem_max,
		.conn_max = o->conn_max,
		.groups = o->groups,
		.seqpacket = o->seqpacket,
		.queue_size = in->queue_size,
	};
	struct vdev *dev;

	if (o->nvms) {
		const struct vm *vm = &o->vms[in->index];

		c.guest_cid = vm->cid;
		c.uds_path = vm->uds_path;
		if (vm->tx_buffer_size)
			c.buf_size = vm->tx_buffer_size;
		if (vm->queue_size)
			c.queue_size = vm->queue_size;
		c.groups = vm->groups;
	}
	dev = vdev_vsock_new(&c);
	if (!dev && c.uds_path)
		fprintf(stderr, PROG ": guest CID %llu, --uds-path %s: %s\n",
			(unsigned long long)c.guest_cid, c.uds_path,
			strerror(errno));
	return dev;
}

/* System calls made while serving, beyond the library's (docs/sandbox.md): a
 * connection between sibling VMs is a socketpair made when the guest
 * connects. */
static const char *const vsock_syscalls[] = { "socketpair", NULL };

int main(int argc, char **argv)
{
	static const struct vdev_daemon d = {
		.name = PROG,
		.type = "vsock",
		.summary = "virtio-vsock device back-end with hybrid Unix "
			   "sockets (libvdev)",
		.description =
			"Serves virtio-vsock to a VM, with Firecracker's "
			"hybrid Unix sockets as the host side, as "
			"vhost-device-vsock does: a host program connects to "
			"--uds-path and writes \"CONNECT <port>\\n\", and "
			"reads \"OK <host-port>\\n\" once the guest accepted; "
			"a guest connecting to CID 2 port P reaches the Unix "
			"socket <uds-path>_P. Several VMs (--vm, --config) "
			"are served by one process; those sharing a group "
			"(--groups) reach each other by CID.",
		.options = vsock_options,
		.check = vsock_check,
		.create = vsock_create,
		.syscalls = vsock_syscalls,
		.sockets = vsock_sockets,
	};

	int r;

#if defined(__GLIBC__)
	/*
	 * One malloc arena. glibc gives a serving thread its own arena, and
	 * the first time such an arena's heap shrinks (a connection's buffer
	 * freed) it opens /proc/sys/vm/overcommit_memory: in the sandbox
	 * that openat kills the daemon (seen under UML, 17 s into a
	 * transfer). The main arena shrinks with brk instead.
	 */
	mallopt(M_ARENA_MAX, 1);
#endif
	r = vdev_daemon_main(&d, &opts, argc, argv);

	while (nowned)
		free(owned[--nowned]);
	return r;
}
