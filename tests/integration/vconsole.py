#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-console on a terminal: `mvm run --console virtio` with the vcon guest
on a pty; what is typed reaches hvc0 and the guest's echo comes back.

usage: vconsole.py MVM GUESTS [MVM-RUN-ARGS...]
       (prints ok/not ok lines and 'N passed, N failed'; extra arguments,
       e.g. --transport mmio, go to mvm run and name the checks)
"""
import os, pty, re, select, sys, time

mvm, guests, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
suffix = f" ({' '.join(extra)})" if extra else ""
passed = failed = 0


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}{suffix}")
    else:
        failed += 1
        print(f"not ok - {name}{suffix}" + (f"\n#   {detail}" if detail else ""))


def read_until(fd, marker, timeout=20.0):
    """Reads until the regex marker matches (the pty may turn \n into \r\n)."""
    out, end = b"", time.time() + timeout
    while not re.search(marker, out) and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                out += os.read(fd, 4096)
            except OSError:
                break
    return out


master, slave = pty.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    os.execv(mvm, [mvm, "run", *extra, "--console", "virtio", "--kernel", f"{guests}/vcon.elf"])
out = read_until(master, rb"vcon: ready\r*\n")
report(re.search(rb"vcon: ready\r*\n", out) is not None, "virtio-console: the guest's hvc0 output reaches the terminal",
       repr(out[-200:]))
os.write(master, b"ping\r")
out = read_until(master, rb"vcon: echo ping\r*\n")
report(re.search(rb"vcon: echo ping\r*\n", out) is not None, "virtio-console: typed input reaches hvc0 and is echoed",
       repr(out[-200:]))
os.write(master, b"q\r")
out = read_until(master, rb"vcon: echo q \(uart\)")
deadline = time.time() + 20
status = None
while time.time() < deadline:
    wpid, st = os.waitpid(pid, os.WNOHANG)
    if wpid:
        status = os.waitstatus_to_exitcode(st)
        break
    time.sleep(0.05)
if status is None:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
report(status == 0, "virtio-console: the guest ends on 'q', mvm exits 0", f"status {status}")
os.close(master)
os.close(slave)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
