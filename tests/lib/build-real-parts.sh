#!/bin/bash
# Build the images of the real-parts tests (tests/fixtures/real-parts) for
# Docker, from the parts tests/lib/build-tools.sh builds and installs:
#   k3s-sandbox-test/real-api:local     kube-apiserver over etcd
#   k3s-sandbox-test/real-worker:local  WORKER_IMAGE with `k3s agent` made of
#                                       containerd, runc and kubelet
#   k3s-sandbox-test/pause:local, k3s-sandbox-test/busybox:local
#                                       the pod images, also saved as
#                                       PRELOAD_DIR/pod-images.tar for the
#                                       agent's preload directory
# Settings: PRELOAD_DIR (required), WORKER_IMAGE (default
# k3s-sandbox-test-img/worker:local, the worker the images suite builds),
# PARTS_DIR (default /usr/local/lib/k3s-sandbox/real-parts).
# Exit status: 0 built, 1 a build failed, 64 bad setting, 69 a part or base
# image is missing (tests/lib/setup-host.sh and tests/lib/build-images.sh
# provide them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixture="$here/../fixtures/real-parts"
parts=${PARTS_DIR:-/usr/local/lib/k3s-sandbox/real-parts}
worker_image=${WORKER_IMAGE:-k3s-sandbox-test-img/worker:local}
preload=${PRELOAD_DIR:-}
# What the two images take from $parts.
used_parts=(kubelet kube-proxy kube-apiserver containerd containerd-shim-runc-v2 ctr etcd)
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
# shellcheck source=tests/lib/image-replace.bash
. "$here/image-replace.bash"

say() { echo "build-real-parts: $*"; }
die() {
	echo "build-real-parts: $1" >&2
	exit "${2:-1}"
}

[ -n "$preload" ] || die "PRELOAD_DIR is not set (the directory for the pod images' tarball)" 64
[ -d "$preload" ] || die "PRELOAD_DIR $preload is not a directory" 64
for part in "${used_parts[@]}"; do
	[ -x "$parts/$part" ] || die "$parts/$part is missing (tests/lib/setup-host.sh builds it)" 69
done
for image in "$worker_image" k3s-sandbox-test/debian:bookworm; do
	"$docker_cli" image inspect "$image" >/dev/null 2>&1 || die "image $image is missing (tests/lib/build-images.sh)" 69
done
command -v busybox >/dev/null || die "busybox is missing (apt-get install busybox-static)" 69
command -v gcc >/dev/null || die "gcc is missing (apt-get install gcc)" 69

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
mkdir "$context/bin"
cp "$fixture"/* "$context/"
for part in "${used_parts[@]}"; do
	# Hard links where the cache shares the filesystem: VFS copies them once.
	ln "$parts/$part" "$context/bin/$part" 2>/dev/null || cp "$parts/$part" "$context/bin/$part"
done
cp "$(command -v busybox)" "$context/busybox"
gcc -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -static -o "$context/udp-echo" "$fixture/udp-echo.c" ||
	die "compiling $fixture/udp-echo.c failed"

build() { # name dockerfile [build args...]
	local name=$1 dockerfile=$2 old start=$SECONDS
	shift 2
	old=$(image_id "$docker_cli" "$name")
	DOCKER_BUILDKIT=1 "$docker_cli" build -q -f "$context/$dockerfile" -t "$name" "$@" "$context" >/dev/null ||
		die "building $name ($dockerfile) failed"
	drop_replaced "$old" "$docker_cli" "$name"
	say "built $name in $((SECONDS - start)) s"
}

build k3s-sandbox-test/real-api:local Dockerfile.api
build k3s-sandbox-test/real-worker:local Dockerfile.worker --build-arg "WORKER_IMAGE=$worker_image"
build k3s-sandbox-test/pause:local Dockerfile.pod-images --target pause
build k3s-sandbox-test/busybox:local Dockerfile.pod-images --target busybox
"$docker_cli" save -o "$preload/pod-images.tar" k3s-sandbox-test/pause:local k3s-sandbox-test/busybox:local ||
	die "docker save of the pod images failed"
drop_build_leftovers "$docker_cli"
say "pod images saved in $preload/pod-images.tar"
