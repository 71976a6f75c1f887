#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seed corpus of fuzz_blk (see the header of fuzz_blk.c for the
# input format): one well-formed chain per request type, on each backend.
import os
import struct

D = os.path.dirname(os.path.abspath(__file__))
IN, OUT, FLUSH, GET_ID, DISCARD, WZ = 0, 1, 4, 8, 11, 13


def seed(name, flags, out_lens, in_lens, body):
    hdr = bytes([flags, len(out_lens) - 1, len(in_lens)])
    lens = b''.join(struct.pack('<H', n) for n in out_lens + in_lens)
    with open(os.path.join(D, name), 'wb') as f:
        f.write(hdr + lens + body)


def rh(t, sector):
    return struct.pack('<IIQ', t, 0, sector)


def seg(sector, n, flags=0):
    return struct.pack('<QII', sector, n, flags)


data = bytes(range(256)) * 4
for be, fl in (('ram', 0), ('file', 2)):
    seed('read-' + be, fl, [16], [1024, 1], rh(IN, 8))
    seed('write-' + be, fl, [16, 1024], [1], rh(OUT, 8) + data)
    seed('write-split-' + be, fl | 4, [16, 512, 512], [1],
         rh(OUT, 8) + data)
    seed('flush-' + be, fl, [16], [1], rh(FLUSH, 0))
    seed('get-id-' + be, fl, [16], [20, 1], rh(GET_ID, 0))
    seed('discard-' + be, fl, [16, 32], [1],
         rh(DISCARD, 0) + seg(8, 8) + seg(64, 16))
    seed('write-zeroes-' + be, fl, [16, 16], [1],
         rh(WZ, 0) + seg(8, 8, 1))
    seed('write-ro-' + be, fl | 1, [16, 512], [1], rh(OUT, 0) + data)
    seed('read-4k-' + be, fl | 8, [16], [4096, 1], rh(IN, 8))
seed('no-status', 0, [16], [], rh(IN, 0))
seed('short-header', 0, [8], [1], rh(IN, 0)[:8])
seed('unknown-type', 0, [16], [1], rh(99, 0))
