#!/usr/bin/env bats
# The kubeconfig export (init/kubeconfig_export.c): once k3s server's API is
# ready, the watcher writes kubeconfig.yaml and kubeconfig-internal.yaml into
# K3S_INIT_KUBECONFIG_DIR and prints the ready line. k3s here is the stand-in
# (tests/fixtures/k3s-standin), whose API port opens at once but whose
# /readyz fails for K3S_STANDIN_API_DELAY_MS, as real k3s's does.

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools unshare gcc mknod musl-gcc make stat
	build_checker
	export STANDIN_DIR="$BATS_FILE_TMPDIR/standin"
	make -s -C "$TOP/tests/fixtures/k3s-standin" OUT="$STANDIN_DIR/k3s" >&2
}

# Every step but the token, host-local and the export off; the stand-in first
# on PATH as k3s; its kubeconfig, data dir and API port private to the test.
EXPORT_ENV="K3S_INIT_KMSG=off K3S_INIT_CGROUPS=off K3S_INIT_SYSCTL=off K3S_INIT_PROPAGATION=off K3S_INIT_SNAPSHOTTER=off K3S_KUBECONFIG_OUTPUT=/run/k3s.yaml K3S_INIT_KUBECONFIG_DIR=/run/out K3S_INIT_KUBECONFIG_SERVER=https://127.0.0.1:16443"
SERVER="server --disable-agent --data-dir /run/k3s --https-listen-port 16443"

# How many processes in this PID namespace run the init's binary.
COUNT_INITS='inits() { local n=0 p; for p in /proc/[0-9]*; do [ "$(readlink "$p/exe" 2>/dev/null)" = "$(readlink -f "$K3S_INIT")" ] && n=$((n + 1)); done; echo "inits=$n"; }'

# wait_file FILE [TENTHS]: poll up to TENTHS/10 s (default 300) for FILE.
WAIT_FILE='wait_file() { for _ in $(seq "${2:-300}"); do [ -s "$1" ] && return 0; sleep 0.1; done; echo "no $1" >&2; return 1; }'

@test "the ready line means ready: kubectl with the exported kubeconfig works on the first try (3 fresh starts)" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR K3S_STANDIN_API_DELAY_MS=2500" run ns_run "$WAIT_FILE; export PATH=\$STANDIN_DIR:\$PATH;
		for i in 1 2 3; do
			rm -rf /run/out /run/k3s /run/k3s.yaml; mkdir /run/out
			\$K3S_INIT $SERVER >/run/log 2>&1 &
			wait_file /run/out/kubeconfig.yaml
			k3s kubectl --kubeconfig /run/out/kubeconfig.yaml get --raw=/readyz && echo first-try-ok
			kill %1; wait %1 || true
			grep -c 'k3s-init: ready: Kubernetes API at https://127.0.0.1:16443' /run/log
		done"
	assert_success
	[ "$(grep -c '^first-try-ok$' <<<"$output")" -eq 3 ] || fail "kubectl failed after a ready line: $output"
	[ "$(grep -cx 1 <<<"$output")" -eq 3 ]
}

@test "both files: mode 0600, owned by the directory's owner, server URLs rewritten" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR K3S_STANDIN_API_DELAY_MS=200 K3S_INIT_KUBECONFIG_INTERNAL_SERVER=https://cp.example:6443" \
		run ns_run "$WAIT_FILE; export PATH=\$STANDIN_DIR:\$PATH; mkdir /run/out; chown 4321:4322 /run/out
		\$K3S_INIT $SERVER >/run/log 2>&1 &
		wait_file /run/out/kubeconfig-internal.yaml; wait_file /run/out/kubeconfig.yaml; sleep 0.2
		stat -c '%n %a %u:%g' /run/out/kubeconfig.yaml /run/out/kubeconfig-internal.yaml
		grep -h 'server:' /run/out/kubeconfig.yaml /run/out/kubeconfig-internal.yaml; ls -A /run/out | wc -l
		kill %1; wait %1 || true"
	assert_success
	assert_line "/run/out/kubeconfig.yaml 600 4321:4322"
	assert_line "/run/out/kubeconfig-internal.yaml 600 4321:4322"
	assert_line "    server: https://127.0.0.1:16443"
	assert_line "    server: https://cp.example:6443"
	assert_line "2"
}

@test "k3s bound to another address: the watcher asks the kubeconfig's server, not 127.0.0.1" {
	NS_NET=1 NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR K3S_STANDIN_API_DELAY_MS=200 K3S_INIT_KUBECONFIG_WAIT=20" \
		run ns_run "$WAIT_FILE; export PATH=\$STANDIN_DIR:\$PATH; mkdir /run/out; ip link set lo up
		ip addr add 10.77.0.1/32 dev lo
		\$K3S_INIT $SERVER --bind-address 10.77.0.1 >/run/log 2>&1 &
		wait_file /run/out/kubeconfig.yaml 150 && echo exported || cat /run/log; kill %1; wait %1 || true"
	assert_success
	assert_line "exported"
}

@test "no watcher and no ready line for a program other than k3s server" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR" run ns_run "$COUNT_INITS; mkdir /run/out; \$K3S_INIT true; \$K3S_INIT \$CHECKER agent;
		K3S_INIT_LOG=quiet \$K3S_INIT no-such-program || echo rc=\$?; sleep 0.5
		inits; ls -A /run/out | wc -l"
	assert_success
	assert_line "k3s-init: export_kubeconfig: ok: the target is not k3s server"
	refute_line --partial "will write"
	refute_line --partial "ready:"
	assert_line "rc=127"
	assert_line "inits=0"
	assert_line "0"
}

@test "k3s server that cannot be run: exit 127 and the watcher is gone too" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR" run ns_run "$COUNT_INITS; mkdir /run/out
		PATH=/usr/bin:/bin \$K3S_INIT $SERVER || echo rc=\$?; inits"
	assert_success
	assert_line --partial "kubeconfig: will write /run/out/kubeconfig.yaml"
	assert_line "rc=127"
	assert_line "inits=0"
}

@test "the directory is opened once: a path swapped for a symlink later does not redirect the files" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR K3S_STANDIN_API_DELAY_MS=2000" run ns_run "$WAIT_FILE; export PATH=\$STANDIN_DIR:\$PATH
		mkdir /run/out /run/elsewhere
		\$K3S_INIT $SERVER >/run/log 2>&1 &
		wait_file /run/k3s.yaml; mv /run/out /run/out-first; ln -s /run/elsewhere /run/out
		wait_file /run/out-first/kubeconfig.yaml; ls -A /run/elsewhere | wc -l; kill %1; wait %1 || true" 
	assert_success
	refute_line --partial "no /run/out-first/kubeconfig.yaml"
	assert_line "0"
}

@test "K3S_INIT_KUBECONFIG_DIR that is a symlink, missing or a file; bad URLs or wait: 64" {
	local bad
	for bad in "K3S_INIT_KUBECONFIG_DIR=/run/link" "K3S_INIT_KUBECONFIG_DIR=/run/missing" \
		"K3S_INIT_KUBECONFIG_DIR=/run/file" "K3S_INIT_KUBECONFIG_DIR=relative" \
		"K3S_INIT_KUBECONFIG_SERVER=http://x" "K3S_INIT_KUBECONFIG_INTERNAL_SERVER=https://a'b" \
		"K3S_INIT_KUBECONFIG_WAIT=0" "K3S_INIT_KUBECONFIG_WAIT=x"; do
		NS_ENV="$bad" run -64 ns_run "mkdir /run/real; ln -s /run/real /run/link; : >/run/file; \$K3S_INIT \$CHECKER"
		assert_output --partial "${bad%%=*}="
		refute_line --regexp '^check '
	done
}

@test "an API that never becomes ready: the watcher gives up after K3S_INIT_KUBECONFIG_WAIT, saying so" {
	NS_ENV="$EXPORT_ENV STANDIN_DIR=$STANDIN_DIR K3S_STANDIN_API_DELAY_MS=600000 K3S_INIT_KUBECONFIG_WAIT=2" run ns_run "
		export PATH=\$STANDIN_DIR:\$PATH; mkdir /run/out
		\$K3S_INIT $SERVER >/run/log 2>&1 &
		for _ in \$(seq 100); do grep -q 'did not become ready' /run/log && break; sleep 0.1; done
		kill %1; wait %1 || true; cat /run/log; ls -A /run/out | wc -l"
	assert_success
	assert_line --regexp "^k3s-init: error: kubeconfig: /run/k3s.yaml did not appear or the API did not become ready .* within 2 s"
	assert_line "0"
	refute_line --partial "ready: Kubernetes API"
}
