/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a daemon's tables say, written out: --help, the man page, a
 * Markdown table, --print-capabilities and the QEMU descriptor. All come
 * from the same option list (vdd_collect), so they cannot disagree.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <virtio/caps.h>
#include <virtio/daemon.h>

#include "daemon_internal.h"

#define HELP_COL 30
#define HELP_WIDTH 79

/* What help and man show after an option's own text. */
static void extras(const struct vdev_daemon_option *o, char *buf, size_t len)
{
	int n = 0;

	buf[0] = 0;
	if (o->def)
		n = snprintf(buf, len, " (default: %s)", o->def);
	if (n >= 0 && (size_t)n < len && (o->flags & VDEV_DAEMON_REPEAT))
		n += snprintf(buf + n, len - (size_t)n, " May be repeated.");
	if (n >= 0 && (size_t)n < len && (o->flags & VDEV_DAEMON_REQUIRED))
		snprintf(buf + n, len - (size_t)n, " Required.");
}

/* "-s, --socket-path PATH" */
static void synopsis(const struct vdev_daemon_option *o, char *buf,
		     size_t len)
{
	char ab[128];
	const char *arg = vdd_arg_name(o, ab, sizeof(ab));

	if (o->short_name)
		snprintf(buf, len, "-%c, --%s%s%s", o->short_name, o->name,
			 arg ? " " : "", arg ? arg : "");
	else
		snprintf(buf, len, "    --%s%s%s", o->name, arg ? " " : "",
			 arg ? arg : "");
}

/* Writes @text word-wrapped from column @col to HELP_WIDTH; the first
 * line continues where the cursor is (@at). */
static void wrap(FILE *f, const char *text, int col, int at)
{
	const char *p = text;

	while (*p) {
		size_t w;

		while (*p == ' ')
			p++;
		w = strcspn(p, " ");
		if (!w)
			break;
		if (at > col && at + 1 + (int)w > HELP_WIDTH) {
			fprintf(f, "\n%*s", col, "");
			at = col;
		}
		if (at > col) {
			fputc(' ', f);
			at++;
		}
		fwrite(p, 1, w, f);
		at += (int)w;
		p += w;
	}
	fputc('\n', f);
}

static void help_option(FILE *f, const struct vdev_daemon_option *o)
{
	char syn[160], ex[160], *text;
	size_t len;

	synopsis(o, syn, sizeof(syn));
	extras(o, ex, sizeof(ex));
	len = strlen(o->help) + strlen(ex) + 1;
	text = malloc(len);
	if (!text)
		return;
	snprintf(text, len, "%s%s", o->help, ex);
	fprintf(f, "  %s", syn);
	if (2 + (int)strlen(syn) + 2 > HELP_COL) {
		fprintf(f, "\n%*s", HELP_COL, "");
		wrap(f, text, HELP_COL, HELP_COL);
	} else {
		fprintf(f, "%*s", HELP_COL - 2 - (int)strlen(syn), "");
		wrap(f, text, HELP_COL, HELP_COL);
	}
	free(text);
}

static int finish(FILE *f)
{
	return fflush(f) || ferror(f) ? -EIO : 0;
}

static int write_help(const struct vdev_daemon *d, FILE *f)
{
	struct vdd_opt *v;
	size_t n;
	int r = vdd_collect(d, &v, &n);

	if (r < 0)
		return r;
	fprintf(f, "Usage: %s [OPTIONS]%s%s\n%s\n", d->name,
		d->operand ? " " : "", d->operand && d->operands ?
		d->operands : d->operand ? "ARG..." : "", d->summary);
	if (n > 0 && !v[n - 1].common) {
		fprintf(f, "\n%s options:\n", d->name);
		for (size_t i = 0; i < n; i++)
			if (!v[i].common)
				help_option(f, v[i].o);
	}
	if (d->operand && d->operands_help) {
		fprintf(f, "\nArguments:\n  %-*s", HELP_COL - 2,
			d->operands ? d->operands : "ARG...");
		wrap(f, d->operands_help, HELP_COL, HELP_COL);
	}
	fprintf(f, "\nCommon options:\n");
	for (size_t i = 0; i < n; i++)
		if (v[i].common)
			help_option(f, v[i].o);
	vdd_release(v);
	return finish(f);
}

/* ---- man(7) --------------------------------------------------------- */

/* Text for roff: backslashes and hyphens escaped, no control line. */
static void roff(FILE *f, const char *s)
{
	bool bol = true;

	for (; *s; s++) {
		if (bol && (*s == '.' || *s == '\''))
			fputs("\\&", f);
		bol = *s == '\n';
		if (*s == '\\')
			fputs("\\e", f);
		else if (*s == '-')
			fputs("\\-", f);
		else
			fputc(*s, f);
	}
}

static void man_option(FILE *f, const struct vdev_daemon_option *o)
{
	char ab[128], ex[160];
	const char *arg = vdd_arg_name(o, ab, sizeof(ab));

	fputs(".TP\n", f);
	if (o->short_name)
		fprintf(f, "\\fB\\-%c\\fR, ", o->short_name);
	fputs("\\fB\\-\\-", f);
	roff(f, o->name);
	fputs("\\fR", f);
	if (arg) {
		fputs(" \\fI", f);
		roff(f, arg);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	extras(o, ex, sizeof(ex));
	roff(f, o->help);
	roff(f, ex);
	fputc('\n', f);
}

static void upper(FILE *f, const char *s)
{
	for (; *s; s++) {
		char c = *s >= 'a' && *s <= 'z' ? (char)(*s - 'a' + 'A') : *s;

		if (c == '-')
			fputs("\\-", f);
		else
			fputc(c, f);
	}
}

/* Paragraphs separated by blank lines become .PP. */
static void paragraphs(FILE *f, const char *s)
{
	while (*s) {
		const char *end = strstr(s, "\n\n");
		size_t len = end ? (size_t)(end - s) : strlen(s);
		char *p = strndup(s, len);

		if (p) {
			fputs(".PP\n", f);
			roff(f, p);
			fputc('\n', f);
			free(p);
		}
		s += len;
		while (*s == '\n')
			s++;
	}
}

static int write_man(const struct vdev_daemon *d, FILE *f)
{
	struct vdd_opt *v;
	size_t n;
	int r = vdd_collect(d, &v, &n);

	if (r < 0)
		return r;
	fputs(".TH ", f);
	upper(f, d->name);
	fprintf(f, " 1 \"\" \"libvdev %s\" \"User Commands\"\n", vdev_version());
	fputs(".SH NAME\n", f);
	roff(f, d->name);
	fputs(" \\- ", f);
	roff(f, d->summary);
	fputs("\n.SH SYNOPSIS\n.B ", f);
	roff(f, d->name);
	fputs("\n[\\fIOPTIONS\\fR]", f);
	if (d->operand) {
		fputs(" \\fI", f);
		roff(f, d->operands ? d->operands : "ARG...");
		fputs("\\fR", f);
	}
	fputs("\n.SH DESCRIPTION\n", f);
	paragraphs(f, d->summary);
	if (d->description)
		paragraphs(f, d->description);
	paragraphs(f, "It serves one device per socket, through vhost-user by "
		      "default (--transport chooses another), and keeps each "
		      "device across frontend reconnects.");
	if (n > 0 && !v[n - 1].common) {
		fputs(".SH OPTIONS\n", f);
		for (size_t i = 0; i < n; i++)
			if (!v[i].common)
				man_option(f, v[i].o);
	}
	if (d->operand && d->operands_help) {
		fputs(".SH ARGUMENTS\n.TP\n\\fI", f);
		roff(f, d->operands ? d->operands : "ARG...");
		fputs("\\fR\n", f);
		roff(f, d->operands_help);
		fputc('\n', f);
	}
	fputs(".SH COMMON OPTIONS\n", f);
	for (size_t i = 0; i < n; i++)
		if (v[i].common)
			man_option(f, v[i].o);
	fputs(".SH SIGNALS\n", f);
	roff(f, "SIGINT, SIGTERM and SIGHUP stop the daemon: connections "
		"are closed, the sockets it created are removed, and it "
		"exits with status 0. SIGUSR1 writes each queue's counters "
		"(requests, bytes read and written, errors, interrupts) to "
		"the log.\n");
	fputs(".SH EXIT STATUS\n", f);
	roff(f, "0 after a clean stop, --help, --version or a --print "
		"option; 1 on a bad command line, or when a device, socket "
		"or transport failed.\n");
	fputs(".SH ENVIRONMENT\n.TP\n.B VDEV_VHOST_USER_CAPTURE\n", f);
	roff(f, "A file every vhost-user message is appended to, as text.\n");
	fputs(".TP\n.B VDEV_VFIO_USER_CAPTURE\n", f);
	roff(f, "The same for vfio-user messages.\n");
	fputs(".SH SEE ALSO\n", f);
	roff(f, "qemu-system-x86_64(1); QEMU's docs/interop/vhost-user.rst; "
		"libvdev's include/virtio/daemon.h.\n");
	vdd_release(v);
	return finish(f);
}

/* ---- Markdown ------------------------------------------------------- */

static void md(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputs("\\|", f);
		else if (*s == '\n')
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

static void md_table(FILE *f, const struct vdd_opt *v, size_t n, bool common)
{
	fputs("| option | argument | default | description |\n"
	      "|---|---|---|---|\n", f);
	for (size_t i = 0; i < n; i++) {
		const struct vdev_daemon_option *o = v[i].o;
		char ab[128];
		const char *arg = vdd_arg_name(o, ab, sizeof(ab));

		if (v[i].common != common)
			continue;
		fputs("| ", f);
		if (o->short_name)
			fprintf(f, "`-%c`, ", o->short_name);
		fprintf(f, "`--%s` | ", o->name);
		if (arg) {
			fputc('`', f);
			md(f, arg);
			fputc('`', f);
		}
		fputs(" | ", f);
		if (o->def) {
			fputc('`', f);
			md(f, o->def);
			fputc('`', f);
		}
		fputs(" | ", f);
		md(f, o->help);
		if (o->flags & VDEV_DAEMON_REPEAT)
			fputs(" May be repeated.", f);
		if (o->flags & VDEV_DAEMON_REQUIRED)
			fputs(" Required.", f);
		fputs(" |\n", f);
	}
}

static int write_markdown(const struct vdev_daemon *d, FILE *f)
{
	struct vdd_opt *v;
	size_t n;
	int r = vdd_collect(d, &v, &n);

	if (r < 0)
		return r;
	fprintf(f, "### %s\n\n", d->name);
	md(f, d->summary);
	fputs("\n\n", f);
	if (n > 0 && !v[n - 1].common) {
		md_table(f, v, n, false);
		fputc('\n', f);
	}
	if (d->operand && d->operands_help) {
		fprintf(f, "Arguments: `%s`: ",
			d->operands ? d->operands : "ARG...");
		md(f, d->operands_help);
		fputs("\n\n", f);
	}
	fputs("Common options:\n\n", f);
	md_table(f, v, n, true);
	vdd_release(v);
	return finish(f);
}

/* ---- JSON ------------------------------------------------------------ */

void vdd_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static int write_capabilities(const struct vdev_daemon *d, FILE *f)
{
	struct vdd_opt *v;
	size_t n;
	unsigned k = 0;
	int r = vdd_collect(d, &v, &n);

	if (r < 0)
		return r;
	fputs("{\n  \"type\": ", f);
	vdd_json_str(f, d->type ? d->type : "");
	/* vhost-user.rst defines "features" per back-end type (block,
	 * gpu, input); a daemon with no capability option has none to
	 * list, and an empty array is not in the schema either. */
	for (size_t i = 0; i < n; i++) {
		if (!(v[i].o->flags & VDEV_DAEMON_CAPABILITY))
			continue;
		fputs(k++ ? ",\n    " : ",\n  \"features\": [\n    ", f);
		vdd_json_str(f, v[i].o->name);
	}
	fputs(k ? "\n  ]\n}\n" : "\n}\n", f);
	vdd_release(v);
	return finish(f);
}

static int write_qemu_json(const struct vdev_daemon *d,
				const char *binary, FILE *f)
{
	struct vdd_opt *v;
	size_t n;
	int r;

	if (!binary || binary[0] != '/') {
		fprintf(stderr, "%s: the descriptor needs the program's "
			"absolute path\n", d && d->name ? d->name : "daemon");
		return -EINVAL;
	}
	/* Only to check the tables: a descriptor of a broken daemon would
	 * send QEMU to a program that cannot start. */
	r = vdd_collect(d, &v, &n);
	if (r < 0)
		return r;
	vdd_release(v);
	if (!d->type) {
		fprintf(stderr, "%s: no back-end type for a descriptor\n",
			d->name);
		return -EINVAL;
	}
	fputs("{\n  \"description\": ", f);
	vdd_json_str(f, d->summary);
	fputs(",\n  \"type\": ", f);
	vdd_json_str(f, d->type);
	fputs(",\n  \"binary\": ", f);
	vdd_json_str(f, binary);
	fputs("\n}\n", f);
	return finish(f);
}

/* Each document from the table at the sizes the program was compiled
 * with (sized.c). */
#define WRITE_SIZED(name, ...)                                              \
	do {                                                                \
		struct vdev_daemon c;                                       \
		struct vdev_daemon_option *o;                               \
		int r = vdd_daemon_in(d, dsize, osize, &c, &o);             \
                                                                            \
		if (!r)                                                     \
			r = name(&c, __VA_ARGS__);                          \
		free(o);                                                    \
		return r;                                                   \
	} while (0)

int (vdev_daemon_write_help)(const struct vdev_daemon *d, FILE *f,
			    size_t dsize, size_t osize)
{
	WRITE_SIZED(write_help, f);
}

int (vdev_daemon_write_man)(const struct vdev_daemon *d, FILE *f, size_t dsize,
			   size_t osize)
{
	WRITE_SIZED(write_man, f);
}

int (vdev_daemon_write_markdown)(const struct vdev_daemon *d, FILE *f,
				size_t dsize, size_t osize)
{
	WRITE_SIZED(write_markdown, f);
}

int (vdev_daemon_write_capabilities)(const struct vdev_daemon *d, FILE *f,
				    size_t dsize, size_t osize)
{
	WRITE_SIZED(write_capabilities, f);
}

int (vdev_daemon_write_qemu_json)(const struct vdev_daemon *d,
				 const char *binary, FILE *f, size_t dsize,
				 size_t osize)
{
	WRITE_SIZED(write_qemu_json, binary, f);
}
