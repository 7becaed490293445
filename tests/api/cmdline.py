#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Firecracker's command line: mvm invoked as `firecracker` (a symlink) takes
exactly Firecracker's options, prints a --version that version-checking
orchestrators parse, exits 153 on a bad command line; `mvm --api-sock`
takes the same options (and mvm's own). Options whose feature mvm lacks are
refused naming it, never "unknown". Needs no KVM: nothing boots.

  MVM=build/mvm tests/api/cmdline.py
"""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, request, request_early_answer  # noqa: E402

MVM = os.path.abspath(os.environ.get("MVM", "build/mvm"))
t = Tap()
tmp = tempfile.mkdtemp(prefix="mvm-cmdline-")
FC = os.path.join(tmp, "firecracker")
os.symlink(MVM, FC)
ENV = dict(os.environ, XDG_RUNTIME_DIR=tmp)

# Every option of Firecracker's command line, and whether it takes a value.
FC_OPTIONS = {"api-sock": True, "id": True, "config-file": True, "no-api": False, "boot-timer": False,
              "log-path": True, "level": True, "module": True, "show-level": False,
              "show-log-origin": False, "metrics-path": True, "metadata": True, "mmds-size-limit": True,
              "http-api-max-payload-size": True, "parent-cpu-time-us": True, "start-time-us": True,
              "start-time-cpu-us": True, "describe-snapshot": True, "snapshot-version": False,
              "no-seccomp": False, "seccomp-filter": True, "enable-pci": False, "version": False,
              "help": False}
# Refused for now, with the feature they need.
# Every option is served now; none is refused.
REFUSED = {}
# A snapshot state file (the snapshot reader's fuzzing seed: format version 1).
STATE_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "fuzz", "corpus",
                          "snapshot_read", "full")


def run(argv, timeout=30):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=ENV)


def wait_socket(path, proc, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end and proc.poll() is None:
        if os.path.exists(path):
            try:
                request(path, "GET", "/")
                return True
            except OSError:
                pass
        time.sleep(0.02)
    return False


def start(argv):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        out, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
    return p.returncode, out, err


def main():
    # --version: "Firecracker v<semver>" on the first line, as Firecracker prints it.
    p = run([FC, "--version"])
    first = p.stdout.split("\n")[0]
    fields = first.split(" ")
    version = fields[1][1:] if len(fields) > 1 and fields[1].startswith("v") else ""
    t.ok(p.returncode == 0 and fields[0] == "Firecracker" and re.fullmatch(r"\d+\.\d+\.\d+", version),
         "firecracker --version: 'Firecracker vX.Y.Z', exit 0", p.returncode, p.stdout)
    major, minor = (int(x) for x in version.split(".")[:2]) if version else (0, 0)
    t.ok((major, minor) >= (1, 0), "the claimed version is a 1.x release (orchestrators' minimum)", version)

    p = run([FC, "--help"])
    missing = [o for o in FC_OPTIONS if "--" + o not in p.stdout]
    t.ok(p.returncode == 0 and p.stdout.startswith("Firecracker v" + version) and not missing,
         "firecracker --help: exit 0, lists every option", p.returncode, missing)

    for argv, label in [([FC, "--foo"], "an unknown option"), ([FC, "stray"], "a stray argument"),
                        ([FC, "--api-timeout", "3"], "mvm's own --api-timeout"),
                        ([FC, "-v"], "mvm's own -v"), ([FC, "--api-sock"], "--api-sock without a value"),
                        ([FC, "--no-api"], "--no-api without --config-file"),
                        ([FC, "--start-time-us", "soon"], "--start-time-us that is no number"),
                        ([FC, "--http-api-max-payload-size", "-1"], "a negative payload size")]:
        p = run(argv)
        t.ok(p.returncode == 153 and "Arguments parsing error" in p.stderr,
             "firecracker with %s: exit 153, 'Arguments parsing error'" % label, p.returncode, p.stderr)

    for opt, why in REFUSED.items():
        argv = ["--" + opt] + (["x"] if FC_OPTIONS[opt] else [])
        for prog, name in [([FC], "firecracker"), ([MVM, "--api-sock", os.path.join(tmp, "r.sock")], "mvm")]:
            p = run(prog + argv)
            t.ok(p.returncode == 1 and why in p.stderr and "--" + opt in p.stderr and
                 "wasn't expected" not in p.stderr and "unknown" not in p.stderr,
                 "%s --%s: refused naming %s" % (name, opt, why), p.returncode, p.stderr)

    # Snapshot versions, as Firecracker prints them.
    p = run([FC, "--snapshot-version"])
    t.ok(p.returncode == 0 and p.stdout == "v1.0.0\n", "firecracker --snapshot-version: v1.0.0",
         p.returncode, p.stdout, p.stderr)
    p = run([FC, "--describe-snapshot", STATE_FILE])
    t.ok(p.returncode == 0 and p.stdout == "v1.0.0\n", "firecracker --describe-snapshot: the file's v1.0.0",
         p.returncode, p.stdout, p.stderr)
    p = run([FC, "--describe-snapshot", MVM])
    t.ok(p.returncode == 1 and "not an mvm snapshot state file" in p.stderr,
         "firecracker --describe-snapshot of another file: refused with the reason", p.returncode, p.stderr)
    p = run([MVM, "snapshot", "info", STATE_FILE])
    t.ok(p.returncode == 0 and "format version: v1" in p.stdout and "serial0 (serial8250)" in p.stdout,
         "mvm snapshot info: header and sections", p.returncode, p.stdout, p.stderr)

    # --boot-timer is served (the device is created at InstanceStart); mvm's PCI window is where it sits.
    sock = os.path.join(tmp, "bt.sock")
    p = start([FC, "--api-sock", sock, "--boot-timer"])
    try:
        t.ok(wait_socket(sock, p), "firecracker --boot-timer serves its socket", p.poll())
    finally:
        rc, out, err = stop(p)
    t.ok(rc == 143 and "boot" not in err, "firecracker --boot-timer: SIGTERM exit 143, no complaint", rc, err[-300:])
    p = run([FC, "--boot-timer", "--enable-pci"])
    t.ok(p.returncode == 153 and "--boot-timer cannot go with --enable-pci" in p.stderr,
         "firecracker --boot-timer --enable-pci: exit 153, saying why", p.returncode, p.stderr)

    # Served options, as firecracker: the logger and metrics from the command line.
    sock = os.path.join(tmp, "fc.sock")
    log = os.path.join(tmp, "fc.log")
    metrics = os.path.join(tmp, "fc.metrics")
    open(log, "w").close()
    open(metrics, "w").close()
    p = start([FC, "--api-sock", sock, "--id", "fc1", "--log-path", log, "--level", "Info", "--show-level",
               "--metrics-path", metrics, "--http-api-max-payload-size", "200", "--start-time-us", "1",
               "--start-time-cpu-us", "0", "--parent-cpu-time-us", "0", "--enable-pci"])
    try:
        t.ok(wait_socket(sock, p), "firecracker with every served option serves its socket", p.poll())
        st, _, data = request(sock, "GET", "/")
        j = json.loads(data)
        t.ok(j == {"app_name": "Firecracker", "id": "fc1", "state": "Not started", "vmm_version": version},
             "GET /: app_name Firecracker, --id, vmm_version as --version", j)
        st, _, data = request(sock, "GET", "/version")
        t.ok(json.loads(data) == {"firecracker_version": version}, "GET /version as --version", data)
        st, _, data = request(sock, "PUT", "/machine-config", json.dumps({"vcpu_count": 1, "mem_size_mib": 64}))
        t.ok(st == 204, "a body under --http-api-max-payload-size 200 is served", st, data)
        # A body that would forge a log line: quoted and escaped as Rust's Debug does.
        request(sock, "PUT", "/logger", '{"level": "x\n2026-01-01T00:00:00.000000000 [fc1:main:INFO] forged"}')
        st, data = request_early_answer(sock, "PUT", "/machine-config",
                                        json.dumps({"vcpu_count": 1, "mem_size_mib": 64, "x": "a" * 300}))
        t.ok(st == 413 and b"limit of 200" in data, "a body over it -> 413 naming 200", st, data)
        cfg = json.loads(request(sock, "GET", "/vm/config")[2])
        t.ok((cfg.get("logger") or {}).get("log_path") == log and
             (cfg.get("metrics") or {}).get("metrics_path") == metrics,
             "--log-path and --metrics-path are the logger and metrics of PUT /logger, /metrics", cfg)
    finally:
        rc, out, err = stop(p)
    t.ok(rc == 143, "SIGTERM: exit 143", rc, err[-300:])
    text = open(log).read()
    t.ok(re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9} \[fc1:main:INFO\] Running Firecracker v" +
                   re.escape(version) + "$", text, re.M),
         "the log has Firecracker's start-up line: time, [id:thread:LEVEL] (--show-level)", text[:400])
    t.ok('[fc1:fc_api:INFO] The API server received a Get request on "/".' in text and
         "[fc1:fc_api:INFO] The request was executed successfully. Status code: 200 OK." in text and
         "[fc1:fc_api:ERROR] Received Error. Status code: 413" in text,
         "the log has Firecracker's request and answer lines, from the thread fc_api", text[:1200])
    t.ok('with body "{\\"level\\": \\"x\\n2026-01-01' in text and
         not re.search(r"^2026-01-01T00:00:00\.000000000", text, re.M),
         "a body's newline and quotes are escaped in the log: no forged line", text[-600:])
    lines = [json.loads(ln) for ln in open(metrics).read().splitlines() if ln.strip()]
    t.ok(lines and all("utc_timestamp_ms" in ln for ln in lines),
         "the metrics file has a metrics line, written at exit", lines[:1])
    last = lines[-1] if lines else {}
    groups = {"api_server", "balloon", "block", "deprecated_api", "get_api_requests", "i8042", "latencies_us",
              "logger", "mmds", "net", "patch_api_requests", "put_api_requests", "seccomp", "vcpu", "vmm",
              "uart", "signals", "vsock", "entropy", "interrupts", "pmem", "memory_hotplug"}
    t.ok(set(last) == groups | {"utc_timestamp_ms"}, "the metrics line has exactly Firecracker's groups",
         sorted(set(last) ^ (groups | {"utc_timestamp_ms"})))
    put = last.get("put_api_requests", {})
    get = last.get("get_api_requests", {})
    # The 413 is refused before routing, as Firecracker's HTTP layer does: not counted.
    t.ok(put.get("machine_cfg_count") == 1 and put.get("machine_cfg_fails") == 0 and put.get("logger_count") == 2 and put.get("logger_fails") == 1 and
         get.get("instance_info_count") >= 1 and get.get("vmm_version_count") == 1 and
         len(put) == 26 and set(last.get("vcpu", {}).get("exit_io_in_agg", {})) == {"min_us", "max_us", "sum_us"},
         "API requests and their failures are counted under Firecracker's names", put, get)
    t.ok(last.get("api_server", {}).get("process_startup_time_us", 0) > 0,
         "--start-time-us gives api_server.process_startup_time_us", last.get("api_server"))

    # mvm --api-sock takes Firecracker's options too.
    sock2 = os.path.join(tmp, "mvm.sock")
    p = start([MVM, "--api-sock", sock2, "--id", "m1", "--level", "Warning", "--show-log-origin",
               "--api-timeout", "5"])
    try:
        t.ok(wait_socket(sock2, p), "mvm --api-sock with Firecracker's logger options serves", p.poll())
        j = json.loads(request(sock2, "GET", "/")[2])
        t.ok(j.get("app_name") == "mvm" and j.get("vmm_version"), "mvm's GET /: app_name mvm", j)
    finally:
        rc, out, err = stop(p)
    t.ok(rc == 143, "mvm --api-sock: SIGTERM exit 143", rc, err[-300:])
    p = run([MVM, "--api-sock", sock2, "--module", "api"])
    t.ok(p.returncode != 0 and "module" in p.stderr, "--module is refused (no module filter in mvm)",
         p.returncode, p.stderr)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
