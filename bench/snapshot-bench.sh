#!/usr/bin/env bash
# Snapshot benchmark, one run, beside a cold boot of the same guest (the
# guest kit's ticker): time to the guest's first output after a cold boot
# and after a restore (mvm run --restore: VMM start, load, first output),
# the clone rate (mvm clone -n N from one snapshot) and memory per clone
# (proportional set size, Pss, so the shared memory file counts once),
# against the cold-booted VMM's. Prints figures; asserts nothing.
#
#   bench/snapshot-bench.sh MVM GUESTS [CLONES]
set -u
MVM=${1:?usage: snapshot-bench.sh MVM GUESTS [CLONES]}
GUESTS=${2:?usage: snapshot-bench.sh MVM GUESTS [CLONES]}
N=${3:-20}
if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: the snapshot benchmark needs KVM"
	exit 0
fi
TMP=$(mktemp -d)
export XDG_RUNTIME_DIR=$TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
pids=()
trap 'for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"' EXIT

now_ms() { date +%s%3N; }
pss_kib() { awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null || echo 0; }
wait_line() { # wait_line FILE PATTERN: ms until it appears (or 10 s)
	local t0=$1 i
	for i in $(seq 10000); do
		grep -aq "$3" "$2" 2>/dev/null && { echo $(($(now_ms) - t0)); return 0; }
		sleep 0.001
	done
	echo timeout
}

# Cold boot.
t0=$(now_ms)
"$MVM" run --kernel "$GUESTS/ticker.elf" --cmdline period=2000000 --name cold >"$TMP/cold.out" \
	2>/dev/null </dev/null &
cold=$!
pids+=($cold)
cold_ms=$(wait_line "$t0" "$TMP/cold.out" '^tick 0$')
sleep 0.5
cold_pss=$(pss_kib "$cold")
"$MVM" snapshot cold --out "$TMP/snap" --stop >/dev/null
wait "$cold" 2>/dev/null
mem_kib=$(($(stat -c %b "$TMP/snap/memory") * $(stat -c %B "$TMP/snap/memory") / 1024))

# Restore, three times: the first output after the restore.
restore_ms=()
for i in 1 2 3; do
	t0=$(now_ms)
	"$MVM" run --restore "$TMP/snap" --resume --name "r$i" >"$TMP/r$i.out" 2>/dev/null </dev/null &
	p=$!
	pids+=($p)
	restore_ms+=("$(wait_line "$t0" "$TMP/r$i.out" '^tick')")
	"$MVM" stop "r$i" >/dev/null 2>&1
	wait "$p" 2>/dev/null
done

# Clones.
t0=$(now_ms)
"$MVM" clone "$TMP/snap" -n "$N" --name c >"$TMP/clones" 2>/dev/null
clone_ms=$(($(now_ms) - t0))
while read -r id pid; do pids+=("$pid"); done <"$TMP/clones"
sleep 1
total=0
count=0
while read -r id pid; do
	total=$((total + $(pss_kib "$pid")))
	count=$((count + 1))
done <"$TMP/clones"
for i in $(seq "$N"); do "$MVM" stop "c-$i" >/dev/null 2>&1; done

echo "snapshot benchmark (ticker guest, 128 MiB, 1 vCPU; this host, one run)"
echo "  cold boot to first output:        ${cold_ms} ms"
echo "  restore to first output (3 runs): ${restore_ms[*]} ms  (VMM start + load + resume)"
echo "  memory file on disk:              ${mem_kib} KiB (zero pages are holes)"
echo "  clones started:                   $count of $N in ${clone_ms} ms" \
	"($(awk -v n="$count" -v ms="$clone_ms" 'BEGIN { if (ms > 0) printf "%.1f", n * 1000 / ms }') VMs/s)"
echo "  Pss per clone:                    $((count ? total / count : 0)) KiB" \
	"(cold-booted VMM: ${cold_pss} KiB)"
