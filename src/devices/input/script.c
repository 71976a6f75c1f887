/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The scripted source's text format: evemu's (what evemu-describe and
 * evemu-record print, so a recording of a real device replays as is),
 * one item per line:
 *   # comment
 *   N: NAME                       device name
 *   I: BUS VENDOR PRODUCT VERSION hexadecimal ids
 *   P: XX XX ...                  property bitmap bytes, appended
 *   B: TT XX XX ...               bitmap bytes of event type TT, appended
 *   A: AA MIN MAX FUZZ FLAT [RES] axis AA (hexadecimal) range, decimal
 *   E: SEC.USEC TTTT CCCC VALUE   an event: type, code hex; value decimal
 * and two lines of our own, for descriptions written by hand:
 *   U: SERIAL                     the serial (evdev's "uniq")
 *   K: TT CCCC CCCC ...           codes of event type TT (hexadecimal)
 * Anything else is an error with its line number: a description that
 * says something we do not understand must not start a wrong device.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_internal.h"

/* Next whitespace-separated token as an unsigned number in @base. */
static int num(const char **p, int base, uint64_t max, uint64_t *out)
{
	const char *s = *p;
	char *end;
	unsigned long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isxdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || end == s || v > max ||
	    (*end && *end != ' ' && *end != '\t' && *end != '.'))
		return -1;
	*out = v;
	*p = end;
	return 0;
}

/* A signed decimal int32. */
static int snum(const char **p, int32_t *out)
{
	const char *s = *p;
	char *end;
	long long v;

	while (*s == ' ' || *s == '\t')
		s++;
	if (*s != '-' && !isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || v < INT32_MIN || v > INT32_MAX ||
	    (*end && *end != ' ' && *end != '\t'))
		return -1;
	*out = (int32_t)v;
	*p = end;
	return 0;
}

static bool at_end(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return !*p || *p == '#';
}

int input_parse_event(const char *line, struct input_timed_event *e)
{
	const char *p = line;
	uint64_t sec, usec, type, code;

	if (strncmp(p, "E:", 2))
		return -EBADMSG;
	p += 2;
	if (num(&p, 10, UINT32_MAX, &sec) || *p++ != '.' ||
	    num(&p, 10, 999999, &usec) || num(&p, 16, 0xffff, &type) ||
	    num(&p, 16, 0xffff, &code) || snum(&p, &e->value) || !at_end(p))
		return -EBADMSG;
	e->us = sec * 1000000u + usec;
	e->type = (uint16_t)type;
	e->code = (uint16_t)code;
	return 0;
}

/* The rest of the line, trailing blanks cut, into a string field. */
static void text(char *dst, const char *p)
{
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	n = strnlen(p, VDEV_INPUT_STR_MAX);
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	memcpy(dst, p, n);
	dst[n] = 0;
}

/* Hex bytes appended to @map at *@fill. */
static int bytes(const char *p, uint8_t *map, unsigned *fill)
{
	uint64_t v;

	while (!at_end(p)) {
		if (*fill >= VDEV_INPUT_BITS || num(&p, 16, 0xff, &v))
			return -1;
		map[(*fill)++] = (uint8_t)v;
	}
	return 0;
}

struct parser {
	struct input_script *s;
	unsigned prop_fill, bits_fill[VDEV_INPUT_EV_CNT];
};

static int add_event(struct input_script *s, const struct input_timed_event *e)
{
	if (s->n == s->alloc) {
		size_t a = s->alloc ? s->alloc * 2 : 64;
		void *n;

		if (s->n >= INPUT_SCRIPT_EVENTS_MAX)
			return -E2BIG;
		if (a > INPUT_SCRIPT_EVENTS_MAX)
			a = INPUT_SCRIPT_EVENTS_MAX;
		n = realloc(s->ev, a * sizeof(*s->ev));
		if (!n)
			return -ENOMEM;
		s->ev = n;
		s->alloc = a;
	}
	s->ev[s->n++] = *e;
	return 0;
}

/* One line (NUL-terminated, no newline): 0, -EBADMSG with @why. */
static int line(struct parser *ps, const char *l, const char **why)
{
	struct vdev_input_caps *c = &ps->s->caps;
	const char *p = l + 2;
	uint64_t v[4];
	int32_t a[5];

	while (*l == ' ' || *l == '\t')
		l++;
	if (at_end(l))
		return 0;
	p = l + 2;
	if (l[0] && l[1] != ':') {
		*why = "not an evemu line (\"X: ...\")";
		return -EBADMSG;
	}
	switch (l[0]) {
	case 'N':
		text(c->name, p);
		return 0;
	case 'U':
		text(c->serial, p);
		return 0;
	case 'I':
		for (int i = 0; i < 4; i++)
			if (num(&p, 16, 0xffff, &v[i])) {
				*why = "I: takes four hexadecimal ids";
				return -EBADMSG;
			}
		if (!at_end(p))
			break;
		c->bustype = (uint16_t)v[0];
		c->vendor = (uint16_t)v[1];
		c->product = (uint16_t)v[2];
		c->version = (uint16_t)v[3];
		return 0;
	case 'P':
		if (bytes(p, c->props, &ps->prop_fill)) {
			*why = "P: takes hexadecimal bytes, 128 at most";
			return -EBADMSG;
		}
		return 0;
	case 'B':
		if (num(&p, 16, VDEV_INPUT_EV_CNT - 1, &v[0]) ||
		    bytes(p, c->bits[v[0]], &ps->bits_fill[v[0]])) {
			*why = "B: takes a type below 0x20 and hexadecimal "
			       "bytes, 128 at most";
			return -EBADMSG;
		}
		return 0;
	case 'K':
		if (num(&p, 16, VDEV_INPUT_EV_CNT - 1, &v[0]) ||
		    v[0] == VDEV_INPUT_EV_SYN) {
			*why = "K: takes a type from 0x01 to 0x1f";
			return -EBADMSG;
		}
		while (!at_end(p)) {
			if (num(&p, 16, VDEV_INPUT_BITS * 8 - 1, &v[1])) {
				*why = "K: codes are hexadecimal, below 0x400";
				return -EBADMSG;
			}
			vdev_input_caps_set(c, (unsigned)v[0], (unsigned)v[1]);
		}
		return 0;
	case 'A':
		if (num(&p, 16, VDEV_INPUT_ABS_CNT - 1, &v[0])) {
			*why = "A: takes an axis below 0x40";
			return -EBADMSG;
		}
		a[4] = 0;
		for (int i = 0; i < 5; i++) {
			if (i == 4 && at_end(p))
				break;
			if (snum(&p, &a[i])) {
				*why = "A: takes MIN MAX FUZZ FLAT [RES]";
				return -EBADMSG;
			}
		}
		if (!at_end(p))
			break;
		c->abs[v[0]] = (struct vdev_input_absinfo){
			a[0], a[1], a[2], a[3], a[4] };
		vdev_input_caps_set(c, VDEV_INPUT_EV_ABS, (unsigned)v[0]);
		return 0;
	case 'E': {
		struct input_timed_event e;
		int r;

		if (input_parse_event(l, &e)) {
			*why = "E: takes SEC.USEC TYPE CODE VALUE";
			return -EBADMSG;
		}
		r = add_event(ps->s, &e);
		if (r == -E2BIG)
			*why = "too many events";
		return r;
	}
	default:
		*why = "unknown line type";
		return -EBADMSG;
	}
	*why = "trailing characters";
	return -EBADMSG;
}

int input_script_parse(struct input_script *s, const char *t, size_t len,
		       char *err, size_t errlen)
{
	struct parser ps = { .s = s };
	char buf[INPUT_LINE_MAX + 1];
	unsigned lineno = 0;
	size_t i = 0;

	memset(s, 0, sizeof(*s));
	while (i < len) {
		const char *why = NULL;
		size_t n = 0;
		int r;

		lineno++;
		while (i < len && t[i] != '\n') {
			if (n == INPUT_LINE_MAX || !t[i]) {
				why = t[i] ? "line too long" : "NUL byte";
				break;
			}
			buf[n++] = t[i++];
		}
		if (!why) {
			if (n && buf[n - 1] == '\r')
				n--;
			buf[n] = 0;
			i++; /* the newline */
			r = line(&ps, buf, &why);
		} else {
			r = -EBADMSG;
		}
		if (r) {
			if (err && errlen)
				snprintf(err, errlen, "line %u: %s", lineno,
					 why ? why : strerror(-r));
			input_script_free(s);
			return r;
		}
	}
	return 0;
}

void input_script_free(struct input_script *s)
{
	free(s->ev);
	s->ev = NULL;
	s->n = s->alloc = 0;
}
