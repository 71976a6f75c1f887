#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Seeds for fuzz_mmio: a driver's bring-up of queue 0 (split or packed)
# with one writable buffer made available, then a kick and an ack.
import os
import struct

here = os.path.dirname(os.path.abspath(__file__))


def acc(write, off, val=0, size=4):
    flags = (1 if write else 0) | ({1: 0, 2: 1, 4: 2, 8: 3}[size] << 1)
    return struct.pack('<BHBI', flags, off, 0, val)


def bringup(packed):
    ops = [acc(1, 0x70, 0), acc(1, 0x70, 1), acc(1, 0x70, 3),
           acc(0, 0x10), acc(1, 0x24, 0), acc(1, 0x20, 0),
           acc(1, 0x24, 1), acc(1, 0x20, 1 | (4 if packed else 0)),
           acc(1, 0x70, 11), acc(0, 0x70),
           acc(1, 0x30, 0), acc(1, 0x38, 8),
           acc(1, 0x80, 0x1000), acc(1, 0x84, 0),
           acc(1, 0x90, 0x2000), acc(1, 0x94, 0),
           acc(1, 0xa0, 0x3000), acc(1, 0xa4, 0),
           acc(1, 0x44, 1), acc(1, 0x70, 15),
           acc(1, 0x50, 0), acc(0, 0x60), acc(1, 0x64, 1),
           acc(0, 0x100, 0, 8), acc(1, 0x70, 0)]
    ram = bytearray(0x4000)
    if packed:
        # one writable descriptor, AVAIL set for wrap counter 1
        struct.pack_into('<QIHH', ram, 0x1000, 0x3800, 64, 0,
                         (1 << 7) | 2)
    else:
        struct.pack_into('<QIHH', ram, 0x1000, 0x3800, 64, 2, 0)
        struct.pack_into('<HHH', ram, 0x2000, 0, 1, 0)
    return struct.pack('<H', len(ops)) + b''.join(ops) + bytes(ram)


for name, packed in (('split-bringup', False), ('packed-bringup', True)):
    with open(os.path.join(here, name), 'wb') as f:
        f.write(bringup(packed))
