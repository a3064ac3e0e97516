# Shared by tests/images/*.bats: names, image builds (once per run and engine),
# polling, and cleanup of everything this suite creates. Every container,
# image, volume, network and compose project is named k3s-sandbox-test-img*.
# shellcheck shell=bash disable=SC2034

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
PREFIX=k3s-sandbox-test-img
CP_IMAGE=$PREFIX/control-plane:local
WORKER_IMAGE=$PREFIX/worker:local
BASE_IMAGE=k3s-sandbox-test/k3s:local
DOCKER=/usr/bin/docker
[ -x "$DOCKER" ] || DOCKER=docker
PODMAN=(podman --storage-driver vfs)
# This machine's hard open-file limit; the compose default (20000) fits it.
export K3S_NOFILE=${K3S_NOFILE:-20000}

load_libs() {
	load /usr/lib/bats/bats-support/load
	load /usr/lib/bats/bats-assert/load
	load /usr/lib/bats/bats-file/load
}

fail_loudly() {
	echo "$*" >&2
	return 1
}

require_tools() {
	local tool
	for tool in "$@"; do
		command -v "$tool" >/dev/null || fail_loudly "required tool '$tool' is missing (tests/lib/setup-host.sh installs it)"
	done
}

# The build context: the working tree's sources, copied under umask 077 (files
# 0600, directories 0700), the checkout a user with a strict umask has. The
# images must come out with the usual modes anyway (build.bats checks). What
# is copied is what .dockerignore lets into the context ("!name" lines).
strict_umask_context() {
	local ctx="$BATS_RUN_TMPDIR/$PREFIX-context" sources=() name
	[ -d "$ctx" ] && { echo "$ctx"; return 0; }
	while IFS= read -r name; do
		sources+=("$TOP/$name")
	done < <(sed -n 's|^!\(.*[^/]\)/*$|\1|p' "$TOP/.dockerignore")
	[ "${#sources[@]}" -gt 0 ] || fail_loudly "no '!name' entries in $TOP/.dockerignore" || return 1
	(
		umask 077
		mkdir "$ctx" &&
			cp -r "${sources[@]}" "$TOP/.dockerignore" "$TOP/Dockerfile.control-plane" "$TOP/Dockerfile.worker" "$ctx/"
	) || fail_loudly "cannot copy the build context to $ctx"
	echo "$ctx"
}

# Local bases (debootstrapped Debian, toolchain, stand-in k3s), then our two
# images, built once per bats run and engine; later files reuse them.
ensure_images() { # engine
	local engine=$1 stamp="$BATS_RUN_TMPDIR/$PREFIX-built-$1" ctx
	[ -e "$stamp" ] && return 0
	ctx=$(strict_umask_context) || return 1
	ENGINES=$engine "$TOP/tests/lib/build-base-images.sh" >&3 2>&1 ||
		fail_loudly "tests/lib/build-base-images.sh failed for $engine"
	ENGINE=$engine LOCAL_BASES=1 IMAGE_PREFIX=$PREFIX TAG=local CONTEXT=$ctx \
		"$TOP/tests/lib/build-images.sh" >&3 2>&1 ||
		fail_loudly "tests/lib/build-images.sh failed for $engine"
	touch "$stamp"
}

# wait_until SECONDS COMMAND...: poll every 0.5 s; fail with the command named.
wait_until() {
	local limit=$1 start=$SECONDS
	shift
	until "$@" >/dev/null 2>&1; do
		if [ $((SECONDS - start)) -ge "$limit" ]; then
			echo "gave up after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.5
	done
}

docker_health() { # container
	"$DOCKER" inspect -f '{{.State.Health.Status}}' "$1" 2>/dev/null
}

docker_healthy() { # container
	[ "$(docker_health "$1")" = healthy ]
}

podman_healthy() { # container: podman runs the healthcheck on request here (no systemd timers)
	"${PODMAN[@]}" healthcheck run "$1" >/dev/null 2>&1
}

logs_have() { # engine container text
	local out
	if [ "$1" = podman ]; then
		out=$("${PODMAN[@]}" logs "$2" 2>&1)
	else
		out=$("$DOCKER" logs "$2" 2>&1)
	fi
	grep -qF -- "$3" <<<"$out"
}

# A directory owned by an unprivileged uid, to prove the kubeconfig's chown.
make_output_dir() { # path
	mkdir -p "$1"
	chown 1000:1000 "$1"
	chmod 0755 "$1"
}

# The three facts every kubeconfig test checks.
assert_kubeconfig() { # file server
	assert_file_exists "$1"
	[ "$(stat -c '%a %u %g' "$1")" = "600 1000 1000" ] ||
		fail_loudly "$1: mode/owner $(stat -c '%a %u %g' "$1"), want 600 1000 1000"
	grep -qE "^ +server: $2\$" "$1" || fail_loudly "$1 does not point at $2: $(grep server: "$1")"
	grep -q 'certificate-authority-data\|client-certificate-data\|users:' "$1" ||
		fail_loudly "$1 does not look like a kubeconfig"
}

# The anonymous volumes (the image's VOLUMEs: 64 hex digits) that containers
# mount. Removing a container without -v (`docker-compose down`, `rm`,
# scaling down) leaves them behind.
anonymous_volumes() { # command words... -- container...
	local cli=()
	while [ "$#" -gt 0 ] && [ "$1" != -- ]; do
		cli+=("$1")
		shift
	done
	shift
	[ "$#" -gt 0 ] || return 0
	"${cli[@]}" inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{println .Name}}{{end}}{{end}}' "$@" |
		grep -E '^[0-9a-f]{64}$' || true
}

# A podman-compose project down with every volume: podman-compose 1.0 removes
# containers without -v (their anonymous volumes stay) and only the named
# volumes with `down -v`, so the containers go first, with theirs.
podman_compose_down() { # project [compose args...]
	local project=$1 ids
	shift
	mapfile -t ids < <("${PODMAN[@]}" ps -aq --filter "label=io.podman.compose.project=$project" 2>/dev/null)
	[ "${#ids[@]}" -eq 0 ] || "${PODMAN[@]}" rm -f -v "${ids[@]}" >/dev/null
	podman-compose -f "$TOP/compose.yaml" "$@" -p "$project" down -v >/dev/null 2>&1
}

remove_objects() { # command words... : containers, volumes, networks named $PREFIX*
	local ids
	mapfile -t ids < <("$@" ps -aq --filter "name=$PREFIX" 2>/dev/null)
	[ "${#ids[@]}" -eq 0 ] || "$@" rm -f -v "${ids[@]}" >/dev/null 2>&1 || true
	mapfile -t ids < <("$@" volume ls -q --filter "name=$PREFIX" 2>/dev/null)
	[ "${#ids[@]}" -eq 0 ] || "$@" volume rm -f "${ids[@]}" >/dev/null 2>&1 || true
	mapfile -t ids < <("$@" network ls -q --filter "name=$PREFIX" 2>/dev/null)
	[ "${#ids[@]}" -eq 0 ] || "$@" network rm "${ids[@]}" >/dev/null 2>&1 || true
}

remove_docker_objects() {
	remove_objects "$DOCKER"
}

remove_podman_objects() {
	remove_objects "${PODMAN[@]}"
}
