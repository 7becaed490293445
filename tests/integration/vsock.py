#!/usr/bin/env python3
"""virtio-vsock end to end: the guest kit's vsock guest (guest/tests/vsock.c)
under mvm run --vsock, with the host side of Firecracker's hybrid model:

  - an echo server listening at <uds>_1234 for the guest's connections;
  - host clients that connect to <uds>, send "CONNECT 5000", read "OK <port>",
    stream 64 KiB each (three at once), get it echoed by the guest, shut down
    their side and see EOF;
  - <uds> is gone after mvm exits.

Needs /dev/kvm (SKIP without). Prints TAP lines and "N passed, M failed, K skipped".

    python3 tests/integration/vsock.py build/mvm build/guest
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HOSTS = 3
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
            print("#   " + str(w)[:400])


def echo_server(srv):
    def serve(c):
        with c:
            while True:
                d = c.recv(65536)
                if not d:
                    return
                c.sendall(d)
    while True:
        try:
            c, _ = srv.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def host_client(uds, k, results):
    data = bytes((i * 7 + k) & 0xff for i in range(65536))
    end = time.time() + 60
    while time.time() < end:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect(uds)
            s.sendall(b"CONNECT 5000\n")
            line = b""
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    break
                line += b
        except OSError:
            line = b""
        if not line.startswith(b"OK "):
            s.close()  # the guest is not up yet: the device refused
            time.sleep(0.3)
            continue
        port = int(line.split()[1])
        sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
        sender.start()
        got = b""
        try:
            while len(got) < len(data):
                b = s.recv(65536)
                if not b:
                    break
                got += b
            sender.join(10)
            s.shutdown(socket.SHUT_WR)
            eof = s.recv(1) == b""
        except OSError as e:
            results[k] = (False, "host %d: %s after %d bytes" % (k, e, len(got)))
            return
        finally:
            s.close()
        results[k] = (got == data and eof and port >= 1 << 30,
                      "host %d: port %d, %d of %d bytes echoed, equal %s, EOF %s"
                      % (k, port, len(got), len(data), got == data, eof))
        return
    results[k] = (False, "host %d: never got OK" % k)


def main():
    mvm = sys.argv[1] if len(sys.argv) > 1 else "build/mvm"
    guests = sys.argv[2] if len(sys.argv) > 2 else "build/guest"
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        print("SKIP: /dev/kvm is missing or not accessible: the vsock tests boot a guest")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    tmp = tempfile.mkdtemp(prefix="mvm-vsock-")
    uds = os.path.join(tmp, "v.sock")
    try:
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(uds + "_1234")
        srv.listen(16)
        threading.Thread(target=echo_server, args=(srv,), daemon=True).start()
        proc = subprocess.Popen([mvm, "run", "--mem", "64M", "--kernel",
                                 os.path.join(guests, "vsock.elf"), "--cmdline",
                                 "cid=7 hosts=%d" % HOSTS, "--vsock", "cid=7,uds=" + uds],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        results = [(False, "host %d: did not finish" % k) for k in range(HOSTS)]
        clients = [threading.Thread(target=host_client, args=(uds, k, results), daemon=True)
                   for k in range(HOSTS)]
        for t in clients:
            t.start()
        try:
            out, err = proc.communicate(timeout=150)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        for t in clients:
            t.join(5)
        out = out.decode(errors="replace")
        err = err.decode(errors="replace")
        ok(proc.returncode == 0 and " passed, 0 failed" in out,
           "the vsock guest: guest_cid, 4 interleaved connections to <uds>_1234 echoed, "
           "SHUTDOWN -> RST, no listener -> RST, %d host connections served" % HOSTS,
           "exit %s" % proc.returncode, out[-1500:], err[-800:])
        for k in range(HOSTS):
            ok(results[k][0], "host-initiated connection %d: CONNECT/OK, 64 KiB echoed, "
               "EOF after shutdown" % k, results[k][1])
        ok(not os.path.exists(uds), "the vsock socket is removed when mvm exits")
        srv.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("%d passed, %d failed, 0 skipped" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
