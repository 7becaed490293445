#!/usr/bin/env bash
# Linux boot time: from exec of the VMM to the guest's userspace marker
# (GUEST-INIT-OK), mvm against QEMU's microvm machine on the same kernel,
# initramfs and command line, interleaved in one run. Prints each run, the
# medians and the ratio; asserts nothing.
#
#   bench/linux-boot.sh MVM [RUNS]     (kernel from make check-linux's cache)
set -u
here=$(cd "$(dirname "$0")" && pwd)
MVM=${1:?usage: linux-boot.sh MVM [RUNS]}
RUNS=${2:-3}
K=${MVM_KERNEL_CACHE:-/var/cache/mvm-kernel}/default/out
LOG=$(mktemp -d /tmp/mvm-linux-bench.XXXXXX)
ARGS="console=ttyS0 panic=-1 mitigations=off quiet guest_exit=port guest_exit_code=5"
QEMU=qemu-system-x86_64

[ -f "$K/vmlinux" ] || { echo "no test kernel in $K: run make check-linux first" >&2; exit 1; }
command -v $QEMU >/dev/null || { echo "$QEMU not found: apt-get install qemu-system-x86" >&2; exit 1; }

# Seconds to the marker for one boot, or "-" if it never came.
boot() { # name expected-status cmd...
	local name=$1 status=$2
	shift 2
	python3 "$here/../tests/linux/boot.py" --logdir "$LOG" --expect-status "$status" "$name" \
		-- "$@" | sed -n 's/^ok - [^:]*: marker at \([0-9.]*\) s.*/\1/p;/^not ok/s/.*/-/p'
}

# QEMU here needs arch-capabilities off (the nested host refuses the MSR).
QEMU_ARGS=(-M microvm -enable-kvm -cpu host,-arch-capabilities -m 128 -smp 1
	-nodefaults -no-user-config -display none -serial stdio -no-reboot
	-device isa-debug-exit,iobase=0xf4,iosize=4 -initrd "$K/initramfs.cpio")

median() { sort -n | awk '{a[NR]=$1} END {if (NR) print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2); else print "-"}'; }

echo "# Linux 6.1 test kernel, 128 MiB, 1 vCPU, to GUEST-INIT-OK; $RUNS runs each, interleaved"
for image in vmlinux bzImage; do
	: >"$LOG/mvm-$image" && : >"$LOG/qemu-$image"
	for i in $(seq "$RUNS"); do
		m=$(boot "mvm-$image-$i" 5 "$MVM" run --kernel "$K/$image" \
			--initrd "$K/initramfs.cpio" --no-default-cmdline --cmdline "$ARGS")
		q=$(boot "qemu-$image-$i" 11 $QEMU "${QEMU_ARGS[@]}" -kernel "$K/$image" \
			-append "$ARGS")
		printf '  %-8s run %d: mvm %6s s   qemu microvm %6s s\n' "$image" "$i" "$m" "$q"
		[ "$m" != - ] && echo "$m" >>"$LOG/mvm-$image"
		[ "$q" != - ] && echo "$q" >>"$LOG/qemu-$image"
	done
	m=$(median <"$LOG/mvm-$image")
	q=$(median <"$LOG/qemu-$image")
	ratio=$(awk -v m="$m" -v q="$q" 'BEGIN { if (m + 0 > 0 && q + 0 > 0) printf "%.2f", m / q; else print "-" }')
	printf '%-8s median: mvm %s s, qemu -M microvm %s s, mvm/qemu = %s\n' "$image" "$m" "$q" "$ratio"
done
echo "# logs: $LOG"
