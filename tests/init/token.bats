#!/usr/bin/env bats
# The shared cluster token (init/cluster_token.c): a server makes it once in
# the shared directory, agents wait for it, both export K3S_TOKEN_FILE; a file
# that is not a usable token is refused (exit 71) or, when empty, replaced by a
# server; an agent's own K3S_TOKEN must match the shared one (exit 71). Each case runs in fresh namespaces with the directory on /run's tmpfs.

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools unshare gcc mknod stat
	build_checker
}

# The token step only: the other repairs are not what these tests are about.
TOKEN_ENV="K3S_INIT_TOKEN_DIR=/run/tok K3S_INIT_KMSG=off K3S_INIT_CGROUPS=off K3S_INIT_SYSCTL=off K3S_INIT_PROPAGATION=off K3S_INIT_SNAPSHOTTER=off"
SHOW='sh -c "echo TOKEN_FILE=\${K3S_TOKEN_FILE:-unset}"'

@test "server: a private random token is made once and reused; an agent uses it" {
	NS_ENV="$TOKEN_ENV" run ns_run "mkdir /run/tok;
		K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW; first=\$(cat /run/tok/token);
		stat -c 'mode=%a type=%F' /run/tok/token; ls -A /run/tok;
		K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW; test \"\$(cat /run/tok/token)\" = \"\$first\" && echo same;
		K3S_INIT_ROLE=agent \$K3S_INIT $SHOW; echo \"\$first\""
	assert_success
	assert_line "k3s-init: cluster token: created /run/tok/token (0600)"
	assert_line "k3s-init: cluster token: reusing /run/tok/token"
	assert_line "k3s-init: cluster token: using /run/tok/token"
	assert_line "mode=600 type=regular file"
	# No temporary file is left beside it.
	assert_line "token"
	refute_line --regexp '^\.token'
	assert_line "same"
	assert_line --regexp '^[0-9a-f]{64}$'
	[ "$(grep -c '^TOKEN_FILE=/run/tok/token$' <<<"$output")" -eq 3 ]
}

@test "server: an empty token file is replaced by a new token, and says so" {
	NS_ENV="$TOKEN_ENV" run ns_run "mkdir /run/tok; : >/run/tok/token; chmod 600 /run/tok/token;
		K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW; cat /run/tok/token; stat -c 'mode=%a' /run/tok/token"
	assert_success
	assert_line "k3s-init: cluster token: replaced the empty /run/tok/token (0600)"
	refute_line --partial "reusing"
	assert_line --regexp '^[0-9a-f]{64}$'
	assert_line "mode=600"
	assert_line "TOKEN_FILE=/run/tok/token"
}

@test "an unusable token file is refused by server and agent: exit 71, named, left as it was" {
	local setup
	for setup in "printf 'K10abc\n' >/run/tok/token; chmod 644 /run/tok/token" \
		"ln -s /run/nowhere /run/tok/token" \
		"printf 'K10abc\n' >/run/real; chmod 600 /run/real; ln -s /run/real /run/tok/token" \
		"mkdir /run/tok/token" \
		"printf 'K10a\001bc\n' >/run/tok/token; chmod 600 /run/tok/token"; do
		for role in control-plane agent; do
			NS_ENV="$TOKEN_ENV K3S_INIT_TOKEN_WAIT=2" run ns_run "mkdir /run/tok; $setup;
				before=\$(ls -l --time-style=+ /run/tok | sha256sum);
				K3S_INIT_ROLE=$role \$K3S_INIT $SHOW || echo rc=\$?;
				test \"\$(ls -l --time-style=+ /run/tok | sha256sum)\" = \"\$before\" && echo unchanged"
			assert_success
			assert_line "rc=71"
			assert_line --regexp "^k3s-init: error: cluster token /run/tok/token (has mode 0644|is a symbolic link \((dangling|not followed)\)|is not a regular file|holds a character that no token has).*; refusing it"
			assert_line "unchanged"
			refute_line --regexp '^TOKEN_FILE='
			refute_line --partial "reusing"
		done
	done
}

@test "agent: waits for the token that a server publishes later" {
	NS_ENV="$TOKEN_ENV K3S_INIT_TOKEN_WAIT=20" run ns_run "mkdir /run/tok;
		(sleep 1; K3S_INIT_ROLE=control-plane K3S_INIT_LOG=quiet \$K3S_INIT true) &
		K3S_INIT_ROLE=agent \$K3S_INIT $SHOW; wait"
	assert_success
	assert_line "k3s-init: cluster token: waiting up to 20 s for /run/tok/token"
	assert_line "k3s-init: cluster token: using /run/tok/token"
	assert_line "TOKEN_FILE=/run/tok/token"
}

@test "agent: no token, or an empty one, after K3S_INIT_TOKEN_WAIT: exit 71 saying which" {
	NS_ENV="$TOKEN_ENV K3S_INIT_TOKEN_WAIT=1" run ns_run "mkdir /run/tok;
		K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		: >/run/tok/token; chmod 600 /run/tok/token; K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?"
	assert_success
	assert_line --regexp "^k3s-init: error: no usable cluster token at /run/tok/token after 1 s .*the file does not exist"
	assert_line --regexp "^k3s-init: error: no usable cluster token at /run/tok/token after 1 s .*the file is empty"
	[ "$(grep -c '^rc=71$' <<<"$output")" -eq 2 ]
	refute_line --regexp '^TOKEN_FILE='
}

@test "K3S_TOKEN or K3S_TOKEN_FILE set, or no shared directory: nothing is made" {
	NS_ENV="$TOKEN_ENV" run ns_run "mkdir /run/tok; K3S_TOKEN=x K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW;
		K3S_TOKEN_FILE=/run/t K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW; ls -A /run/tok | wc -l;
		rmdir /run/tok; K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW"
	assert_success
	assert_line "k3s-init: cluster_token: ok: K3S_TOKEN or K3S_TOKEN_FILE is set"
	assert_line "TOKEN_FILE=/run/t"
	assert_line "0"
	assert_line "k3s-init: cluster_token: ok: no shared token directory /run/tok"
	assert_line "TOKEN_FILE=unset"
}

@test "agent: its own K3S_TOKEN is compared with the shared token; a mismatch is exit 71, naming the file" {
	local shared=0123456789abcdef0123456789abcdef
	local ca=K10aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
	NS_ENV="$TOKEN_ENV" run ns_run "mkdir /run/tok; printf '%s\\n' $shared >/run/tok/token; chmod 600 /run/tok/token;
		K3S_TOKEN=$shared K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=${ca}::server:$shared K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=wrong K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo mismatch rc=\$?;
		K3S_TOKEN=${ca}::server:wrong K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo secure mismatch rc=\$?;
		K3S_TOKEN=${ca}::node:other K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=abcdef.0123456789abcdef K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=wrong K3S_INIT_CLUSTER_TOKEN=off K3S_INIT_ROLE=agent \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=wrong K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW || echo rc=\$?;
		K3S_TOKEN=wrong \$K3S_INIT doctor agent | grep '^plan: cluster_token:';
		K3S_TOKEN=$shared \$K3S_INIT doctor agent | grep '^plan: cluster_token:';
		cat /run/tok/token"
	assert_success
	[ "$(grep -c '^k3s-init: cluster token: K3S_TOKEN matches the shared /run/tok/token$' <<<"$output")" -eq 2 ]
	[ "$(grep -c '^k3s-init: error: cluster token: K3S_TOKEN is not the token the control-plane shares in /run/tok/token, so the server would refuse this agent' <<<"$output")" -eq 2 ]
	assert_line "mismatch rc=71"
	assert_line "secure mismatch rc=71"
	# An agent token and a bootstrap token are not the server's: not compared.
	[ "$(grep -c 'K3S_TOKEN is not a server token (an agent or bootstrap token); not compared' <<<"$output")" -eq 2 ]
	# Forced off, and on a server, K3S_TOKEN is k3s's business.
	[ "$(grep -c '^rc=' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^TOKEN_FILE=unset$' <<<"$output")" -eq 6 ]
	# doctor says so before a start.
	assert_line "plan: cluster_token: repair: K3S_TOKEN is set beside the shared /run/tok/token: they differ, and the server would refuse this agent"
	assert_line "plan: cluster_token: repair: K3S_TOKEN is set beside the shared /run/tok/token: they match"
	# The shared token is never changed, nor printed by the check.
	[ "$(grep -c "^$shared\$" <<<"$output")" -eq 1 ]
}

@test "bad K3S_INIT_TOKEN_DIR or K3S_INIT_TOKEN_WAIT: 64 naming it, nothing made" {
	local bad
	for bad in "K3S_INIT_TOKEN_DIR=relative" "K3S_INIT_TOKEN_WAIT=soon" "K3S_INIT_TOKEN_WAIT=-1" "K3S_INIT_TOKEN_WAIT=86401"; do
		NS_ENV="$bad" run -64 ns_run "mkdir -p /run/tok; K3S_INIT_ROLE=control-plane \$K3S_INIT $SHOW; ls -A /run/tok"
		assert_output --partial "${bad%%=*}="
		refute_line --regexp '^TOKEN_FILE='
	done
}
