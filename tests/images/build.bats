#!/usr/bin/env bats
# The two images as built (Docker BuildKit and Podman, VFS, local bases), and
# compose.yaml as the compose tools read it.

load helpers

setup_file() {
	require_tools docker-compose podman-compose podman jq
	ensure_images docker
}

setup() {
	load_libs
}

teardown_file() {
	# podman-compose 1.0 creates a project's network and named volumes even
	# with --dry-run (the podman-compose test below).
	remove_podman_objects
}

config() { # image go-template
	"$DOCKER" image inspect -f "$2" "$1"
}

@test "control-plane image: entrypoint is the init, CMD server, role and k3s version set" {
	assert_equal "$(config "$CP_IMAGE" '{{json .Config.Entrypoint}}')" '["/bin/k3s-init"]'
	assert_equal "$(config "$CP_IMAGE" '{{json .Config.Cmd}}')" '["server"]'
	run config "$CP_IMAGE" '{{range .Config.Env}}{{println .}}{{end}}'
	assert_line "K3S_INIT_ROLE=control-plane"
	assert_line --regexp '^K3S_INIT_K3S_VERSION=v1\.[0-9]+\.[0-9]+-k3s[0-9]+$'
}

@test "worker image: entrypoint is the init, CMD agent, role agent" {
	assert_equal "$(config "$WORKER_IMAGE" '{{json .Config.Entrypoint}}')" '["/bin/k3s-init"]'
	assert_equal "$(config "$WORKER_IMAGE" '{{json .Config.Cmd}}')" '["agent"]'
	run config "$WORKER_IMAGE" '{{range .Config.Env}}{{println .}}{{end}}'
	assert_line "K3S_INIT_ROLE=agent"
}

@test "both images carry the base's PATH, CRI_CONFIG_FILE and VOLUMEs although built FROM scratch" {
	local base_path base_cri base_vols image
	base_path=$(config "$BASE_IMAGE" '{{range .Config.Env}}{{println .}}{{end}}' | grep '^PATH=')
	base_cri=$(config "$BASE_IMAGE" '{{range .Config.Env}}{{println .}}{{end}}' | grep '^CRI_CONFIG_FILE=')
	base_vols=$(config "$BASE_IMAGE" '{{json .Config.Volumes}}')
	for image in "$CP_IMAGE" "$WORKER_IMAGE"; do
		run config "$image" '{{range .Config.Env}}{{println .}}{{end}}'
		assert_line "$base_path"
		assert_line "$base_cri"
		assert_equal "$(config "$image" '{{json .Config.Volumes}}')" "$base_vols"
	done
}

@test "each image is one layer (VFS stores each layer as a full copy)" {
	assert_equal "$(config "$CP_IMAGE" '{{len .RootFS.Layers}}')" 1
	assert_equal "$(config "$WORKER_IMAGE" '{{len .RootFS.Layers}}')" 1
}

@test "image size stays within 5% of the base's" {
	local base cp worker
	base=$(config "$BASE_IMAGE" '{{.Size}}')
	cp=$(config "$CP_IMAGE" '{{.Size}}')
	worker=$(config "$WORKER_IMAGE" '{{.Size}}')
	echo "base $base, control-plane $cp, worker $worker bytes"
	[ "$cp" -le $((base * 105 / 100)) ]
	[ "$worker" -le $((base * 105 / 100)) ]
}

@test "healthchecks: API readyz for the control-plane, kubelet healthz for the worker; STOPSIGNAL SIGTERM" {
	assert_equal "$(config "$CP_IMAGE" '{{json .Config.Healthcheck.Test}}')" '["CMD","/bin/k3s","kubectl","get","--raw=/readyz"]'
	assert_equal "$(config "$WORKER_IMAGE" '{{json .Config.Healthcheck.Test}}')" '["CMD","/bin/k3s-init","health","http://127.0.0.1:10248/healthz"]'
	assert_equal "$(config "$CP_IMAGE" '{{.Config.StopSignal}}')" SIGTERM
	assert_equal "$(config "$WORKER_IMAGE" '{{.Config.StopSignal}}')" SIGTERM
}

@test "OCI labels name the variant, the k3s version and the base" {
	run config "$CP_IMAGE" '{{json .Config.Labels}}'
	assert_output --partial '"org.opencontainers.image.title":"k3s-sandbox control-plane"'
	assert_output --partial "\"org.opencontainers.image.base.name\":\"$BASE_IMAGE\""
	assert_output --regexp '"org.opencontainers.image.version":"v1\.[0-9]+'
	run config "$WORKER_IMAGE" '{{json .Config.Labels}}'
	assert_output --partial '"org.opencontainers.image.title":"k3s-sandbox worker"'
}

# Read a file out of an image without running it; fails when it is absent.
image_file() { # image path
	local c rc=0 dir="$BATS_TEST_TMPDIR/image-file"
	rm -rf "$dir" && mkdir -p "$dir"
	c=$("$DOCKER" create --name "$PREFIX-image-file" "$1") || return 1
	"$DOCKER" cp "$c:$2" "$dir/file" || rc=1
	"$DOCKER" rm -f -v "$c" >/dev/null
	[ "$rc" = 0 ] && cat "$dir/file"
}

@test "config drop-ins: server keys only in the control-plane, agent keys only in the worker" {
	local d=/etc/rancher/k3s/config.yaml.d
	run image_file "$CP_IMAGE" "$d/10-control-plane.yaml"
	assert_success
	assert_line "disable-agent: true"
	assert_line "egress-selector-mode: cluster"
	assert_line "  - control-plane"
	for name in coredns servicelb traefik local-storage metrics-server; do
		assert_line "  - $name"
	done
	run image_file "$WORKER_IMAGE" "$d/10-worker.yaml"
	assert_success
	refute_output --partial "disable"
	refute_output --partial "tls-san"
	refute_output --partial "egress-selector-mode"
	run image_file "$WORKER_IMAGE" "$d/10-control-plane.yaml"
	assert_failure
}

# Modes as "type+permissions path" for the given paths of an image's tree,
# sorted by path.
image_modes() { # image path...
	local image=$1 c
	shift
	c=$("$DOCKER" create --name "$PREFIX-image-modes" "$image") || return 1
	"$DOCKER" export "$c" | tar -tvf - --no-recursion "$@" | awk '{ print $1, $6 }' | sort -k2
	"$DOCKER" rm -v "$c" >/dev/null
}

@test "built from a checkout made under umask 077, the images keep the usual modes" {
	local ctx
	ctx=$(strict_umask_context)
	# The precondition: the context really is strict.
	assert_equal "$(stat -c %a "$ctx/images/control-plane/etc") $(stat -c %a "$ctx/images/worker/etc/rancher/k3s/config.yaml.d/10-worker.yaml")" "700 600"
	local d=etc/rancher/k3s/config.yaml.d
	run image_modes "$CP_IMAGE" etc/ etc/rancher/ etc/rancher/k3s/ "$d/" "$d/10-control-plane.yaml" bin/k3s-init
	assert_success
	assert_output "-rwxr-xr-x bin/k3s-init
drwxr-xr-x etc/
drwxr-xr-x etc/rancher/
drwxr-xr-x etc/rancher/k3s/
drwxr-xr-x $d/
-rw-r--r-- $d/10-control-plane.yaml"
	run image_modes "$WORKER_IMAGE" etc/ "$d/10-worker.yaml"
	assert_success
	assert_output "drwxr-xr-x etc/
-rw-r--r-- $d/10-worker.yaml"
}

@test "the init in the image answers (k3s-init --version)" {
	run "$DOCKER" run --rm --name "$PREFIX-version" "$CP_IMAGE" --version
	assert_success
	assert_output --regexp '[0-9]+\.[0-9]+'
}

@test "both images build with Podman (VFS, docker format keeps HEALTHCHECK)" {
	ensure_images podman
	run "${PODMAN[@]}" image inspect -f '{{json .Config.Healthcheck.Test}} {{.Config.StopSignal}} {{json .Config.Entrypoint}}' "$CP_IMAGE"
	assert_success
	assert_output '["CMD","/bin/k3s","kubectl","get","--raw=/readyz"] SIGTERM ["/bin/k3s-init"]'
	run "${PODMAN[@]}" image inspect -f '{{json .Config.Cmd}} {{len .RootFS.Layers}}' "$WORKER_IMAGE"
	assert_success
	assert_output '["agent"] 1'
}

@test "docker-compose config accepts compose.yaml; services as documented" {
	run docker-compose -f "$TOP/compose.yaml" config
	assert_success
	run docker-compose -f "$TOP/compose.yaml" config --services
	assert_line control-plane
	assert_line worker
	json=$(docker-compose -f "$TOP/compose.yaml" config | /usr/bin/python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))')
	assert_equal "$(jq -r '.services["control-plane"].privileged // false' <<<"$json")" false
	assert_equal "$(jq -r '.services.worker.privileged' <<<"$json")" true
	assert_equal "$(jq -r '.services.worker.depends_on["control-plane"].condition' <<<"$json")" service_healthy
	# --scale needs no fixed names and no host ports on the worker.
	assert_equal "$(jq -r '.services.worker.container_name // "none"' <<<"$json")" none
	assert_equal "$(jq -r '.services.worker.ports // "none"' <<<"$json")" none
	# No fixed token anywhere.
	run grep -n 'K3S_TOKEN=.\|K3S_TOKEN: *[^ ]' "$TOP/compose.yaml"
	assert_failure
}

@test "compose pins the same k3s image as the Dockerfiles" {
	local pin
	pin=$(sed -n 's/^ARG K3S_VERSION=//p' "$TOP/Dockerfile.control-plane")
	assert_equal "$(sed -n 's/^ARG K3S_VERSION=//p' "$TOP/Dockerfile.worker")" "$pin"
	run docker-compose -f "$TOP/compose.yaml" config
	assert_output --partial "K3S_IMAGE: rancher/k3s:$pin"
}

@test "podman-compose 1.0 reads compose.yaml (dry run) with the variables expanded" {
	run env CONTROL_PLANE_IMAGE="$CP_IMAGE" KUBECONFIG_DIR=/nonexistent-$PREFIX \
		podman-compose -f "$TOP/compose.yaml" -p "$PREFIX-dry" --dry-run up -d control-plane
	assert_success
	assert_output --partial "-v /nonexistent-$PREFIX:/output"
	assert_output --partial "-p 127.0.0.1:6443:6443"
	assert_output --partial "--ulimit nofile=$K3S_NOFILE:$K3S_NOFILE"
	assert_output --partial "--ulimit nproc="
	refute_output --partial '${'
}
