#!/usr/bin/env bash
# virtio-net and the MMDS through mvm's API, in a network namespace of the
# test's own with a tap in it (needs root, /dev/net/tun and ip; skips
# without). The pre-boot API checks run everywhere; booting a guest that
# moves frames needs /dev/kvm and says SKIP without it.
#
#   MVM=build/mvm tests/integration/net.sh
set -u

MVM=${MVM:-build/mvm}
MVM=$(realpath "$MVM")
TMP=$(mktemp -d /var/tmp/mvm-net.XXXXXX)
NS=mvm-net-$$
pid=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	ip netns del "$NS" 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/tap.sh"

if [ "$(id -u)" -ne 0 ] || [ ! -c /dev/net/tun ] || ! command -v ip >/dev/null ||
	! command -v curl >/dev/null || ! ip netns add "$NS" 2>/dev/null; then
	echo "SKIP: needs root, /dev/net/tun, ip and curl (a namespace and a tap of its own)"
	echo "0 passed, 0 failed, 1 skipped"
	exit 0
fi
ip netns exec "$NS" ip tuntap add tap0 mode tap
ip netns exec "$NS" ip tuntap add tap1 mode tap

SOCK=$TMP/api.sock
ip netns exec "$NS" "$MVM" --api-sock "$SOCK" >"$TMP/vmm.out" 2>"$TMP/vmm.err" &
pid=$!
for _ in $(seq 50); do [ -S "$SOCK" ] && break; sleep 0.1; done

api() { # api METHOD PATH [BODY]: "STATUS BODY"
	curl -s --unix-socket "$SOCK" -X "$1" -w ' %{http_code}' "http://localhost$2" \
		${3:+-H 'Content-Type: application/json' -d "$3"}
}

want() { # want NAME STATUS PATTERN METHOD PATH [BODY]
	local name=$1 st=$2 pat=$3 out
	shift 3
	out=$(api "$@")
	if [[ "$out" == *" $st" && "$out" == *"$pat"* ]]; then ok "$name"; else not_ok "$name" "$out"; fi
}

want "PUT /network-interfaces: a good interface" 204 "" \
	PUT /network-interfaces/eth0 \
	'{"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "06:00:ac:10:00:02", "mtu": 1400,
	  "rx_rate_limiter": {"bandwidth": {"size": 1000000, "refill_time": 100}}}'
want "bad host_dev_name: 400 naming the field" 400 "host_dev_name" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "nosuchtap0"}'
want "a tap another interface uses: 400" 400 "host_dev_name" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap0"}'
want "bad MAC: 400 naming the field" 400 "guest_mac" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "zz"}'
want "multicast MAC: 400" 400 "guest_mac" \
	PUT /network-interfaces/eth1 \
	'{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "01:00:00:00:00:01"}'
want "MTU out of range: 400 naming the range" 400 "from 68 to 65535" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "mtu": 67}'
want "iface_id differing from the path: 400" 400 "" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth2", "host_dev_name": "tap1"}'
want "a second interface" 204 "" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1"}'
want "the same iface_id again replaces it (PUT semantics)" 204 "" \
	PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "mtu": 9000}'
want "PATCH before boot: 400 (post-boot only)" 400 "before starting the microVM" \
	PATCH /network-interfaces/eth0 '{"iface_id": "eth0"}'
want "PUT /mmds/config names a missing interface: 400" 400 "network_interfaces" \
	PUT /mmds/config '{"network_interfaces": ["eth9"]}'
want "PUT /mmds/config: a non-link-local address: 400" 400 "ipv4_address" \
	PUT /mmds/config '{"network_interfaces": ["eth0"], "ipv4_address": "10.0.0.1"}'
want "PUT /mmds/config V2" 204 "" \
	PUT /mmds/config '{"network_interfaces": ["eth0"], "version": "V2"}'
want "PUT /mmds" 204 "" PUT /mmds '{"latest": {"meta-data": {"ami-id": "ami-1"}}}'
want "PATCH /mmds" 204 "" PATCH /mmds '{"latest": {"meta-data": {"x": "y"}}}'
want "GET /mmds" 200 '"ami-id":"ami-1"' GET /mmds
out=$(api GET /vm/config)
if [[ "$out" == *'"iface_id":"eth0"'* && "$out" == *'"mtu":9000'* &&
	"$out" == *'"mmds-config":{"version":"V2"'* && "$out" == *'"refill_time":100'* ]]; then
	ok "GET /vm/config shows the interfaces, their limiters and the MMDS"
else
	not_ok "GET /vm/config shows the interfaces, their limiters and the MMDS" "$out"
fi
api PUT /actions '{"action_type": "Stop"}' >/dev/null
wait "$pid"
pid=

# The config file's network-interfaces section is checked as the API checks it.
cat >"$TMP/vm.json" <<EOC
{"boot-source": {"kernel_image_path": "$TMP/vm.json"},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "nosuchtap0"}]}
EOC
ip netns exec "$NS" "$MVM" --config-file "$TMP/vm.json" --no-api >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -ne 0 ] && grep -q "host_dev_name" "$TMP/err"; then
	ok "config file: a bad section is refused naming the field (exit $rc)"
else
	not_ok "config file: a bad section is refused naming the field" "exit $rc"
fi

if [ ! -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
	echo "SKIP: /dev/kvm is missing or not accessible: no guest moves frames here"
	skip=$((skip + 1))
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
