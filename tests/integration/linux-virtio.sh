#!/usr/bin/env bash
# Slow tier: the Linux test kernel (../shared/guest-kernel, virtio-pci with
# MSI-X built in) on mvm with its root on virtio-blk. An ext4 image made on
# the host with `mkfs.ext4 -d` holds busybox (from the kernel's initramfs)
# and an /init that reads a file, writes one and syncs, reads virtio-rng,
# tries to write a read-only disk, shows its interrupts and reads a line
# typed on the terminal, all on hvc0 (virtio-console, mvm on a pty). The host then reads the written file back out of the
# image and checks the read-only image is unchanged.
#
#   MVM=build/mvm KERNEL=/var/cache/mvm-kernel/default/out/vmlinux \
#     [TRANSPORT=pci|mmio] tests/integration/linux-virtio.sh
#
# TRANSPORT=mmio runs the same guest with every device on virtio-mmio and
# the kernel told pci=off, as Firecracker's orchestrators boot it.
#
# A boot takes ~15-60 s on a nested host (every guest-kernel instruction is
# emulated), so this is not part of `make check`: `make check-linux-virtio`.
set -u

MVM=${MVM:-build/mvm}
TRANSPORT=${TRANSPORT:-pci}
IRQCHIP=${IRQCHIP:-kernel} # --irqchip: kernel, or split (the IOAPIC in mvm)
case $TRANSPORT in
pci) irq_pat='^LINUX-IRQ .*PCI-MSI.*virtio0-req' extra= ;;
mmio) irq_pat='^LINUX-IRQ .*virtio0' extra=pci=off ;;
*) echo "TRANSPORT=$TRANSPORT: give pci or mmio"; exit 2 ;;
esac
KERNEL=${KERNEL:-/var/cache/mvm-kernel/default/out/vmlinux}
INITRAMFS=${INITRAMFS:-$(dirname "$KERNEL")/initramfs.cpio}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
. "$(dirname "$0")/../lib/tap.sh"
has() { # has NAME PATTERN: the guest printed a line matching PATTERN
	if grep -qE -e "$2" "$TMP/out"; then ok "$1"; else not_ok "$1" "console lacks /$2/"; fi
}

skip_all() {
	echo "SKIP: $1"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
}
[ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip_all "/dev/kvm is not accessible"
[ -r "$KERNEL" ] || skip_all "no test kernel at $KERNEL (build ../shared/guest-kernel)"
[ -r "$INITRAMFS" ] || skip_all "no initramfs at $INITRAMFS (busybox comes from it)"
for t in cpio mkfs.ext4 debugfs e2fsck python3; do
	command -v "$t" >/dev/null || skip_all "$t is not installed (e2fsprogs, cpio)"
done
[ -x "$MVM" ] || { echo "$MVM not built: run make"; exit 1; }

# The root file system: busybox, /init, a file to read.
mkdir -p "$TMP/root/bin" "$TMP/root/dev" "$TMP/root/proc" "$TMP/root/sys"
(cd "$TMP/root" && cpio -id --quiet bin/busybox <"$INITRAMFS") ||
	skip_all "no bin/busybox in $INITRAMFS"
echo "hello from the host" >"$TMP/root/hello.txt"
cat >"$TMP/root/init" <<'EOF'
#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
echo "LINUX-INIT-OK"
read line < /hello.txt
echo "LINUX-READ $line"
echo "written by linux" > /out.txt
$B sync
echo "LINUX-SYNCED"
# head loops until it has 16 bytes (one read of hwrng may return fewer).
# Files and redirections only: pipelines inside $(...) (od | tr) sometimes
# came back empty in this emulated guest, whatever the device did.
$B head -c 16 /dev/hwrng > /rng
$B dd if=/dev/zero of=/zero bs=16 count=1 2>/dev/null
if $B cmp -s /rng /zero; then z=zeroes; else z=random; fi
echo "LINUX-RNG $($B wc -c < /rng) bytes, $z"
if $B dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; then
	echo "LINUX-RO-WRITE-ACCEPTED"
else
	echo "LINUX-RO-REFUSED"
fi
$B grep -E 'virtio|MSI' /proc/interrupts | while read l; do echo "LINUX-IRQ $l"; done
for d in /sys/bus/virtio/devices/*; do
	read id < "$d/device"
	echo "LINUX-VIRTIO ${d##*/} device=$id"
done
echo "LINUX-ASK"
read line
echo "LINUX-GOT [$line]"
echo "LINUX-DONE"
printf '\000' | $B dd of=/dev/port bs=1 seek=244 count=1 2>/dev/null
$B poweroff -f
EOF
chmod 755 "$TMP/root/init"
mkfs.ext4 -q -F -d "$TMP/root" "$TMP/root.img" 32M >/dev/null || skip_all "mkfs.ext4 -d failed"
head -c 1M /dev/urandom >"$TMP/ro.img"
ro_sum=$(md5sum <"$TMP/ro.img")

# On a pty, so that mvm takes terminal input for hvc0: a line is typed at LINUX-ASK.
python3 "$(dirname "$0")/pty-run.py" "$TMP/out.raw" "LINUX-ASK" "typed on hvc0" 600 -- \
	"$MVM" run --kernel "$KERNEL" --mem 128M \
	--cmdline "console=hvc0 root=/dev/vda rw init=/init panic=-1 mitigations=off quiet clocksource=tsc tsc=reliable $extra" \
	--transport "$TRANSPORT" --irqchip "$IRQCHIP" \
	--disk "$TMP/root.img" --disk "$TMP/ro.img,ro" --rng --console virtio --stats \
	2>"$TMP/err"
rc=$?
tr -d '\r' <"$TMP/out.raw" >"$TMP/out" # the guest's tty writes CR LF
if [ "$rc" -eq 0 ]; then ok "Linux ran to its exit-port write"; else
	not_ok "Linux ran to its exit-port write" "mvm exit status $rc"
	sed 's/^/#   out: /' "$TMP/out" | tail -30
	sed 's/^/#   err: /' "$TMP/err" | grep -v '^#   err:   ' | tail -10
fi
has "root on virtio-blk mounted, /init ran (hvc0 output)" '^LINUX-INIT-OK'
has "a file from the host read" '^LINUX-READ hello from the host$'
has "sync returned" '^LINUX-SYNCED'
has "virtio-rng gave 16 bytes, not all zero" '^LINUX-RNG 16 bytes, random$'
has "the read-only disk refused a write" '^LINUX-RO-REFUSED'
has "virtio interrupts ($TRANSPORT)" "$irq_pat"
has "blk, blk, rng and console devices" 'device=0x0004'
has "a line typed on the terminal reached hvc0" '^LINUX-GOT \[typed on hvc0\]$'
# What a mount would do: replay the journal (sync committed it; a checkpoint
# into the main file system may not have happened before the exit).
e2fsck -fp "$TMP/root.img" >"$TMP/fsck" 2>&1
fsck_rc=$?
if [ "$fsck_rc" -le 1 ]; then ok "the image replays/checks clean (e2fsck -fp: $fsck_rc)"; else
	not_ok "the image replays/checks clean (e2fsck -fp)" "exit $fsck_rc" "$(tail -3 "$TMP/fsck")"
fi
out=$(debugfs -R "cat /out.txt" "$TMP/root.img" 2>/dev/null)
if [ "$out" = "written by linux" ]; then ok "the guest's file is in the image on the host"; else
	not_ok "the guest's file is in the image on the host" "debugfs read '$out'"
fi
if [ "$(md5sum <"$TMP/ro.img")" = "$ro_sum" ]; then ok "the read-only image is unchanged"; else
	not_ok "the read-only image is unchanged"
fi

if [ "$fail" -ne 0 ]; then
	grep '^LINUX' "$TMP/out" | sed 's/^/#   guest: /'
fi
echo "virtio over $TRANSPORT: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
