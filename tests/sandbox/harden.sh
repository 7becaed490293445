#!/usr/bin/env bash
# Containment and host-side hardening, tried as an attacker would, on
# `mvm --api-sock` before InstanceStart and `mvm run`'s argument checks (no
# KVM needed); the parts that need a running guest say SKIP without KVM.
#
#   MVM=build/mvm GUESTS=build/guest tests/sandbox/harden.sh
set -u
cd "$(dirname "$0")"
MVM=${MVM:-$PWD/../../build/mvm}
GUESTS=${GUESTS:-$PWD/../../build/guest}
TMP=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
export XDG_RUNTIME_DIR=$TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
. ../lib/tap.sh
. ./scenarios.sh

start_vmm() { # start_vmm NAME ARGS...: mvm --api-sock $TMP/NAME.sock ARGS in the background ($vpid)
	local n=$1
	shift
	rm -f "$TMP/$n.sock"
	"$MVM" --api-sock "$TMP/$n.sock" --id "$n" "$@" >"$TMP/$n.out" 2>"$TMP/$n.err" </dev/null &
	vpid=$!
	pids+=("$vpid")
	wait_sock "$TMP/$n.sock"
}

# ends_within SECS PID: PID exits within SECS; $st its status
ends_within() {
	local i
	for i in $(seq $(($1 * 20))); do
		if ! kill -0 "$2" 2>/dev/null; then
			wait "$2"
			st=$?
			return 0
		fi
		sleep 0.05
	done
	return 1
}

# --- seccomp: every thread filtered, no_new_privs ---
start_vmm s1
: >"$TMP/m1"
api "$TMP/s1.sock" -X PUT http://localhost/metrics -d "{\"metrics_path\": \"$TMP/m1\"}"
api "$TMP/s1.sock" http://localhost/
threads=$(ls /proc/$vpid/task | wc -l)
bad=$(for t in /proc/$vpid/task/*; do
	grep -qx $'Seccomp:\t2' $t/status && grep -qx $'NoNewPrivs:\t1' $t/status || echo "$(cat $t/comm)"
done)
if [ "$threads" -ge 3 ] && [ -z "$bad" ]; then
	ok "every thread ($threads: main, API, metrics) shows Seccomp: 2 and NoNewPrivs: 1"
else
	not_ok "Seccomp/NoNewPrivs on every thread" "threads $threads, unfiltered: $bad"
fi
kill -TERM "$vpid"
ends_within 5 "$vpid" && [ "$st" -eq 143 ] && ok "SIGTERM under the filters: exit 143" ||
	not_ok "SIGTERM under the filters" "status ${st:-none}"

start_vmm s2 --no-seccomp
if grep -qx $'Seccomp:\t0' /proc/$vpid/status && grep -qx $'NoNewPrivs:\t1' /proc/$vpid/status; then
	ok "--no-seccomp: no filter, no_new_privs still set"
else
	not_ok "--no-seccomp" "$(grep -E 'Seccomp|NoNewPrivs' /proc/$vpid/status)"
fi
kill -TERM "$vpid"
ends_within 5 "$vpid"

# A forbidden call on a live VMM, per thread type: a filter file takes one call
# the thread needs off its list; the VMM must die with the line naming both.
"$MVM" --print-seccomp >"$TMP/lists"
list_without() { # list_without TYPE SYSCALL: a JSON array of TYPE's names, SYSCALL left out
	awk -v t="$1" -v s="$2" '$1 == t && $2 != s && !seen[$2]++ { printf "%s\"%s\"", n++ ? ", " : "", $2 }' "$TMP/lists"
}
kill_case() { # kill_case TYPE SYSCALL TRIGGER
	local type=$1 sys=$2
	echo "{\"$type\": [$(list_without "$type" "$sys")]}" >"$TMP/f-$type.json"
	: >"$TMP/m-$type"
	start_vmm "k$type" --seccomp-filter "$TMP/f-$type.json"
	eval "$3"
	if ends_within 5 "$vpid" && [ "$st" -eq 159 ] &&
		grep -q "seccomp: the $type thread made a forbidden system call: $sys " "$TMP/k$type.err"; then
		ok "a forbidden $sys on the $type thread kills the VMM (159) with one line naming both"
	else
		not_ok "forbidden $sys on the $type thread" "status ${st:-running}" "$(cat "$TMP/k$type.err")"
		kill -KILL "$vpid" 2>/dev/null
		wait "$vpid" 2>/dev/null
	fi
}
kill_case api accept4 'api "$TMP/kapi.sock" http://localhost/'
kill_case vmm poll 'true'
if [ "${SAN:-0}" = 1 ]; then
	# The sanitizer runtime's calls (futex among them) are allowed on every thread.
	skip=$((skip + 1))
	echo "ok - # SKIP a forbidden futex on the metrics thread: allowed in sanitizer builds"
else
	kill_case metrics futex 'api "$TMP/kmetrics.sock" -X PUT http://localhost/metrics -d "{\"metrics_path\": \"$TMP/m-metrics\"}"'
fi
echo '{"vcpu": ["no_such_call"]}' >"$TMP/bad.json"
"$MVM" --api-sock "$TMP/bad.sock" --seccomp-filter "$TMP/bad.json" >/dev/null 2>"$TMP/bad.err"
st=$?
[ "$st" -eq 1 ] && grep -q "unknown system call" "$TMP/bad.err" &&
	ok "--seccomp-filter: an unknown system call name is refused" ||
	not_ok "--seccomp-filter with a bad name" "status $st" "$(cat "$TMP/bad.err")"

# --- no output sink may wedge the VMM ---
# stderr is a pipe nobody reads: debug lines for 400 requests (~200 KiB) overflow it.
mkfifo "$TMP/stall"
sleep 1000 <"$TMP/stall" &
sleeper=$!
pids+=("$sleeper")
rm -f "$TMP/w.sock"
"$MVM" --api-sock "$TMP/w.sock" --id w -v -v >"$TMP/stall" 2>"$TMP/stall" </dev/null &
vpid=$!
pids+=("$vpid")
wait_sock "$TMP/w.sock"
long=$(printf 'x%.0s' $(seq 400))
curls=()
for i in $(seq 400); do
	curl -s -m 2 -o /dev/null --unix-socket "$TMP/w.sock" "http://localhost/$long$i" &
	curls+=($!)
	if [ $((i % 50)) -eq 0 ]; then
		wait "${curls[@]}" 2>/dev/null
		curls=()
	fi
done
api "$TMP/w.sock" -m 3 http://localhost/
if [ "$api_code" = 200 ]; then
	ok "stderr a pipe nobody reads (400 debug lines): the API still answers at once"
else
	not_ok "stalled stderr: API answer" "HTTP $api_code"
fi
kill -TERM "$vpid"
ends_within 3 "$vpid" && ok "stalled stderr: SIGTERM ends the VMM at once (status $st)" ||
	not_ok "stalled stderr: SIGTERM did not end the VMM within 3 s"
kill "$sleeper" 2>/dev/null
if have_kvm; then
	echo "ok - # SKIP stalled stdout while the guest prints: see tests/integration (not written here)"
else
	echo "ok - # SKIP stalled stdout while a guest prints: needs /dev/kvm"
fi
skip=$((skip + 1))

# --- no open may hang: a FIFO for each file argument ---
mkfifo "$TMP/fifo"
fifo_case() { # fifo_case NAME ARGS...: mvm ARGS must fail at once with one line
	local name=$1
	shift
	timeout 5 "$MVM" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	# 1: refused when opened; 2: refused as a bad option value (--disk)
	if { [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]; } && [ "$(wc -l <"$TMP/err")" -eq 1 ] &&
		grep -q "not a regular file" "$TMP/err"; then
		ok "a FIFO as $name is refused at once with one line"
	else
		not_ok "FIFO as $name" "exit $rc (124: it hung)"
	fi
}
fifo_case "kernel" run --kernel "$TMP/fifo" --no-api
fifo_case "initrd" run --kernel "$GUESTS/hello.elf" --initrd "$TMP/fifo" --no-api
fifo_case "disk" run --kernel "$GUESTS/hello.elf" --disk "$TMP/fifo" --no-api
fifo_case "config file" --config-file "$TMP/fifo" --no-api
start_vmm f1
for f in kernel_image_path:boot-source initrd_path:boot-source; do
	field=${f%%:*} route=${f#*:}
	body="{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"$field\": \"$TMP/fifo\"}"
	api "$TMP/f1.sock" -m 5 -X PUT "http://localhost/$route" -d "$body"
	[ "$api_code" = 400 ] && ok "API: a FIFO as $field is refused (400)" || not_ok "API FIFO $field" "HTTP $api_code"
done
api "$TMP/f1.sock" -m 5 -X PUT http://localhost/drives/d1 \
	-d "{\"drive_id\": \"d1\", \"path_on_host\": \"$TMP/fifo\", \"is_root_device\": false, \"is_read_only\": true}"
[ "$api_code" = 400 ] && ok "API: a FIFO as a drive is refused (400)" || not_ok "API FIFO drive" "HTTP $api_code"

# --- logger and metrics paths, as Firecracker's ---
api "$TMP/f1.sock" -m 5 -X PUT http://localhost/logger -d "{\"log_path\": \"$TMP/nolog\"}"
[ "$api_code" = 400 ] && [ ! -e "$TMP/nolog" ] && ok "PUT /logger: a missing file is refused, not created" ||
	not_ok "PUT /logger missing file" "HTTP $api_code"
echo precious >"$TMP/victim"
ln -s "$TMP/victim" "$TMP/link"
api "$TMP/f1.sock" -m 5 -X PUT http://localhost/metrics -d "{\"metrics_path\": \"$TMP/link\"}"
[ "$api_code" = 400 ] && [ "$(cat "$TMP/victim")" = precious ] &&
	ok "PUT /metrics: a symlink is refused, its target untouched" || not_ok "PUT /metrics symlink" "HTTP $api_code"
api "$TMP/f1.sock" -m 5 -X PUT http://localhost/logger -d "{\"log_path\": \"$TMP/fifo\"}"
[ "$api_code" = 400 ] && ok "PUT /logger: a FIFO without a reader is refused at once" ||
	not_ok "PUT /logger FIFO" "HTTP $api_code"
kill -TERM "$vpid"
ends_within 5 "$vpid"

# --- logged client strings are escaped ---
start_vmm e1 -v -v
forged='2026-01-01T00:00:00.000000Z [forged] ERROR pwned'
curl -g -s -o /dev/null --unix-socket "$TMP/e1.sock" "http://localhost/x%0a${forged// /%20}"
kill -TERM "$vpid"
ends_within 5 "$vpid"
if grep -q 'x\\n2026-01-01' "$TMP/e1.err" && ! grep -q "^$forged" "$TMP/e1.err"; then
	ok "a URL with an encoded newline is logged escaped (\\n): no forged line"
else
	not_ok "escaped URL in the debug log" "$(grep -a forged "$TMP/e1.err")"
fi

# --- files the VMM creates ---
(umask 000 && start_vmm u1 && stat -c %a "$TMP/u1.sock" >"$TMP/mode" && kill -TERM "$vpid" && wait "$vpid")
[ "$(cat "$TMP/mode")" = 600 ] && ok "the API socket is 0600 under umask 000" ||
	not_ok "API socket mode" "$(cat "$TMP/mode")"
shared=$TMP/shared
mkdir -p "$shared/mvm"
chmod 1777 "$shared/mvm"
ln -s "$TMP/victim" "$shared/mvm/p1.json"
XDG_RUNTIME_DIR=$shared timeout 10 "$MVM" --api-sock "$TMP/p1.sock" --id p1 >/dev/null 2>"$TMP/p1.err" &
vpid=$!
wait_sock "$TMP/p1.sock"
kill -TERM "$vpid"
wait "$vpid"
if grep -q "runtime directory .*refused" "$TMP/p1.err" && [ "$(cat "$TMP/victim")" = precious ]; then
	ok "a world-writable runtime directory with a planted symlink is refused; the target is untouched"
else
	not_ok "shared runtime dir" "$(cat "$TMP/p1.err")"
fi
chmod 700 "$shared/mvm"
chown 12345 "$shared/mvm"
XDG_RUNTIME_DIR=$shared "$MVM" ls >/dev/null 2>"$TMP/p2.err"
grep -q "refused: it must be a directory owned by uid" "$TMP/p2.err" &&
	ok "a runtime directory owned by another user is refused (mvm ls)" || not_ok "foreign runtime dir" "$(cat "$TMP/p2.err")"
# Our own directory, a symlink planted as the entry: replaced, never followed.
ln -s "$TMP/victim" "$XDG_RUNTIME_DIR/mvm/p3.json" 2>/dev/null || { mkdir -p "$XDG_RUNTIME_DIR/mvm"; ln -s "$TMP/victim" "$XDG_RUNTIME_DIR/mvm/p3.json"; }
start_vmm p3
if [ -f "$XDG_RUNTIME_DIR/mvm/p3.json" ] && [ ! -L "$XDG_RUNTIME_DIR/mvm/p3.json" ] && [ "$(cat "$TMP/victim")" = precious ]; then
	ok "a symlink planted as a runtime entry is replaced by a file, its target untouched"
else
	not_ok "planted entry symlink" "$(ls -l "$XDG_RUNTIME_DIR/mvm")"
fi
kill -TERM "$vpid"
ends_within 5 "$vpid"

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
