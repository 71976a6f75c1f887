#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Seeds for fuzz_vhost_user (record format in tests/fuzz/fuzz_vhost_user.c):
# a complete split-ring bring-up in the 1 MiB memfd the fuzzer attaches,
# so mutations start from a running ring. qemu-7.2-rng is
# tests/data/vhost-user/qemu-rng.txt turned into records.
import struct, sys, os

UVA = 0x7f0000000000

def rec(req, payload=b'', nfds=0, memfd=False, flags=1):
    return bytes([nfds | (16 if memfd else 0)]) + \
        struct.pack('<III', req, flags, len(payload)) + payload

def u64(v):
    return struct.pack('<Q', v)

def state(i, n):
    return struct.pack('<II', i, n)

out = b''.join([
    rec(3),                                         # SET_OWNER
    rec(1),                                         # GET_FEATURES
    rec(15),                                        # GET_PROTOCOL_FEATURES
    rec(16, u64(1 << 3)),                           # SET_PROTOCOL_FEATURES: REPLY_ACK
    rec(2, u64((1 << 32) | (1 << 30))),             # SET_FEATURES
    rec(5, struct.pack('<II', 1, 0) +               # SET_MEM_TABLE
        struct.pack('<QQQQ', 0, 1 << 20, UVA, 0), nfds=1, memfd=True,
        flags=9),
    rec(8, state(0, 16)),                           # SET_VRING_NUM
    rec(10, state(0, 0)),                           # SET_VRING_BASE
    rec(9, struct.pack('<IIQQQQ', 0, 0, UVA, UVA + 0x2000, UVA + 0x1000,
                       0)),                         # SET_VRING_ADDR
    rec(13, u64(0), nfds=1),                        # SET_VRING_CALL
    rec(12, u64(0), nfds=1),                        # SET_VRING_KICK
    rec(18, state(0, 1)),                           # SET_VRING_ENABLE
    rec(11, state(0, 0)),                           # GET_VRING_BASE
])
d = os.path.dirname(os.path.abspath(sys.argv[0]))
with open(os.path.join(d, 'split-bringup'), 'wb') as f:
    f.write(out)
