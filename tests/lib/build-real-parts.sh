#!/bin/bash
# Build the images of the real-parts tests (tests/fixtures/real-parts) for
# Docker, from the parts tests/lib/build-tools.sh builds and installs:
#   api            k3s-sandbox-test/real-api:local: kube-apiserver over etcd
#   worker         k3s-sandbox-test/real-worker:local: WORKER_IMAGE with
#                  `k3s agent` made of containerd, runc and kubelet
#   control-plane  k3s-sandbox-test/real-control-plane:local:
#                  CONTROL_PLANE_IMAGE with `k3s server` made of etcd,
#                  kube-apiserver, kube-controller-manager and kube-scheduler
#   pod-images     k3s-sandbox-test/pause:local, k3s-sandbox-test/busybox:local:
#                  the pod images, also saved as PRELOAD_DIR/pod-images.tar
#                  for the agent's preload directory
# Settings: IMAGES (which of the above; default "api worker pod-images"),
# PRELOAD_DIR (required with pod-images), WORKER_IMAGE (default
# k3s-sandbox-test-img/worker:local, the worker the images suite builds),
# CONTROL_PLANE_IMAGE (default k3s-sandbox-test-img/control-plane:local),
# PARTS_DIR (default /usr/local/lib/k3s-sandbox/real-parts).
# Exit status: 0 built, 1 a build failed, 64 bad setting, 69 a part or base
# image is missing (tests/lib/setup-host.sh and tests/lib/build-images.sh
# provide them).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
fixture="$here/../fixtures/real-parts"
parts=${PARTS_DIR:-/usr/local/lib/k3s-sandbox/real-parts}
worker_image=${WORKER_IMAGE:-k3s-sandbox-test-img/worker:local}
control_plane_image=${CONTROL_PLANE_IMAGE:-k3s-sandbox-test-img/control-plane:local}
preload=${PRELOAD_DIR:-}
images=${IMAGES:-api worker pod-images}
# What the images take from $parts.
used_parts=(kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler kubectl
	containerd containerd-shim-runc-v2 ctr etcd)
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
# shellcheck source=tests/lib/image-replace.bash
. "$here/image-replace.bash"

say() { echo "build-real-parts: $*"; }
die() {
	echo "build-real-parts: $1" >&2
	exit "${2:-1}"
}

wanted() { case " $images " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
[ -n "$images" ] || die "IMAGES is empty (choose from: api worker control-plane pod-images)" 64
for image in $images; do
	case $image in api | worker | control-plane | pod-images) ;;
	*) die "IMAGES: unknown image '$image' (api, worker, control-plane, pod-images)" 64 ;;
	esac
done
if wanted pod-images; then
	[ -n "$preload" ] || die "PRELOAD_DIR is not set (the directory for the pod images' tarball)" 64
	[ -d "$preload" ] || die "PRELOAD_DIR $preload is not a directory" 64
fi
for part in "${used_parts[@]}"; do
	[ -x "$parts/$part" ] || die "$parts/$part is missing (tests/lib/setup-host.sh builds it)" 69
done
bases=(k3s-sandbox-test/debian:bookworm)
wanted worker && bases+=("$worker_image")
wanted control-plane && bases+=("$control_plane_image")
for image in "${bases[@]}"; do
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

wanted api && build k3s-sandbox-test/real-api:local Dockerfile.api
wanted worker && build k3s-sandbox-test/real-worker:local Dockerfile.worker --build-arg "WORKER_IMAGE=$worker_image"
wanted control-plane && build k3s-sandbox-test/real-control-plane:local Dockerfile.control-plane \
	--build-arg "CONTROL_PLANE_IMAGE=$control_plane_image"
if wanted pod-images; then
	build k3s-sandbox-test/pause:local Dockerfile.pod-images --target pause
	build k3s-sandbox-test/busybox:local Dockerfile.pod-images --target busybox
	"$docker_cli" save -o "$preload/pod-images.tar" k3s-sandbox-test/pause:local k3s-sandbox-test/busybox:local ||
		die "docker save of the pod images failed"
	say "pod images saved in $preload/pod-images.tar"
fi
drop_build_leftovers "$docker_cli"
