#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Firecracker's fault messages and status codes, as its documentation and
its API tests show them: each request below must be answered with the
status and contain the text of the table. Firecracker's clients (and its
own tests) match on these texts. Runs before InstanceStart: no KVM needed.

  MVM=build/mvm GUESTS=build/guest tests/api/messages.py
"""
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, Vmm, request_early_answer  # noqa: E402

MVM = os.environ.get("MVM", "build/mvm")
GUESTS = os.environ.get("GUESTS", "build/guest")
t = Tap()

DESER = "An error occurred when deserializing the json body of a request: "
PRE_BOOT = "The requested operation is not supported before starting the microVM."
POST_BOOT = "The requested operation is not supported after starting the microVM."

LOAD_FILE = ("Load snapshot error: Failed to restore from snapshot: Failed to get snapshot state from "
             "file: Failed to load snapshot state from file: ")

# (what, method, url, body, status, text the fault_message contains)
TABLE = [
    # Snapshots, first: the VMM is still fresh (nothing configured for a boot).
    ("a snapshot before boot", "PUT", "/snapshot/create",
     '{"snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m"}', 400, PRE_BOOT),
    ("a snapshot of an unknown type", "PUT", "/snapshot/create",
     '{"snapshot_type": "Half", "snapshot_path": "/tmp/s", "mem_file_path": "/tmp/m"}', 400,
     DESER + "unknown variant `Half`, expected `Full` or `Diff`"),
    ("a load without memory", "PUT", "/snapshot/load", '{"snapshot_path": "/tmp/s"}', 400,
     DESER + "missing field: either `mem_backend` or `mem_file_path` is required."),
    ("a load with both memories", "PUT", "/snapshot/load",
     '{"snapshot_path": "/tmp/s", "mem_file_path": "/m", '
     '"mem_backend": {"backend_type": "File", "backend_path": "/m"}}', 400,
     DESER + "too many fields: either `mem_backend` or `mem_file_path` exclusively is required."),
    ("a load with an unknown field", "PUT", "/snapshot/load",
     '{"snapshot_path": "/tmp/s", "mem_file_path": "/m", "foo": 1}', 400, DESER + "unknown field `foo`"),
    ("a load of a missing state file", "PUT", "/snapshot/load",
     '{"snapshot_path": "/nonexistent/s", "mem_file_path": "/m"}', 400, LOAD_FILE + "cannot open"),
    ("missing vcpu_count", "PUT", "/machine-config", '{"mem_size_mib": 128}', 400,
     DESER + "missing field `vcpu_count` at line 1 column 21."),
    ("missing mem_size_mib", "PUT", "/machine-config", '{"vcpu_count": 2}', 400,
     DESER + "missing field `mem_size_mib` at line 1 column 17."),
    ("an unknown field", "PUT", "/machine-config", '{"vcpu_count": 1, "mem_size_mib": 64, "foo": 1}', 400,
     DESER + "unknown field `foo`, expected one of `vcpu_count`"),
    ("a field of the wrong type", "PUT", "/machine-config", '{"vcpu_count": "-2", "mem_size_mib": 64}', 400,
     DESER + "invalid type: string \"-2\""),
    ("smt of the wrong type", "PATCH", "/machine-config", '{"smt": "random_string"}', 400,
     DESER + "invalid type: string \"random_string\""),
    ("an unknown CPU template", "PATCH", "/machine-config", '{"cpu_template": "random_string"}', 400,
     DESER + "unknown variant `random_string`"),
    ("mem_size_mib 0", "PATCH", "/machine-config", '{"mem_size_mib": 0}', 400,
     "The memory size (MiB) is either 0, or not a multiple of the configured page size."),
    ("33 vCPUs", "PATCH", "/machine-config", '{"vcpu_count": 33}', 400,
     "The number of vCPUs must be greater than 0, less than 32 and must be 1 or an even number "
     "if SMT is enabled."),
    ("0 vCPUs", "PATCH", "/machine-config", '{"vcpu_count": 0}', 400,
     "The number of vCPUs must be greater than 0"),
    ("malformed JSON", "PUT", "/machine-config", '{"vcpu_count": 1', 400, DESER),
    ("a body that is not an object", "PUT", "/actions", '[1]', 400, DESER + "invalid type: sequence"),
    ("an unknown action", "PUT", "/actions", '{"action_type": "Reboot"}', 400,
     DESER + "unknown variant `Reboot`"),
    ("a missing kernel file", "PUT", "/boot-source", '{"kernel_image_path": "foo.bar"}', 400,
     "The kernel file cannot be opened: No such file or directory (os error 2)"),
    ("PATCH /boot-source", "PATCH", "/boot-source", '{"kernel_image_path": "otherfile"}', 400,
     "Invalid request method and/or path: PATCH /boot-source."),
    ("PATCH /logger", "PATCH", "/logger", '{"level": "Error"}', 400,
     "Invalid request method and/or path"),
    ("an unknown path", "GET", "/foo", None, 400, "Invalid request method and/or path: GET /foo."),
    ("DELETE /machine-config", "DELETE", "/machine-config", None, 400,
     "Invalid request method and/or path: DELETE /machine-config."),
    ("PUT without a body", "PUT", "/machine-config", None, 400, "Empty PUT request."),
    ("PATCH without a body", "PATCH", "/machine-config", None, 400, "Empty PATCH request."),
    ("GET with a body", "GET", "/machine-config", "{}", 400, "GET request cannot have a body."),
    ("a resource id with a dash", "PUT", "/drives/a-b", '{"drive_id": "a-b"}', 400,
     "API Resource IDs can only contain alphanumeric characters and underscores."),
    ("PATCH /drives before boot", "PATCH", "/drives/scratch", '{"drive_id": "scratch", "path_on_host": "foo.bar"}',
     400, PRE_BOOT),
    ("PATCH /vm before boot", "PATCH", "/vm", '{"state": "Paused"}', 400, PRE_BOOT),
    ("SendCtrlAltDel before boot", "PUT", "/actions", '{"action_type": "SendCtrlAltDel"}', 400, PRE_BOOT),
    ("FlushMetrics before boot", "PUT", "/actions", '{"action_type": "FlushMetrics"}', 400, PRE_BOOT),
    ("InstanceStart without a kernel", "PUT", "/actions", '{"action_type": "InstanceStart"}', 400,
     "Cannot start microvm without kernel configuration."),
    ("a logger level that is none", "PUT", "/logger", '{"level": "Loud"}', 400,
     DESER + "unknown variant `Loud`"),
]


def fault(data):
    try:
        return json.loads(data).get("fault_message", "")
    except ValueError:
        return ""


def main():
    tmp = tempfile.mkdtemp(prefix="mvm-msg-")
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    vmm = Vmm(MVM, "messages")
    try:
        for what, method, url, body, status, text in TABLE:
            st, _, data = vmm.req(method, url, body)
            t.ok(st == status and text in fault(data), "%s -> %d '%s'" % (what, status, text[:60]),
                 "%s %s %s -> %d %s" % (method, url, body, st, data[:300]))

        # A second root device.
        root = {"drive_id": "rootfs", "path_on_host": disk, "is_root_device": True, "is_read_only": False}
        st, _, data = vmm.req("PUT", "/drives/rootfs", json.dumps(root))
        t.ok(st == 204, "a root drive is accepted", data)
        st, _, data = vmm.req("PUT", "/drives/scratch", json.dumps(dict(root, drive_id="scratch")))
        t.ok(st == 400 and "A root block device already exists!" in fault(data),
             "a second root device -> 400 'A root block device already exists!'", data)
        st, _, data = vmm.req("PUT", "/drives/scratch", json.dumps(dict(root, path_on_host="foo.bar",
                                                                       drive_id="scratch", is_root_device=False)))
        t.ok(st == 400 and "No such file or directory" in fault(data),
             "a drive whose file does not exist -> 400 'No such file or directory'", data)

        # The deprecated cpu_template: answered with "Deprecation: true", and logged.
        st, hdr, data = vmm.req("PUT", "/machine-config",
                                json.dumps({"vcpu_count": 2, "mem_size_mib": 256, "cpu_template": "None"}))
        t.ok(st == 204 and hdr.get("deprecation") == "true",
             "PUT /machine-config with cpu_template -> 204 with 'Deprecation: true'", st, hdr, data)
        st, hdr, data = vmm.req("PATCH", "/machine-config", json.dumps({"cpu_template": "None"}))
        t.ok(st == 204 and hdr.get("deprecation") == "true",
             "PATCH /machine-config with cpu_template -> 204 with 'Deprecation: true'", st, hdr)
        st, hdr, data = vmm.req("PATCH", "/machine-config", json.dumps({"vcpu_count": 2}))
        t.ok(st == 204 and "deprecation" not in hdr, "without cpu_template: no Deprecation header", hdr)
        t.ok("PUT /machine-config: cpu_template field is deprecated." in vmm.errors(),
             "the deprecation is logged as Firecracker words it", vmm.errors()[-300:])
        st, _, data = vmm.req("GET", "/machine-config")
        mc = json.loads(data)
        t.ok(mc == {"vcpu_count": 2, "mem_size_mib": 256, "smt": False, "track_dirty_pages": False,
                    "huge_pages": "None", "cpu_template": "None"},
             "GET /machine-config: Firecracker's fields, cpu_template once given", mc)

        # Dirty page tracking is accepted and shown.
        st, _, data = vmm.req("PATCH", "/machine-config", json.dumps({"track_dirty_pages": True}))
        t.ok(st == 204 and json.loads(vmm.req("GET", "/machine-config")[2])["track_dirty_pages"] is True,
             "track_dirty_pages: true is accepted and shown", st, data)
        # Boot resources were configured: no snapshot can be loaded any more.
        st, _, data = vmm.req("PUT", "/snapshot/load", '{"snapshot_path": "/nonexistent/s", "mem_file_path": "/m"}')
        t.ok(st == 400 and "Load snapshot error: Loading a microVM snapshot not allowed after configuring "
             "boot-specific resources." in fault(data), "a load after configuring -> 400, Firecracker's words", data)

        # A body larger than the limit: 413 with the sizes.
        big = '{"x": "%s"}' % ("a" * 60000)
        st, data = request_early_answer(vmm.sock, "PUT", "/machine-config", big)
        t.ok(st == 413 and "is larger than the limit of 51200" in fault(data),
             "a 60 KB body -> 413 naming the limit", st, data[:300])
    finally:
        vmm.close()
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
