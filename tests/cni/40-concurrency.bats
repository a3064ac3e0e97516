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

# --- rollback under the lock ---------------------------------------------
# A failing command gives back what it took, and nothing else: the network
# directory and its lock are shared with every instance that has opened them
# and may be waiting in flock(2) (upstream's backend/disk creates both before
# it allocates and never removes them).

@test "rollback on a fresh dataDir keeps the directories and the lock: the ADD that waited succeeds" {
	local fresh="$DATA/fresh/deeper" fifo="$BATS_TEST_TMPDIR/stdout" a b
	mkfifo "$fifo"
	# The runtime of A: a reader that never reads. Closing it breaks A's pipe.
	exec 7<>"$fifo"
	start_plugin a ADD a eth0 "$(DATA=$fresh big_conf 1.0.0 "$V4_24")" "$fifo"
	a=$started
	# A's result (1.5 MB) cannot fit in the pipe: A blocks holding the lock.
	await "A to hold the lock" lock_has "$fresh/net1/lock" holders 1
	start_plugin b ADD b eth0 "$(DATA=$fresh conf 1.0.0 "$V4_24")"
	b=$started
	await "B to wait for the lock" lock_has "$fresh/net1/lock" waiters 1
	exec 7>&-
	finish a "$a"
	assert_equal "$status" 1
	[[ "$stderr" == *"Broken pipe"* ]] || fail "A: $stderr"
	finish b "$b"
	assert_success
	jq -e '.ips[0].address == "10.10.0.2/24"' <<<"$output" >/dev/null || fail "B did not get A's given-back address: $output $stderr"
	[ "$(cat "$fresh/net1/10.10.0.2")" = $'b\r\neth0' ] || fail "10.10.0.2: $(cat "$fresh/net1/10.10.0.2")"
	[ -f "$fresh/net1/lock" ] || fail "the lock is gone"
}

@test "rollback keeps a lock it created: the waiting ADD then holds the one file named lock" {
	local net="$DATA/net1" c a b
	c=$(conf 1.0.0 "$V4_24")
	mkdir -p "$net" # a network directory without a lock yet: A creates it
	# A foreign address file that is a FIFO: whoever lists the network opens
	# it under the lock and waits until the test writes its content.
	mkfifo "$net/10.10.0.200"
	start_plugin a ADD a eth0 "$c" /dev/full # A's result cannot be written: ENOSPC
	a=$started
	await "A to hold the lock" lock_has "$net/lock" holders 1
	start_plugin b ADD b eth0 "$c"
	b=$started
	await "B to wait for the lock" lock_has "$net/lock" waiters 1
	# A lists (content of the FIFO), reserves 10.10.0.2, fails, rolls back.
	timeout 10 bash -c 'printf "x\r\neth0" >"$1"' _ "$net/10.10.0.200"
	finish a "$a"
	assert_equal "$status" 1
	[[ "$stderr" == *"No space left on device"* ]] || fail "A: $stderr"
	# B has the lock now and waits in the FIFO: the lock file must be the one
	# B holds, so that a newcomer is excluded.
	await "B to hold the lock named lock" lock_has "$net/lock" holders 1
	run flock -n -E 75 "$net/lock" true
	assert_equal "$status" 75
	timeout 10 bash -c 'printf "x\r\neth0" >"$1"' _ "$net/10.10.0.200"
	finish b "$b"
	assert_success
	jq -e '.ips[0].address == "10.10.0.2/24"' <<<"$output" >/dev/null || fail "B: $output $stderr"
}

# Under the lock nothing else changes the network, but a process that does
# not take it (an administrator, or an instance that locked another file)
# may create a file meanwhile: the undo must not write over it.
@test "a DEL that fails halfway puts back what it removed, but never over a file that reappeared" {
	local net="$DATA/net1" fifo="$BATS_TEST_TMPDIR/fifo" c p
	c=$(conf 1.0.0 "$DUAL") # two range sets: after its files, DEL also releases old-format ones
	ours ADD d eth0 "$c"
	assert_success
	# 10.10.0.200, an old-format file of d, is a FIFO bind-mounted over a
	# file in the DEL's own mount namespace: reading it waits for the test,
	# and removing it fails with EBUSY.
	mkfifo "$fifo"
	: >"$net/10.10.0.200"
	printf '%s' "$c" >"$BATS_TEST_TMPDIR/del.json"
	timeout -k 5 20 unshare --mount --propagation private bash -c 'mount --bind "$1" "$2" &&
		exec env -i CNI_COMMAND=DEL CNI_CONTAINERID=d CNI_IFNAME=eth0 CNI_PATH=/x "$3" <"$4"' \
		_ "$fifo" "$net/10.10.0.200" "$PLUGIN" "$BATS_TEST_TMPDIR/del.json" \
		>"$BATS_TEST_TMPDIR/del.out" 2>"$BATS_TEST_TMPDIR/del.err" 3>&- &
	p=$!
	timeout 10 bash -c 'printf d >"$1"' _ "$fifo" # the listing reads it
	# DEL removes d's two files, then waits to read 10.10.0.200 again.
	await "DEL to remove d's files" test ! -e "$net/10.10.0.2" -a ! -e "$net/fd00:10::2"
	printf 'intruder\r\neth0' >"$net/10.10.0.2"
	timeout 10 bash -c 'printf d >"$1"' _ "$fifo"
	finish del "$p"
	assert_equal "$status" 1
	jq -e '.code == 5' <<<"$output" >/dev/null || fail "DEL: $output $stderr"
	assert_output --partial 'Device or resource busy'
	[ "$(cat "$net/10.10.0.2")" = $'intruder\r\neth0' ] || fail "the undo wrote over 10.10.0.2: $(cat "$net/10.10.0.2")"
	[ "$(cat "$net/fd00:10::2")" = $'d\r\neth0' ] || fail "fd00:10::2 not put back"
}
