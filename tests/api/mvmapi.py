# SPDX-License-Identifier: MIT
"""Helpers of the API tests: an HTTP client over a Unix socket, a VMM
process started with --api-sock, and TAP-like ok / not ok lines."""
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


def request(sock, method, url, body=None, headers=None):
    """One request on a fresh connection: (status, headers dict, body bytes)."""
    c = UnixHTTPConnection(sock)
    try:
        h = dict(headers or {})
        if body is not None:
            if isinstance(body, str):
                body = body.encode()
            h.setdefault("Content-Type", "application/json")
        c.request(method, url, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def request_early_answer(sock, method, url, body):
    """A request the server may answer before reading its body (413): the
    body is sent as far as the server takes it, then the answer is read.
    (status, body bytes); status 0 if there was no answer."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(sock)
    if isinstance(body, str):
        body = body.encode()
    try:
        s.sendall(b"%s %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % (method.encode(), url.encode(), len(body)) + body)
    except OSError:
        pass
    data = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    s.close()
    head, _, rest = data.partition(b"\r\n\r\n")
    parts = head.split(b" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return status, rest


class Tap:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0

    def ok(self, cond, name, *why):
        if cond:
            self.passed += 1
            print("ok - " + name)
        else:
            self.failed += 1
            print("not ok - " + name)
            for w in why:
                print("#   " + str(w)[:400])
        sys.stdout.flush()
        return cond

    def summary(self):
        print("%d passed, %d failed, %d skipped" % (self.passed, self.failed, self.skipped))
        return 1 if self.failed else 0


def kvm_usable():
    """KVM, or MVM is mvm-fakekvm (MVM_FAKE_KVM=1): the VMM's side of a booted VM runs."""
    return os.environ.get("MVM_FAKE_KVM") == "1" or os.access("/dev/kvm", os.R_OK | os.W_OK)


class Vmm:
    """mvm --api-sock in a temporary directory with its own runtime dir."""

    def __init__(self, mvm, vmm_id, extra=(), sock=None):
        self.dir = tempfile.mkdtemp(prefix="mvm-api-")
        self.rundir = os.path.join(self.dir, "run")
        os.mkdir(self.rundir)
        self.sock = sock or os.path.join(self.dir, "api.sock")
        self.id = vmm_id
        env = dict(os.environ, XDG_RUNTIME_DIR=self.rundir)
        self.out = open(os.path.join(self.dir, "out"), "w")
        self.err = open(os.path.join(self.dir, "err"), "w")
        self.proc = subprocess.Popen(
            [mvm, "--api-sock", self.sock, "--id", vmm_id] + list(extra),
            stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.err, env=env)
        self.wait_socket()

    def wait_socket(self, limit=20.0):
        """Until the socket accepts (or the process died)."""
        end = time.monotonic() + limit
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                return False
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                s.close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def entry(self):
        return os.path.join(self.rundir, "mvm", self.id + ".json")

    def req(self, method, url, body=None, headers=None):
        return request(self.sock, method, url, body, headers)

    def wait(self, limit=60):
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def _read(self, name):
        # A description of our own: seeking the one the VMM shares would move where it writes.
        with open(os.path.join(self.dir, name), errors="replace") as f:
            return f.read()

    def output(self):
        return self._read("out")

    def errors(self):
        return self._read("err")

    def close(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.out.close()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)
