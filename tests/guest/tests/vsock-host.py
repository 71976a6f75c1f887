#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Host side of the vsock guest test (tests/vsock.sh), run while the guest
boots.  Through vdev-vsock's hybrid socket UDS:
  h2g     CONNECT 5000 (the guest's socat echo), MB random bytes out, the
          echo back; sha256 of both
  par     100 connections at once to the echo, 1000 distinct bytes each
  g2h     listens on UDS_5001, takes the guest's bytes, sha256 of them
  seq     listens on UDS_5002 (SOCK_SEQPACKET): 3 messages in, their sizes;
          3 messages (1, 3000, 30000 bytes) back
  done    CONNECT 5003: tells the guest the host is through
Prints "HOST <name> <result...>" lines on stdout.
"""
import hashlib
import os
import selectors
import socket
import sys
import threading
import time

UDS = sys.argv[1]
MB = int(sys.argv[2])
CASES = sys.argv[3].split(",") if len(sys.argv) > 3 else \
    ["h2g", "par", "g2h", "seq", "done"]
DEADLINE = time.monotonic() + float(os.environ.get("VSOCK_HOST_TIMEOUT", "600"))
out_lock = threading.Lock()


def say(*a):
    with out_lock:
        print("HOST", *a, flush=True)


def connect(port, tries_until=None):
    """CONNECT <port> until the guest accepts: (socket, leftover bytes)."""
    until = tries_until or DEADLINE
    while time.monotonic() < until:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(UDS)
            s.sendall(b"CONNECT %d\n" % port)
            line = b""
            while not line.endswith(b"\n") and len(line) < 64:
                b = s.recv(1)
                if not b:
                    break
                line += b
            if line.startswith(b"OK "):
                return s
        except OSError:
            pass
        s.close()
        time.sleep(0.2)
    raise TimeoutError("CONNECT %d: no OK" % port)


def h2g():
    try:
        s = connect(5000)
        s.setblocking(False)
        total = MB << 20
        sent_h, back_h = hashlib.sha256(), hashlib.sha256()
        sent = got = 0
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        pending = b""
        t0 = time.monotonic()
        while time.monotonic() < DEADLINE:
            for _, ev in sel.select(1):
                if ev & selectors.EVENT_WRITE:
                    if not pending and sent < total:
                        pending = os.urandom(min(1 << 16, total - sent))
                        sent_h.update(pending)
                        sent += len(pending)
                    if pending:
                        n = s.send(pending)
                        pending = pending[n:]
                    if not pending and sent >= total:
                        s.shutdown(socket.SHUT_WR)
                        sel.modify(s, selectors.EVENT_READ)
                if ev & selectors.EVENT_READ:
                    b = s.recv(1 << 16)
                    if not b:
                        raise EOFError
                    back_h.update(b)
                    got += len(b)
    except EOFError:
        pass
    except Exception as e:  # noqa: BLE001 - reported, not raised
        say("h2g", "FAIL", repr(e))
        return
    secs = time.monotonic() - t0
    ok = got == total and sent_h.hexdigest() == back_h.hexdigest()
    say("h2g", "PASS" if ok else "FAIL",
        "%d MiB echoed, sha256 %s, %.1f s" %
        (got >> 20, "equal" if ok else "differs (%d of %d bytes back)" %
         (got, total), secs))


def par():
    n = 100
    try:
        socks = []
        for i in range(n):
            socks.append(connect(5000))
        sel = selectors.DefaultSelector()
        want, got = {}, {}
        for i, s in enumerate(socks):
            data = bytes((i * 31 + j) & 0xff for j in range(1000)) + \
                b"%04d" % i
            want[s] = data
            got[s] = b""
            s.setblocking(False)
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            sel.register(s, selectors.EVENT_READ)
        done = 0
        while done < n and time.monotonic() < DEADLINE:
            for key, _ in sel.select(1):
                s = key.fileobj
                b = s.recv(4096)
                if b:
                    got[s] += b
                else:
                    sel.unregister(s)
                    done += 1
        bad = sum(1 for s in socks if got[s] != want[s])
        for s in socks:
            s.close()
        say("par", "PASS" if done == n and not bad else "FAIL",
            "%d connections, %d echoed back intact" % (n, n - bad))
    except Exception as e:  # noqa: BLE001
        say("par", "FAIL", repr(e))


def g2h(lst):
    try:
        lst.settimeout(max(1, DEADLINE - time.monotonic()))
        c, _ = lst.accept()
        c.settimeout(120)
        h = hashlib.sha256()
        n = 0
        while True:
            b = c.recv(1 << 16)
            if not b:
                break
            h.update(b)
            n += len(b)
        c.close()
        say("g2h", "SHA", h.hexdigest(), n)
    except Exception as e:  # noqa: BLE001
        say("g2h", "FAIL", repr(e))


def seq(lst):
    try:
        lst.settimeout(max(1, DEADLINE - time.monotonic()))
        c, _ = lst.accept()
        c.settimeout(60)
        sizes, bad = [], 0
        for k in range(3):
            m = c.recv(1 << 17)
            sizes.append(len(m))
            if m != bytes((k * 7 + i) & 0xff for i in range(len(m))):
                bad += 1
        for k, ln in enumerate((1, 3000, 30000)):
            c.send(bytes((k * 7 + i) & 0xff for i in range(ln)))
        c.recv(1)  # the guest closes
        c.close()
        ok = sizes == [1, 3000, 30000] and not bad
        say("seq", "PASS" if ok else "FAIL",
            "guest sent messages of %s bytes%s" %
            ("/".join(map(str, sizes)), "" if not bad else ", bytes differ"))
    except Exception as e:  # noqa: BLE001
        say("seq", "FAIL", repr(e))


def listen(port, typ):
    path = "%s_%d" % (UDS, port)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    s = socket.socket(socket.AF_UNIX, typ)
    s.bind(path)
    s.listen(16)
    return s


threads = []
if "g2h" in CASES:
    threads.append(threading.Thread(target=g2h,
                                    args=(listen(5001, socket.SOCK_STREAM),)))
if "seq" in CASES:
    threads.append(threading.Thread(
        target=seq, args=(listen(5002, socket.SOCK_SEQPACKET),)))
for t in threads:
    t.daemon = True
    t.start()
say("ready")
if "h2g" in CASES:
    h2g()
if "par" in CASES:
    par()
for t in threads:
    t.join(max(1, DEADLINE - time.monotonic()))
if "done" in CASES:
    try:
        s = connect(5003)
        s.sendall(b"DONE\n")
        s.close()
    except Exception as e:  # noqa: BLE001
        say("done", "FAIL", repr(e))
say("end")
