#!/usr/bin/env bash
# A real client: curl --unix-socket drives mvm --api-sock through a whole
# life: configure, InstanceStart, pause, resume, stats, stop; and boots from
# --config-file. Needs /dev/kvm (skips without it).
#
#   MVM=build/mvm GUESTS=build/guest tests/api/curl-boot.sh
set -u

MVM=${MVM:-build/mvm}
GUESTS=$(cd "${GUESTS:-build/guest}" && pwd)
TMP=$(mktemp -d)
export XDG_RUNTIME_DIR=$TMP/run
mkdir -p "$XDG_RUNTIME_DIR"
pid=
cleanup() {
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/tap.sh"
check() { # check NAME CONDITION-COMMAND...
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: the API boot tests need KVM"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

SOCK=$TMP/fc.sock
# api METHOD PATH [JSON]: sets $code and $body.
api() {
	local out
	if [ $# -ge 3 ]; then
		out=$(curl -sS --max-time 30 --unix-socket "$SOCK" -X "$1" "http://localhost$2" \
			-H 'Accept: application/json' -H 'Content-Type: application/json' \
			-d "$3" -w '\n%{http_code}')
	else
		out=$(curl -sS --max-time 30 --unix-socket "$SOCK" -X "$1" "http://localhost$2" \
			-H 'Accept: application/json' -w '\n%{http_code}')
	fi
	code=${out##*$'\n'}
	body=${out%$'\n'*}
}
wait_sock() {
	for _ in $(seq 200); do
		curl -s --max-time 2 --unix-socket "$SOCK" http://localhost/ >/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
# exits_of: the guest's vCPU 0 exit count from GET /stats.
exits_of() {
	api GET /stats
	echo "$body" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["vcpus"][0]["kvm"]["exits"])'
}

# --- 1. the hello guest, configured and started exactly as Firecracker's docs do ---
"$MVM" --api-sock "$SOCK" --id hello >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
check "mvm --api-sock: the socket accepts requests" wait_sock
check "the runtime entry exists before InstanceStart" test -f "$XDG_RUNTIME_DIR/mvm/hello.json"
api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/hello.elf\", \"boot_args\": \"via the API\"}"
check "PUT /boot-source -> 204" test "$code" = 204
api PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
check "PUT /machine-config -> 204" test "$code" = 204
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart -> 204" test "$code" = 204
wait "$pid"
rc=$?
pid=
check "the hello guest ran and mvm exited with its status 0" test "$rc" = 0
check "the guest printed its greeting and the boot_args" grep -q 'cmdline: "via the API"' "$TMP/out"
check "socket removed after the guest ended" test ! -e "$SOCK"
check "runtime entry removed after the guest ended" test ! -e "$XDG_RUNTIME_DIR/mvm/hello.json"

# --- 2. a long-running guest: start, pause, resume, stats, stop ---
# The echo guest polls the UART for ever (no input here): a steady stream of
# port I/O exits, which stops while paused and goes on after resume.
"$MVM" --api-sock "$SOCK" --id busy >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
wait_sock
api PUT /boot-source "{\"kernel_image_path\": \"$GUESTS/echo.elf\"}"
api PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 32}'
api PUT /actions '{"action_type": "InstanceStart"}'
check "polling guest: InstanceStart -> 204" test "$code" = 204
for _ in $(seq 100); do grep -q "echo: ready" "$TMP/out" && break; sleep 0.05; done
check "polling guest runs" grep -q "echo: ready" "$TMP/out"
api GET /
check "GET / says Running" grep -q '"state":"Running"' <<<"$body"
# grows FROM: polls (10 s at most) until vCPU 0's exit count passes FROM.
grows() {
	local e
	for _ in $(seq 200); do
		e=$(exits_of)
		[ -n "$e" ] && [ "$e" -gt "$1" ] && return 0
		sleep 0.05
	done
	return 1
}
e0=$(exits_of)
check "running: vCPU 0's exit count grows" grows "${e0:-0}"
api PATCH /vm '{"state": "Paused"}'
check "PATCH /vm Paused -> 204" test "$code" = 204
api GET /
check "GET / says Paused" grep -q '"state":"Paused"' <<<"$body"
e1=$(exits_of)
sleep 0.3
e2=$(exits_of)
check "paused: vCPU 0's exit count stands still ($e1 -> $e2)" test -n "$e1" -a "$e1" = "$e2"
api PATCH /vm '{"state": "Resumed"}'
check "PATCH /vm Resumed -> 204" test "$code" = 204
api GET /
check "GET / says Running again" grep -q '"state":"Running"' <<<"$body"
check "resumed: vCPU 0's exit count grows again" grows "${e2:-0}"
api GET /stats
check "GET /stats: the tree has the VM's KVM id and vCPUs" \
	python3 -c 'import json,sys; j=json.loads(sys.argv[1]); assert j["id"].startswith("kvm-") and len(j["vcpus"]) == 2' "$body"
api GET /devices
check "GET /devices lists the serial port" grep -q '"serial0"' <<<"$body"
api GET /metrics/prometheus
check "GET /metrics/prometheus is text exposition" grep -q '^# TYPE' <<<"$body"
api PUT /actions '{"action_type": "Stop"}'
check "Stop -> 204" test "$code" = 204
wait "$pid"
rc=$?
pid=
check "mvm exits 0 after Stop" test "$rc" = 0
check "socket and runtime entry removed after Stop" test ! -e "$SOCK" -a ! -e "$XDG_RUNTIME_DIR/mvm/busy.json"

# --- 3. --config-file: Firecracker's configuration file, no API calls ---
cat >"$TMP/vm.json" <<EOF
{
  "boot-source": { "kernel_image_path": "$GUESTS/exitcode.elf", "boot_args": "exit=7" },
  "machine-config": { "vcpu_count": 1, "mem_size_mib": 32, "smt": false },
  "drives": [],
  "network-interfaces": []
}
EOF
timeout 60 "$MVM" --config-file "$TMP/vm.json" --no-api >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
check "--config-file boots the guest; mvm exits with its status 7" test "$rc" = 7
cat >"$TMP/bad.json" <<EOF
{ "boot-source": { "kernel_image_path": "$GUESTS/hello.elf" }, "machine-config": { "vcpu_count": 0, "mem_size_mib": 32 } }
EOF
timeout 60 "$MVM" --config-file "$TMP/bad.json" --no-api >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
check "--config-file with vcpu_count 0: exit 1, the message names the field" \
	test "$rc" = 1 -a -n "$(grep "vcpu_count" "$TMP/err")"
timeout 60 "$MVM" --config-file "$TMP/vm.json" --id cfgsock >"$TMP/out" 2>"$TMP/err" </dev/null
rc=$?
check "--config-file without --api-sock serves on the runtime dir and cleans up" \
	test "$rc" = 7 -a ! -e "$XDG_RUNTIME_DIR/mvm/cfgsock.sock"

# --- 4. a boot that fails: the answer carries the reason, the VMM stays up ---
"$MVM" --api-sock "$SOCK" --id bad >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
wait_sock
printf 'not an ELF' >"$TMP/bogus.elf"
api PUT /boot-source "{\"kernel_image_path\": \"$TMP/bogus.elf\"}"
api PUT /actions '{"action_type": "InstanceStart"}'
check "InstanceStart of a bad kernel -> 400 with the loader's reason" \
	test "$code" = 400 -a -n "$(grep -o 'fault_message' <<<"$body")"
echo "# $body"
api GET /
check "the VMM still serves after a failed boot (Not started)" grep -q '"Not started"' <<<"$body"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
check "SIGTERM before InstanceStart: exit 143, socket and entry removed" \
	test "$rc" = 143 -a ! -e "$SOCK" -a ! -e "$XDG_RUNTIME_DIR/mvm/bad.json"

# --- 5. Stop before InstanceStart ends the VMM cleanly ---
"$MVM" --api-sock "$SOCK" --id early >"$TMP/out" 2>"$TMP/err" </dev/null &
pid=$!
wait_sock
api PUT /actions '{"action_type": "Stop"}'
check "Stop before InstanceStart -> 204" test "$code" = 204
wait "$pid"
rc=$?
pid=
check "Stop before InstanceStart: exit 0, socket and entry removed" \
	test "$rc" = 0 -a ! -e "$SOCK" -a ! -e "$XDG_RUNTIME_DIR/mvm/early.json"

echo "$pass passed, $fail failed, 0 skipped"
[ "$fail" -eq 0 ]
