#!/usr/bin/env python3
"""The system calls each mvm thread type made, from `strace -ff -o DIR/t` files.

A thread's calls after its own seccomp(SECCOMP_SET_MODE_FILTER) count for its
type (by thread name: main = vmm; api-start, api-serve, MHD-*, fc_api = api;
metrics; fc_vcpu N = vcpu) and for every filter it inherited (filters stack: a call must
pass them all); its calls before that count for the inherited ones only. Prints "type call" lines, sorted, one per pair:
call is the name, plus the request/operation/signal for ioctl, prctl, tgkill
and the first argument's constant for socket and seccomp.
"""
import collections
import os
import re
import sys

CALL = re.compile(r'^(?:\[pid +\d+\] )?([a-z0-9_]+)\((.*)')
CLONE_RET = re.compile(r'^(clone|clone3)\(.*\) = (\d+)')


def key(name, args):
    parts = [a.strip() for a in args.split(',')]
    if name == 'ioctl' and len(parts) > 1:
        req = re.match(r'[A-Z][A-Z0-9_]+', parts[1])
        return f'ioctl {req.group(0)}' if req else 'ioctl ?'
    if name == 'prctl' and re.match(r'PR_[A-Z_]+', parts[0]):
        return f'prctl {re.match(r"PR_[A-Z_]+", parts[0]).group(0)}'
    if name == 'tgkill' and len(parts) > 2:
        return f'tgkill {parts[2].rstrip(")")}'
    return name


def type_of(thread_name, is_main):
    if is_main:
        return 'vmm'
    # vCPU and API threads take Firecracker's names ("fc_vcpu 0", "fc_api")
    if thread_name.startswith(('vcpu', 'fc_vcpu')):
        return 'vcpu'
    if thread_name.startswith(('api', 'MHD', 'fc_api')):
        return 'api'
    if thread_name == 'metrics':
        return 'metrics'
    return None


def main(d):
    files = sorted(f for f in os.listdir(d) if re.match(r't\.\d+$', f))
    threads = {}
    creator = {}
    for f in files:
        tid = int(f.split('.')[1])
        lines = open(os.path.join(d, f), errors='replace').read().splitlines()
        threads[tid] = lines
        for ln in lines:
            m = CLONE_RET.match(ln)
            if m:
                creator[int(m.group(2))] = tid
    # Each process's main thread is a tid nobody in this set created as a thread.
    names, seen = {}, collections.defaultdict(set)
    for tid, lines in threads.items():
        name = ''
        for ln in lines:
            m = re.search(r'prctl\(PR_SET_NAME, "([^"]*)"', ln)
            if m:
                name = m.group(1)
        names[tid] = name

    def ttype(tid):
        return type_of(names[tid], tid not in creator)

    clone_type = {}  # child tid -> the filter type its creator had at clone time
    done = set()

    def walk(tid):
        if tid in done:
            return
        done.add(tid)
        lines, own = threads[tid], ttype(tid)
        entered = any('seccomp(SECCOMP_SET_MODE_FILTER' in ln for ln in lines)
        inherited = []
        if tid in creator:
            walk(creator[tid])
            inherited = clone_type.get(tid, [])
        # Filters stack: a call passes every filter the thread holds.
        cur = inherited if entered else inherited + [own]
        for ln in lines:
            m = CALL.match(ln)
            if not m:
                continue
            for t in cur:
                if t:
                    seen[t].add(key(m.group(1), m.group(2)))
            if m.group(1) == 'seccomp' and 'SECCOMP_SET_MODE_FILTER' in ln:
                cur = inherited + [own]
            c = CLONE_RET.match(ln)
            if c:
                clone_type[int(c.group(2))] = cur

    for tid in threads:
        walk(tid)
    for t in sorted(seen):
        for c in sorted(seen[t]):
            print(t, c)


if __name__ == '__main__':
    main(sys.argv[1])
