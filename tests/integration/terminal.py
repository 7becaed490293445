#!/usr/bin/env python3
"""mvm on a terminal: raw mode while the guest runs, the terminal restored on
every way out (Ctrl-A x, SIGTERM, the guest's own exit).

usage: terminal.py MVM GUESTS   (prints TAP-like lines and 'N passed, N failed')
"""
import os, pty, select, signal, sys, termios, time

mvm, guests = sys.argv[1], sys.argv[2]
passed = failed = 0


def report(ok, name, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {name}")
    else:
        failed += 1
        print(f"not ok - {name}" + (f"\n#   {detail}" if detail else ""))


def read_until(fd, marker, timeout=20.0):
    out, end = b"", time.time() + timeout
    while marker not in out and time.time() < end:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if not ready:
            continue
        try:
            out += os.read(fd, 4096)
        except OSError:
            break
    return out


def run(kernel, action):
    """Runs mvm on a fresh pty; returns (status, termios before, during, after)."""
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    pid = os.fork()
    if pid == 0:
        os.setsid()
        for fd in (0, 1, 2):
            os.dup2(slave, fd)
        os.execv(mvm, [mvm, "run", "--kernel", kernel])
    out = read_until(master, b"spinning" if "busy" in kernel else
                     b"ready" if "echo" in kernel else b"Hello")
    during = termios.tcgetattr(slave)
    action(pid, master)
    _, status = os.waitpid(pid, 0)
    read_until(master, b"\0", 0.2)
    after = termios.tcgetattr(slave)
    os.close(master)
    os.close(slave)
    return status, before, during, after, out


def raw(attrs):
    return not (attrs[3] & termios.ICANON) and not (attrs[3] & termios.ECHO)


busy, hello = f"{guests}/busy.elf", f"{guests}/hello.elf"

st, before, during, after, out = run(busy, lambda pid, m: os.write(m, b"\x01x"))
report(raw(during) and not raw(before), "the console is in raw mode while the guest runs")
report(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, "Ctrl-A x stops the VM (status 0)", f"status {st}")
report(after == before, "terminal restored after Ctrl-A x")

st, before, during, after, out = run(busy, lambda pid, m: os.kill(pid, signal.SIGTERM))
report(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 143, "SIGTERM on a terminal: status 143", f"status {st}")
report(after == before, "terminal restored after SIGTERM")

st, before, during, after, out = run(hello, lambda pid, m: None)
report(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, "guest exit on a terminal: status 0", f"status {st}")
report(after == before, "terminal restored after the guest's exit")

got = b""


def type_keys(pid, m):
    global got
    os.write(m, b"a\x01\x01q")
    got = read_until(m, b"got 0x71")


st, before, during, after, out = run(f"{guests}/echo.elf", type_keys)
report(b"got 0x61" in got and b"got 0x01" in got and b"got 0x71" in got,
       "keys typed on the terminal reach the guest's UART (Ctrl-A Ctrl-A sends Ctrl-A)",
       repr(got))
report(os.WIFEXITED(st) and os.WEXITSTATUS(st) == 0, "echo guest ends on 'q'", f"status {st}")

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
