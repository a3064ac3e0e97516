#!/usr/bin/env bats
# The control-plane image under the current gVisor (Docker runtime
# runsc-current: the runsc tests/lib/build-tools.sh builds) with gVisor's own
# network stack, netstack, on a user network: the way a cloud IDE runs it.
# Debian's runsc refuses netstack on this kernel, so its tests use
# --network=none or host; this one reaches the API from another container.
# With --net-raw, netstack's iptables: the worker image's init loads
# kube-proxy's rules through its iptables front (init/iptables_front.c).

load helpers

setup_file() {
	ensure_images docker
	local runtimes
	runtimes=$("$DOCKER" info --format '{{json .Runtimes}}')
	grep -q '"runsc-current"' <<<"$runtimes" && grep -q '"runsc-current-netraw"' <<<"$runtimes" ||
		fail_loudly "Docker has no runtime runsc-current or runsc-current-netraw (tests/lib/setup-host.sh adds them)"
}

setup() {
	load_libs
	out="$BATS_TEST_TMPDIR/kubeconfig"
	make_output_dir "$out"
	net=$PREFIX-gvisor-net
	"$DOCKER" network create "$net" >/dev/null
}

teardown() {
	remove_docker_objects
}

# GET /readyz from another container (runc) on the network, by the
# control-plane's name; prints the status line. The stand-in answers plain
# HTTP on the API port.
readyz_from_peer() { # host
	"$DOCKER" run --rm --name "$PREFIX-gvisor-peer" --network "$net" k3s-sandbox-test/debian:bookworm \
		bash -c 'exec 3<>"/dev/tcp/$1/6443" && printf "GET /readyz HTTP/1.0\r\n\r\n" >&3 && head -n 1 <&3' _ "$1"
}

@test "runsc-current (netstack) on a user network: control-plane healthy, its API answers another container by name, SIGTERM stops it" {
	local c=$PREFIX-cp-gvisor-netstack
	"$DOCKER" run -d --name "$c" --runtime runsc-current --network "$net" --network-alias control-plane \
		--tmpfs /run --tmpfs /var/run -v "$out:/output" -e K3S_INIT_KUBECONFIG_DIR=/output "$CP_IMAGE" >/dev/null
	wait_until 120 docker_healthy "$c" || { "$DOCKER" logs "$c" >&2; false; }
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}} {{.HostConfig.Runtime}}' "$c")" "false runsc-current"
	# Really inside the current gVisor, with a network interface of its own.
	run "$DOCKER" exec "$c" cat /proc/sys/kernel/osrelease /proc/net/dev
	assert_success
	assert_line --partial gvisor
	assert_line --regexp '^ *eth0:'
	wait_until 30 test -e "$out/kubeconfig.yaml"
	assert_kubeconfig "$out/kubeconfig.yaml" 'https://127\.0\.0\.1:6443'
	assert_kubeconfig "$out/kubeconfig-internal.yaml" 'https://control-plane:6443'
	logs_have docker "$c" "k3s-init: ready: Kubernetes API at https://127.0.0.1:6443" || { "$DOCKER" logs "$c" >&2; false; }
	# kubeconfig-internal.yaml's server, from a peer on the same network.
	run readyz_from_peer control-plane
	assert_success
	assert_output --partial "HTTP/1.1 200"
	local start=$SECONDS
	"$DOCKER" stop -t 30 "$c" >/dev/null
	[ $((SECONDS - start)) -lt 10 ] || fail_loudly "docker stop took $((SECONDS - start))s of a 30s grace period"
	assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")" 0
}

@test "runsc-current-netraw: the control-plane comes up the same way; netstack's legacy iptables loads rules only with --net-raw" {
	local c=$PREFIX-cp-gvisor-netraw
	"$DOCKER" run -d --name "$c" --runtime runsc-current-netraw --network "$net" --network-alias control-plane \
		--tmpfs /run --tmpfs /var/run -v "$out:/output" -e K3S_INIT_KUBECONFIG_DIR=/output "$CP_IMAGE" >/dev/null
	wait_until 120 docker_healthy "$c" || { "$DOCKER" logs "$c" >&2; false; }
	run readyz_from_peer control-plane
	assert_success
	assert_output --partial "HTTP/1.1 200"
	# What a worker's kube-proxy and flannel need first: a filter and a nat rule.
	local rules='iptables-legacy -t filter -A INPUT -p tcp --dport 9 -j DROP &&
		iptables-legacy -t nat -A POSTROUTING -p tcp -s 10.42.0.0/16 -j SNAT --to-source 10.0.0.1 && echo loaded'
	run "$DOCKER" run --rm --name "$PREFIX-gvisor-iptables" --runtime runsc-current-netraw --privileged \
		--network "$net" --entrypoint /bin/sh "$WORKER_IMAGE" -c "$rules"
	assert_success
	assert_line loaded
	run "$DOCKER" run --rm --name "$PREFIX-gvisor-iptables" --runtime runsc-current --privileged \
		--network "$net" --entrypoint /bin/sh "$WORKER_IMAGE" -c "$rules"
	assert_failure
	assert_output --partial "can't initialize iptables table \`filter': Table does not exist"
}

# kube_proxy_rules [docker run options...]: kube-proxy's own rules
# (tests/fixtures/kube-proxy/rules.txt) loaded with iptables-restore under
# the worker image's init as an agent, then read back.
kube_proxy_rules() {
	"$DOCKER" run --rm -i --name "$PREFIX-gvisor-iptables" --runtime runsc-current-netraw --privileged \
		--network "$net" -e K3S_INIT_ROLE=agent "$@" "$WORKER_IMAGE" \
		sh -c 'iptables-restore -w 5 -W 100000 --noflush --counters && echo restored &&
			iptables-save -t nat && iptables-save -t filter' <"$TOP/tests/fixtures/kube-proxy/rules.txt"
}

@test "runsc-current-netraw: kube-proxy's rules load through the init's iptables front, comments out, rules needing missing extensions left out" {
	run kube_proxy_rules
	assert_success
	assert_line "k3s-init: iptables-extensions: k3s-init in front of iptables, ip6tables and their -restore (/run/k3s-init/iptables-front): the kernel has no comment match, so comments are taken out; rules needing conntrack statistic addrtype MARK MASQUERADE are left out"
	assert_line restored
	# Each Service and endpoint, as kube-proxy wrote it but for the comment.
	assert_line "-A PREROUTING -j KUBE-SERVICES"
	assert_line "-A OUTPUT -j KUBE-SERVICES"
	assert_line "-A KUBE-SERVICES -d 10.43.174.119/32 -p tcp -m tcp --dport 80 -j KUBE-SVC-LOLE4ISW44XBNF3G"
	assert_line "-A KUBE-SERVICES -d 10.43.0.1/32 -p tcp -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y"
	assert_line "-A KUBE-SEP-ZR4FS6G6LQUY5AXS -p tcp -m tcp -j DNAT --to-destination 10.42.0.9:8080"
	assert_line "-A KUBE-SEP-V2PECCYPB6X2GSCW -p tcp -m tcp -j DNAT --to-destination 172.18.0.2:6443"
	# The last endpoint of a Service takes every connection: the statistic
	# rule before it is left out, as are conntrack, MARK and MASQUERADE.
	assert_line "-A KUBE-SVC-LOLE4ISW44XBNF3G -j KUBE-SEP-ZR4FS6G6LQUY5AXS"
	refute_output --partial "-j KUBE-SEP-3K33KCYED4RGV7HZ"
	refute_line --regexp "^-A .*(comment|conntrack|statistic|addrtype|MASQUERADE|-j MARK)"
	# Without the front the same input loads nothing.
	run kube_proxy_rules -e K3S_INIT_IPTABLES_EXTENSIONS=off
	assert_failure
	assert_output --partial "Extension comment revision 0 not supported"
	refute_line restored
}

@test "runsc-current-netraw: a rule given as arguments is trimmed the same way; one that cannot exist is answered 0 and not loaded" {
	run "$DOCKER" run --rm --name "$PREFIX-gvisor-iptables" --runtime runsc-current-netraw --privileged \
		--network "$net" -e K3S_INIT_ROLE=agent "$WORKER_IMAGE" sh -c '
		iptables -w 5 -t filter -N KUBE-SERVICES &&
		iptables -w 5 -t filter -C FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES &&
		iptables -w 5 -t filter -I FORWARD -m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES &&
		echo checked-and-inserted &&
		iptables -w 5 -t nat -N KUBE-SERVICES &&
		iptables -w 5 -t nat -A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES &&
		iptables -w 5 -t nat -C OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES &&
		iptables -w 5 -t nat -A KUBE-SERVICES -m comment --comment "default/web cluster IP" -d 10.43.0.9/32 -p tcp -j DNAT --to-destination 10.42.0.9:80 &&
		echo appended-and-checked && iptables -t filter -S FORWARD && iptables -t nat -S'
	assert_success
	assert_line checked-and-inserted
	assert_line appended-and-checked
	assert_line "-A OUTPUT -j KUBE-SERVICES"
	assert_line "-A KUBE-SERVICES -d 10.43.0.9/32 -p tcp -j DNAT --to-destination 10.42.0.9:80"
	refute_output --partial "-A FORWARD"
	refute_line --regexp "^-A .*comment"
	# A rule the kernel has everything for is not changed: the real
	# iptables still refuses what is wrong with it.
	run "$DOCKER" run --rm --name "$PREFIX-gvisor-iptables" --runtime runsc-current-netraw --privileged \
		--network "$net" -e K3S_INIT_ROLE=agent "$WORKER_IMAGE" iptables -t nat -A OUTPUT -j NO-SUCH-CHAIN
	assert_failure
	assert_output --partial "NO-SUCH-CHAIN"
}
