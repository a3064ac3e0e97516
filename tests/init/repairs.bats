#!/usr/bin/env bats
# The repairs for real: each test takes away, in fresh mount and PID namespaces,
# what one repair restores, runs $K3S_INIT with the checker (fixtures/checker.c)
# as the named program or as a fake k3s, and asserts what k3s/kubelet would see.

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools unshare gcc mknod strace setpriv
	build_checker
}

@test "kmsg: a /dev without kmsg gets a readable /dev/kmsg" {
	run ns_run "$NO_KMSG; test ! -e /dev/kmsg; K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER"
	assert_success
	assert_line --partial "kmsg: bound /dev/null over /dev/kmsg"
	assert_check kmsg
}

@test "cgroups: an empty /sys/fs/cgroup gets v1 hierarchies with memory and pids" {
	run ns_run "$NO_CGROUPS; K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER"
	assert_success
	assert_line --regexp "k3s-init: cgroups: mounted"
	assert_check cgroups
	assert_line --regexp "^check cgroups ok first=/sys/fs/cgroup/"
}

@test "sysctl: hidden and read-only tunables become readable and writable, other entries stay real" {
	# (A '!' command does not stop bash -e: the preconditions are tests.)
	run ns_run "$BAD_SYSCTL; test ! -e /proc/sys/kernel/keys/root_maxkeys;
		if sh -c 'echo 1 > /proc/sys/kernel/panic' 2>/dev/null; then exit 90; fi;
		K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER; cat /proc/sys/kernel/osrelease"
	assert_success
	assert_line --partial "sysctl: covered /proc/sys/kernel with a tmpfs"
	assert_line --partial "sysctl: covered /proc/sys/kernel/keys with a tmpfs"
	assert_check sysctl
	assert_line "check sysctl ok kernel/keys/root_maxkeys=1000000 writable"
	assert_line "check sysctl ok kernel/panic=10 writable"
	assert_line "$(uname -r)"
}

@test "host-local: a PATH without host-local gets this binary as host-local, runnable, not a symlink" {
	run ns_run "if command -v host-local; then exit 90; fi; K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER"
	assert_success
	# /run is not the binary's file system, and a control plane mounts nothing.
	assert_line --partial "host-local: placed k3s-init as /run/k3s-init/bin/host-local (copy)"
	assert_check host-local
	assert_line --regexp "^check host-local ok /run/k3s-init/bin/host-local symlink=0 version-exit=0"
	# A privileged role binds the binary instead of copying it; a second run keeps it.
	run ns_run "K3S_INIT_ROLE=agent \$K3S_INIT true; K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER;
		test \"\$(stat -L -c %d:%i /run/k3s-init/bin/host-local)\" = \"\$(stat -L -c %d:%i \$K3S_INIT)\" && echo same-inode"
	assert_success
	assert_line --partial "host-local: placed k3s-init as /run/k3s-init/bin/host-local (bind mount)"
	assert_line --partial "host-local: kept k3s-init as /run/k3s-init/bin/host-local"
	assert_line "same-inode"
	assert_line --regexp "^check host-local ok /run/k3s-init/bin/host-local symlink=0 version-exit=0"
}

# An earlier start (of another build) left a host-local behind. Only this
# very binary may be kept: a file of the same size is not the same build,
# and a symlink is not what k3s-init places (sandboxes that do not follow
# symlinked plugins).
@test "host-local: a different executable of the same size, or a symlink, is replaced, not kept" {
	local stale='mkdir -p /run/k3s-init/bin; f=/run/k3s-init/bin/host-local;
		printf "#!/bin/sh\\necho stale build\\nexit 0\\n" >$f; truncate -s "$(stat -c %s "$K3S_INIT")" $f; chmod 755 $f'
	run ns_run "$stale; K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER; cmp \$K3S_INIT /run/k3s-init/bin/host-local"
	assert_success
	assert_line --partial "host-local: placed k3s-init as /run/k3s-init/bin/host-local"
	assert_line --regexp "^check host-local ok /run/k3s-init/bin/host-local symlink=0 version-exit=0"
	run ns_run "mkdir -p /run/k3s-init/bin; ln -s \$K3S_INIT /run/k3s-init/bin/host-local;
		K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER; test ! -L /run/k3s-init/bin/host-local"
	assert_success
	assert_line --partial "host-local: placed k3s-init as /run/k3s-init/bin/host-local"
	assert_line --regexp "^check host-local ok /run/k3s-init/bin/host-local symlink=0 version-exit=0"
}

@test "host-local: one already on PATH is left alone" {
	run ns_run "PATH=/usr/lib/cni:\$PATH K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER"
	assert_success
	assert_line --partial "host-local: ok: host-local found on PATH: /usr/lib/cni/host-local"
	assert_line --regexp "^check host-local ok /usr/lib/cni/host-local"
}

@test "iptables: IPTABLES_MODE exported from the kernel probe and the six names linked" {
	local mode=nft name
	grep -q . /proc/net/ip_tables_names 2>/dev/null && mode=legacy
	run ns_run "K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER;
		for n in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
			echo \"link \$n -> \$(readlink /run/k3s-init/bin/\$n)\"; done"
	assert_success
	assert_check iptables
	assert_line --regexp "^check iptables ok IPTABLES_MODE=$mode iptables=/run/k3s-init/bin/iptables -> .*/xtables-$mode-multi$"
	for name in iptables iptables-save iptables-restore ip6tables ip6tables-save ip6tables-restore; do
		assert_line --regexp "^link $name -> /.*/xtables-$mode-multi$"
	done
}

@test "loopback: lo down in a new network namespace is brought up" {
	NS_NET=1 run ns_run "K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER"
	assert_success
	assert_line "k3s-init: loopback: set lo up"
	assert_check lo
}

@test "propagation: a private / becomes rshared, mounts below it too" {
	run ns_run "mkdir -p /run/sub; mount -t tmpfs sub /run/sub; mount --make-private /run/sub;
		K3S_INIT_ROLE=agent \$K3S_INIT sh -c 'grep -E \" / (/|/run/sub) \" /proc/self/mountinfo'"
	assert_success
	assert_line "k3s-init: propagation: made / rshared"
	assert_line --regexp " / / .*shared:[0-9]+"
	assert_line --regexp " / /run/sub .*shared:[0-9]+"
}

@test "everything taken away at once: the fake k3s agent sees a kubelet-ready environment" {
	NS_NET=1 run ns_run "$NO_KMSG; $NO_CGROUPS; $BAD_SYSCTL; \$K3S_INIT agent --node-name n1"
	assert_success
	for check in kmsg cgroups sysctl host-local lo iptables; do
		assert_check "$check"
	done
	assert_line "argv[1]=agent"
	assert_line "argv[2]=--node-name"
	assert_line "pid 1"
}

@test "flags: fail-cgroupv1 on Kubernetes 1.35 with cgroup v1, after the subcommand, user flags kept" {
	NS_ENV="K3S_INIT_K3S_VERSION=v1.35.0-k3s1" run ns_run "\$K3S_INIT server --disable=traefik"
	assert_success
	assert_line "argv[1]=server"
	assert_line "argv[2]=--kubelet-arg=fail-cgroupv1=false"
	assert_line "argv[3]=--disable=traefik"
}

@test "flags: fail-cgroupv1 on 1.36 and later too; not when the user already sets it (arguments or config file)" {
	local v
	for v in v1.36.0-k3s1 v1.40.2+k3s1; do
		NS_ENV="K3S_INIT_K3S_VERSION=$v" run ns_run "\$K3S_INIT agent"
		assert_success
		assert_line "argv[2]=--kubelet-arg=fail-cgroupv1=false"
	done
	NS_ENV="K3S_INIT_K3S_VERSION=v1.36.0-k3s1" run ns_run "\$K3S_INIT agent --kubelet-arg=fail-cgroupv1=true"
	assert_success
	assert_line "argv[2]=--kubelet-arg=fail-cgroupv1=true"
	refute_line "argv[2]=--kubelet-arg=fail-cgroupv1=false"
	assert_line --partial "cgroupv1: ok: fail-cgroupv1 already set"
	NS_ENV="K3S_INIT_K3S_VERSION=v1.36.0-k3s1 K3S_CONFIG_FILE=/run/cfg/config.yaml" run ns_run "mkdir -p /run/cfg/config.yaml.d
		printf 'kubelet-arg:\n  - fail-cgroupv1=true\n' >/run/cfg/config.yaml.d/50-user.yaml; \$K3S_INIT agent"
	assert_success
	refute_line --partial "argv[2]="
	assert_line --partial "cgroupv1: ok: fail-cgroupv1 already set (arguments or config file)"
}

@test "flags: settings in the config file and its drop-ins count as the user's (snapshotter, kubelet-arg, data-dir)" {
	# Overlay cannot take an upper dir on overlayfs: a data dir there refuses it.
	local overlay='mkdir -p /run/o/l /run/o/u /run/o/w /run/o/m;
		mount -t overlay overlay -o lowerdir=/run/o/l,upperdir=/run/o/u,workdir=/run/o/w /run/o/m'
	NS_ENV="K3S_CONFIG_FILE=/run/cfg/config.yaml K3S_INIT_LOCAL_STORAGE=auto" run ns_run "$overlay; mkdir -p /run/cfg/config.yaml.d
		printf 'data-dir: /run/o/m/k3s # on overlayfs\nsnapshotter: \"stargz\"\n' >/run/cfg/config.yaml
		printf 'kubelet-arg+: [local-storage-capacity-isolation=true]\n' >/run/cfg/config.yaml.d/10.yaml
		\$K3S_INIT doctor agent; \$K3S_INIT agent"
	assert_success
	assert_line --partial "probe: overlayfs on /run/o/m: no Invalid argument"
	assert_line --partial "plan: snapshotter: ok: snapshotter stargz set by the user"
	refute_line "argv[2]=--snapshotter=native"
	refute_line --partial "argv[2]="
	# A later drop-in's key replaces the file's; the last one is what k3s uses.
	NS_ENV="K3S_CONFIG_FILE=/run/cfg/config.yaml" run ns_run "$overlay; mkdir -p /run/cfg/config.yaml.d
		printf 'data-dir: /run/o/m/k3s\nsnapshotter: stargz\n' >/run/cfg/config.yaml
		printf 'snapshotter: fuse-overlayfs\n' >/run/cfg/config.yaml.d/20.yaml
		printf 'snapshotter: overlayfs\n' >/run/cfg/config.yaml.d/10.yaml
		\$K3S_INIT doctor agent"
	assert_success
	assert_line --partial "plan: snapshotter: ok: snapshotter fuse-overlayfs set by the user"
}

@test "flags: no fail-cgroupv1 before 1.35, or without K3S_INIT_K3S_VERSION (logged why)" {
	NS_ENV="K3S_INIT_K3S_VERSION=v1.34.3-k3s3" run ns_run "\$K3S_INIT server"
	assert_success
	refute_line --partial "argv[2]="
	run ns_run "\$K3S_INIT server"
	assert_success
	assert_line --partial "K3S_INIT_K3S_VERSION unset"
	refute_line --partial "fail-cgroupv1=false"
}

@test "flags: a data dir whose path has ',' or ':' is escaped for the overlayfs trial (no false --snapshotter=native)" {
	run ns_run "mkdir -p '/run/a,b:c\\d'; \$K3S_INIT doctor agent --data-dir '/run/a,b:c\\d/k3s';
		\$K3S_INIT agent --data-dir '/run/a,b:c\\d/k3s'; ls -A '/run/a,b:c\\d' | wc -l"
	assert_success
	assert_line 'probe: overlayfs on /run/a,b:c\d: yes'
	refute_line "argv[2]=--snapshotter=native"
	assert_line "0"
}

@test "flags: the overlayfs trial runs where it can decide, and cleans up after a refused mount" {
	run ns_run "mkdir /run/d; setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \$K3S_INIT doctor agent --data-dir /run/d/k3s;
		ls -A /run/d | wc -l"
	assert_line "probe: overlayfs on /run/d: no Operation not permitted"
	assert_line --partial "plan: snapshotter: repair: overlayfs does not mount on /run/d: Operation not permitted -> --snapshotter=native"
	assert_line "0"
}

@test "flags: --snapshotter=native when overlayfs cannot mount on the data dir" {
	# Overlay cannot take an upper dir on overlayfs: a data dir there refuses it.
	run ns_run "mkdir -p /run/o/l /run/o/u /run/o/w /run/o/m;
		mount -t overlay overlay -o lowerdir=/run/o/l,upperdir=/run/o/u,workdir=/run/o/w /run/o/m;
		\$K3S_INIT agent --data-dir /run/o/m/k3s; ls -A /run/o/m"
	assert_success
	assert_line "argv[2]=--snapshotter=native"
	refute_line --partial ".k3s-init-overlay"
}

@test "flags: local storage isolation goes off when kubelet's root dir, not /, is on a filesystem cAdvisor does not know" {
	# The gVisor case: / an overlay, /var/lib/kubelet a 9p volume. ramfs
	# stands in for 9p (both unknown to cAdvisor); / stays the host's.
	run ns_run "mount -t tmpfs tmpfs /var/lib && mkdir /var/lib/kubelet && mount -t ramfs ramfs /var/lib/kubelet && \$K3S_INIT doctor agent && \$K3S_INIT agent"
	assert_success
	assert_line "probe: kubelet root dir /var/lib/kubelet: ramfs (0x858458f6), unknown to cAdvisor"
	assert_line "plan: local-storage: repair: /var/lib/kubelet is on ramfs (0x858458f6), unknown to cAdvisor"
	assert_line "argv[2]=--kubelet-arg=local-storage-capacity-isolation=false"
	# Before kubelet creates it, its nearest existing parent decides: a tmpfs.
	run ns_run "mount -t tmpfs tmpfs /var/lib && \$K3S_INIT doctor agent"
	assert_success
	assert_line "probe: kubelet root dir /var/lib: tmpfs (0x01021994), known to cAdvisor"
	assert_line "plan: local-storage: ok: /var/lib is on tmpfs, known to cAdvisor"
	# The image filesystem, containerd's root below the data dir: no repair,
	# a limit line (kubelet's image GC and eviction cannot run).
	run ns_run "mkdir /run/ram && mount -t ramfs ramfs /run/ram && \$K3S_INIT doctor agent --data-dir /run/ram/k3s"
	assert_success
	assert_line "probe: image filesystem /run/ram: ramfs (0x858458f6), unknown to cAdvisor"
	assert_line --regexp "^limit: containerd's root /run/ram is on ramfs, unknown to cAdvisor: kubelet's image garbage collection and disk-pressure eviction cannot run"
	run ns_run "\$K3S_INIT doctor agent --data-dir /run/k3s"
	assert_line "probe: image filesystem /run: tmpfs (0x01021994), known to cAdvisor"
	refute_line --regexp "^limit: containerd's root"
}

# The pod-network step's trial bridge is tried only under gVisor (tests/images
# real-parts.bats: real kubelet and containerd there use what it sets up);
# forced on here, it does the same on this kernel.
@test "pod-network: not tried off gVisor; forced on: routed-veth beside host-local, --flannel-cni-conf delegating to it; a user's wins" {
	run ns_run "\$K3S_INIT doctor agent"
	assert_success
	assert_line "plan: pod-network: ok: bridge ports not tried: not under gVisor"
	NS_ENV="K3S_INIT_POD_NETWORK=on" run ns_run "\$K3S_INIT agent; jq -c . /run/k3s-init/flannel-cni.conflist;
		CNI_COMMAND=VERSION /run/k3s-init/bin/routed-veth </dev/null | jq -c .; test ! -L /run/k3s-init/bin/routed-veth"
	assert_success
	assert_line "k3s-init: pod-network: adding --flannel-cni-conf=/run/k3s-init/flannel-cni.conflist (flannel delegates to routed-veth, placed at /run/k3s-init/bin/routed-veth; forced on; bridge ports not tried: not under gVisor)"
	assert_line "argv[2]=--flannel-cni-conf=/run/k3s-init/flannel-cni.conflist"
	assert_line '{"name":"cbr0","cniVersion":"1.0.0","plugins":[{"type":"flannel","delegate":{"type":"routed-veth","ipMasq":true}}]}'
	assert_line '{"cniVersion":"1.1.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}'
	# The user's own config, on the command line or in the config file.
	run ns_run "\$K3S_INIT doctor agent --flannel-cni-conf=/etc/mine.conflist"
	assert_line "plan: pod-network: ok: flannel-cni-conf set by the user (arguments or config file)"
	NS_ENV="K3S_INIT_POD_NETWORK=on" run ns_run "mkdir -p /run/cfg; echo 'flannel-cni-conf: /etc/mine.conflist' >/run/cfg/config.yaml;
		K3S_CONFIG_FILE=/run/cfg/config.yaml \$K3S_INIT agent"
	assert_success
	assert_line "k3s-init: pod-network: kept the user's --flannel-cni-conf=/etc/mine.conflist"
	refute_line --partial "=/run/k3s-init/flannel-cni.conflist"
}

# gVisor's procfs lacks the sysctls containerd gives every pod with a network
# of its own; tests/images/real-parts.bats runs real pods through the front
# there. Here: forced on, and the front itself on a bundle whose spec names
# one sysctl this kernel has and one it does not.
@test "pod-sysctls: not needed off gVisor; forced on: k3s-init as runc first on PATH, dropping only the sysctls the kernel lacks" {
	run ns_run "\$K3S_INIT doctor agent"
	assert_line "plan: pod-sysctls: ok: not under gVisor: runc can set every sysctl containerd asks for"
	local real="$BATS_TEST_TMPDIR/real" bundle='{"ociVersion":"1.0.2","linux":{"sysctl":{"net.ipv4.ip_forward":"1","net.ipv4.no_such_sysctl":"0"}}}'
	mkdir -p "$real"
	printf '#!/bin/sh\necho "real runc: $*"; cat /run/bundle/config.json\n' >"$real/runc"
	chmod 755 "$real/runc"
	NS_ENV="K3S_INIT_POD_SYSCTLS=on" run ns_run "mkdir -p /run/bundle; printf '%s' '$bundle' >/run/bundle/config.json
		PATH=$real:\$PATH \$K3S_INIT agent; PATH=/run/k3s-init/bin:$real:\$PATH; command -v runc
		runc --root /run/r create --bundle /run/bundle c1; echo; runc state c1"
	assert_success
	assert_line --regexp "^k3s-init: pod-sysctls: placed k3s-init as /run/k3s-init/bin/runc in front of .*/real/runc: "
	assert_line "/run/k3s-init/bin/runc"
	assert_line "k3s-init runc: dropping sysctl net.ipv4.no_such_sysctl=0: this kernel has no such file under /proc/sys"
	assert_line "real runc: --root /run/r create --bundle /run/bundle c1"
	assert_line '{"ociVersion":"1.0.2","linux":{"sysctl":{"net.ipv4.ip_forward":"1"}}}'
	# Other commands pass straight through.
	assert_line "real runc: state c1"
	assert_equal "$(grep -c 'dropping sysctl' <<<"$output")" 1
}

# gVisor's procfs has no route_localnet, and real kube-proxy exits at start
# when it cannot set it (tests/images/real-parts.bats). A tmpfs over
# conf/all hides it here.
@test "flags: no route_localnet: kube-proxy gets iptables-localhost-nodeports=false, unless the user sets it" {
	run ns_run "mount -t tmpfs tmpfs /proc/sys/net/ipv4/conf/all && \$K3S_INIT agent"
	assert_success
	assert_line "k3s-init: localhost-nodeports: adding --kube-proxy-arg=iptables-localhost-nodeports=false (no /proc/sys/net/ipv4/conf/all/route_localnet: kube-proxy would exit at start; NodePorts do not answer on 127.0.0.1)"
	assert_line "argv[2]=--kube-proxy-arg=iptables-localhost-nodeports=false"
	run ns_run "mount -t tmpfs tmpfs /proc/sys/net/ipv4/conf/all && \$K3S_INIT agent --kube-proxy-arg=nodeport-addresses=primary"
	assert_success
	assert_line --partial "localhost-nodeports: ok: no /proc/sys/net/ipv4/conf/all/route_localnet, but the user sets"
	refute_line --partial "iptables-localhost-nodeports=false"
	run ns_run "\$K3S_INIT doctor agent"
	assert_line "plan: localhost-nodeports: ok: /proc/sys/net/ipv4/conf/all/route_localnet exists"
}

@test "flags: a user --snapshotter wins; K3S_INIT_LOCAL_STORAGE=on adds the kubelet flag" {
	NS_ENV="K3S_INIT_SNAPSHOTTER=auto K3S_INIT_LOCAL_STORAGE=on" \
		run ns_run "\$K3S_INIT agent --snapshotter=stargz"
	assert_success
	assert_line "argv[2]=--kubelet-arg=local-storage-capacity-isolation=false"
	assert_line "argv[3]=--snapshotter=stargz"
	refute_line "argv[2]=--snapshotter=native"
}

@test "flags: never added to a named program or to k3s subcommands other than server/agent" {
	NS_ENV="K3S_INIT_LOCAL_STORAGE=on K3S_INIT_SNAPSHOTTER=on" run ns_run "\$K3S_INIT \$CHECKER x; \$K3S_INIT kubectl get nodes"
	assert_success
	refute_line --partial "argv[2]=--"
	assert_line "argv[1]=kubectl"
	assert_line "argv[1]=x"
}

@test "control-plane: nothing privileged: /dev/kmsg, cgroups and mounts untouched" {
	run ns_run "$NO_KMSG; $NO_CGROUPS; before=\$(wc -l </proc/self/mountinfo);
		\$K3S_INIT server --disable-agent; echo mounts \$before \$(wc -l </proc/self/mountinfo)"
	assert_success
	assert_line --partial "role: control-plane (arguments: --disable-agent)"
	assert_line --regexp "^check kmsg FAIL"
	assert_line --regexp "^mounts ([0-9]+) \1$"
	assert_check host-local
}

@test "control-plane from a config drop-in (disable-agent: true)" {
	run ns_run "mkdir -p /run/cfg/config.yaml.d; printf 'disable-agent: true\n' >/run/cfg/config.yaml.d/10-cp.yaml;
		K3S_CONFIG_FILE=/run/cfg/config.yaml \$K3S_INIT server"
	assert_success
	assert_line --partial "role: control-plane (config file: disable-agent: true)"
}

@test "idempotent: a second run in the same namespaces changes no mount" {
	NS_NET=1 run ns_run "$NO_KMSG; $NO_CGROUPS; $BAD_SYSCTL;
		K3S_INIT_ROLE=agent \$K3S_INIT true; a=\$(wc -l </proc/self/mountinfo);
		K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER; echo mounts \$a \$(wc -l </proc/self/mountinfo)"
	assert_success
	assert_line --regexp "^mounts ([0-9]+) \1$"
	assert_line "k3s-init: kmsg: ok: /dev/kmsg opens for reading"
	assert_line --partial "k3s-init: sysctl: ok:"
	assert_line --partial "k3s-init: cgroups: ok:"
	assert_line --partial "host-local: kept k3s-init as /run/k3s-init/bin/host-local"
	for check in kmsg cgroups sysctl host-local lo iptables; do
		assert_check "$check"
	done
}

@test "no execve before the child: strace sees only the init and the final program" {
	run ns_run "$NO_KMSG; $NO_CGROUPS; $BAD_SYSCTL;
		CHECKER_SKIP_EXEC=1 strace -f -qq -e trace=execve -o /run/trace \$K3S_INIT agent >/dev/null 2>&1;
		cat /run/trace"
	assert_success
	[ "$(grep -c 'execve(' <<<"$output")" -eq 2 ]
	assert_line --regexp 'execve\("[^"]*k3s-init"'
	assert_line --regexp "execve\(\"$K3SBIN/k3s\", \[\"k3s\", \"agent\""
}

@test "errors name the real cause: a read-only /run gives 'Read-only file system', not ENOENT" {
	run ns_run "mount -o remount,ro /run; K3S_INIT_ROLE=control-plane \$K3S_INIT \$CHECKER || echo rc=\$?"
	assert_success
	assert_line "k3s-init: error: host-local: mkdir /run/k3s-init/bin: Read-only file system"
	assert_line "rc=71"
	run ns_run "$BAD_SYSCTL; mount -o remount,ro /run; K3S_INIT_ROLE=agent K3S_INIT_HOST_LOCAL=off \$K3S_INIT \$CHECKER || echo rc=\$?"
	assert_line "k3s-init: error: sysctl: mkdir /run/k3s-init/sysctl-stage: Read-only file system"
	assert_line "rc=71"
}

@test "sysctl: a cover that fails half-way is taken down again (fault injected: the write of a file fails)" {
	# The failure cannot be caused on a real /proc/sys on demand: a small
	# LD_PRELOAD library fails that one open() (fixtures/failopen.c).
	gcc -shared -fPIC -O1 -Wall -Wextra -Werror -o "$BATS_TEST_TMPDIR/failopen.so" "$FIXTURES/failopen.c" -ldl
	# LD_PRELOAD needs a dynamic binary: the same sources, linked so.
	local init=$K3S_INIT
	if file -b "$init" | grep -q 'statically linked'; then
		make -s -C "$TOP" BUILD="$BATS_TEST_TMPDIR/dynamic" "$BATS_TEST_TMPDIR/dynamic/k3s-init" >&2
		init=$BATS_TEST_TMPDIR/dynamic/k3s-init
		file -b "$init" | grep -q 'dynamically linked' || fail "no dynamic build for the fault injection"
	fi
	NS_ENV="FAILOPEN_SO=$BATS_TEST_TMPDIR/failopen.so INIT=$init ASAN_OPTIONS=verify_asan_link_order=0" run ns_run "$BAD_SYSCTL;
		before=\$(grep -c ' /proc/sys/kernel ' /proc/self/mountinfo || true)
		LD_PRELOAD=\$FAILOPEN_SO FAILOPEN_PATH=/proc/sys/kernel/panic K3S_INIT_ROLE=agent \$INIT \$CHECKER || echo rc=\$?
		echo \"covers \$before \$(grep -c ' /proc/sys/kernel ' /proc/self/mountinfo || true)\"; cat /proc/sys/kernel/osrelease"
	assert_success
	assert_line --regexp "^k3s-init: error: sysctl: write /proc/sys/kernel/panic: "
	assert_line "rc=71"
	assert_line "covers 0 0"
	assert_line "$(uname -r)"
}

@test "descriptors: k3s gets 0, 1 and 2 and nothing the repairs opened" {
	# Whatever the test runner left open is closed first.
	NS_NET=1 run ns_run "$NO_KMSG; $NO_CGROUPS; $BAD_SYSCTL;
		for fd in \$(ls /proc/\$\$/fd); do if [ \$fd -gt 2 ]; then eval \"exec \$fd>&-\"; fi; done
		K3S_INIT_K3S_VERSION=v1.35.0-k3s1 \$K3S_INIT agent"
	assert_success
	assert_line "fds 0 1 2"
}

@test "the debug log times the probe and every step, in the steps' order" {
	run ns_run "$NO_KMSG; K3S_INIT_LOG=debug K3S_INIT_ROLE=agent \$K3S_INIT \$CHECKER"
	assert_success
	assert_line --regexp '^k3s-init: debug: probe: [0-9]+ us$'
	assert_line --regexp '^k3s-init: debug: kmsg: [0-9]+ us$'
	# One timing per STEP line of steps.def, in that order.
	local want got
	want=$(sed -n 's/^STEP(\(.*\))$/\1/p' "$BATS_TEST_DIRNAME/../../init/steps.def" | tr '_' '-' | tr '\n' ' ')
	got=$(sed -n 's/^k3s-init: debug: \([a-z0-9_-]*\): [0-9]* us$/\1/p' <<<"$output" | grep -v '^probe$' | tr '_' '-' | tr '\n' ' ')
	assert_equal "$got" "$want"
}

@test "a required repair that fails: exit 71 naming it (no CAP_SYS_ADMIN for the agent's kmsg)" {
	run ns_run "$NO_KMSG; setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \$K3S_INIT agent"
	assert_equal "$status" 71
	assert_line --partial "kmsg: failed, and k3s agent cannot start without it"
	refute_line --regexp "^check "
}
