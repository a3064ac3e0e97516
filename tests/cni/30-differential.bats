#!/usr/bin/env bats
# Differential tests against the real host-local of Debian's
# containernetworking-plugins (1.1.1): same config and environment -> same
# result JSON (modulo key order) and same state files (names and contents);
# and the two plugins taking turns on one dataDir never hand out an address
# twice.
# Compared only where both implement the behaviour: Debian's plugin knows
# CNI versions up to 1.0.0 and has no GC or STATUS, so 1.1.0, GC and STATUS
# are covered by the conformance suite alone. Error results are compared on
# code and message; upstream omits "cniVersion" in errors (the spec wants it)
# and reports config errors as 999 where we use the spec's 7, so config
# errors are compared on "both fail, nothing written". File modes differ by
# design: 1.1.1 creates address files 0644, current upstream (and we) 0600.

load helpers

setup() {
	cni_setup
	need_real_plugin
	DATA_REAL="$BATS_TEST_TMPDIR/real"
	DATA_OURS="$BATS_TEST_TMPDIR/ours"
}

# both COMMAND ID IFNAME CONFIG-WITH-@DATA@ : run each plugin on its own
# dataDir, compare outputs (normalized) and exit statuses.
# With COMPARE=code, errors are compared on their code only (Go's JSON
# decoder and jansson word syntax errors differently).
both() {
	local cmd=$1 id=$2 ifname=$3 config=$4 a b sa sb filter='if .code then {code, msg} else . end'
	[ "${COMPARE:-}" != code ] || filter='if .code then {code} else . end'
	real "$cmd" "$id" "$ifname" "${config//@DATA@/$DATA_REAL}"
	sa=$status
	a=$(jq -S "$filter" <<<"${output:-null}" 2>&1) || a="raw:$output"
	ours "$cmd" "$id" "$ifname" "${config//@DATA@/$DATA_OURS}"
	sb=$status
	b=$(jq -S "$filter" <<<"${output:-null}" 2>&1) || b="raw:$output"
	if [ "$sa" != "$sb" ] || [ "$a" != "$b" ]; then
		fail "$cmd $id $ifname differs: real ($sa): $a ours ($sb): $b"
	fi
}

same_state() {
	local a b
	a=$(state_of "$DATA_REAL")
	b=$(state_of "$DATA_OURS")
	[ "$a" = "$b" ] || fail "state differs: real: $a ours: $b"
}

c() { # VERSION IPAM-MEMBERS [EXTRA]
	local saved=$DATA
	DATA=@DATA@
	conf "$@"
	DATA=$saved
}

differential_sequence() {
	local v=$1 ipam=$2 cfg
	cfg=$(c "$v" "$ipam")
	both ADD a eth0 "$cfg"
	both ADD b eth0 "$cfg"
	both ADD a eth1 "$cfg"
	both ADD a eth0 "$cfg" # duplicate
	both DEL b eth0 "$cfg"
	both DEL b eth0 "$cfg" # idempotent
	both ADD c eth0 "$cfg" # round-robin continues
	both DEL nothing eth0 "$cfg"
	same_state
}

@test "differential: IPv4 /24 at every version both support" {
	local v
	for v in 0.1.0 0.2.0 0.3.0 0.3.1 0.4.0 1.0.0; do
		rm -rf "$DATA_REAL" "$DATA_OURS"
		differential_sequence "$v" "$V4_24"
	done
}

@test "differential: dual stack with routes, IPv6 only, legacy form, several ranges" {
	local ipam
	for ipam in "$DUAL" '"ranges":[[{"subnet":"2001:db8:0:1::/64","rangeStart":"2001:db8:0:1::fffe"}]]' \
		'"subnet":"10.5.0.0/24","rangeStart":"10.5.0.100","rangeEnd":"10.5.0.103","gateway":"10.5.0.101","routes":[{"dst":"10.96.0.0/12"}]' \
		'"ranges":[[{"subnet":"10.1.0.0/30"},{"subnet":"10.2.0.0/29"}],[{"subnet":"fd00:1::/125","gateway":"fd00:1::7"}]]'; do
		rm -rf "$DATA_REAL" "$DATA_OURS"
		differential_sequence 0.4.0 "$ipam"
		differential_sequence 1.0.0 "$ipam"
	done
}

@test "differential: exhaustion, requested addresses, resolvConf" {
	local cfg rc="$BATS_TEST_TMPDIR/resolv.conf"
	printf 'nameserver 10.0.0.53\nsearch a b\noptions ndots:5\ndomain d.example\n' >"$rc"
	cfg=$(c 1.0.0 '"ranges":[[{"subnet":"10.9.0.0/30"}]],"resolvConf":"'"$rc"'"')
	both ADD a eth0 "$cfg"
	both ADD b eth0 "$cfg"
	same_state
	cfg=$(c 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["10.10.0.50"]}')
	both ADD r eth0 "$cfg"
	both ADD s eth0 "$cfg"
	cfg=$(c 1.0.0 "$V4_24" '"args":{"cni":{"ips":["10.10.0.1"]}}')
	both ADD t eth0 "$cfg"
	same_state
}

@test "differential: environment, decoding and version errors" {
	local cfg
	cfg=$(c 1.0.0 "$V4_24")
	both ADD 'bad/id' eth0 "$cfg"
	both ADD a 'way-too-long-name0' "$cfg"
	both ADD a 'a:b' "$cfg"
	COMPARE=code both ADD a eth0 '{"cniVersion":"1.0.0","name":"net1"'
	both ADD a eth0 '{"cniVersion":"1.0.0"}'
	both CHECK a eth0 "$(c 0.3.1 "$V4_24")"
	run env -i CNI_COMMAND=ADD "$REAL_HOST_LOCAL" </dev/null
	local real_out=$output
	run env -i CNI_COMMAND=ADD "$PLUGIN" </dev/null
	[ "$(jq -S '{code,msg}' <<<"$real_out")" = "$(jq -S '{code,msg}' <<<"$output")" ] || fail "real: $real_out ours: $output"
	[ ! -e "$DATA_REAL" ] && [ ! -e "$DATA_OURS" ] || fail "an error path wrote state"
}

@test "differential: invalid configs fail in both and write nothing" {
	local ipam
	for ipam in '"ranges":[[{"subnet":"10.0.0.0/31"}]]' '"ranges":[[{"subnet":"10.0.0.1/24"}]]' \
		'"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/16"}]]' '"x":1' \
		'"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50","rangeEnd":"10.0.0.40"}]]'; do
		real ADD a eth0 "$(conf 1.0.0 "$ipam" | sed "s|$DATA|$DATA_REAL|")"
		assert_failure
		ours ADD a eth0 "$(conf 1.0.0 "$ipam" | sed "s|$DATA|$DATA_OURS|")"
		assert_error_json 7
		[ ! -e "$DATA_OURS" ] && [ ! -e "$DATA_REAL" ] || fail "$ipam: state written"
	done
}

@test "differential: a failed ADD on a fresh dataDir leaves what the real plugin leaves (directory and lock)" {
	local cfg a b
	cfg=$(c 1.0.0 '"ranges":[[{"subnet":"10.40.0.0/30","rangeStart":"10.40.0.1","rangeEnd":"10.40.0.1"}]]')
	both ADD x eth0 "${cfg//@DATA@/@DATA@/deeper}"
	a=$(tree_of "$DATA_REAL")
	b=$(tree_of "$DATA_OURS")
	[ "$a" = "$b" ] || fail "trees differ: real: $a ours: $b"
	[ -f "$DATA_OURS/deeper/net1/lock" ] || fail "no lock: $b"
}

@test "alternating the two plugins on one dataDir never gives an address twice" {
	local cfg i id plugin other a
	declare -A live=()
	cfg=$(conf 1.0.0 '"ranges":[[{"subnet":"10.60.0.0/27"}],[{"subnet":"fd00:60::/123"}]]')
	for i in $(seq 1 45); do
		id="ctr$i"
		if [ $((i % 2)) = 0 ]; then plugin=$REAL_HOST_LOCAL other=$PLUGIN; else plugin=$PLUGIN other=$REAL_HOST_LOCAL; fi
		cni "$plugin" ADD "$id" eth0 "$cfg"
		if [ "$status" != 0 ]; then
			# Only exhaustion of the 29 usable IPv4 addresses may stop an ADD.
			[ "${#live[@]}" -ge 58 ] || fail "ADD $i by $plugin failed with ${#live[@]} live: $output"
			assert_output --partial 'no IP addresses available'
			continue
		fi
		for a in $(jq -r '.ips[].address | sub("/.*"; "")' <<<"$output"); do
			[ -z "${live[$a]:-}" ] || fail "$a handed to $id by $plugin while held by ${live[$a]}"
			live[$a]=$id
		done
		# Every third container is deleted by the other plugin.
		if [ $((i % 3)) = 0 ]; then
			cni "$other" DEL "$id" eth0 "$cfg"
			assert_success
			for a in "${!live[@]}"; do
				[ "${live[$a]}" != "$id" ] || unset "live[$a]"
			done
		fi
	done
	[ "${#live[@]}" -eq 58 ] || fail "expected the IPv4 set to be full (29 attachments), have ${#live[@]} addresses"
	# The state is exactly the live set, each file naming its holder.
	run addresses_of "$DATA"
	assert_output "$(printf '%s\n' "${!live[@]}" | LC_ALL=C sort)"
	for a in "${!live[@]}"; do
		[ "$(cat "$DATA/net1/$a")" = "${live[$a]}"$'\r\n'"eth0" ] || fail "$a content: $(cat "$DATA/net1/$a")"
	done
	# Each accepts the other's allocations in CHECK.
	local prev
	prev=$(jq -n --arg a "$(grep -l $'^ctr1\r' "$DATA"/net1/10.* | xargs -n1 basename)" '{cniVersion:"1.0.0",ips:[{address:($a+"/27")}]}')
	ours CHECK ctr1 eth0 "$(conf 1.0.0 '"ranges":[[{"subnet":"10.60.0.0/27"}],[{"subnet":"fd00:60::/123"}]]' "\"prevResult\":$prev")"
	assert_success
	real CHECK ctr2 eth0 "$cfg"
	assert_success
}

# A deliberate difference: upstream accepts a rangeStart above its default
# end and hands out what its own defaults exclude (the broadcast address,
# then addresses of the next subnet); this plugin refuses the config.
@test "differential: rangeStart on the broadcast address: the real plugin leaves its range, ours refuses" {
	local cfg i addr
	cfg=$(c 1.0.0 '"ranges":[[{"subnet":"10.9.0.0/24","rangeStart":"10.9.0.255"}]]')
	for i in 1 2; do
		real ADD "r$i" eth0 "${cfg//@DATA@/$DATA_REAL}"
		if [ "$status" -ne 0 ]; then continue; fi
		addr=$(jq -r '.ips[0].address' <<<"$output")
		case "$addr" in
		10.9.0.255/24 | 10.9.1.*) ;;
		*) fail "the real plugin handed out $addr: update this test and the README" ;;
		esac
	done
	ours ADD a eth0 "${cfg//@DATA@/$DATA_OURS}"
	assert_error_json 7
	[ ! -e "$DATA_OURS" ] || fail "state written"
}
