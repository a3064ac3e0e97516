#!/usr/bin/env bats
# compose.yaml with docker-compose 1.29 (and podman-compose 1.0): the
# control-plane, then workers that join with the shared token; the life cycle
# (restart, kill -9, down/up keep state and token; down -v clears them);
# graceful SIGTERM; a gVisor worker.
# The tests run in order and build on each other within one compose project.

load helpers

setup_file() {
	require_tools docker-compose podman-compose runsc
	ensure_images docker
	export PROJECT=$PREFIX-1
	export CONTROL_PLANE_IMAGE=$CP_IMAGE WORKER_IMAGE
	export KUBECONFIG_DIR="$BATS_FILE_TMPDIR/kubeconfig"
	# Host port of the API: away from 6443 so a user's cluster keeps running.
	export K3S_API_PORT=36443
	mkdir -p "$KUBECONFIG_DIR"
	chown 1000:1000 "$KUBECONFIG_DIR"
}

teardown_file() {
	dc down -v --remove-orphans >/dev/null 2>&1 || true
	remove_docker_objects
	podman_compose_down "$PREFIX-podman" || true
	remove_podman_objects
}

setup() {
	load_libs
}

dc() {
	docker-compose -f "$TOP/compose.yaml" -p "$PROJECT" "$@"
}

cid() { # service [index]
	dc ps -q "$1" | sed -n "${2:-1}p"
}

cp_healthy() {
	docker_healthy "$(cid control-plane)"
}

token() {
	"$DOCKER" exec "$(cid control-plane)" cat /var/lib/k3s-sandbox/token
}

# After the control-plane came back: healthy, the same token, and the
# marker written into its state volume earlier still there.
assert_state_kept() { # token-before
	wait_until 120 cp_healthy
	assert_equal "$(token)" "$1"
	"$DOCKER" exec "$(cid control-plane)" test -e /var/lib/rancher/k3s/test-marker
}

report() { # container
	"$DOCKER" exec "$1" cat /run/k3s-standin/report
}

# Every check line of a stand-in report that did not pass, by name.
failed_checks() { # container
	report "$1" | awk '$1 == "check" && $3 == "fail" {print $2}'
}

@test "docker-compose up control-plane: healthy, token created once (0600), kubeconfig on the host" {
	dc up -d --no-build control-plane
	wait_until 120 cp_healthy || { dc logs control-plane >&2; false; }
	local c
	c=$(cid control-plane)
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}}' "$c")" false
	run token
	assert_output --regexp '^[0-9a-f]{64}$'
	assert_equal "$("$DOCKER" exec "$c" stat -c '%a %u' /var/lib/k3s-sandbox/token)" "600 0"
	run report "$c"
	assert_line 'env K3S_TOKEN_FILE=/var/lib/k3s-sandbox/token'
	assert_line 'result ok'
	wait_until 30 test -e "$KUBECONFIG_DIR/kubeconfig.yaml"
	assert_kubeconfig "$KUBECONFIG_DIR/kubeconfig.yaml" "https://127\\.0\\.0\\.1:$K3S_API_PORT"
	assert_kubeconfig "$KUBECONFIG_DIR/kubeconfig-internal.yaml" 'https://control-plane:6443'
	logs_have docker "$c" "k3s-init: ready: Kubernetes API at https://127.0.0.1:$K3S_API_PORT"
	# The published port reaches the API (the stand-in answers plain HTTP).
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$K3S_API_PORT"
	# A marker in the state volume, for the life-cycle tests below.
	"$DOCKER" exec "$c" touch /var/lib/rancher/k3s/test-marker
}

@test "docker-compose up --scale worker=2: each worker gets K3S_URL and the token and passes every agent check (runc)" {
	dc up -d --no-build --scale worker=2 worker
	local w n
	for n in 1 2; do
		w=$(cid worker "$n")
		[ -n "$w" ] || fail_loudly "worker $n is missing: $(dc ps)"
		wait_until 90 docker_healthy "$w" || { "$DOCKER" logs "$w" >&2; false; }
		run report "$w"
		assert_line 'env K3S_URL=https://control-plane:6443'
		assert_line 'env K3S_TOKEN_FILE=/var/lib/k3s-sandbox/token'
		assert_line 'result ok'
		run failed_checks "$w"
		assert_output ''
		for check in privileges agent-args cgroups host-local kmsg kernel-tunables rootfs; do
			report "$w" | grep -qE "^check $check (ok|warn|skip) " || fail_loudly "worker $n: check $check did not pass"
		done
		assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}}' "$w")" true
	done
	# Both read the same token the control-plane made.
	assert_equal "$("$DOCKER" exec "$w" cat /var/lib/k3s-sandbox/token)" "$(token)"
}

@test "SIGTERM (docker-compose stop) stops every container gracefully within its grace period" {
	local start=$SECONDS ids
	ids=$(dc ps -q)
	dc stop
	local took=$((SECONDS - start))
	echo "docker-compose stop took ${took}s for $(wc -w <<<"$ids") containers"
	[ "$took" -lt 30 ] || fail_loudly "stop took ${took}s (grace period 30s)"
	for c in $ids; do
		assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")" 0
	done
}

@test "restart keeps the cluster state and the token" {
	dc start control-plane
	wait_until 120 cp_healthy
	local before
	before=$(token)
	dc restart control-plane
	assert_state_kept "$before"
	run report "$(cid control-plane)"
	assert_line 'result ok'
}

@test "kill -9 then up keeps the cluster state and the token" {
	local before c
	before=$(token)
	c=$(cid control-plane)
	"$DOCKER" kill -s KILL "$c" >/dev/null
	dc up -d --no-build control-plane
	assert_state_kept "$before"
}

@test "down then up keeps the cluster state and the token" {
	local before ids anonymous
	before=$(token)
	# `down` without -v keeps the named volumes (the state) and also leaves
	# the containers' anonymous ones: removed here, so the run leaves none.
	mapfile -t ids < <(dc ps -a -q)
	mapfile -t anonymous < <(anonymous_volumes "$DOCKER" -- "${ids[@]}")
	dc down
	[ "${#anonymous[@]}" -eq 0 ] || "$DOCKER" volume rm "${anonymous[@]}" >/dev/null
	dc up -d --no-build control-plane
	assert_state_kept "$before"
}

@test "down -v clears the cluster state and the token: a new one is made" {
	local before
	before=$(token)
	dc down -v
	run "$DOCKER" volume ls -q --filter "name=${PROJECT}_"
	assert_output ''
	dc up -d --no-build control-plane
	wait_until 120 cp_healthy
	run token
	assert_output --regexp '^[0-9a-f]{64}$'
	[ "$output" != "$before" ]
	run "$DOCKER" exec "$(cid control-plane)" test -e /var/lib/rancher/k3s/test-marker
	assert_failure
}

@test "gVisor worker (runtime runsc-host) joins over the compose network; every kubelet precondition passes, what fails is named" {
	local override="$BATS_TEST_TMPDIR/gvisor.yaml" w logs failing
	# No restart: read one run's checks, not a restart loop's. Every check
	# runs (K3S_STANDIN_ALL_CHECKS) so that one failure does not hide the rest.
	printf 'services:\n  worker:\n    runtime: runsc-host\n    restart: "no"\n    environment:\n      - K3S_STANDIN_ALL_CHECKS=1\n' >"$override"
	"$DOCKER" info --format '{{json .Runtimes}}' | grep -q '"runsc-host"' ||
		fail_loudly "Docker has no runtime runsc-host (tests/lib/setup-host.sh adds it)"
	# A fresh worker: scaling 2 down to 1 would remove the second one
	# without its anonymous volumes. --no-deps: with a second file
	# docker-compose 1.29 recreates the running control-plane, and that
	# too leaves the old container's anonymous volumes behind.
	dc rm -s -f -v worker >/dev/null
	docker-compose -f "$TOP/compose.yaml" -f "$override" -p "$PROJECT" up -d --no-build --no-deps --scale worker=1 worker
	w=$(cid worker)
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Runtime}}' "$w")" runsc-host
	# Healthy (every check passed) or exited (a check stopped it, as it stops k3s).
	wait_until 60 bash -c "[ \"\$($DOCKER inspect -f '{{.State.Status}} {{.State.Health.Status}}' $w)\" != 'running starting' ]"
	logs=$("$DOCKER" logs "$w" 2>&1)
	grep -q 'k3s-init: role: agent (K3S_INIT_ROLE); gVisor' <<<"$logs"
	# It reached the control-plane's URL with the shared token.
	grep -q '^k3s-standin: check agent-args ok server https://control-plane:6443, token from /var/lib/k3s-sandbox/token' <<<"$logs"
	# Every kubelet precondition the init repairs passes under gVisor.
	for check in privileges cgroups host-local snapshotter cgroup-pids cgroup-v1-gate cgroup-mounts kmsg kernel-tunables rootfs; do
		grep -qE "^k3s-standin: check $check (ok|warn|skip) " <<<"$logs" || {
			grep '^k3s-standin: check ' <<<"$logs" >&2
			fail_loudly "gVisor worker: check $check did not pass"
		}
	done
	failing=$(grep -E '^k3s-standin: check [a-z0-9-]+ fail ' <<<"$logs" | cut -d' ' -f3 | sort -u | tr '\n' ' ') || true
	echo "# gVisor worker: failing checks: ${failing:-none (all passed)}" >&3
	if [ -n "$failing" ]; then
		# Known and named: gVisor has no nf_tables, and its hostinet mode has
		# no iptables at all (legacy needs gVisor's own netstack).
		assert_equal "$failing" "iptables "
	else
		assert_equal "$(docker_health "$w")" healthy
	fi
	dc rm -s -f -v worker >/dev/null
}

@test "gVisor worker (current runsc, netstack, --net-raw) joins over the compose network; every check passes, doctor names what pods would lack" {
	local override="$BATS_TEST_TMPDIR/gvisor-current.yaml" w logs cp_ip
	# netstack cannot reach Docker's embedded DNS (127.0.0.11 is answered by
	# a socket in the container's network namespace on the host, which the
	# sandbox's own loopback is not): the control-plane's address comes in
	# as a host entry, as a cloud IDE's DNS would give it.
	cp_ip=$("$DOCKER" inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$(cid control-plane)")
	[ -n "$cp_ip" ] || fail_loudly "no address for the control-plane"
	printf 'services:\n  worker:\n    runtime: runsc-current-netraw\n    restart: "no"\n    extra_hosts:\n      - "control-plane:%s"\n    environment:\n      - K3S_STANDIN_ALL_CHECKS=1\n' "$cp_ip" >"$override"
	"$DOCKER" info --format '{{json .Runtimes}}' | grep -q '"runsc-current-netraw"' ||
		fail_loudly "Docker has no runtime runsc-current-netraw (tests/lib/setup-host.sh adds it)"
	dc rm -s -f -v worker >/dev/null
	docker-compose -f "$TOP/compose.yaml" -f "$override" -p "$PROJECT" up -d --no-build --no-deps --scale worker=1 worker
	w=$(cid worker)
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Runtime}}' "$w")" runsc-current-netraw
	wait_until 90 bash -c "[ \"\$($DOCKER inspect -f '{{.State.Status}} {{.State.Health.Status}}' $w)\" != 'running starting' ]"
	logs=$("$DOCKER" logs "$w" 2>&1)
	grep -q 'k3s-init: role: agent (K3S_INIT_ROLE); gVisor' <<<"$logs" || { echo "$logs" >&2; fail_loudly "gVisor not recognised"; }
	# overcommit_memory opens for writing but every write fails (EIO): the
	# probe must have seen it, or kubelet's write fails as the stand-in's does.
	grep -q '^k3s-standin: check kernel-tunables ok' <<<"$logs" || { echo "$logs" >&2; fail_loudly "kernel tunables"; }
	if grep -E '^k3s-standin: check [a-z0-9-]+ fail ' <<<"$logs" >&2; then
		fail_loudly "a check failed under the current gVisor"
	fi
	assert_equal "$(docker_health "$w")" healthy
	# The start asked for hairpin mode in the worker's own network namespace
	# (netstack refuses it before looking up the link, so no trial bridge is
	# made), and no trial link is left.
	grep -q '^k3s-init: pod-network: adding --flannel-cni-conf=.*bridge ports refuse hairpin mode: Operation not supported)$' <<<"$logs" ||
		{ echo "$logs" >&2; fail_loudly "no hairpin trial at the start"; }
	run "$DOCKER" exec "$w" cat /proc/net/dev
	assert_success
	assert_line --regexp '^ *eth0:'
	refute_line --regexp 'k3s[bp][0-9]'
	# What no repair gives the agent there, asked by doctor (one line each).
	run "$DOCKER" run --rm --runtime runsc-current-netraw --privileged "$WORKER_IMAGE" doctor agent
	assert_success
	assert_line --regexp '^probe: gvisor: yes \(uname [0-9.]+-gvisor'
	assert_line --regexp '^limit: no vxlan devices \(RTM_NEWLINK: Operation not supported\)'
	assert_line --regexp '^limit: iptables lacks the matches comment conntrack statistic addrtype set and the targets MASQUERADE MARK: the iptables-extensions step takes the comments out'
	# The pod network steps of the CNI plugins, as real kubelet and
	# containerd meet them there (tests/images/real-parts.bats).
	assert_line "probe: pod network (a bridge with a veth port, same namespace): hairpin mode no Operation not supported, route with a preferred source no Operation not supported"
	assert_line --regexp '^limit: bridge ports take no hairpin mode \(RTM_SETLINK IFLA_BRPORT_MODE: Operation not supported\): the bridge CNI plugin'
	assert_line --regexp '^limit: routes with a preferred source are refused \(RTM_NEWROUTE RTA_PREFSRC: Operation not supported\): the ptp CNI plugin'
	# Its data dir is a volume, 9p there: real kubelet logs failed image GC
	# and eviction syncs every 10 s.
	assert_line --regexp "^limit: containerd.s root /var/lib/rancher/k3s[a-z/]* is on 9p, unknown to cAdvisor: "
	refute_line --regexp '^limit: no (bridge|veth|raw)'
	dc rm -s -f -v worker >/dev/null
}

@test "podman-compose up control-plane: healthy, kubeconfig on the host" {
	ensure_images podman
	local out="$BATS_TEST_TMPDIR/podman-kubeconfig" c
	make_output_dir "$out"
	KUBECONFIG_DIR=$out K3S_API_PORT=36444 podman-compose -f "$TOP/compose.yaml" -p "$PREFIX-podman" up -d control-plane
	c=$PREFIX-podman_control-plane_1
	wait_until 120 podman_healthy "$c" || { "${PODMAN[@]}" logs "$c" >&2; false; }
	wait_until 30 test -e "$out/kubeconfig.yaml"
	assert_kubeconfig "$out/kubeconfig.yaml" 'https://127\.0\.0\.1:36444'
	logs_have podman "$c" "k3s-init: ready: Kubernetes API at https://127.0.0.1:36444"
	run "${PODMAN[@]}" exec "$c" cat /var/lib/k3s-sandbox/token
	assert_output --regexp '^[0-9a-f]{64}$'
	podman_compose_down "$PREFIX-podman"
}
