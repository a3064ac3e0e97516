#!/usr/bin/env bats
# compose.yaml end to end with a real Kubernetes control plane: the
# control-plane image under test with `k3s server` assembled from real etcd,
# kube-apiserver, kube-controller-manager and kube-scheduler v1.34.3, the
# pin's Kubernetes version (tests/fixtures/real-parts/server.sh: k3s itself
# cannot be built here), and the worker image with `k3s agent` from real
# containerd, runc, kubelet and kube-proxy. kubectl v1.34.3 and helm v3 run
# on the host with the kubeconfig the init exports, as a user runs them.
#   - Compose v2, the README's words: the ready line means ready (kubectl
#     works on the first try after it, three fresh starts);
#   - readyz, a namespace, a CRD established and a custom resource,
#     `kubectl apply --dry-run=server`; `helm install` of tests/fixtures/chart:
#     its objects are accepted and its pod stays Pending (no node);
#   - kubeconfig-internal.yaml from another container on the compose network
#     (the API's certificate names the service: tls-san);
#   - stop within the grace period, status 0; with docker-compose v1: down
#     then up, restart, kill -9 then up keep an object and the token, down -v
#     clears both;
#   - a worker (runc): the node is Ready, a pod runs to completion from a
#     preloaded image and its logs are read back, `helm install --wait` of
#     the chart succeeds once its pod is Ready;
#   - `--scale worker=2`: two nodes Ready, each with its own pod subnet, and
#     a pod on one reaches a ClusterIP Service backed by a pod on the other
#     (kube-proxy's rules, pod routes between the worker containers as
#     flannel's host-gw backend sets them: flannel itself is not built here);
#   - under gVisor, Debian's runsc and the current one, and under Podman with
#     podman-compose: the API is ready;
#   - a bad K3S_INIT_* value stops the container with the init's message,
#     and so does a worker's K3S_TOKEN that is not the control-plane's.
# The tests run in order and build on each other within one compose project.

load helpers

PARTS=/usr/local/lib/k3s-sandbox/real-parts
REAL_CP_IMAGE=k3s-sandbox-test/real-control-plane:local
REAL_WORKER_IMAGE=k3s-sandbox-test/real-worker:local

setup_file() {
	local part
	require_tools docker-compose podman-compose helm runsc
	docker compose version >/dev/null 2>&1 || fail_loudly "the Compose v2 plugin is missing (tests/lib/setup-host.sh installs it)"
	for part in kube-apiserver kube-controller-manager kube-scheduler etcd kubectl kubelet containerd; do
		[ -x "$PARTS/$part" ] || fail_loudly "$PARTS/$part is missing (tests/lib/setup-host.sh builds it)"
	done
	ensure_images docker
	export PRELOAD="$BATS_FILE_TMPDIR/preload"
	mkdir -p "$PRELOAD"
	IMAGES="control-plane worker pod-images" PRELOAD_DIR=$PRELOAD WORKER_IMAGE=$WORKER_IMAGE \
		CONTROL_PLANE_IMAGE=$CP_IMAGE "$TOP/tests/lib/build-real-parts.sh" >&3 2>&1 ||
		fail_loudly "tests/lib/build-real-parts.sh failed"
	export COMPOSE_PROJECT_NAME=$PREFIX-real CONTROL_PLANE_IMAGE=$REAL_CP_IMAGE
	export KUBECONFIG_DIR="$BATS_FILE_TMPDIR/kubeconfig" K3S_API_PORT=36446
	export KUBECONFIG="$KUBECONFIG_DIR/kubeconfig.yaml"
	make_output_dir "$KUBECONFIG_DIR"
	# What a user adds to preload images on the workers: the agent imports
	# every tarball in agent/images/ at start.
	export PRELOAD_COMPOSE="$BATS_FILE_TMPDIR/preload.yaml"
	cat >"$PRELOAD_COMPOSE" <<EOF
services:
  worker:
    volumes:
      - $PRELOAD:/var/lib/rancher/k3s/agent/images:ro
EOF
}

teardown_file() {
	compose_v2 down -v --remove-orphans >/dev/null 2>&1 || true
	remove_docker_objects
	podman_compose_down "$PREFIX-real-podman" || true
	remove_podman_objects
}

setup() {
	load_libs
}

# WORKER_IMAGE is given here: helpers.bash names the plain worker image so.
compose_v2() {
	(cd "$TOP" && WORKER_IMAGE=$REAL_WORKER_IMAGE exec docker compose -f compose.yaml -f "$PRELOAD_COMPOSE" "$@")
}

compose_v1() {
	WORKER_IMAGE=$REAL_WORKER_IMAGE docker-compose -f "$TOP/compose.yaml" -f "$PRELOAD_COMPOSE" "$@"
}

kubectl() {
	"$PARTS/kubectl" --request-timeout=20s "$@"
}

# `down` without -v: the named volumes (the state) stay, and so would the
# containers' anonymous ones (the images' other VOLUMEs): those are removed
# here, so that the run leaves none.
down_keeping_state() { # compose_v1|compose_v2
	local ids anonymous
	mapfile -t ids < <("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME")
	mapfile -t anonymous < <(anonymous_volumes "$DOCKER" -- "${ids[@]}")
	"$1" down
	[ "${#anonymous[@]}" -eq 0 ] || "$DOCKER" volume rm "${anonymous[@]}" >/dev/null
}

control_plane() {
	"$DOCKER" ps -q --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
		--filter "label=com.docker.compose.service=control-plane"
}

token() {
	"$DOCKER" exec "$(control_plane)" cat /var/lib/k3s-sandbox/token
}

# The ready line of a start after SINCE (a `date +%s` figure), in the
# container's own log.
ready_line_since() { # since
	"$DOCKER" logs --since "$1" "$(control_plane)" 2>&1 | grep -qF "k3s-init: ready: Kubernetes API at"
}

# kubectl's first try, once: no retry, so that a ready line printed too early
# fails the test.
assert_first_try() {
	run kubectl get --raw=/readyz
	assert_success
	assert_output ok
	run kubectl get namespace default -o 'jsonpath={.status.phase}'
	assert_success
	assert_output Active
}

# After a start of the control-plane at SINCE: the ready line, then kubectl
# at once; the namespace of the earlier tests is still there.
assert_state_kept() { # since token-before
	wait_until 180 ready_line_since "$1" || { "$DOCKER" logs --tail 40 "$(control_plane)" >&2; false; }
	assert_first_try
	assert_equal "$(token)" "$2"
	run kubectl get namespace kept -o 'jsonpath={.metadata.labels.k3s-sandbox-test}'
	assert_success
	assert_output kept
}

@test "docker compose up control-plane: from the ready line kubectl works on the first try (three fresh starts)" {
	local start log ready
	for start in 1 2 3; do
		log="$BATS_TEST_TMPDIR/up-$start.log"
		# The README's words, in the foreground, its output the user's terminal.
		(cd "$TOP" && exec docker compose up control-plane) >"$log" 2>&1 3>&- &
		local up=$! began=$SECONDS
		wait_until 180 grep -qF "k3s-init: ready: Kubernetes API at https://127.0.0.1:$K3S_API_PORT" "$log" ||
			{ cat "$log" >&2; false; }
		ready=$((SECONDS - began))
		assert_first_try
		echo "# start $start: ready line after ${ready} s" >&3
		compose_v2 down -v >/dev/null 2>&1
		wait "$up" || true
	done
	run "$DOCKER" volume ls -q --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
}

@test "the exported kubeconfig: readyz, a namespace, a CRD established, a custom resource, apply --dry-run=server" {
	compose_v2 up -d --no-build control-plane
	wait_until 180 ready_line_since 0 || { compose_v2 logs control-plane >&2; false; }
	assert_kubeconfig "$KUBECONFIG" "https://127\\.0\\.0\\.1:$K3S_API_PORT"
	assert_first_try
	kubectl create namespace kept
	kubectl label namespace kept k3s-sandbox-test=kept
	kubectl apply -f - <<'EOF'
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.demo.k3s-sandbox.test
spec:
  group: demo.k3s-sandbox.test
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer}
EOF
	kubectl wait --for condition=established --timeout=60s crd/widgets.demo.k3s-sandbox.test
	kubectl -n kept apply -f - <<'EOF'
apiVersion: demo.k3s-sandbox.test/v1
kind: Widget
metadata: {name: first}
spec: {size: 3}
EOF
	run kubectl -n kept get widget first -o 'jsonpath={.spec.size}'
	assert_success
	assert_output 3
	# The schema is enforced by the real API server.
	run kubectl -n kept apply -f - <<<'{"apiVersion":"demo.k3s-sandbox.test/v1","kind":"Widget","metadata":{"name":"bad"},"spec":{"size":"three"}}'
	assert_failure
	assert_output --partial 'spec.size'
	run kubectl -n kept apply --dry-run=server -f - <<<'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dry"},"data":{"k":"v"}}'
	assert_success
	assert_output 'configmap/dry created (server dry run)'
	run kubectl -n kept get configmap dry
	assert_failure
	assert_output --partial 'NotFound'
}

@test "helm install of the tests' chart: its objects are accepted, its pod stays Pending without a node" {
	helm install demo "$TOP/tests/fixtures/chart" --namespace charts --create-namespace
	run helm status demo --namespace charts -o json
	assert_success
	assert_equal "$(jq -r .info.status <<<"$output")" deployed
	kubectl -n charts get deployment/demo-demo service/demo-demo configmap/demo-demo
	# The controller manager makes the pod, the scheduler finds no node for it.
	unschedulable() {
		[ "$(kubectl -n charts get pods -l app.kubernetes.io/instance=demo \
			-o 'jsonpath={.items[0].status.phase}/{.items[0].status.conditions[?(@.type=="PodScheduled")].reason}')" = Pending/Unschedulable ]
	}
	wait_until 60 unschedulable || { kubectl -n charts get pods -o wide >&2; false; }
}

@test "kubeconfig-internal.yaml works from another container on the compose network" {
	assert_kubeconfig "$KUBECONFIG_DIR/kubeconfig-internal.yaml" 'https://control-plane:6443'
	run "$DOCKER" run --rm --network "${COMPOSE_PROJECT_NAME}_default" -v "$KUBECONFIG_DIR:/kubeconfig:ro" \
		--entrypoint kubectl "$REAL_CP_IMAGE" --kubeconfig /kubeconfig/kubeconfig-internal.yaml get --raw=/readyz
	assert_success
	assert_output ok
}

@test "docker compose stop ends the control-plane within its grace period, with status 0" {
	local c began
	c=$(control_plane)
	began=$SECONDS
	compose_v2 stop control-plane
	echo "# docker compose stop took $((SECONDS - began)) s" >&3
	[ $((SECONDS - began)) -lt 30 ] || fail_loudly "stop took $((SECONDS - began)) s (grace period 30 s)"
	assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")" 0
	"$DOCKER" logs "$c" 2>&1 | grep -qF 'Received SIGTERM, shutting down'
	down_keeping_state compose_v2
}

@test "docker-compose v1: down then up, restart, kill -9 then up keep the state and the token; down -v clears them" {
	local since before
	before=$("$DOCKER" run --rm -v "${COMPOSE_PROJECT_NAME}_k3s-token:/t:ro" --entrypoint cat "$REAL_CP_IMAGE" /t/token)
	since=$(date +%s)
	compose_v1 up -d --no-build control-plane
	assert_state_kept "$since" "$before"
	sleep 1
	since=$(date +%s)
	compose_v1 restart control-plane
	assert_state_kept "$since" "$before"
	"$DOCKER" kill -s KILL "$(control_plane)"
	sleep 1
	since=$(date +%s)
	compose_v1 up -d --no-build control-plane
	assert_state_kept "$since" "$before"
	down_keeping_state compose_v1
	sleep 1
	since=$(date +%s)
	compose_v1 up -d --no-build control-plane
	assert_state_kept "$since" "$before"
	compose_v1 down -v
	sleep 1
	since=$(date +%s)
	compose_v1 up -d --no-build control-plane
	wait_until 180 ready_line_since "$since"
	assert_first_try
	[ "$(token)" != "$before" ] || fail_loudly "down -v kept the token"
	run kubectl get namespace kept
	assert_failure
	assert_output --partial NotFound
	compose_v1 down -v
}

@test "docker compose up -d: a real worker is Ready, a pod runs to completion, helm install --wait succeeds" {
	compose_v2 up -d --no-build
	wait_until 180 ready_line_since 0 || { compose_v2 logs control-plane >&2; false; }
	node_ready() {
		[ "$(kubectl get nodes -o 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}')" = True ]
	}
	wait_until 240 node_ready || { compose_v2 logs --tail 60 worker >&2; kubectl get nodes -o wide >&2; false; }
	# Admission wants the namespace's default ServiceAccount, which the
	# controller manager makes shortly after the first start.
	wait_until 60 kubectl get serviceaccount default
	kubectl apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: once}
spec:
  restartPolicy: Never
  containers:
    - name: once
      image: docker.io/k3s-sandbox-test/busybox:local
      imagePullPolicy: Never
      command: ["sh", "-c", "echo hello from a pod on $(hostname)"]
EOF
	succeeded() { [ "$(kubectl get pod once -o 'jsonpath={.status.phase}')" = Succeeded ]; }
	wait_until 180 succeeded || { kubectl describe pod once >&2; compose_v2 logs --tail 60 worker >&2; false; }
	run kubectl logs once
	assert_success
	assert_output 'hello from a pod on once'
	run helm install ready "$TOP/tests/fixtures/chart" --namespace charts --create-namespace --wait --timeout 180s
	assert_success
	run kubectl -n charts get pods -l app.kubernetes.io/instance=ready \
		-o 'jsonpath={.items[0].status.conditions[?(@.type=="Ready")].status}'
	assert_output True
	run kubectl -n charts logs deployment/ready-demo
	assert_output 'hello from the demo chart'
	compose_v2 down -v
	run "$DOCKER" volume ls -q --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
}

@test "docker compose up -d --scale worker=2: two nodes Ready, a pod on one reaches a Service backed by a pod on the other" {
	local -a nodes
	local cluster_ip
	compose_v2 up -d --no-build --scale worker=2
	wait_until 180 ready_line_since 0 || { compose_v2 logs control-plane >&2; false; }
	two_nodes_ready() {
		[ "$(kubectl get nodes -o 'jsonpath={range .items[*]}{.status.conditions[?(@.type=="Ready")].status} {end}')" = "True True " ]
	}
	wait_until 240 two_nodes_ready || { compose_v2 logs --tail 40 worker >&2; kubectl get nodes -o wide >&2; false; }
	mapfile -t nodes < <(kubectl get nodes -o 'jsonpath={range .items[*]}{.metadata.name}{"\n"}{end}')
	assert_equal "${#nodes[@]}" 2
	wait_until 60 kubectl get serviceaccount default
	# The server on the first node, the client on the second: the request
	# crosses from one worker container to the other.
	kubectl apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  nodeName: ${nodes[0]}
  containers:
    - name: web
      image: docker.io/k3s-sandbox-test/busybox:local
      imagePullPolicy: Never
      command: ["sh", "-c", "mkdir /www && echo served on ${nodes[0]} >/www/index.html && exec httpd -f -p 8080 -h /www"]
      readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
EOF
	web_ready() { [ "$(kubectl get pod web -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]; }
	wait_until 120 web_ready || { kubectl describe pod web >&2; compose_v2 logs --tail 40 worker >&2; false; }
	cluster_ip=$(kubectl get service web -o 'jsonpath={.spec.clusterIP}')
	# kube-proxy on the second node writes the Service's rules within a
	# second or two of the endpoint; the client tries for 30 s. HTTP by
	# hand with nc: the static busybox's wget crashes (status 139) in pods.
	kubectl apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: client}
spec:
  nodeName: ${nodes[1]}
  restartPolicy: Never
  containers:
    - name: client
      image: docker.io/k3s-sandbox-test/busybox:local
      imagePullPolicy: Never
      command: ["sh", "-c", "for i in \$(seq 30); do printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $cluster_ip 80 | grep '^served on ' && exit 0; sleep 1; done; exit 1"]
EOF
	client_done() { case $(kubectl get pod client -o 'jsonpath={.status.phase}') in Succeeded | Failed) true ;; *) false ;; esac; }
	wait_until 120 client_done || { kubectl describe pod client >&2; false; }
	run kubectl get pod client -o 'jsonpath={.status.phase}'
	if [ "$output" != Succeeded ]; then
		kubectl logs client >&2 || true
		kubectl get pods -o wide >&2
		compose_v2 logs --tail 40 worker >&2
	fi
	assert_output Succeeded
	run kubectl logs client
	assert_output "served on ${nodes[0]}"
	# Each node's pods come from its own subnet.
	run kubectl get nodes -o 'jsonpath={range .items[*]}{.spec.podCIDR} {end}'
	assert_output --regexp '^10\.42\.[0-9]+\.0/24 10\.42\.[0-9]+\.0/24 $'
	[ "$(kubectl get node "${nodes[0]}" -o 'jsonpath={.spec.podCIDR}')" != "$(kubectl get node "${nodes[1]}" -o 'jsonpath={.spec.podCIDR}')" ]
	compose_v2 down -v
	run "$DOCKER" volume ls -q --filter "name=$COMPOSE_PROJECT_NAME"
	assert_output ''
}

@test "under gVisor, Debian's runsc (no network) and the current one (netstack): the API is ready, kubectl works, SIGTERM stops it" {
	local debian=$PREFIX-real-runsc current=$PREFIX-real-runsc-current c began
	make_output_dir "$BATS_TEST_TMPDIR/debian"
	make_output_dir "$BATS_TEST_TMPDIR/current"
	# Both at once: each start is slower inside the sandbox.
	"$DOCKER" run -d --name "$debian" --runtime runsc --tmpfs /run --tmpfs /var/run \
		-v "$BATS_TEST_TMPDIR/debian:/output" -e K3S_INIT_KUBECONFIG_DIR=/output "$REAL_CP_IMAGE" >/dev/null
	"$DOCKER" run -d --name "$current" --runtime runsc-current -p 127.0.0.1:36447:6443 --tmpfs /run --tmpfs /var/run \
		-v "$BATS_TEST_TMPDIR/current:/output" -e K3S_INIT_KUBECONFIG_DIR=/output \
		-e K3S_INIT_KUBECONFIG_SERVER=https://127.0.0.1:36447 "$REAL_CP_IMAGE" >/dev/null
	for c in "$debian" "$current"; do
		wait_until 240 logs_have docker "$c" "k3s-init: ready: Kubernetes API at" ||
			{ "$DOCKER" logs --tail 40 "$c" >&2; false; }
		wait_until 60 docker_healthy "$c"
	done
	# Debian's runsc has no network: the exported kubeconfig, used inside.
	run "$DOCKER" exec "$debian" kubectl --kubeconfig /output/kubeconfig.yaml get --raw=/readyz
	assert_output ok
	# The current runsc: from the host, through the published port.
	run kubectl --kubeconfig "$BATS_TEST_TMPDIR/current/kubeconfig.yaml" get --raw=/readyz
	assert_output ok
	kubectl --kubeconfig "$BATS_TEST_TMPDIR/current/kubeconfig.yaml" create namespace in-gvisor
	for c in "$debian" "$current"; do
		began=$SECONDS
		"$DOCKER" stop -t 30 "$c" >/dev/null
		[ $((SECONDS - began)) -lt 30 ] || fail_loudly "$c: docker stop took $((SECONDS - began)) s"
		assert_equal "$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")" 0
		"$DOCKER" rm -v "$c" >/dev/null
	done
}

@test "podman-compose up control-plane (Podman, VFS): the API is ready, kubectl works from the host" {
	local project=$PREFIX-real-podman out="$BATS_TEST_TMPDIR/podman-kubeconfig" c
	# The image goes from Docker to Podman as it is (a docker-format
	# image, HEALTHCHECK included).
	"$DOCKER" save "$REAL_CP_IMAGE" | "${PODMAN[@]}" load -q >/dev/null
	make_output_dir "$out"
	CONTROL_PLANE_IMAGE=localhost/$REAL_CP_IMAGE KUBECONFIG_DIR=$out K3S_API_PORT=36448 \
		podman-compose -f "$TOP/compose.yaml" -p "$project" up -d control-plane
	c=${project}_control-plane_1
	wait_until 180 logs_have podman "$c" "k3s-init: ready: Kubernetes API at https://127.0.0.1:36448" ||
		{ "${PODMAN[@]}" logs --tail 40 "$c" >&2; podman_compose_down "$project"; false; }
	run kubectl --kubeconfig "$out/kubeconfig.yaml" get --raw=/readyz
	assert_output ok
	podman_healthy "$c"
	podman_compose_down "$project"
	remove_podman_objects
}

@test "a bad K3S_INIT_* value stops the real control-plane with the init's message and status 64" {
	run "$DOCKER" run --rm --name "$PREFIX-real-bad" -e K3S_INIT_KUBECONFIG_WAIT=soon "$REAL_CP_IMAGE"
	assert_equal "$status" 64
	assert_output --partial "K3S_INIT_KUBECONFIG_WAIT='soon': expected a whole number of seconds (1..86400)"
	refute_output --partial 'real-parts k3s'
}

@test "a worker given another K3S_TOKEN than the control-plane's stops with the init's message and status 71" {
	local -a oneoff
	compose_v2 up -d --no-build control-plane
	wait_until 180 ready_line_since 0 || { compose_v2 logs control-plane >&2; false; }
	# The control-plane made the cluster token and shares it in the volume
	# k3s-token; this worker is given a token of its own. Bounded: a worker
	# that went on to k3s agent would retry the server for ever.
	run bash -c 'cd "$1" && WORKER_IMAGE=$2 exec timeout 120 docker compose -f compose.yaml -f "$3" \
		run --no-deps -e K3S_TOKEN=not-the-cluster-token worker' - "$TOP" "$REAL_WORKER_IMAGE" "$PRELOAD_COMPOSE"
	mapfile -t oneoff < <("$DOCKER" ps -aq --filter "label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" \
		--filter label=com.docker.compose.oneoff=True)
	[ "${#oneoff[@]}" -eq 0 ] || "$DOCKER" rm -f -v "${oneoff[@]}" >/dev/null
	assert_equal "$status" 71
	assert_output --partial "k3s-init: error: cluster token: K3S_TOKEN is not the token the control-plane shares in /var/lib/k3s-sandbox/token, so the server would refuse this agent"
	refute_output --partial 'real-parts k3s'
	refute_output --partial "$(token)"
	compose_v2 down -v
}
