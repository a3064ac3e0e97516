#!/bin/bash
# The init for linux/arm64, cross-built on this machine: build/arm64/k3s-init,
# static, from aarch64-linux-gnu-gcc (Debian's gcc-aarch64-linux-gnu, with
# bookworm's glibc for arm64) and Debian's arm64 static libmnl and jansson
# (tests/lib/build-tools.sh, tool arm64-libs). The release's arm64 binary is
# the static musl one built in the Alpine toolchain stage under QEMU on
# GitHub, from an arm64 base that cannot be pulled here; this build shows here
# that the sources build for arm64 and behave there as they do natively
# (tests/lint/arm64.bats runs it under qemu-user).
# Settings: ARM64_CC (default aarch64-linux-gnu-gcc), ARM64_LIBS (default
# /usr/local/lib/k3s-sandbox/arm64-libs). Exit status: 0 built, 1 the build
# failed, 2 a prerequisite is missing (named).
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
cc=${ARM64_CC:-aarch64-linux-gnu-gcc}
libs=${ARM64_LIBS:-/usr/local/lib/k3s-sandbox/arm64-libs}

missing() {
	echo "build-init-arm64: $1" >&2
	exit 2
}
command -v "$cc" >/dev/null ||
	missing "no $cc (apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross; tests/lib/setup-host.sh does)"
for file in lib/libmnl.a lib/libjansson.a include/libmnl/libmnl.h include/jansson.h; do
	[ -f "$libs/$file" ] || missing "no $libs/$file (TOOLS=arm64-libs tests/lib/build-tools.sh fetches it)"
done
make --no-print-directory -C "$top" static BUILD=build/arm64 CC="$cc" \
	CPPFLAGS="-I$libs/include" LDFLAGS="-L$libs/lib"
