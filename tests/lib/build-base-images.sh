#!/bin/bash
# Build the local base images the image tests use instead of registry images,
# for Docker and for Podman (VFS storage):
#   k3s-sandbox-test/debian:bookworm    debootstrap minbase, imported
#   k3s-sandbox-test/toolchain:local    + build-essential musl-tools libmnl-dev libjansson-dev
#   k3s-sandbox-test/k3s:local          stand-in for rancher/k3s (tests/fixtures/k3s-base/Dockerfile)
# Idempotent and cached: an image that exists is kept unless FORCE=1; the
# debootstrap rootfs tarball is kept in $K3S_SANDBOX_CACHE
# (/var/cache/k3s-sandbox). ENGINES="docker podman" (default) picks engines;
# IMAGES="debian toolchain k3s" (default) picks images. Prints what it did.
# BASES=pull (default: build), where a registry answers: the same names are
# the real images, pulled instead of built (debian:bookworm, and the
# Dockerfiles' TOOLCHAIN_IMAGE and K3S_IMAGE defaults, i.e. alpine and the
# pinned rancher/k3s). That serves the tests that need only what the bases
# give the images (tests/images/build.bats, release.bats); the tests of the
# stand-in k3s itself need BASES=build. A later BASES=build run rebuilds them.
# debootstrap's package mirror is DEBIAN_MIRROR, else the one this machine's
# apt sources use (tests/lib/debian-mirror.bash); it is only needed when the
# rootfs tarball is not cached.
# Exit status: 0 done, 1 a build failed, 64 bad setting (or no mirror known),
# 69 BASES=pull and a pull failed (no registry).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fixtures="$top/tests/fixtures"
cache=${K3S_SANDBOX_CACHE:-/var/cache/k3s-sandbox}
force=${FORCE:-0}
engines=${ENGINES:-docker podman}
images=${IMAGES:-debian toolchain k3s}
bases=${BASES:-build}
# shellcheck source=tests/lib/debian-mirror.bash
. "$here/debian-mirror.bash"

DEBIAN_IMAGE=k3s-sandbox-test/debian:bookworm
TOOLCHAIN_IMAGE=k3s-sandbox-test/toolchain:local
K3S_IMAGE=k3s-sandbox-test/k3s:local

say() { echo "build-base-images: $*"; }
# shellcheck source=tests/lib/image-replace.bash
. "$here/image-replace.bash"

die() {
	echo "build-base-images: $1" >&2
	exit "${2:-1}"
}

case "$force" in 0 | 1) ;; *) die "FORCE must be 0 or 1, not '$force'" 64 ;; esac
case "$bases" in build | pull) ;; *) die "BASES must be build or pull, not '$bases'" 64 ;; esac
for engine in $engines; do
	case "$engine" in docker | podman) ;; *) die "ENGINES: unknown engine '$engine' (docker, podman)" 64 ;; esac
done
for image in $images; do
	case "$image" in debian | toolchain | k3s) ;; *) die "IMAGES: unknown image '$image' (debian, toolchain, k3s)" 64 ;; esac
done
wanted() { case " $images " in *" $1 "*) return 0 ;; esac; return 1; }

# Debian's 20.10 client: it drives the daemon's built-in BuildKit (the
# /usr/local/bin client has no buildx plugin).
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker

engine_cli() { # engine -> command words
	case "$1" in
	docker) echo "$docker_cli" ;;
	podman) echo "podman --storage-driver vfs" ;;
	esac
}

have_image() { # engine name
	# shellcheck disable=SC2046
	$(engine_cli "$1") image inspect "$2" >/dev/null 2>&1
}

# A built image carries the hash of its inputs (label k3s-sandbox-test.inputs):
# a changed Dockerfile or stand-in source rebuilds it, FORCE=1 always does.
inputs_hash() { # name
	case "$1" in
	"$TOOLCHAIN_IMAGE") cat "$fixtures/k3s-base/Dockerfile.toolchain" ;;
	"$K3S_IMAGE") cat "$fixtures/k3s-base/Dockerfile" "$fixtures/k3s-base/iptables-detect.sh" \
		"$fixtures"/k3s-standin/*.c "$fixtures"/k3s-standin/*.h "$fixtures/k3s-standin/Makefile" ;;
	*) echo none ;;
	esac | sha256sum | cut -c1-16
}

image_inputs() { # engine name
	# shellcheck disable=SC2046
	$(engine_cli "$1") image inspect --format '{{index .Config.Labels "k3s-sandbox-test.inputs"}}' "$2" 2>/dev/null
}

need_build() { # engine name
	if [ "$force" = 1 ]; then
		return 0
	fi
	if have_image "$1" "$2"; then
		if [ "$2" = "$DEBIAN_IMAGE" ] || [ "$(image_inputs "$1" "$2")" = "$(inputs_hash "$2")" ]; then
			say "$1: $2 exists (FORCE=1 rebuilds)"
			return 1
		fi
		say "$1: $2 is out of date: rebuilding"
	fi
	return 0
}

rootfs_tarball() {
	local tarball="$cache/debian-bookworm-minbase.tar" work
	if [ -s "$tarball" ] && [ "$force" != 1 ]; then
		say "rootfs: cached $tarball"
		echo "$tarball" >&3
		return
	fi
	command -v debootstrap >/dev/null || die "debootstrap not found (apt-get install debootstrap)"
	local mirror
	mirror=$(debian_mirror) || die "rootfs: cannot debootstrap without a package mirror (see above)" 64
	mkdir -p "$cache"
	work=$(mktemp -d "$cache/rootfs.XXXXXX")
	say "rootfs: debootstrap --variant=minbase bookworm ($mirror)"
	local start=$SECONDS
	if ! debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
		tail -n 20 "$work/debootstrap.log" >&2
		rm -rf "$work"
		die "debootstrap failed"
	fi
	# An image needs no package cache; apt fetches lists again in builds.
	rm -rf "$work/rootfs/var/cache/apt/archives/"*.deb "$work/rootfs/var/lib/apt/lists/"*_Packages
	tar -C "$work/rootfs" --numeric-owner -cf "$tarball.tmp" .
	mv "$tarball.tmp" "$tarball"
	rm -rf "$work"
	say "rootfs: $tarball in $((SECONDS - start)) s"
	echo "$tarball" >&3
}

build_debian() { # engine
	local engine=$1 tarball
	need_build "$engine" "$DEBIAN_IMAGE" || return 0
	tarball=$(rootfs_tarball 3>&1 >&2)
	# shellcheck disable=SC2046
	$(engine_cli "$engine") import --change 'CMD ["/bin/bash"]' "$tarball" "$DEBIAN_IMAGE" >/dev/null
	say "$engine: imported $DEBIAN_IMAGE"
}

# Docker builds; Podman gets the same image through docker save | podman load
# (identical content, no second apt run). Without Docker, Podman builds itself.
build_dockerfile() { # engine name dockerfile context [build args...]
	local engine=$1 name=$2 dockerfile=$3 context=$4
	shift 4
	need_build "$engine" "$name" || return 0
	local start=$SECONDS
	if [ "$engine" = podman ] && case " $engines " in *" docker "*) true ;; *) false ;; esac &&
		[ "$(image_inputs docker "$name")" = "$(inputs_hash "$name")" ]; then
		$docker_cli save "$name" | podman --storage-driver vfs load -q >/dev/null
		# podman load keeps the repository name; make sure the short name resolves.
		podman --storage-driver vfs image inspect "$name" >/dev/null
		say "podman: loaded $name from docker in $((SECONDS - start)) s"
		return 0
	fi
	local label old cli
	label="k3s-sandbox-test.inputs=$(inputs_hash "$name")"
	read -r -a cli <<<"$(engine_cli "$engine")"
	old=$(image_id "${cli[@]}" "$name")
	case "$engine" in
	docker) DOCKER_BUILDKIT=1 $docker_cli build -q --label "$label" -f "$dockerfile" -t "$name" "$@" "$context" >/dev/null ;;
	podman) podman --storage-driver vfs build -q --layers --label "$label" -f "$dockerfile" -t "$name" "$@" "$context" >/dev/null ;;
	esac
	drop_replaced "$old" "${cli[@]}" "$name"
	say "$engine: built $name in $((SECONDS - start)) s"
}

for engine in $engines; do
	command -v "${engine}" >/dev/null || die "$engine not found (tests/lib/setup-host.sh installs it)"
done

# --- BASES=pull: the real images under the local names.
if [ "$bases" = pull ]; then
	# shellcheck source=tests/lib/dockerfile-args.bash
	. "$here/dockerfile-args.bash"
	real_toolchain=$(dockerfile_arg "$top/Dockerfile.control-plane" TOOLCHAIN_IMAGE)
	real_k3s=$(dockerfile_arg "$top/Dockerfile.control-plane" K3S_IMAGE)
	# Fully qualified: Podman resolves no short names without a registries.conf.
	qualified() { # name
		case "$1" in
		*/*) case "${1%%/*}" in *.* | *:*) echo "$1" ;; *) echo "docker.io/$1" ;; esac ;;
		*) echo "docker.io/library/$1" ;;
		esac
	}
	pull_as() { # engine local-name real-name
		local real start=$SECONDS
		real=$(qualified "$3")
		# shellcheck disable=SC2046
		$(engine_cli "$1") pull -q "$real" >/dev/null ||
			die "$1: cannot pull $real (no registry answers? BASES=build builds the stand-ins)" 69
		# shellcheck disable=SC2046
		$(engine_cli "$1") tag "$real" "$2"
		say "$1: pulled $real as $2 in $((SECONDS - start)) s"
	}
	for engine in $engines; do
		wanted debian && pull_as "$engine" "$DEBIAN_IMAGE" debian:bookworm
		wanted toolchain && pull_as "$engine" "$TOOLCHAIN_IMAGE" "$real_toolchain"
		wanted k3s && pull_as "$engine" "$K3S_IMAGE" "$real_k3s"
	done
	say "done ($engines, pulled): $images"
	exit 0
fi

for engine in $engines; do
	wanted debian && build_debian "$engine"
	if wanted toolchain; then
		build_dockerfile "$engine" "$TOOLCHAIN_IMAGE" "$fixtures/k3s-base/Dockerfile.toolchain" "$fixtures/k3s-base" \
			--build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE"
	fi
	if wanted k3s && [ -f "$fixtures/k3s-base/Dockerfile" ]; then
		build_dockerfile "$engine" "$K3S_IMAGE" "$fixtures/k3s-base/Dockerfile" "$fixtures" \
			--build-arg "TOOLCHAIN_IMAGE=$TOOLCHAIN_IMAGE"
	fi
	read -r -a engine_words <<<"$(engine_cli "$engine")"
	drop_build_leftovers "${engine_words[@]}"
done
say "done ($engines): $DEBIAN_IMAGE $TOOLCHAIN_IMAGE$([ -f "$fixtures/k3s-base/Dockerfile" ] && echo " $K3S_IMAGE")"
