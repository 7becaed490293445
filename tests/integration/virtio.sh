#!/usr/bin/env bash
# Integration tests of the virtio devices: the guest kit's virtio driver
# (guest/runtime/virtio.c) runs test guests against mvm's virtio-blk; the
# host checks what reached the image files. Needs /dev/kvm (skips without).
#
#   MVM=build/mvm GUESTS=build/guest tests/integration/virtio.sh
set -u

MVM=${MVM:-build/mvm}
GUESTS=${GUESTS:-build/guest}
HERE=$(dirname "$0")
TMP=$(mktemp -d /var/tmp/mvm-virtio.XXXXXX)
loopdev=
trap '[ -b "$loopdev" ] && losetup -d "$loopdev"; rm -rf "$TMP"' EXIT
RUN_TIMEOUT=120
TAP_OUT_SKIP=PASS
. "$(dirname "$0")/../lib/tap.sh"

check() { # check NAME COMMAND...: ok if the command succeeds
	local name=$1
	shift
	if out=$("$@" 2>&1); then ok "$name ($out)"; else not_ok "$name" "$out"; fi
}

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: integration tests need KVM"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
[ -f "$GUESTS/vblk.elf" ] || { echo "$GUESTS/vblk.elf not built: run make"; exit 1; }

VBLK="$GUESTS/vblk.elf"
img() { rm -f "$1"; truncate -s "$2" "$1"; }

# --- read/write/flush/discard/write-zeroes/get-id/past-end, on each engine ---
for variant in "" ",io=sync" ",cache=none"; do
	img "$TMP/d.img" 4M
	run run --kernel "$VBLK" --cmdline "mode=basic id=serial-$$ sectors=8192" \
		--disk "$TMP/d.img,id=serial-$$$variant"
	expect "virtio-blk$variant: whole-disk pattern, flush, wz, discard, get-id, past-end" 0 \
		"vblk: [0-9]+ passed, 0 failed"
	check "virtio-blk$variant: the host file holds what the guest wrote" \
		python3 "$HERE/blkcheck.py" basic "$TMP/d.img"
done

# --- a block device (a loop device over an image; needs root and losetup) ---
if [ "$(id -u)" -eq 0 ] && command -v losetup >/dev/null; then
	img "$TMP/bdev.img" 4M
	loopdev=$(losetup --find --show "$TMP/bdev.img" 2>/dev/null) || loopdev=
fi
if [ -b "$loopdev" ]; then
	for variant in "" ",cache=none"; do
		run run --kernel "$VBLK" --cmdline "mode=basic" --disk "$loopdev$variant"
		expect "virtio-blk on a block device$variant: the basic checks" 0 \
			"vblk: [0-9]+ passed, 0 failed"
	done
	losetup -d "$loopdev"
	loopdev=
	check "virtio-blk on a block device: the backing file holds what the guest wrote" \
		python3 "$HERE/blkcheck.py" basic "$TMP/bdev.img"
else
	skip=$((skip + 1))
	echo "skip - virtio-blk on a block device (needs root and a free loop device)"
fi

# --- read-only: writes fail with IOERR, the file does not change ---
img "$TMP/ro.img" 1M
head -c 1M /dev/urandom >"$TMP/ro.img"
sum=$(sha256sum <"$TMP/ro.img")
run run --kernel "$VBLK" --cmdline "mode=ro" --disk "$TMP/ro.img,ro"
expect "virtio-blk ro: VIRTIO_BLK_F_RO, writes -> IOERR, reads work" 0 "vblk: [0-9]+ passed, 0 failed"
[ "$(sha256sum <"$TMP/ro.img")" = "$sum" ] && ok "virtio-blk ro: host file unchanged (sha256)" ||
	not_ok "virtio-blk ro: host file unchanged (sha256)"

# --- a second disk, read-only, next to a writable one ---
img "$TMP/a.img" 1M
run run --kernel "$VBLK" --cmdline "mode=ro disk=1" --disk "$TMP/a.img" --disk "$TMP/ro.img,ro"
expect "two disks: the second is its own read-only device" 0 "vblk: [0-9]+ passed, 0 failed"

# --- multi-queue ---
img "$TMP/mq.img" 4M
run run --kernel "$VBLK" --cmdline "mode=mq" --disk "$TMP/mq.img"
expect "virtio-blk: two queues with requests in flight on both" 0 "vblk: [0-9]+ passed, 0 failed"

# --- malformed chains: error status or NEEDS_RESET, the other queue serves ---
for variant in "" ",io=sync"; do
	img "$TMP/m.img" 1M
	run run --kernel "$VBLK" --cmdline "mode=malformed" --disk "$TMP/m.img$variant"
	expect "virtio-blk$variant: loop, out-of-RAM, wrong direction, no status: mvm lives" 0 \
		"vblk: [0-9]+ passed, 0 failed"
done

# --- device reset with requests in flight (the reset waits for them) ---
for variant in "" ",io=sync" ",cache=none"; do
	img "$TMP/r.img" 4M
	run run --kernel "$VBLK" --cmdline "mode=reset" --disk "$TMP/r.img$variant"
	expect "virtio-blk$variant: reset with 32 writes in flight, three times, then I/O" 0 \
		"vblk: [0-9]+ passed, 0 failed"
done

# --- the same with EVENT_IDX and indirect descriptors negotiated ---
for m in basic mq malformed; do
	img "$TMP/e.img" 4M
	run run --kernel "$VBLK" --cmdline "mode=$m evidx=1 indirect=1" --disk "$TMP/e.img"
	expect "virtio-blk $m with EVENT_IDX + INDIRECT_DESC" 0 "vblk: [0-9]+ passed, 0 failed"
done

# --- durability: SIGKILL at a random moment; acknowledged records are on disk ---
for round in 1 2; do
	img "$TMP/dur.img" 16M
	# mvm itself in the background (not under timeout: the kill must reach mvm)
	"$MVM" run --kernel "$VBLK" --cmdline "mode=durable batch=16" \
		--disk "$TMP/dur.img" >"$TMP/out" 2>"$TMP/err" </dev/null &
	pid=$!
	for _ in $(seq 200); do grep -aq "^durable: [0-9]" "$TMP/out" && break; sleep 0.05; done
	sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 2 }')"
	kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	n=$(grep -aE '^durable: [0-9]+$' "$TMP/out" | tail -1 | awk '{ print $2 }')
	if [ -z "$n" ]; then
		not_ok "durability round $round: no flush acknowledged before the kill"
	else
		check "durability round $round: SIGKILL after $n acknowledged records" \
			python3 "$HERE/blkcheck.py" records "$TMP/dur.img" "$n"
	fi
done

# --- virtio-rng and virtio-console (the guest kit's driver) ---
run run --kernel "$GUESTS/vrng.elf" --rng
expect "virtio-rng: requests of 1..4096 bytes come back filled, bytes vary" 0 \
	"vrng: [0-9]+ passed, 0 failed"
run run --kernel "$GUESTS/vrng.elf"
expect "without --rng there is no virtio-rng device" 2 "no usable virtio-rng"
if timeout 60 python3 "$HERE/vconsole.py" "$MVM" "$GUESTS" >"$TMP/con" 2>&1; then :; fi
grep -v ' passed, ' "$TMP/con"
pass=$((pass + $(grep -c '^ok' "$TMP/con")))
fail=$((fail + $(grep -c '^not ok' "$TMP/con")))
grep -q ' passed, ' "$TMP/con" || { fail=$((fail + 1)); echo "not ok - virtio-console tests did not finish"; }

# --- flush is fdatasync: one per guest flush (io=sync, seen by strace) ---
if command -v strace >/dev/null; then
	img "$TMP/f.img" 1M
	# LeakSanitizer cannot run under ptrace (SAN=1 builds): leaks are checked elsewhere.
	ASAN_OPTIONS=detect_leaks=0 timeout 120 strace -f -qq -e trace=fdatasync -o "$TMP/strace" \
		"$MVM" run --kernel "$VBLK" \
		--cmdline "mode=durable batch=16 records=64" --disk "$TMP/f.img,io=sync" \
		>"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
	n=$(grep -c 'fdatasync(' "$TMP/strace")
	if [ "$rc" -eq 0 ] && [ "$n" -eq 4 ]; then
		ok "flush: 4 guest flushes, 4 fdatasync calls on the image"
	else
		not_ok "flush: 4 guest flushes, 4 fdatasync calls on the image" "rc=$rc fdatasync=$n"
	fi
else
	skip=$((skip + 1))
	echo "skip - flush is fdatasync (needs strace)"
fi

# --- the command line ---
run run --kernel "$VBLK" --disk "$TMP/does-not-exist.img"
if [ "$rc" -eq 1 ] && grep -qF "does-not-exist.img" "$TMP/err"; then
	ok "--disk with a missing file: status 1, the error names it"
else
	not_ok "--disk with a missing file: status 1, the error names it" "rc=$rc"
fi
run run --kernel "$VBLK" --disk "$TMP/a.img,bogus"
expect "--disk with an unknown option is a usage error (2)" 2
run run --kernel "$VBLK" --disk "$TMP/a.img,id=123456789012345678901"
expect "--disk id longer than 20 bytes is a usage error (2)" 2

echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
