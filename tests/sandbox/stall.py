#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Readers that stop reading cannot hang the VMM (DESIGN.md section 4): stdout
and stderr on a pipe that is already full and never read, a log FIFO and a
metrics FIFO the same. In each case the API keeps answering every request
at once while lines are lost, and SIGTERM still ends the process within
seconds (the metrics line written at exit included). Before InstanceStart:
no KVM needed.

  MVM=build/mvm tests/sandbox/stall.py
"""
import errno
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MVM = os.path.abspath(os.environ.get("MVM", "build/mvm"))
REQUESTS = 200
passed = failed = 0


def ok(cond, name, *why):
    global passed, failed
    if cond:
        passed += 1
        print("ok - " + name)
    else:
        failed += 1
        print("not ok - " + name)
        for w in why:
            print("#   " + str(w)[:300])
    sys.stdout.flush()


class Stalled:
    """A FIFO with a reader that never reads, filled to capacity by a writer of its own."""

    def __init__(self, path):
        os.mkfifo(path)
        self.path = path
        self.reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.filler = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self.fill()

    def fill(self):
        chunk = b"x" * 4096
        while True:
            try:
                os.write(self.filler, chunk)
            except OSError as e:
                if e.errno != errno.EAGAIN:
                    raise
                break
        # A last partial page: not even one more byte fits.
        try:
            while os.write(self.filler, b"y"):
                pass
        except OSError as e:
            if e.errno != errno.EAGAIN:
                raise

    def full(self):
        try:
            os.write(self.filler, b"z")
            return False
        except BlockingIOError:
            return True

    def close(self):
        os.close(self.filler)
        os.close(self.reader)


def get(sock, url, timeout):
    """(status, seconds) of one GET on a fresh connection; status 0 on timeout/error."""
    t0 = time.monotonic()
    c = http.client.HTTPConnection("localhost", timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        c.sock = s
        c.request("GET", url)
        st = c.getresponse().status
    except OSError:
        st = 0
    finally:
        c.close()
    return st, time.monotonic() - t0


def put(sock, url, body, timeout=5):
    c = http.client.HTTPConnection("localhost", timeout=timeout)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        c.sock = s
        c.request("PUT", url, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        return r.status, r.read()
    except OSError as e:
        return 0, str(e).encode()
    finally:
        c.close()


def wait_socket(path, p, limit=10):
    end = time.monotonic() + limit
    while time.monotonic() < end and p.poll() is None:
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def hammer(sock):
    """REQUESTS requests that each log lines (unknown paths: Error lines at any level):
    the slowest answer, in seconds, and how many were not answered."""
    worst, lost = 0.0, 0
    for i in range(REQUESTS):
        st, dt = get(sock, "/stall-%d-%s" % (i, "x" * 200), 3)
        worst = max(worst, dt)
        lost += st != 400
    st, dt = get(sock, "/", 3)
    return max(worst, dt), lost + (st != 200)


def sigterm_within(p, secs):
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(secs)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None


def case(tmp, name, out_fifo=None, route=None, field=None, sink=None):
    sock = os.path.join(tmp, name + ".sock")
    if out_fifo:
        out = open(out_fifo.path, "wb")  # blocking, as a shell redirection opens it
    else:
        out = open(os.path.join(tmp, name + ".out"), "wb")
    env = dict(os.environ, XDG_RUNTIME_DIR=tmp)
    p = subprocess.Popen([MVM, "--api-sock", sock, "--id", name, "-v", "-v"], stdin=subprocess.DEVNULL,
                         stdout=out, stderr=out, env=env)
    out.close()
    try:
        if not wait_socket(sock, p):
            ok(False, "%s: the VMM serves its socket" % name, p.poll())
            return
        if route:
            st, body = put(sock, route, '{"%s": "%s", "level": "Debug"}' % (field, sink.path) if field == "log_path"
                           else '{"%s": "%s"}' % (field, sink.path))
            ok(st == 204, "%s: PUT %s to a FIFO whose reader never reads -> 204" % (name, route), st, body)
        worst, lost = hammer(sock)
        ok(lost == 0 and worst < 2.0,
           "%s: %d requests while every line is lost: all answered, the slowest in %.2f s" %
           (name, REQUESTS, worst), "lost %d" % lost)
        full = (out_fifo or sink).full()
        ok(full, "%s: the reader's pipe is still full (nothing drained it)" % name)
    finally:
        st = sigterm_within(p, 5)
    ok(st == 143, "%s: SIGTERM ends the VMM within 5 s (exit 143)" % name, st)


def main():
    tmp = tempfile.mkdtemp(prefix="mvm-stall-")
    try:
        out = Stalled(os.path.join(tmp, "out.fifo"))
        case(tmp, "stdout", out_fifo=out)
        out.close()
        log = Stalled(os.path.join(tmp, "log.fifo"))
        case(tmp, "logfifo", route="/logger", field="log_path", sink=log)
        log.close()
        # The metrics line is written at exit, into a FIFO already full.
        met = Stalled(os.path.join(tmp, "metrics.fifo"))
        case(tmp, "metricsfifo", route="/metrics", field="metrics_path", sink=met)
        met.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, 0 skipped" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
