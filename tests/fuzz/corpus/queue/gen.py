#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seed corpus of fuzz_queue (see the header of fuzz_queue.c for
# the input format): a few well-formed split and packed rings.
import os
import struct

BASE = 0x10000
D = os.path.dirname(os.path.abspath(__file__))
NEXT, WRITE, INDIRECT = 1, 2, 4
DESC, IND = 0x240, 0x1400  # RAM offsets of the ring and a table
AVAIL, USED = 1 << 7, 1 << 15


def image(hdr, writes):
    ram = bytearray(0x1500)
    for off, blob in writes:
        ram[off:off + len(blob)] = blob
    return bytes(hdr) + bytes(ram)


def sdesc(addr, ln, fl, nx):
    return struct.pack('<QIHH', addr, ln, fl, nx)


def pdesc(addr, ln, bid, fl):
    return struct.pack('<QIHH', addr, ln, bid, fl)


def split(flags, size_log, extra=()):
    w = [(DESC + 0x00, sdesc(BASE + 0x4000, 16, NEXT, 1)),
         (DESC + 0x10, sdesc(BASE + 0x4100, 32, WRITE, 0)),
         (DESC + 0x20, sdesc(BASE + 0x4200, 8, 0, 0)),
         (DESC + 0x30, sdesc(BASE + IND, 32, INDIRECT, 0)),
         (IND, sdesc(BASE + 0x4300, 4, NEXT, 1)),
         (IND + 0x10, sdesc(BASE + 0x4400, 64, WRITE, 0)),
         (0, struct.pack('<HHHHH', 0, 3, 0, 2, 3))]
    return image([flags, size_log, 4, 0, 0, 0, 2, 8], w + list(extra))


def packed(flags, size):
    w = [(DESC + 0x00, pdesc(BASE + 0x4000, 16, 0, NEXT | AVAIL)),
         (DESC + 0x10, pdesc(BASE + 0x4100, 32, 7, WRITE | AVAIL)),
         (DESC + 0x20, pdesc(BASE + IND, 32, 3, INDIRECT | AVAIL)),
         (DESC + 0x30, pdesc(BASE + 0x4200, 8, 1, AVAIL)),
         (IND, pdesc(BASE + 0x4300, 4, 0, 0)),
         (IND + 0x10, pdesc(BASE + 0x4400, 64, 0, WRITE))]
    return image([flags, size - 1, 4, 0, 0, 0, 1, 8], w)


seeds = {
    'split-basic': split(0x02, 3),
    'split-evidx-inorder': split(0x02 | 0x04 | 0x08 | 0x40, 3),
    'split-two-regions': split(0x02 | 0x10, 4),
    'split-no-indirect': split(0x00, 2),
    'packed-basic': packed(0x01 | 0x02, 8),
    'packed-evidx': packed(0x01 | 0x02 | 0x04 | 0x40, 4),
    'packed-two-regions': packed(0x01 | 0x02 | 0x10, 5),
    'split-remap': split(0x02 | 0x80, 3),
    'packed-remap': packed(0x01 | 0x02 | 0x80, 8),
}
for name, blob in seeds.items():
    with open(os.path.join(D, name), 'wb') as f:
        f.write(blob)
