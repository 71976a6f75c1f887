/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --user and --group: a daemon started as root (to reach a socket
 * directory, a block device, a hugetlbfs mount) serves as someone else.
 * The names are looked up while parsing (NSS may open files and sockets,
 * which the sandbox forbids later); the switch happens once the devices
 * and sockets exist, before the sandbox and before the serving threads.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon_internal.h"

/* A number, or a name @lookup resolves; -1 when neither. */
static long long id_of(const char *s, bool user, gid_t *primary)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*s && !*end && !errno && s[0] != '-' && v < (uid_t)-1) {
		if (user && primary) {
			struct passwd *pw = getpwuid((uid_t)v);

			*primary = pw ? pw->pw_gid : (gid_t)-1;
		}
		return (long long)v;
	}
	if (user) {
		struct passwd *pw = getpwnam(s);

		if (!pw)
			return -1;
		if (primary)
			*primary = pw->pw_gid;
		return pw->pw_uid;
	} else {
		struct group *gr = getgrnam(s);

		return gr ? (long long)gr->gr_gid : -1;
	}
}

int vdd_privs_resolve(const char *prog, struct vdd_common *c)
{
	gid_t primary = (gid_t)-1;
	long long id;

	c->uid = (uid_t)-1;
	c->gid = (gid_t)-1;
	if (c->user) {
		id = id_of(c->user, true, &primary);
		if (id < 0) {
			fprintf(stderr, "%s: --user %s: no such user\n", prog,
				c->user);
			return -EINVAL;
		}
		c->uid = (uid_t)id;
	}
	if (c->group) {
		id = id_of(c->group, false, NULL);
		if (id < 0) {
			fprintf(stderr, "%s: --group %s: no such group\n",
				prog, c->group);
			return -EINVAL;
		}
		c->gid = (gid_t)id;
	} else if (c->user) {
		/* The user's own group; a number without a passwd entry
		 * needs --group. */
		if (primary == (gid_t)-1) {
			fprintf(stderr, "%s: --user %s has no group here: "
				"give --group too\n", prog, c->user);
			return -EINVAL;
		}
		c->gid = primary;
	}
	if ((c->user || c->group) && geteuid() != 0) {
		fprintf(stderr, "%s: --user and --group need the daemon to "
			"start as root\n", prog);
		return -EPERM;
	}
	return 0;
}

int vdd_privs_drop(const char *prog, const struct vdd_common *c,
		   const char *const *paths, unsigned n)
{
	if (c->gid == (gid_t)-1 && c->uid == (uid_t)-1)
		return 0;
	/* The sockets stay the daemon's to remove at exit (in a sticky
	 * directory such as /tmp only their owner may). */
	for (unsigned i = 0; i < n; i++)
		if (paths[i] && lchown(paths[i], c->uid, (gid_t)-1) < 0 &&
		    errno != ENOENT) {
			fprintf(stderr, "%s: %s: %s\n", prog, paths[i],
				strerror(errno));
			return -errno;
		}
	/* Supplementary groups first, then the group, then the user: once
	 * the user is not root the others cannot change any more. */
	if (c->gid != (gid_t)-1 &&
	    (setgroups(1, &c->gid) < 0 || setresgid(c->gid, c->gid,
						    c->gid) < 0)) {
		fprintf(stderr, "%s: --group: %s\n", prog, strerror(errno));
		return -EPERM;
	}
	if (c->uid != (uid_t)-1 &&
	    setresuid(c->uid, c->uid, c->uid) < 0) {
		fprintf(stderr, "%s: --user: %s\n", prog, strerror(errno));
		return -EPERM;
	}
	/* Root must not come back (a saved set-user-ID left behind). */
	if (c->uid != (uid_t)-1 && c->uid != 0 && setuid(0) == 0) {
		fprintf(stderr, "%s: --user: root could be regained\n", prog);
		return -EPERM;
	}
	return 0;
}
