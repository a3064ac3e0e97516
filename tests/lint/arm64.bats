#!/usr/bin/env bats
# linux/arm64, the release's other platform, as far as this machine can show
# it: the init cross-built for arm64 (tests/lib/build-init-arm64.sh) and run
# under Debian's qemu-user-static, called directly (no binfmt_misc
# registration: the host's kernel state stays as it is). Each answer is
# compared with the native build's ($K3S_INIT, from the same checkout): arm64
# differs where C leaves things to the platform (char is unsigned there, long
# double and struct layouts differ, system calls are the generic set). Not shown
# here: the arm64 images (their bases are arm64 images that cannot be pulled)
# and the repairs, which need an arm64 kernel (qemu-user passes the host's
# system calls through and does not translate every socket option iptables
# asks about).

# The host-local suite's network config builder (conf).
load ../cni/helpers

setup_file() {
	cd "$BATS_TEST_DIRNAME/../.." || return 1
	command -v qemu-aarch64-static >/dev/null || {
		echo "NOT RUN: no qemu-aarch64-static (apt-get install qemu-user-static; tests/lib/setup-host.sh does)" >&2
		return 1
	}
	[ -x "${K3S_INIT:-}" ] || {
		echo "K3S_INIT must name the native build to compare with (got '${K3S_INIT:-}'); run through tests/run" >&2
		return 1
	}
	tests/lib/build-init-arm64.sh >"$BATS_FILE_TMPDIR/build.log" 2>&1 || {
		cat "$BATS_FILE_TMPDIR/build.log" >&2
		return 1
	}
}

setup() {
	ARM64=$BATS_TEST_DIRNAME/../../build/arm64/k3s-init
	NATIVE=$K3S_INIT
}

@test "arm64: the init cross-builds as a static aarch64 executable" {
	run file -b "$ARM64"
	assert_success
	assert_output --partial "ARM aarch64"
	assert_output --partial "statically linked"
}

@test "arm64: under qemu-user the arm64 init answers --version, and as host-local its about line and VERSION, as the native one" {
	# Only answers that change nothing: the init's default path would repair
	# the host's own mounts (this runs outside any namespace).
	run qemu-aarch64-static "$ARM64" --version
	assert_success
	assert_output "$("$NATIVE" --version)"
	assert_output --regexp '^k3s-init [0-9]'
	local cmd arm64_output
	for cmd in "" VERSION; do
		run host_local "$ARM64" "$BATS_TEST_TMPDIR/unused" "$cmd" c0
		assert_success
		arm64_output=$output
		run host_local "$NATIVE" "$BATS_TEST_TMPDIR/unused" "$cmd" c0
		assert_success
		assert_equal "$arm64_output" "$output"
	done
	assert_output --partial '"supportedVersions"'
}

# Two ranges of two addresses each, IPv4 and IPv6.
ARM64_RANGES='"ranges":[[{"subnet":"10.20.0.0/24","rangeStart":"10.20.0.10","rangeEnd":"10.20.0.11"}],[{"subnet":"fd00:20::/120","rangeStart":"fd00:20::10","rangeEnd":"fd00:20::11"}]],"routes":[{"dst":"0.0.0.0/0"}]'

# host_local BINARY DATADIR COMMAND CONTAINERID: the CNI IPAM plugin (the
# init called host-local) for one attachment of network net1.
host_local() {
	local bin=$1 cmd=$3 id=$4 dir
	# shellcheck disable=SC2034 # conf (tests/cni/helpers.bash) reads DATA
	local DATA=$2
	dir="$BATS_TEST_TMPDIR/bin-$(basename "$(dirname "$bin")")"
	mkdir -p "$dir"
	ln -sfn "$bin" "$dir/host-local"
	local runner=()
	[ "$bin" = "$ARM64" ] && runner=(qemu-aarch64-static)
	conf 1.0.0 "$ARM64_RANGES" |
		env -i PATH=/usr/bin:/bin ${cmd:+CNI_COMMAND="$cmd"} CNI_CONTAINERID="$id" CNI_NETNS=/var/run/netns/x \
			CNI_IFNAME=eth0 CNI_PATH="$dir" "${runner[@]}" "$dir/host-local"
}

# allocations BINARY DATADIR: three ADDs on ranges with room for two (the
# third fails: "no IP addresses available"), one DEL, one more ADD (round
# robin wraps to the freed address); every answer and status, then the state
# left on disk.
allocations() {
	local bin=$1 data=$2 id
	for id in c1 c2 c3; do
		host_local "$bin" "$data" ADD "$id" || echo "status $?"
		echo
	done
	host_local "$bin" "$data" DEL c1 || echo "status $?"
	host_local "$bin" "$data" ADD c4 || echo "status $?"
	echo
	(cd "$data/net1" && for f in *; do printf '%s: %s\n' "$f" "$(tr '\r\n' '  ' <"$f")"; done)
}

@test "arm64: under qemu-user host-local hands out, refuses and releases addresses exactly as the native build" {
	local arm64_run native_run
	arm64_run=$(allocations "$ARM64" "$BATS_TEST_TMPDIR/arm64")
	native_run=$(allocations "$NATIVE" "$BATS_TEST_TMPDIR/native")
	assert_equal "$arm64_run" "$native_run"
	# The run is the one described above, not two equal failures.
	run echo "$native_run"
	assert_line --partial '"address": "10.20.0.10/24"'
	assert_line --partial '"address": "fd00:20::11/120"'
	assert_line --partial 'no IP addresses available in range set: 10.20.0.10-10.20.0.11'
	assert_line 'status 1'
	assert_line '10.20.0.10: c4  eth0'
	assert_line '10.20.0.11: c2  eth0'
	assert_line 'fd00:20::10: c4  eth0'
	assert_line 'last_reserved_ip.0: 10.20.0.10'
}
