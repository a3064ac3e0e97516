#!/usr/bin/env bats
# Conformance: every command at every CNI version, result shapes, allocation,
# state format, DEL idempotence, CHECK, GC, STATUS.

load helpers

setup() { cni_setup; }

# Every command at one version, on a dual-stack network.
command_matrix() {
	local v=$1 c
	c=$(conf "$v" "$DUAL")
	ours ADD ctr1 eth0 "$c"
	assert_success
	jq -e --arg v "$v" '.cniVersion == $v and .dns == {}' <<<"$output" >/dev/null || fail "ADD $v: $output"
	case "$v" in
	0.1.0 | 0.2.0)
		jq -e '.ip4.ip == "10.10.0.2/24" and .ip4.gateway == "10.10.0.1" and .ip4.routes == [{"dst":"0.0.0.0/0"}]
			and .ip6.ip == "fd00:10::2/120" and .ip6.routes == [{"dst":"::/0","gw":"fd00:10::1"}]
			and (has("ips") | not)' <<<"$output" >/dev/null || fail "ADD $v shape: $output"
		;;
	0.3.0 | 0.3.1 | 0.4.0)
		jq -e '.ips == [{"version":"4","address":"10.10.0.2/24","gateway":"10.10.0.1"},
			{"version":"6","address":"fd00:10::2/120","gateway":"fd00:10::1"}] and (.routes | length) == 2
			and (has("interfaces") | not)' <<<"$output" >/dev/null || fail "ADD $v shape: $output"
		;;
	*)
		jq -e '.ips == [{"address":"10.10.0.2/24","gateway":"10.10.0.1"},{"address":"fd00:10::2/120","gateway":"fd00:10::1"}]
			and (.routes | length) == 2 and (has("interfaces") | not)' <<<"$output" >/dev/null ||
			fail "ADD $v shape: $output"
		;;
	esac
	local prev=$output
	# CHECK exists from 0.4.0 on, GC and STATUS from 1.1.0 on.
	if [ "$(printf '%s\n' "$v" 0.4.0 | sort -V | head -1)" = 0.4.0 ]; then
		ours CHECK ctr1 eth0 "$(conf "$v" "$DUAL" "\"prevResult\":$prev")"
		assert_success
		assert_output ''
	else
		ours CHECK ctr1 eth0 "$c"
		assert_error_json 1
	fi
	if [ "$v" = 1.1.0 ]; then
		ours STATUS "" "" "$c"
		assert_success
		assert_output ''
		ours GC "" "" "$(conf "$v" "$DUAL" '"cni.dev/valid-attachments":[{"containerID":"ctr1","ifname":"eth0"}]')"
		assert_success
		[ -e "$DATA/net1/10.10.0.2" ] || fail "GC released a valid attachment"
	else
		ours STATUS "" "" "$c"
		assert_error_json 1
		ours GC "" "" "$c"
		assert_error_json 1
	fi
	ours DEL ctr1 eth0 "$c"
	assert_success
	assert_output ''
	run addresses_of "$DATA"
	assert_output ''
	ours DEL ctr1 eth0 "$c"
	assert_success
	run env -i CNI_COMMAND=VERSION "$PLUGIN" <<<"{\"cniVersion\":\"$v\"}"
	assert_success
	jq -e --arg v "$v" '.cniVersion == $v and .supportedVersions == ["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]' \
		<<<"$output" >/dev/null || fail "VERSION $v: $output"
}

@test "every command at cniVersion 0.1.0" { command_matrix 0.1.0; }
@test "every command at cniVersion 0.2.0" { command_matrix 0.2.0; }
@test "every command at cniVersion 0.3.0" { command_matrix 0.3.0; }
@test "every command at cniVersion 0.3.1" { command_matrix 0.3.1; }
@test "every command at cniVersion 0.4.0" { command_matrix 0.4.0; }
@test "every command at cniVersion 1.0.0" { command_matrix 1.0.0; }
@test "every command at cniVersion 1.1.0" { command_matrix 1.1.0; }

@test "empty CNI_COMMAND prints an about line on stderr and exits 0" {
	run --separate-stderr env -i "$PLUGIN" </dev/null
	assert_success
	assert_output ''
	[[ "$stderr" == *"CNI host-local plugin"* ]] || fail "stderr: $stderr"
	[[ "$stderr" == *"0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"* ]] || fail "stderr: $stderr"
}

@test "VERSION without input answers 1.1.0 with the full list" {
	run env -i CNI_COMMAND=VERSION "$PLUGIN" </dev/null
	assert_success
	jq -e '.cniVersion == "1.1.0" and (.supportedVersions | length) == 7' <<<"$output" >/dev/null || fail "$output"
}

@test "state files: directory 0755, address files 0600 with id CRLF ifname, last_reserved_ip, lock" {
	# The directory is made 0755 less the umask, as upstream's MkdirAll does;
	# the launcher's umask (077 on some CI machines) must not decide the test.
	umask 022
	ours ADD abc eth1 "$(conf 1.0.0 "$V4_24")"
	assert_success
	[ "$(stat -c %a "$DATA/net1")" = 755 ] || fail "dir mode $(stat -c %a "$DATA/net1")"
	[ "$(stat -c %a "$DATA/net1/10.10.0.2")" = 600 ] || fail "file mode"
	[ "$(od -An -c "$DATA/net1/10.10.0.2" | tr -s ' ')" = " a b c \r \n e t h 1" ] || fail "content $(od -c "$DATA/net1/10.10.0.2")"
	[ "$(cat "$DATA/net1/last_reserved_ip.0")" = 10.10.0.2 ] || fail "last_reserved_ip.0"
	[ "$(wc -c <"$DATA/net1/last_reserved_ip.0")" = 9 ] || fail "last_reserved_ip.0 has a newline"
	[ -f "$DATA/net1/lock" ] || fail "no lock file"
}

@test "IPv6 only network: canonical addresses, no broadcast exclusion" {
	local c
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"FD00:0:0:0::/126"}]]')
	ours ADD a eth0 "$c"
	assert_success
	jq -e '.ips == [{"address":"fd00::2/126","gateway":"fd00::1"}]' <<<"$output" >/dev/null || fail "$output"
	ours ADD b eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "fd00::3/126"' <<<"$output" >/dev/null || fail "$output"
	ours ADD c eth0 "$c"
	assert_error_json 999
	assert_output --partial 'no IP addresses available in range set: fd00::1-fd00::3'
}

@test "several range sets and several ranges per set: one address from each set" {
	local c
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"10.1.0.0/30"},{"subnet":"10.2.0.0/24","rangeStart":"10.2.0.10","rangeEnd":"10.2.0.11"}],[{"subnet":"10.3.0.0/24","gateway":"10.3.0.254"}],[{"subnet":"fd00:3::/64"}]]')
	ours ADD a eth0 "$c"
	assert_success
	jq -e '[.ips[].address] == ["10.1.0.2/30","10.3.0.1/24","fd00:3::2/64"] and .ips[1].gateway == "10.3.0.254"' <<<"$output" >/dev/null || fail "$output"
	# The first set continues into its second range, then is exhausted.
	ours ADD b eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.2.0.10/24" and .ips[0].gateway == "10.2.0.1"' <<<"$output" >/dev/null || fail "$output"
	ours ADD c eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.2.0.11/24"' <<<"$output" >/dev/null || fail "$output"
	local before
	before=$(tree_of "$DATA")
	ours ADD d eth0 "$c"
	assert_error_json 999
	assert_output --partial 'failed to allocate for range 0: no IP addresses available in range set: 10.1.0.1-10.1.0.2,10.2.0.10-10.2.0.11'
	[ "$(tree_of "$DATA")" = "$before" ] || fail "exhaustion changed the state"
}

@test "legacy subnet/rangeStart/rangeEnd/gateway form and round-robin from the last reserved address" {
	local c
	c=$(conf 0.3.1 '"subnet":"10.5.0.0/24","rangeStart":"10.5.0.100","rangeEnd":"10.5.0.102","gateway":"10.5.0.101"')
	ours ADD a eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.5.0.100/24" and .ips[0].gateway == "10.5.0.101"' <<<"$output" >/dev/null || fail "$output"
	ours ADD b eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.5.0.102/24"' <<<"$output" >/dev/null || fail "gateway not skipped: $output"
	ours DEL a eth0 "$c"
	assert_success
	# .100 is free again, but round-robin continues after .102 and wraps to .100.
	ours ADD c eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.5.0.100/24"' <<<"$output" >/dev/null || fail "$output"
	ours DEL b eth0 "$c"
	ours DEL c eth0 "$c"
	ours ADD d eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "10.5.0.102/24"' <<<"$output" >/dev/null || fail "round-robin: $output"
}

@test "defaults: gateway .1, first address .2, last address skips broadcast in a /30" {
	local c
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"192.168.7.0/30"}]]')
	ours ADD a eth0 "$c"
	assert_success
	jq -e '.ips == [{"address":"192.168.7.2/30","gateway":"192.168.7.1"}]' <<<"$output" >/dev/null || fail "$output"
	ours ADD b eth0 "$c"
	assert_error_json 999
	assert_output --partial 'no IP addresses available in range set: 192.168.7.1-192.168.7.2'
}

@test "requested addresses: CNI_ARGS IP=, args.cni.ips, runtimeConfig.ips" {
	local c
	c=$(conf 1.0.0 "$V4_24")
	run env -i CNI_COMMAND=ADD CNI_CONTAINERID=a CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=/x \
		CNI_ARGS='IgnoreUnknown=1;K8S_POD_NAME=p;IP=10.10.0.77' "$PLUGIN" <<<"$c"
	assert_success
	jq -e '.ips[0].address == "10.10.0.77/24"' <<<"$output" >/dev/null || fail "$output"
	ours ADD b eth0 "$(conf 1.0.0 "$V4_24" '"args":{"cni":{"ips":["10.10.0.78"]}}')"
	assert_success
	jq -e '.ips[0].address == "10.10.0.78/24"' <<<"$output" >/dev/null || fail "$output"
	ours ADD c eth0 "$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["10.10.0.79/24"]}')"
	assert_success
	jq -e '.ips[0].address == "10.10.0.79/24"' <<<"$output" >/dev/null || fail "$output"
	ours ADD d eth0 "$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["10.10.0.79"]}')"
	assert_error_json 999
	assert_output --partial 'requested IP address 10.10.0.79 is not available'
	ours ADD d eth0 "$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["10.99.0.1"]}')"
	assert_error_json 999
	assert_output --partial 'failed to allocate all requested IPs: 10.99.0.1'
	ours ADD d eth0 "$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["10.10.0.1"]}')"
	assert_error_json 999
	assert_output --partial "requested ip 10.10.0.1 is subnet's gateway"
	run addresses_of "$DATA"
	assert_output $'10.10.0.77\n10.10.0.78\n10.10.0.79'
}

@test "runtimeConfig.ipRanges come first" {
	ours ADD a eth0 "$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ipRanges":[[{"subnet":"10.20.0.0/24"}]]}')"
	assert_success
	jq -e '[.ips[].address] == ["10.20.0.2/24","10.10.0.2/24"]' <<<"$output" >/dev/null || fail "$output"
}

@test "routes (with 1.1.0 attributes) and dns are copied; resolvConf is read" {
	local rc="$BATS_TEST_TMPDIR/resolv.conf"
	printf '# comment\nnameserver 10.0.0.53\nnameserver fd00::53\ndomain example.org\nsearch a.example b.example\noptions ndots:2 rotate\nbogus\n' >"$rc"
	ours ADD a eth0 "$(conf 1.1.0 "$V4_24,\"resolvConf\":\"$rc\",\"routes\":[{\"dst\":\"10.96.0.0/12\",\"gw\":\"10.10.0.1\",\"mtu\":1400,\"table\":0}]")"
	assert_success
	jq -e '.routes == [{"dst":"10.96.0.0/12","gw":"10.10.0.1","mtu":1400,"table":0}]
		and .dns == {"nameservers":["10.0.0.53","fd00::53"],"domain":"example.org","search":["a.example","b.example"],"options":["ndots:2","rotate"]}' \
		<<<"$output" >/dev/null || fail "$output"
	ours ADD b eth0 "$(conf 1.0.0 "$V4_24,\"dns\":{\"nameservers\":[\"1.1.1.1\"],\"search\":[\"svc\"]}")"
	assert_success
	jq -e '.dns == {"nameservers":["1.1.1.1"],"search":["svc"]}' <<<"$output" >/dev/null || fail "$output"
}

@test "a second ADD for the same container and interface is an error; another interface is not" {
	local c
	c=$(conf 1.0.0 "$V4_24")
	ours ADD a eth0 "$c"
	assert_success
	local before
	before=$(tree_of "$DATA")
	ours ADD a eth0 "$c"
	assert_error_json 999
	assert_output --partial '10.10.0.2 has been allocated to a, duplicate allocation is not allowed'
	[ "$(tree_of "$DATA")" = "$before" ] || fail "failed ADD changed the state"
	ours ADD a eth1 "$c"
	assert_success
	jq -e '.ips[0].address == "10.10.0.3/24"' <<<"$output" >/dev/null || fail "$output"
}

@test "DEL is idempotent, works without state and without prevResult, keeps other attachments" {
	local c
	c=$(conf 0.4.0 "$V4_24")
	ours DEL nothing eth0 "$c"
	assert_success
	assert_output ''
	ours ADD a eth0 "$c"
	ours ADD a eth1 "$c"
	ours ADD b eth0 "$c"
	ours DEL a eth0 "$c"
	assert_success
	run state_of "$DATA"
	assert_output --partial '10.10.0.3:a\r|eth1'
	assert_output --partial '10.10.0.4:b\r|eth0'
	refute_output --partial '10.10.0.2'
	ours DEL a eth0 "$c"
	assert_success
	# The old format (a file holding only the container ID) is released too.
	printf 'old' >"$DATA/net1/10.10.0.9"
	ours DEL old eth0 "$c"
	assert_success
	[ ! -e "$DATA/net1/10.10.0.9" ] || fail "old-format file not released"
}

@test "DEL without CNI_NETNS is accepted (not required for DEL)" {
	local c
	c=$(conf 1.0.0 "$V4_24")
	ours ADD a eth0 "$c"
	run env -i CNI_COMMAND=DEL CNI_CONTAINERID=a CNI_IFNAME=eth0 CNI_PATH=/x "$PLUGIN" <<<"$c"
	assert_success
	run addresses_of "$DATA"
	assert_output ''
}

@test "CHECK verifies prevResult against the state" {
	local c prev
	c=$(conf 1.0.0 "$DUAL")
	ours ADD a eth0 "$c"
	assert_success
	prev=$output
	ours CHECK a eth0 "$(conf 1.0.0 "$DUAL" "\"prevResult\":$prev")"
	assert_success
	# Without prevResult, CHECK still needs an address of this attachment.
	ours CHECK a eth0 "$c"
	assert_success
	ours CHECK a eth9 "$c"
	assert_error_json 999
	assert_output --partial 'Failed to find address added by container a'
	# An address the state does not give to this attachment.
	ours CHECK a eth0 "$(conf 1.0.0 "$DUAL" '"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"10.10.0.50/24"}]}')"
	assert_error_json 999
	assert_output --partial 'address 10.10.0.50 in prevResult is not allocated to a/eth0'
	ours CHECK a eth0 "$(conf 1.0.0 "$DUAL" '"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"192.0.2.1/24"}]}')"
	assert_error_json 999
	ours CHECK a eth0 "$(conf 1.0.0 "$DUAL" '"prevResult":{"cniVersion":"1.0.0","ips":[{"address":"nonsense"}]}')"
	assert_error_json 6
	ours DEL a eth0 "$c"
	ours CHECK a eth0 "$(conf 1.0.0 "$DUAL" "\"prevResult\":$prev")"
	assert_error_json 999
}

@test "GC releases every attachment not in cni.dev/valid-attachments" {
	local c
	c=$(conf 1.1.0 "$DUAL")
	ours ADD keep eth0 "$c"
	ours ADD gone eth0 "$c"
	ours ADD keep eth1 "$c"
	printf 'oldkeep' >"$DATA/net1/10.10.0.100"
	printf 'oldgone' >"$DATA/net1/10.10.0.101"
	ours GC "" "" "$(conf 1.1.0 "$DUAL" '"cni.dev/valid-attachments":[{"containerID":"keep","ifname":"eth0"},{"containerID":"oldkeep","ifname":"eth0"}]')"
	assert_success
	assert_output ''
	run addresses_of "$DATA"
	assert_output $'10.10.0.100\n10.10.0.2\nfd00:10::2'
	[ -f "$DATA/net1/last_reserved_ip.0" ] && [ -f "$DATA/net1/lock" ] || fail "GC removed bookkeeping files"
	ours GC "" "" "$(conf 1.1.0 "$DUAL" '"cni.dev/valid-attachments":[]')"
	assert_success
	run addresses_of "$DATA"
	assert_output ''
	ours GC "" "" "$c"
	assert_error_json 7
}

@test "STATUS says whether an address can be allocated" {
	local c
	c=$(conf 1.1.0 '"ranges":[[{"subnet":"10.9.0.0/30"}],[{"subnet":"fd00:9::/64"}]]')
	ours STATUS "" "" "$c"
	assert_success
	[ ! -e "$DATA" ] || fail "STATUS wrote state"
	ours ADD a eth0 "$c"
	assert_success
	ours STATUS "" "" "$c"
	assert_error_json 50
	assert_output --partial 'no IP addresses available in range set: 10.9.0.1-10.9.0.2'
	ours DEL a eth0 "$c"
	ours STATUS "" "" "$c"
	assert_success
}

@test "the default dataDir is /var/lib/cni/networks" {
	local name="k3s-sandbox-test-cni-$$"
	local c="{\"cniVersion\":\"1.0.0\",\"name\":\"$name\",\"ipam\":{\"type\":\"host-local\",\"ranges\":[[{\"subnet\":\"10.77.0.0/24\"}]]}}"
	ours ADD a eth0 "$c"
	local add_status=$status
	[ -f "/var/lib/cni/networks/$name/10.77.0.2" ]
	local present=$?
	ours DEL a eth0 "$c"
	rm -rf "/var/lib/cni/networks/${name:?}"
	[ "$add_status" -eq 0 ] && [ "$present" -eq 0 ] || fail "ADD ($add_status) did not write /var/lib/cni/networks/$name"
}
