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

# --- races that need the lock ---------------------------------------------
# Each test holds the network's lock (flock(1)), starts the instances, waits
# until the kernel shows every one of them blocked on that lock, then lets
# them go. Without the plugin's flock the instances never queue, so these
# tests fail every time, not once in a while.

# queue NAME N COMMAND ID CONFIG [STDOUT] : start N instances named NAME1..N
# on interface eth0, with container ID ID ('#' in it becomes 1..N); their
# names and PIDs are appended to $queued.
queue() {
	local prefix=$1 n=$2 cmd=$3 id=$4 config=$5 i
	shift 5
	for i in $(seq 1 "$n"); do
		start_plugin "$prefix$i" "$cmd" "${id//#/$i}" eth0 "$config" "$@"
		queued+=("$prefix$i:$started")
	done
}

# run_queue NETDIR : wait until every queued instance waits on the lock,
# release it, and wait for them all. Sets $lines: one "NAME STATUS RESULT"
# line each, RESULT being the addresses, or the error's code and message.
run_queue() {
	local entry name result
	await "${#queued[@]} instances to queue on the lock" lock_has "$1/lock" waiters "${#queued[@]}"
	release_lock
	lines=''
	for entry in "${queued[@]}"; do
		name=${entry%%:*}
		finish "$name" "${entry#*:}"
		if [ -z "$output" ]; then
			result="(no stdout) $stderr"
		else
			result=$(jq -r 'if .code then "\(.code) \(.msg)" else [.ips[].address] | join(",") end' <<<"$output" 2>&1) ||
				result="unreadable: $output $stderr"
		fi
		lines+="$name $status $result"$'\n'
	done
}

@test "lock: ADDs for one attachment queued together: one gets an address, the others are duplicates" {
	local c
	queued=()
	c=$(conf 1.0.0 "$V4_24")
	hold_lock "$DATA/net1"
	queue same 8 ADD same "$c"
	run_queue "$DATA/net1"
	[ "$(grep -c ' 0 10\.10\.0\.' <<<"$lines")" = 1 ] || fail "not exactly one success: $lines"
	[ "$(grep -c ' 1 999 .*duplicate allocation is not allowed' <<<"$lines")" = 7 ] || fail "expected 7 duplicates: $lines"
	run addresses_of "$DATA"
	assert_output '10.10.0.2'
}

@test "lock: queued ADDs go round-robin from last_reserved_ip, wrap, and the last one finds the range full" {
	local c i
	queued=()
	c=$(conf 1.0.0 '"ranges":[[{"subnet":"10.73.0.0/29"}]]') # .2 to .6
	for i in 1 2 3 4 5; do
		ours ADD "s$i" eth0 "$c"
		assert_success
	done
	ours DEL s2 eth0 "$c"
	ours DEL s4 eth0 "$c"
	hold_lock "$DATA/net1"
	queue q 3 ADD 'q#' "$c"
	run_queue "$DATA/net1"
	# Whatever order they run in: after .6 come .3 and .5, then nothing.
	[ "$(grep -E ' 0 ' <<<"$lines" | cut -d' ' -f3 | LC_ALL=C sort | tr '\n' ' ')" = "10.73.0.3/29 10.73.0.5/29 " ] ||
		fail "expected .3 and .5: $lines"
	[ "$(grep -c ' 1 999 .*no IP addresses available' <<<"$lines")" = 1 ] || fail "expected one exhaustion: $lines"
	[ "$(cat "$DATA/net1/last_reserved_ip.0")" = 10.73.0.5 ] || fail "last_reserved_ip.0: $(cat "$DATA/net1/last_reserved_ip.0")"
}

@test "lock: queued ADDs that fail give back their address and last_reserved_ip to the next in line" {
	local c
	queued=()
	c=$(conf 1.0.0 "$V4_24")
	hold_lock "$DATA/net1"
	queue fail 3 ADD 'f#' "$c" /dev/full
	queue keep 3 ADD 'k#' "$c"
	run_queue "$DATA/net1"
	[ "$(grep -c '^fail. 1 (no stdout) .*error 5: writing the result to stdout' <<<"$lines")" = 3 ] || fail "expected 3 failures: $lines"
	[ "$(grep '^keep. 0 ' <<<"$lines" | cut -d' ' -f3 | LC_ALL=C sort | tr '\n' ' ')" = "10.10.0.2/24 10.10.0.3/24 10.10.0.4/24 " ] ||
		fail "a failure kept an address or moved last_reserved_ip: $lines"
	run addresses_of "$DATA"
	assert_output $'10.10.0.2\n10.10.0.3\n10.10.0.4'
	[ "$(cat "$DATA/net1/last_reserved_ip.0")" = 10.10.0.4 ] || fail "last_reserved_ip.0: $(cat "$DATA/net1/last_reserved_ip.0")"
}

@test "lock: a GC queued among ADDs of valid attachments releases only the stale one" {
	local c gc
	queued=()
	c=$(conf 1.1.0 "$V4_24")
	ours ADD stale eth0 "$c"
	ours ADD v0 eth0 "$c"
	gc=$(conf 1.1.0 "$V4_24" '"cni.dev/valid-attachments":[{"containerID":"v0","ifname":"eth0"},{"containerID":"v1","ifname":"eth0"},{"containerID":"v2","ifname":"eth0"},{"containerID":"v3","ifname":"eth0"},{"containerID":"v4","ifname":"eth0"}]')
	hold_lock "$DATA/net1"
	local id
	for id in v1 v2 gc v3 v4; do
		if [ "$id" = gc ]; then
			start_plugin gc GC "" "" "$gc"
		else
			start_plugin "$id" ADD "$id" eth0 "$c"
		fi
		queued+=("$id:$started")
	done
	run_queue "$DATA/net1"
	[ "$(grep -c '^[^ ]* 0 ' <<<"$lines")" = 5 ] || fail "every command should succeed: $lines"
	# Whether GC ran before or after an ADD, only the stale address went.
	run addresses_of "$DATA"
	assert_output $'10.10.0.3\n10.10.0.4\n10.10.0.5\n10.10.0.6\n10.10.0.7'
	run grep -l stale "$DATA"/net1/10.*
	assert_failure
}

@test "lock: ours and the real plugin queue on the same lock file" {
	need_real_plugin
	local c
	queued=()
	c=$(conf 1.0.0 "$V4_24")
	hold_lock "$DATA/net1"
	queue ours 4 ADD 'o#' "$c"
	local saved=$PLUGIN
	PLUGIN=$REAL_HOST_LOCAL
	queue real 4 ADD 'r#' "$c"
	PLUGIN=$saved
	run_queue "$DATA/net1"
	[ "$(grep -c ' 0 10\.10\.0\.' <<<"$lines")" = 8 ] || fail "expected 8 ADDs: $lines"
	[ -z "$(cut -d' ' -f3 <<<"$lines" | sort | uniq -d)" ] || fail "an address twice: $lines"
}
