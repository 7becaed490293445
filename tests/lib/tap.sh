# shellcheck shell=bash
# Shared by the shell test scripts: TAP-style result lines, their counters,
# and running mvm with a time limit. Source it after setting MVM and TMP.
#   RUN_TIMEOUT   seconds `run` gives mvm (default 60)
#   TAP_OUT_SKIP  a grep pattern of stdout lines not worth showing on failure
pass=0
fail=0
skip=0

ok() { pass=$((pass + 1)); echo "ok - $1"; }

# not_ok NAME [DETAIL...]: the details, then the last run's stdout and stderr.
not_ok() {
	fail=$((fail + 1))
	echo "not ok - $1"
	shift
	for m in "$@"; do echo "#   $m"; done
	if [ -n "${TMP:-}" ] && [ -s "$TMP/out" ]; then
		if [ -n "${TAP_OUT_SKIP:-}" ]; then
			grep -av -e "$TAP_OUT_SKIP" "$TMP/out"
		else
			cat "$TMP/out"
		fi | sed 's/^/#   stdout: /' | head -20
	fi
	if [ -n "${TMP:-}" ] && [ -s "$TMP/err" ]; then
		sed 's/^/#   stderr: /' "$TMP/err" | head -20
	fi
	return 0
}

# run ARGS...: mvm ARGS with a time limit; sets $rc, stdout in $TMP/out, stderr in $TMP/err.
run() {
	timeout "${RUN_TIMEOUT:-60}" "$MVM" "$@" >"$TMP/out" 2>"$TMP/err" </dev/null
	rc=$?
}

expect() { # expect NAME WANT_RC [grep-pattern-in-stdout]
	local name=$1 want=$2 pat=${3:-}
	if [ "$rc" -ne "$want" ]; then
		not_ok "$name" "exit status $rc, want $want"
	elif [ -n "$pat" ] && ! grep -aqE -e "$pat" "$TMP/out"; then
		not_ok "$name" "stdout lacks /$pat/"
	else
		ok "$name"
	fi
}

stderr_has() { # stderr_has NAME PATTERN
	if grep -qE "$2" "$TMP/err"; then ok "$1"; else not_ok "$1" "stderr lacks /$2/"; fi
}
