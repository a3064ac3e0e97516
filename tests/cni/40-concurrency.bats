#!/usr/bin/env bats
# Concurrency: parallel ADDs on one network (ours alone, and ours mixed with
# the real plugin) never allocate one address twice; the state stays
# consistent and parallel DELs empty it.

load helpers

setup() { cni_setup; }

# add_parallel N CONFIG : N ADDs at once (containers p1..pN), alternating
# plugins when MIX=1; prints one "id address..." line per ADD.
add_parallel() {
	local n=$1 config=$2
	export CONFIG=$config REAL_HOST_LOCAL MIX=${MIX:-0}
	seq 1 "$n" | xargs -P "$n" -I{} bash -c '
		bin=$PLUGIN
		if [ "$MIX" = 1 ] && [ $(({} % 2)) = 0 ]; then bin=$REAL_HOST_LOCAL; fi
		out=$(env -i CNI_COMMAND=ADD CNI_CONTAINERID=p{} CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=/x "$bin" <<<"$CONFIG") ||
			{ echo "FAILED p{} $out"; exit 0; }
		echo "p{} $(jq -r "[.ips[].address] | join(\" \")" <<<"$out")"'
}

check_distinct() { # N LINES
	local n=$1 lines=$2
	! grep -q FAILED <<<"$lines" || fail "an ADD failed: $(grep FAILED <<<"$lines")"
	[ "$(wc -l <<<"$lines")" = "$n" ] || fail "expected $n results: $lines"
	local all
	all=$(cut -d' ' -f2- <<<"$lines" | tr ' ' '\n')
	[ -z "$(sort <<<"$all" | uniq -d)" ] || fail "an address was allocated twice: $(sort <<<"$all" | uniq -d)"
	run addresses_of "$DATA"
	assert_output "$(sed 's|/.*||' <<<"$all" | LC_ALL=C sort)"
}

@test "50 parallel ADDs get 50 distinct addresses, state consistent, parallel DELs empty it" {
	local cfg lines
	cfg=$(conf 1.0.0 '"ranges":[[{"subnet":"10.70.0.0/24"}],[{"subnet":"fd00:70::/64"}]]')
	lines=$(add_parallel 50 "$cfg")
	check_distinct 50 "$lines"
	[ "$(cut -d' ' -f2 <<<"$lines" | sort -u | wc -l)" = 50 ] || fail "IPv4 not distinct"
	export CONFIG=$cfg
	seq 1 50 | xargs -P 50 -I{} bash -c 'env -i CNI_COMMAND=DEL CNI_CONTAINERID=p{} CNI_IFNAME=eth0 CNI_PATH=/x "$PLUGIN" <<<"$CONFIG"'
	run addresses_of "$DATA"
	assert_output ''
}

@test "parallel ADDs with more containers than addresses: exactly the range is handed out" {
	local cfg lines
	cfg=$(conf 1.0.0 '"ranges":[[{"subnet":"10.71.0.0/27"}]]')
	export CONFIG=$cfg
	lines=$(seq 1 40 | xargs -P 40 -I{} bash -c '
		env -i CNI_COMMAND=ADD CNI_CONTAINERID=p{} CNI_NETNS=/x CNI_IFNAME=eth0 CNI_PATH=/x "$PLUGIN" <<<"$CONFIG" |
			jq -r "if .code then \"ERR \(.code) \(.msg)\" else .ips[0].address end"')
	[ "$(grep -c '^10\.' <<<"$lines")" = 29 ] || fail "expected 29 allocations: $lines"
	[ "$(grep -c '^ERR 999 .*no IP addresses available' <<<"$lines")" = 11 ] || fail "expected 11 exhaustion errors: $lines"
	[ -z "$(grep '^10\.' <<<"$lines" | sort | uniq -d)" ] || fail "duplicates"
	[ "$(addresses_of "$DATA" | wc -l)" = 29 ] || fail "state does not hold 29 addresses"
}

@test "parallel ADDs mixing our plugin and the real one never collide" {
	need_real_plugin
	local lines
	lines=$(MIX=1 add_parallel 40 "$(conf 1.0.0 '"ranges":[[{"subnet":"10.72.0.0/24"}]]')")
	check_distinct 40 "$lines"
}
