#!/usr/bin/env bats
# Every error path: the right code as JSON on stdout, a non-zero exit, and
# nothing written under the data directory.

load helpers

setup() {
	cni_setup
	# A state that error paths must leave exactly as it is.
	ours ADD seed eth0 "$(conf 1.0.0 "$V4_24")"
	assert_success
	BEFORE=$(tree_of "$BATS_TEST_TMPDIR")
}

unchanged() {
	[ "$(tree_of "$BATS_TEST_TMPDIR")" = "$BEFORE" ] || fail "state changed on an error path: $(diff <(echo "$BEFORE") <(tree_of "$BATS_TEST_TMPDIR"))"
}

# env_case CODE MESSAGE-PART VAR=VALUE...
env_case() {
	local code=$1 part=$2
	shift 2
	run env -i "$@" "$PLUGIN" <<<"$(conf 1.0.0 "$V4_24")"
	assert_error_json "$code"
	assert_output --partial "$part"
	jq -e '.cniVersion == "1.0.0"' <<<"$output" >/dev/null || fail "error not in the config's version: $output"
	unchanged
}

@test "code 4: missing variables are listed per command" {
	env_case 4 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing' CNI_COMMAND=ADD
	env_case 4 'required env variables [CNI_NETNS] missing' CNI_COMMAND=CHECK CNI_CONTAINERID=a CNI_IFNAME=eth0 CNI_PATH=/x
	env_case 4 'required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing' CNI_COMMAND=DEL
	env_case 4 'required env variables [CNI_PATH] missing' CNI_COMMAND=GC
	env_case 4 'required env variables [CNI_PATH] missing' CNI_COMMAND=STATUS
}

@test "code 4: invalid container ID, interface name, command and CNI_ARGS" {
	local base=(CNI_COMMAND=ADD CNI_NETNS=/x CNI_PATH=/x)
	env_case 4 'invalid characters in containerID' "${base[@]}" CNI_CONTAINERID='../etc' CNI_IFNAME=eth0
	env_case 4 'invalid characters in containerID' "${base[@]}" CNI_CONTAINERID='-a' CNI_IFNAME=eth0
	env_case 4 'interface name is too long' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME=abcdefghijklmnop
	env_case 4 'interface name is . or ..' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME=..
	env_case 4 'contains / or : or whitespace' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME='et h0'
	env_case 4 'contains / or : or whitespace' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME='a/b'
	env_case 4 'unknown CNI_COMMAND: FROB' CNI_COMMAND=FROB
	env_case 4 'ARGS: unknown args' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME=eth0 CNI_ARGS='K8S_POD_NAME=x'
	env_case 4 'ARGS: invalid pair' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME=eth0 CNI_ARGS='IP'
	env_case 4 'invalid IP address' "${base[@]}" CNI_CONTAINERID=a CNI_IFNAME=eth0 CNI_ARGS='IP=10.10.0.300'
}

@test "code 6: malformed JSON on stdin" {
	local bad
	for bad in '' '{' '{"name":"net1",}' '[1,2]' '"x"' '{"name":5}' '{"name":"net1","cniVersion":1}'; do
		ours ADD a eth0 "$bad"
		assert_error_json 6
		unchanged
	done
}

@test "code 7: invalid network and ipam config, with upstream's messages" {
	local -a cases=(
		'{"cniVersion":"1.0.0"}|missing network name'
		'{"cniVersion":"1.0.0","name":"../x","ipam":{}}|invalid characters found in network name'
		'{"cniVersion":"1.0.0","name":"net1"}|IPAM config missing '"'"'ipam'"'"' key'
		"$(conf 1.0.0 '"x":1')|no IP ranges specified"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/31"}]]')|Network 10.0.0.0/31 too small to allocate from"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"fd00::/127"}]]')|too small to allocate from"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.1/24"}]]')|Network has host bits set. For a subnet mask of length 24 the network address is 10.0.0.0"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/33"}]]')|invalid CIDR address"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.1.1"}]]')|RangeStart 10.0.1.1 not in network 10.0.0.0/24"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/24","rangeStart":"10.0.0.50","rangeEnd":"10.0.0.40"}]]')|RangeEnd 10.0.0.40 not in network"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"fd00::/64"}]]')|mixed address families"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/24"},{"subnet":"10.0.0.0/25"}]]')|overlap"
		"$(conf 1.0.0 '"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.0.0.0/16"}]]')|range set 0 overlaps with 1"
		"$(conf 0.2.0 '"ranges":[[{"subnet":"10.0.0.0/24"}],[{"subnet":"10.1.0.0/16"}]]')|CNI version 0.2.0 does not support more than 1 address per family"
		"$(conf 1.0.0 '"ranges":[[]]')|empty range set"
		"$(conf 1.0.0 '"ranges":{}')|must be an array"
		"$(conf 1.0.0 '"ranges":[[{"subnet":5}]]')|must be a string"
		"$(conf 1.0.0 "$V4_24"',"routes":[{"dst":"nope"}]')|must be a CIDR"
		"$(conf 1.0.0 "$V4_24"',"dataDir":7')|must be a string"
		"$(conf 1.0.0 "$V4_24" '"runtimeConfig":{"ips":["bogus"]}')|invalid IP address"
	)
	local c config part
	for c in "${cases[@]}"; do
		config=${c%|*}
		part=${c##*|}
		ours ADD a eth0 "$config"
		assert_error_json 7
		assert_output --partial "$part"
		unchanged
	done
}

@test "code 1: unsupported versions, and commands the config's version does not have" {
	ours ADD a eth0 '{"cniVersion":"2.0.0","name":"net1","ipam":{}}'
	assert_error_json 1
	assert_output --partial 'incompatible CNI versions'
	jq -e '.details | contains("config is \"2.0.0\"")' <<<"$output" >/dev/null || fail "$output"
	ours CHECK a eth0 "$(conf 0.3.1 "$V4_24")"
	assert_error_json 1
	assert_output --partial 'config version does not allow CHECK'
	ours GC "" "" "$(conf 1.0.0 "$V4_24")"
	assert_error_json 1
	ours STATUS "" "" "$(conf 1.0.0 "$V4_24")"
	assert_error_json 1
	unchanged
}

@test "code 5: I/O failure (dataDir cannot be created; resolvConf missing)" {
	: >"$BATS_TEST_TMPDIR/afile"
	BEFORE=$(tree_of "$BATS_TEST_TMPDIR")
	ours ADD a eth0 "$(conf 1.0.0 '"ranges":[[{"subnet":"10.10.0.0/24"}]],"dataDir":"'"$BATS_TEST_TMPDIR"'/afile/sub"')"
	assert_error_json 5
	unchanged
	ours ADD a eth0 "$(conf 1.0.0 "$V4_24"',"resolvConf":"/nonexistent/resolv.conf"')"
	assert_error_json 5
	assert_output --partial '/nonexistent/resolv.conf'
	unchanged
}

@test "exhaustion and duplicates write nothing, even partial allocations of earlier range sets" {
	local c
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"10.30.0.0/24"}],[{"subnet":"10.31.0.0/30"}]]')
	ours ADD x eth0 "$c"
	assert_success
	local before
	before=$(tree_of "$DATA")
	ours ADD y eth0 "$c"
	assert_error_json 999
	assert_output --partial 'failed to allocate for range 1: no IP addresses available in range set'
	[ "$(tree_of "$DATA")" = "$before" ] || fail "partial allocation left behind"
	[ "$(cat "$DATA/net1/last_reserved_ip.0")" = 10.30.0.2 ] || fail "last_reserved_ip.0 not restored"
}

# Upstream creates the network directory and its lock before it allocates
# and never removes them; neither may this plugin: another instance may have
# opened them and be waiting for the lock (see 40-concurrency.bats).
@test "a fresh network whose only range is exhausted leaves its directory and lock, and nothing else" {
	local c
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"10.40.0.0/30","rangeStart":"10.40.0.1","rangeEnd":"10.40.0.1"}]]' | sed "s|$DATA|$DATA/new/deeper|")
	ours ADD x eth0 "$c"
	assert_error_json 999
	run find "$DATA/new" -printf '%P %y\n'
	assert_output $' d\ndeeper d\ndeeper/net1 d\ndeeper/net1/lock f'
}

# dataDir may lead through symlinks, as with upstream (os.MkdirAll); the
# network directory and its files are not followed (upstream would).
@test "code 5: a network directory that is a symlink is not followed; a dataDir through one is" {
	mkdir -p "$BATS_TEST_TMPDIR/elsewhere" "$BATS_TEST_TMPDIR/real-data"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$DATA/net2"
	ours ADD a eth0 "$(conf 1.0.0 "$V4_24" | sed 's|"name":"net1"|"name":"net2"|')"
	assert_error_json 5
	assert_output --partial "net2: is a symbolic link (not followed)"
	run ls -A "$BATS_TEST_TMPDIR/elsewhere"
	assert_output ''
	ln -s "$BATS_TEST_TMPDIR/real-data" "$BATS_TEST_TMPDIR/linked-data"
	ours ADD a eth0 "$(conf 1.0.0 "$V4_24" | sed "s|$DATA|$BATS_TEST_TMPDIR/linked-data|")"
	assert_success
	[ -f "$BATS_TEST_TMPDIR/real-data/net1/10.10.0.2" ] || fail "nothing written through the dataDir symlink"
}

# A runtime that dies or times out closes the pipe it reads the result from.
# The plugin must not die of SIGPIPE between reserving and giving back.
@test "code 5: a stdout whose reader went away (broken pipe): exit 1, not SIGPIPE, and the address is given back" {
	local cfg="$BATS_TEST_TMPDIR/big.json"
	big_conf 1.0.0 "$V4_24" >"$cfg"
	# `true` never reads: the plugin fills the pipe, blocks, then gets EPIPE.
	run --separate-stderr bash -c 'env -i CNI_COMMAND=ADD CNI_CONTAINERID=a CNI_NETNS=/x CNI_IFNAME=eth0 \
		CNI_PATH=/x "$1" <"$2" | true; exit "${PIPESTATUS[0]}"' _ "$PLUGIN" "$cfg"
	assert_equal "$status" 1
	[[ "$stderr" == *"writing the result to stdout: Broken pipe"* ]] || fail "stderr: $stderr"
	run addresses_of "$DATA"
	assert_output '10.10.0.2' # the seed's, and nothing else
	[ "$(cat "$DATA/net1/last_reserved_ip.0")" = 10.10.0.2 ] || fail "last_reserved_ip.0 not restored"
}

@test "code 5: a closed stdout and a full one (/dev/full): exit 1, the address is given back" {
	local c before
	c=$(conf 1.0.0 "$V4_24")
	before=$(tree_of "$DATA")
	run --separate-stderr bash -c 'env -i CNI_COMMAND=ADD CNI_CONTAINERID=a CNI_NETNS=/x CNI_IFNAME=eth0 \
		CNI_PATH=/x "$1" <<<"$2" >&-' _ "$PLUGIN" "$c"
	assert_equal "$status" 1
	[[ "$stderr" == *"writing the result to stdout"* ]] || fail "stderr: $stderr"
	[ "$(tree_of "$DATA")" = "$before" ] || fail "closed stdout: state changed"
	run --separate-stderr bash -c 'env -i CNI_COMMAND=ADD CNI_CONTAINERID=a CNI_NETNS=/x CNI_IFNAME=eth0 \
		CNI_PATH=/x "$1" <<<"$2" >/dev/full' _ "$PLUGIN" "$c"
	assert_equal "$status" 1
	[[ "$stderr" == *"writing the result to stdout: No space left on device"* ]] || fail "stderr: $stderr"
	[ "$(tree_of "$DATA")" = "$before" ] || fail "full stdout: state changed"
}

# Upstream (range.go Canonicalize) compares an explicit rangeEnd with
# rangeStart, but not the default end: a rangeStart on the IPv4 broadcast
# address is then above the end, and the allocator walks out of the subnet.
@test "code 7: a rangeStart above the default rangeEnd (the IPv4 broadcast) is refused by ADD and STATUS" {
	local c
	c=$(conf 1.1.0 '"ranges":[[{"subnet":"10.9.0.0/24","rangeStart":"10.9.0.255"}]]')
	ours ADD a eth0 "$c"
	assert_error_json 7
	assert_output --partial 'invalid range set 0: RangeStart 10.9.0.255 is above the default RangeEnd 10.9.0.254 of network 10.9.0.0/24'
	ours STATUS "" "" "$c"
	assert_error_json 7
	ours ADD a eth0 "$(conf 1.0.0 '"subnet":"10.9.0.0/24","rangeStart":"10.9.0.255"')"
	assert_error_json 7
	unchanged
	# IPv6 has no broadcast: its last address is the default end, a range of one.
	c=$(conf 1.1.0 '"ranges":[[{"subnet":"fd00:9::/120","rangeStart":"fd00:9::ff"}]]')
	ours ADD a eth0 "$c"
	assert_success
	jq -e '.ips[0].address == "fd00:9::ff/120"' <<<"$output" >/dev/null || fail "$output"
	ours STATUS "" "" "$c"
	assert_error_json 50
}
