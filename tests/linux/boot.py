#!/usr/bin/env python3
"""Boot one Linux kernel under mvm (or another VMM) and check what it printed.

  boot.py NAME [--expect-status N] [--expect LINE_REGEX ...] [--reject REGEX ...]
          [--marker REGEX] [--restarts N] [--timeout S] -- COMMAND...

Runs COMMAND, copies its console to NAME.log, notes when each line appeared,
and prints one TAP line. --marker (default GUEST-INIT-OK) is the line whose
time is reported. With --restarts N the VMM is expected to boot the guest
N+1 times (the marker seen N+1 times), after which it is sent SIGTERM.
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("--expect-status", type=int, default=0)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--reject", action="append", default=[])
    ap.add_argument("--marker", default=r"^GUEST-INIT-OK")
    ap.add_argument("--restarts", type=int, default=0)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--logdir", default=".")
    argv = sys.argv[1:]
    if "--" not in argv:
        ap.error("give the command after --")
    split = argv.index("--")
    a = ap.parse_args(argv[:split])
    cmd = argv[split + 1:]

    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines, marks = [], []
    log_path = os.path.join(a.logdir, a.name + ".log")
    timed_out = False
    with open(log_path, "w") as log:
        os.set_blocking(proc.stdout.fileno(), True)
        deadline = start + a.timeout
        buf = b""
        import selectors
        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                proc.kill()
                break
            if not sel.select(timeout=min(left, 1.0)):
                if proc.poll() is not None:
                    break
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                raw, buf = buf.split(b"\n", 1)
                line = raw.decode("utf-8", "replace").rstrip("\r")
                t = time.monotonic() - start
                lines.append(line)
                log.write("%8.2f %s\n" % (t, line))
                if re.search(a.marker, line):
                    marks.append(t)
                    if a.restarts and len(marks) == a.restarts + 1:
                        proc.send_signal(signal.SIGTERM)
        status = proc.wait()
    total = time.monotonic() - start

    problems = []
    if timed_out:
        problems.append("timed out after %.0f s" % a.timeout)
    if status != a.expect_status:
        problems.append("exit status %d, expected %d" % (status, a.expect_status))
    if len(marks) != a.restarts + 1:
        problems.append("marker /%s/ seen %d times, expected %d" %
                        (a.marker, len(marks), a.restarts + 1))
    for rx in a.expect:
        if not any(re.search(rx, l) for l in lines):
            problems.append("no line matches /%s/" % rx)
    for rx in a.reject:
        bad = [l for l in lines if re.search(rx, l)]
        if bad:
            problems.append("unwanted line: %s" % bad[0].strip())
    when = ", ".join("%.1f s" % m for m in marks) or "never"
    if problems:
        print("not ok - %s: %s (marker at %s, total %.1f s; log %s)" %
              (a.name, "; ".join(problems), when, total, log_path))
        for l in lines[-15:]:
            print("#   " + l)
        return 1
    print("ok - %s: marker at %s, exit %d after %.1f s" % (a.name, when, status, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
