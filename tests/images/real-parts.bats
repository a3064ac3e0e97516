#!/usr/bin/env bats
# The worker image with real node parts: kubelet v1.34.3 and containerd 2.1.5
# (what k3s v1.34.3 embeds), runc, and the image's own k3s-init, which runs
# them as it runs k3s (tests/fixtures/real-parts: `k3s agent` is assembled
# from those parts because k3s itself cannot be built here). They join a real
# kube-apiserver v1.34.3 over etcd, on a Docker network, and run real pods
# from preloaded images; kubectl v1.34.3 checks from the host.
#   - this machine's kernel (runc): the node is Ready; a host-network pod and
#     a pod on the bridge CNI (host-local IPAM) run to completion, a
#     TCP and a UDP ClusterIP Service answer a pod through kube-proxy, and
#     kubectl exec and port-forward reach the TCP Service's pod (no pod
#     reaches the API server there: without flannel, nothing masquerades
#     pod traffic leaving the node);
#   - the current gVisor (runsc-current-netraw: netstack with raw sockets):
#     the node is Ready, and stays Ready with its first kubelet, containerd
#     and kube-proxy for REAL_PARTS_STAY_READY_SECONDS (30; `make soak`: 600)
#     after the rest; a host-network pod runs to completion inside the
#     sandbox (containerd and runc under gVisor, on the v1 hierarchies the
#     init mounts, the overlayfs snapshotter); bridge ports refuse hairpin
#     mode there, so the init has flannel delegate to its routed-veth plugin,
#     and a pod in its own network namespace runs and reaches the API server;
#     a TCP and a UDP ClusterIP Service answer it through kube-proxy's
#     rules, loaded through the init's iptables front (netstack has no
#     comment match, and no conntrack, statistic, addrtype, MARK or
#     MASQUERADE), the kubernetes Service too (its endpoint outside the
#     sandbox); kubectl exec and port-forward reach a pod as on this kernel;
#   - the same without --net-raw (no iptables for kubelet's own rules): the
#     same node and host-network pod; a pod in its own namespace does not
#     start, routed-veth's SNAT rule cannot load;
#   - Debian's runsc (2022, host network): kubelet stops at start (it cannot
#     make its root dir rshared), and no image unpacks (containerd's
#     MS_BIND|MS_REC mounts are refused).

load helpers

PARTS=/usr/local/lib/k3s-sandbox/real-parts
API_IMAGE=k3s-sandbox-test/real-api:local
REAL_WORKER_IMAGE=k3s-sandbox-test/real-worker:local

setup_file() {
	local part
	for part in kubelet kube-proxy kube-apiserver kubectl containerd containerd-shim-runc-v2 ctr etcd; do
		[ -x "$PARTS/$part" ] || fail_loudly "$PARTS/$part is missing (tests/lib/setup-host.sh builds it)"
	done
	"$DOCKER" info --format '{{json .Runtimes}}' | grep -q '"runsc-current-netraw"' ||
		fail_loudly "Docker has no runtime runsc-current-netraw (tests/lib/setup-host.sh adds it)"
	ensure_images docker
	export PRELOAD="$BATS_FILE_TMPDIR/preload" CFG="$BATS_FILE_TMPDIR/cfg" NET=$PREFIX-real-net
	mkdir -p "$PRELOAD" "$CFG"
	PRELOAD_DIR=$PRELOAD WORKER_IMAGE=$WORKER_IMAGE "$TOP/tests/lib/build-real-parts.sh" >&3 2>&1 ||
		fail_loudly "tests/lib/build-real-parts.sh failed"
	# A node token per run; the admin token is kubectl's.
	export NODE_TOKEN ADMIN_TOKEN
	NODE_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	ADMIN_TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
	printf '%s,admin,1,system:masters\n%s,system:node,2,system:nodes\n' "$ADMIN_TOKEN" "$NODE_TOKEN" >"$CFG/tokens.csv"
	openssl genrsa -out "$CFG/sa.key" 2048 2>/dev/null
	chmod 0644 "$CFG/sa.key" "$CFG/tokens.csv"
	"$DOCKER" network create "$NET" >/dev/null
	"$DOCKER" run -d --name "$PREFIX-real-api" --network "$NET" -v "$CFG:/cfg:ro" \
		--tmpfs /var/lib/etcd --tmpfs /var/lib/kube-apiserver "$API_IMAGE" >/dev/null
	export API_IP
	API_IP=$("$DOCKER" inspect -f "{{(index .NetworkSettings.Networks \"$NET\").IPAddress}}" "$PREFIX-real-api")
	cat >"$BATS_FILE_TMPDIR/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: real, cluster: {server: "https://$API_IP:6443", insecure-skip-tls-verify: true}}]
users: [{name: admin, user: {token: "$ADMIN_TOKEN"}}]
contexts: [{name: real, context: {cluster: real, user: admin}}]
current-context: real
EOF
	export KUBECONFIG="$BATS_FILE_TMPDIR/kubeconfig"
	wait_until 120 "$PARTS/kubectl" get --raw=/readyz || { "$DOCKER" logs "$PREFIX-real-api" 2>&1 | tail -n 40 >&2; false; }
}

teardown_file() {
	remove_docker_objects
}

setup() {
	load_libs
}

teardown() {
	local c
	delete_pods
	for c in $("$DOCKER" ps -aq --filter "name=$PREFIX-real-worker"); do
		"$DOCKER" rm -f -v "$c" >/dev/null 2>&1 || true
	done
}

kctl() {
	"$PARTS/kubectl" "$@"
}

# start_worker NAME [docker run options...]: a worker on the network, joining
# the API by IP (Docker's DNS at 127.0.0.11 does not answer inside netstack).
start_worker() {
	local name=$1
	shift
	kctl delete node "$name" --ignore-not-found >/dev/null
	"$DOCKER" run -d --name "$PREFIX-real-worker-$name" --hostname "$name" --network "$NET" --privileged "$@" \
		-v "$PRELOAD:/var/lib/rancher/k3s/agent/images:ro" \
		-e K3S_URL="https://$API_IP:6443" -e K3S_TOKEN="$NODE_TOKEN" "$REAL_WORKER_IMAGE" >/dev/null
}

worker_stopped() { # name
	[ "$("$DOCKER" inspect -f '{{.State.Running}}' "$PREFIX-real-worker-$1")" = false ]
}

worker_logs() { # name
	"$DOCKER" logs "$PREFIX-real-worker-$1" 2>&1
}

node_ready() { # name
	[ "$(kctl get node "$1" -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# A node's pod subnet without its last octet, as a regular expression
# ("10\.42\.1" for 10.42.1.0/24): kube-controller-manager gives each node a
# /24 of the cluster network, in the order the nodes register.
pod_subnet_regexp() { # node
	local cidr
	cidr=$(kctl get node "$1" -o 'jsonpath={.spec.podCIDR}')
	[[ $cidr =~ ^10\.42\.([0-9]+)\.0/24$ ]] || { echo "node $1 has no pod subnet of 10.42.0.0/16: '$cidr'" >&2; return 1; }
	echo "10\\.42\\.${BASH_REMATCH[1]}"
}

wait_node_ready() { # name
	wait_until 120 node_ready "$1" || {
		worker_logs "$1" | grep -v ' level=info \|^I[0-9]' | tail -n 40 >&2
		false
	}
}

# The node's own processes, by name and PID: the same list later means that
# none of them has exited or been started again meanwhile.
node_processes() { # name
	"$DOCKER" exec "$PREFIX-real-worker-$1" sh -c 'for p in kubelet containerd kube-proxy; do echo "$p $(pidof "$p")"; done'
}

# stays_ready NAME: the node is Ready at every look, 10 s apart, for
# REAL_PARTS_STAY_READY_SECONDS (30; `make soak` asks for 600), and its
# kubelet, containerd and kube-proxy are the processes they were at the
# start: no restart loop, no crash.
stays_ready() {
	local name=$1 seconds=${REAL_PARTS_STAY_READY_SECONDS:-30} before start=$SECONDS
	[[ $seconds =~ ^[0-9]+$ ]] || fail "REAL_PARTS_STAY_READY_SECONDS must be a number of seconds, not '$seconds'"
	before=$(node_processes "$name")
	[ "$(grep -c ' [0-9]' <<<"$before")" -eq 3 ] || fail "not every node process runs at the start: $before"
	while [ $((SECONDS - start)) -lt "$seconds" ]; do
		node_ready "$name" || {
			worker_logs "$name" | grep -v ' level=info \|^I[0-9]' | tail -n 40 >&2
			fail "node $name not Ready $((SECONDS - start)) s into its ${seconds} s"
		}
		[ $(((SECONDS - start) % 60)) -ge 10 ] || echo "# $name Ready $((SECONDS - start)) s into its ${seconds} s" >&3
		sleep 10
	done
	assert_equal "$(node_processes "$name")" "$before"
}

# run_pod NODE NAME HOSTNETWORK SCRIPT: a pod bound to NODE (no scheduler
# here) running SCRIPT in the preloaded busybox image, never pulled.
run_pod() {
	kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $2}
spec:
  nodeName: $1
  hostNetwork: $3
  restartPolicy: Never
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: 1
  containers:
  - name: main
    image: docker.io/k3s-sandbox-test/busybox:local
    imagePullPolicy: Never
    command: [/bin/sh, -c, '$4']
EOF
}

pod_phase() { # name
	kctl get pod "$1" -o 'jsonpath={.status.phase}'
}

pod_succeeded() { # name
	[ "$(pod_phase "$1")" = Succeeded ]
}

wait_pod_succeeded() { # name
	wait_until 120 pod_succeeded "$1" || {
		kctl describe pod "$1" | tail -n 15 >&2
		false
	}
}

pod_events() { # name
	kctl get events --field-selector "involvedObject.name=$1" -o 'jsonpath={range .items[*]}{.message}{"\n"}{end}'
}

pod_event_has() { # name text
	pod_events "$1" | grep -qF -- "$2"
}

delete_pods() {
	kctl delete pod --all --grace-period=0 --force >/dev/null 2>&1 || true
	local service
	for service in web udp; do
		kctl delete service "$service" --ignore-not-found >/dev/null 2>&1 || true
		kctl delete endpointslice "$service-1" --ignore-not-found >/dev/null 2>&1 || true
	done
}

# http_get HOST PORT: a pod script asking for / over plain HTTP, with nc
# (the pod image's busybox wget crashes: a static glibc build).
http_get() {
	printf 'printf "GET / HTTP/1.0\\r\\n\\r\\n" | nc -w 10 %s %s' "$1" "$2"
}

# http_get_until HOST PORT TEXT: http_get, asked again (8 times, 2 s apart)
# until the answer has TEXT; the last answer printed. kube-proxy programs a
# Service after it appears: until then a ClusterIP is routed like any
# address, out of the node, where anything may answer it (a proxy on the
# way was seen to answer port 80 with 426 Upgrade Required).
http_get_until() {
	printf 'for i in $(seq 8); do out=$(%s); case "$out" in *%s*) break ;; esac; sleep 2; done; echo "$out"' \
		"$(http_get "$1" "$2")" "$3"
}

pod_running() { # name
	[ "$(pod_phase "$1")" = Running ]
}

pod_finished() { # name
	case $(pod_phase "$1") in Succeeded | Failed) return 0 ;; esac
	return 1
}

# serve_pod NODE NAME SCRIPT: a pod running SCRIPT on NODE, waited for
# until it runs.
serve_pod() {
	run_pod "$1" "$2" false "$3"
	wait_until 120 pod_running "$2" || {
		kctl describe pod "$2" | tail -n 15 >&2
		false
	}
}

# expose SERVICE POD PORT TARGET_PORT PROTOCOL: the ClusterIP Service SERVICE
# in front of POD. No controller manager runs here to fill in its endpoints,
# so the Service has no selector and its EndpointSlice SERVICE-1 names the
# pod; kube-proxy programs the ClusterIP from both. Sets SERVICE_IP.
expose() {
	kctl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: $1}
spec: {ports: [{port: $3, targetPort: $4, protocol: $5}]}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: $1-1, labels: {kubernetes.io/service-name: $1}}
addressType: IPv4
ports: [{port: $4, protocol: $5}]
endpoints: [{addresses: ["$(kctl get pod "$2" -o 'jsonpath={.status.podIP}')"], conditions: {ready: true}}]
EOF
	SERVICE_IP=$(kctl get service "$1" -o 'jsonpath={.spec.clusterIP}')
	[[ $SERVICE_IP =~ ^10\.43\. ]] || fail "Service $1 has ClusterIP '$SERVICE_IP'"
}

# start_service NODE: a web pod on NODE behind the ClusterIP Service "web".
# Sets CLUSTER_IP.
start_service() {
	serve_pod "$1" web 'mkdir /www; echo the-service-answered >/www/index.html; exec httpd -f -p 8080 -h /www'
	expose web web 80 8080 TCP
	CLUSTER_IP=$SERVICE_IP
}

# in_cluster_api_answers NODE: a pod on NODE reaches the API server as
# in-cluster clients do (KUBERNETES_SERVICE_HOST): through the Service
# default/kubernetes, 10.43.0.1:443, whose endpoint kube-apiserver keeps at
# its own address, outside the node. kube-apiserver answers an HTTP request
# to its HTTPS port with 400.
in_cluster_api_answers() {
	run_pod "$1" in-cluster false "$(http_get 10.43.0.1 443)"
	wait_pod_succeeded in-cluster
	run kctl logs in-cluster
	assert_line --partial "HTTP/1.0 400 Bad Request"
	assert_line --partial "Client sent an HTTP request to an HTTPS server"
}

# udp_service_answers NODE: a UDP ClusterIP Service (port 53, as DNS has)
# answers a pod on NODE, from a udp-echo pod behind it. The client asks
# again for up to about 30 s: kube-proxy programs the Service after it
# appears, and a UDP datagram sent before that is simply lost.
udp_service_answers() {
	serve_pod "$1" udp-server 'exec udp-echo serve 5353'
	expose udp udp-server 53 5353 UDP
	run_pod "$1" udp-client false "for i in 1 2 3 4 5; do udp-echo ask $SERVICE_IP 53 through-the-udp-service && exit 0; done; exit 1"
	wait_pod_succeeded udp-client
	run kctl logs udp-client
	assert_line "echo: through-the-udp-service"
}

# exec_and_port_forward: what a chart's author does next with the pod "web"
# (start_service): kubectl exec into it, and kubectl port-forward to it from
# the host (kubelet's streaming server; containerd dials the port inside the
# pod's network namespace).
exec_and_port_forward() {
	run kctl exec web -- cat /www/index.html
	assert_success
	assert_output "the-service-answered"
	local forward="$BATS_TEST_TMPDIR/port-forward" pid port
	kctl port-forward pod/web 0:8080 >"$forward" 2>&1 &
	pid=$!
	wait_until 30 grep -q '^Forwarding from 127\.0\.0\.1:' "$forward" || {
		kill "$pid" 2>/dev/null
		cat "$forward" >&2
		fail "kubectl port-forward did not start"
	}
	port=$(sed -n 's/^Forwarding from 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$forward")
	run timeout 20 bash -c "exec 5<>/dev/tcp/127.0.0.1/$port; printf 'GET / HTTP/1.0\\r\\n\\r\\n' >&5; cat <&5"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
	assert_success
	assert_line --partial "200 OK"
	assert_line "the-service-answered"
}

@test "this kernel: real kubelet and containerd join the API; a host-network pod, a bridge CNI pod, a TCP and a UDP ClusterIP Service, exec and port-forward work" {
	start_worker runc-node
	wait_node_ready runc-node
	assert_equal "$(kctl get node runc-node -o 'jsonpath={.status.nodeInfo.kubeletVersion} {.status.nodeInfo.containerRuntimeVersion}')" \
		"v1.34.3 containerd://2.1.5"
	run_pod runc-node host-net true 'echo host-net ran on $(uname -r)'
	run_pod runc-node pod-net false 'echo pod-net ran; ip -4 addr show eth0'
	wait_pod_succeeded host-net
	wait_pod_succeeded pod-net
	run kctl logs host-net
	assert_output "host-net ran on $(uname -r)"
	run kctl logs pod-net
	assert_line "pod-net ran"
	# Its own network namespace, with an address from the node's pod subnet.
	local subnet
	subnet=$(pod_subnet_regexp runc-node)
	assert_line --regexp "^ +inet $subnet\\.[0-9]+/24 "
	assert_equal "$(kctl get pod pod-net -o 'jsonpath={.status.podIP}')" \
		"$(sed -n "s|.*inet \\($subnet\\.[0-9]*\\)/24.*|\\1|p" <<<"$output")"
	# A ClusterIP Service answers a pod, through kube-proxy's iptables rules.
	start_service runc-node
	run_pod runc-node svc-client false "$(http_get_until "$CLUSTER_IP" 80 the-service-answered)"
	wait_pod_succeeded svc-client
	run kctl logs svc-client
	assert_line "HTTP/1.1 200 OK"
	assert_line "the-service-answered"
	exec_and_port_forward
	udp_service_answers runc-node
	delete_pods
}

@test "current gVisor, netstack and --net-raw: the node is Ready and stays Ready; a host-network pod, a pod on routed-veth, a TCP and a UDP ClusterIP Service, exec and port-forward work inside the sandbox" {
	start_worker gvisor-node --runtime runsc-current-netraw
	wait_node_ready gvisor-node
	run worker_logs gvisor-node
	# The repair real kubelet needs there: its root dir is a 9p volume.
	assert_line "k3s-init: local-storage: adding --kubelet-arg=local-storage-capacity-isolation=false (/var/lib/kubelet is on 9p)"
	assert_line --partial "k3s-init: cgroups: ok: cgroup v1 mounted"
	# Bridge ports refuse hairpin mode there: flannel is to delegate to
	# routed-veth; and gVisor's procfs lacks the sysctls containerd gives
	# every pod with a network of its own, which runc would fail on.
	assert_line "k3s-init: pod-network: adding --flannel-cni-conf=/run/k3s-init/flannel-cni.conflist (flannel delegates to routed-veth, placed at /var/lib/rancher/k3s/data/cni/routed-veth; bridge ports refuse hairpin mode: Operation not supported)"
	assert_line --regexp "^k3s-init: pod-sysctls: placed k3s-init as /run/k3s-init/bin/runc in front of /[a-z/]*/runc: "
	assert_equal "$(kctl get node gvisor-node -o 'jsonpath={.status.nodeInfo.kernelVersion}')" 4.19.0-gvisor
	run_pod gvisor-node host-net true 'echo host-net ran on $(uname -r); grep -E ":(memory|pids):" /proc/self/cgroup'
	wait_pod_succeeded host-net
	run kctl logs host-net
	assert_line "host-net ran on 4.19.0-gvisor"
	# runc put it in kubelet's pod cgroup on the hierarchies the init mounted.
	assert_line --regexp '^[0-9]+:memory:/.*/kubepods/besteffort/pod[0-9a-f-]+/[0-9a-f]{64}$'
	assert_line --regexp '^[0-9]+:pids:/.*/kubepods/besteffort/pod[0-9a-f-]+/[0-9a-f]{64}$'
	# A pod in its own network namespace, on routed-veth: it reaches the
	# API server through the node's SNAT (an HTTP request to the HTTPS port
	# is answered 400 by kube-apiserver).
	run_pod gvisor-node pod-net false "echo pod-net ran; ip -4 addr show eth0; $(http_get "$API_IP" 6443)"
	wait_pod_succeeded pod-net
	run kctl logs pod-net
	assert_line "pod-net ran"
	local subnet
	subnet=$(pod_subnet_regexp gvisor-node)
	assert_line --regexp "^ +inet $subnet\\.[0-9]+/32 "
	assert_line --partial "HTTP/1.0 400 Bad Request"
	assert_line --partial "Client sent an HTTP request to an HTTPS server"
	assert_equal "$(kctl get pod pod-net -o 'jsonpath={.status.podIP}')" \
		"$(sed -n "s|.*inet \\($subnet\\.[0-9]*\\)/32.*|\\1|p" <<<"$output")"
	# A ClusterIP Service answers a pod, through kube-proxy's own rules: the
	# init's iptables front takes out the comments netstack has no match
	# for, and leaves out the rules needing conntrack, statistic, addrtype,
	# MARK or MASQUERADE, so that the rest loads.
	start_service gvisor-node
	run_pod gvisor-node svc-client false "$(http_get_until "$CLUSTER_IP" 80 the-service-answered)"
	wait_pod_succeeded svc-client
	run kctl logs svc-client
	assert_line "HTTP/1.1 200 OK"
	assert_line "the-service-answered"
	exec_and_port_forward
	udp_service_answers gvisor-node
	in_cluster_api_answers gvisor-node
	# kube-proxy keeps running (without the init's localhost-nodeports flag
	# it would exit at start, setting route_localnet) and its syncs load.
	"$DOCKER" exec "$PREFIX-real-worker-gvisor-node" pidof kube-proxy >/dev/null
	run worker_logs gvisor-node
	assert_line "k3s-init: localhost-nodeports: adding --kube-proxy-arg=iptables-localhost-nodeports=false (no /proc/sys/net/ipv4/conf/all/route_localnet: kube-proxy would exit at start; NodePorts do not answer on 127.0.0.1)"
	assert_line --partial "k3s-init: iptables-extensions: k3s-init in front of iptables, ip6tables and their -restore"
	refute_output --partial "real-parts k3s: kube-proxy exited"
	refute_output --partial '"Sync failed" ipFamily="IPv4"'
	refute_output --partial "Extension comment revision 0 not supported"
	stays_ready gvisor-node
	# Neither restart loop nor crash: the node's processes are the first ones.
	assert_equal "$("$DOCKER" inspect -f '{{.State.Running}} {{.RestartCount}}' "$PREFIX-real-worker-gvisor-node")" "true 0"
	node_ready gvisor-node
	delete_pods
}

@test "current gVisor without --net-raw: the node is Ready and a host-network pod runs, as with it; a pod network needs iptables" {
	start_worker gvisor-noraw-node --runtime runsc-current
	wait_node_ready gvisor-noraw-node
	run_pod gvisor-noraw-node host-net true 'echo host-net ran on $(uname -r)'
	wait_pod_succeeded host-net
	run kctl logs host-net
	assert_output "host-net ran on 4.19.0-gvisor"
	# A pod in its own namespace: routed-veth attaches it, but its SNAT
	# rule cannot load without raw sockets, and the ADD is undone.
	run_pod gvisor-noraw-node pod-net false 'echo pod-net ran'
	wait_until 90 pod_event_has pod-net 'plugin type="routed-veth" failed (add): snat: iptables -t nat -A POSTROUTING'
	assert_equal "$(pod_phase pod-net)" Pending
	delete_pods
}

@test "Debian's runsc (2022, host network): kubelet stops at start (no rshared mounts), and no image unpacks (no MS_BIND|MS_REC)" {
	start_worker debian-gvisor-node --runtime runsc-host
	wait_until 120 worker_stopped debian-gvisor-node
	run worker_logs debian-gvisor-node
	assert_line --partial "k3s-init: warning: propagation: cannot make / rshared: Invalid argument"
	assert_output --partial 'Failed to initialize internal modules" err="error configuring root directory: failed to make /var/lib/kubelet rshared: invalid argument"'
	assert_output --regexp 'fstype: bind, flags: 20480, data: "", err: invalid argument'
	assert_line "real-parts k3s: failed to import /var/lib/rancher/k3s/agent/images/pod-images.tar"
	run node_ready debian-gvisor-node
	assert_failure
}
