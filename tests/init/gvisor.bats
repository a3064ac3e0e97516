#!/usr/bin/env bats
# The repairs under real gVisor (docker --runtime=runsc, --network=none per the
# daemon's runtime args): 9p root, no /dev/kmsg, no cgroups, most kernel
# tunables missing, no nf_tables. The image is built locally from the binary
# under test (tests/init/helpers.bash gvisor_image).

load helpers

setup_file() {
	require_root
	require_k3s_init
	require_tools docker runsc gcc busybox ldd
	docker info --format '{{json .Runtimes}}' | grep -q runsc || {
		echo "gvisor.bats: dockerd has no runsc runtime (tests/lib/setup-host.sh configures it)" >&2
		return 1
	}
	build_checker
	GVISOR_IMAGE=$(gvisor_image "$K3S_INIT" "$(basename "$(dirname "$K3S_INIT")")-$$")
	export GVISOR_IMAGE
}

teardown_file() {
	[ -z "${GVISOR_IMAGE:-}" ] || docker rmi -f "$GVISOR_IMAGE" >/dev/null 2>&1 || true
}

@test "gVisor: doctor reports 9p root, no kmsg, no cgroups, no nf_tables, and that k3s can start" {
	run gvisor_run "$GVISOR_IMAGE" /k3s-init doctor agent
	assert_success
	assert_line --regexp '^probe: gvisor: yes \(uname 4\.4\.0'
	assert_line --regexp "^probe: kubelet root dir /[a-z/]*: 9p \\(0x01021997\\), unknown to cAdvisor$"
	assert_line "probe: /dev/kmsg: No such file or directory"
	assert_line "probe: cgroups: none; controllers: none"
	assert_line "probe: nf_tables: no Protocol not supported"
	assert_line --regexp "^probe: sysctl vm/panic_on_oom: missing"
	assert_line --regexp "^probe: sysctl vm/overcommit_memory: unwritable, value 0"
	assert_line --regexp "^plan: local-storage: repair: /[a-z/]* is on 9p \\(0x01021997\\), unknown to cAdvisor$"
	assert_line --regexp "^limit: containerd's root /[a-z/]* is on 9p, unknown to cAdvisor: "
	assert_line --regexp "^plan: iptables: repair: mode legacy"
	# What no repair can give the agent, found by asking (Debian's runsc:
	# no link creation in a network namespace, no raw sockets without
	# --net-raw); the verdict is about k3s starting, not about pod networks.
	assert_line --regexp "^limit: network devices cannot be created here "
	assert_line --regexp "^limit: no raw sockets \(Operation not permitted\): .*gVisor has them only with runsc --net-raw$"
	assert_line "verdict: k3s can be expected to start"
}

@test "gVisor: k3s agent gets kmsg, v1 cgroups with memory and pids, the six tunables, host-local, legacy" {
	run gvisor_run "$GVISOR_IMAGE" /k3s-init agent
	assert_success
	for check in kmsg cgroups sysctl host-local lo iptables; do
		assert_check "$check"
	done
	assert_line "check sysctl ok vm/overcommit_memory=1 writable"
	assert_line "check sysctl ok kernel/keys/root_maxbytes=25000000 writable"
	assert_line --regexp '^check cgroups ok first=/sys/fs/cgroup/[a-z]+ memory=1 pids=1'
	assert_line --regexp '^check iptables ok IPTABLES_MODE=legacy '
	assert_line "argv[1]=agent"
	assert_line "argv[2]=--kubelet-arg=local-storage-capacity-isolation=false"
	assert_line --regexp '^k3s-init: warning: propagation: cannot make / rshared: Invalid argument'
	assert_line "pid 1"
}

# Debian's 2022 runsc has no kernel/keys directory at all: the overlay on
# kernel/ takes the directory too (a current runsc has it, with maxkeys).
@test "gVisor: the tunables' covers are overlays: real entries stay real beside kubelet's files" {
	run gvisor_run "$GVISOR_IMAGE" busybox env K3S_INIT_ROLE=agent /k3s-init sh -c '
		echo "hostname $(cat /proc/sys/kernel/hostname) uname $(uname -n)"
		echo "max_map_count $(cat /proc/sys/vm/max_map_count) mmap_min_addr $(cat /proc/sys/vm/mmap_min_addr)"
		echo "panic $(cat /proc/sys/kernel/panic) root_maxkeys $(cat /proc/sys/kernel/keys/root_maxkeys)"
		echo 20 >/proc/sys/kernel/panic && echo "panic now $(cat /proc/sys/kernel/panic)"'
	assert_success
	assert_line "k3s-init: sysctl: covered /proc/sys/vm with an overlay (upper /run/k3s-init/sysctl-upper/vm.upper on tmpfs), files vm/overcommit_memory=1 vm/panic_on_oom=0"
	assert_line --regexp "^k3s-init: sysctl: covered /proc/sys/kernel with an overlay .*, files kernel/panic=10 kernel/panic_on_oops=1"
	assert_line --regexp "^k3s-init: sysctl: .*kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000"
	refute_line --partial "bound back"
	assert_line --regexp '^hostname ([0-9a-f]+) uname \1$'
	assert_line --regexp '^max_map_count [0-9]+ mmap_min_addr [0-9]+$'
	assert_line "panic 10 root_maxkeys 1000000"
	assert_line "panic now 20"
}

@test "gVisor: exit statuses (64 bad setting, 127 not found) and a second run changes nothing" {
	run -64 gvisor_run "$GVISOR_IMAGE" busybox env K3S_INIT_CGROUPS=sure /k3s-init agent
	assert_output --partial "K3S_INIT_CGROUPS=sure"
	run -127 gvisor_run "$GVISOR_IMAGE" /k3s-init no-such-program
	assert_output --partial "no-such-program"
	run gvisor_run "$GVISOR_IMAGE" /k3s-init sh -c '
		/k3s-init true; a=$(busybox wc -l </proc/self/mountinfo);
		K3S_INIT_ROLE=agent /k3s-init checker; echo mounts $a $(busybox wc -l </proc/self/mountinfo)'
	assert_success
	assert_line --regexp "^mounts ([0-9]+) \1$"
	assert_check sysctl
	assert_check kmsg
}
