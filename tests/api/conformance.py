#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Conformance of mvm's API to Firecracker's spec (firecracker-api.yaml).

Reads the spec; for every operation mvm implements, sends a valid request
(status and response body checked against the spec's response schema) and
invalid ones derived from the request schema: each property with a wrong
type, integers out of their range, enums out of their set, each required
property missing, an unknown property, malformed JSON, a body that is not an
object, and a method the path does not have (405 with Allow). Invalid
requests must get 400 with a string fault_message, and change nothing.
Operations the spec has and mvm does not implement yet are listed at the
end (their answer must be a 400 fault_message saying so).

  MVM=build/mvm GUESTS=build/guest SPEC=.../firecracker-api.yaml tests/api/conformance.py
"""
import json
import os
import sys
import tempfile

import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mvmapi import Tap, Vmm, kvm_usable  # noqa: E402

MVM = os.environ.get("MVM", "build/mvm")
GUESTS = os.environ.get("GUESTS", "build/guest")
SPEC = os.environ.get("SPEC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "firecracker-api.yaml"))

t = Tap()
spec = yaml.safe_load(open(SPEC))
defs = spec["definitions"]
METHODS = ["get", "put", "patch", "post", "delete"]


def resolve(s):
    while isinstance(s, dict) and "$ref" in s:
        s = defs[s["$ref"].split("/")[-1]]
    return s


def validate(value, schema, path="$"):
    """The errors of value against a (swagger 2.0) schema: a list of strings."""
    s = resolve(schema)
    errs = []
    ty = s.get("type")
    if ty is None and "properties" in s:
        ty = "object"
    checks = {
        "object": lambda v: isinstance(v, dict),
        "array": lambda v: isinstance(v, list),
        "string": lambda v: isinstance(v, str),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
        "boolean": lambda v: isinstance(v, bool),
    }
    if ty in checks and not checks[ty](value):
        return ["%s: want %s, got %r" % (path, ty, value)]
    if "enum" in s and value not in s["enum"]:
        errs.append("%s: %r not in %r" % (path, value, s["enum"]))
    if ty == "integer":
        if "minimum" in s and value < s["minimum"]:
            errs.append("%s: %r < minimum %r" % (path, value, s["minimum"]))
        if "maximum" in s and value > s["maximum"]:
            errs.append("%s: %r > maximum %r" % (path, value, s["maximum"]))
    if ty == "object":
        for r in s.get("required", []):
            if r not in value:
                errs.append("%s: required %r missing" % (path, r))
        for k, v in value.items():
            if k in s.get("properties", {}):
                errs += validate(v, s["properties"][k], path + "." + k)
            elif isinstance(s.get("additionalProperties"), dict):
                errs += validate(v, s["additionalProperties"], path + "." + k)
    if ty == "array":
        for i, v in enumerate(value):
            errs += validate(v, s.get("items", {}), "%s[%d]" % (path, i))
    return errs


# Every operation of the spec: operationId -> (method, path, op).
ops = {}
for path, item in spec["paths"].items():
    for m in METHODS:
        if m in item:
            ops[item[m]["operationId"]] = (m.upper(), path, item[m])


def body_schema(op):
    for p in op.get("parameters", []):
        if p.get("in") == "body":
            return resolve(p["schema"])
    return None


def url_of(path, param="conf0"):
    return path.replace("{drive_id}", param).replace("{iface_id}", param).replace("{id}", param)


def is_fault(status, body, want=400):
    try:
        j = json.loads(body)
    except ValueError:
        return False
    return status == want and isinstance(j, dict) and isinstance(j.get("fault_message"), str)


def check_valid(vmm, opid, body=None, param="conf0", want=None):
    method, path, op = ops[opid]
    st, hdr, data = vmm.req(method, url_of(path, param), None if body is None else json.dumps(body))
    codes = [c for c in op["responses"] if isinstance(c, int) and c < 300]
    exp = want or codes[0]
    good = st == exp
    why = ["%s %s -> %d, want %d: %s" % (method, url_of(path, param), st, exp, data[:300])]
    if good and st == 200:
        schema = op["responses"][200].get("schema")
        try:
            j = json.loads(data)
        except ValueError:
            j = None
            good = False
            why.append("body is not JSON")
        if schema and j is not None:
            errs = validate(j, schema)
            good = not errs
            why += errs
    t.ok(good, "%s: a valid request gets %d%s" % (opid, exp, " and a body of its schema" if exp == 200 else ""), *why)
    return data


WRONG = {"string": 123, "integer": "12", "boolean": "yes", "object": [1], "array": {"a": 1}, "number": "x"}


def invalid_variants(opid, valid, skip_required=False):
    """(label, raw body) pairs derived from the schema, each to be refused with 400."""
    method, path, op = ops[opid]
    s = body_schema(op)
    out = [("malformed JSON", json.dumps(valid)[:-1]),
           ("a body that is not an object", "[1, 2]"),
           ("an unknown field", json.dumps(dict(valid, mvm_no_such_field=1)))]
    if s is None:
        return out
    for name, ps in s.get("properties", {}).items():
        p = resolve(ps)
        ty = p.get("type", "object" if "properties" in p else None)
        if ty in WRONG:
            out.append(("field '%s' of the wrong type" % name, json.dumps(dict(valid, **{name: WRONG[ty]}))))
        if ty == "integer":
            if "minimum" in p:
                out.append(("field '%s' below its minimum" % name, json.dumps(dict(valid, **{name: p["minimum"] - 1}))))
            if "maximum" in p:
                out.append(("field '%s' above its maximum" % name, json.dumps(dict(valid, **{name: p["maximum"] + 1}))))
        if "enum" in p:
            out.append(("field '%s' out of its enum" % name, json.dumps(dict(valid, **{name: "NoSuchValue"}))))
    if not skip_required:
        for r in s.get("required", []):
            if r in valid:
                v = dict(valid)
                del v[r]
                out.append(("required field '%s' missing" % r, json.dumps(v)))
    return out


def check_invalid(vmm, opid, valid, param="conf0", skip_required=False):
    method, path, op = ops[opid]
    url = url_of(path, param)
    for label, raw in invalid_variants(opid, valid, skip_required):
        st, hdr, data = vmm.req(method, url, raw)
        t.ok(is_fault(st, data), "%s: %s -> 400 with fault_message" % (opid, label),
             "%s %s %s -> %d %s" % (method, url, raw[:200], st, data[:300]))
    # A method the path does not have.
    item = spec["paths"][path]
    other = [m.upper() for m in METHODS if m not in item and m != "post"][0]
    st, hdr, data = vmm.req(other, url)
    allow = hdr.get("allow", "")
    t.ok(st == 405 and is_fault(st, data, 405) and method in allow,
         "%s: wrong method %s on %s -> 405 with Allow and fault_message" % (opid, other, path),
         "%d allow=%r %s" % (st, allow, data[:200]))


def main():
    if not kvm_usable():
        print("SKIP: /dev/kvm is missing or not accessible: the API tests boot a guest")
        print("0 passed, 0 failed, 1 skipped")
        return 0
    tmp = tempfile.mkdtemp(prefix="mvm-conf-")
    disk = os.path.join(tmp, "disk.img")
    with open(disk, "wb") as f:
        f.truncate(1 << 20)
    kernel = os.path.abspath(os.path.join(GUESTS, "busy.elf"))
    vmm = Vmm(MVM, "conformance")
    implemented = set()
    try:
        t.ok(vmm.wait_socket(), "the VMM's socket accepts connections", vmm.errors())

        # ---- pre-boot ----
        data = check_valid(vmm, "describeInstance")
        t.ok(json.loads(data or b"{}").get("state") == "Not started", "describeInstance: state is 'Not started'", data)
        check_valid(vmm, "getFirecrackerVersion")
        data = check_valid(vmm, "getMachineConfiguration")
        mc = json.loads(data or b"{}")
        t.ok(mc.get("vcpu_count") == 1 and mc.get("mem_size_mib") == 128,
             "getMachineConfiguration: defaults are 1 vCPU, 128 MiB (as the spec says)", data)

        mc_valid = {"vcpu_count": 2, "mem_size_mib": 64, "smt": False}
        check_invalid(vmm, "putMachineConfiguration", mc_valid)
        check_valid(vmm, "putMachineConfiguration", mc_valid)
        check_invalid(vmm, "patchMachineConfiguration", {"mem_size_mib": 96}, skip_required=True)
        check_valid(vmm, "patchMachineConfiguration", {"mem_size_mib": 96})
        mc = json.loads(check_valid(vmm, "getMachineConfiguration") or b"{}")
        t.ok(mc.get("vcpu_count") == 2 and mc.get("mem_size_mib") == 96,
             "machine-config: PUT then PATCH are applied, invalid requests changed nothing", mc)

        bs_valid = {"kernel_image_path": kernel, "boot_args": "conformance"}
        check_invalid(vmm, "putGuestBootSource", bs_valid)
        st, _, data = vmm.req("PUT", "/boot-source", json.dumps({"kernel_image_path": os.path.join(tmp, "nope")}))
        t.ok(is_fault(st, data) and b"kernel_image_path" in data,
             "putGuestBootSource: a kernel that does not exist -> 400 naming the field", data)
        check_valid(vmm, "putGuestBootSource", bs_valid)

        dr_valid = {"drive_id": "conf0", "path_on_host": disk, "is_root_device": True, "is_read_only": False,
                    "cache_type": "Unsafe", "io_engine": "Sync"}
        check_invalid(vmm, "putGuestDriveByID", dr_valid)
        st, _, data = vmm.req("PUT", "/drives/other", json.dumps(dr_valid))
        t.ok(is_fault(st, data), "putGuestDriveByID: drive_id differing from the path -> 400", data)
        st, _, data = vmm.req("PUT", "/drives/conf0", json.dumps(dict(dr_valid, rate_limiter={"bandwidth": {"size": -1, "refill_time": 1}})))
        t.ok(is_fault(st, data) and b"rate_limiter.bandwidth.size" in data,
             "putGuestDriveByID: a nested out-of-range value is named by its path", data)
        check_valid(vmm, "putGuestDriveByID", dr_valid)
        st, _, data = vmm.req("PATCH", "/drives/conf0", json.dumps({"drive_id": "conf0"}))
        t.ok(is_fault(st, data), "patchGuestDriveByID before InstanceStart -> 400 (post-boot only)", data)

        for f in ("log", "metrics"):  # Firecracker's rule: the files exist, the VMM creates none
            open(os.path.join(tmp, f), "a").close()
        lg_valid = {"log_path": os.path.join(tmp, "log"), "level": "Warning", "show_level": True}
        check_invalid(vmm, "putLogger", lg_valid)
        check_valid(vmm, "putLogger", lg_valid)
        mt_valid = {"metrics_path": os.path.join(tmp, "metrics")}
        check_invalid(vmm, "putMetrics", mt_valid)
        check_valid(vmm, "putMetrics", mt_valid)
        st, _, data = vmm.req("PUT", "/metrics", json.dumps(mt_valid))
        t.ok(is_fault(st, data), "putMetrics twice -> 400 (already initialized, as the spec says)", data)

        cfg = json.loads(check_valid(vmm, "getExportVmConfig") or b"{}")
        t.ok(cfg.get("boot-source", {}).get("kernel_image_path") == kernel and
             cfg.get("machine-config", {}).get("vcpu_count") == 2 and
             [d.get("drive_id") for d in cfg.get("drives", [])] == ["conf0"] and
             cfg.get("metrics", {}).get("metrics_path") == mt_valid["metrics_path"],
             "getExportVmConfig: reports what was configured", cfg)

        st, _, data = vmm.req("PATCH", "/vm", json.dumps({"state": "Paused"}))
        t.ok(is_fault(st, data), "patchVm before InstanceStart -> 400", data)
        check_invalid(vmm, "createSyncAction", {"action_type": "FlushMetrics"})
        check_valid(vmm, "createSyncAction", {"action_type": "FlushMetrics"})
        check_valid(vmm, "createSyncAction", {"action_type": "InstanceStart"})

        # ---- post-boot ----
        st, _, data = vmm.req("GET", "/")
        t.ok(json.loads(data).get("state") == "Running", "describeInstance: state is 'Running' after InstanceStart", data)
        for opid, body in [("putGuestBootSource", bs_valid), ("putMachineConfiguration", mc_valid),
                           ("patchMachineConfiguration", {"vcpu_count": 1}), ("putGuestDriveByID", dr_valid),
                           ("putLogger", lg_valid), ("createSyncAction", {"action_type": "InstanceStart"})]:
            method, path, _ = ops[opid]
            st, _, data = vmm.req(method, url_of(path), json.dumps(body))
            t.ok(is_fault(st, data) and (b"pre-boot" in data or b"already" in data),
                 "%s after InstanceStart -> 400 saying it is pre-boot only" % opid, data)
        check_invalid(vmm, "patchVm", {"state": "Paused"})
        check_valid(vmm, "patchVm", {"state": "Paused"})
        st, _, data = vmm.req("GET", "/")
        t.ok(json.loads(data).get("state") == "Paused", "describeInstance: state is 'Paused' after patchVm Paused", data)
        check_valid(vmm, "patchVm", {"state": "Resumed"})
        st, _, data = vmm.req("GET", "/")
        t.ok(json.loads(data).get("state") == "Running", "describeInstance: 'Running' again after Resumed", data)
        check_invalid(vmm, "patchGuestDriveByID", {"drive_id": "conf0"})
        check_valid(vmm, "patchGuestDriveByID", {"drive_id": "conf0"})
        check_valid(vmm, "createSyncAction", {"action_type": "SendCtrlAltDel"})
        for url, ctype in [("/stats", "application/json"), ("/devices", "application/json"),
                           ("/metrics/prometheus", "text/plain")]:
            st, hdr, data = vmm.req("GET", url)
            t.ok(st == 200 and hdr.get("content-type", "").startswith(ctype) and len(data) > 2,
                 "mvm extension GET %s -> 200 %s" % (url, ctype), st, data[:200])
        st, _, data = vmm.req("GET", "/no/such/route")
        t.ok(is_fault(st, data, 404), "an unknown route -> 404 with fault_message", st, data)

        # ---- what mvm does not implement yet ----
        missing = []
        for opid, (method, path, op) in ops.items():
            st, _, data = vmm.req(method, url_of(path), "{}" if body_schema(op) is not None else None)
            if b"not supported by mvm yet" in data and opid in data.decode():
                t.ok(is_fault(st, data), "%s (%s %s): not implemented, answered 400 naming it" % (opid, method, path), data)
                missing.append("%s (%s %s)" % (opid, method, path))
            else:
                implemented.add(opid)
        st, _, _ = vmm.req("PUT", "/actions", json.dumps({"action_type": "Stop"}))
        t.ok(st == 204, "mvm extension action Stop -> 204")
        rc = vmm.wait(30)
        t.ok(rc == 0, "the VMM exits 0 after Stop", rc, vmm.errors()[-400:])
        t.ok(not os.path.exists(vmm.sock) and not os.path.exists(vmm.entry()),
             "socket and runtime entry are gone after exit")
        print("# spec operations implemented by mvm (%d): %s" % (len(implemented), ", ".join(sorted(implemented))))
        print("# spec operations NOT implemented yet (%d):" % len(missing))
        for m in missing:
            print("#   " + m)
    finally:
        vmm.close()
    return t.summary()


if __name__ == "__main__":
    sys.exit(main())
