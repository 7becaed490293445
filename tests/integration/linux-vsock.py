#!/usr/bin/env python3
"""Slow tier: virtio-vsock under the Linux test kernel (CONFIG_VIRTIO_VSOCKETS),
with the host side of Firecracker's hybrid model. The root image (ext4 made
with mkfs.ext4 -d) holds busybox and tests/integration/vsock-linux.c built
static; its /init:

  - serves port 5000: the host connects to <uds>, sends "CONNECT 5000", and
    streams VSOCK_MIB MiB (default 64) that the guest echoes back (SHA-256
    of what came back = of what was sent);
  - sends VSOCK_MIB MiB of a known stream to CID 2 port 6000: the host's
    listener at <uds>_6000 hashes it; the guest prints its own hash;
  - opens 16 connections at once to CID 2 port 1234 (the host's echo server at
    <uds>_1234), each 1 MiB echoed and compared in the guest.

Needs /dev/kvm, the test kernel and its initramfs (busybox), cpio, mkfs.ext4 and
a static libc for gcc; SKIPs without. Not part of make check (a Linux boot is
slow on nested hosts): make check-linux-vsock.

    MVM=build/mvm KERNEL=/var/cache/mvm-kernel/default/out/vmlinux \\
        tests/integration/linux-vsock.py
"""
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MVM = os.environ.get("MVM", "build/mvm")
KERNEL = os.environ.get("KERNEL", "/var/cache/mvm-kernel/default/out/vmlinux")
INITRAMFS = os.environ.get("INITRAMFS", os.path.join(os.path.dirname(KERNEL), "initramfs.cpio"))
MIB = int(os.environ.get("VSOCK_MIB", "64"))
BYTES = MIB << 20
PARALLEL = 16
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
            print("#   " + str(w)[:600])


def skip(why):
    print("SKIP: " + why)
    print("0 passed, 0 failed, 1 skipped")
    sys.exit(0)


def listen(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(path)
    s.listen(32)
    return s


def echo_server(srv, counter):
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
        counter.append(1)
        threading.Thread(target=serve, args=(c,), daemon=True).start()


def sink(srv, result):
    try:
        c, _ = srv.accept()
    except OSError:
        return
    h, n = hashlib.sha256(), 0
    with c:
        while True:
            d = c.recv(65536)
            if not d:
                break
            h.update(d)
            n += len(d)
    result["n"], result["hex"] = n, h.hexdigest()


def host_echo(uds, result, stop):
    data = os.urandom(BYTES)
    while not stop.is_set():
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(60)
        line = b""
        try:
            s.connect(uds)
            s.sendall(b"CONNECT 5000\n")
            while not line.endswith(b"\n"):
                b = s.recv(1)
                if not b:
                    break
                line += b
        except OSError:
            pass
        if not line.startswith(b"OK "):
            s.close()  # the guest does not listen yet: the device closed it
            time.sleep(1)
            continue
        s.settimeout(600)
        sender = threading.Thread(target=s.sendall, args=(data,), daemon=True)
        sender.start()
        h, n = hashlib.sha256(), 0
        try:
            while n < BYTES:
                d = s.recv(65536)
                if not d:
                    break
                h.update(d)
                n += len(d)
            sender.join(60)
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            result["error"] = str(e)
        s.close()
        result["n"], result["equal"] = n, h.hexdigest() == hashlib.sha256(data).hexdigest()
        return


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        skip("/dev/kvm is not accessible")
    if not os.access(KERNEL, os.R_OK):
        skip("no test kernel at %s (build ../shared/guest-kernel)" % KERNEL)
    if not os.access(INITRAMFS, os.R_OK):
        skip("no initramfs at %s (busybox comes from it)" % INITRAMFS)
    for tool in ("cpio", "mkfs.ext4", "gcc"):
        if not shutil.which(tool):
            skip("%s is not installed" % tool)
    tmp = tempfile.mkdtemp(prefix="mvm-linux-vsock-")
    try:
        return run(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    root = os.path.join(tmp, "root")
    for d in ("bin", "dev", "proc", "sys"):
        os.makedirs(os.path.join(root, d))
    with open(INITRAMFS, "rb") as f:
        if subprocess.run(["cpio", "-id", "--quiet", "bin/busybox"], stdin=f, cwd=root).returncode:
            skip("no bin/busybox in " + INITRAMFS)
    if subprocess.run(["gcc", "-static", "-O2", "-o", os.path.join(root, "vsock-linux"),
                       os.path.join(HERE, "vsock-linux.c")]).returncode:
        skip("gcc -static failed (a static libc is needed)")
    with open(os.path.join(root, "init"), "w") as f:
        f.write("""#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
echo LINUX-VSOCK-UP
/vsock-linux serve 5000 1 &
/vsock-linux send 2 6000 %d
/vsock-linux parallel 2 1234 %d 1048576
wait
echo LINUX-VSOCK-DONE
printf '\\000' | $B dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
$B poweroff -f
""" % (BYTES, PARALLEL))
    os.chmod(os.path.join(root, "init"), 0o755)
    img = os.path.join(tmp, "root.img")
    if subprocess.run(["mkfs.ext4", "-q", "-F", "-d", root, img, "64M"],
                      stdout=subprocess.DEVNULL).returncode:
        skip("mkfs.ext4 -d failed")

    uds = os.path.join(tmp, "v.sock")
    echoes, sunk, hosted, stop = [], {}, {}, threading.Event()
    e_srv, s_srv = listen(uds + "_1234"), listen(uds + "_6000")
    threading.Thread(target=echo_server, args=(e_srv, echoes), daemon=True).start()
    threading.Thread(target=sink, args=(s_srv, sunk), daemon=True).start()
    client = threading.Thread(target=host_echo, args=(uds, hosted, stop), daemon=True)
    t0 = time.time()
    proc = subprocess.Popen([MVM, "run", "--kernel", KERNEL, "--mem", "256M", "--cmdline",
                             "console=ttyS0 root=/dev/vda rw init=/init panic=-1 mitigations=off "
                             "quiet clocksource=tsc tsc=reliable",
                             "--disk", img, "--vsock", "cid=3,uds=" + uds, "--stats"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    client.start()
    try:
        out, err = proc.communicate(timeout=1800)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    stop.set()
    client.join(10)
    secs = time.time() - t0
    out = out.decode(errors="replace").replace("\r", "")
    err = err.decode(errors="replace")
    lines = [l for l in out.splitlines() if l.startswith("LINUX-")]
    ok(proc.returncode == 0, "Linux with virtio-vsock ran to its exit-port write (%.0f s)" % secs,
       "exit %s" % proc.returncode, "\n".join(out.splitlines()[-30:]), err[-800:])
    # The stream's hash from the same program (static: it runs on the host too).
    want = subprocess.run([os.path.join(root, "vsock-linux"), "hash", str(BYTES)],
                          capture_output=True, text=True).stdout.strip()
    guest = [l.split() for l in lines if l.startswith("LINUX-SHA256 ")]
    ok(sunk.get("n") == BYTES and sunk.get("hex") == want and guest and
       guest[0][1:] == [str(BYTES), want],
       "guest -> host: %d MiB to <uds>_6000, SHA-256 equal on both ends" % MIB, sunk, guest)
    ok(hosted.get("n") == BYTES and hosted.get("equal"),
       "host -> guest -> host: CONNECT 5000, %d MiB echoed, SHA-256 equal" % MIB, hosted)
    ok("LINUX-SERVED 1 ok" in lines, "the guest's server took the host's connection", lines)
    ok("LINUX-PARALLEL %d ok" % PARALLEL in lines and len(echoes) == PARALLEL,
       "%d parallel guest connections to <uds>_1234, 1 MiB each echoed" % PARALLEL,
       lines, "host echo connections: %d" % len(echoes))
    ok("mvm.conns_added" in err or "conns_added" in err,
       "--stats shows the vsock counters", err[-600:])
    ok(not os.path.exists(uds), "the vsock socket is removed when mvm exits")
    e_srv.close()
    s_srv.close()
    print("%d passed, %d failed, 0 skipped" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
