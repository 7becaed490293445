#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Robustness of the API server: concurrent clients, stalled and oversized
requests, bodies that are not JSON, garbage on the socket, socket paths that
exist or cannot be created, signals. Everything must be answered or refused
cleanly, the VMM must keep serving (checked after each abuse), and its socket
and runtime entry must be gone after it exits (also after SIGTERM).

No assertion on time: waits are bounded polls ("within 30 s").

  MVM=build/mvm GUESTS=build/guest tests/api/robust.py
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, Vmm, kvm_usable, request  # noqa: E402

MVM = os.path.abspath(os.environ.get("MVM", "build/mvm"))
GUESTS = os.path.abspath(os.environ.get("GUESTS", "build/guest"))
t = Tap()


def serving(vmm):
    try:
        st, _, data = vmm.req("GET", "/")
        return st == 200 and b'"id"' in data
    except OSError:
        return False


def raw(sock_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock_path)
    return s


def read_all(s):
    """What the server sends until it closes (or 30 s pass)."""
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return data, True
            data += d
    except (socket.timeout, ConnectionResetError):
        return data, False


def fault_of(data):
    body = data.split(b"\r\n\r\n", 1)[-1]
    try:
        return json.loads(body).get("fault_message")
    except ValueError:
        return None


def concurrent(vmm, n=64, booted=False):
    results = [None] * n
    go = threading.Barrier(n)

    def client(i):
        try:
            go.wait()
            if i % 4 == 0:
                st, _, _ = vmm.req("PATCH", "/machine-config", json.dumps({"mem_size_mib": 64 + i}))
                results[i] = st == (400 if booted else 204)  # pre-boot only
            elif i % 4 == 1:
                st, _, _ = vmm.req("PUT", "/machine-config", '{"vcpu_count": "x"}')
                results[i] = st == 400
            else:
                st, _, data = vmm.req("GET", "/machine-config")
                results[i] = st == 200 and "mem_size_mib" in json.loads(data)
        except Exception as e:  # noqa: BLE001 - reported below
            results[i] = repr(e)

    ths = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for th in ths:
        th.start()
    for th in ths:
        th.join(60)
    bad = [(i, r) for i, r in enumerate(results) if r is not True]
    t.ok(not bad, "%d concurrent clients are all answered correctly" % n, bad[:5])


def main():
    vmm = Vmm(MVM, "robust", extra=["--api-timeout", "2"])
    others = []
    try:
        t.ok(serving(vmm), "the VMM serves", vmm.errors())
        concurrent(vmm)
        t.ok(serving(vmm), "still serving after 64 concurrent clients")

        # More connections than the server takes (256): the rest are turned
        # away, nothing breaks, and it serves again once they are gone.
        burst = []

        def too_long(sig, frame):
            raise TimeoutError("connect blocked for 30 s")

        old_handler = signal.signal(signal.SIGALRM, too_long)
        signal.alarm(30)
        try:
            for _ in range(300):
                # A blocking connect waits while the listen backlog is full
                # (Python's timeout mode would fail at once on AF_UNIX).
                c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                c.connect(vmm.sock)
                burst.append(c)
        except OSError as e:
            print("# burst stopped: %r" % e)
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, old_handler)
        for s in burst:
            s.close()
        # The server frees its slots as it sees the closes: until then a new
        # connection may still be turned away (bounded wait, not a timing test).
        deadline = time.monotonic() + 10
        back = serving(vmm)
        while not back and time.monotonic() < deadline:
            time.sleep(0.05)
            back = serving(vmm)
        t.ok(len(burst) >= 256 and back,
             "a burst of %d idle connections (limit 256): serving again after" % len(burst))

        # Half a request, then silence: others are served meanwhile, and the
        # stalled connection is closed by the server's idle timeout.
        half_body = raw(vmm.sock)
        half_body.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                          b"Content-Length: 100\r\n\r\n{\"vcpu_count\"")
        half_head = raw(vmm.sock)
        half_head.sendall(b"GET /machine-config HTTP/1.1\r\nHost: x\r\nX-Half: ")
        t.ok(serving(vmm), "served while two clients stall mid-request")
        for name, s in [("half a body", half_body), ("half a header", half_head)]:
            data, closed = read_all(s)
            t.ok(closed, "a client stalled after %s is disconnected by the idle timeout" % name, data[:200])
            s.close()
        mc = json.loads(vmm.req("GET", "/machine-config")[2])
        t.ok(mc["vcpu_count"] == 1, "the stalled PUT changed nothing", mc)

        # 10 MiB bodies: with a Content-Length, and chunked.
        big = b"{" + b" " * (10 << 20) + b"}"
        s = raw(vmm.sock)
        s.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(big))
        try:
            s.sendall(big)
        except OSError:
            pass  # the server may close once it answered
        data, _ = read_all(s)
        s.close()
        t.ok(data.startswith(b"HTTP/1.1 413") and fault_of(data),
             "a 10 MiB body (Content-Length) -> 413 with fault_message", data[:200])
        st, _, data = request(vmm.sock, "PUT", "/machine-config", iter([big[i:i + 65536] for i in range(0, len(big), 65536)]),
                              {"Content-Type": "application/json"})  # no length: chunked
        t.ok(st == 413 and b"fault_message" in data, "a 10 MiB chunked body -> 413 with fault_message", st, data[:200])
        t.ok(serving(vmm), "still serving after 10 MiB bodies")

        for label, body in [("not JSON", b"hello, world"), ("binary", bytes(range(256))),
                            ("JSON with a NUL in a string", b'{"kernel_image_path": "a\\u0000b"}'),
                            ("deeply nested JSON", b"[" * 20000 + b"]" * 20000),
                            ("a huge number", b'{"vcpu_count": 1e999999, "mem_size_mib": 128}'),
                            ("duplicate keys", b'{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 128}')]:
            for url in ["/machine-config", "/boot-source"]:
                st, _, data = vmm.req("PUT", url, body)
                t.ok(st == 400 and b"fault_message" in data, "PUT %s with a body %s -> 400 with fault_message" % (url, label), st, data[:200])
        t.ok(serving(vmm), "still serving after bodies that are not valid")

        for label, junk in [("binary garbage", bytes(range(256)) * 4),
                            ("a request line without version", b"GET /\r\n\r\n"),
                            ("an unknown method", b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n"),
                            ("a 64 KiB header", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 65536 + b"\r\n\r\n")]:
            s = raw(vmm.sock)
            try:
                s.sendall(junk)
            except OSError:
                pass
            data, closed = read_all(s)
            s.close()
            t.ok(data.startswith(b"HTTP/1.1 4") or (closed and data == b""),
                 "%s is refused (4xx or closed)" % label, data[:120])
            t.ok(serving(vmm), "still serving after %s" % label)

        # Socket paths: exists as a file, in use, cannot be created, too long, stale.
        d = tempfile.mkdtemp(prefix="mvm-robust-")
        path_file = os.path.join(d, "file")
        open(path_file, "w").write("keep me")
        cases = [("an existing regular file", path_file, "not a socket"),
                 ("the socket of a live VMM", vmm.sock, "Failed to open the API socket at: %s. Check that it is not already used." % vmm.sock),
                 ("a directory that does not exist", os.path.join(d, "no/such/dir/api.sock"), "No such file"),
                 ("a path longer than sun_path", os.path.join(d, "x" * 120), "bytes long")]
        for label, path, why in cases:
            p = subprocess.run([MVM, "--api-sock", path, "--id", "second"], capture_output=True, text=True,
                               timeout=30, env=dict(os.environ, XDG_RUNTIME_DIR=vmm.rundir))
            t.ok(p.returncode == 1 and why in p.stderr, "--api-sock on %s: exit 1 saying '%s'" % (label, why),
                 p.returncode, p.stderr[-300:])
        t.ok(open(path_file).read() == "keep me", "the existing file is left alone")
        t.ok(serving(vmm), "the first VMM still serves after another tried its socket")
        stale = os.path.join(d, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.bind(stale)
        s.close()  # the file stays: a stale socket nobody listens on
        v2 = Vmm(MVM, "stale", sock=stale)
        others.append(v2)
        t.ok(serving(v2), "a stale socket file is replaced and served")
        v2.proc.send_signal(signal.SIGINT)
        rc = v2.wait(30)
        t.ok(rc == 130 and not os.path.exists(stale) and not os.path.exists(v2.entry()),
             "SIGINT before InstanceStart: exit 130, socket and runtime entry removed", rc)

        if not kvm_usable():
            # The same end without a guest: SIGTERM before InstanceStart.
            print("# SKIP booting the abused VMM: /dev/kvm is missing or not accessible")
            t.skipped += 1
            t.ok(serving(vmm), "the abused VMM still serves")
            vmm.proc.send_signal(signal.SIGTERM)
            rc = vmm.wait(30)
            t.ok(rc == 143, "SIGTERM before InstanceStart: exit 143 (128 + 15)", rc, vmm.errors()[-300:])
            t.ok(not os.path.exists(vmm.sock) and not os.path.exists(vmm.entry()),
                 "socket and runtime entry are gone after SIGTERM")
            return t.summary()
        # After all that the first VMM still boots a guest; SIGTERM ends it cleanly.
        st, _, data = vmm.req("PUT", "/boot-source", json.dumps({"kernel_image_path": os.path.join(GUESTS, "busy.elf")}))
        st2, _, data2 = vmm.req("PUT", "/actions", json.dumps({"action_type": "InstanceStart"}))
        t.ok(st == 204 and st2 == 204, "the abused VMM still boots a guest", data, data2)
        for _ in range(600):
            if "busy: spinning" in vmm.output():
                break
            time.sleep(0.05)
        concurrent(vmm, booted=True)
        t.ok(os.path.exists(vmm.sock) and os.path.exists(vmm.entry()), "socket and runtime entry exist while running")
        vmm.proc.send_signal(signal.SIGTERM)
        rc = vmm.wait(30)
        t.ok(rc == 143, "SIGTERM while running: exit 143 (128 + 15)", rc, vmm.errors()[-300:])
        t.ok(not os.path.exists(vmm.sock) and not os.path.exists(vmm.entry()),
             "socket and runtime entry are gone after SIGTERM")
    finally:
        vmm.close()
        for o in others:
            o.close()
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
