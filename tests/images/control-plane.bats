#!/usr/bin/env bats
# The control-plane image on its own under Docker (runc), Docker (gVisor) and
# Podman: healthy, kubeconfig on the host (0600, owned by the directory's
# owner, https://127.0.0.1:6443), ready line, unprivileged, graceful SIGTERM.

load helpers

setup_file() {
	require_tools runsc podman
	ensure_images docker
	ensure_images podman
}

setup() {
	load_libs
	out="$BATS_TEST_TMPDIR/kubeconfig"
	make_output_dir "$out"
}

teardown() {
	remove_docker_objects
	remove_podman_objects
}

ready_line="k3s-init: ready: Kubernetes API at https://127.0.0.1:6443; kubeconfig written to /output/kubeconfig.yaml"

run_docker_cp() { # name [docker run options...]
	local name=$1
	shift
	"$DOCKER" run -d --name "$name" "$@" --tmpfs /run --tmpfs /var/run \
		-v "$out:/output" -e K3S_INIT_KUBECONFIG_DIR=/output "$CP_IMAGE" >/dev/null
}

# docker stop with a 30 s grace period must return well before it, exit 0.
assert_graceful_docker_stop() { # container
	local start=$SECONDS
	"$DOCKER" stop -t 30 "$1" >/dev/null
	local took=$((SECONDS - start))
	echo "docker stop took ${took}s"
	[ "$took" -lt 10 ] || fail_loudly "docker stop took ${took}s of a 30s grace period"
	assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$1")" 0
}

@test "Docker (runc): healthy, kubeconfig 0600 owned by the directory's owner, ready line, unprivileged, SIGTERM stops it" {
	local c=$PREFIX-cp-runc
	run_docker_cp "$c"
	wait_until 120 docker_healthy "$c" || { "$DOCKER" logs "$c" >&2; false; }
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}}' "$c")" false
	wait_until 30 test -e "$out/kubeconfig.yaml"
	assert_kubeconfig "$out/kubeconfig.yaml" 'https://127\.0\.0\.1:6443'
	assert_kubeconfig "$out/kubeconfig-internal.yaml" 'https://control-plane:6443'
	logs_have docker "$c" "$ready_line" || { "$DOCKER" logs "$c" >&2; false; }
	# k3s server ran without an agent, from the image's drop-in.
	run "$DOCKER" exec "$c" cat /run/k3s-standin/report
	assert_line --regexp '^flag disable-agent=true'
	assert_line 'result ok'
	assert_graceful_docker_stop "$c"
}

@test "Docker (gVisor runsc): healthy, kubeconfig on the host, ready line, SIGTERM stops it" {
	local c=$PREFIX-cp-runsc
	run_docker_cp "$c" --runtime runsc
	wait_until 180 docker_healthy "$c" || { "$DOCKER" logs "$c" >&2; false; }
	assert_equal "$("$DOCKER" inspect -f '{{.HostConfig.Privileged}} {{.HostConfig.Runtime}}' "$c")" "false runsc"
	wait_until 30 test -e "$out/kubeconfig.yaml"
	assert_kubeconfig "$out/kubeconfig.yaml" 'https://127\.0\.0\.1:6443'
	logs_have docker "$c" "$ready_line" || { "$DOCKER" logs "$c" >&2; false; }
	logs_have docker "$c" "gVisor"
	assert_graceful_docker_stop "$c"
}

@test "Podman (VFS): healthy, kubeconfig on the host, ready line, unprivileged, SIGTERM stops it" {
	local c=$PREFIX-cp-podman
	"${PODMAN[@]}" run -d --name "$c" --tmpfs /run --tmpfs /var/run -v "$out:/output" \
		-e K3S_INIT_KUBECONFIG_DIR=/output "$CP_IMAGE" >/dev/null
	wait_until 120 podman_healthy "$c" || { "${PODMAN[@]}" logs "$c" >&2; false; }
	assert_equal "$("${PODMAN[@]}" inspect -f '{{.HostConfig.Privileged}}' "$c")" false
	wait_until 30 test -e "$out/kubeconfig.yaml"
	assert_kubeconfig "$out/kubeconfig.yaml" 'https://127\.0\.0\.1:6443'
	logs_have podman "$c" "$ready_line" || { "${PODMAN[@]}" logs "$c" >&2; false; }
	local start=$SECONDS
	"${PODMAN[@]}" stop -t 30 "$c" >/dev/null
	[ $((SECONDS - start)) -lt 10 ] || fail_loudly "podman stop took $((SECONDS - start))s"
	assert_equal "$("${PODMAN[@]}" inspect -f '{{.State.ExitCode}}' "$c")" 0
}

@test "a bad K3S_INIT_KUBECONFIG_SERVER stops the container with 64 and a message naming it" {
	local c=$PREFIX-cp-bad
	run_docker_cp "$c" -e 'K3S_INIT_KUBECONFIG_SERVER=http://nope'
	wait_until 30 test "$("$DOCKER" inspect -f '{{.State.Status}}' "$c")" = exited
	assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")" 64
	logs_have docker "$c" "K3S_INIT_KUBECONFIG_SERVER='http://nope'"
	assert_file_not_exists "$out/kubeconfig.yaml"
}
