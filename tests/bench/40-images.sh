#!/bin/bash
# Image figures, with the local bases (offline): size and layer count against
# the base, VFS disk of the image plus one run against the base's, time from
# `docker-compose up -d control-plane` to healthy (stand-in k3s), warm rebuild.
# VFS disk is what the user pays after pulling only our image: the du of each
# of the image's layer directories plus the container's init and rw layers.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
prefix=k3s-sandbox-test-img-bench
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
base=k3s-sandbox-test/k3s:local
image=$prefix/control-plane:local
vfs=/var/lib/docker/vfs/dir
layerdb=/var/lib/docker/image/vfs/layerdb

cleanup() {
	docker-compose -f "$top/compose.yaml" -p "$prefix" down -v >/dev/null 2>&1 || true
	"$docker_cli" rm -f -v "$prefix-base" "$prefix-ours" >/dev/null 2>&1 || true
}
trap cleanup EXIT

ENGINES=docker "$top/tests/lib/build-base-images.sh" >/dev/null
ENGINE=docker LOCAL_BASES=1 IMAGE_PREFIX=$prefix TAG=local VARIANTS=control-plane "$top/tests/lib/build-images.sh" >/dev/null

# Sum of du over an image's layer directories (VFS: each one a full copy).
image_disk() { # image
	local chain="" diff total=0 cache
	for diff in $("$docker_cli" image inspect -f '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1"); do
		if [ -z "$chain" ]; then
			chain=$diff
		else
			chain="sha256:$(printf '%s %s' "$chain" "$diff" | sha256sum | cut -d' ' -f1)"
		fi
		cache=$(cat "$layerdb/sha256/${chain#sha256:}/cache-id")
		total=$((total + $(du -sb "$vfs/$cache" | cut -f1)))
	done
	echo "$total"
}

# The init and rw layers one run of a container adds.
container_disk() { # container
	local id mounts total=0 l
	id=$("$docker_cli" inspect -f '{{.Id}}' "$1")
	mounts="$layerdb/mounts/$id"
	for l in "$(cat "$mounts/init-id")" "$(cat "$mounts/mount-id")"; do
		total=$((total + $(du -sb "$vfs/$l" | cut -f1)))
	done
	echo "$total"
}

run_once() { # name image
	"$docker_cli" run -d --name "$1" --tmpfs /run --tmpfs /var/run "$2" server >/dev/null
	for _ in $(seq 1 120); do
		[ "$("$docker_cli" inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null)" = healthy ] && break
		"$docker_cli" exec "$1" k3s kubectl get --raw=/readyz >/dev/null 2>&1 && [ "$1" = "$prefix-base" ] && break
		sleep 0.5
	done
}

base_size=$("$docker_cli" image inspect -f '{{.Size}}' "$base")
our_size=$("$docker_cli" image inspect -f '{{.Size}}' "$image")
echo "image size: $our_size bytes vs base $base_size bytes ($(awk -v a="$our_size" -v b="$base_size" 'BEGIN{printf "%.3f", a/b}')x) (target <= 1.05x)"
echo "layers: $("$docker_cli" image inspect -f '{{len .RootFS.Layers}}' "$image") vs base $("$docker_cli" image inspect -f '{{len .RootFS.Layers}}' "$base") (target 1)"

run_once "$prefix-base" "$base"
run_once "$prefix-ours" "$image"
base_disk=$(($(image_disk "$base") + $(container_disk "$prefix-base")))
our_disk=$(($(image_disk "$image") + $(container_disk "$prefix-ours")))
echo "VFS disk, image + one run: $our_disk bytes vs base $base_disk bytes ($(awk -v a="$our_disk" -v b="$base_disk" 'BEGIN{printf "%.3f", a/b}')x) (target <= 1.05x)"
cleanup

kc=$(mktemp -d)
start=$(date +%s.%N)
CONTROL_PLANE_IMAGE=$image KUBECONFIG_DIR=$kc K3S_API_PORT=36445 \
	docker-compose -f "$top/compose.yaml" -p "$prefix" up -d --no-build control-plane >/dev/null 2>&1
cid=$(CONTROL_PLANE_IMAGE=$image KUBECONFIG_DIR=$kc docker-compose -f "$top/compose.yaml" -p "$prefix" ps -q control-plane)
for _ in $(seq 1 600); do
	[ "$("$docker_cli" inspect -f '{{.State.Health.Status}}' "$cid")" = healthy ] && break
	sleep 0.1
done
end=$(date +%s.%N)
echo "compose up -d control-plane to healthy: $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s (stand-in k3s; HEALTHCHECK interval 5 s) (target < 15 s)"
cleanup
rm -rf "$kc"

start=$(date +%s.%N)
ENGINE=docker LOCAL_BASES=1 IMAGE_PREFIX=$prefix TAG=local VARIANTS=control-plane "$top/tests/lib/build-images.sh" >/dev/null
end=$(date +%s.%N)
echo "warm rebuild (no change): $(awk -v a="$start" -v b="$end" 'BEGIN{printf "%.1f", b-a}') s (target < 10 s)"
"$docker_cli" rmi "$image" >/dev/null 2>&1 || true
