#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Seed corpus for fuzz_vfio_user: the client messages of the stored
# vfio-user conversations (tests/data/vfio-user), minus VERSION (the
# target sends one itself), as raw byte streams. Run from this folder.
import glob
import os
import re
import struct

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "..", "..", "data", "vfio-user")
hdr = re.compile(r"> id (\d+) cmd (\d+) \S+ flags 0x([0-9a-f]+) error (\d+) size (\d+)")

for path in sorted(glob.glob(os.path.join(data, "*.txt"))):
    out, cur, body = [], None, b""
    for line in open(path):
        m = hdr.match(line)
        if m or line.startswith("<") or line.startswith("#"):
            if cur and cur[1] != 1:
                out.append(struct.pack("<HHIII", *cur) + body)
            cur, body = None, b""
        if m:
            i, c, f, e, s = m.groups()
            cur = (int(i), int(c), int(s), int(f, 16), int(e))
        elif cur and line.startswith("  ") and not line.startswith("  #"):
            body += bytes(int(b, 16) for b in line.split())
    if cur and cur[1] != 1:
        out.append(struct.pack("<HHIII", *cur) + body)
    name = os.path.splitext(os.path.basename(path))[0]
    with open(os.path.join(here, name), "wb") as f:
        f.write(b"".join(out))
