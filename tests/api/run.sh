#!/usr/bin/env bash
# The API tests: conformance to Firecracker's spec (the copy in this
# directory, from firecracker-microvm/firecracker, Apache-2.0), a boot driven
# by curl, robustness. Each prints "N passed, M failed, K skipped"; this sums
# them (replay.py: the orchestrators' own call sequences). Everything before
# InstanceStart runs without KVM; the checks that
# boot a guest skip where /dev/kvm is missing.
#
#   MVM=build/mvm GUESTS=build/guest tests/api/run.sh
set -u
cd "$(dirname "$0")"
export MVM=${MVM:-../../build/mvm} GUESTS=${GUESTS:-../../build/guest}
export SPEC=${SPEC:-$PWD/firecracker-api.yaml}
# python3-yaml is Debian's: use the system interpreter when there is one.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
pass=0 fail=0 skip=0 rc=0
for t in conformance.py messages.py cmdline.py curl-boot.sh robust.py replay.py; do
	echo "# $t"
	case $t in
	*.py) out=$("$PY" "./$t" 2>&1) ;;
	*) out=$("./$t" 2>&1) ;;
	esac
	r=$?
	echo "$out"
	last=$(echo "$out" | tail -1)
	if [[ $last =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
		pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2])) skip=$((skip + BASH_REMATCH[3]))
	else
		echo "not ok - $t ended without its summary (exit $r)"
		fail=$((fail + 1))
	fi
	[ $r -ne 0 ] && rc=1
done
echo "api: $pass passed, $fail failed, $skip skipped"
[ $rc -eq 0 ] && [ $fail -eq 0 ]
