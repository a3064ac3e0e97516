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
	run -64 ns_run "\$K3S_INIT --help extra"
}

@test "every K3S_INIT_<REPAIR> rejects a bad value with 64, naming it, changing nothing" {
	local vars
	vars=$("$K3S_INIT" --help | sed -n 's/^Repairs, in order: //p')
	[ -n "$vars" ]
	for var in $vars; do
		NS_ENV="K3S_INIT_$var=maybe" run ns_run "$NO_KMSG; K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER || echo rc=\$?"
		assert_success
		assert_line "k3s-init: error: K3S_INIT_$var=maybe: expected auto, on or off"
		assert_line "rc=64"
		refute_line --regexp '^check '
	done
	NS_ENV="K3S_INIT_KMSG=yes" run ns_run "$NO_KMSG; \$K3S_INIT agent || echo rc=\$?; test ! -e /dev/kmsg && echo kmsg-still-absent"
	assert_line "rc=64"
	assert_line "kmsg-still-absent"
}

# The failure paths run in namespaces too: a regression that accepted a bad
# value would otherwise apply every repair to the test host.
@test "K3S_INIT_LOG, ROLE, SUPERVISE and K3S_VERSION reject bad values with 64" {
	local pair
	for pair in LOG=loud ROLE=worker SUPERVISE=yes K3S_VERSION=1.x K3S_VERSION=v2.0.0; do
		NS_ENV="K3S_INIT_$pair" run -64 ns_run "\$K3S_INIT \$CHECKER"
		assert_output --partial "K3S_INIT_$pair"
		refute_line --regexp '^check '
	done
}

@test "an unknown K3S_INIT_* variable is an error (typo caught)" {
	NS_ENV="K3S_INIT_KMGS=off" run -64 ns_run "\$K3S_INIT \$CHECKER"
	assert_output --partial "unknown variable K3S_INIT_KMGS"
}

@test "the steps' own settings: exact names only, so a misspelled one is caught too" {
	local typo
	for typo in TOKEN_WIAT=5 TOKEN=x TOKEN_DIRS=/x KUBECONFIG_SOMETHING=x KUBECONFIG_DIRR=/run KUBECONFIG=x; do
		NS_ENV="K3S_INIT_$typo" run -64 ns_run "\$K3S_INIT \$CHECKER"
		assert_output --partial "unknown variable K3S_INIT_${typo%%=*} "
		refute_line --regexp '^check '
	done
	NS_ENV="K3S_INIT_TOKEN_WAIT=5 K3S_INIT_TOKEN_DIR=/run/none K3S_INIT_KUBECONFIG_WAIT=5 K3S_INIT_KUBECONFIG_SERVER=https://h:1 K3S_INIT_KUBECONFIG_INTERNAL_SERVER=https://i:2 K3S_INIT_ROLE=control-plane K3S_INIT_LOG=quiet" \
		run ns_run "\$K3S_INIT true"
	assert_success
	assert_output ""
}

@test "all errors are reported at once" {
	NS_ENV="K3S_INIT_KMSG=1 K3S_INIT_CGROUPS=2" run -64 ns_run "\$K3S_INIT true"
	assert_output --partial "K3S_INIT_KMSG=1"
	assert_output --partial "K3S_INIT_CGROUPS=2"
}

@test "bad arguments: supervise without -- or without a command, or an unknown option -> 64" {
	run -64 ns_run "\$K3S_INIT supervise \$CHECKER"
	assert_output --partial "missing --"
	refute_line --regexp '^check '
	run -64 ns_run "\$K3S_INIT supervise --"
	assert_output --partial "missing COMMAND"
	run -64 ns_run "\$K3S_INIT supervise -g"
	assert_output --partial "missing --"
	run -64 ns_run "\$K3S_INIT supervise -x -- \$CHECKER"
	assert_output --partial "unknown option '-x'"
	refute_line --regexp '^check '
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
	# A path: no PATH lookup, execve itself says ENOENT (or ENOTDIR).
	run -127 ns_run "K3S_INIT_LOG=quiet \$K3S_INIT /run/no-such-dir/prog"
	assert_output --partial "cannot run /run/no-such-dir/prog"
	run -127 ns_run "printf x >/run/file; K3S_INIT_LOG=quiet \$K3S_INIT /run/file/prog"
	assert_output --partial "cannot run /run/file/prog"
}

@test "the k3s subcommand is found after global flags, also when a flag takes a value" {
	run ns_run "\$K3S_INIT doctor -v 2 agent; \$K3S_INIT doctor --debug agent; \$K3S_INIT doctor --log /run/l server --disable-agent"
	assert_success
	assert_line "probe: role: agent (arguments: k3s agent)"
	refute_line "probe: role: server (arguments: k3s server)"
	assert_line "probe: role: control-plane (arguments: --disable-agent)"
	# The extra flags go right after the subcommand, not after the value.
	NS_ENV="K3S_INIT_LOCAL_STORAGE=on" run ns_run "\$K3S_INIT -v 2 agent --node-name n"
	assert_success
	assert_line "argv[1]=-v"
	assert_line "argv[2]=2"
	assert_line "argv[3]=agent"
	assert_line "argv[4]=--kubelet-arg=local-storage-capacity-isolation=false"
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
