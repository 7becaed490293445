#!/usr/bin/env bash
# Whole VM life cycles per second, J in parallel: each of J workers runs the
# command again and again for S seconds; the rate is the cycles completed over
# the time until the last worker is done. Rows alternate in R rounds (the
# order rotating) so that drift hits all alike; the median round is printed,
# with its ratio to the first row (the floor). Prints, asserts nothing.
#
#   bench/lifecycle-rate.sh [-j J] [-s S] [-r R] 'NAME=COMMAND' ...
#
# COMMAND is split into words by the shell; it must exit 0 once its guest is
# done. Needs /dev/kvm (prints SKIP: without).
set -u

jobs=8
secs=3
rounds=3
while getopts "j:s:r:" o; do
	case $o in
	j) jobs=$OPTARG ;;
	s) secs=$OPTARG ;;
	r) rounds=$OPTARG ;;
	*) sed -n '2,/^set -u/{/^set -u/d;s/^# \{0,1\}//;p}' "$0"; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
if [ ! -c /dev/kvm ] || [ ! -r /dev/kvm ] || [ ! -w /dev/kvm ]; then
	echo "SKIP: lifecycle-rate: /dev/kvm is missing or not accessible"
	exit 0
fi
[ $# -gt 0 ] || { echo "lifecycle-rate: no 'NAME=COMMAND' given" >&2; exit 2; }
names=() cmds=()
for spec in "$@"; do
	names+=("${spec%%=*}")
	cmds+=("${spec#*=}")
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One measurement: J workers for S seconds; prints cycles/s (and counts failures).
measure() {
	local cmd=$1 i start end deadline total=0 fails=0
	# Microseconds from bash itself: no process per check to skew the rate.
	start=${EPOCHREALTIME/./}
	deadline=$((start + secs * 1000000))
	for ((i = 0; i < jobs; i++)); do
		(
			n=0 f=0
			while [ "${EPOCHREALTIME/./}" -lt "$deadline" ]; do
				# shellcheck disable=SC2086
				if $cmd >/dev/null 2>&1 </dev/null; then n=$((n + 1)); else f=$((f + 1)); fi
			done
			echo "$n $f" >"$tmp/w$i"
		) &
	done
	wait
	end=${EPOCHREALTIME/./}
	for ((i = 0; i < jobs; i++)); do
		read -r n f <"$tmp/w$i"
		total=$((total + n))
		fails=$((fails + f))
	done
	awk -v n="$total" -v us=$((end - start)) -v f="$fails" \
		'BEGIN { printf "%.1f %d\n", n / (us / 1e6), f }'
}

nrows=${#names[@]}
for ((r = 0; r < rounds; r++)); do
	for ((k = 0; k < nrows; k++)); do
		i=$(((r + k) % nrows))
		measure "${cmds[$i]}" >>"$tmp/row$i"
	done
done

echo "Life cycles per second, $jobs in parallel on $(nproc) CPUs, ${secs} s x $rounds rounds (median round)"
printf '%-20s %12s %10s %9s\n' row "cycles/s" "/ ${names[0]}" failures
base=
for ((i = 0; i < nrows; i++)); do
	med=$(sort -n "$tmp/row$i" | awk '{ v[NR] = $1; f += $2 } END { printf "%s %d", v[int((NR + 1) / 2)], f }')
	rate=${med% *}
	fails=${med#* }
	[ -n "$base" ] || base=$rate
	printf '%-20s %12s %9s%% %9s\n' "${names[$i]}" "$rate" \
		"$(awk -v a="$rate" -v b="$base" 'BEGIN { printf "%.0f", (b > 0 ? 100 * a / b : 0) }')" "$fails"
done
