#!/usr/bin/env bash
# The slow tier (make check-linux): real Linux under mvm, to userspace and out.
#
# Builds the test kernels of tests/linux/guest-kernel (Linux 6.1 + busybox;
# patched for this nested-KVM host) into a cache outside the clone, once per
# machine, then boots them:
#   - vmlinux through PVH, 1 vCPU: ends through the exit port with status 5
#   - bzImage through the 64-bit boot protocol, 1 vCPU: `reboot` ends mvm, 0
#   - the SMP+ACPI kernel, 2 vCPUs, PVH and bzImage: Linux finds both CPUs in
#     the MADT, starts the AP with INIT/SIPI, `poweroff` (ACPI S5) ends mvm, 0
#   - --reboot-restarts: a guest reboot boots the guest again
#   - Firecracker's --config-file: kernel, initrd, boot args, a drive
#   - PCI INTx (pci=nomsi) routed by the MP table and by ACPI's _PRT
#   - virtio (tests/integration/linux-virtio.sh): root on virtio-blk, rng,
#     hvc0, a read-only disk that refuses writes
#   - the split irqchip (--irqchip split: the IOAPIC in mvm, no PIC): 1 and 2
#     vCPUs, MP table and ACPI, INTx through its IOAPIC, MSI-X, virtio-mmio
# Each boot's console must be free of clocksource/TSC complaints and
# kernel warnings. Each prints its time to the marker.
set -u
here=$(cd "$(dirname "$0")" && pwd)
MVM=${MVM:?set MVM to the mvm binary}
KCACHE=${MVM_KERNEL_CACHE:-/var/cache/mvm-kernel}
LOGDIR=${LOGDIR:-$(mktemp -d /tmp/mvm-linux.XXXXXX)}
BOOT="python3 $here/boot.py --logdir $LOGDIR"

# Booting needs KVM; without it the kernels (minutes to build) would go unused.
if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is not accessible here; the slow tier boots Linux under KVM"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi

build_kernel() { # name [fragment]
	local dir=$KCACHE/$1
	if [ -f "$dir/out/vmlinux" ] && [ -f "$dir/out/bzImage" ] &&
		[ -f "$dir/out/initramfs.cpio" ] && [ -z "${REBUILD:-}" ]; then
		echo "# kernel $1: cached in $dir/out"
		return 0
	fi
	echo "# kernel $1: building in $dir (about 6 minutes)"
	mkdir -p "$dir"
	BUILD=$dir EXTRA_FRAGMENT=${2:-} "$here/guest-kernel/build.sh" >"$dir/build.log" 2>&1 || {
		echo "not ok - building kernel $1 (log: $dir/build.log)"
		tail -20 "$dir/build.log" | sed 's/^/#   /'
		return 1
	}
}

build_kernel default || exit 1
build_kernel smp-acpi variants/smp-acpi.fragment || exit 1
D=$KCACHE/default/out
S=$KCACHE/smp-acpi/out

# What a healthy boot never prints. (-quiet: the whole log is checked.)
REJECT=(--reject 'clocksource.*(unstable|watchdog)' --reject 'Marking TSC unstable'
	--reject '\[Firmware Bug\]' --reject 'TSC.*(skew|unsynchron|inconsistent)'
	--reject 'WARNING:' --reject 'BUG:' --reject 'Call Trace'
	--reject 'ExtINT not setup' --reject 'APIC.*mismatch')
ARGS="mitigations=off"
fail=0

$BOOT pvh-1cpu --expect-status 5 --expect '^GUEST-CPUS 1 ' --expect '^GUEST-DONE' "${REJECT[@]}" \
	-- "$MVM" run --kernel "$D/vmlinux" --initrd "$D/initramfs.cpio" \
	--cmdline "$ARGS guest_exit=port guest_exit_code=5" || fail=1

$BOOT bzimage-1cpu --expect '^GUEST-CPUS 1 ' --expect 'reboot: Restarting system' "${REJECT[@]}" \
	-- "$MVM" run --kernel "$D/bzImage" --initrd "$D/initramfs.cpio" \
	--cmdline "$ARGS guest_exit=reboot" || fail=1

$BOOT smp-acpi-pvh-2cpus --expect '^GUEST-CPUS 2 online=0-1' --expect 'ACPI: PM: \(supports S0 S5\)' \
	--expect 'reboot: Power down' --expect 'smpboot: Total of 2 processors' "${REJECT[@]}" \
	-- "$MVM" run --kernel "$S/vmlinux" --initrd "$S/initramfs.cpio" --cpus 2 \
	--cmdline "$ARGS guest_exit=poweroff" || fail=1

$BOOT smp-acpi-bzimage-2cpus --expect '^GUEST-CPUS 2 online=0-1' --expect 'reboot: Power down' \
	"${REJECT[@]}" \
	-- "$MVM" run --kernel "$S/bzImage" --initrd "$S/initramfs.cpio" --cpus 2 \
	--cmdline "$ARGS guest_exit=poweroff" || fail=1

# The guest reboots; mvm boots it again; SIGTERM after the second marker.
$BOOT reboot-restarts --restarts 1 --expect-status 143 "${REJECT[@]}" \
	-- "$MVM" run --kernel "$D/vmlinux" --initrd "$D/initramfs.cpio" --reboot-restarts \
	--cmdline "$ARGS guest_exit=reboot" || fail=1

# Firecracker's configuration file (the API's schema) boots Linux too: as
# Firecracker, on virtio-mmio with pci=off (the devices on the command line),
# and with --enable-pci on virtio-pci; both boot protocols.
truncate -s 16M "$LOGDIR/intx.img"
for k in vmlinux bzImage; do
	cat >"$LOGDIR/vm-$k.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$D/$k", "initrd_path": "$D/initramfs.cpio",
                  "boot_args": "console=ttyS0 $ARGS pci=off guest_exit=port guest_exit_code=7"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
  "drives": [{"drive_id": "scratch", "path_on_host": "$LOGDIR/intx.img",
              "is_root_device": false, "is_read_only": true}]
}
JSON
	$BOOT "config-file-mmio-$k" --expect-status 7 --expect '^GUEST-VIRTIO .* device=0x0002' \
		--expect '\[vda\] 32768 512-byte' "${REJECT[@]}" \
		-- "$MVM" --config-file "$LOGDIR/vm-$k.json" --no-api || fail=1
	sed 's/ pci=off//' "$LOGDIR/vm-$k.json" >"$LOGDIR/vm-pci-$k.json"
	$BOOT "config-file-pci-$k" --expect-status 7 --expect '^GUEST-VIRTIO .* device=0x0002' \
		"${REJECT[@]}" \
		-- "$MVM" --config-file "$LOGDIR/vm-pci-$k.json" --no-api --enable-pci || fail=1
done

# INTx instead of MSI-X (pci=nomsi): the disk's interrupt must arrive on the
# IOAPIC input that the MP table (default kernel) or the DSDT's _PRT (ACPI
# kernel) names, or its first read times out.
intx_img=$LOGDIR/intx.img
$BOOT intx-mptable --expect 'PCI->APIC IRQ transform: INT A -> IRQ 1[6-9]' \
	--expect '\[vda\] 32768 512-byte' --expect '^GUEST-VIRTIO .* device=0x0002' \
	--reject 'timed out|timeout' "${REJECT[@]}" \
	-- "$MVM" run --kernel "$D/vmlinux" --initrd "$D/initramfs.cpio" --disk "$intx_img" \
	--cmdline "$ARGS pci=nomsi guest_exit=port" || fail=1
$BOOT intx-acpi-prt --expect '\[vda\] 32768 512-byte' --expect '^GUEST-VIRTIO .* device=0x0002' \
	--expect 'ACPI: PCI Root Bridge \[PCI0\]' --expect 'MMCONFIG at .* reserved in E820' \
	--reject 'timed out|timeout' --reject 'ACPI Error' "${REJECT[@]}" \
	-- "$MVM" run --kernel "$S/vmlinux" --initrd "$S/initramfs.cpio" --cpus 2 \
	--disk "$intx_img" --cmdline "$ARGS pci=nomsi" || fail=1

# virtio over PCI (MSI-X): root on virtio-blk, virtio-rng, hvc0 on
# virtio-console, a read-only disk; the host checks the image afterwards.
echo "# virtio: tests/integration/linux-virtio.sh, on PCI and on MMIO"
MVM=$MVM KERNEL=$D/vmlinux TRANSPORT=pci "$here/../integration/linux-virtio.sh" || fail=1
MVM=$MVM KERNEL=$D/bzImage TRANSPORT=mmio "$here/../integration/linux-virtio.sh" || fail=1

# The split irqchip: LAPICs in KVM, the IOAPIC in mvm, no PIC (Linux finds none).
$BOOT split-pvh-1cpu --expect-status 5 --expect '^GUEST-CPUS 1 ' --expect '^GUEST-DONE' \
	"${REJECT[@]}" \
	-- "$MVM" run --irqchip split --kernel "$D/vmlinux" --initrd "$D/initramfs.cpio" \
	--cmdline "$ARGS guest_exit=port guest_exit_code=5" || fail=1
$BOOT split-smp-acpi-2cpus --expect '^GUEST-CPUS 2 online=0-1' --expect 'reboot: Power down' \
	--expect 'smpboot: Total of 2 processors' "${REJECT[@]}" \
	-- "$MVM" run --irqchip split --kernel "$S/vmlinux" --initrd "$S/initramfs.cpio" --cpus 2 \
	--cmdline "$ARGS guest_exit=poweroff" || fail=1
$BOOT split-intx-mptable --expect 'PCI->APIC IRQ transform: INT A -> IRQ 1[6-9]' \
	--expect '\[vda\] 32768 512-byte' --expect '^GUEST-VIRTIO .* device=0x0002' \
	--reject 'timed out|timeout' "${REJECT[@]}" \
	-- "$MVM" run --irqchip split --kernel "$D/vmlinux" --initrd "$D/initramfs.cpio" \
	--disk "$intx_img" --cmdline "$ARGS pci=nomsi guest_exit=port" || fail=1
$BOOT split-intx-acpi-prt --expect '\[vda\] 32768 512-byte' --expect '^GUEST-VIRTIO .* device=0x0002' \
	--expect 'ACPI: PCI Root Bridge \[PCI0\]' --reject 'timed out|timeout' --reject 'ACPI Error' \
	"${REJECT[@]}" \
	-- "$MVM" run --irqchip split --kernel "$S/vmlinux" --initrd "$S/initramfs.cpio" --cpus 2 \
	--disk "$intx_img" --cmdline "$ARGS pci=nomsi" || fail=1
MVM=$MVM KERNEL=$D/vmlinux TRANSPORT=pci IRQCHIP=split "$here/../integration/linux-virtio.sh" ||
	fail=1
MVM=$MVM KERNEL=$D/bzImage TRANSPORT=mmio IRQCHIP=split "$here/../integration/linux-virtio.sh" ||
	fail=1

echo "# logs in $LOGDIR"
exit $fail
