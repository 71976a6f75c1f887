/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Volume on the companded formats (ITU-T G.711 mu-law and A-law): a
 * sample is expanded to 16-bit linear, scaled, and compressed again, with
 * the segment tables of G.711 (the same values as the classic Sun
 * g711.c, and so as Python's audioop, that the unit test's expectations
 * were taken from).
 */
#include "sound_int.h"

#define ULAW_BIAS 0x84   /* 132: mu-law's offset, in 16-bit units */
#define ULAW_BIAS14 0x21 /* the same in 14-bit units */
#define ULAW_CLIP14 8159 /* largest 14-bit magnitude mu-law encodes */

static int ulaw_decode(uint8_t u)
{
	unsigned v = (uint8_t)~u;
	int exp = (v >> 4) & 7, mant = v & 0x0f;
	int x = (((mant << 3) + ULAW_BIAS) << exp) - ULAW_BIAS;

	return (v & 0x80) ? -x : x;
}

/* Index of the highest set bit of @x among bits 0..15; -1 for 0. */
static int top_bit(unsigned x)
{
	int b = -1;

	while (x) {
		b++;
		x >>= 1;
	}
	return b;
}

/* As the reference: the 16-bit value goes to 14 bits first, rounding
 * toward minus infinity (a negative sample loses a step of magnitude less
 * than a positive one does). */
static uint8_t ulaw_encode(int x)
{
	unsigned sign = 0, m;
	int exp;

	x = x < 0 ? -((-x + 3) / 4) : x / 4;
	if (x < 0) {
		sign = 0x80;
		x = -x;
	}
	if (x > ULAW_CLIP14)
		x = ULAW_CLIP14;
	m = (unsigned)x + ULAW_BIAS14; /* 33 .. 8191: bits 5..12 */
	exp = top_bit(m) - 5;
	return (uint8_t)~(sign | (unsigned)exp << 4 |
			  ((m >> (exp + 1)) & 0x0f));
}

static int alaw_decode(uint8_t a)
{
	unsigned v = a ^ 0x55;
	int seg = (v >> 4) & 7;
	int t = (int)(v & 0x0f) << 4;

	t += seg ? 0x108 : 8;
	if (seg > 1)
		t <<= seg - 1;
	return (v & 0x80) ? t : -t;
}

static uint8_t alaw_encode(int x)
{
	unsigned mask, v, aval;
	int seg;

	x = x < 0 ? -((-x + 7) / 8) : x / 8; /* 13 bits, as >> 3 */
	if (x >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		x = -x - 1;
	}
	v = (unsigned)x;
	seg = top_bit(v | 0x1f) - 4; /* 0..7 for 0 .. 0xfff */
	if (seg >= 8)
		return (uint8_t)(0x7f ^ mask);
	aval = (unsigned)seg << 4;
	aval |= (v >> (seg < 2 ? 1 : seg)) & 0x0f;
	return (uint8_t)(aval ^ mask);
}

uint8_t snd_g711_scale(unsigned format, uint8_t sample, unsigned pct)
{
	bool mu = format == VDEV_SND_FMT_MU_LAW;
	int x = mu ? ulaw_decode(sample) : alaw_decode(sample);

	/* toward zero, as the linear formats */
	x = x * (int)pct / (int)SND_VOL_MAX;
	return mu ? ulaw_encode(x) : alaw_encode(x);
}
