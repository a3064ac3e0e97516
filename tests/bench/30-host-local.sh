#!/bin/bash
# Bench part: median wall time of one ADD+DEL pair through our host-local
# (build/k3s-init invoked as host-local) and through the real one
# (/usr/lib/cni/host-local), measured in the same run, and their ratio.
# The pairs are interleaved (ours, real, and a spawn-only baseline of
# /bin/true twice) so that load from elsewhere hits all three alike. Each
# pair includes two fork+exec, which on a loaded or virtualized machine can
# cost as much as our whole plugin; the "above spawn" figures subtract the
# baseline to show the work each plugin does itself.
# Timing uses bash's $EPOCHREALTIME (no fork for the clock itself).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
ours_bin=${K3S_INIT:-$top/build/k3s-init}
real_bin=/usr/lib/cni/host-local
pairs=${HOST_LOCAL_BENCH_PAIRS:-300}
[ -x "$ours_bin" ] || { echo "30-host-local: $ours_bin missing (make build)" >&2; exit 1; }
[ -x "$real_bin" ] || { echo "30-host-local: $real_bin missing (apt-get install containernetworking-plugins)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$(readlink -f "$ours_bin")" "$work/host-local"
conf="$work/net.json"
printf '{"cniVersion":"1.0.0","name":"bench","ipam":{"type":"host-local","dataDir":"%s/data","ranges":[[{"subnet":"10.88.0.0/16"}],[{"subnet":"fd00:88::/64"}]],"routes":[{"dst":"0.0.0.0/0"}]}}' "$work" >"$conf"
export CNI_CONTAINERID=bench CNI_NETNS=/var/run/netns/bench CNI_IFNAME=eth0 CNI_PATH="$work"

pair() { # BINARY -> microseconds of one ADD+DEL
	local t0=${EPOCHREALTIME/./}
	CNI_COMMAND=ADD "$1" <"$conf" >/dev/null
	CNI_COMMAND=DEL "$1" <"$conf" >/dev/null
	echo $((${EPOCHREALTIME/./} - t0))
}

: >"$work/ours"
: >"$work/real"
: >"$work/base"
for ((i = 0; i < 10; i++)); do pair "$work/host-local" >/dev/null; pair "$real_bin" >/dev/null; done
for ((i = 0; i < pairs; i++)); do
	pair "$work/host-local" >>"$work/ours"
	pair "$real_bin" >>"$work/real"
	pair /bin/true >>"$work/base"
done
[ ! -e "$work/data/bench/10.88.0.2" ] || { echo "30-host-local: ADD+DEL left state behind" >&2; exit 1; }
median() { sort -n "$1" | sed -n "$(((pairs + 1) / 2))p"; }
ours=$(median "$work/ours")
real=$(median "$work/real")
base=$(median "$work/base")
awk -v o="$ours" -v r="$real" -v b="$base" 'BEGIN {
	printf "host-local ADD+DEL median, ours: %.0f us (target: 10x faster than the real one)\n", o
	printf "host-local ADD+DEL median, real /usr/lib/cni/host-local: %.0f us (reference, same run)\n", r
	printf "host-local speedup real/ours: %.1f x (target >= 10)\n", r / o
	printf "process spawn baseline (/bin/true twice): %.0f us (reference)\n", b
	oa = o - b; ra = r - b
	if (oa < 1) oa = 1
	printf "host-local speedup above spawn cost: %.1f x (target >= 10)\n", ra / oa
}'
