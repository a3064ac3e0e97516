#!/usr/bin/env bats
# The tools the test setup builds or fetches (tests/lib/build-tools.sh) and
# where the package mirror comes from (tests/lib/debian-mirror.bash); Compose v2
# running the README's own words, `docker compose up control-plane`.

load helpers

setup_file() {
	require_tools helm docker-compose podman-compose
	ensure_images docker
	export COMPOSE_PROJECT_NAME=$PREFIX-v2
}

setup() {
	load_libs
}

teardown() {
	if [ -n "${COMPOSE_UP_PID:-}" ]; then
		(cd "$TOP" && docker compose down -v --remove-orphans) >/dev/null 2>&1 || true
		wait "$COMPOSE_UP_PID" 2>/dev/null || true
	fi
	remove_docker_objects
}

# A root with /etc/os-release of a Debian bookworm machine and the given apt
# files (name=content ...).
apt_root() {
	local root="$BATS_TEST_TMPDIR/root" spec
	mkdir -p "$root/etc/apt/sources.list.d"
	printf 'ID=debian\nVERSION_CODENAME=bookworm\n' >"$root/etc/os-release"
	for spec in "$@"; do
		printf '%b' "${spec#*=}" >"$root/etc/apt/${spec%%=*}"
	done
	echo "$root"
}

mirror_of() { # root
	DEBIAN_MIRROR_ROOT=$1 bash -c '. "$1/tests/lib/debian-mirror.bash" && debian_mirror' _ "$TOP"
}

@test "debian_mirror: the machine's own apt sources, one-line and deb822; security and other suites never count" {
	local root
	root=$(apt_root "sources.list=# deb http://commented.invalid/debian bookworm main\ndeb http://security.invalid/debian-security bookworm-security main\ndeb [arch=amd64 signed-by=/k.gpg] http://one-line.invalid/debian/ bookworm main\n")
	run mirror_of "$root"
	assert_success
	assert_output http://one-line.invalid/debian
	rm "$root/etc/apt/sources.list"
	printf 'Types: deb\nURIs: http://disabled.invalid/debian\nSuites: bookworm\nEnabled: no\n\nTypes: deb-src deb\nURIs:\n http://deb822.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://later.invalid/debian\nSuites: bookworm\n' \
		>"$root/etc/apt/sources.list.d/debian.sources"
	printf 'Types: deb\nURIs: https://third-party.invalid/apt\nSuites: nodistro\n' >"$root/etc/apt/sources.list.d/a-vendor.sources"
	run mirror_of "$root"
	assert_success
	assert_output http://deb822.invalid/debian
}

@test "debian_mirror: DEBIAN_MIRROR wins; no source or a bad value is a clear error" {
	local root
	root=$(apt_root "sources.list=deb http://one-line.invalid/debian bookworm main\n")
	DEBIAN_MIRROR=https://override.invalid/debian/ run mirror_of "$root"
	assert_success
	assert_output https://override.invalid/debian
	DEBIAN_MIRROR=ftp://override.invalid/debian run mirror_of "$root"
	assert_failure 2
	assert_output --partial "DEBIAN_MIRROR='ftp://override.invalid/debian' is not an http:// or https:// URL"
	printf 'deb http://security.invalid/debian-security bookworm-security main\n' >"$root/etc/apt/sources.list"
	run mirror_of "$root"
	assert_failure 1
	assert_output --partial "no Debian mirror: no 'deb' source for suite 'bookworm'"
	assert_output --partial "set DEBIAN_MIRROR=URL"
	printf 'ID=ubuntu\nVERSION_CODENAME=noble\n' >"$root/etc/os-release"
	run mirror_of "$root"
	assert_failure 1
	assert_output --partial "this machine is not Debian"
}

@test "build-base-images.sh: a bad DEBIAN_MIRROR stops a debootstrap with 64, before anything is built" {
	# An empty cache: the rootfs would have to be debootstrapped.
	K3S_SANDBOX_CACHE=$BATS_TEST_TMPDIR/cache FORCE=1 ENGINES=docker IMAGES=debian DEBIAN_MIRROR=nope \
		run "$TOP/tests/lib/build-base-images.sh"
	assert_failure 64
	assert_output --partial "DEBIAN_MIRROR='nope' is not an http:// or https:// URL"
	assert_output --partial "build-base-images: rootfs: cannot debootstrap without a package mirror"
	refute_output --partial "debootstrap --variant"
}

@test "build-tools.sh: bad settings exit 64 naming the setting" {
	TOOLS=kubectl run "$TOP/tests/lib/build-tools.sh"
	assert_failure 64
	assert_output "build-tools: TOOLS: unknown tool 'kubectl' (runsc, helm, compose, actionlint, libmnl, arm64-libs, kubernetes, containerd, etcd)"
	FORCE=yes run "$TOP/tests/lib/build-tools.sh"
	assert_failure 64
	assert_output "build-tools: FORCE must be 0 or 1, not 'yes'"
	TOOLS_DESTDIR=relative/dir run "$TOP/tests/lib/build-tools.sh"
	assert_failure 64
	assert_output "build-tools: TOOLS_DESTDIR must be an absolute path, not 'relative/dir'"
}

@test "build-tools.sh: a failed download fails the run and names the step" {
	local tmp=$BATS_TEST_TMPDIR
	# Empty caches, and no way to the module proxy.
	TOOLS=runsc GOPROXY=off GOMODCACHE=$tmp/gomod K3S_SANDBOX_CACHE=$tmp/cache TOOLS_DESTDIR=$tmp/dest \
		run "$TOP/tests/lib/build-tools.sh"
	assert_failure 1
	assert_output --regexp 'build-tools: runsc: go mod download gvisor\.dev/gvisor@v0\.0\.0-[0-9a-f-]+ failed after [0-9]+ s \(full log: '
	assert_output --partial "module lookup disabled by GOPROXY=off"
	assert_file_not_exists "$tmp/dest/usr/local/lib/k3s-sandbox/runsc-current"
	# A mirror that does not answer.
	TOOLS=compose DEBIAN_MIRROR=http://127.0.0.1:9/debian K3S_SANDBOX_CACHE=$tmp/cache TOOLS_DESTDIR=$tmp/dest \
		run "$TOP/tests/lib/build-tools.sh"
	assert_failure 1
	assert_output --partial "build-tools: compose: apt-get update (trixie only, private lists) failed after"
	assert_file_not_exists "$tmp/dest/usr/local/lib/docker/cli-plugins/docker-compose"
	chmod -R u+w "$tmp/gomod" 2>/dev/null || true
}

@test "build-tools.sh: a second run takes every tool from the cache, in seconds" {
	local dest="$BATS_TEST_TMPDIR/dest" start=$SECONDS
	TOOLS_DESTDIR=$dest run "$TOP/tests/lib/build-tools.sh"
	assert_success
	local took=$((SECONDS - start))
	assert_line --regexp '^build-tools: runsc v0\.0\.0-[0-9]{14}-[0-9a-f]{12}: cached in /'
	assert_line --regexp '^build-tools: helm v3\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: compose 2\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: actionlint v1\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: libmnl 1\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: arm64-libs 1\.[0-9.]+-2\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: kubernetes v1\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: containerd v2\.[0-9.]+: cached in /'
	assert_line --regexp '^build-tools: etcd v3\.[0-9.]+: cached in /'
	refute_output --partial "building"
	[ "$took" -le 10 ] || fail_loudly "a cached run took ${took}s"
	assert_file_executable "$dest/usr/local/lib/k3s-sandbox/runsc-current"
	assert_file_executable "$dest/usr/local/bin/helm"
	assert_file_executable "$dest/usr/local/lib/docker/cli-plugins/docker-compose"
	assert_file_executable "$dest/usr/local/bin/actionlint"
	assert_file_exists "$dest/usr/local/lib/k3s-sandbox/static-libs/libmnl.a"
	assert_file_exists "$dest/usr/local/lib/k3s-sandbox/arm64-libs/lib/libmnl.a"
	assert_file_exists "$dest/usr/local/lib/k3s-sandbox/arm64-libs/lib/libjansson.a"
	assert_file_exists "$dest/usr/local/lib/k3s-sandbox/arm64-libs/include/jansson.h"
	local part
	for part in kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler kubectl containerd containerd-shim-runc-v2 ctr etcd; do
		assert_file_executable "$dest/usr/local/lib/k3s-sandbox/real-parts/$part"
	done
}

@test "installed: runsc-current beside Debian's runsc, helm v3, Compose v2 plugin, docker-compose v1, podman-compose" {
	run /usr/local/lib/k3s-sandbox/runsc-current --version
	assert_success
	assert_line --regexp '^runsc version go-[0-9]{14}-[0-9a-f]{12}$'
	run /usr/bin/runsc --version
	assert_line --regexp '^runsc version 0\.0~'
	run helm version --short
	assert_success
	assert_output --regexp '^v3\.[0-9]+\.[0-9]+$'
	run docker compose version --short
	assert_success
	assert_output --regexp '^v?2\.[0-9]+\.[0-9]+'
	run docker-compose version --short
	assert_success
	assert_output --regexp '^1\.(2[7-9]|[3-9][0-9])\.'
	run podman-compose version
	assert_success
	assert_output --regexp 'podman-compose(r)? version +1\.'
	# The static libmnl the tests' static build of the init links with.
	run ar t /usr/local/lib/k3s-sandbox/static-libs/libmnl.a
	assert_success
	assert_line socket.o
}

@test "the binary under test is the static build (a static libmnl is installed)" {
	run file -b "$K3S_INIT"
	assert_success
	assert_output --partial "statically linked"
}

@test "Docker runtimes: runsc and runsc-host (Debian's), runsc-current (netstack) and runsc-current-netraw" {
	local runtimes
	runtimes=$("$DOCKER" info --format '{{json .Runtimes}}')
	assert_equal "$(jq -c '.runsc' <<<"$runtimes")" '{"path":"/usr/bin/runsc","runtimeArgs":["--network=none"]}'
	assert_equal "$(jq -c '.["runsc-host"]' <<<"$runtimes")" '{"path":"/usr/bin/runsc","runtimeArgs":["--network=host"]}'
	assert_equal "$(jq -c '.["runsc-current"]' <<<"$runtimes")" \
		'{"path":"/usr/local/lib/k3s-sandbox/runsc-current","runtimeArgs":["--network=sandbox"]}'
	assert_equal "$(jq -c '.["runsc-current-netraw"]' <<<"$runtimes")" \
		'{"path":"/usr/local/lib/k3s-sandbox/runsc-current","runtimeArgs":["--network=sandbox","--net-raw"]}'
}

@test "Compose v2: the README's 'docker compose up control-plane' prints the ready line; down -v removes everything" {
	local out="$BATS_TEST_TMPDIR/kubeconfig" log="$BATS_TEST_TMPDIR/compose-up.log" c
	make_output_dir "$out"
	export CONTROL_PLANE_IMAGE=$CP_IMAGE KUBECONFIG_DIR=$out K3S_API_PORT=36445
	# Word for word, in the checkout, in the foreground (its output is the
	# user's terminal); the project name comes from COMPOSE_PROJECT_NAME.
	(cd "$TOP" && exec docker compose up control-plane) >"$log" 2>&1 &
	COMPOSE_UP_PID=$!
	wait_until 120 grep -qF "k3s-init: ready: Kubernetes API at https://127.0.0.1:$K3S_API_PORT" "$log" ||
		{ cat "$log" >&2; false; }
	c=$COMPOSE_PROJECT_NAME-control-plane-1
	wait_until 60 docker_healthy "$c" || { cat "$log" >&2; false; }
	assert_kubeconfig "$out/kubeconfig.yaml" "https://127\\.0\\.0\\.1:$K3S_API_PORT"
	assert_kubeconfig "$out/kubeconfig-internal.yaml" 'https://control-plane:6443'
	wait_until 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$K3S_API_PORT"
	(cd "$TOP" && docker compose down -v)
	wait "$COMPOSE_UP_PID" || true
	COMPOSE_UP_PID=
	run "$DOCKER" ps -aq --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
	run "$DOCKER" volume ls -q --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
	run "$DOCKER" network ls -q --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
}
