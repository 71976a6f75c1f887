/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Device daemons: a virtio device served as a program (vhost-user by
 * default, vfio-user on request), with the command line, capabilities and
 * documentation the vhost-user spec's "Backend program conventions" and
 * rust-vmm's vhost-device daemons use.
 *
 * A daemon is a table: it describes its own options once (struct
 * vdev_daemon_option), says how to make a device from them (create), and
 * calls vdev_daemon_main(). From that table the library makes:
 *  - the command line parser (getopt_long, common options included);
 *  - --help, a man page (--print-doc man), a Markdown table of the options
 *    (--print-doc markdown), the JSON of --print-capabilities and the QEMU
 *    descriptor for <datadir>/qemu/vhost-user/ (--print-qemu-descriptor
 *    BINARY);
 *  - one device per socket, each served on its own thread, and a clean
 *    shutdown on SIGINT, SIGTERM or SIGHUP (sockets removed).
 *
 * A minimal daemon (the template device of examples/template):
 *
 *	static const struct vdev_daemon_option opts[] = {
 *		{ .name = "max-len", .type = VDEV_DAEMON_UINT, .arg = "BYTES",
 *		  .help = "longest request served", .def = "4096",
 *		  .min = 1, .max = 1 << 20,
 *		  VDEV_DAEMON_FIELD(struct tpl_params, max_len) },
 *		{ 0 },
 *	};
 *	static struct vdev *create(void *ctx,
 *				   const struct vdev_daemon_instance *in)
 *	{
 *		struct tpl_params p = *(struct tpl_params *)ctx;
 *
 *		p.queue_size = in->queue_size;
 *		return tpl_new(&p);
 *	}
 *	int main(int argc, char **argv)
 *	{
 *		static const struct vdev_daemon d = {
 *			.name = "vdev-template", .type = "template",
 *			.summary = "the template device",
 *			.options = opts, .create = create,
 *		};
 *		struct tpl_params p = { .max_len = 4096 };
 *
 *		return vdev_daemon_main(&d, &p, argc, argv);
 *	}
 *
 * Build it with `pkg-config --cflags --libs libvdev-daemon` (or the CMake
 * target libvdev::vdev_daemon). The daemon API lives in its own library,
 * libvdev-daemon, because it owns the process (signal mask, SIGPIPE,
 * stdout, exit status, and later privileges and a seccomp filter), which a
 * VMM that embeds libvdev must never get by accident.
 *
 * Common options (every daemon has them; --help lists them with the
 * daemon's own): -s/--socket-path PATH, -c/--socket-count N (PATH0 ..
 * PATH<N-1>, one device each, as vhost-device does, whenever -c is given;
 * without -c the one socket is PATH), --socket-group GROUP and
 * --socket-mode MODE (who may connect: libvirt's QEMU runs as its own
 * user), --fd FD (an inherited listening or connected socket), --connect,
 * -v/--verbose, --log-level LEVEL, --log stderr|syslog|journald (where
 * libvdev's messages go, through vdev_set_log_fn), --transport
 * vhost-user|vfio-user (the transports vdev_capabilities() lists),
 * --queue-size N (largest ring a device accepts, 64..32768, default 1024:
 * every frontend size from 64 to 1024 works, User-Mode Linux asks 256),
 * --num-queues N (request queues, 1..num_queues_max), --thread-per-queue,
 * --poll-us N, --inband-notifications, --user USER, --group GROUP,
 * --no-sandbox, --print-capabilities, --print-doc FORMAT, --print-qemu-descriptor BINARY, -h/--help, -V/--version. The
 * common options are one table inside the library: a new one is one entry
 * there, and every daemon has it.
 *
 * Counters: SIGUSR1 writes every queue's vdev_queue_get_stats() to the
 * log; --stats-socket PATH serves them as JSON, one document per
 * connection: {"daemon": NAME, "devices": [{"index", "socket", "device",
 * "queues": [{"index", "requests", "read_bytes", "written_bytes",
 * "errors", "notifies"[, "counters": {NAME: N, ...}]}]}]}. "counters" are
 * the device's own (packets, drops by reason ...), which a daemon adds
 * with vdev_daemon_set_counters().
 *
 * A socket path another process still serves is refused (EADDRINUSE from
 * the adapter); a stale one, whose process is gone, is replaced.
 * --print-capabilities answers whatever else is on the command line.
 *
 * Exit status: 0 after a clean shutdown (or --help and the --print-*
 * options), 1 on a bad command line or when a device, socket or thread
 * could not be set up or a transport failed.
 *
 * Privileges and the sandbox: once every device is made and every socket
 * bound (setup), vdev_daemon_main() switches to --user/--group if given
 * (a daemon started as root), then enters the seccomp sandbox unless
 * --no-sandbox: from then on only the system calls serving needs are
 * allowed, on every thread. Any other call kills the process with SIGSYS,
 * after a line on stderr that names it. The allowed calls are the
 * library's base list (vdev_daemon_sandbox()) and the daemon's own
 * (struct vdev_daemon .syscalls). docs/sandbox.md tells how to find and
 * add what a new daemon needs.
 *
 * Threads and signals: vdev_daemon_main() blocks SIGINT, SIGTERM, SIGHUP
 * and SIGUSR1
 * in the calling thread before it starts any other (so every thread of the
 * library inherits the mask) and reads them from a signalfd; it ignores
 * SIGPIPE. It is meant to be called from main(), once.
 */
#ifndef VIRTIO_DAEMON_H
#define VIRTIO_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <virtio/api.h>
#include <virtio/device.h>

VDEV_BEGIN_DECLS

/* What an option takes and where its value goes. */
enum vdev_daemon_type {
	/* No argument: the bool at the field becomes true. */
	VDEV_DAEMON_FLAG,
	/* The const char * at the field points to the argument (in argv). */
	VDEV_DAEMON_STRING,
	/* An unsigned number (decimal, 0x hex or 0 octal) stored in the
	 * unsigned integer field (1, 2, 4 or 8 bytes wide); it must lie in
	 * [@min, @max] (both 0: anything the field can hold). */
	VDEV_DAEMON_UINT,
	/* One of the NULL-terminated @choices; its index is stored in the
	 * unsigned int at the field. */
	VDEV_DAEMON_CHOICE,
	/* @parse(ctx, arg) is called (arg NULL when @arg is NULL). It
	 * prints what is wrong and returns a negative errno to refuse. */
	VDEV_DAEMON_CALL,
};

/* The option may be given more than once (VDEV_DAEMON_CALL only; any
 * other option given twice is an error). */
#define VDEV_DAEMON_REPEAT     0x1u
/* Listed in the "features" of --print-capabilities (vhost-user.rst names
 * them per back-end type, e.g. "blk-file" and "read-only" for block). */
#define VDEV_DAEMON_CAPABILITY 0x2u
/* The option must be given. */
#define VDEV_DAEMON_REQUIRED   0x4u

struct vdev_daemon_option {
	const char *name;       /* long name, without "--" */
	int short_name;         /* 'f', or 0 for none */
	enum vdev_daemon_type type;
	const char *arg;        /* argument name in help ("FILE"); NULL:
				   none (FLAG, or CALL without argument) */
	const char *help;       /* what it does, one or two sentences */
	const char *def;        /* the default, as help shows it; NULL:
				   none to show */
	unsigned flags;         /* VDEV_DAEMON_REPEAT | ... */
	size_t offset;          /* VDEV_DAEMON_FIELD(): where in the ctx */
	size_t size;            /* of vdev_daemon_main() the value goes */
	uint64_t min, max;      /* VDEV_DAEMON_UINT */
	const char *const *choices; /* VDEV_DAEMON_CHOICE */
	int (*parse)(void *ctx, const char *arg); /* VDEV_DAEMON_CALL */
};

/* Designated initializers for where an option's value goes:
 * { ..., VDEV_DAEMON_FIELD(struct my_opts, member) }. */
#define VDEV_DAEMON_FIELD(type, member)                                     \
	.offset = offsetof(type, member),                                   \
	.size = sizeof(((type *)0)->member)

/* What vdev_daemon_main() hands to create() for one socket. */
struct vdev_daemon_instance {
	unsigned index;      /* 0 .. count - 1: which socket */
	unsigned count;      /* --socket-count */
	uint16_t queue_size; /* --queue-size: largest ring to accept */
	uint16_t num_queues; /* --num-queues: request queues */
};

struct vdev_daemon {
	const char *name;        /* program name: "vdev-rng" */
	/* Back-end type for --print-capabilities and the QEMU descriptor,
	 * as vhost-user.rst names it ("rng", "block", "scsi", "gpio"). */
	const char *type;
	const char *summary;     /* one line: "virtio-rng device back-end" */
	const char *description; /* paragraphs for the man page, or NULL */
	/* The daemon's own options; the last entry has name NULL. May be
	 * NULL. A name or letter of a common option is refused. */
	const struct vdev_daemon_option *options;
	/* Arguments after the options (image paths ...): each is handed to
	 * @operand in order, after the options were parsed and before
	 * @check; @operands names them in help ("IMAGE..."). @operand NULL:
	 * the daemon takes none. */
	const char *operands;
	const char *operands_help;
	int (*operand)(void *ctx, const char *arg);
	/* Largest --num-queues; 0 means 1. */
	uint16_t num_queues_max;
	/* Checks the parsed command line as a whole (may be NULL): prints
	 * what is wrong and returns a negative errno to refuse it. */
	int (*check)(void *ctx, const struct vdev_daemon_instance *common);
	/* The device for socket @in->index. NULL with errno set (the
	 * daemon may print why first). */
	struct vdev *(*create)(void *ctx,
			       const struct vdev_daemon_instance *in);
	/*
	 * Devices whose sockets the daemon's own options name (e.g.
	 * vhost-device-vsock's repeatable --vm socket=PATH,...). May be NULL.
	 * Called after @check: returns how many devices to serve (at most
	 * @max) with the socket path of each in @paths, or 0 when the common
	 * --socket-path/--socket-count/--fd decide. When it returns more
	 * than 0, --socket-path, --socket-count and --fd are refused, and
	 * create() gets index 0 .. n - 1 in that order.
	 */
	unsigned (*sockets)(void *ctx, const char **paths, unsigned max);
	/* How many sockets the daemon's own options ask for, named from
	 * --socket-path (may be NULL), after @check: vhost-device-input
	 * serves one per --event-list entry. Non-zero: that many, named
	 * PATH0 .. PATH<n-1> even when n is 1 (as vhost-device names them),
	 * and a --socket-count given must equal it. 0: --socket-count
	 * decides. */
	unsigned (*socket_count)(void *ctx);
	/* The system calls this daemon's host backends make while serving,
	 * beyond the library's base list: names as in <sys/syscall.h>
	 * without __NR_ ("ioctl", "socket", "openat"), NULL-terminated;
	 * each is allowed with any arguments. NULL: none. A name this
	 * architecture lacks is skipped; a name no architecture has makes
	 * the daemon refuse to start. */
	const char *const *syscalls;
};

/* One device-specific counter of a queue (vdev_daemon_set_counters). */
struct vdev_daemon_counter {
	const char *name; /* [a-z0-9_]+, e.g. "drop_bad_hdr"; static */
	uint64_t value;
};

/* The most counters one queue may add. */
#define VDEV_DAEMON_COUNTERS_MAX 16

/*
 * A daemon's own counters, beside the generic ones of each queue, on
 * SIGUSR1 (appended to the queue's log line: "...; packets 5, bytes 300")
 * and --stats-socket (the queue's "counters" object). For queue @queue of
 * device @dev, @fn fills at most @max entries of @out and returns how
 * many (0, or a negative errno: none); @ctx is vdev_daemon_main()'s. It
 * runs on the thread that called vdev_daemon_main() while the queues are
 * served, so it reads counters the queue threads update atomically (as
 * the devices' own *_get_stats() do). An entry whose name is not
 * [a-z0-9_]+ is left out. Call before vdev_daemon_main(); NULL removes
 * the hook. The setting is the process's, as vdev_daemon_main() is.
 */
typedef int vdev_daemon_counters_fn(void *ctx, struct vdev *dev,
				    unsigned queue,
				    struct vdev_daemon_counter *out,
				    unsigned max);
VDEV_API void vdev_daemon_set_counters(vdev_daemon_counters_fn *fn);

/*
 * Runs the daemon: parses @argv into @ctx (the struct the options'
 * fields are in), answers --help/--version/--print-*, or creates one
 * device per socket and serves them until a signal or, for an inherited
 * or connected socket, until its connection ends. Returns the exit
 * status (see above); never calls exit().
 */
VDEV_API int vdev_daemon_main(const struct vdev_daemon *d, void *ctx,
			      int argc, char **argv, size_t dsize,
			      size_t osize);
/* The sizes of the daemon table and of one option entry, as the caller
 * compiled them (api.h): the last arguments of every call that reads the
 * table, which the macros of the calls' names pass. */
#define VDEV_DAEMON_SIZES \
	sizeof(struct vdev_daemon), sizeof(struct vdev_daemon_option)
#define vdev_daemon_main(...) vdev_daemon_main(__VA_ARGS__, VDEV_DAEMON_SIZES)

/*
 * The sandbox (what vdev_daemon_main() does after setup; a program that
 * serves devices without it may call it itself): installs a seccomp
 * filter on every thread of the process that allows only
 *  - the base list: what libvdev calls while serving (memory, threads,
 *    signals, time, the event loop, peers' fds and sockets, vhost-user
 *    and vfio-user, storage with io_uring and libnbd, reconnecting,
 *    logging to stderr), with ioctl limited to the block-device requests
 *    of the storage layer, socket to AF_UNIX, clone to threads and tgkill
 *    to this process;
 *  - @extra: NULL-terminated system call names, allowed with any
 *    arguments (the daemon's .syscalls).
 * Any other call kills the process with SIGSYS after a line on stderr
 * naming it (@prog: the program name it starts with), except open,
 * openat and openat2, which fail with EACCES (glibc's malloc opens a
 * /proc file when a thread's arena first shrinks). It cannot be undone. Returns 0; -ENOSYS in a build without libseccomp; -EINVAL for a
 * name no architecture has; another negative errno when the kernel
 * refused the filter (each but -ENOSYS after a line on stderr).
 */
VDEV_API int vdev_daemon_sandbox(const char *prog, const char *const *extra);
/* Whether this build has the sandbox (libseccomp). */
VDEV_API bool vdev_daemon_sandbox_available(void);

/*
 * The documents made from the tables, written to @f. Each returns 0, or
 * -EINVAL when the tables are inconsistent (the reason goes to stderr),
 * or -EIO when @f failed.
 *   help:         what --help prints;
 *   man:          a man(7) page, section 1;
 *   markdown:     a Markdown table of every option (README tables);
 *   capabilities: the JSON of --print-capabilities;
 *   qemu_json:    the descriptor for <datadir>/qemu/vhost-user/,
 *                 naming @binary (the installed path of the program).
 */
VDEV_API int vdev_daemon_write_help(const struct vdev_daemon *d, FILE *f,
				    size_t dsize, size_t osize);
VDEV_API int vdev_daemon_write_man(const struct vdev_daemon *d, FILE *f,
				   size_t dsize, size_t osize);
VDEV_API int vdev_daemon_write_markdown(const struct vdev_daemon *d,
					FILE *f, size_t dsize, size_t osize);
VDEV_API int vdev_daemon_write_capabilities(const struct vdev_daemon *d,
					    FILE *f, size_t dsize,
					    size_t osize);
VDEV_API int vdev_daemon_write_qemu_json(const struct vdev_daemon *d,
					 const char *binary, FILE *f,
					 size_t dsize, size_t osize);
#define vdev_daemon_write_help(...) \
	vdev_daemon_write_help(__VA_ARGS__, VDEV_DAEMON_SIZES)
#define vdev_daemon_write_man(...) \
	vdev_daemon_write_man(__VA_ARGS__, VDEV_DAEMON_SIZES)
#define vdev_daemon_write_markdown(...) \
	vdev_daemon_write_markdown(__VA_ARGS__, VDEV_DAEMON_SIZES)
#define vdev_daemon_write_capabilities(...) \
	vdev_daemon_write_capabilities(__VA_ARGS__, VDEV_DAEMON_SIZES)
#define vdev_daemon_write_qemu_json(...) \
	vdev_daemon_write_qemu_json(__VA_ARGS__, VDEV_DAEMON_SIZES)

/*
 * Parses an unsigned number for option @opt of program @prog, in
 * [@lo, @hi]; prints an error and returns -EINVAL when @arg is not one.
 * For VDEV_DAEMON_CALL options.
 */
VDEV_API int vdev_daemon_parse_uint(const char *prog, const char *opt,
				    const char *arg, uint64_t lo, uint64_t hi,
				    uint64_t *out);

/*
 * For a daemon whose device refused an image with EMEDIUMTYPE (a file in
 * another format, see image.h): tells on stderr what @path holds and how
 * to serve it, through --nbd and qemu-nbd, or with --format raw. @option
 * names where the path came from ("--blk-file", "IMAGE").
 */
VDEV_API void vdev_daemon_explain_format(const char *prog,
					 const char *option,
					 const char *path);

/*
 * Checks an image path a daemon was given before it makes a device of
 * it: it opens (read-write unless @read_only), is a regular file or a
 * block device, and (unless @any_format, i.e. --format raw) holds no other
 * format's signature. On a problem it says on stderr which file, which
 * @option it came from ("--blk-file", "IMAGE"), what is wrong and what to
 * do (-r/--read-only for a file the user may only read; --nbd or --format
 * raw for a qcow2 file, see vdev_daemon_explain_format), and returns the
 * negative errno (-EINVAL: not a file or block device; -EMEDIUMTYPE:
 * another format). 0 when the image can be served.
 */
VDEV_API int vdev_daemon_check_image(const char *prog, const char *option,
				     const char *path, bool read_only,
				     bool any_format);

VDEV_END_DECLS

#endif /* VIRTIO_DAEMON_H */
