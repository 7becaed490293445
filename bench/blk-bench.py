#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""virtio-blk benchmark: a test guest's block I/O under mvm (and QEMU where it
runs) as a ratio of fio on the host, against the same file, in the same run.

  bench/blk-bench.py MVM VBLK_ELF [--size MiB] [--ops4k N] [--ops1m N] [--no-qemu]

The guest (guest/tests/vblk.c, mode=bench) drives one virtqueue from ring 3
with polling: 4 KiB random read/write and 1 MiB sequential read/write at
queue depth 1 and 32. It prints "bench: begin NAME" / "bench: end NAME
ops=N bytes=B ..."; this script timestamps those lines as they arrive (the
guest has no calibrated clock), so each figure includes the UART exits of
one line (~60 exits, about 1 ms on the nested development host).

fio runs the same patterns on the host (ioengine=io_uring, buffered, like
mvm's default cache=writeback and QEMU's cache=writeback,aio=io_uring) for a
fixed time. All three read the same warm page cache (the image is read once
first; fio's default invalidate=1 would drop it before each job, and then
whoever ran after fio measured the virtual disk instead). Everything is printed, nothing is asserted: a slow machine is
not a failure. Needs fio (not a CI dependency).
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

TESTS = [  # name, fio rw, block size, depth
    ("randread-4k-qd1", "randread", "4k", 1),
    ("randread-4k-qd32", "randread", "4k", 32),
    ("randwrite-4k-qd1", "randwrite", "4k", 1),
    ("randwrite-4k-qd32", "randwrite", "4k", 32),
    ("seqread-1m-qd1", "read", "1m", 1),
    ("seqread-1m-qd32", "read", "1m", 32),
    ("seqwrite-1m-qd1", "write", "1m", 1),
    ("seqwrite-1m-qd32", "write", "1m", 32),
]


def fio(path, rw, bs, depth, seconds):
    out = subprocess.run(
        ["fio", "--name=b", f"--filename={path}", "--ioengine=io_uring", "--direct=0",
         f"--rw={rw}", f"--bs={bs}", f"--iodepth={depth}", "--time_based",
         "--invalidate=0",  # fio drops the file's page cache before a job by default
         f"--runtime={seconds}", "--randrepeat=0", "--norandommap",
         "--output-format=json"],
        check=True, capture_output=True, text=True).stdout
    job = json.loads(out)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return side["iops"], side["bw_bytes"]


def guest_run(cmd, name):
    """Runs a VMM with the bench guest; {test: (iops, bytes/s)} from timed lines."""
    res, begin = {}, {}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         stdin=subprocess.DEVNULL)
    for raw in p.stdout:
        now = time.monotonic()
        line = raw.decode(errors="replace").strip()
        f = line.split()
        if line.startswith("bench: begin"):
            begin[f[2]] = now
        elif line.startswith("bench: end"):
            kv = dict(x.split("=") for x in f[3:])
            secs = now - begin[f[2]]
            if int(kv["errors"]):
                print(f"{name}: {f[2]}: {kv['errors']} I/O errors", file=sys.stderr)
            res[f[2]] = (int(kv["ops"]) / secs, int(kv["bytes"]) / secs)
    err = p.stderr.read().decode(errors="replace")
    p.wait()
    if not res:
        print(f"{name}: the guest did not finish (status {p.returncode}): {err[-500:]}",
              file=sys.stderr)
        return None
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mvm")
    ap.add_argument("elf")
    ap.add_argument("--size", type=int, default=512, help="image size, MiB")
    ap.add_argument("--ops4k", type=int, default=20000)
    ap.add_argument("--ops1m", type=int, default=2000)
    ap.add_argument("--fio-seconds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3, help="runs per test (median)")
    ap.add_argument("--no-qemu", action="store_true")
    a = ap.parse_args()
    if not shutil.which("fio"):
        print("blk-bench: fio is not installed (apt-get install fio); nothing measured")
        return 0
    tmp = tempfile.mkdtemp(prefix="mvm-blk-bench.", dir="/var/tmp")
    img = os.path.join(tmp, "disk.img")
    try:
        with open(img, "wb") as f:  # real blocks everywhere, not a sparse file
            chunk = os.urandom(1 << 20)
            for _ in range(a.size):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())  # no writeback of the fill during the measurements
        # Everyone measures the same warm page cache: the image is read once here,
        # and fio runs with invalidate=0 (by default it drops the file's cache).
        with open(img, "rb") as f:
            while f.read(1 << 20):
                pass
        mvm_cmd = [a.mvm, "run", "--mem", "256M", "--kernel", a.elf, "--disk", img,
                   "--cmdline"]
        qemu_cmd = None
        if not a.no_qemu and shutil.which("qemu-system-x86_64"):
            qemu_cmd = [
                "qemu-system-x86_64", "-M", "pc", "-accel", "kvm", "-cpu",
                "host,-arch-capabilities", "-m", "256", "-nodefaults", "-no-user-config",
                "-display", "none", "-serial", "stdio", "-no-reboot", "-device",
                "isa-debug-exit,iobase=0xf4,iosize=4", "-kernel", a.elf, "-drive",
                f"file={img},if=none,id=d0,format=raw,cache=writeback,aio=io_uring",
                "-device", "virtio-blk-pci,drive=d0,disable-legacy=on,num-queues=1",
                "-append"]
        # Other work shares this machine: the three sides of one test run back to
        # back, each test a few times, and the median is kept.
        host, mvm, qemu = {}, {}, ({} if qemu_cmd else None)
        for name, rw, bs, depth in TESTS:
            runs = {"host": [], "mvm": [], "qemu": []}
            for _ in range(a.reps):
                runs["host"].append(fio(img, rw, bs, depth, a.fio_seconds))
                args = f"mode=bench only={name} ops4k={a.ops4k} ops1m={a.ops1m}"
                r = guest_run(mvm_cmd + [args], "mvm")
                if r:
                    runs["mvm"].append(r[name])
                if qemu_cmd:
                    r = guest_run(qemu_cmd + [args], "qemu")
                    if r:
                        runs["qemu"].append(r[name])
            med = lambda v: sorted(v, key=lambda x: x[0])[len(v) // 2] if v else None
            host[name] = med(runs["host"])
            if runs["mvm"]:
                mvm[name] = med(runs["mvm"])
            if qemu is not None and runs["qemu"]:
                qemu[name] = med(runs["qemu"])
    finally:
        shutil.rmtree(tmp)

    print(f"virtio-blk benchmark: {a.size} MiB image in /var/tmp, guest polls one queue;"
          f" host = fio io_uring buffered, {a.fio_seconds} s per run; median of {a.reps}")
    hdr = f"{'test':20} {'host fio':>12} {'mvm':>12} {'mvm/host':>9}"
    if qemu is not None:
        hdr += f" {'qemu':>12} {'qemu/host':>9} {'mvm/qemu':>9}"
    print(hdr)
    for name, _, bs, _ in TESTS:
        big = bs == "1m"

        def fmt(v):
            return f"{v[1] / 1e6:9.1f} MB/s" if big else f"{v[0]:8.0f} IOPS"

        idx = 1 if big else 0
        h = host[name]
        line = f"{name:20} {fmt(h):>12}"
        if name in mvm:
            line += f" {fmt(mvm[name]):>12} {mvm[name][idx] / h[idx]:9.3f}"
        else:
            line += f" {'-':>12} {'-':>9}"
        if qemu is not None and name in qemu:
            q = qemu[name]
            line += f" {fmt(q):>12} {q[idx] / h[idx]:9.3f}"
            line += f" {mvm[name][idx] / q[idx]:9.3f}" if name in mvm else f" {'-':>9}"
        print(line)
    return 0 if len(mvm) == len(TESTS) else 1


if __name__ == "__main__":
    sys.exit(main())
