#!/usr/bin/env bash
# Start-up with seccomp on vs off, in the same run (no KVM needed): the time
# from exec of `mvm --api-sock` to its first answer (GET /), and the time
# the VMM takes to exit on SIGTERM. RUNS pairs, interleaved; prints medians.
# Prints figures, asserts nothing.
#
#   bench/seccomp-startup.sh build/mvm [RUNS]
set -u
MVM=${1:?usage: $0 MVM [RUNS]}
RUNS=${2:-20}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR=$TMP
now() { date +%s%N; }
one() { # one MODE: "<start-to-answer ns> <sigterm-to-exit ns>"
	local s=$TMP/b.sock t0 t1 t2 pid
	rm -f "$s"
	t0=$(now)
	"$MVM" --api-sock "$s" --seccomp "$1" 2>/dev/null &
	pid=$!
	until curl -s -o /dev/null --unix-socket "$s" http://localhost/ 2>/dev/null; do :; done
	t1=$(now)
	kill -TERM "$pid"
	wait "$pid"
	t2=$(now)
	echo "$((t1 - t0)) $((t2 - t1))"
}
for i in $(seq "$RUNS"); do
	one on >>"$TMP/on"
	one off >>"$TMP/off"
done
med() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
for m in off on; do
	up=$(cut -d' ' -f1 "$TMP/$m" | med)
	down=$(cut -d' ' -f2 "$TMP/$m" | med)
	awk -v m="$m" -v u="$up" -v d="$down" -v n="$RUNS" 'BEGIN {
		printf "seccomp %-3s  exec to first API answer %6.2f ms   SIGTERM to exit %6.2f ms   (median of %d)\n", m, u / 1e6, d / 1e6, n }'
done
echo "(the client polls with curl: both figures include curl's own start-up, the same for both modes)"
