#!/usr/bin/env bats
# k3s-init doctor: probe + plan, one fact per line, nothing changed, exit 0 when
# k3s can be expected to start and 1 (with reasons) when it cannot.

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools unshare gcc mknod setpriv
	build_checker
}

@test "runc-like host: facts, plan, exit 0" {
	run ns_run "\$K3S_INIT doctor agent"
	assert_success
	assert_line "probe: gvisor: no (uname $(uname -r))"
	assert_line --regexp '^probe: kubelet root dir /[a-z/]*: [a-z0-9]+ \(0x[0-9a-f]{8}\), known to cAdvisor$'
	assert_line "probe: /dev/kmsg: readable"
	assert_line --regexp '^probe: cgroups: (v1|v2|hybrid)'
	assert_line "probe: role: agent (arguments: k3s agent)"
	assert_line "probe: program: k3s -> $K3SBIN/k3s"
	assert_line --regexp '^plan: kmsg: ok: '
	assert_line --regexp '^plan: host-local: repair: no runnable host-local on PATH'
	# The agent's networking: devices tried in a private network namespace
	# (none is left), iptables asked for its matches and targets.
	assert_line "probe: links (tried in a private network namespace): vxlan yes, bridge yes, veth yes"
	assert_line "probe: pod network (a bridge with a veth port, same namespace): hairpin mode yes, route with a preferred source yes"
	assert_line "probe: iptables matches and targets missing: none"
	refute_line --regexp '^limit: '
	assert_line "verdict: k3s can be expected to start"
}

@test "agent networking limits: named, one line each, with what they break" {
	# Raw sockets taken away (no CAP_NET_RAW), as in gVisor without --net-raw.
	run ns_run "setpriv --inh-caps=-net_raw --bounding-set=-net_raw \$K3S_INIT doctor agent; ip -o link | grep -c k3si || true"
	assert_success
	assert_line "probe: iptables matches and targets: not asked (socket(AF_INET, SOCK_RAW): Operation not permitted)"
	assert_line "limit: no raw sockets (Operation not permitted): legacy iptables cannot read or load rules, so kube-proxy and flannel cannot either"
	assert_line "0"
	# A control plane runs no kube-proxy or flannel: not asked.
	run ns_run "\$K3S_INIT doctor server --disable-agent"
	refute_line --regexp '^(limit|probe: links|probe: iptables matches)'
}

@test "gVisor-like conditions (no kmsg, no cgroups, missing tunables): repairs planned, nothing changed" {
	run ns_run "$NO_KMSG; $NO_CGROUPS; $BAD_SYSCTL; before=\$(cat /proc/self/mountinfo | wc -l);
		\$K3S_INIT doctor agent; echo rc=\$?; echo mounts \$before \$(wc -l </proc/self/mountinfo);
		test ! -e /dev/kmsg && echo kmsg-still-absent; ls /run"
	assert_success
	assert_line "probe: /dev/kmsg: No such file or directory"
	assert_line "probe: cgroups: none; controllers: none"
	assert_line --regexp "^probe: sysctl kernel/keys/root_maxkeys: missing"
	assert_line --regexp "^probe: sysctl kernel/panic: unwritable, value [0-9]+: Read-only file system"
	assert_line --regexp "^plan: kmsg: repair: /dev/kmsg: No such file or directory"
	assert_line --regexp "^plan: cgroups: repair: "
	assert_line --regexp "^plan: sysctl: repair: .*kernel/panic unwritable.*kernel/keys/root_maxkeys missing"
	assert_line "verdict: k3s can be expected to start"
	assert_line "rc=0"
	assert_line --regexp "^mounts ([0-9]+) \1$"
	assert_line "kmsg-still-absent"
	# doctor logs no repair: no "k3s-init: ..." line at all.
	refute_line --regexp "^k3s-init: "
}

@test "exit 1 with the reason: a required repair is needed but turned off" {
	NS_ENV="K3S_INIT_KMSG=off" run -1 ns_run "$NO_KMSG; \$K3S_INIT doctor agent"
	assert_line "cannot start: kmsg is needed but turned off: /dev/kmsg: No such file or directory"
	assert_line "verdict: k3s cannot be expected to start (reasons above)"
}

@test "exit 1: mounts needed without CAP_SYS_ADMIN; k3s not on PATH" {
	run -1 ns_run "$NO_KMSG; setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \$K3S_INIT doctor agent"
	assert_line --regexp "^cannot start: kmsg needs CAP_SYS_ADMIN"
	run -1 ns_run "PATH=/usr/bin:/bin \$K3S_INIT doctor server"
	assert_line "cannot start: k3s not found on PATH (exit 127)"
}

@test "control-plane: agent repairs skipped, so no privileges are needed" {
	run ns_run "$NO_KMSG; $NO_CGROUPS; setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin \$K3S_INIT doctor server --disable-agent"
	assert_success
	assert_line "probe: role: control-plane (arguments: --disable-agent)"
	assert_line "plan: kmsg: skip: not for role control-plane"
	assert_line "plan: cgroups: skip: not for role control-plane"
	assert_line "probe: overlayfs on /var/lib/rancher/k3s: not tried"
	assert_line "verdict: k3s can be expected to start"
}

@test "doctor with bad settings: 64 like the init" {
	NS_ENV="K3S_INIT_SYSCTL=sometimes" run -64 ns_run "\$K3S_INIT doctor"
	assert_output --partial "K3S_INIT_SYSCTL=sometimes"
}
