#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""mvm's VFIO extensions of the API: PUT /vfio-user/{id} and
PUT /vfio-pci/{id}, their checks and their GET /vm/config echo. Runs before
InstanceStart: no KVM needed.

  MVM=build/mvm tests/api/vfio.py
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, Vmm  # noqa: E402

MVM = os.environ.get("MVM", "build/mvm")
t = Tap()


def fault(body):
    try:
        return json.loads(body).get("fault_message", "")
    except ValueError:
        return ""


def main():
    # Firecracker's default: virtio-mmio, no PCI bus, so no VFIO device.
    vmm = Vmm(MVM, "vfio-mmio")
    try:
        st, _, body = vmm.req("PUT", "/vfio-user/d0",
                              json.dumps({"id": "d0", "socket_path": "/tmp/x.sock"}))
        t.ok(st == 400 and "needs PCI" in fault(body),
             "PUT /vfio-user without PCI -> 400 'needs PCI'", st, body)
    finally:
        vmm.close()

    vmm = Vmm(MVM, "vfio-pci", extra=["--enable-pci"])
    try:
        st, _, body = vmm.req("PUT", "/vfio-user/d0",
                              json.dumps({"id": "d0", "socket_path": "/tmp/x.sock",
                                          "timeout_ms": 250}))
        t.ok(st == 204, "PUT /vfio-user/d0 -> 204", st, body)
        st, _, body = vmm.req("PUT", "/vfio-user/d1", json.dumps({"id": "d1"}))
        t.ok(st == 400 and "socket_path" in fault(body),
             "PUT /vfio-user without socket_path -> 400 naming it", st, body)
        st, _, body = vmm.req("PUT", "/vfio-user/d1",
                              json.dumps({"id": "d1", "socket_path": "/tmp/x", "timeout_ms": 1}))
        t.ok(st == 400 and "from 10 to 600000" in fault(body),
             "PUT /vfio-user with timeout_ms out of range -> 400", st, body)
        st, _, body = vmm.req("PUT", "/vfio-user/d1",
                              json.dumps({"id": "d1", "socket_path": "x" * 200}))
        t.ok(st == 400, "PUT /vfio-user with a socket path longer than sun_path -> 400",
             st, body)
        st, _, body = vmm.req("GET", "/vm/config")
        cfg = json.loads(body) if st == 200 else {}
        t.ok(cfg.get("vfio-user") == [{"socket_path": "/tmp/x.sock", "id": "d0",
                                       "timeout_ms": 250}],
             "GET /vm/config echoes the vfio-user device", cfg.get("vfio-user"))
        st, _, body = vmm.req("PUT", "/vfio-pci/n0",
                              json.dumps({"id": "n0", "host_address": "../../etc"}))
        t.ok(st == 400 and "not a host PCI address" in fault(body),
             "PUT /vfio-pci with a path for an address -> 400", st, body)
        st, _, body = vmm.req("PUT", "/vfio-pci/n0",
                              json.dumps({"id": "n0", "host_address": "0000:00:00.0"}))
        if not os.path.isdir("/sys/module/vfio"):
            t.ok(st == 400 and "this host has no VFIO" in fault(body),
                 "PUT /vfio-pci on a host without VFIO -> 400 'this host has no VFIO'",
                 st, body)
        else:
            t.ok(st in (204, 400), "PUT /vfio-pci on a host with VFIO -> 204 or a refusal",
                 st, body)
    finally:
        vmm.close()
    # The command line refuses before anything is built, with the same words.
    r = subprocess.run([MVM, "run", "--vfio-pci", "0000:00:00.0", "--kernel", "/nonexistent"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if not os.path.isdir("/sys/module/vfio"):
        t.ok(r.returncode == 2 and "this host has no VFIO" in r.stderr,
             "mvm run --vfio-pci on a host without VFIO: exit 2, 'this host has no VFIO'",
             r.returncode, r.stderr[-300:])
    r = subprocess.run([MVM, "run", "--vfio-pci", "../../../etc", "--kernel", "/nonexistent"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    t.ok(r.returncode == 2 and "not a host PCI address" in r.stderr,
         "mvm run --vfio-pci with a path: exit 2, 'not a host PCI address'", r.returncode,
         r.stderr[-300:])
    r = subprocess.run([MVM, "run", "--help"], stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=30)
    t.ok("--vfio-user SOCKET" in r.stdout + r.stderr and "--vfio-pci HOSTADDR" in r.stdout + r.stderr,
         "mvm run --help lists --vfio-user SOCKET and --vfio-pci HOSTADDR")
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
