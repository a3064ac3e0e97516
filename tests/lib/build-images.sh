#!/bin/bash
# Build the product images (`make images`):
#   ${IMAGE_PREFIX}/control-plane:${TAG} from Dockerfile.control-plane
#   ${IMAGE_PREFIX}/worker:${TAG}        from Dockerfile.worker
# Default: against the real pinned bases (rancher/k3s, alpine: needs a
# registry). LOCAL_BASES=1: against the local test bases that
# tests/lib/build-base-images.sh makes (k3s-sandbox-test/k3s:local and
# k3s-sandbox-test/toolchain:local, with a dynamic `make build` of the init).
# Settings: ENGINE=docker|podman (docker), IMAGE_PREFIX (k3s-sandbox), TAG
# (latest), VARIANTS ("control-plane worker"), CONTEXT (the repository),
# K3S_VERSION / K3S_IMAGE / TOOLCHAIN_IMAGE / INIT_MAKE_TARGET (build args;
# unset ones keep the Dockerfiles' defaults).
# Exit status: 0 built, 1 a build failed, 64 bad setting.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
engine=${ENGINE:-docker}
prefix=${IMAGE_PREFIX:-k3s-sandbox}
tag=${TAG:-latest}
variants=${VARIANTS:-control-plane worker}
context=${CONTEXT:-$top}
local_bases=${LOCAL_BASES:-0}

# shellcheck source=tests/lib/image-replace.bash
. "$here/image-replace.bash"

die() {
	echo "build-images: $1" >&2
	exit "${2:-1}"
}

case "$engine" in docker | podman) ;; *) die "ENGINE must be docker or podman, not '$engine'" 64 ;; esac
case "$local_bases" in 0 | 1) ;; *) die "LOCAL_BASES must be 0 or 1, not '$local_bases'" 64 ;; esac
for variant in $variants; do
	case "$variant" in control-plane | worker) ;; *) die "VARIANTS: unknown variant '$variant' (control-plane, worker)" 64 ;; esac
done
[ -f "$context/Dockerfile.control-plane" ] || die "CONTEXT '$context' holds no Dockerfile.control-plane" 64

args=()
if [ "$local_bases" = 1 ]; then
	args+=(--build-arg "K3S_IMAGE=${K3S_IMAGE:-k3s-sandbox-test/k3s:local}"
		--build-arg "TOOLCHAIN_IMAGE=${TOOLCHAIN_IMAGE:-k3s-sandbox-test/toolchain:local}"
		--build-arg "INIT_MAKE_TARGET=${INIT_MAKE_TARGET:-build}")
else
	for name in K3S_IMAGE TOOLCHAIN_IMAGE INIT_MAKE_TARGET; do
		if [ -n "${!name:-}" ]; then
			args+=(--build-arg "$name=${!name}")
		fi
	done
fi
if [ -n "${K3S_VERSION:-}" ]; then
	args+=(--build-arg "K3S_VERSION=$K3S_VERSION")
fi

build() { # variant
	local variant=$1 name="$prefix/$1:$tag" start=$SECONDS cli old
	case "$engine" in
	docker)
		# Debian's 20.10 client drives the daemon's built-in BuildKit (the
		# 28.x client in /usr/local/bin has no buildx plugin here).
		cli=(/usr/bin/docker)
		[ -x "${cli[0]}" ] || cli=(docker)
		old=$(image_id "${cli[@]}" "$name")
		DOCKER_BUILDKIT=1 "${cli[@]}" build -q -f "$context/Dockerfile.$variant" -t "$name" "${args[@]}" "$context" >/dev/null ||
			return 1
		;;
	podman)
		# Docker format keeps HEALTHCHECK and STOPSIGNAL (OCI image config has no
		# healthcheck). chroot isolation: crun refuses this cgroup v1/v2 hybrid
		# host; small rlimits: RUN steps may not raise them past the caller's.
		cli=(podman --storage-driver vfs)
		old=$(image_id "${cli[@]}" "$name")
		"${cli[@]}" build -q --format docker --layers --isolation chroot \
			--ulimit nofile=4096:4096 --ulimit nproc=4096:4096 -f "$context/Dockerfile.$variant" \
			-t "$name" "${args[@]}" "$context" >/dev/null || return 1
		;;
	esac
	drop_replaced "$old" "${cli[@]}" "$name"
	echo "build-images: $engine: built $name in $((SECONDS - start)) s"
}

for variant in $variants; do
	build "$variant" || die "$engine: building $prefix/$variant:$tag failed"
done
case "$engine" in
docker) drop_build_leftovers "$([ -x /usr/bin/docker ] && echo /usr/bin/docker || echo docker)" ;;
podman) drop_build_leftovers podman --storage-driver vfs ;;
esac
