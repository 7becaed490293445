#!/usr/bin/env bash
# Footprint of an idle API process: exec -> the API socket accepting, and
# -> the first answer (GET /), each as CPU milliseconds of the process
# (user + system, from wait4() after a SIGKILL at that moment) and wall
# milliseconds; its peak RSS (VmHWM) and /proc/PID/smaps_rollup (Rss, Pss,
# Private_Dirty) at that moment. Rows alternate in every round, the order
# rotating. Prints a table of medians; asserts nothing. Needs no /dev/kvm.
#
#   bench/api-footprint.sh [-n ROUNDS] 'NAME=COMMAND' ...
#
# {sock} in COMMAND becomes a fresh socket path. Default row:
# 'mvm=build/mvm --api-sock {sock}' (Firecracker's mode: the API before any KVM call).
set -u

rounds=20
while getopts "n:" o; do
	case $o in
	n) rounds=$OPTARG ;;
	*) sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -gt 0 ] || set -- "mvm=$(dirname "$0")/../build/mvm --api-sock {sock}"

exec python3 - "$rounds" "$@" <<'PY'
import os, shlex, shutil, signal, socket, statistics, sys, tempfile, time

rounds = int(sys.argv[1])
rows = [(s.split("=", 1)[0], s.split("=", 1)[1]) for s in sys.argv[2:]]
tmp = tempfile.mkdtemp(prefix="mvm-api-footprint-")
# Killed VMMs leave their runtime entries: in a directory of our own, removed at the end.
env = dict(os.environ, XDG_RUNTIME_DIR=tmp)

def status_kib(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0

def rollup(pid):
    r = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[2] == "kB":
                r[p[0].rstrip(":")] = int(p[1])
    return r

def one(cmd, answer):
    """Spawns cmd; at 'accepting' (or at the first answer) samples, kills, reaps."""
    sock = os.path.join(tmp, "api.sock")
    try:
        os.unlink(sock)
    except FileNotFoundError:
        pass
    argv = [a.replace("{sock}", sock) for a in shlex.split(cmd)]
    devnull = os.open(os.devnull, os.O_RDWR)
    t0 = time.perf_counter()
    pid = os.posix_spawn(argv[0], argv, env,
                         file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 0),
                                       (os.POSIX_SPAWN_DUP2, devnull, 1),
                                       (os.POSIX_SPAWN_DUP2, devnull, 2)])
    os.close(devnull)
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = t0 + 10
    while True:
        try:
            c.connect(sock)
            break
        except (FileNotFoundError, ConnectionRefusedError):
            if time.perf_counter() > deadline or os.waitpid(pid, os.WNOHANG)[0]:
                raise SystemExit(f"{argv[0]}: no API socket at {sock}")
            time.sleep(0.0002)
    t = time.perf_counter()
    if answer:
        c.sendall(b"GET / HTTP/1.0\r\n\r\n")
        got = b""
        while b"\r\n\r\n" not in got:
            b = c.recv(4096)
            if not b:
                break
            got += b
        t = time.perf_counter()
    hwm, roll = status_kib(pid, "VmHWM"), rollup(pid)
    os.kill(pid, signal.SIGKILL)
    _, _, ru = os.wait4(pid, 0)
    c.close()
    return {"wall": (t - t0) * 1e3, "cpu": (ru.ru_utime + ru.ru_stime) * 1e3,
            "hwm": hwm, "rss": roll.get("Rss", 0), "pss": roll.get("Pss", 0),
            "dirty": roll.get("Private_Dirty", 0)}

res = {(n, a): [] for n, _ in rows for a in (False, True)}
for r in range(rounds + 1):
    for k in range(len(rows)):
        n, cmd = rows[(r + k) % len(rows)]
        for a in (False, True):
            m = one(cmd, a)
            if r:  # round 0 warms the page cache
                res[(n, a)].append(m)

print(f"Idle API process, {rounds} rounds (medians); CPU = user + system of the process")
print(f"{'row':<16} {'at':<9} {'wall ms':>8} {'CPU ms':>7} {'VmHWM KiB':>10} "
      f"{'Rss KiB':>8} {'Pss KiB':>8} {'PrivDirty':>9}")
for n, _ in rows:
    for a in (False, True):
        v = res[(n, a)]
        med = lambda k: statistics.median(x[k] for x in v)
        print(f"{n:<16} {'answer' if a else 'accept':<9} {med('wall'):8.2f} {med('cpu'):7.2f} "
              f"{med('hwm'):10.0f} {med('rss'):8.0f} {med('pss'):8.0f} {med('dirty'):9.0f}")
shutil.rmtree(tmp)
PY
