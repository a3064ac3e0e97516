#!/usr/bin/env bats
# The stand-in k3s (tests/fixtures/k3s-standin): it must stop where k3s and
# kubelet stop, with their messages, and pass where they pass. Host tests run
# it in unshare namespaces with a fake /proc/sys (nothing on the host changes);
# one test runs the k3s-sandbox-test/k3s:local image under Docker (runc).

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

PREFIX=k3s-sandbox-test-standin

setup_file() {
	local top
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	export TOP=$top STANDIN="$top/build/k3s-standin/k3s"
	make -s -C "$top/tests/fixtures/k3s-standin" OUT="$STANDIN" >&3 2>&1
	"$top/tests/lib/build-base-images.sh" >&3 2>&1
	[ -x /usr/lib/cni/host-local ] || { echo "MISSING: /usr/lib/cni/host-local (containernetworking-plugins)" >&2; return 1; }
	command -v unshare >/dev/null || { echo "MISSING: unshare (util-linux)" >&2; return 1; }
}

setup() {
	WORK=$BATS_TEST_TMPDIR/w
	mkdir -p "$WORK/run" "$WORK/data" "$WORK/etc"
	: >"$WORK/etc/config.yaml"
	# The namespace script: private mounts and network, a report directory
	# of its own, a fake /proc/sys with every tunable present (unless
	# OMIT_SYSCTL names one), lo up. HIDE_KMSG, CGROUP_TMPFS, SYSCTL_RO
	# break one precondition each.
	cat >"$WORK/ns.sh" <<'EOF'
set -eu
mkdir -p /run/k3s-standin
mount --bind "$WORK/run" /run/k3s-standin
ip link set lo up
mount -t tmpfs tmpfs /proc/sys
for kv in vm/overcommit_memory=0 vm/panic_on_oom=0 kernel/panic=0 kernel/panic_on_oops=0 \
	kernel/keys/root_maxkeys=200 kernel/keys/root_maxbytes=20000 net/ipv4/conf/all/forwarding=0 \
	net/ipv4/conf/default/forwarding=0 net/bridge/bridge-nf-call-iptables=0; do
	[ "${kv%%=*}" = "${OMIT_SYSCTL:-}" ] && continue
	mkdir -p "/proc/sys/$(dirname "${kv%%=*}")"
	echo "${kv#*=}" >"/proc/sys/${kv%%=*}"
done
[ "${SYSCTL_RO:-0}" = 1 ] && mount -o remount,ro /proc/sys
if [ "${HIDE_KMSG:-0}" = 1 ]; then
	mkdir -p "$WORK/dev"
	mount --bind /dev "$WORK/dev"
	mount -t tmpfs tmpfs /dev
	for d in null zero urandom random; do touch "/dev/$d"; mount --bind "$WORK/dev/$d" "/dev/$d"; done
fi
[ "${CGROUP_TMPFS:-0}" = 1 ] && mount -t tmpfs tmpfs /sys/fs/cgroup
exec bash -c "$1"
EOF
	export WORK
}

teardown() {
	docker rm -f -v "$PREFIX-$BATS_TEST_NUMBER" >/dev/null 2>&1 || true
}

# ns 'COMMANDS': run COMMANDS (bash) in new mount and network namespaces.
ns() {
	PATH="/usr/lib/cni:$PATH" unshare --mount --net --propagation private bash "$WORK/ns.sh" "$1"
}

agent_check() { # extra args...
	K3S_STANDIN_CHECK_ONLY=1 K3S_TOKEN=t0ken K3S_URL=https://127.0.0.1:6443 \
		ns "$STANDIN agent -d $WORK/data --config $WORK/etc/config.yaml $*"
}

@test "agent passes every check on a prepared host and reports them" {
	run agent_check
	assert_success
	run cat "$WORK/run/report"
	assert_line "result ok"
	assert_line --regexp '^argv .*/k3s agent -d '
	assert_line "env K3S_URL=https://127.0.0.1:6443"
	assert_line --partial "check host-local ok /usr/lib/cni/host-local"
	for c in privileges agent-args cgroups snapshotter iptables cgroup-pids cgroup-v1-gate cgroup-mounts kmsg kernel-tunables rootfs; do
		assert_line --regexp "^check $c ok "
	done
	refute_line --regexp '^check .* fail '
}

@test "agent without a token or a server fails like k3s" {
	unset K3S_TOKEN K3S_URL K3S_TOKEN_FILE
	K3S_STANDIN_CHECK_ONLY=1 run ns "$STANDIN agent -d $WORK/data"
	assert_failure 1
	assert_output --partial 'msg="Error: --token is required"'
	K3S_STANDIN_CHECK_ONLY=1 run ns "$STANDIN agent -d $WORK/data -t x"
	assert_failure 1
	assert_output --partial 'msg="Error: --server is required"'
	K3S_STANDIN_CHECK_ONLY=1 K3S_URL=https://x:6443 K3S_TOKEN_FILE=$WORK/nope run ns "$STANDIN agent -d $WORK/data"
	assert_failure 1
	assert_output --partial "open $WORK/nope: no such file or directory"
}

@test "PATH without host-local: server --disable-agent fails with k3s's message; flannel none skips" {
	run env K3S_STANDIN_CHECK_ONLY=1 PATH=/usr/bin:/bin "$STANDIN" server --disable-agent -d "$WORK/data"
	assert_failure 1
	assert_output --partial 'failed to find host-local: exec: \"host-local\": executable file not found in $PATH'
	K3S_STANDIN_CHECK_ONLY=1 run ns "PATH=/usr/bin:/bin $STANDIN server --disable-agent --flannel-backend=none -d $WORK/data"
	assert_success
	assert_output --partial "check host-local skip --flannel-backend=none"
}

@test "hidden /dev/kmsg stops the kubelet" {
	HIDE_KMSG=1 run agent_check
	assert_failure 1
	assert_output --partial "failed to create kubelet: open /dev/kmsg: no such file or directory"
	run cat "$WORK/run/report"
	assert_line --regexp '^check kmsg fail '
	assert_line "result fail"
}

@test "tmpfs over /sys/fs/cgroup: kubelet finds no cgroup subsystem" {
	CGROUP_TMPFS=1 run agent_check
	assert_failure 1
	assert_output --partial "system validation failed - Following Cgroup subsystem not mounted: [cpu cpuacct cpuset memory]"
}

@test "a /proc/sys without kernel/panic is fatal for the kubelet" {
	OMIT_SYSCTL=kernel/panic run agent_check
	assert_failure 1
	assert_output --partial "Failed to start ContainerManager: open /proc/sys/kernel/panic: no such file or directory"
}

@test "kernel tunables: written by default, checked with --protect-kernel-defaults, write errors fatal" {
	run agent_check --protect-kernel-defaults
	assert_failure 1
	assert_output --partial "invalid kernel flag: vm/overcommit_memory, expected value: 1, actual value: 0"
	SYSCTL_RO=1 run agent_check
	assert_failure 1
	assert_output --partial "open /proc/sys/vm/overcommit_memory: read-only file system"
	# forwarding sysctls that cannot be set only warn
	assert_output --partial "Failed to set sysctl: open /proc/sys/net/ipv4/conf/all/forwarding: read-only file system"
}

@test "cgroup v1 with kubelet 1.35 needs fail-cgroupv1=false" {
	K3S_STANDIN_VERSION=v1.35.0+k3s1 run agent_check
	assert_failure 1
	assert_output --partial "kubelet is configured to not run on a host using cgroup v1"
	K3S_STANDIN_VERSION=v1.35.0+k3s1 run agent_check --kubelet-arg=fail-cgroupv1=false
	assert_success
	run "$STANDIN" --version
	assert_output --partial "k3s version v1.34.3+k3s3"
}

@test "kubelet's root dir on a filesystem unknown to cAdvisor (ramfs /) fails unless local-storage-capacity-isolation=false" {
	local root=$WORK/root
	mkdir -p "$root"
	cat >"$WORK/chroot.sh" <<EOF
mount -t ramfs ramfs $root
mkdir -p $root/bin $root/proc $root/sys $root/dev $root/run/k3s-standin $root/data
cp $STANDIN $root/bin/k3s; cp /usr/lib/cni/host-local /bin/busybox $root/bin/
printf '#!/bin/busybox sh\necho "iptables v1.8.9 (nf_tables)"\n' >$root/bin/iptables; chmod +x $root/bin/iptables
mount --rbind /proc $root/proc; mount --rbind /sys $root/sys; mount --rbind /dev $root/dev
mount --bind $WORK/run $root/run/k3s-standin
EOF
	run ns "bash $WORK/chroot.sh && K3S_STANDIN_CHECK_ONLY=1 PATH=/bin /usr/sbin/chroot $root /bin/k3s agent -t x -s https://127.0.0.1:6443 -d /data --snapshotter=native"
	assert_failure 1
	# logrus quotes the message: the path's quotes come escaped.
	assert_output --partial 'failed to get rootfs info: failed to get device for dir \"/var/lib/kubelet\"'
	run ns "bash $WORK/chroot.sh && K3S_STANDIN_CHECK_ONLY=1 PATH=/bin /usr/sbin/chroot $root /bin/k3s agent -t x -s https://127.0.0.1:6443 -d /data --snapshotter=native --kubelet-arg=local-storage-capacity-isolation=false"
	assert_success
	assert_output --partial "check rootfs ok /var/lib/kubelet is on ramfs, not queried (local-storage-capacity-isolation=false)"
}

@test "config file and drop-ins: order, lists, key+ append, server drops unknown keys, agent rejects server keys" {
	mkdir -p "$WORK/etc/config.yaml.d"
	cat >"$WORK/etc/config.yaml" <<'EOF'
# main file
node-name: from-main
kubelet-arg:
  - "v=2"
node-label: [a=1, b=2]
EOF
	cat >"$WORK/etc/config.yaml.d/20-later.yml" <<'EOF'
node-name: from-dropin-20   # replaces
node-label+: [c=3]
EOF
	cat >"$WORK/etc/config.yaml.d/10-first.yaml" <<'EOF'
node-name: from-dropin-10
kubelet-arg+:
  - fail-cgroupv1=false
EOF
	echo "ignored: x" >"$WORK/etc/config.yaml.d/30-not-yaml.txt"
	K3S_STANDIN_VERSION=v1.35.0+k3s1 run agent_check
	assert_success
	run cat "$WORK/run/report"
	assert_line "flag node-name=from-dropin-20"
	refute_line "flag node-name=from-main"
	assert_line "flag kubelet-arg=v=2"
	assert_line "flag kubelet-arg=fail-cgroupv1=false"
	assert_line "flag node-label=c=3"
	assert_line "flag node-label=a=1"
	assert_line "config $WORK/etc/config.yaml"
	# the command line comes after the config file and wins
	run agent_check --node-name=cli
	assert_success
	run grep '^flag node-name=' "$WORK/run/report"
	assert_output --partial "flag node-name=cli"
	assert_equal "$(tail -n 1 <<<"$output")" "flag node-name=cli"
	# a server-only key breaks the agent, the server only warns about unknown keys
	echo "cluster-init: true" >"$WORK/etc/config.yaml.d/40-server.yaml"
	run agent_check
	assert_failure 1
	assert_output --partial "flag provided but not defined: -cluster-init"
	echo "no-such-flag: 1" >"$WORK/etc/config.yaml.d/50-unknown.yaml"
	K3S_CONFIG_FILE=$WORK/etc/config.yaml K3S_STANDIN_CHECK_ONLY=1 run ns "$STANDIN server --disable-agent -d $WORK/data -c /nonexistent"
	assert_success
	assert_output --partial "Unknown flag --no-such-flag found in config.yaml, skipping"
	assert_line --partial "check host-local ok"
}

@test "server writes the kubeconfig and token, answers readyz, and exits 0 on SIGTERM" {
	# As real k3s: the port and the kubeconfig come first, /readyz answers ok
	# only K3S_STANDIN_API_DELAY_MS later; kubectl asks the kubeconfig's server.
	cat >"$WORK/server.sh" <<EOF
K3S_STANDIN_API_DELAY_MS=1500 $STANDIN server --disable-agent -d $WORK/data --write-kubeconfig-mode 640 -o $WORK/out/kubeconfig.yaml 2>$WORK/server.log &
pid=\$!
for _ in \$(seq 1 100); do [ -s $WORK/out/kubeconfig.yaml ] && break; sleep 0.05; done
exec 3<>/dev/tcp/127.0.0.1/6443; printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3; head -n 1 <&3; exec 3>&-
$STANDIN kubectl --kubeconfig $WORK/out/kubeconfig.yaml get --raw=/readyz || echo "kubectl early exit \$?"
sleep 1.6
$STANDIN kubectl --kubeconfig $WORK/out/kubeconfig.yaml get --raw=/readyz
KUBECONFIG=$WORK/out/kubeconfig.yaml $STANDIN kubectl get --raw /readyz
exec 3<>/dev/tcp/127.0.0.1/6443; printf 'GET /readyz HTTP/1.0\r\n\r\n' >&3; head -n 1 <&3
kill -TERM \$pid; wait \$pid; echo "server exit \$?"
$STANDIN kubectl --kubeconfig $WORK/out/kubeconfig.yaml get --raw=/readyz || echo "kubectl exit \$?"
EOF
	run ns "bash $WORK/server.sh"
	assert_success
	assert_line --partial "HTTP/1.1 503 Service Unavailable"
	assert_line --partial "Error from server (InternalError)"
	assert_line "kubectl early exit 1"
	[ "$(grep -cx ok <<<"$output")" -eq 2 ]
	assert_line --partial "HTTP/1.1 200 OK"
	assert_line "server exit 0"
	assert_line "The connection to the server 127.0.0.1:6443 was refused - did you specify the right host or port?"
	assert_line "kubectl exit 1"
	run stat -c %a "$WORK/out/kubeconfig.yaml"
	assert_output 640
	run grep -c "server: https://127.0.0.1:6443" "$WORK/out/kubeconfig.yaml"
	assert_output 1
	run stat -c %a "$WORK/data/server/token"
	assert_output 600
	run grep -E '^K10[0-9a-f]{64}::server:[0-9a-f]{32}$' "$WORK/data/server/token"
	assert_success
	run cat "$WORK/server.log"
	assert_output --partial "k3s is up and running"
	assert_output --partial "Received SIGTERM, shutting down"
}

@test "bad settings: an undefined flag or a bad kubeconfig mode is a clear error" {
	run "$STANDIN" server --no-such-flag
	assert_failure 1
	assert_output --partial "flag provided but not defined: -no-such-flag"
	run ns "$STANDIN server --disable-agent -d $WORK/data --write-kubeconfig-mode abc -o $WORK/k.yaml"
	assert_failure 1
	assert_output --partial 'invalid --write-kubeconfig-mode \"abc\"'
	[ ! -e "$WORK/k.yaml" ]
}

@test "agent retries the server with backoff, then serves kubelet healthz" {
	cat >"$WORK/agent.sh" <<EOF
$STANDIN agent -t x -s https://127.0.0.1:6443 -d $WORK/data 2>$WORK/agent.log &
apid=\$!
until grep -q 'attempt 2' $WORK/agent.log; do sleep 0.1; done
$STANDIN server --disable-agent -d $WORK/data -o $WORK/k.yaml 2>/dev/null &
spid=\$!
for _ in \$(seq 1 100); do grep -q 'kubelet healthz' $WORK/agent.log && break; sleep 0.1; done
exec 3<>/dev/tcp/127.0.0.1/10248; printf 'GET /healthz HTTP/1.0\r\n\r\n' >&3; cat <&3; echo
exec 4<>/dev/tcp/127.0.0.1/10248; printf 'GET /other HTTP/1.0\r\n\r\n' >&4; head -n 1 <&4
kill -TERM \$apid \$spid; wait \$apid; echo "agent exit \$?"
EOF
	K3S_STANDIN_CHECK_ONLY= run timeout 60 unshare --mount --net --propagation private bash -c "PATH=/usr/lib/cni:\$PATH; bash $WORK/ns.sh 'bash $WORK/agent.sh'"
	assert_success
	assert_line "ok"
	assert_line --partial "HTTP/1.1 404"
	assert_line "agent exit 0"
	run cat "$WORK/agent.log"
	assert_output --partial 'failed to get CA certs: Get \"https://127.0.0.1:6443/cacerts\": dial tcp 127.0.0.1:6443: connect: connection refused (attempt 1, retrying in 1s)'
	assert_output --partial "retrying in 2s"
	assert_output --partial "Connected to server 127.0.0.1:6443"
}

@test "image k3s-sandbox-test/k3s:local under Docker (runc): layout, PATH, volumes, entrypoint" {
	local name="$PREFIX-$BATS_TEST_NUMBER"
	run docker image inspect --format '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{json .Config.Volumes}} {{len .RootFS.Layers}}' k3s-sandbox-test/k3s:local
	assert_success
	assert_output '["/bin/k3s"] ["agent"] {"/var/lib/cni":{},"/var/lib/kubelet":{},"/var/lib/rancher/k3s":{},"/var/log":{}} 1'
	mkdir -p "$WORK/out"
	run docker run --rm --name "$name" -v "$WORK/out:/output" -e K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml \
		-e K3S_KUBECONFIG_MODE=666 -e K3S_STANDIN_CHECK_ONLY=1 --entrypoint /bin/sh k3s-sandbox-test/k3s:local -c \
		'/bin/k3s server --disable-agent; cat /run/k3s-standin/report; cat /etc/os-release; test -d /var/run && ! test -L /var/run && echo var-run-dir;
		 IPTABLES_MODE=nft iptables --version; echo $CRI_CONFIG_FILE'
	assert_success
	assert_line "check host-local ok /var/lib/rancher/k3s/data/cni/host-local"
	assert_line "env K3S_KUBECONFIG_OUTPUT=/output/kubeconfig.yaml"
	assert_line "env PATH=/var/lib/rancher/k3s/data/cni:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:/bin/aux"
	assert_line 'PRETTY_NAME="K3s stand-in (k3s-sandbox-test/k3s:local)"'
	assert_line "var-run-dir"
	assert_line "iptables v1.8.9 (nf_tables)"
	assert_line "/var/lib/rancher/k3s/agent/etc/crictl.yaml"
	# a bind mount over /var/lib/rancher/k3s hides data/cni: k3s falls back to /bin
	mkdir -p "$WORK/state"
	run docker run --rm --name "$name" -v "$WORK/state:/var/lib/rancher/k3s" -e K3S_STANDIN_CHECK_ONLY=1 \
		k3s-sandbox-test/k3s:local server --disable-agent
	assert_success
	assert_output --partial "check host-local ok /bin/host-local"
	# the agent as the entrypoint's default, unprivileged: the wrapper picks the
	# mode it is told, and kubelet stops at the read-only /proc/sys
	run docker run --rm --name "$name" --cap-add NET_ADMIN -e IPTABLES_MODE=legacy -e K3S_TOKEN=x \
		-e K3S_URL=https://server:6443 -e K3S_STANDIN_CHECK_ONLY=1 k3s-sandbox-test/k3s:local agent --snapshotter=native
	assert_failure 1
	assert_output --partial "check iptables ok mode legacy via /bin/aux/iptables (IPTABLES_MODE=legacy): iptables v1.8.9 (legacy)"
	assert_output --partial "failed to create kubelet: open /dev/kmsg: no such file or directory"
}
