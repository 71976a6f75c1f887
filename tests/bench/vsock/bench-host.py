#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Host side of tests/bench/vsock/uml.sh: MB MiB to the guest's sink on port
5000 (CONNECT through UDS), the guest's MB MiB on UDS_5001, N connections
open+close to the guest's echo on 5002; prints BENCH lines."""
import os
import socket
import sys
import threading
import time

UDS, MB, N = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def connect(port, until):
    while time.monotonic() < until:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(UDS)
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    break
                line += b
            if line.startswith(b"OK "):
                return s
        except OSError:
            pass
        s.close()
        time.sleep(0.1)
    raise TimeoutError(port)


def g2h(lst, res):
    c, _ = lst.accept()
    t0, n = time.monotonic(), 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        n += len(b)
    res.append((n, time.monotonic() - t0))


path = "%s_5001" % UDS
if os.path.exists(path):
    os.unlink(path)
lst = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
lst.bind(path)
lst.listen(4)
res = []
t = threading.Thread(target=g2h, args=(lst, res), daemon=True)
t.start()
until = time.monotonic() + 300
s = connect(5000, until)
buf = bytes(1 << 16)
t0 = time.monotonic()
for _ in range((MB << 20) // len(buf)):
    s.sendall(buf)
s.shutdown(socket.SHUT_WR)
s.recv(1)  # EOF once the guest has read everything and closed
dt = time.monotonic() - t0
print("BENCH h2g %.1f MB/s (%d MiB in %.2f s)" % ((MB << 20) / dt / 1e6, MB,
                                                  dt), flush=True)
s.close()
t.join(300)
if res:
    print("BENCH g2h %.1f MB/s (%d MiB in %.2f s, host side)" %
          (res[0][0] / res[0][1] / 1e6, res[0][0] >> 20, res[0][1]),
          flush=True)
connect(5002, until).close()
t0 = time.monotonic()
for _ in range(N):
    c = connect(5002, until)
    c.close()
print("BENCH conn %.0f connections/s (%d)" % (N / (time.monotonic() - t0), N),
      flush=True)
connect(5003, until).sendall(b"DONE\n")
