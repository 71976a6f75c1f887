#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Seeds for fuzz_vsock: records [flags][44-byte header][payload len][payload].
Run from this directory: ./gen.py"""
import struct


def rec(flags, op, typ=1, src=3, dst=2, sport=1, dport=1, flg=0,
        buf=65536, fwd=0, payload=b"", ln=None):
    ln = len(payload) if ln is None else ln
    h = struct.pack("<QQIIIHHIII", src, dst, sport, dport, ln, typ, op, flg,
                    buf, fwd)
    return bytes([flags]) + h + bytes([len(payload)]) + payload


seeds = {
    "request-rw-shutdown": rec(7, 1) + rec(7, 5, payload=b"hello") +
    rec(7, 4, flg=3),
    "request-seqpacket-eom": rec(7, 1, typ=2, dport=2) +
    rec(7, 5, typ=2, dport=2, flg=1, payload=b"msg") + rec(7, 3, typ=2,
                                                           dport=2),
    "unknown-rw": rec(3, 5, sport=9, dport=9, payload=b"x"),
    "credit": rec(7, 1) + rec(7, 7) + rec(7, 6, fwd=100),
    "bad-op-type": rec(3, 99) + rec(3, 1, typ=9),
    "len-lies": rec(3, 5, ln=1000, payload=b"ab") + rec(0, 2, ln=5),
    "response-to-host": rec(7, 2, sport=1, dport=1024),
    "over-credit": rec(7, 1, dport=1) + b"".join(
        rec(7, 5, payload=bytes(255)) for _ in range(20)),
    "sibling-cid": rec(1, 1, dst=77, dport=3),
}
for name, data in seeds.items():
    with open(name, "wb") as f:
        f.write(data)
