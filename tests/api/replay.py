#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Orchestrators' API conversations, replayed against mvm invoked as
`firecracker`: the exact calls (order, headers, bodies) that
firecracker-go-sdk makes (the client of firecracker-containerd and
flintlock: its default FcInit handler list, handlers.go / machine.go), and
what Kata Containers' Firecracker driver (virtcontainers/fc.go) does: a
--version check, then a configuration file next to --api-sock. Every
pre-boot answer must be the one those clients expect (status codes, the
bodies they decode). InstanceStart and everything after it need KVM:
those steps print a SKIP line here.

  MVM=build/mvm tests/api/replay.py
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, kvm_usable  # noqa: E402

MVM = os.path.abspath(os.environ.get("MVM", "build/mvm"))
GUESTS = os.path.abspath(os.environ.get("GUESTS", "build/guest"))
t = Tap()
tmp = tempfile.mkdtemp(prefix="mvm-replay-")
FC = os.path.join(tmp, "firecracker")
os.symlink(MVM, FC)
ENV = dict(os.environ, XDG_RUNTIME_DIR=tmp)

# What Go's net/http and go-openapi's runtime put on every request of the SDK.
GO_HEADERS = {"Host": "localhost", "User-Agent": "Go-http-client/1.1", "Accept": "application/json",
              "Accept-Encoding": "gzip"}


def skip(what):
    t.skipped += 1
    print("SKIP: " + what)


class GoClient:
    """One keep-alive connection, as Go's http.Transport reuses it."""

    def __init__(self, sock):
        self.sock = sock
        self.conn = None

    def _connect(self):
        c = http.client.HTTPConnection("localhost", timeout=30)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(30)
        s.connect(self.sock)
        c.sock = s
        self.conn = c

    def call(self, method, url, body=None):
        """(status, headers, decoded JSON or None, raw body)."""
        if self.conn is None:
            self._connect()
        h = dict(GO_HEADERS)
        data = None
        if body is not None:
            # encoding/json: compact, keys in the struct's order.
            data = json.dumps(body, separators=(",", ":")).encode()
            h["Content-Type"] = "application/json"
        h["Content-Length"] = str(len(data) if data else 0)
        self.conn.putrequest(method, url, skip_host=True, skip_accept_encoding=True)
        for k, v in h.items():
            self.conn.putheader(k, v)
        self.conn.endheaders(data)
        r = self.conn.getresponse()
        raw = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        if r.will_close:
            self.conn.close()
            self.conn = None
        try:
            j = json.loads(raw) if raw else None
        except ValueError:
            j = None
        return r.status, hdrs, j, raw

    def close(self):
        if self.conn:
            self.conn.close()


def start_fc(args, name):
    out = open(os.path.join(tmp, name + ".out"), "w+")
    err = open(os.path.join(tmp, name + ".err"), "w+")
    p = subprocess.Popen([FC] + args, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=ENV)
    return p, out, err


def wait_socket(path, p, limit=20):
    end = time.monotonic() + limit
    while time.monotonic() < end and p.poll() is None:
        if os.path.exists(path):
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
                s.close()
                return True
            except OSError:
                pass
        time.sleep(0.01)
    return False


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            return p.wait()
    return p.returncode


def fifo_with_reader(path):
    """A FIFO the orchestrator reads (its log/metrics copier), opened first, as theirs is."""
    os.mkfifo(path)
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


TAPS = []


def make_tap(name):
    """The tap the orchestrator creates before it configures the interface (CNI, Kata's netns)."""
    if os.geteuid() != 0 or not os.access("/dev/net/tun", os.R_OK | os.W_OK) or not shutil.which("ip"):
        return False
    r = subprocess.run(["ip", "tuntap", "add", name, "mode", "tap"], capture_output=True)
    if r.returncode == 0:
        TAPS.append(name)
    return r.returncode == 0


def read_all(fd):
    data = b""
    while True:
        try:
            d = os.read(fd, 65536)
        except BlockingIOError:
            break
        if not d:
            break
        data += d
    return data


def expect_204(res, what):
    st, hdrs, _, raw = res
    return t.ok(st == 204 and not raw, what + " -> 204 No Content (the SDK's *NoContent)", st, raw[:300])


def replay_go_sdk():
    """firecracker-go-sdk's Machine.Start(): Handlers.Run() with the default
    FcInit list, then startInstance(); with NewSetMetadataHandler and
    NewCreateBalloonHandler appended, as firecracker-containerd and
    flintlock configure it."""
    vmid = "sdk-replay"
    sock = os.path.join(tmp, "sdk.sock")
    kernel = os.path.join(GUESTS, "hello.elf")
    if not os.path.exists(kernel):
        kernel = os.path.join(tmp, "vmlinux")
        open(kernel, "wb").write(b"\0" * 4096)
    rootfs = os.path.join(tmp, "rootfs.img")
    with open(rootfs, "wb") as f:
        f.truncate(8 << 20)
    stub = os.path.join(tmp, "stub0.img")
    with open(stub, "wb") as f:
        f.truncate(1 << 20)
    log_fifo = os.path.join(tmp, "sdk-log.fifo")
    metrics_fifo = os.path.join(tmp, "sdk-metrics.fifo")
    # CreateLogFilesHandler: mkfifo both, the SDK's copier reads the log FIFO.
    readers = [fifo_with_reader(log_fifo), fifo_with_reader(metrics_fifo)]

    # StartVMMHandler: `firecracker --api-sock S --id VMID --no-seccomp` (Seccomp.Enabled false).
    p, out, err = start_fc(["--api-sock", sock, "--id", vmid, "--no-seccomp"], "sdk")
    go = GoClient(sock)
    try:
        t.ok(wait_socket(sock, p), "SDK: the socket appears (waitForSocket stats it)", p.poll())
        # waitForSocket: GET /machine-config until it answers.
        st, _, j, raw = go.call("GET", "/machine-config")
        t.ok(st == 200 and isinstance(j, dict) and isinstance(j.get("vcpu_count"), int) and
             isinstance(j.get("mem_size_mib"), int) and isinstance(j.get("smt"), bool),
             "SDK waitForSocket: GET /machine-config -> 200, a MachineConfiguration", st, raw)
        # BootstrapLoggingHandler: setupLogging, then setupMetrics.
        expect_204(go.call("PUT", "/logger", {"log_path": log_fifo, "level": "Debug", "show_level": True,
                                             "show_log_origin": False}), "SDK setupLogging: PUT /logger")
        expect_204(go.call("PUT", "/metrics", {"metrics_path": metrics_fifo}), "SDK setupMetrics: PUT /metrics")
        # CreateMachineHandler: PUT, then refreshMachineConfiguration's GET.
        mc = {"mem_size_mib": 256, "smt": False, "vcpu_count": 2}
        expect_204(go.call("PUT", "/machine-config", mc), "SDK createMachine: PUT /machine-config")
        st, _, j, raw = go.call("GET", "/machine-config")
        t.ok(st == 200 and j and j.get("vcpu_count") == 2 and j.get("mem_size_mib") == 256 and
             j.get("smt") is False and "cpu_template" not in j,
             "SDK refreshMachineConfiguration: GET /machine-config echoes it", st, raw)
        # CreateBootSourceHandler: initrd_path "" is omitted (omitempty).
        expect_204(go.call("PUT", "/boot-source", {"boot_args": "console=ttyS0 reboot=k panic=1 pci=off",
                                                   "kernel_image_path": kernel}),
                   "SDK createBootSource: PUT /boot-source")
        # AttachDrivesHandler: the root drive, then firecracker-containerd's stub drives.
        expect_204(go.call("PUT", "/drives/root_drive", {"drive_id": "root_drive", "is_read_only": False,
                                                          "is_root_device": True, "path_on_host": rootfs}),
                   "SDK attachDrive: PUT /drives/root_drive")
        expect_204(go.call("PUT", "/drives/MN2HE43UOVRDA", {"drive_id": "MN2HE43UOVRDA", "is_read_only": False,
                                                             "is_root_device": False, "path_on_host": stub}),
                   "SDK attachDrive: PUT /drives/<stub drive>")
        # CreateNetworkInterfacesHandler: ids "1", "2", ... (index + 1), a tap per interface.
        tap = "fcr%d" % (os.getpid() % 100000)
        net = make_tap(tap)
        if net:
            expect_204(go.call("PUT", "/network-interfaces/1", {"guest_mac": "AA:FC:00:00:00:01",
                                                                 "host_dev_name": tap, "iface_id": "1"}),
                       "SDK createNetworkInterface: PUT /network-interfaces/1")
        else:
            skip("SDK createNetworkInterface: PUT /network-interfaces/1 needs a tap (root, /dev/net/tun, ip)")
        # AddVsocksHandler: vsock_id is set from VsockDevice.ID (deprecated in Firecracker, still taken).
        st, hdrs, _, raw = go.call("PUT", "/vsock", {"guest_cid": 3, "uds_path": os.path.join(tmp, "sdk.vsock"),
                                                     "vsock_id": "root"})
        t.ok(st == 204 and not raw and hdrs.get("deprecation") == "true",
             "SDK addVsock: PUT /vsock with vsock_id -> 204, 'Deprecation: true' as Firecracker", st, hdrs, raw)
        # ConfigMmdsHandler: only with an interface that AllowMMDS.
        if net:
            expect_204(go.call("PUT", "/mmds/config", {"ipv4_address": "169.254.169.254",
                                                       "network_interfaces": ["1"], "version": "V2"}),
                       "SDK setMmdsConfig: PUT /mmds/config")
        else:
            skip("SDK setMmdsConfig: PUT /mmds/config needs the interface above")
        # NewSetMetadataHandler: PUT /mmds with the metadata document.
        meta = {"latest": {"meta-data": {"instance-id": vmid, "local-ipv4": "10.0.0.2"}}}
        expect_204(go.call("PUT", "/mmds", meta), "SDK SetMetadata: PUT /mmds")
        st, _, j, raw = go.call("GET", "/mmds")
        t.ok(st == 200 and j == meta, "GET /mmds gives the metadata back", st, raw[:300])
        # NewCreateBalloonHandler: stats_polling_interval_s omitted when 0.
        expect_204(go.call("PUT", "/balloon", {"amount_mib": 16, "deflate_on_oom": True}),
                   "SDK CreateBalloon: PUT /balloon")
        # The whole configuration, as GET /vm/config reports it (what the SDK sent).
        st, _, j, raw = go.call("GET", "/vm/config")
        drives = [d.get("drive_id") for d in (j or {}).get("drives", [])]
        t.ok(st == 200 and drives == ["root_drive", "MN2HE43UOVRDA"] and
             (j.get("vsock") or {}).get("guest_cid") == 3 and (j.get("balloon") or {}).get("amount_mib") == 16,
             "GET /vm/config holds what the SDK configured, root drive first", st, raw[:400])
        # The calls the SDK makes after the start, sent now: each body is taken (parsed as
        # Firecracker parses it) and the answer is the pre-boot one Firecracker gives.
        post = [
            ("PATCH", "/drives/MN2HE43UOVRDA", {"drive_id": "MN2HE43UOVRDA", "path_on_host": rootfs},
             "UpdateGuestDrive"),
            ("PATCH", "/network-interfaces/1",
             {"iface_id": "1", "rx_rate_limiter": {"bandwidth": {"refill_time": 1000, "size": 1048576}},
              "tx_rate_limiter": {"ops": {"one_time_burst": 10, "refill_time": 1000, "size": 100}}},
             "UpdateGuestNetworkInterfaceRateLimit"),
            ("PATCH", "/vm", {"state": "Paused"}, "PauseVM"),
            ("PATCH", "/vm", {"state": "Resumed"}, "ResumeVM"),
            ("PATCH", "/balloon", {"amount_mib": 32}, "UpdateBalloon"),
            ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 5}, "UpdateBalloonStats"),
            ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}, "Shutdown"),
        ]
        for method, url, body, name in post:
            if url.startswith("/network-interfaces") and not net:
                continue
            st, _, j, raw = go.call(method, url, body)
            t.ok(st == 400 and (j or {}).get("fault_message") ==
                 "The requested operation is not supported before starting the microVM.",
                 "SDK %s (%s %s) before the start: its body is taken, the call is post-boot" % (name, method, url),
                 st, raw)
        # UpdateMetadata: PATCH /mmds is allowed before the start too (a JSON merge patch).
        expect_204(go.call("PATCH", "/mmds", {"latest": {"meta-data": {"local-ipv4": "10.0.0.3"}}}),
                   "SDK UpdateMetadata: PATCH /mmds")
        st, _, j, raw = go.call("GET", "/mmds")
        t.ok(st == 200 and j and j["latest"]["meta-data"] == {"instance-id": vmid, "local-ipv4": "10.0.0.3"},
             "GET /mmds: the patch merged", st, raw[:300])
        # startInstance: PUT /actions InstanceStart.
        if kvm_usable():
            skip("SDK startInstance and later (PATCH /drives, PATCH /mmds, PATCH /vm, SendCtrlAltDel): "
                 "left to the KVM tiers (tests/api/curl-boot.sh boots through the same routes)")
        else:
            st, _, j, raw = go.call("PUT", "/actions", {"action_type": "InstanceStart"})
            msg = (j or {}).get("fault_message", "")
            t.ok(st == 400 and msg.startswith("Start microvm error: "),
                 "SDK startInstance without KVM: 400 with a models.Error the SDK reports", st, raw)
            skip("SDK after InstanceStart (UpdateGuestDrive PATCH /drives, UpdateMetadata PATCH /mmds, "
                 "PauseVM/ResumeVM PATCH /vm, Shutdown SendCtrlAltDel): needs KVM")
        go.close()
    finally:
        rc = stop(p)
        metrics = read_all(readers[1])
        for fd in readers:
            os.close(fd)
    t.ok(rc == 143, "SDK StopVMM (SIGTERM): exit 143", rc, open(err.name).read()[-400:])
    # The line written at exit, as the SDK's metrics FIFO reader gets it: Firecracker's
    # per-device groups beside the aggregates, with the aggregate's fields.
    lines = [json.loads(ln) for ln in metrics.decode(errors="replace").splitlines() if ln.strip()]
    last = lines[-1] if lines else {}
    want = ["block_root_drive", "block_MN2HE43UOVRDA"] + (["net_1"] if net else [])
    t.ok(all(g in last and set(last[g]) == set(last[g.split("_")[0]]) for g in want) and
         not [g for g in last if g.startswith(("block_", "net_", "pmem_")) and g not in want],
         "the metrics FIFO's last line has block_<drive_id> / net_<iface_id> groups for what was configured",
         sorted(k for k in last if k.startswith(("block", "net", "pmem"))))
    out.close()
    err.close()


def replay_kata():
    """Kata's fc.go: fcInit() checks `firecracker --version` (semver >=
    0.21.1), fcInitConfiguration() builds an FcConfig that StartVM() writes
    with json.MarshalIndent(..., "", "\\t"), then runs `firecracker --api-sock
    S --config-file F` and polls GET / until the VM runs (waitVMMRunning)."""
    p = subprocess.run([FC, "--version"], capture_output=True, text=True, env=ENV, timeout=30)
    fields = p.stdout.split("\n")[0].split(" ")
    version = fields[1][1:] if len(fields) > 1 and fields[1].startswith("v") else ""
    m = re.fullmatch(r"(\d+)\.(\d+)\.(\d+)", version)
    t.ok(p.returncode == 0 and m and tuple(int(x) for x in m.groups()) >= (0, 21, 1),
         "Kata getVersionNumber/checkVersion: 'Firecracker vX.Y.Z', at least 0.21.1", p.returncode, p.stdout)

    vm = os.path.join(tmp, "kata")
    os.mkdir(vm)
    kernel = os.path.join(GUESTS, "hello.elf")
    if not os.path.exists(kernel):
        kernel = os.path.join(vm, "vmlinux")
        open(kernel, "wb").write(b"\0" * 4096)
    image = os.path.join(vm, "rootfs")
    with open(image, "wb") as f:
        f.truncate(8 << 20)
    readers = [fifo_with_reader(os.path.join(vm, "logs.fifo")), fifo_with_reader(os.path.join(vm, "metrics.fifo"))]
    drives = [{"drive_id": "rootfs", "is_read_only": True, "is_root_device": False, "path_on_host": image}]
    for i in range(8):  # createDiskPool: placeholder drives, replaced by PATCH after boot
        path = os.path.join(vm, "drive_%d" % i)
        open(path, "wb").close()
        drives.append({"drive_id": "drive_%d" % i, "is_read_only": False, "is_root_device": False,
                       "path_on_host": path})
    cfg = {
        "boot-source": {"boot_args": "root=/dev/vda1 rootflags=data=ordered,errors=remount-ro ro rootfstype=ext4 "
                                     "pci=off reboot=k panic=1 iommu=off net.ifnames=0 random.trust_cpu=on "
                                     "acpi=off 8250.nr_uarts=0 agent.log_vport=1025",
                        "kernel_image_path": kernel},
        "drives": drives,
        "logger": {"level": "Error", "log_path": os.path.join(vm, "logs.fifo")},
        # fcSetVMBaseConfig(mem, vcpus, false): the SMT flag off (Firecracker 1.x's name for it).
        "machine-config": {"mem_size_mib": 256, "smt": False, "vcpu_count": 1},
        "metrics": {"metrics_path": os.path.join(vm, "metrics.fifo")},
        "vsock": {"guest_cid": 3, "uds_path": os.path.join(vm, "kata.hvsock"), "vsock_id": "root"},
    }
    tap = "fck%d" % (os.getpid() % 100000)
    if make_tap(tap):
        # fcAddNetDevice: the rate limiters are set even when empty (no limits).
        cfg["network-interfaces"] = [{"guest_mac": "02:42:ac:11:00:02", "host_dev_name": tap,
                                      "iface_id": "eth0", "rx_rate_limiter": {}, "tx_rate_limiter": {}}]
    else:
        skip("Kata fcAddNetDevice: a network interface needs a tap (root, /dev/net/tun, ip)")
    path = os.path.join(vm, "fcConfig.json")
    with open(path, "w") as f:
        f.write(json.dumps(cfg, indent="\t"))
    sock = os.path.join(vm, "firecracker.socket")
    p, out, err = start_fc(["--api-sock", sock, "--config-file", path], "kata")
    try:
        if kvm_usable():
            skip("Kata waitVMMRunning (GET / until the VM runs) and fcUpdateBlockDrive (PATCH /drives): "
                 "the configuration boots a guest, left to the KVM tiers")
            return
        rc = p.wait(30)
        text = open(err.name).read()
        # Every section was taken; the boot itself is what fails without KVM.
        t.ok(rc != 0 and "Start microvm error" in text and
             not re.search(r"config file '[^']*': (boot-source|drives|logger|machine-config|metrics|vsock|"
                           r"network-interfaces)", text),
             "Kata's configuration file is accepted section by section; only the boot needs KVM", rc, text[-500:])
        skip("Kata waitVMMRunning (GET / polled for the running VM), fcUpdateBlockDrive (PATCH /drives/drive_N): "
             "needs KVM")
    finally:
        stop(p)
        for fd in readers:
            os.close(fd)
        out.close()
        err.close()


def main():
    try:
        replay_go_sdk()
        replay_kata()
    finally:
        for name in TAPS:
            subprocess.run(["ip", "link", "del", name], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
