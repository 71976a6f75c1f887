#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Writes the seed corpus of fuzz_scsi (see the header of fuzz_scsi.c for
# the input format): one well-formed request per command the device knows,
# a few malformed ones, and control-queue requests.
import os
import struct

D = os.path.dirname(os.path.abspath(__file__))


def lun(n=0, target=0):
    return bytes([1, target, 0x40 | (n >> 8), n & 0xff, 0, 0, 0, 0])


def req(cdb, data=b'', n=0, target=0, cdb_size=32):
    cdb = bytes(cdb).ljust(cdb_size, b'\0')
    return lun(n, target) + struct.pack('<QBBB', 1, 0, 0, 0) + cdb + data


def seed(name, body, flags=0, in_len=108 + 4096, nout=1, nin=2,
         cdb_size=32, sense=96, lunsel=0):
    hdr = bytes([flags, cdb_size, sense, lunsel, nout - 1, nin,
                 in_len & 0xff, in_len >> 8])
    with open(os.path.join(D, name), 'wb') as f:
        f.write(hdr + body)


def be16(v):
    return struct.pack('>H', v)


def be32(v):
    return struct.pack('>I', v)


def be64(v):
    return struct.pack('>Q', v)


blk = bytes(range(256)) * 2
seed('tur', req([0]), in_len=108, nin=1)
seed('inquiry', req([0x12, 0, 0, 0, 96]))
for page in (0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2):
    seed('vpd-%02x' % page, req([0x12, 1, page, 0, 255]))
seed('inquiry-nolun', req([0x12, 0, 0, 0, 96], n=9))
seed('report-luns', req([0xa0, 0, 0, 0, 0, 0] + list(be32(64)) + [0, 0]))
seed('request-sense', req([0x03, 0, 0, 0, 252]))
seed('read-capacity-10', req([0x25]))
seed('read-capacity-16', req([0x9e, 0x10] + [0] * 8 + list(be32(32))))
seed('mode-sense-6', req([0x1a, 0, 0x3f, 0, 255]))
seed('mode-sense-10', req([0x5a, 0x08, 0x08, 0] + [0] * 3 + list(be16(255))))
seed('read-6', req([0x08, 0, 0, 4, 2]), in_len=108 + 1024, nin=3)
seed('read-10', req([0x28, 0] + list(be32(8)) + [0] + list(be16(4))),
     nin=4)
seed('read-12', req([0xa8, 0] + list(be32(8)) + list(be32(2))))
seed('read-16', req([0x88, 0] + list(be64(100)) + list(be32(2))))
seed('write-6', req([0x0a, 0, 0, 4, 1], blk), in_len=108, nin=1, nout=2)
seed('write-10', req([0x2a, 0] + list(be32(3)) + [0] + list(be16(1)),
                     blk), in_len=108, nin=1, nout=3)
seed('write-12', req([0xaa, 0] + list(be32(3)) + list(be32(1)), blk),
     in_len=108, nin=1)
seed('write-16-fua', req([0x8a, 0x08] + list(be64(3)) + list(be32(1)),
                         blk), in_len=108, nin=1)
seed('write-ro', req([0x2a, 0] + list(be32(3)) + [0] + list(be16(1)),
                     blk), flags=2, in_len=108, nin=1)
seed('write-4k', req([0x2a, 0] + list(be32(3)) + [0] + list(be16(1)),
                     blk * 8), flags=8, in_len=108, nin=1)
seed('sync-cache-10', req([0x35]), in_len=108, nin=1)
seed('sync-cache-16', req([0x91]), in_len=108, nin=1)
unmap = be16(22) + be16(16) + b'\0' * 4 + be64(4) + be32(8) + b'\0' * 4
seed('unmap', req([0x42] + [0] * 6 + list(be16(len(unmap))), unmap),
     in_len=108, nin=1)
seed('write-same', req([0x93, 0x08] + list(be64(10)) + list(be32(4)),
                       bytes(512)), in_len=108, nin=1)
seed('write-same-pattern', req([0x93, 0] + list(be64(10)) + list(be32(4)),
                               blk), in_len=108, nin=1)
seed('unknown-opcode', req([0xc0]), in_len=108, nin=1)
seed('bad-target', req([0x12, 0, 0, 0, 36], target=1))
seed('short-header', req([0])[:40], in_len=108, nin=1)
seed('cdb16-sense8', req([0x88, 0] + list(be64(0)) + list(be32(1)),
                         cdb_size=16), flags=4, cdb_size=16, sense=8,
     in_len=20 + 512)
seed('lun-forced', req([0x12, 0, 0, 0, 36]), flags=16, lunsel=1)
# control queue
tmf = struct.pack('<II', 0, 5) + lun(0) + struct.pack('<Q', 0)
seed('ctrl-lun-reset', tmf, flags=1, in_len=1, nin=1)
tmf = struct.pack('<II', 0, 4) + lun(0) + struct.pack('<Q', 0)
seed('ctrl-nexus-reset', tmf, flags=1, in_len=1, nin=1)
an = struct.pack('<I', 1) + lun(0) + struct.pack('<I', 0x54)
seed('ctrl-an-query', an, flags=1, in_len=5, nin=1)
