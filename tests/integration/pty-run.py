#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Runs a command on a pty (its stdin and stdout; stderr is inherited), copies
what it prints to OUT, and types INPUT + Enter once the output matches PROMPT.
Exits with the command's status (124 if it is still running after TIMEOUT s,
then it is killed).

usage: pty-run.py OUT PROMPT INPUT TIMEOUT -- COMMAND [ARGS...]
"""
import os, pty, re, select, signal, sys, time

out_path, prompt, text, timeout = sys.argv[1], sys.argv[2].encode(), sys.argv[3], float(sys.argv[4])
argv = sys.argv[sys.argv.index("--") + 1:]

master, slave = pty.openpty()
pid = os.fork()
if pid == 0:
    os.setsid()
    os.dup2(slave, 0)
    os.dup2(slave, 1)
    os.close(master)
    os.execvp(argv[0], argv)

os.close(slave)
out, typed, status = b"", False, None
deadline = time.time() + timeout
with open(out_path, "wb") as f:
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the command closed the pty: it has ended
                chunk = b""
            f.write(chunk)
            out += chunk
        if not typed and re.search(prompt, out):
            os.write(master, text.encode() + b"\r")
            typed = True
        wpid, st = os.waitpid(pid, os.WNOHANG)
        if wpid:
            status = os.waitstatus_to_exitcode(st)
            break
if status is None:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    status = 124
sys.exit(status if status >= 0 else 128 - status)
