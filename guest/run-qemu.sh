#!/bin/sh
# SPDX-License-Identifier: MIT
# Boot every guest under QEMU's PVH loader (-M microvm) and check what it
# prints and how it exits. Reference run for the guests, not part of mvm's
# test suite.
#   guest/run-qemu.sh [OUT_DIR]     (default guest/out; `make -C guest` first)
# QEMU_CPU overrides -cpu (default host,-arch-capabilities: on the nested
# development host plain `host` fails to set MSR 0x10a); QEMU_ACCEL=tcg
# (with QEMU_CPU=max) shows how the guests behave on a non-nested CPU.

out=${1:-$(dirname "$0")/out}
cpu=${QEMU_CPU:-host,-arch-capabilities}
accel=${QEMU_ACCEL:-kvm}
fail=0

# run NAME WANT_STATUS WANT_TEXT [MACHINE [APPEND [SMP]]]
# WANT_STATUS (an ERE) is QEMU's exit status: 2*V+1 for a write of V to
# port 0xf4; WANT_TEXT is an ERE that must occur in the output; SMP is
# QEMU's -smp (default 1).
run() {
	name=$1 want=$2 text=$3 machine=${4:-microvm} append=${5:-} smp=${6:-1}
	log=$(mktemp)
	timeout 20 qemu-system-x86_64 -M "$machine" -accel "$accel" -cpu "$cpu" \
		-smp "$smp" -m 128 -nodefaults -no-user-config -display none -serial stdio \
		-no-reboot -device isa-debug-exit,iobase=0xf4,iosize=4 \
		-kernel "$out/$name.elf" -append "$append" >"$log" 2>&1
	got=$?
	if echo "$got" | grep -qxE -- "$want" && grep -qE -- "$text" "$log"; then
		echo "ok   $name ($machine) status=$got"
	else
		echo "FAIL $name ($machine) status=$got want=$want text='$text'"
		fail=1
	fi
	sed 's/^/     | /' "$log"
	rm -f "$log"
}

run hello 1 'Hello from an mvm guest' microvm 'hello world'
run exitcode 1 'exitcode: 0'
run exitcode 85 'exitcode: 42' microvm 'exit=42'
# QEMU answers unclaimed ports with all-ones but unclaimed MMIO with 0:
# the four MMIO checks fail there (mvm must answer all-ones: exit 0).
run unclaimed 3 'unclaimed: 4 passed, 4 failed'
run ring0 1 'ring0: 7 passed, 0 failed'
run triple 0 'triple: faulting'
run reset 7 'reset: still alive'		# microvm has no i8042
run reset 0 'reset: pulsing i8042' pc	# -M pc resets, -no-reboot exits 0
run meminfo 1 'ram_total_kib='
run exception 213 'vector=6'
# int3 in ring 0: hardware reports #BP (exit 103, QEMU status 207); the
# nested development host cannot emulate it: KVM internal error, QEMU
# stops the vCPU and keeps running (killed by timeout: 124).
run int3 '207|124' 'vector=3|emulation failure'
# smp: INIT-SIPI-SIPI to every AP, each reports its APIC id
run smp 1 '^SMP OK cpus=1$' microvm 'cpus=1'
run smp 1 '^SMP OK cpus=4$' microvm 'cpus=4' 4
run smp 1 '^SMP OK cpus=2$' q35 'cpus=2' 2
# ioapic: QEMU's IOAPIC is version 0x20 (KVM's and mvm's are 0x11): that one check fails.
run ioapic 3 'ioapic: 5 passed, 1 failed'
# acpi: microvm has ACPI tables with acpi=on; its second IOAPIC (ioapic2) is
# off so that the MADT has exactly one. q35 has an RSDT (RSDP revision 0).
run acpi 1 '^ACPI OK cpus=1$' microvm,acpi=on,ioapic2=off 'cpus=1'
run acpi 1 '^ACPI OK cpus=4$' microvm,acpi=on,ioapic2=off 'cpus=4' 4
run acpi 1 'RSDP found by scanning' microvm,acpi=on,ioapic2=off 'cpus=2 acpi_scan' 2
run acpi 1 '^ACPI OK cpus=2$' q35 'cpus=2' 2
run acpi 3 '^ACPI FAIL MADT has 2 enabled LAPICs, want cpus=3$' q35 'cpus=3' 2
run acpi 3 '^ACPI FAIL no RSDP$' microvm,acpi=off 'cpus=1'
# busy: must still be running after 2 s
log=$(mktemp)
timeout 2 qemu-system-x86_64 -M microvm -accel "$accel" -cpu "$cpu" -m 128 \
	-nodefaults -no-user-config -display none -serial stdio -no-reboot \
	-kernel "$out/busy.elf" >"$log" 2>&1
got=$?
if [ "$got" = 124 ] && grep -q 'busy: spinning' "$log"; then
	echo "ok   busy (microvm) still running after 2 s"
else
	echo "FAIL busy status=$got"
	fail=1
fi
sed 's/^/     | /' "$log"
rm -f "$log"
exit $fail
