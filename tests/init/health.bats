#!/usr/bin/env bats
# `k3s-init health URL` (init/health.c), the worker image's HEALTHCHECK of the
# kubelet's healthz: exit 0 on a 2xx answer, 1 on anything else (another
# status, no HTTP, no answer within its 3 s, nothing listening), 64 on a URL
# it does not take. The peer is a small HTTP server (fixtures/http-status.py).

load helpers

setup_file() {
	require_k3s_init
	require_tools /usr/bin/python3 timeout
	export HEALTH_PORT=$((20000 + $$ % 20000))
	/usr/bin/python3 "$FIXTURES/http-status.py" "$HEALTH_PORT" "$BATS_FILE_TMPDIR/ready" 3>&- &
	echo $! >"$BATS_FILE_TMPDIR/server.pid"
	local _
	for _ in $(seq 100); do
		[ -s "$BATS_FILE_TMPDIR/ready" ] && return 0
		sleep 0.1
	done
	echo "health.bats: the HTTP peer did not start" >&2
	return 1
}

teardown_file() {
	kill "$(cat "$BATS_FILE_TMPDIR/server.pid")" 2>/dev/null || true
}

@test "2xx: exit 0, silent" {
	local code
	for code in 200 204 299; do
		run --separate-stderr "$K3S_INIT" health "http://127.0.0.1:$HEALTH_PORT/status/$code"
		assert_success
		assert_equal "$stderr" ""
	done
}

@test "any other status: exit 1, naming the URL and the status" {
	local code
	for code in 199 301 404 500 503; do
		run --separate-stderr "$K3S_INIT" health "http://127.0.0.1:$HEALTH_PORT/status/$code"
		assert_failure 1
		assert_equal "$stderr" "k3s-init: error: health: http://127.0.0.1:$HEALTH_PORT/status/$code answered $code"
	done
}

@test "no HTTP, no answer in time, nothing listening: exit 1, bounded" {
	run --separate-stderr "$K3S_INIT" health "http://127.0.0.1:$HEALTH_PORT/garbage"
	assert_failure 1
	[[ "$stderr" == *"answered nothing usable"* ]] || fail "stderr: $stderr"
	# The exchange is bounded (3 s); timeout only guards the test.
	run --separate-stderr timeout 10 "$K3S_INIT" health "http://127.0.0.1:$HEALTH_PORT/hang"
	assert_failure 1
	run --separate-stderr "$K3S_INIT" health "http://127.0.0.1:1/healthz"
	assert_failure 1
	[[ "$stderr" == *"cannot connect to 127.0.0.1:1"* ]] || fail "stderr: $stderr"
}

@test "localhost and the default port and path are understood" {
	run "$K3S_INIT" health "http://localhost:$HEALTH_PORT/status/200"
	assert_success
	run --separate-stderr "$K3S_INIT" health "http://127.0.0.1:$HEALTH_PORT"
	assert_failure 1
	[[ "$stderr" == *"answered 404"* ]] || fail "stderr: $stderr"
}

@test "an IPv6 literal in brackets works" {
	# The peer listens on IPv4 only: the v6 loopback has nothing there.
	run --separate-stderr "$K3S_INIT" health "http://[::1]:1/healthz"
	assert_failure 1
	[[ "$stderr" == *"cannot connect to [::1]:1"* ]] || fail "stderr: $stderr"
}

@test "a URL it does not take: 64 with the usage (names are not looked up: numeric or localhost only)" {
	local url
	for url in "https://127.0.0.1/healthz" "127.0.0.1:10248" "http://" "http://:80/x" "http://h:port/x" "http://h/a b" \
		"http://example.com/healthz" "http://127.0.0.1:0/x" "http://127.0.0.1:70000/x" "http://[::1/x" "http://::1/x"; do
		run --separate-stderr "$K3S_INIT" health "$url"
		assert_failure 64
		[[ "$stderr" == *"usage: k3s-init health http://HOST[:PORT][/PATH]"* ]] || fail "$url: $stderr"
	done
	run -64 "$K3S_INIT" health
	run -64 "$K3S_INIT" health http://127.0.0.1/ extra
}
