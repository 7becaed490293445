# shellcheck shell=bash
# The VMM scenarios the seccomp tests drive (sourced; needs MVM, GUESTS, TMP).
# scenarios_run PREFIX: runs each one with PREFIX before mvm (e.g. strace);
# sets $scen_fail to the number of scenarios that did not end as expected.
# Those that need a VM run only where /dev/kvm is usable.

api() { # api SOCK CURL-ARGS... : the body; $api_code the HTTP status
	local out
	out=$(curl -s -m 10 --unix-socket "$1" -w '\n%{http_code}' "${@:2}")
	api_code=${out##*$'\n'}
	api_body=${out%$'\n'*}
}

wait_sock() { # wait_sock PATH: up to 5 s for the API socket
	local i
	for i in $(seq 100); do [ -S "$1" ] && return 0; sleep 0.05; done
	return 1
}

# SIGTERM to mvm, also when it runs under a prefix (strace) that would take the signal itself.
stop_vmm() { kill -TERM "$(pgrep -P "$1" -x mvm || echo "$1")"; }

have_kvm() { [ -c /dev/kvm ] && [ -r /dev/kvm ] && [ -w /dev/kvm ]; }

scen_expect() { # scen_expect NAME GOT WANT
	if [ "$2" != "$3" ]; then
		echo "# scenario $1: got '$2', want '$3'"
		scen_fail=$((scen_fail + 1))
	fi
}

scenarios_run() {
	local pre=("$@") s=$TMP/s.sock pid st
	scen_fail=0
	: >"$TMP/log.fifo.file"
	: >"$TMP/metrics.file"

	# 1. A VMM before InstanceStart: every pre-boot route, logger, metrics, errors, SIGTERM.
	rm -f "$s"
	"${pre[@]}" "$MVM" --api-sock "$s" --id scen1 -v -v >"$TMP/s1.out" 2>"$TMP/s1.err" &
	pid=$!
	wait_sock "$s" || echo "# scenario 1: no socket"
	api "$s" http://localhost/
	scen_expect "GET /" "$api_code" 200
	api "$s" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	scen_expect "PUT /boot-source" "$api_code" 204
	api "$s" -X PUT http://localhost/machine-config -d '{"vcpu_count": 2, "mem_size_mib": 64}'
	scen_expect "PUT /machine-config" "$api_code" 204
	api "$s" -X PUT http://localhost/drives/d0 \
		-d "{\"drive_id\": \"d0\", \"path_on_host\": \"$TMP/disk.img\", \"is_root_device\": false, \"is_read_only\": true}"
	scen_expect "PUT /drives" "$api_code" 204
	api "$s" -X PUT http://localhost/logger -d "{\"log_path\": \"$TMP/log.fifo.file\", \"level\": \"Debug\"}"
	scen_expect "PUT /logger" "$api_code" 204
	api "$s" -X PUT http://localhost/metrics -d "{\"metrics_path\": \"$TMP/metrics.file\"}"
	scen_expect "PUT /metrics" "$api_code" 204
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "FlushMetrics"}'
	scen_expect "FlushMetrics" "$api_code" 400 # before boot, as Firecracker
	api "$s" -X PATCH http://localhost/vm -d '{"state": "Paused"}'
	scen_expect "PATCH /vm before boot" "$api_code" 400
	api "$s" -X PUT http://localhost/cpu-config \
		-d '{"cpuid_modifiers": [{"leaf": "0x1", "subleaf": "0x0", "flags": 0, "modifiers": [{"register": "ecx", "bitmap": "0bx"}]}]}'
	scen_expect "PUT /cpu-config" "$api_code" 204
	api "$s" http://localhost/vm/config
	scen_expect "GET /vm/config" "$api_code" 200
	api "$s" http://localhost/nope
	scen_expect "unknown route" "$api_code" 400 # as Firecracker
	api "$s" -X PUT http://localhost/boot-source -H 'Content-Length: 99999999' -d x
	scen_expect "oversized body" "$api_code" 413
	if ! have_kvm; then
		api "$s" -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
		scen_expect "InstanceStart without KVM" "$api_code" 400
	fi
	stop_vmm "$pid"
	wait "$pid"
	st=$?
	scen_expect "SIGTERM before InstanceStart" "$st" 143

	# 2. Stop before InstanceStart (exit 0, the API's own teardown).
	rm -f "$s"
	"${pre[@]}" "$MVM" --api-sock "$s" --id scen2 >"$TMP/s2.out" 2>"$TMP/s2.err" &
	pid=$!
	wait_sock "$s"
	api "$s" -X PUT http://localhost/snapshot/load \
		-d "{\"snapshot_path\": \"$TMP/none.state\", \"mem_file_path\": \"$TMP/none.mem\"}"
	scen_expect "snapshot load of a missing file" "$api_code" 400
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'
	wait "$pid"
	st=$?
	scen_expect "Stop before InstanceStart" "$st" 0

	# 3. A config file with logger and metrics: the main thread reads it, then SIGTERM.
	rm -f "$s"
	cat >"$TMP/config.json" <<-JSON
	{"boot-source": {"kernel_image_path": "$GUESTS/hello.elf"},
	 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
	 "logger": {"log_path": "$TMP/log.fifo.file", "level": "Info"},
	 "metrics": {"metrics_path": "$TMP/metrics.file"}}
	JSON
	if have_kvm; then
		# Boots the hello guest, which ends at once: exit status is its own.
		"${pre[@]}" "$MVM" --config-file "$TMP/config.json" --no-api >"$TMP/s3.out" 2>"$TMP/s3.err"
		st=$?
		scen_expect "config file boot" "$st" 0
	else
		"${pre[@]}" "$MVM" --config-file "$TMP/config.json" --api-sock "$s" >"$TMP/s3.out" 2>"$TMP/s3.err"
		st=$?
		scen_expect "config file without KVM" "$st" 1
	fi

	have_kvm || return 0
	# 4. With a VM: mvm run with 2 vCPUs, a disk and rng; pause, stats, resume, stop.
	"${pre[@]}" "$MVM" run --kernel "$GUESTS/hello.elf" --cpus 2 --rng \
		--disk "$TMP/disk.img" >"$TMP/s4.out" 2>"$TMP/s4.err" </dev/null
	st=$?
	scen_expect "mvm run hello" "$st" 0
	if [ -f "$GUESTS/ticker.elf" ]; then
		rm -f "$s"
		"${pre[@]}" "$MVM" run --kernel "$GUESTS/ticker.elf" --api-sock "$s" --name scen5 \
			>"$TMP/s5.out" 2>"$TMP/s5.err" </dev/null &
		pid=$!
		wait_sock "$s"
		sleep 0.3
		api "$s" -X PATCH http://localhost/vm -d '{"state": "Paused"}'
		scen_expect "pause" "$api_code" 204
		api "$s" http://localhost/stats
		api "$s" -X PATCH http://localhost/vm -d '{"state": "Resumed"}'
		scen_expect "resume" "$api_code" 204
		api "$s" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'
		wait "$pid"
	fi
	# 6. The API boots a VM: InstanceStart on the API thread, the guest ends it.
	rm -f "$s"
	"${pre[@]}" "$MVM" --api-sock "$s" --id scen6 >"$TMP/s6.out" 2>"$TMP/s6.err" &
	pid=$!
	wait_sock "$s"
	api "$s" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$GUESTS/hello.elf\"}"
	# A CPU template with an MSR mvm does not set (the APIC base, kept as KVM has it).
	api "$s" -X PUT http://localhost/cpu-config -d '{"msr_modifiers": [{"addr": "0x1b", "bitmap": "0bx"}]}'
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
	wait "$pid"
	st=$?
	scen_expect "API boot" "$st" 0
	[ -f "$GUESTS/ticker.elf" ] || return 0
	# 7. Snapshots: a ticking guest paused, Full then Diff; a fresh VMM loads it and resumes.
	rm -f "$s"
	"${pre[@]}" "$MVM" --api-sock "$s" --id scen7 >"$TMP/s7.out" 2>"$TMP/s7.err" &
	pid=$!
	wait_sock "$s"
	api "$s" -X PUT http://localhost/boot-source -d "{\"kernel_image_path\": \"$GUESTS/ticker.elf\"}"
	api "$s" -X PUT http://localhost/machine-config \
		-d '{"vcpu_count": 1, "mem_size_mib": 64, "track_dirty_pages": true}'
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "InstanceStart"}'
	sleep 0.3
	api "$s" -X PATCH http://localhost/vm -d '{"state": "Paused"}'
	api "$s" -X PUT http://localhost/snapshot/create \
		-d "{\"snapshot_path\": \"$TMP/s7.state\", \"mem_file_path\": \"$TMP/s7.mem\"}"
	scen_expect "snapshot create" "$api_code" 204
	api "$s" -X PUT http://localhost/snapshot/create \
		-d "{\"snapshot_type\": \"Diff\", \"snapshot_path\": \"$TMP/s7d.state\", \"mem_file_path\": \"$TMP/s7.mem\"}"
	scen_expect "snapshot create diff" "$api_code" 204
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'
	wait "$pid"
	rm -f "$s"
	"${pre[@]}" "$MVM" --api-sock "$s" --id scen8 >"$TMP/s8.out" 2>"$TMP/s8.err" &
	pid=$!
	wait_sock "$s"
	api "$s" -X PUT http://localhost/snapshot/load \
		-d "{\"snapshot_path\": \"$TMP/s7.state\", \"mem_backend\": {\"backend_type\": \"File\", \"backend_path\": \"$TMP/s7.mem\"}, \"resume_vm\": true}"
	scen_expect "snapshot load" "$api_code" 204
	sleep 0.3
	api "$s" -X PUT http://localhost/actions -d '{"action_type": "Stop"}'
	wait "$pid"
}
