#!/usr/bin/env bash
# vfio-user end to end: the guest kit's vfio_user guest (guest/tests/vfio_user.c)
# drives the test server's device (tests/vfio/server.c) through mvm's client:
# trapped and mapped BARs, a DMA copy, the MSI-X interrupt; the server killed
# mid-run (all-ones, the VMM keeps running); the server seeing the VM end;
# `mvm devices` showing the device bound. Needs /dev/kvm (skips without).
#
#   MVM=build/mvm GUESTS=build/guest SERVER=build/tests/vfio-user-server \
#     tests/integration/vfio-user.sh
set -u

MVM=${MVM:-build/mvm}
GUESTS=${GUESTS:-build/guest}
SERVER=${SERVER:-build/tests/vfio-user-server}
TMP=$(mktemp -d /tmp/mvm-vfio.XXXXXX)
srv=
trap '[ -n "$srv" ] && kill -9 "$srv" 2>/dev/null; rm -rf "$TMP"' EXIT
RUN_TIMEOUT=120
TAP_OUT_SKIP=PASS
. "$(dirname "$0")/../lib/tap.sh"

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: the vfio-user guest test needs KVM"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
[ -f "$GUESTS/vfio_user.elf" ] || { echo "$GUESTS/vfio_user.elf not built: run make"; exit 1; }
[ -x "$SERVER" ] || { echo "$SERVER not built: make $SERVER"; exit 1; }

start_server() { # start_server [FLAGS...]: the server on $TMP/vfu.sock, its output in $TMP/srv
	rm -f "$TMP/vfu.sock" "$TMP/srv"
	"$SERVER" "$TMP/vfu.sock" "$@" >"$TMP/srv" 2>&1 &
	srv=$!
	for _ in $(seq 100); do [ -S "$TMP/vfu.sock" ] && return; sleep 0.05; done
}

# --- the whole device from the guest; the VM's end reaches the server ---
for mode in "" "--no-map"; do
	start_server $mode
	run run --kernel "$GUESTS/vfio_user.elf" --vfio-user "$TMP/vfu.sock"
	expect "vfio-user${mode:+ $mode}: BARs, DMA copy, MSI-X from the guest" 0 \
		"vfio_user: [0-9]+ passed, 0 failed"
	wait "$srv"
	src=$?
	srv=
	if [ "$src" -eq 0 ] && grep -q "disconnected" "$TMP/srv"; then
		ok "vfio-user${mode:+ $mode}: the server saw the VM end"
	else
		not_ok "vfio-user${mode:+ $mode}: the server saw the VM end" "exit $src" "$(cat "$TMP/srv")"
	fi
done

# --- the server killed mid-run: all-ones in the guest, the VMM runs on ---
start_server
timeout 120 "$MVM" run --kernel "$GUESTS/vfio_user.elf" --cmdline "kill=1" \
	--vfio-user "$TMP/vfu.sock" >"$TMP/out" 2>"$TMP/err" </dev/null &
vmm=$!
for _ in $(seq 600); do grep -q "kill the server" "$TMP/out" 2>/dev/null && break; sleep 0.1; done
kill -9 "$srv" 2>/dev/null
wait "$srv" 2>/dev/null
srv=
wait "$vmm"
rc=$?
expect "vfio-user: a killed server reads all-ones, the guest finishes" 0 \
	"vfio_user: [0-9]+ passed, 0 failed"
stderr_has "vfio-user: the device is marked failed" "reads all-ones from now on"

# --- the listing while the VM runs ---
start_server
"$MVM" run --id vfio-ls --kernel "$GUESTS/busy.elf" --vfio-user "$TMP/vfu.sock" \
	>"$TMP/out" 2>"$TMP/err" </dev/null &
vmm=$!
for _ in $(seq 100); do "$MVM" devices vfio-ls >"$TMP/devs" 2>/dev/null && break; sleep 0.1; done
if grep -E "vfio-user.*host=$TMP/vfu.sock.*yes" "$TMP/devs" >/dev/null; then
	ok "mvm devices: vfio-user, its socket, bound"
else
	not_ok "mvm devices: vfio-user, its socket, bound" "$(cat "$TMP/devs")"
fi
"$MVM" stop vfio-ls >/dev/null 2>&1
wait "$vmm"

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
