#!/usr/bin/env bats
# Command line, K3S_INIT_* validation and exit statuses. Bad input: exit 64, a
# message naming the culprit, and nothing changed (checked in a namespace where
# /dev/kmsg is missing: it is still missing afterwards).

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools unshare gcc mknod
	build_checker
}

@test "--version and --help" {
	run "$K3S_INIT" --version
	assert_success
	assert_output --regexp '^k3s-init [0-9]'
	run "$K3S_INIT" --help
	assert_success
	assert_output --partial "k3s-init doctor"
	assert_output --partial "HOST_LOCAL"
	run "$K3S_INIT" --help extra
	assert_equal "$status" 64
}

@test "every K3S_INIT_<REPAIR> rejects a bad value with 64, naming it, changing nothing" {
	local vars
	vars=$("$K3S_INIT" --help | sed -n 's/^Repairs, in order: //p')
	[ -n "$vars" ]
	for var in $vars; do
		NS_ENV="K3S_INIT_$var=maybe" run ns_run "$NO_KMSG; K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER; echo rc=\$?" || true
		assert_line "k3s-init: error: K3S_INIT_$var=maybe: expected auto, on or off"
		refute_line --regexp '^check '
	done
	NS_ENV="K3S_INIT_KMSG=yes" run ns_run "$NO_KMSG; \$K3S_INIT agent || echo rc=\$?; test ! -e /dev/kmsg && echo kmsg-still-absent"
	assert_line "rc=64"
	assert_line "kmsg-still-absent"
}

@test "K3S_INIT_LOG, ROLE, SUPERVISE and K3S_VERSION reject bad values with 64" {
	local pair
	for pair in LOG=loud ROLE=worker SUPERVISE=yes K3S_VERSION=1.x K3S_VERSION=v2.0.0; do
		run env "K3S_INIT_$pair" "$K3S_INIT" "$CHECKER"
		assert_equal "$status" 64
		assert_output --partial "K3S_INIT_$pair"
	done
}

@test "an unknown K3S_INIT_* variable is an error (typo caught), reserved prefixes are not" {
	run env K3S_INIT_KMGS=off "$K3S_INIT" "$CHECKER"
	assert_equal "$status" 64
	assert_output --partial "unknown variable K3S_INIT_KMGS"
	run env K3S_INIT_KUBECONFIG_SOMETHING=x K3S_INIT_ROLE=control-plane K3S_INIT_LOG=quiet \
		K3S_INIT_HOST_LOCAL=off K3S_INIT_LOOPBACK=off "$K3S_INIT" true
	assert_success
}

@test "all errors are reported at once" {
	run env K3S_INIT_KMSG=1 K3S_INIT_CGROUPS=2 "$K3S_INIT" true
	assert_equal "$status" 64
	assert_output --partial "K3S_INIT_KMSG=1"
	assert_output --partial "K3S_INIT_CGROUPS=2"
}

@test "bad arguments: supervise without -- or without a command -> 64" {
	run "$K3S_INIT" supervise true
	assert_equal "$status" 64
	assert_output --partial "missing --"
	run "$K3S_INIT" supervise --
	assert_equal "$status" 64
	assert_output --partial "missing COMMAND"
}

@test "127 for a program not found, 126 for one not executable, naming it" {
	run -127 ns_run "K3S_INIT_LOG=quiet \$K3S_INIT no-such-program-xyz"
	assert_equal "$status" 127
	assert_output --partial "no-such-program-xyz"
	run ns_run "printf x >/run/notexec; chmod 644 /run/notexec; K3S_INIT_LOG=quiet \$K3S_INIT /run/notexec"
	assert_equal "$status" 126
	assert_output --partial "/run/notexec"
	run -127 ns_run "PATH=/usr/bin:/bin K3S_INIT_LOG=quiet \$K3S_INIT server"
	assert_equal "$status" 127
	assert_output --partial "cannot run k3s: not found on PATH"
}

@test "no arguments: k3s with no arguments; a flag first: k3s with it" {
	run ns_run "K3S_INIT_LOG=quiet \$K3S_INIT; K3S_INIT_LOG=quiet \$K3S_INIT --debug server"
	assert_success
	assert_line "argv[0]=k3s"
	refute_line "argv[1]=agent"
	assert_line "argv[1]=--debug"
	assert_line "argv[2]=server"
}

@test "a named program runs with its arguments after the same repairs; K3S_INIT_LOG=quiet is silent" {
	run ns_run "$NO_KMSG; K3S_INIT_ROLE=agent K3S_INIT_LOG=quiet \$K3S_INIT \$CHECKER one two"
	assert_success
	refute_line --regexp '^k3s-init:'
	assert_line "argv[1]=one"
	assert_line "argv[2]=two"
	assert_check kmsg
}

@test "K3S_INIT_<REPAIR>=off skips it, =on forces it for a role that would skip it" {
	run ns_run "$NO_KMSG; K3S_INIT_ROLE=agent K3S_INIT_KMSG=off \$K3S_INIT \$CHECKER"
	assert_line --regexp '^check kmsg FAIL'
	assert_line --partial "kmsg: off:"
	run ns_run "$NO_KMSG; K3S_INIT_ROLE=control-plane K3S_INIT_KMSG=on \$K3S_INIT \$CHECKER"
	assert_check kmsg
}

@test "K3S_INIT_LOG=debug logs the decisions skipped for the role" {
	run ns_run "K3S_INIT_ROLE=control-plane K3S_INIT_LOG=debug \$K3S_INIT true"
	assert_success
	assert_line "k3s-init: debug: kmsg: skip: not for role control-plane"
}
