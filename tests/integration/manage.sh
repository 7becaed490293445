#!/usr/bin/env bash
# The management commands on running VMs: mvm ls/stat/top/devices/pause/
# resume/stop, against VMs started with `mvm run` (which registers in the
# runtime directory and serves the API). Pause must really stop the guest:
# the ticker guest's output and its vCPUs' exit counters stop advancing, and
# after resume its tick numbers go on with no gap and no repeat. Also: stop
# from paused, SIGTERM, stale entries, an id in use, metrics and logger
# through `mvm --api-sock`. Needs /dev/kvm (skips without it).
#
#   MVM=build/mvm GUESTS=build/guest tests/integration/manage.sh
set -u

MVM=${MVM:-build/mvm}
GUESTS=${GUESTS:-build/guest}
TMP=$(mktemp -d)
export XDG_RUNTIME_DIR=$TMP/xdg
mkdir -p "$XDG_RUNTIME_DIR"
RT=$XDG_RUNTIME_DIR/mvm
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/tap.sh"
check() { # check NAME COMMAND...: ok if the command succeeds
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
# wait_for SECONDS COMMAND...: until the command succeeds (bounded, no assertion on time)
wait_for() {
	local i n=$(($1 * 20))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	return 1
}
ticks() { grep -c '^tick ' "$1" 2>/dev/null || true; }
ticks_gt() { [ "$(ticks "$1")" -gt "$2" ]; }
# json EXPR: evaluates a python expression on the JSON on stdin (as j)
json() { python3 -c "import json,sys; j=json.load(sys.stdin); print($1)"; }

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
[ -x "$MVM" ] || { echo "$MVM not built: run make"; exit 1; }

# --- a VM started by mvm run: listed, inspected ---
"$MVM" run --kernel "$GUESTS/ticker.elf" --cmdline "period=20000000" --name m1 --cpus 2 \
	>"$TMP/m1.out" 2>"$TMP/m1.err" </dev/null &
m1=$!
pids+=("$m1")
wait_for 20 test -S "$RT/m1.sock" && wait_for 20 grep -q '^tick 3$' "$TMP/m1.out"
check "mvm run registers m1 and serves its socket" test -S "$RT/m1.sock" -a -f "$RT/m1.json"

"$MVM" ls >"$TMP/ls" 2>&1
if grep -qE "^m1 +$m1 +Running +2 +128M +$RT/m1.sock$" "$TMP/ls"; then
	ok "mvm ls: id, pid, state, vCPUs, memory, socket"
else
	not_ok "mvm ls: id, pid, state, vCPUs, memory, socket" "$(cat "$TMP/ls")"
fi
check "mvm ls --json" test "$("$MVM" ls --json | json '[(v["id"], v["vcpus"]) for v in j]')" = "[('m1', 2)]"

"$MVM" devices m1 >"$TMP/dev" 2>&1
if grep -qE '^serial0 +serial8250 +platform +pio:0x3f8-0x3ff +4 +yes$' "$TMP/dev" &&
	grep -qE '^i8042 +i8042 +platform +pio:0x60-0x60,pio:0x64-0x64 +- +yes$' "$TMP/dev" &&
	grep -qE '^debug-exit ' "$TMP/dev"; then
	ok "mvm devices: names, types, bus addresses, binding"
else
	not_ok "mvm devices: names, types, bus addresses, binding" "$(cat "$TMP/dev")"
fi

"$MVM" stat m1 >"$TMP/stat" 2>&1
if grep -qE "^kvm-$m1\$" "$TMP/stat" && grep -qE "^kvm-$m1/vcpu-1\$" "$TMP/stat" &&
	grep -qE '^  kvm\.exits [0-9]+$' "$TMP/stat" && grep -qE '^  mvm\.exits_io [1-9][0-9]*$' "$TMP/stat"; then
	ok "mvm stat: the VM, vCPU and device nodes with KVM's ids, KVM stats and mvm counters"
else
	not_ok "mvm stat: nodes and values" "$(head -20 "$TMP/stat")"
fi
ndev=$("$MVM" devices --json m1 | json 'len(j)')
check "mvm stat --json: 2 vCPUs, a node per listed device ($ndev)" test "$("$MVM" stat --json m1 | json 'len(j["vcpus"]) * 100 + len(j["devices"])')" = $((200 + ndev))
check "mvm devices: the platform devices are listed" test "$ndev" -ge 5

"$MVM" top --once >"$TMP/top" 2>&1
if grep -qE "^VM m1 +pid $m1 +Running +2 vCPUs" "$TMP/top" && grep -qE '^  0 +[0-9]+ ' "$TMP/top" &&
	grep -qE '^  exits +[0-9]+ +[0-9]+$' "$TMP/top" && grep -qE '^  mvm\.exits_io +[0-9]+ +[1-9][0-9]*$' "$TMP/top"; then
	ok "mvm top --once: exits/s by reason, per VM and per vCPU"
else
	not_ok "mvm top --once" "$(cat "$TMP/top")"
fi
check "mvm top -n 2 prints two frames" test "$("$MVM" top -n 2 -d 0.2 m1 | grep -c '^mvm top')" = 2

curl -s --unix-socket "$RT/m1.sock" http://localhost/metrics/prometheus >"$TMP/prom"
if grep -qE "^mvm_vm_paused\{vm=\"m1\",kvm_id=\"kvm-$m1\"\} 0$" "$TMP/prom" &&
	grep -q '^# TYPE mvm_vcpu_kvm_exits counter$' "$TMP/prom"; then
	ok "GET /metrics/prometheus"
else
	not_ok "GET /metrics/prometheus" "$(head -5 "$TMP/prom")"
fi

# --- pause really stops the guest; resume loses nothing ---
vm_exits() { "$MVM" stat --json m1 | json 'sum(v["kvm"]["exits"] + v["mvm"]["exits_io"] for v in j["vcpus"])'; }
check "mvm pause m1" "$MVM" pause m1
sleep 0.2 # lets a line the console already took reach the file
t1=$(ticks "$TMP/m1.out")
e1=$(vm_exits)
sleep 1
t2=$(ticks "$TMP/m1.out")
e2=$(vm_exits)
if [ "$t1" = "$t2" ] && [ "$e1" = "$e2" ] && [ "$t1" -gt 0 ]; then
	ok "paused: no guest output and no vCPU exits for 1 s ($t1 ticks, $e1 exits)"
else
	not_ok "paused: the guest still runs" "ticks $t1 -> $t2, exits $e1 -> $e2"
fi
"$MVM" ls >"$TMP/ls"
check "mvm ls shows Paused" grep -qE '^m1 .* Paused ' "$TMP/ls"
"$MVM" top --once m1 >"$TMP/top"
check "mvm top: a paused VM's vCPUs make 0 exits/s" grep -qE '^  1 +0 ' "$TMP/top"
check "mvm pause again: still paused, no error" "$MVM" pause m1
check "mvm resume m1" "$MVM" resume m1
wait_for 20 ticks_gt "$TMP/m1.out" $((t2 + 5))
t3=$(ticks "$TMP/m1.out")
if [ "$t3" -gt $((t2 + 5)) ]; then ok "resumed: the guest runs on ($t2 -> $t3 ticks)"; else
	not_ok "resumed: the guest runs on" "ticks $t2 -> $t3"; fi
# Several pause/resume rounds, then the whole output: 0, 1, 2, ... with no gap or repeat.
for _ in 1 2 3; do "$MVM" pause m1 && "$MVM" resume m1; done
wait_for 20 ticks_gt "$TMP/m1.out" $((t3 + 5))
# A snapshot of the complete lines: the guest may be writing the last one.
cp "$TMP/m1.out" "$TMP/m1.snap"
[ -z "$(tail -c1 "$TMP/m1.snap")" ] || sed -i '$d' "$TMP/m1.snap"
if grep '^tick ' "$TMP/m1.snap" | awk '{ if ($2 != NR - 1) { bad = 1; exit } } END { exit bad }'; then
	ok "resume loses nothing: tick numbers consecutive across 4 pauses ($(ticks "$TMP/m1.snap") lines)"
else
	not_ok "resume loses nothing" "$(grep '^tick ' "$TMP/m1.snap" | awk '$2 != NR - 1 { print "line " NR ": " $0; exit }')"
fi

# --- stop from paused: the VMM exits, its socket and entry are gone ---
check "mvm pause before stop" "$MVM" pause m1
check "mvm stop m1 (paused)" "$MVM" stop m1
wait "$m1"
rc=$?
check "the stopped VMM exited 0" test "$rc" = 0
check "socket and runtime entry removed after mvm stop" test ! -e "$RT/m1.sock" -a ! -e "$RT/m1.json"
check "mvm stat on a stopped VM fails" bash -c "! '$MVM' stat m1"
"$MVM" stat nosuch 2>"$TMP/err"
check "mvm stat of an unknown id says so" grep -q "no running VMM with id 'nosuch'" "$TMP/err"

# --- SIGTERM, an id in use, stale entries ---
"$MVM" run --kernel "$GUESTS/busy.elf" --name m2 >"$TMP/m2.out" 2>&1 </dev/null &
m2=$!
pids+=("$m2")
wait_for 20 grep -q spinning "$TMP/m2.out"
"$MVM" run --kernel "$GUESTS/busy.elf" --name m2 >"$TMP/dup.out" 2>&1 </dev/null
rc=$?
if [ "$rc" = 1 ] && grep -q "a running VMM has it" "$TMP/dup.out"; then
	ok "a second mvm run with the same id is refused"
else
	not_ok "a second mvm run with the same id is refused" "status $rc" "$(cat "$TMP/dup.out")"
fi
check "the first m2 still answers" "$MVM" stat m2
kill -TERM "$m2"
wait "$m2"
rc=$?
check "SIGTERM: mvm run exits 143" test "$rc" = 143
check "SIGTERM: socket and runtime entry removed" test ! -e "$RT/m2.sock" -a ! -e "$RT/m2.json"

"$MVM" run --kernel "$GUESTS/busy.elf" --name hidden --no-api >"$TMP/m3.out" 2>&1 </dev/null &
m3=$!
pids+=("$m3")
wait_for 20 grep -q spinning "$TMP/m3.out"
check "mvm run --no-api: no runtime entry, no socket" test ! -e "$RT/hidden.json" -a ! -e "$RT/hidden.sock"
kill -TERM "$m3"
wait "$m3"

sh -c 'exit 0' &
dead=$!
wait "$dead"
printf '{"id": "ghost", "pid": %d, "socket": "%s/ghost.sock"}' "$dead" "$RT" >"$RT/ghost.json"
python3 -c "import socket; s=socket.socket(socket.AF_UNIX); s.bind('$RT/ghost.sock')"
"$MVM" ls >"$TMP/ls"
check "mvm ls ignores a stale entry (dead pid)" bash -c "! grep -q ghost '$TMP/ls'"
check "mvm ls removes the stale entry and its socket" test ! -e "$RT/ghost.json" -a ! -e "$RT/ghost.sock"

# --- metrics and logger through mvm --api-sock ---
api() { curl -s -o "$TMP/body" -w '%{http_code}' --unix-socket "$TMP/a.sock" -X "$1" \
	-H 'Content-Type: application/json' ${3:+-d "$3"} "http://localhost$2"; }
"$MVM" --api-sock "$TMP/a.sock" --id a1 >"$TMP/a.out" 2>"$TMP/a.err" </dev/null &
a1=$!
pids+=("$a1")
wait_for 20 test -S "$TMP/a.sock"
check "mvm --api-sock registers before the VM exists (Not started)" \
	bash -c "'$MVM' ls | grep -qE '^a1 +$a1 +Not started'"
: >"$TMP/a.log" # Firecracker's rule: the file exists, the VMM creates none
: >"$TMP/a.metrics"
check "PUT /logger" test "$(api PUT /logger "{\"log_path\": \"$TMP/a.log\", \"level\": \"Info\", \"show_level\": true, \"show_log_origin\": true}")" = 204
check "PUT /metrics" test "$(api PUT /metrics "{\"metrics_path\": \"$TMP/a.metrics\"}")" = 204
check "PUT /boot-source" test "$(api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/ticker.elf\"}")" = 204
check "InstanceStart" test "$(api PUT /actions '{"action_type": "InstanceStart"}')" = 204
wait_for 20 grep -q '^tick 2$' "$TMP/a.out"
check "FlushMetrics" test "$(api PUT /actions '{"action_type": "FlushMetrics"}')" = 204
if tail -n 1 "$TMP/a.metrics" | json 'j["utc_timestamp_ms"] > 0 and j["vcpu"]["exit_io_out"] > 0 and j["uart"]["write_count"] > 0 and j["put_api_requests"]["actions_count"] >= 1' | grep -q True; then
	ok "metrics: Firecracker's line: vcpu exits, uart writes, API request counts"
else
	not_ok "metrics line" "$(cat "$TMP/a.metrics")"
fi
check "SendCtrlAltDel" test "$(api PUT /actions '{"action_type": "SendCtrlAltDel"}')" = 204
check "mvm stop a1" "$MVM" stop a1
wait "$a1"
if grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]+\.[0-9]{9} \[a1:(main|fc_api|fc_vcpu [0-9]+):INFO:src/[a-z0-9_/]+\.c:[0-9]+\] ' "$TMP/a.log"; then
	ok "logger: Firecracker's lines (time, VM id, thread, level, origin) in log_path"
else
	not_ok "logger lines" "$(head -3 "$TMP/a.log")"
fi
check "metrics: a last line at exit" test "$(wc -l <"$TMP/a.metrics")" -ge 2
check "nothing left in the runtime dir" test -z "$(ls -A "$RT")"

# Under SAN=1: no sanitizer report from any of the VMMs above (leaks are checked at their exit).
if grep -lE 'Sanitizer|runtime error:' "$TMP"/*.err "$TMP"/*.out >/dev/null 2>&1; then
	not_ok "no sanitizer reports" "$(grep -hE -m3 'Sanitizer|runtime error:' "$TMP"/*.err "$TMP"/*.out)"
else
	ok "no sanitizer reports in the VMMs' output"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
