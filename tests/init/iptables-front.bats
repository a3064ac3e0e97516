#!/usr/bin/env bats
# The iptables front (init/iptables_front.c) on this machine's kernel, which
# has every extension kube-proxy writes rules with: whatever reaches it
# reaches the next iptables on PATH unchanged. What it takes out where the
# kernel lacks extensions is shown with gVisor's netstack and the real
# iptables (tests/images/gvisor-current.bats). Here the next iptables is a
# recorder, the one way to see the exact bytes and words it is given.

load helpers

RULES=$TOP/tests/fixtures/kube-proxy/rules.txt

setup_file() {
	require_root
	require_k3s_init
}

setup() {
	front=$BATS_TEST_TMPDIR/front recorder=$BATS_TEST_TMPDIR/recorder
	export GOT=$BATS_TEST_TMPDIR/got
	mkdir -p "$front" "$recorder" "$GOT"
	local name
	for name in iptables iptables-restore ip6tables ip6tables-restore; do
		ln -s "$K3S_INIT" "$front/$name"
		# shellcheck disable=SC2016 # expanded by the recorder
		printf '#!/bin/sh\nprintf "%%s\\n" "$0" "$@" >"$GOT/args"\ncase $0:$1 in *:--version) ;; *-restore:*) cat >"$GOT/stdin" ;; esac\n' \
			>"$recorder/$name"
		chmod +x "$recorder/$name"
	done
	export PATH="$front:$recorder:$PATH"
}

@test "iptables-restore: kube-proxy's rules reach the next iptables-restore byte for byte, options as given" {
	run iptables-restore -w 5 -W 100000 --noflush --counters <"$RULES"
	assert_success
	cmp "$RULES" "$GOT/stdin"
	assert_equal "$(cat "$GOT/args")" "$(printf '%s\n' "$recorder/iptables-restore" -w 5 -W 100000 --noflush --counters)"
	run ip6tables-restore --noflush <"$RULES"
	assert_success
	cmp "$RULES" "$GOT/stdin"
}

@test "iptables-restore FILE: the file is read and passed on as standard input" {
	run iptables-restore -w 5 --noflush "$RULES" </dev/null
	assert_success
	cmp "$RULES" "$GOT/stdin"
	assert_equal "$(cat "$GOT/args")" "$(printf '%s\n' "$recorder/iptables-restore" -w 5 --noflush)"
}

@test "iptables: a rule with comments and conntrack reaches the next iptables word for word" {
	run iptables -w 5 -W 100000 -C FORWARD -t filter -m conntrack --ctstate NEW -m comment \
		--comment "kubernetes service portals" -j KUBE-SERVICES
	assert_success
	assert_equal "$(cat "$GOT/args")" "$(printf '%s\n' "$recorder/iptables" -w 5 -W 100000 -C FORWARD -t filter \
		-m conntrack --ctstate NEW -m comment --comment "kubernetes service portals" -j KUBE-SERVICES)"
}

@test "--version and --help read no input (standard input here never ends)" {
	run iptables-restore --version </dev/zero
	assert_success
	assert_equal "$(cat "$GOT/args")" "$(printf '%s\n' "$recorder/iptables-restore" --version)"
}

@test "errors: no such input file is exit 1, named; no other iptables on PATH is 127; nothing runs" {
	run -1 iptables-restore --noflush /nonexistent/rules
	assert_output "k3s-init iptables-restore: cannot open /nonexistent/rules: No such file or directory"
	[ ! -e "$GOT/args" ]
	run -127 env PATH="$front" iptables -t nat -S
	assert_output "k3s-init iptables: no other iptables on PATH ($front)"
	[ ! -e "$GOT/args" ]
}
