#!/usr/bin/env bash
# Snapshots end to end with the guest kit's ticker (it prints "tick N" for
# ever, its count in RAM and registers): a snapshot taken mid-run, the VMM
# killed, the VM restored in a new process goes on from the next tick, with
# no tick repeated or lost; the same with 4 vCPUs; Diff snapshots chained 3
# deep onto one memory file; 20 clones of one snapshot at once. Needs KVM
# (skips without it).
#
#   MVM=build/mvm GUESTS=build/guest tests/integration/snapshot.sh
set -u

MVM=${MVM:-build/mvm}
GUESTS=${GUESTS:-build/guest}
TMP=$(mktemp -d)
export XDG_RUNTIME_DIR=$TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/tap.sh"

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: snapshot tests need KVM"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
[ -x "$MVM" ] || { echo "$MVM not built: run make"; exit 1; }
[ -f "$GUESTS/ticker.elf" ] || { echo "$GUESTS/ticker.elf not built: run make"; exit 1; }

PERIOD=period=2000000

last_tick() { # last_tick FILE: the highest complete "tick N" line's N
	grep -a -o '^tick [0-9]*$' "$1" | awk '{ n = $2 } END { print (n == "" ? -1 : n) }'
}

first_tick() { # first_tick FILE: the first complete "tick N" line's N
	grep -a -o '^tick [0-9]*$' "$1" | awk 'NR == 1 { print $2 }'
}

wait_tick() { # wait_tick FILE N [SECONDS]: until "tick N" (or later) appears
	local i
	for i in $(seq $((${3:-20} * 20))); do
		[ "$(last_tick "$1")" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}

wait_gone() { # wait_gone PID: up to 10 s
	local i
	for i in $(seq 200); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.05; done
	return 1
}

# check_continues NAME OUT_BEFORE OUT_AFTER: the output before the snapshot
# and the restored guest's, joined (a line may be cut where it was paused),
# count on by one: no tick lost, none repeated.
check_continues() {
	local before gaps
	before=$(last_tick "$2")
	gaps=$(cat "$2" "$3" | grep -a -o '^tick [0-9]*$' |
		awk 'NR > 1 && $2 != prev + 1 { bad++ } { prev = $2 } END { print bad + 0 }')
	if [ "$gaps" -eq 0 ] && [ "$(last_tick "$3")" -gt "$before" ]; then
		ok "$1: the count goes on from tick $before, none lost or repeated"
	else
		not_ok "$1: the count goes on" "last tick before $before; $gaps breaks in the count; after: $(last_tick "$3")"
	fi
}

# start_ticker NAME OUT [ARGS...]: mvm run of the ticker in the background.
start_ticker() {
	local name=$1 out=$2
	shift 2
	"$MVM" run --kernel "$GUESTS/ticker.elf" --cmdline "$PERIOD" --name "$name" "$@" \
		>"$out" 2>"$out.err" </dev/null &
	pids+=($!)
	ticker_pid=$!
}

# restore NAME DIR OUT: mvm run --restore DIR --resume in the background.
restore() {
	"$MVM" run --restore "$2" --resume --name "$1" >"$3" 2>"$3.err" </dev/null &
	pids+=($!)
	restored_pid=$!
}

# snapshot_and_kill NAME DIR OUT: snapshot the running VM, then kill its VMM outright.
snapshot_and_kill() {
	if "$MVM" snapshot "$1" --out "$2" >/dev/null 2>"$TMP/snap.err"; then
		ok "$1: mvm snapshot --out $(basename "$2")"
	else
		not_ok "$1: mvm snapshot" "$(cat "$TMP/snap.err")"
	fi
	"$MVM" pause "$1" 2>/dev/null
	sleep 0.1
	kill -KILL "$ticker_pid"
	wait "$ticker_pid" 2>/dev/null
}

# --- 1. one vCPU: snapshot mid-run, kill, restore in a new process ---
start_ticker t1 "$TMP/t1.out"
wait_tick "$TMP/t1.out" 20 || not_ok "t1: the ticker runs" "$(tail -3 "$TMP/t1.out.err")"
snapshot_and_kill t1 "$TMP/s1"
"$MVM" snapshot info "$TMP/s1/state" >"$TMP/info" 2>&1 && grep -q "format version: v1" "$TMP/info" &&
	ok "mvm snapshot info reads the state file" || not_ok "mvm snapshot info" "$(cat "$TMP/info")"
"$MVM" snapshot t1 --out "$TMP/none" >/dev/null 2>&1 && not_ok "a dead VM cannot be snapshotted" ||
	ok "a dead VM cannot be snapshotted"
# At least this far when the snapshot was taken.
cp "$TMP/t1.out" "$TMP/t1.before"
restore r1 "$TMP/s1" "$TMP/r1.out"
if wait_tick "$TMP/r1.out" $(($(last_tick "$TMP/t1.before") + 10)); then
	ok "r1: the restored ticker runs"
else
	not_ok "r1: the restored ticker runs" "$(tail -5 "$TMP/r1.out.err")"
fi
"$MVM" stop r1 >/dev/null 2>&1
wait_gone "$restored_pid"

# --- 2. four vCPUs ---
start_ticker t4 "$TMP/t4.out" --cpus 4
wait_tick "$TMP/t4.out" 20
cp "$TMP/t4.out" "$TMP/t4.before"
snapshot_and_kill t4 "$TMP/s4"
restore r4 "$TMP/s4" "$TMP/r4.out"
wait_tick "$TMP/r4.out" $(($(last_tick "$TMP/t4.before") + 10))
grep -q "tick" "$TMP/r4.out" && ok "r4: 4 vCPUs restored, the ticker runs" ||
	not_ok "r4: 4 vCPUs restored" "$(tail -5 "$TMP/r4.out.err")"
"$MVM" stop r4 >/dev/null 2>&1
wait_gone "$restored_pid"

# --- 3. exact continuation: paused output vs restored output ---
start_ticker t5 "$TMP/t5.out"
wait_tick "$TMP/t5.out" 20
# mvm snapshot pauses, writes and resumes: here the VM stays paused, so that the
# output up to the snapshot is exactly what the guest had printed.
curl -s --unix-socket "$XDG_RUNTIME_DIR/mvm/t5.sock" -X PATCH http://localhost/vm \
	-d '{"state": "Paused"}' >/dev/null
cp "$TMP/t5.out" "$TMP/t5.before"
mkdir -p "$TMP/s5"
curl -s --unix-socket "$XDG_RUNTIME_DIR/mvm/t5.sock" -X PUT http://localhost/snapshot/create \
	-d "{\"snapshot_path\": \"$TMP/s5/state\", \"mem_file_path\": \"$TMP/s5/memory\"}" >"$TMP/c5"
kill -KILL "$ticker_pid"
wait "$ticker_pid" 2>/dev/null
restore r5 "$TMP/s5" "$TMP/r5.out"
wait_tick "$TMP/r5.out" $(($(last_tick "$TMP/t5.before") + 5))
check_continues "r5" "$TMP/t5.before" "$TMP/r5.out"
"$MVM" stop r5 >/dev/null 2>&1
wait_gone "$restored_pid"

# --- 4. Diff snapshots chained 3 deep onto one memory file ---
start_ticker td "$TMP/td.out" --track-dirty-pages
wait_tick "$TMP/td.out" 10
"$MVM" snapshot td --out "$TMP/sd" >/dev/null 2>&1 && ok "td: Full snapshot" || not_ok "td: Full snapshot"
for i in 1 2 3; do
	wait_tick "$TMP/td.out" $((10 + 10 * i))
	if "$MVM" snapshot td --out "$TMP/sd" --diff >/dev/null 2>"$TMP/snap.err"; then
		ok "td: Diff snapshot $i onto the same memory file"
	else
		not_ok "td: Diff snapshot $i" "$(cat "$TMP/snap.err")"
	fi
done
kill -KILL "$ticker_pid"
wait "$ticker_pid" 2>/dev/null
restore rd "$TMP/sd" "$TMP/rd.out"
if wait_tick "$TMP/rd.out" 40; then
	ok "rd: restored from the 3rd Diff: the count is past the last Diff's"
else
	not_ok "rd: restored from the Diff chain" "$(tail -5 "$TMP/rd.out.err")"
fi
"$MVM" stop rd >/dev/null 2>&1
wait_gone "$restored_pid"

# --- 5. 20 clones of one snapshot at once ---
if "$MVM" clone "$TMP/s1" -n 20 --name c >"$TMP/clones" 2>"$TMP/clones.err"; then
	ok "mvm clone -n 20: every clone serves its API"
else
	not_ok "mvm clone -n 20" "$(cat "$TMP/clones.err")"
fi
while read -r id pid; do pids+=("$pid"); done <"$TMP/clones"
base=$(last_tick "$TMP/t1.before")
running=0
for i in $(seq 20); do
	wait_tick "$TMP/s1/c-$i.log" $((base + 5)) 10 && running=$((running + 1))
done
[ "$running" -eq 20 ] && ok "20 clones run at once, each from the snapshot's count" ||
	not_ok "20 clones run" "$running of 20 ticking"
listed=$("$MVM" ls 2>/dev/null | grep -c '^c-')
[ "$listed" -eq 20 ] && ok "mvm ls lists the 20 clones" || not_ok "mvm ls lists the clones" "$listed listed"
for i in $(seq 20); do "$MVM" stop "c-$i" >/dev/null 2>&1; done

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
