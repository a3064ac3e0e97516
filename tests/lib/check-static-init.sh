#!/bin/bash
# The init as the images ship it: built in Dockerfile.control-plane's toolchain
# stage (Alpine: musl with static libmnl and jansson) for each platform, then
# checked: statically linked (file, ldd), it runs (k3s-init --version; another
# platform's binary through qemu-user binfmt_misc), and its size. CI runs it
# where alpine can be pulled.
# Settings: PLATFORMS (default: ARG IMAGE_PLATFORMS), TOOLCHAIN_IMAGE and
# INIT_MAKE_TARGET (build args; unset keeps the Dockerfile's), OUT (where the
# binaries go, build/static-init/PLATFORM/k3s-init).
# Prints one line per platform: "k3s-init PLATFORM: static, N bytes, VERSION".
# Exit status: 0 every init is static and runs; 1 a build failed, or an init
# is not static or does not run; 64 bad setting.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/dockerfile-args.bash
. "$here/dockerfile-args.bash"
out=${OUT:-$top/build/static-init}

die() {
	echo "check-static-init: $1" >&2
	exit "${2:-1}"
}

image_platforms=$(dockerfile_arg "$top/Dockerfile.control-plane" IMAGE_PLATFORMS) || exit 64
platforms=${PLATFORMS:-$image_platforms}
IFS=, read -r -a wanted <<<"$platforms"
[ "${#wanted[@]}" -gt 0 ] || die "PLATFORMS is empty" 64
for platform in "${wanted[@]}"; do
	[[ "$platform" =~ ^linux/[a-z0-9]+(/v[0-9]+)?$ ]] || die "PLATFORMS: '$platform' is not linux/ARCH" 64
done
command -v file >/dev/null || die "file not found (apt-get install file)" 64

args=()
for name in TOOLCHAIN_IMAGE INIT_MAKE_TARGET; do
	if [ -n "${!name:-}" ]; then
		args+=(--build-arg "$name=${!name}")
	fi
done
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker

failed=0
for platform in "${wanted[@]}"; do
	dir="$out/${platform//\//-}"
	rm -rf "$dir"
	mkdir -p "$dir"
	# Only the toolchain stage, exported as a tar stream on stdout (the build's
	# progress goes to stderr, kept in a log): the one file is kept.
	if ! DOCKER_BUILDKIT=1 "$docker_cli" build --progress=plain --file "$top/Dockerfile.control-plane" --target toolchain \
		--platform "$platform" "${args[@]}" --output type=tar,dest=- "$top" 2>"$dir/build.log" |
		tar -xf - -C "$dir" out/bin/k3s-init; then
		tail -n 30 "$dir/build.log" >&2
		die "$platform: building the toolchain stage failed (log: $dir/build.log)"
	fi
	init="$dir/k3s-init"
	mv "$dir/out/bin/k3s-init" "$init"
	rm -rf "$dir/out"
	kind=$(file -b "$init")
	size=$(stat -c %s "$init")
	echo "check-static-init: $platform: $kind"
	case "$kind" in
	*"statically linked"* | *"static-pie linked"*) ;;
	*)
		echo "check-static-init: $platform: k3s-init is not statically linked" >&2
		failed=1
		continue
		;;
	esac
	if ldd "$init" >/dev/null 2>&1; then
		echo "check-static-init: $platform: ldd lists libraries for k3s-init: $(ldd "$init" 2>&1 | tr '\n' ' ')" >&2
		failed=1
		continue
	fi
	if ! version=$("$init" --version 2>&1); then
		echo "check-static-init: $platform: k3s-init --version failed: $version" >&2
		failed=1
		continue
	fi
	echo "k3s-init $platform: static, $size bytes, $version"
done
exit "$failed"
