#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mvm after InstanceStart, on a test double of KVM (build/tests/mvm-fakekvm):
the real mvm program whose /dev/kvm is tests/fakekvm/ and whose KVM_RUN is a
scripted guest (a line on the UART, the i8042's keyboard interrupt on, a
reset on Ctrl-Alt-Del). No guest code runs: this checks the VMM's side of
a running VM (API answers, pause/resume, post-boot updates, metrics, stop
paths and exit codes) with every seccomp filter on. Each scenario also
asserts that no thread was killed by its filter (mvm's SIGSYS line).

  MVM_FAKEKVM=build/tests/mvm-fakekvm GUESTS=build/guest tests/fakekvm/run.py
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "api"))
from mvmapi import Tap, request  # noqa: E402

FAKE = os.path.abspath(os.environ.get("MVM_FAKEKVM", "build/tests/mvm-fakekvm"))
GUESTS = os.path.abspath(os.environ.get("GUESTS", "build/guest"))
KERNEL = os.path.join(GUESTS, "hello.elf")
SAN = os.environ.get("SAN") == "1"
LINE = "fake guest: up"
UFFD_HANDLER = os.path.abspath(os.environ.get("UFFD_HANDLER", "build/tests/uffd-handler"))
POST_BOOT = b"The requested operation is not supported after starting the microVM."
t = Tap()


def wait_for(cond, limit=20.0):
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.02)
    return cond()


class Fake:
    """mvm-fakekvm in a directory of its own: --api-sock (Firecracker mode) or `run`."""

    def __init__(self, name, args=None, env=None, netns=None, workdir=None):
        self.dir = workdir or tempfile.mkdtemp(prefix="mvm-fakekvm-")
        self.rundir = os.path.join(self.dir, "run")
        os.makedirs(self.rundir, exist_ok=True)
        self.sock = os.path.join(self.dir, "api.sock")
        self.id = name
        e = dict(os.environ, XDG_RUNTIME_DIR=self.rundir, MVM_FAKE_KVM="1")
        e.update(env or {})
        if args is None:
            args = ["--api-sock", self.sock, "--id", name]
        cmd = (["ip", "netns", "exec", netns] if netns else []) + [FAKE] + args
        self.out = open(os.path.join(self.dir, "out"), "w")
        self.err = open(os.path.join(self.dir, "err"), "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.out,
                                     stderr=self.err, env=e)

    def path(self, name):
        return os.path.join(self.dir, name)

    def entry(self):
        return os.path.join(self.rundir, "mvm", self.id + ".json")

    def serving(self, limit=20.0):
        def up():
            if self.proc.poll() is not None:
                return True
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.sock)
                s.close()
                return True
            except OSError:
                return False
        return wait_for(up, limit) and self.proc.poll() is None

    def req(self, method, url, body=None):
        st, _, data = request(self.sock, method, url, json.dumps(body) if body is not None else None)
        return st, data

    def state(self):
        st, data = self.req("GET", "/")
        return json.loads(data).get("state") if st == 200 else None

    def wait(self, limit=30):
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def _read(self, name):
        # A description of our own: seeking the child's shared one would move where it writes.
        with open(self.path(name), errors="replace") as f:
            return f.read()

    def output(self):
        return self._read("out")

    def errors(self):
        return self._read("err")

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()
        self.err.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def clean_end(f, name, log=""):
    """No filter killed a thread; under SAN=1 no sanitizer report (leaks included)."""
    err = f.errors() + log
    t.ok("forbidden system call" not in err and "seccomp" not in err,
         "%s: no thread was killed by its seccomp filter" % name, err[-600:])
    if SAN:
        t.ok("Sanitizer" not in err, "%s: no ASan/UBSan/LSan report" % name, err[-2000:])


def guard():
    """The double never passes for a VMM: it needs MVM_FAKE_KVM=1 and says what it is."""
    env = {k: v for k, v in os.environ.items() if k != "MVM_FAKE_KVM"}
    p = subprocess.run([FAKE, "--version"], env=env, capture_output=True, text=True, timeout=30)
    t.ok(p.returncode == 2 and "TEST DOUBLE of KVM" in p.stderr and not p.stdout,
         "without MVM_FAKE_KVM=1 it refuses to run (exit 2), saying it is a test double",
         p.returncode, p.stderr)
    p = subprocess.run([FAKE, "--version"], env=dict(env, MVM_FAKE_KVM="1"), capture_output=True,
                       text=True, timeout=30)
    t.ok(p.returncode == 0 and p.stderr.startswith("mvm-fakekvm: TEST DOUBLE of KVM"),
         "with MVM_FAKE_KVM=1 it runs and says on stderr it is a test double", p.returncode, p.stderr)


def make_netns():
    """A namespace with a tap (root, /dev/net/tun and ip): its name, or None."""
    if os.getuid() != 0 or not os.path.exists("/dev/net/tun") or not shutil.which("ip"):
        return None
    ns = "mvm-fakekvm-%d" % os.getpid()
    if subprocess.run(["ip", "netns", "add", ns], capture_output=True).returncode:
        return None
    if subprocess.run(["ip", "netns", "exec", ns, "ip", "tuntap", "add", "tap0", "mode", "tap"],
                      capture_output=True).returncode:
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        return None
    return ns


def configure(f, vcpus=2, net=False):
    """Firecracker's boot sequence; every answer must be 204."""
    open(f.path("log"), "w").close()
    open(f.path("metrics"), "w").close()
    for d in ("root.img", "data.img", "data2.img"):
        with open(f.path(d), "wb") as img:
            img.truncate(1 << 20)
    steps = [
        ("PUT", "/logger", {"log_path": f.path("log"), "level": "Info", "show_level": True}),
        ("PUT", "/metrics", {"metrics_path": f.path("metrics")}),
        ("PUT", "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": 128}),
        ("PUT", "/boot-source", {"kernel_image_path": KERNEL, "boot_args": "console=ttyS0 reboot=k"}),
        ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": f.path("root.img"),
                                   "is_root_device": True, "is_read_only": False}),
        ("PUT", "/drives/data", {"drive_id": "data", "path_on_host": f.path("data.img"),
                                 "is_root_device": False, "is_read_only": False}),
        ("PUT", "/vsock", {"guest_cid": 3, "uds_path": f.path("v.sock")}),
        ("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": True, "stats_polling_interval_s": 1}),
    ]
    if net:
        steps.append(("PUT", "/network-interfaces/eth0",
                      {"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02"}))
    bad = []
    for method, url, body in steps:
        st, data = f.req(method, url, body)
        if st != 204:
            bad.append("%s %s -> %d %s" % (method, url, st, data[:200]))
    t.ok(not bad, "Firecracker's boot sequence (%s): every step 204" % ", ".join(s[1] for s in steps), *bad)
    st, data = f.req("PUT", "/actions", {"action_type": "InstanceStart"})
    return t.ok(st == 204 and not data, "InstanceStart -> 204, no body", st, data, f.errors()[-400:])


def last_metrics(f):
    with open(f.path("metrics")) as m:
        lines = [ln for ln in m.read().splitlines() if ln.strip()]
    return json.loads(lines[-1]) if lines else {}, len(lines)


def firecracker_boot(ns):
    name = "Firecracker mode"
    f = Fake("fkfc", netns=ns)
    try:
        t.ok(f.serving(), "%s: the API socket accepts" % name, f.errors())
        if not configure(f, net=ns is not None):
            return
        t.ok(f.state() == "Running", "GET / after InstanceStart: state 'Running'")
        t.ok(wait_for(lambda: LINE in f.output()), "the scripted guest's UART line reaches stdout",
             f.output()[-300:])
        st, data = f.req("GET", "/vm/config")
        cfg = json.loads(data) if st == 200 else {}
        t.ok((cfg.get("machine-config") or {}).get("vcpu_count") == 2 and
             (cfg.get("boot-source") or {}).get("kernel_image_path") == KERNEL and
             [d["drive_id"] for d in cfg.get("drives", [])] == ["rootfs", "data"] and
             (cfg.get("vsock") or {}).get("guest_cid") == 3 and
             (cfg.get("balloon") or {}).get("deflate_on_oom") is True,
             "GET /vm/config after boot: what was configured", st, data[:600])

        # every thread of the running VMM is under a filter (the vCPUs' included)
        threads = {}
        for tid in os.listdir("/proc/%d/task" % f.proc.pid):
            try:
                with open("/proc/%d/task/%s/status" % (f.proc.pid, tid)) as st:
                    kv = dict(ln.split(":\t", 1) for ln in st.read().splitlines() if ":\t" in ln)
                threads[kv.get("Name", "?").strip()] = kv.get("Seccomp", "?").strip()
            except OSError:
                pass
        t.ok("fc_vcpu 0" in threads and "fc_vcpu 1" in threads and "fc_api" in threads and
             all(v == "2" for v in threads.values()),
             "every thread of the running VMM (API, VMM, both vCPUs) is in seccomp filter mode", threads)

        # mvm's extensions on a running VM (the API thread reads stats, sorts samples)
        for url, ctype in (("/stats", "application/json"), ("/devices", "application/json"),
                           ("/metrics/prometheus", "text/plain")):
            st, hdr, data = request(f.sock, "GET", url)
            t.ok(st == 200 and hdr.get("content-type", "").startswith(ctype) and len(data) > 100,
                 "GET %s on the running VM -> 200 %s" % (url, ctype), st, data[:200], f.errors()[-300:])

        # Firecracker has PATCH /vm only
        st, hdr, data = request(f.sock, "GET", "/vm")
        t.ok(st == 400 and b"Invalid request method and/or path" in data and
             "PATCH" in hdr.get("allow", ""),
             "GET /vm -> 400 'Invalid request method and/or path', Allow: PATCH", st, hdr, data)

        # pause / resume, with an AP halted in KVM_RUN beside the boot vCPU
        # (idempotent as Firecracker's; a real pause last, for its latency metric)
        for state, want in (("Paused", "Paused"), ("Paused", "Paused"), ("Resumed", "Running"),
                            ("Resumed", "Running"), ("Paused", "Paused"), ("Resumed", "Running")):
            st, data = f.req("PATCH", "/vm", {"state": state})
            t.ok(st == 204 and f.state() == want, "PATCH /vm %s -> 204, GET / says '%s'" % (state, want),
                 st, data)
        st, data = f.req("PATCH", "/vm", {"state": "Frozen"})
        t.ok(st == 400 and b"fault_message" in data and f.state() == "Running",
             "PATCH /vm with an unknown state -> 400, still Running", st, data)

        # pre-boot-only resources, as Firecracker answers them post-boot
        preboot = [
            ("PUT", "/boot-source", {"kernel_image_path": KERNEL}),
            ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
            ("PATCH", "/machine-config", {"vcpu_count": 1}),
            ("PUT", "/drives/rootfs", {"drive_id": "rootfs", "path_on_host": f.path("data2.img"),
                                       "is_root_device": True, "is_read_only": False}),
            ("PUT", "/drives/new", {"drive_id": "new", "path_on_host": f.path("data2.img"),
                                    "is_root_device": False, "is_read_only": False}),
            ("PUT", "/vsock", {"guest_cid": 4, "uds_path": f.path("v2.sock")}),
            ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False}),
            ("PUT", "/logger", {"log_path": f.path("log"), "level": "Debug"}),
            ("PUT", "/metrics", {"metrics_path": f.path("metrics")}),
            ("PUT", "/network-interfaces/eth9", {"iface_id": "eth9", "host_dev_name": "tap9"}),
            ("PUT", "/mmds/config", {"network_interfaces": ["eth0"]}),
            ("PUT", "/entropy", {}),
            ("PUT", "/serial", {"serial_out_path": f.path("serial")}),
            ("PUT", "/pmem/p0", {"id": "p0", "path_on_host": f.path("data2.img")}),
            ("PUT", "/hotplug/memory", {"total_size_mib": 1024}),
            ("PUT", "/actions", {"action_type": "InstanceStart"}),
        ]
        for method, url, body in preboot:
            st, data = f.req(method, url, body)
            t.ok(st == 400 and json.loads(data or b"{}").get("fault_message") == POST_BOOT.decode(),
                 "%s %s after boot -> 400 '%s'" % (method, url, POST_BOOT.decode()), st, data)

        # post-boot updates
        st, data = f.req("PATCH", "/drives/data", {"drive_id": "data", "path_on_host": f.path("data2.img")})
        st2, cfg = f.req("GET", "/vm/config")
        paths = {d["drive_id"]: d["path_on_host"] for d in json.loads(cfg).get("drives", [])}
        t.ok(st == 204 and paths.get("data") == f.path("data2.img"),
             "PATCH /drives/data (a new backing file) -> 204, GET /vm/config shows it", st, data, paths)
        st, data = f.req("PATCH", "/drives/data", {"drive_id": "data", "path_on_host": f.path("nope.img")})
        t.ok(st == 400 and b"fault_message" in data, "PATCH /drives with a missing file -> 400", st, data)
        st, data = f.req("PATCH", "/drives/data", {"drive_id": "data", "rate_limiter": {
            "bandwidth": {"size": 1 << 20, "refill_time": 100}, "ops": {"size": 100, "refill_time": 100}}})
        t.ok(st == 204, "PATCH /drives/data rate_limiter -> 204", st, data)
        st, data = f.req("PATCH", "/drives/nosuch", {"drive_id": "nosuch", "path_on_host": f.path("data.img")})
        t.ok(st == 400 and b"fault_message" in data, "PATCH /drives of an unknown drive -> 400", st, data)
        if ns is not None:
            st, data = f.req("PATCH", "/network-interfaces/eth0", {
                "iface_id": "eth0",
                "rx_rate_limiter": {"bandwidth": {"size": 1000000, "refill_time": 100}},
                "tx_rate_limiter": {"ops": {"size": 1000, "refill_time": 1000}}})
            t.ok(st == 204, "PATCH /network-interfaces/eth0 rate limiters -> 204", st, data)
            st, data = f.req("PATCH", "/network-interfaces/eth7", {"iface_id": "eth7"})
            t.ok(st == 400 and b"fault_message" in data, "PATCH of an unknown interface -> 400", st, data)
        else:
            print("# SKIP PATCH /network-interfaces: no namespace with a tap (needs root, /dev/net/tun, ip)")
            t.skipped += 1
        # the MMDS data store stays writable, as Firecracker's
        st, _ = f.req("PUT", "/mmds", {"latest": {"meta-data": {"id": "a"}}})
        st2, _ = f.req("PATCH", "/mmds", {"latest": {"meta-data": {"id": "b"}}})
        st3, data = f.req("GET", "/mmds")
        t.ok(st == 204 and st2 == 204 and st3 == 200 and
             json.loads(data) == {"latest": {"meta-data": {"id": "b"}}},
             "PUT, PATCH and GET /mmds after boot", st, st2, st3, data)
        st, data = f.req("PATCH", "/balloon", {"amount_mib": 16})
        st2, bal = f.req("GET", "/balloon")
        t.ok(st == 204 and st2 == 200 and json.loads(bal).get("amount_mib") == 16,
             "PATCH /balloon amount_mib -> 204, GET /balloon shows it", st, data, bal)
        st, data = f.req("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2})
        t.ok(st == 204, "PATCH /balloon/statistics -> 204", st, data)
        st, data = f.req("GET", "/balloon/statistics")
        t.ok(st == 200 and "target_mib" in json.loads(data), "GET /balloon/statistics -> 200", st, data)

        # FlushMetrics: a line, with the groups counting what happened
        _, before = last_metrics(f)
        st, data = f.req("PUT", "/actions", {"action_type": "FlushMetrics"})
        m, after = last_metrics(f)
        t.ok(st == 204 and after == before + 1, "FlushMetrics -> 204 and one more metrics line",
             st, data, before, after)
        vcpu = m.get("vcpu") or {}
        t.ok(vcpu.get("exit_io_out", 0) >= len(LINE) + 1,
             "metrics: vcpu.exit_io_out counts the guest's UART writes", vcpu)
        t.ok((m.get("uart") or {}).get("write_count", 0) >= len(LINE) + 1,
             "metrics: uart.write_count counts them too", m.get("uart"))
        put = m.get("put_api_requests") or {}
        patch = m.get("patch_api_requests") or {}
        t.ok(put.get("actions_count", 0) >= 2 and put.get("machine_cfg_fails", 0) >= 1 and
             patch.get("drive_count", 0) >= 3 and patch.get("drive_fails", 0) >= 1 and
             patch.get("machine_cfg_fails", 0) >= 1,
             "metrics: the put/patch API groups count requests and post-boot refusals", put, patch)
        t.ok((m.get("latencies_us") or {}).get("pause_vm", 0) > 0, "metrics: pause latency recorded",
             m.get("latencies_us"))
        t.ok((m.get("seccomp") or {}).get("num_faults") == 0, "metrics: seccomp.num_faults 0",
             m.get("seccomp"))

        # SendCtrlAltDel: the guest (as Linux with reboot=k) resets through the i8042
        st, data = f.req("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
        t.ok(st == 204, "SendCtrlAltDel -> 204", st, data)
        rc = f.wait(30)
        with open(f.path("log")) as lg:
            log = lg.read()
        t.ok(rc == 0, "the guest's reset after Ctrl-Alt-Del ends the VMM with exit 0 (as Firecracker)",
             rc, f.errors()[-400:])
        t.ok("Ctrl-Alt-Del sent" in log and "reset through the i8042" in log,
             "the log tells Ctrl-Alt-Del sent, then the i8042 reset", log[-600:])
        with open(f.path("metrics")) as mf:
            lines = [json.loads(ln) for ln in mf.read().splitlines() if ln.strip()]
        i8042 = [ln.get("i8042") or {} for ln in lines]
        t.ok(sum(g.get("reset_count", 0) for g in i8042) == 1 and
             sum(g.get("read_count", 0) for g in i8042) >= 4,
             "metrics at exit: i8042.reset_count 1, read_count counts the scan codes read", i8042)
        t.ok(not os.path.exists(f.sock) and not os.path.exists(f.entry()),
             "socket and runtime entry are gone after the VMM exits")
        clean_end(f, name, log)
    finally:
        f.close()


def booted(name, vcpus=1, env=None):
    f = Fake(name, env=env)
    ok = f.serving() and configure(f, vcpus=vcpus)
    ok = ok and wait_for(lambda: LINE in f.output())
    return f, ok


def stop_paths():
    # SIGTERM while running: Firecracker's 128 + 15
    f, ok = booted("fksigterm", vcpus=2)
    try:
        if t.ok(ok, "SIGTERM: the VM boots", f.errors()[-400:]):
            f.proc.send_signal(signal.SIGTERM)
            rc = f.wait(30)
            t.ok(rc == 143, "SIGTERM while running -> exit 143", rc, f.errors()[-400:])
            t.ok(not os.path.exists(f.sock) and not os.path.exists(f.entry()),
                 "SIGTERM: socket and runtime entry are gone")
            clean_end(f, "SIGTERM")
    finally:
        f.close()

    # SIGTERM while paused
    f, ok = booted("fksigpaused")
    try:
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        if t.ok(ok and st == 204, "SIGTERM while paused: the VM boots and pauses", f.errors()[-400:]):
            f.proc.send_signal(signal.SIGTERM)
            rc = f.wait(30)
            t.ok(rc == 143, "SIGTERM while paused -> exit 143", rc, f.errors()[-400:])
            clean_end(f, "SIGTERM while paused")
    finally:
        f.close()

    # PUT /actions Stop (mvm's extension), while paused
    f, ok = booted("fkstop", vcpus=2)
    try:
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        st2, data = f.req("PUT", "/actions", {"action_type": "Stop"}) if ok else (0, b"")
        rc = f.wait(30)
        t.ok(ok and st == 204 and st2 == 204 and rc == 0,
             "PUT /actions Stop on a paused VM -> 204, exit 0", st, st2, data, rc, f.errors()[-400:])
        clean_end(f, "Stop")
    finally:
        f.close()

    # SendCtrlAltDel while paused: the guest takes it once resumed
    f, ok = booted("fkcadpaused")
    try:
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        st2, _ = f.req("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
        time.sleep(0.2)
        t.ok(ok and st == 204 and st2 == 204 and f.proc.poll() is None and f.state() == "Paused",
             "SendCtrlAltDel on a paused VM -> 204, nothing runs until resumed", st, st2, f.proc.poll())
        st, _ = f.req("PATCH", "/vm", {"state": "Resumed"})
        rc = f.wait(30)
        t.ok(st == 204 and rc == 0, "resumed, the guest resets on the queued Ctrl-Alt-Del -> exit 0",
             st, rc, f.errors()[-400:])
        clean_end(f, "Ctrl-Alt-Del while paused")
    finally:
        f.close()

    # guest-initiated ends
    for action, want, what in (("reset:100", 0, "reset through the i8042"),
                               ("poweroff:100", 0, "power"),
                               ("triple-fault:100", 1, "triple fault")):
        f, ok = booted("fkguest", env={"MVM_FAKE_GUEST_ACTION": action})
        try:
            rc = f.wait(30)
            with open(f.path("log")) as lg:
                log = lg.read()
            t.ok(ok and rc == want and what in (log + f.errors()).lower(),
                 "the guest's %s -> exit %d, the log says '%s'" % (action.split(":")[0], want, what),
                 rc, log[-500:], f.errors()[-300:])
            if action.startswith("triple"):
                # The fatal exit's register dump: KVM_GET_REGS gives back what the boot set.
                t.ok("RIP=0x" in log + f.errors() and "unreadable" not in log + f.errors(),
                     "triple fault: the error line dumps the vCPU's registers", log[-500:])
            clean_end(f, "guest " + action)
        finally:
            f.close()


def pause_mid_output():
    """Paused while the guest writes: no exit while paused, not a byte lost or repeated."""
    text = "".join("line %05d\n" % i for i in range(9000))  # 99 000 bytes, one exit each
    f = Fake("fkpause", env={"MVM_FAKE_GUEST_OUTPUT": text})
    try:
        ok = f.serving() and configure(f, vcpus=2)
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        a = len(f.output())
        time.sleep(0.3)
        b = len(f.output())
        t.ok(ok and st == 204 and a == b and a < len(text), "paused mid-output: the guest's output stops (%d bytes)" % a,
             a, b, f.errors()[-300:])
        st, _ = f.req("PATCH", "/vm", {"state": "Resumed"})
        t.ok(st == 204 and wait_for(lambda: len(f.output()) >= len(text)) and f.output() == text,
             "resumed: the output goes on to the end, every byte once, in order",
             len(f.output()), f.output()[-100:])
        st, _ = f.req("PUT", "/actions", {"action_type": "FlushMetrics"})
        m, _ = last_metrics(f)
        t.ok(st == 204 and (m.get("vcpu") or {}).get("exit_io_out", 0) >= len(text),
             "metrics: one exit_io_out per byte", m.get("vcpu"))
        f.proc.send_signal(signal.SIGTERM)
        t.ok(f.wait(30) == 143, "paused mid-output: SIGTERM -> 143")
        clean_end(f, "pause mid-output")
    finally:
        f.close()


def bzimage():
    """A stock Linux bzImage and an initrd through the real loader (Firecracker mode)."""
    vmlinuz = os.environ.get("MVM_TEST_VMLINUZ", "")
    if not os.path.isfile(vmlinuz):
        print("# SKIP the bzImage boot: no MVM_TEST_VMLINUZ (tests/loader/fetch-kernel.sh)")
        t.skipped += 1
        return
    f = Fake("fkbz")
    try:
        with open(f.path("initrd"), "wb") as i:
            i.write(b"070701" + b"0" * 4090)
        steps = [("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256}),
                 ("PUT", "/boot-source", {"kernel_image_path": vmlinuz, "initrd_path": f.path("initrd"),
                                          "boot_args": "console=ttyS0 reboot=k panic=1"}),
                 ("PUT", "/actions", {"action_type": "InstanceStart"})]
        sts = [f.req(m, u, b)[0] for m, u, b in steps] if f.serving() else []
        t.ok(sts == [204, 204, 204] and wait_for(lambda: LINE in f.output()) and f.state() == "Running",
             "a stock bzImage with an initrd: loaded, InstanceStart -> 204, Running",
             sts, f.errors()[-400:])
        f.proc.send_signal(signal.SIGTERM)
        t.ok(f.wait(30) == 143, "the bzImage VM: SIGTERM -> 143")
        clean_end(f, "bzImage")
    finally:
        f.close()


def config_file():
    """--config-file: the VM is built on the VMM thread, under its filter, before any request."""
    for extra in (["--no-api"], None):
        d = tempfile.mkdtemp(prefix="mvm-fakekvm-")
        p = lambda name: os.path.join(d, name)  # noqa: E731
        open(p("log"), "w").close()
        with open(p("root.img"), "wb") as img:
            img.truncate(1 << 20)
        cfg = {"boot-source": {"kernel_image_path": KERNEL, "boot_args": "console=ttyS0"},
               "machine-config": {"vcpu_count": 2, "mem_size_mib": 64},
               "drives": [{"drive_id": "rootfs", "path_on_host": p("root.img"),
                           "is_root_device": True, "is_read_only": False}],
               "vsock": {"guest_cid": 3, "uds_path": p("v.sock")},
               "balloon": {"amount_mib": 0, "deflate_on_oom": False},
               "logger": {"log_path": p("log"), "level": "Info"}}
        with open(p("cfg.json"), "w") as c:
            json.dump(cfg, c)
        args = ["--config-file", p("cfg.json")] + (extra or ["--api-sock", p("api.sock"), "--id", "fkcfg"])
        f = Fake("fkcfg", args=args, env={"MVM_FAKE_GUEST_ACTION": "poweroff:200"}, workdir=d)
        try:
            rc = f.wait(30)
            with open(p("log")) as lg:
                log = lg.read()
            what = "--config-file %s" % ("--no-api" if extra else "with the API")
            t.ok(rc == 0 and LINE in f.output() and "poweroff" in log,
                 "%s: boots every resource, the guest powers off -> exit 0" % what, rc,
                 f.output()[-200:], log[-400:], f.errors()[-400:])
            clean_end(f, what, log)
        finally:
            f.close()


def mvm_run():
    name = "mvm run"
    f = Fake("fkrun", args=["run", "--kernel", KERNEL, "--cpus", "2", "--pit", "--name", "fkrun"])
    try:
        f.sock = os.path.join(f.rundir, "mvm", "fkrun.sock")
        t.ok(wait_for(lambda: LINE in f.output()), "%s: the scripted guest's line on stdout" % name,
             f.output()[-300:], f.errors()[-400:])
        t.ok(f.serving(), "%s: its API socket accepts" % name, f.errors()[-400:])
        t.ok(f.state() == "Running", "%s: GET / says Running" % name)
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        st2 = f.state()
        st3, _ = f.req("PATCH", "/vm", {"state": "Resumed"})
        t.ok(st == 204 and st2 == "Paused" and st3 == 204 and f.state() == "Running",
             "%s: pause and resume through its socket" % name, st, st2, st3)
        f.proc.send_signal(signal.SIGTERM)
        rc = f.wait(30)
        t.ok(rc == 143, "%s: SIGTERM -> exit 143" % name, rc, f.errors()[-400:])
        clean_end(f, name)
    finally:
        f.close()

    f = Fake("fkrun2", args=["run", "--kernel", KERNEL, "--no-api"],
             env={"MVM_FAKE_GUEST_ACTION": "poweroff:50"})
    try:
        rc = f.wait(30)
        t.ok(rc == 0 and LINE in f.output(), "mvm run: the guest powers off -> exit 0", rc,
             f.output()[-200:], f.errors()[-400:])
        clean_end(f, "mvm run power-off")
    finally:
        f.close()

    # --reboot-restarts: the next VM is built on the VMM thread, under its filter
    f = Fake("fkrun3", args=["run", "--kernel", KERNEL, "--no-api", "--reboot-restarts"],
             env={"MVM_FAKE_GUEST_ACTION": "reset:50"})
    try:
        t.ok(wait_for(lambda: f.output().count(LINE) >= 3 or f.proc.poll() is not None),
             "mvm run --reboot-restarts: a guest reset builds and boots the VM again (3 boots)",
             f.output()[-300:], f.errors()[-400:])
        f.proc.send_signal(signal.SIGTERM)
        rc = f.wait(30)
        t.ok(rc == 143, "mvm run --reboot-restarts: SIGTERM -> exit 143", rc, f.errors()[-400:])
        clean_end(f, "mvm run --reboot-restarts")
    finally:
        f.close()


def snapshots():
    """Firecracker's snapshot API on a running double: create while paused, load in a new VMM."""
    f, ok = booted("fksnap", vcpus=2)
    state, mem = f.path("snap.state"), f.path("snap.mem")
    try:
        if not t.ok(ok, "snapshot: the VM boots", f.errors()[-400:]):
            return
        st, data = f.req("PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem})
        t.ok(st == 400 and b"unavailable while running" in data, "snapshot of a running VM -> 400",
             st, data)
        st, _ = f.req("PATCH", "/vm", {"state": "Paused"})
        st2, data = f.req("PUT", "/snapshot/create", {"snapshot_type": "Full", "snapshot_path": state,
                                                      "mem_file_path": mem})
        t.ok(st == 204 and st2 == 204 and os.path.getsize(mem) == 128 << 20,
             "paused, PUT /snapshot/create (Full) -> 204, a 128 MiB memory file", st, st2, data,
             f.errors()[-600:])
        st, _ = f.req("PATCH", "/vm", {"state": "Resumed"})
        t.ok(st == 204 and f.state() == "Running", "the snapshotted VM resumes")
        info = subprocess.run([FAKE, "snapshot", "info", state], capture_output=True, text=True,
                              env=dict(os.environ, MVM_FAKE_KVM="1"), timeout=30)
        t.ok(info.returncode == 0 and "vcpu" in info.stdout.lower(),
             "mvm snapshot info reads the state file", info.returncode, info.stdout[-400:],
             info.stderr[-400:])
        clean_end(f, "snapshot create")
        for backend in ("File", "Uffd"):
            g = Fake("fkload" + backend.lower())
            handler = None
            try:
                path = mem
                if backend == "Uffd":
                    if not os.access(UFFD_HANDLER, os.X_OK):
                        print("ok - # SKIP snapshot load (Uffd): no page-fault handler built")
                        t.skipped += 1
                        continue
                    path = g.path("uffd.sock")
                    handler = subprocess.Popen([UFFD_HANDLER, path, mem, "--timeout-ms", "20000"],
                                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                    wait_for(lambda: os.path.exists(path), 10)
                g.serving()
                # The original still runs and holds its vsock socket: the restored one gets its own.
                st, data = g.req("PUT", "/snapshot/load", {
                    "snapshot_path": state, "mem_backend": {"backend_type": backend, "backend_path": path},
                    "vsock_override": {"uds_path": g.path("v.sock")}, "resume_vm": True})
                t.ok(st == 204, "PUT /snapshot/load (%s, resume_vm, vsock_override) on a fresh VMM -> 204"
                     % backend, st, data, g.errors()[-800:])
                t.ok(g.state() == "Running", "the restored VM (%s) is running" % backend, g.state())
                st, data = g.req("GET", "/vm/config")
                cfg = json.loads(data) if st == 200 else {}
                t.ok(cfg.get("machine-config", {}).get("vcpu_count") == 2,
                     "GET /vm/config after the load (%s) shows the snapshot's machine" % backend,
                     st, data[:300])
                st, _ = g.req("PUT", "/actions", {"action_type": "Stop"})
                rc = g.wait(30)
                t.ok(st == 204 and rc == 0, "the restored VM (%s) stops -> exit 0" % backend,
                     st, rc, g.errors()[-400:])
                clean_end(g, "snapshot load (%s)" % backend)
                if handler:
                    try:
                        hrc = handler.wait(20)
                    except subprocess.TimeoutExpired:
                        hrc = None
                    t.ok(hrc == 0, "the page-fault handler exits cleanly once the VMM is gone",
                         hrc, handler.stderr.read().decode(errors="replace")[-300:])
            finally:
                if handler and handler.poll() is None:
                    handler.kill()
                    handler.wait()
                g.close()
    finally:
        f.close()


def main():
    if not os.access(FAKE, os.X_OK):
        print("not ok - %s is missing: make check-fakekvm builds it" % FAKE)
        print("0 passed, 1 failed, 0 skipped")
        return 1
    guard()
    ns = make_netns()
    try:
        firecracker_boot(ns)
    finally:
        if ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    stop_paths()
    pause_mid_output()
    bzimage()
    config_file()
    mvm_run()
    snapshots()
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
