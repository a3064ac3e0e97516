# Helpers for the host-local suite. The plugin under test is $K3S_INIT,
# invoked through a link named host-local (the binary dispatches on argv[0]).
# shellcheck shell=bash
# Constants here are used by the .bats files; $output and $status come from bats' run.
# shellcheck disable=SC2034,SC2154

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

REAL_HOST_LOCAL=/usr/lib/cni/host-local

cni_setup() {
	if [ -z "${K3S_INIT:-}" ] || [ ! -x "$K3S_INIT" ]; then
		echo "K3S_INIT must name the k3s-init binary under test (got '${K3S_INIT:-}'); run through tests/run" >&2
		return 1
	fi
	PLUGIN_DIR="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$PLUGIN_DIR"
	ln -sf "$(readlink -f "$K3S_INIT")" "$PLUGIN_DIR/host-local"
	PLUGIN="$PLUGIN_DIR/host-local"
	DATA="$BATS_TEST_TMPDIR/data"
	export PLUGIN DATA PLUGIN_DIR
}

need_real_plugin() {
	if [ ! -x "$REAL_HOST_LOCAL" ]; then
		echo "missing $REAL_HOST_LOCAL: apt-get install containernetworking-plugins (tests/lib/setup-host.sh)" >&2
		return 1
	fi
}

# conf VERSION IPAM-JSON-MEMBERS [EXTRA-TOP-LEVEL-MEMBERS]
# A network config "net1" whose ipam uses $DATA.
conf() {
	local version=$1 ipam=$2 extra=${3:-}
	printf '{"cniVersion":"%s","name":"net1","type":"bridge",%s"ipam":{"type":"host-local","dataDir":"%s",%s}}' \
		"$version" "${extra:+$extra,}" "$DATA" "$ipam"
}

V4_24='"ranges":[[{"subnet":"10.10.0.0/24"}]]'
DUAL='"ranges":[[{"subnet":"10.10.0.0/24"}],[{"subnet":"fd00:10::/120"}]],"routes":[{"dst":"0.0.0.0/0"},{"dst":"::/0","gw":"fd00:10::1"}]'

# big_conf VERSION IPAM-MEMBERS : conf with 30000 routes, so that the ADD
# result (about 1.5 MB) is larger than any pipe buffer (64 KiB by default,
# 1 MiB at most without privilege): a reader that never reads makes the
# plugin block in write(2), then fail when the reader goes away.
big_conf() {
	local routes
	routes=$(jq -cn '[range(30000) | {dst: "10.96.0.0/12"}]')
	conf "$1" "$2,\"routes\":$routes"
}

# cni BINARY COMMAND CONTAINERID IFNAME CONFIG-JSON : runs the plugin with
# the environment a runtime sets; output in $output, status in $status.
cni() {
	local bin=$1 cmd=$2 id=$3 ifname=$4 config=$5
	run env -i PATH=/usr/bin:/bin CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS=/var/run/netns/test \
		CNI_IFNAME="$ifname" CNI_PATH="$PLUGIN_DIR" "$bin" <<<"$config"
}

ours() { cni "$PLUGIN" "$@"; }
real() { cni "$REAL_HOST_LOCAL" "$@"; }

# The state of network net1 under DIR as "name:content" lines (CR shown as \r).
state_of() {
	local dir=$1/net1 f
	[ -d "$dir" ] || return 0
	for f in "$dir"/*; do
		[ -e "$f" ] || continue
		printf '%s:%s\n' "$(basename "$f")" "$(sed -e 's/\r/\\r/g' "$f" | tr '\n' '|')"
	done | LC_ALL=C sort
}

# A listing of everything under a directory (to prove nothing was written).
tree_of() {
	if [ -e "$1" ]; then (cd "$1" && find . -printf '%p %m %s\n' | LC_ALL=C sort); fi
}

# Allocated addresses (file names that are IPs) of net1 under DIR.
addresses_of() {
	local dir=$1/net1
	[ -d "$dir" ] || return 0
	find "$dir" -maxdepth 1 -type f ! -name lock ! -name 'last_reserved_ip.*' -printf '%f\n' | LC_ALL=C sort
}

assert_error_json() { # CODE
	assert_failure
	local code
	code=$(jq -r .code <<<"$output") || fail "error output is not JSON: $output"
	[ "$code" = "$1" ] || fail "expected error code $1, got $code: $output"
	jq -e '(.msg | type == "string" and length > 0) and (.cniVersion | type == "string")' <<<"$output" >/dev/null ||
		fail "error JSON lacks msg or cniVersion: $output"
}

# --- lock races -----------------------------------------------------------
# The concurrency tests synchronise on the network's flock as the kernel
# reports it in /proc/locks (holders, and "->" lines for requests blocked in
# flock(2)), so they need no sleeps: each wait is for a condition, bounded.

# lock_id FILE : how /proc/locks names FILE (hex major:minor, decimal inode).
lock_id() {
	printf '%02x:%02x:%s' "$(stat -c %Hd "$1")" "$(stat -c %Ld "$1")" "$(stat -c %i "$1")"
}

# lock_has FILE holders|waiters N : at least N flock locks held on FILE, or
# at least N processes blocked waiting for one.
lock_has() {
	local file=$1 kind=$2 n=$3 id arrow='' count
	[ -e "$file" ] || return 1
	id=$(lock_id "$file")
	# Each further waiter on one lock is indented by one more space.
	[ "$kind" = waiters ] && arrow=' *-> '
	count=$(grep -cE "^[0-9]+: ${arrow}FLOCK +ADVISORY +WRITE +[0-9]+ $id " /proc/locks || true)
	[ "$count" -ge "$n" ]
}

# await DESCRIPTION COMMAND... : retry COMMAND for up to 10 seconds.
await() {
	local what=$1 i
	shift
	for i in $(seq 200); do
		if "$@"; then return 0; fi
		sleep 0.05
	done
	fail "timed out waiting for $what; /proc/locks: $(cat /proc/locks)"
}

# start_plugin NAME COMMAND ID IFNAME CONFIG [STDOUT] : run the plugin in the
# background (killed after 20 s) on CONFIG, stdout to STDOUT (default
# $BATS_TEST_TMPDIR/NAME.out), stderr to NAME.err. Its PID goes to $started.
# Descriptors 3 (bats) and 7-9 (the tests') are not inherited.
start_plugin() {
	local name=$1 cmd=$2 id=$3 ifname=$4 config=$5 out=${6:-$BATS_TEST_TMPDIR/$1.out}
	printf '%s' "$config" >"$BATS_TEST_TMPDIR/$name.json"
	timeout -k 5 20 env -i PATH=/usr/bin:/bin CNI_COMMAND="$cmd" CNI_CONTAINERID="$id" CNI_NETNS=/x \
		CNI_IFNAME="$ifname" CNI_PATH=/x "$PLUGIN" <"$BATS_TEST_TMPDIR/$name.json" >"$out" \
		2>"$BATS_TEST_TMPDIR/$name.err" 3>&- 7>&- 8>&- 9>&- &
	started=$!
}

# finish NAME PID : wait for it; $status is its exit status, $output its
# stdout (when it went to NAME.out) and $stderr its stderr.
finish() {
	status=0
	wait "$2" || status=$?
	output=$(cat "$BATS_TEST_TMPDIR/$1.out" 2>/dev/null || true)
	stderr=$(cat "$BATS_TEST_TMPDIR/$1.err")
}

# hold_lock NETDIR : create the network directory and its lock, and hold the
# lock on descriptor 9 (flock(1)), so that instances started now queue on it.
hold_lock() {
	mkdir -p "$1"
	exec 9>>"$1/lock"
	flock -x -w 10 9 || fail "cannot take $1/lock"
}

# release_lock : closing descriptor 9 drops the flock; the queue runs.
release_lock() {
	exec 9>&-
}
