#!/bin/bash
# build/k3s-init as the suites test it (tests/run, tests/soak/run): linked
# statically where tests/lib/build-tools.sh has put a static libmnl
# (Debian's libjansson-dev has libjansson.a), like the product; else the
# dynamic build, and it says so.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
static_libs=/usr/local/lib/k3s-sandbox/static-libs
if [ -f "$static_libs/libmnl.a" ]; then
	make --no-print-directory -C "$top" build LDFLAGS="-L$static_libs"
else
	echo "build-init-under-test: no static libmnl in $static_libs: testing a dynamically linked build" >&2
	make --no-print-directory -C "$top" build
fi
