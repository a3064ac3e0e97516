# Shared helpers for the init suites (tests/init/*.bats). Generic: root and tool
# checks, fixture builds, and running the binary under test ($K3S_INIT) inside
# fresh mount + PID namespaces (unshare) where a test can take things away first.
# shellcheck shell=bash

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

export TOP
TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
FIXTURES=$BATS_TEST_DIRNAME/fixtures
# What a PATH looks like in a test: the fake k3s dir first, no /usr/lib/cni
# (so no host-local), the usual system dirs.
TEST_SYSTEM_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# Fail loudly (never skip) when a requirement is missing.
require_root() {
	[ "$(id -u)" -eq 0 ] || {
		echo "$(basename "$BATS_TEST_FILENAME"): needs root (unshare, mounts)" >&2
		return 1
	}
}

require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || {
			echo "$(basename "$BATS_TEST_FILENAME"): missing tool '$tool'" >&2
			return 1
		}
	done
}

require_k3s_init() {
	if [ -z "${K3S_INIT:-}" ] || [ ! -x "$K3S_INIT" ]; then
		echo "K3S_INIT does not name an executable (got '${K3S_INIT:-}'); run through tests/run" >&2
		return 1
	fi
}

# Build the checker (fixtures/checker.c, static so it also runs in a bare
# gVisor image) into $CHECKER, and a copy named k3s in $K3SBIN.
build_checker() {
	export CHECKER_DIR="$BATS_FILE_TMPDIR/bin" K3SBIN="$BATS_FILE_TMPDIR/k3sbin"
	export CHECKER="$CHECKER_DIR/checker"
	mkdir -p "$CHECKER_DIR" "$K3SBIN"
	gcc -static -O1 -Wall -Werror -o "$CHECKER" "$FIXTURES/checker.c"
	cp "$CHECKER" "$K3SBIN/k3s"
}

# ns_run SCRIPT: run bash SCRIPT as PID 1 of fresh PID and mount namespaces
# (private propagation, own /proc, a tmpfs on /run so nothing the init writes
# reaches the host). NS_NET=1 adds a network namespace (lo down).
# The script sees K3S_INIT, CHECKER, K3SBIN and PATH=$K3SBIN:system dirs.
ns_run() {
	local net=() extra=()
	[ "${NS_NET:-0}" = 1 ] && net=(--net)
	# NS_ENV: space-separated NAME=VALUE words (no spaces inside a value).
	read -r -a extra <<<"${NS_ENV:-}"
	env -i K3S_INIT="$K3S_INIT" CHECKER="${CHECKER:-}" K3SBIN="${K3SBIN:-}" \
		PATH="${K3SBIN:-/nonexistent}:$TEST_SYSTEM_PATH" "${extra[@]}" \
		unshare --mount --pid --fork --propagation private --mount-proc "${net[@]}" \
		bash -euc "mount -t tmpfs tmpfs /run; $1"
}

# Shell snippets for ns_run scripts: take away what a repair restores.
# shellcheck disable=SC2034
NO_KMSG='mount -t tmpfs -o mode=755 tmpfs /dev; mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5'
# shellcheck disable=SC2034
NO_CGROUPS='umount -R /sys/fs/cgroup'
# Hide kernel/keys and make kernel/panic unwritable (a read-only bind).
# shellcheck disable=SC2034
BAD_SYSCTL='mount -t tmpfs tmpfs /proc/sys/kernel/keys; mount --bind /proc/sys/kernel/panic /proc/sys/kernel/panic; mount -o remount,bind,ro /proc/sys/kernel/panic'

# assert_check NAME: the checker's line "check NAME ok ..." is in $output and
# no "check NAME FAIL" line is.
assert_check() {
	assert_line --regexp "^check $1 ok "
	refute_line --regexp "^check $1 FAIL"
}

# gvisor_image BINARY TAG: a tiny image for `docker run --runtime=runsc` (no
# registry here): BINARY as /k3s-init with the shared libraries ldd lists (the
# test build is dynamic), busybox as /bin/sh, the checker as /bin/checker and
# as /bin/k3s. Prints the image name.
gvisor_image() {
	local binary=$1 root="$BATS_FILE_TMPDIR/gvisor-root-$2" image="k3s-sandbox-test-init/gvisor:$2"
	rm -rf "$root"
	mkdir -p "$root"/{bin,proc,sys,dev,tmp,run,etc,var/lib}
	cp "$binary" "$root/k3s-init"
	local lib
	for lib in $(ldd "$binary" | grep -o '/[^ ]*'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	cp /bin/busybox "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$CHECKER" "$root/bin/checker"
	cp "$CHECKER" "$root/bin/k3s"
	tar -C "$root" -c . | docker import - "$image" >/dev/null
	rm -rf "$root"
	echo "$image"
}

# gvisor_run IMAGE ARGS...: run in gVisor, privileged, as PID 1 (/k3s-init ARGS).
gvisor_run() {
	local image=$1
	shift
	docker run --rm --runtime=runsc --privileged -e PATH=/bin "$image" "$@"
}
