#!/usr/bin/env bash
# Containment tests: seccomp lists (minimal.sh), hardening (harden.sh), the
# jailer (jailer.sh), stalled output readers (stall.py). Each prints
# "N passed, M failed, K skipped"; this sums them.
set -u
cd "$(dirname "$0")"
pass=0 fail=0 skip=0 rc=0
for t in minimal.sh harden.sh jailer.sh stall.py; do
	[ -x "./$t" ] || continue
	echo "# $t"
	out=$("./$t" 2>&1)
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
echo "sandbox: $pass passed, $fail failed, $skip skipped"
[ $rc -eq 0 ] && [ $fail -eq 0 ]
