#!/usr/bin/env bash
# The jailer, with Firecracker's command line: a VMM (mvm --api-sock) jailed
# as an unprivileged uid in its chroot, netns, cgroup, with rlimits; checked
# from the host through /proc. Booting a guest in the jail needs /dev/kvm.
#
#   MVM=build/mvm GUESTS=build/guest tests/sandbox/jailer.sh
set -u
cd "$(dirname "$0")"
MVM=${MVM:-$PWD/../../build/mvm}
GUESTS=${GUESTS:-$PWD/../../build/guest}
TMP=$(mktemp -d)
NS=mvm-jail-test-$$
JUID=$((40000 + $$ % 20000))
pids=()
cgdirs=()
cleanup() {
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	sleep 0.2
	for d in "${cgdirs[@]}"; do rmdir "$d" 2>/dev/null; done
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
. ../lib/tap.sh
. ./scenarios.sh

if [ "$(id -u)" -ne 0 ]; then
	echo "SKIP: the jailer needs root"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
base=$TMP/base
mkdir -p "$base"
netns_args=()
if ip netns add "$NS" 2>/dev/null; then
	netns_args=(--netns "/var/run/netns/$NS")
else
	echo "# no network namespaces here: --netns untested"
fi
cg_args=()
if [ -w /sys/fs/cgroup/pids ]; then
	cg_args=(--cgroup-version 1 --cgroup pids.max=64 --parent-cgroup "mvmtest$$")
	cgdirs=("/sys/fs/cgroup/pids/mvmtest$$/j1" "/sys/fs/cgroup/pids/mvmtest$$")
elif grep -qw pids /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
	cg_args=(--cgroup-version 2 --cgroup pids.max=64 --parent-cgroup "mvmtest$$")
	cgdirs=("/sys/fs/cgroup/mvmtest$$/j1" "/sys/fs/cgroup/mvmtest$$")
fi

# 1. The VMM jailed, with an fd of ours open that it must not inherit.
exec 7>"$TMP/leak"
"$MVM" jailer --id j1 --exec-file "$MVM" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$base" \
	"${netns_args[@]}" "${cg_args[@]}" --resource-limit no-file=128 \
	-- --api-sock /run/api.sock >"$TMP/j1.out" 2>"$TMP/j1.err" &
jpid=$!
pids+=("$jpid")
exec 7>&-
root=$base/mvm/j1/root
if wait_sock "$root/run/api.sock"; then
	api "$root/run/api.sock" http://localhost/
	[ "$api_code" = 200 ] && ok "the jailed VMM serves its API at <chroot>/run/api.sock" ||
		not_ok "jailed API" "HTTP $api_code"
else
	not_ok "the jailed VMM did not create its socket" "$(cat "$TMP/j1.err")"
fi
st=/proc/$jpid/status
if grep -qx "Uid:	$JUID	$JUID	$JUID	$JUID" "$st" && grep -qx "Gid:	$JUID	$JUID	$JUID	$JUID" "$st" &&
	[ "$(grep -cE '^Cap(Inh|Prm|Eff|Bnd|Amb):	0000000000000000$' "$st")" -eq 5 ] &&
	grep -qx $'NoNewPrivs:\t1' "$st" && grep -qx $'Seccomp:\t2' "$st" && ! grep -q '^Groups:.*[0-9]' "$st"; then
	ok "jailed: uid/gid $JUID, no groups, every capability set empty, no_new_privs, seccomp"
else
	not_ok "jailed credentials" "$(grep -E 'Uid|Gid|Groups|Cap|NoNewPrivs|Seccomp' "$st")"
fi
if [ "$(ls "/proc/$jpid/root" | tr '\n' ' ')" = "dev lib lib64 mvm run usr " ] &&
	[ ! -e "/proc/$jpid/root/etc" ] && [ ! -e "/proc/$jpid/root/usr/bin" ]; then
	ok "jailed: its root is the chroot (dev, read-only libraries, its own copy of mvm, run)"
else
	not_ok "jailed root" "$(ls "/proc/$jpid/root")"
fi
if touch "/proc/$jpid/root/usr/lib/x" 2>/dev/null; then
	not_ok "the jail's libraries are writable"
else
	ok "the jail's library directories are read-only"
fi
if ls -l "/proc/$jpid/fd" | grep -q "$TMP/leak"; then
	not_ok "an inherited fd reached the jailed VMM"
else
	ok "inherited fds are closed"
fi
grep -q "open files *128 *128" "/proc/$jpid/limits" && ok "--resource-limit no-file=128 applies" ||
	not_ok "rlimit" "$(grep 'open files' "/proc/$jpid/limits")"
if [ ${#netns_args[@]} -gt 0 ]; then
	[ "$(stat -L -c %i "/proc/$jpid/ns/net")" = "$(stat -L -c %i "/var/run/netns/$NS")" ] &&
		ok "--netns: the VMM is in the given network namespace" || not_ok "netns"
else
	skip=$((skip + 1))
	echo "ok - # SKIP --netns: ip netns unavailable"
fi
if [ ${#cg_args[@]} -gt 0 ]; then
	if grep -q "mvmtest$$/j1" "/proc/$jpid/cgroup" && [ "$(cat "${cgdirs[0]}/pids.max")" = 64 ]; then
		ok "--cgroup pids.max=64: the VMM is in <parent>/j1 with the limit set"
	else
		not_ok "cgroup" "$(cat "/proc/$jpid/cgroup")"
	fi
else
	skip=$((skip + 1))
	echo "ok - # SKIP --cgroup: no writable pids controller"
fi
owner=$(stat -c %u "$root" "$root/mvm" "$root/run" "$root/dev/urandom" | sort -u | tr '\n' ' ')
[ "$owner" = "$JUID " ] && ok "the chroot, the copy of mvm, run/ and the device nodes belong to the jailed uid" ||
	not_ok "owners" "$(ls -la "$root" "$root/dev")"
[ "$(stat -c %t:%T "$root/dev/urandom")" = "$(stat -c %t:%T /dev/urandom)" ] &&
	ok "the jail's /dev/urandom is the host's device" || not_ok "urandom node"
if [ -c /dev/kvm ]; then
	[ -c "$root/dev/kvm" ] && ok "the jail has /dev/kvm" || not_ok "no /dev/kvm in the jail"
else
	[ ! -e "$root/dev/kvm" ] && ok "no /dev/kvm on the host: none made in the jail" || not_ok "a /dev/kvm appeared"
fi
api "$root/run/api.sock" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'
wait "$jpid"
rc=$?
if [ "$rc" -eq 0 ]; then
	ok "the jailed VMM stops through its API (exit 0)"
elif [ "${SAN:-0}" = 1 ] && grep -q LeakSanitizer "$TMP/j1.err"; then
	skip=$((skip + 1))
	echo "ok - # SKIP jailed exit status: LeakSanitizer cannot run in a jail (no /proc)"
else
	not_ok "jailed stop" "exit $rc" "$(tail -3 "$TMP/j1.err")"
fi

# 2. Invoked as "jailer", --new-pid-ns and --daemonize: the VMM is pid 1 of its namespace.
mkdir "$TMP/bin"
ln -s "$MVM" "$TMP/bin/jailer"
"$TMP/bin/jailer" --id j2 --exec-file "$MVM" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$base" \
	--new-pid-ns --daemonize -- --api-sock /run/api.sock >"$TMP/j2.out" 2>"$TMP/j2.err"
rc=$?
root2=$base/mvm/j2/root
wait_sock "$root2/run/api.sock"
vpid=$(cat "$root2/mvm.pid" 2>/dev/null)
pids+=("$vpid")
if [ "$rc" -eq 0 ] && [ -n "$vpid" ] && grep -qE $'^NSpid:\t[0-9]+\t1$' "/proc/$vpid/status" &&
	[ "$(readlink "/proc/$vpid/fd/1")" = /dev/null ]; then
	ok "as 'jailer' with --new-pid-ns --daemonize: pid file, pid 1 in its namespace, stdio on /dev/null"
else
	not_ok "jailer --new-pid-ns --daemonize" "rc $rc pid '$vpid'" "$(cat "$TMP/j2.err")"
fi
api "$root2/run/api.sock" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'

# 3. Refusals: a symlinked base, a base owned by someone else.
ln -s "$base" "$TMP/linked"
"$MVM" jailer --id j3 --exec-file "$MVM" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$TMP/linked" \
	-- --api-sock /run/api.sock >/dev/null 2>"$TMP/j3.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "is a symlink: refusing" "$TMP/j3.err" && [ ! -e "$base/mvm/j3" ] &&
	ok "a symlinked chroot base is refused, nothing created" || not_ok "symlinked base" "rc $rc" "$(cat "$TMP/j3.err")"
mkdir "$TMP/foreign"
chown $((JUID + 1)) "$TMP/foreign"
"$MVM" jailer --id j4 --exec-file "$MVM" --uid "$JUID" --gid "$JUID" --chroot-base-dir "$TMP/foreign" \
	-- --api-sock /run/api.sock >/dev/null 2>"$TMP/j4.err"
rc=$?
[ "$rc" -eq 1 ] && grep -q "belongs to uid $((JUID + 1))" "$TMP/j4.err" &&
	ok "a chroot base owned by another uid is refused" || not_ok "foreign base" "rc $rc" "$(cat "$TMP/j4.err")"
"$MVM" jailer --id 'bad/id' --exec-file "$MVM" --uid 1 --gid 1 >/dev/null 2>"$TMP/j5.err"
[ $? -eq 2 ] && ok "an id with '/' is refused (usage)" || not_ok "bad id"

skip=$((skip + 1))
echo "ok - # SKIP booting the hello guest and Linux in the jail: needs /dev/kvm${KVM_NOTE:-}"
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
