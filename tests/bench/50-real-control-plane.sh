#!/bin/bash
# Figures with a real Kubernetes control plane behind the init: the
# control-plane image with `k3s server` assembled from real etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler v1.34.3
# (tests/fixtures/real-parts; k3s itself cannot be built here). The peer, in
# the same run: the same image and parts started without k3s-init (its
# /bin/k3s as the entrypoint, on the same tmpfs and ports), so the ratios
# say what the init costs on the way to a ready API and at rest.
#   - from `docker run` to the first successful `kubectl get --raw=/readyz`
#     from the host, median of BENCH_STARTS fresh starts (5): ours with the
#     kubeconfig the init exports (what a user has: it appears with the
#     ready line), the peer's with k3s's own copied out as soon as it is
#     written (before the API answers); ours also to its ready line, and
#     to it under the current gVisor (runsc-current);
#   - RSS of every process in the container, 60 s after ready, both idle side
#     by side;
#   - a worker (real containerd, runc, kubelet, kube-proxy) joining with
#     `docker compose up -d`: to node Ready and to the first pod Succeeded.
# Needs the parts tests/lib/setup-host.sh builds; exit status 69 without them.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prefix=k3s-sandbox-test-img-bench-real
parts=/usr/local/lib/k3s-sandbox/real-parts
kubectl=$parts/kubectl
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
real_cp=k3s-sandbox-test/real-control-plane:local
real_worker=k3s-sandbox-test/real-worker:local
starts=${BENCH_STARTS:-5}
case "$starts" in '' | *[!0-9]* | 0)
	echo "BENCH_STARTS must be a whole number above 0, not '$starts'" >&2
	exit 64
	;;
esac
[ -x "$kubectl" ] || { echo "real-control-plane: $kubectl is missing (tests/lib/setup-host.sh builds it)" >&2; exit 69; }

work=$(mktemp -d)
chmod 0755 "$work"
export COMPOSE_PROJECT_NAME=$prefix
cleanup() {
	(cd "$top" && CONTROL_PLANE_IMAGE=$real_cp WORKER_IMAGE=$real_worker KUBECONFIG_DIR=$work/compose \
		docker compose -f compose.yaml -f "$work/preload.yaml" down -v) >/dev/null 2>&1 || true
	"$docker_cli" rm -f -v "$prefix-ours" "$prefix-peer" "$prefix-gvisor" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

ENGINES=docker "$top/tests/lib/build-base-images.sh" >/dev/null
ENGINE=docker LOCAL_BASES=1 IMAGE_PREFIX=$prefix TAG=local "$top/tests/lib/build-images.sh" >/dev/null
mkdir -p "$work/preload"
IMAGES="control-plane worker pod-images" PRELOAD_DIR=$work/preload CONTROL_PLANE_IMAGE=$prefix/control-plane:local \
	WORKER_IMAGE=$prefix/worker:local "$top/tests/lib/build-real-parts.sh" >/dev/null

now() { date +%s.%N; }
seconds() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f\n", b-a}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2f", a/b}'; }
median() { sort -n | awk '{v[NR]=$1} END{print v[int((NR+1)/2)]}'; }

# start NAME PORT ours|peer: the container, detached; ours exports its
# kubeconfig to $work/NAME, the peer's is copied out once k3s wrote it.
start() {
	local dir="$work/$1"
	rm -rf "$dir" && mkdir -p "$dir"
	if [ "$3" = ours ]; then
		"$docker_cli" run -d --name "$1" -p "127.0.0.1:$2:6443" --tmpfs /run --tmpfs /var/run -v "$dir:/output" \
			-e K3S_INIT_KUBECONFIG_DIR=/output -e "K3S_INIT_KUBECONFIG_SERVER=https://127.0.0.1:$2" "$real_cp" >/dev/null
	else
		"$docker_cli" run -d --name "$1" -p "127.0.0.1:$2:6443" --tmpfs /run --tmpfs /var/run \
			--entrypoint /bin/k3s "$real_cp" server >/dev/null
	fi
}

# The first successful readyz from the host, polled every 0.1 s.
until_readyz() { # name port ours|peer
	local config="$work/$1/kubeconfig.yaml"
	for _ in $(seq 1 1200); do
		if [ "$3" = peer ] && [ ! -s "$config" ]; then
			"$docker_cli" exec "$1" cat /etc/rancher/k3s/k3s.yaml 2>/dev/null |
				sed "s|https://127.0.0.1:6443|https://127.0.0.1:$2|" >"$config.tmp" && [ -s "$config.tmp" ] &&
				mv "$config.tmp" "$config"
		fi
		[ -s "$config" ] && "$kubectl" --kubeconfig "$config" --request-timeout=2s get --raw=/readyz >/dev/null 2>&1 &&
			return 0
		sleep 0.1
	done
	echo "real-control-plane: $1 never answered /readyz" >&2
	"$docker_cli" logs --tail 30 "$1" >&2
	return 1
}

# Seconds from BEGAN to the container's ready line, by the line's own time
# stamp in the engine's log.
ready_line_seconds() { # container began
	local stamp
	stamp=$("$docker_cli" logs -t "$1" 2>&1 | awk '/k3s-init: ready:/ {print $1; exit}')
	[ -n "$stamp" ] || { echo "real-control-plane: no ready line from $1" >&2; return 1; }
	seconds "$2" "$(date -d "$stamp" +%s.%N)"
}

rss_kib() { # container: the sum of VmRSS over its processes
	local pid total=0 kib
	for pid in $("$docker_cli" top "$1" -eo pid | tail -n +2); do
		kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
		total=$((total + ${kib:-0}))
	done
	echo "$total"
}

: >"$work/ours.times"
: >"$work/peer.times"
: >"$work/line.times"
for round in $(seq 1 "$starts"); do
	# Each goes first in every other round: the first start after a removal
	# pays for the VFS copy still being freed.
	order="ours peer"
	[ $((round % 2)) -eq 0 ] && order="peer ours"
	for who in $order; do
		began=$(now)
		start "$prefix-$who" 36461 "$who"
		until_readyz "$prefix-$who" 36461 "$who"
		seconds "$began" "$(now)" >>"$work/$who.times"
		if [ "$who" = ours ]; then
			ready_line_seconds "$prefix-ours" "$began" >>"$work/line.times"
		fi
		"$docker_cli" rm -f -v "$prefix-$who" >/dev/null
	done
done
ours=$(median <"$work/ours.times")
peer=$(median <"$work/peer.times")
line=$(median <"$work/line.times")
echo "real control-plane, docker run to first readyz from the host: $ours s vs $peer s without the init ($(ratio "$ours" "$peer")x), median of $starts (target <= 1.1x)"
echo "real control-plane, docker run to the ready line: $line s, median of $starts (target <= 10 s)"

# In a cloud IDE: the same start inside the current gVisor (netstack), to
# the ready line, against this kernel's runc figure above.
if "$docker_cli" info --format '{{json .Runtimes}}' | grep -q '"runsc-current"'; then
	: >"$work/gvisor.times"
	for _ in $(seq 1 "$starts"); do
		mkdir -p "$work/gvisor"
		began=$(now)
		"$docker_cli" run -d --name "$prefix-gvisor" --runtime runsc-current --tmpfs /run --tmpfs /var/run \
			-v "$work/gvisor:/output" -e K3S_INIT_KUBECONFIG_DIR=/output "$real_cp" >/dev/null
		for _ in $(seq 1 1200); do
			"$docker_cli" logs "$prefix-gvisor" 2>&1 | grep -q 'k3s-init: ready:' && break
			sleep 0.1
		done
		ready_line_seconds "$prefix-gvisor" "$began" >>"$work/gvisor.times"
		"$docker_cli" rm -f -v "$prefix-gvisor" >/dev/null
	done
	gvisor=$(median <"$work/gvisor.times")
	echo "real control-plane under runsc-current, docker run to the ready line: $gvisor s vs $line s with runc ($(ratio "$gvisor" "$line")x), median of $starts"
else
	echo "real control-plane under runsc-current: not measured, Docker has no runtime runsc-current (tests/lib/setup-host.sh adds it)" >&2
fi

start "$prefix-ours" 36461 ours
start "$prefix-peer" 36462 peer
until_readyz "$prefix-ours" 36461 ours
until_readyz "$prefix-peer" 36462 peer
sleep 60
ours_rss=$(rss_kib "$prefix-ours")
peer_rss=$(rss_kib "$prefix-peer")
echo "real control-plane RSS, idle 60 s after ready: $((ours_rss / 1024)) MiB vs $((peer_rss / 1024)) MiB without the init ($(ratio "$ours_rss" "$peer_rss")x) (target <= 1.02x)"
"$docker_cli" rm -f -v "$prefix-ours" "$prefix-peer" >/dev/null

# A worker joining: compose up -d with the preloaded pod images.
printf 'services:\n  worker:\n    volumes:\n      - %s:/var/lib/rancher/k3s/agent/images:ro\n' "$work/preload" >"$work/preload.yaml"
mkdir -p "$work/compose"
export KUBECONFIG=$work/compose/kubeconfig.yaml
began=$(now)
(cd "$top" && CONTROL_PLANE_IMAGE=$real_cp WORKER_IMAGE=$real_worker KUBECONFIG_DIR=$work/compose K3S_API_PORT=36463 \
	docker compose -f compose.yaml -f "$work/preload.yaml" up -d --no-build) >/dev/null 2>&1
node_ready() {
	[ "$("$kubectl" get nodes -o 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}
for _ in $(seq 1 3000); do node_ready && break; sleep 0.1; done
node_ready || { echo "real-control-plane: the worker never became Ready" >&2; exit 1; }
ready=$(seconds "$began" "$(now)")
# The controller manager makes the namespace's default ServiceAccount, which
# admission wants for every pod.
for _ in $(seq 1 600); do "$kubectl" get serviceaccount default >/dev/null 2>&1 && break; sleep 0.1; done
"$kubectl" run once --image=docker.io/k3s-sandbox-test/busybox:local --image-pull-policy=Never --restart=Never \
	--command -- true >/dev/null
for _ in $(seq 1 3000); do
	[ "$("$kubectl" get pod once -o 'jsonpath={.status.phase}')" = Succeeded ] && break
	sleep 0.1
done
[ "$("$kubectl" get pod once -o 'jsonpath={.status.phase}')" = Succeeded ] ||
	{ echo "real-control-plane: the first pod never Succeeded" >&2; exit 1; }
echo "worker, compose up -d to node Ready: $ready s; to the first pod Succeeded: $(seconds "$began" "$(now)") s (target <= 60 s)"
