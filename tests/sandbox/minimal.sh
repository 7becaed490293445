#!/usr/bin/env bash
# Each thread type's seccomp allow-list is minimal and sufficient:
#  - the VMM scenarios (scenarios.sh) run under strace with the filters on:
#    a call missing from a list kills mvm and fails its scenario;
#  - every entry of `mvm --print-seccomp` must be reached by some scenario,
#    attributed to its thread type (syscalls.py); entries marked [guest] need
#    a VM and are checked only where /dev/kvm is usable (else counted SKIP).
#
#   MVM=build/mvm GUESTS=build/guest tests/sandbox/minimal.sh
set -u
cd "$(dirname "$0")"
HERE=$PWD
MVM=${MVM:-$HERE/../../build/mvm}
GUESTS=${GUESTS:-$HERE/../../build/guest}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export XDG_RUNTIME_DIR=$TMP/run
mkdir -m 700 "$XDG_RUNTIME_DIR"
. ../lib/tap.sh
. ./scenarios.sh

if ! command -v strace >/dev/null; then
	echo "SKIP: strace is not installed"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
truncate -s 1M "$TMP/disk.img"
mkdir "$TMP/st"
# LeakSanitizer cannot work under strace (ptrace): its exit check is off here.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
scenarios_run strace -ff -qq -o "$TMP/st/t"
if [ "$scen_fail" -eq 0 ]; then
	ok "every scenario ran to its expected end with the filters on (under strace)"
else
	not_ok "$scen_fail scenario(s) did not end as expected with the filters on" \
		"$(grep -h 'seccomp' "$TMP"/s*.err | head -5)"
fi

if [ "${SAN:-0}" = 1 ]; then
	# The sanitizer runtime replaces malloc (no brk) and adds calls of its own.
	echo "ok - # SKIP minimality: a sanitizer build's system calls are not the product's"
	echo "$pass passed, $fail failed, $((skip + 1)) skipped"
	[ "$fail" -eq 0 ]
	exit
fi
/usr/bin/python3 ./syscalls.py "$TMP/st" >"$TMP/reached"
"$MVM" --print-seccomp >"$TMP/lists"
unreached=() guest_unreached=0 checked=0
while read -r type name args; do
	[ "$type" = all ] && continue # the floor: installing filters and dying
	want="$name"
	case $name in
	ioctl | prctl | tgkill) want="$name ${args%% *}" ;;
	esac
	if grep -qxF "$type $want" "$TMP/reached"; then
		checked=$((checked + 1))
	elif [[ $args == *"[guest]"* ]] && ! have_kvm; then
		guest_unreached=$((guest_unreached + 1))
	else
		unreached+=("$type $want")
	fi
done <"$TMP/lists"
if [ ${#unreached[@]} -eq 0 ]; then
	ok "every allow-list entry that a test can reach here is reached ($checked entries)"
else
	not_ok "allow-list entries no scenario reached (remove them, or test them)" "${unreached[@]}"
fi
if [ "$guest_unreached" -gt 0 ]; then
	skip=$((skip + 1))
	echo "ok - # SKIP $guest_unreached [guest] entries need /dev/kvm to be reached"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
