#!/usr/bin/env bats
# Supervise mode (init/supervise.c, init/signals.c, init/cgroup_evacuate.c):
# the PID-1 contract of init/supervise.h, with real processes, as PID 1
# of a fresh PID namespace (unshare) and as a child subreaper.
#
# The binary under test is $K3S_INIT (`k3s-init supervise -- CMD`), with every
# repair step turned off; tests/run also runs this file against the ASan/UBSan
# build.

bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
FIX=$BATS_TEST_DIRNAME/fixtures/supervise
PREFIX=k3s-sandbox-test-sup

setup_file() {
	[ "$(id -u)" -eq 0 ] || {
		echo "supervise.bats: needs root (unshare, mounts, cgroups)" >&2
		return 1
	}
	[ -n "${K3S_INIT:-}" ] && [ -x "$K3S_INIT" ] || {
		echo "supervise.bats: K3S_INIT does not name an executable (got '${K3S_INIT:-}')" >&2
		return 1
	}
	local tool
	for tool in unshare env timeout gcc make; do
		command -v "$tool" >/dev/null || {
			echo "supervise.bats: missing $tool (util-linux, coreutils, gcc, make)" >&2
			return 1
		}
	done
	export SUP_BIN="$BATS_FILE_TMPDIR/bin"
	mkdir -p "$SUP_BIN"
	# The fixtures get the product's warning flags (read from the Makefile).
	local warn
	warn=$(make -C "$TOP" -qp 2>/dev/null | sed -n 's/^WARN := //p' | head -1)
	[ -n "$warn" ] || {
		echo "supervise.bats: cannot read WARN from the Makefile" >&2
		return 1
	}
	# shellcheck disable=SC2086 # word splitting of the flag list is intended
	gcc $warn -D_GNU_SOURCE -O2 -o "$SUP_BIN/fds" "$FIX/fds.c"
	# shellcheck disable=SC2086
	gcc $warn -D_GNU_SOURCE -O2 -o "$SUP_BIN/early-kill" "$FIX/early-kill.c"
	# shellcheck disable=SC2086
	gcc $warn -D_GNU_SOURCE -O2 -o "$SUP_BIN/together" "$FIX/together.c"
	# shellcheck disable=SC2086
	gcc $warn -D_GNU_SOURCE -O2 -o "$SUP_BIN/on-pty" "$FIX/on-pty.c"
	# shellcheck disable=SC2086
	gcc $warn -D_GNU_SOURCE -O2 -o "$SUP_BIN/siginfo" "$FIX/siginfo.c"

	# The real binary repairs the environment before supervising; these
	# tests are about supervise mode only, so every repair step is off.
	local step
	for step in $(sed -n 's/^STEP(\([a-z0-9_]*\))/\1/p' "$TOP/init/steps.def" 2>/dev/null); do
		export "K3S_INIT_${step^^}=off"
	done

	# cgroup v2: the tests get their own cgroup under the cgroup2 mount's
	# root, with every controller that mount offers enabled for it. On a
	# hybrid host most controllers are bound to v1 and the root delegates
	# none; what v2 offers (here: hugetlb) is enabled at the root for the
	# run and switched off again in teardown_file.
	CG2=$(awk '{ for (i = 7; i < NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break } }' \
		/proc/self/mountinfo | head -1)
	[ -n "$CG2" ] || {
		echo "supervise.bats: no cgroup2 mount on this host" >&2
		return 1
	}
	export CG2 CG_TEST="$CG2/$PREFIX-$$"
	export CG_ROOT_ENABLED=""
	local c
	for c in $(cat "$CG2/cgroup.controllers"); do
		if ! grep -qw "$c" "$CG2/cgroup.subtree_control"; then
			echo "+$c" >"$CG2/cgroup.subtree_control" && CG_ROOT_ENABLED="$CG_ROOT_ENABLED $c"
		fi
	done
	mkdir "$CG_TEST" "$CG_TEST/park"
	for c in $(cat "$CG_TEST/cgroup.controllers"); do
		echo "+$c" >"$CG_TEST/cgroup.subtree_control"
	done
}

teardown_file() {
	if [ -n "${CG_TEST:-}" ] && [ -d "$CG_TEST" ]; then
		local d pid
		for d in "$CG_TEST"/*/ "$CG_TEST"/*/init/; do
			[ -f "$d/cgroup.procs" ] || continue
			for pid in $(cat "$d/cgroup.procs"); do kill -KILL "$pid" 2>/dev/null || true; done
		done
		for d in "$CG_TEST"/*/init "$CG_TEST"/*; do
			[ -d "$d" ] && rmdir "$d" 2>/dev/null || true
		done
		rmdir "$CG_TEST" || true
	fi
	local c
	for c in ${CG_ROOT_ENABLED:-}; do
		echo "-$c" >"$CG2/cgroup.subtree_control" || true
	done
}

setup() {
	SUP=("$K3S_INIT" supervise --)
	T=$BATS_TEST_TMPDIR
	BG_PIDS=()
}

descendants() { # pid -> it and every descendant, parents first
	local pid=$1 child
	echo "$pid"
	for child in $(cat /proc/"$pid"/task/*/children 2>/dev/null); do
		descendants "$child"
	done
}

teardown() {
	local pid all=()
	# Whatever a failed test left running: the init, its child, their children.
	for pid in "${BG_PIDS[@]}"; do
		mapfile -t -O "${#all[@]}" all < <(descendants "$pid")
	done
	for pid in "${all[@]}"; do
		kill -KILL "$pid" 2>/dev/null || true
	done
	for pid in $(cat "$T"/kill-after 2>/dev/null); do
		kill -KILL "$pid" 2>/dev/null || true
	done
}

# as_pid1 CMD...: CMD as PID 1 of a new PID namespace with its own /proc.
# /sys/fs/cgroup there is a private tmpfs: on a pure cgroup v2 host the init
# would otherwise evacuate the host's cgroup (the cgroup tests below do that
# on purpose, in a cgroup of their own).
as_pid1() {
	unshare --pid --fork --mount-proc sh -c \
		'mount -t tmpfs k3s-sandbox-test-sup /sys/fs/cgroup || exit 90; exec "$@"' sh "$@"
}

# run_init MODE CMD...: the init supervising CMD, as a subreaper ("sub") or
# as PID 1 ("pid1"), bounded by timeout.
run_init() {
	local mode=$1
	shift
	if [ "$mode" = pid1 ]; then
		timeout -k 5 30 unshare --pid --fork --mount-proc sh -c \
			'mount -t tmpfs k3s-sandbox-test-sup /sys/fs/cgroup || exit 90; exec "$@"' sh "${SUP[@]}" "$@"
	else
		timeout -k 5 30 "${SUP[@]}" "$@"
	fi
}

# wait_until SECONDS CMD...: poll CMD every 20 ms until it succeeds.
wait_until() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@"; do
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

is_init_process() { # pid: the process runs the supervising binary
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$(readlink -f "$K3S_INIT")" ]
}

first_child() { # pid -> its first child's pid
	local c
	c=$(cat "/proc/$1/task/$1/children" 2>/dev/null) || return 1
	c=${c%% *}
	[ -n "$c" ] && echo "$c"
}

find_ns_init() { # unshare pid -> sets INIT_PID (host view) once exec'd
	local c
	c=$(first_child "$1") || return 1
	is_init_process "$c" || return 1
	INIT_PID=$c
}

# start_init MODE CMD...: the init in the background (stdout $T/out, stderr
# $T/err); sets BG_PID (what to wait for) and INIT_PID (what to signal).
# A shell starts background commands with SIGINT and SIGQUIT ignored (POSIX
# 2.11), and a runner started under nohup ignores SIGHUP; the init rightly
# passes ignored signals on, so env gives every signal its default back.
start_init() {
	local mode=$1
	shift
	if [ "$mode" = pid1 ]; then
		env --default-signal unshare --pid --fork --kill-child --mount-proc sh -c \
			'mount -t tmpfs k3s-sandbox-test-sup /sys/fs/cgroup || exit 90; exec "$@"' sh \
			"${SUP[@]}" "$@" >"$T/out" 2>"$T/err" </dev/null 3>&- &
		BG_PID=$!
		BG_PIDS+=("$BG_PID")
		wait_until 10 find_ns_init "$BG_PID" || fail "the init did not start as PID 1"
	else
		env --default-signal "${SUP[@]}" "$@" >"$T/out" 2>"$T/err" </dev/null 3>&- &
		BG_PID=$!
		BG_PIDS+=("$BG_PID")
		INIT_PID=$BG_PID
		wait_until 10 is_init_process "$BG_PID" || fail "the init did not start"
	fi
}

proc_state() { # pid -> one-letter state (R S T Z ...)
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	stat=${stat##*) }
	echo "${stat%% *}"
}

exited() { # pid: gone or a zombie waiting for us
	local s
	s=$(proc_state "$1") || return 0
	[ "$s" = Z ]
}

# finish SECONDS: wait (bounded) for the background init; sets STATUS.
finish() {
	wait_until "$1" exited "$BG_PID" || fail "the init did not exit within $1 s"
	STATUS=0
	wait "$BG_PID" || STATUS=$?
}

file_has() { # file pattern
	grep -qx -- "$2" "$1" 2>/dev/null
}

# --- entry -------------------------------------------------------------------

@test "entry: K3S_INIT_SUPERVISE=1 supervises the default path; without it the program is exec'd" {
	# The supervised child's parent is the init; an exec'd one has none.
	local comm
	comm=$(basename "$K3S_INIT" | cut -c1-15)
	K3S_INIT_SUPERVISE=1 run --separate-stderr timeout -k 5 30 "$K3S_INIT" sh -c 'cat /proc/$PPID/comm; exit 3'
	assert_equal "$status" 3
	assert_output "$comm"
	run --separate-stderr timeout -k 5 30 "$K3S_INIT" sh -c 'cat /proc/$PPID/comm; exit 3'
	assert_equal "$status" 3
	refute_output "$comm"
}

# --- exit status -------------------------------------------------------------

@test "exit status: the child's own (0 and 3), as subreaper and as PID 1" {
	local mode
	for mode in sub pid1; do
		run run_init "$mode" sh -c 'exit 0'
		assert_success
		run run_init "$mode" sh -c 'exit 3'
		assert_equal "$mode:$status" "$mode:3"
	done
}

@test "exit status: 128+N when the child is killed by signal N (KILL 137, TERM 143)" {
	local mode
	for mode in sub pid1; do
		run run_init "$mode" sh -c 'kill -KILL $$'
		assert_equal "$mode:$status" "$mode:137"
		run run_init "$mode" sh -c 'kill -TERM $$'
		assert_equal "$mode:$status" "$mode:143"
	done
}

@test "exit status: 127 for a program not found, named on stderr with the k3s-init: prefix" {
	run -127 --separate-stderr run_init sub "$PREFIX-no-such-program"
	assert_equal "$status" 127
	assert_equal "$output" ""
	[[ "$stderr" == *"k3s-init:"*"$PREFIX-no-such-program"* ]] || fail "stderr: $stderr"
	run -127 --separate-stderr run_init pid1 /nonexistent/dir/prog
	assert_equal "$status" 127
	[[ "$stderr" == *"k3s-init:"*"/nonexistent/dir/prog"* ]] || fail "stderr: $stderr"
}

@test "exit status: 126 for a file that is not executable and for a directory" {
	printf '#!/bin/sh\nexit 0\n' >"$T/not-exec"
	chmod 0644 "$T/not-exec"
	run --separate-stderr run_init sub "$T/not-exec"
	assert_equal "$status" 126
	[[ "$stderr" == *"k3s-init:"*"$T/not-exec"* ]] || fail "stderr: $stderr"
	run --separate-stderr run_init pid1 "$T"
	assert_equal "$status" 126
	[[ "$stderr" == *"k3s-init:"*"$T"* ]] || fail "stderr: $stderr"
}

# --- signals -----------------------------------------------------------------

# The child traps every signal named in $T/sigs, appends each one it gets to
# $T/got, and exits 0 once $T/stop exists.
trap_child='
out=$1; shift
for s in "$@"; do trap "echo $s >>\"$out/got\"" "$s"; done
: >"$out/ready"
while [ ! -e "$out/stop" ]; do sleep 0.02; done
exit 0'

forward_signals() { # mode
	local sigs=(TERM INT HUP USR1 USR2 QUIT WINCH RTMIN+3 RTMAX-1 ABRT SEGV BUS FPE ILL TRAP SYS)
	start_init "$1" bash -c "$trap_child" child "$T" "${sigs[@]}"
	wait_until 10 test -e "$T/ready" || fail "child not ready"
	local s
	for s in "${sigs[@]}"; do
		kill -s "$s" "$INIT_PID"
		wait_until 10 file_has "$T/got" "$s" || fail "$1: SIG$s sent to the init did not reach the child (got: $(tr '\n' ' ' <"$T/got" 2>/dev/null))"
	done
	touch "$T/stop"
	finish 10
	assert_equal "$STATUS" 0
}

@test "signals: every catchable signal (real-time and crash signals sent by kill too) reaches the child, subreaper" {
	forward_signals sub
}

@test "signals: every catchable signal reaches the child when the init is PID 1 (sent from outside the namespace)" {
	forward_signals pid1
}

@test "signals: a queued real-time signal (sigqueue) reaches the child" {
	# The init re-queues SI_QUEUE signals with sigqueue() to keep their
	# value; bash cannot show si_value, so this checks the delivery.
	start_init sub bash -c "$trap_child" child "$T" RTMIN+5
	wait_until 10 test -e "$T/ready" || fail "child not ready"
	/bin/kill --queue 42 -s RTMIN+5 "$INIT_PID"
	wait_until 10 file_has "$T/got" "RTMIN+5" || fail "queued RTMIN+5 not forwarded"
	touch "$T/stop"
	finish 10
	assert_equal "$STATUS" 0
}

@test "signals: a queued signal reaches the child with its value and as queued (SI_QUEUE)" {
	local rt
	rt=$(($(kill -l RTMIN) + 5))
	start_init sub "$SUP_BIN/siginfo" "$T/ready" "$rt"
	wait_until 10 test -e "$T/ready" || fail "child not ready"
	/bin/kill --queue 42 -s "$rt" "$INIT_PID"
	finish 10
	assert_equal "$STATUS" 0
	# si_code -1 is SI_QUEUE; a plain kill() would arrive as SI_USER (0), value 0.
	assert_equal "$(cat "$T/out")" "signo=$rt code=-1 value=42"
}

@test "signals: -g sends them to the child's whole process group; without -g only the child gets them" {
	# The child (a group leader) starts a member of its group that records
	# its pid (teardown kills it) and what it gets; then both wait.
	local script='
		(trap "echo member-got-TERM >>\"$1/got\"; exit 0" TERM; echo $BASHPID >>"$1/kill-after"
		 : >"$1/member-ready"; while :; do sleep 0.02; done) &
		trap "echo leader-got-TERM >>\"$1/got\"; exit 0" TERM
		while [ ! -e "$1/member-ready" ]; do sleep 0.02; done; : >"$1/ready"
		while :; do sleep 0.02; done'
	SUP=("$K3S_INIT" supervise -g --)
	start_init sub bash -c "$script" child "$T"
	wait_until 10 test -e "$T/ready" || fail "child not ready"
	kill -TERM "$INIT_PID"
	finish 10
	assert_equal "$STATUS" 0
	wait_until 10 file_has "$T/got" member-got-TERM || fail "-g: the group member did not get TERM"
	assert_equal "$(sort "$T/got" | tr '\n' ' ')" "leader-got-TERM member-got-TERM "
	rm -f "$T/got" "$T/ready" "$T/member-ready"
	SUP=("$K3S_INIT" supervise --)
	start_init sub bash -c "$script" child "$T"
	wait_until 10 test -e "$T/ready" || fail "child not ready"
	kill -TERM "$INIT_PID"
	finish 10
	assert_equal "$STATUS" 0
	sleep 0.3
	assert_equal "$(cat "$T/got")" "leader-got-TERM"
}

@test "signals: SIGTERM sent the moment the init blocks its signals is not lost (5x subreaper, 5x PID 1)" {
	local i
	for i in 1 2 3 4 5; do
		run --separate-stderr timeout -k 5 30 "$SUP_BIN/early-kill" "${SUP[@]}" sleep 30
		assert_output "exited 143"
		run --separate-stderr timeout -k 5 30 "$SUP_BIN/early-kill" --pidns "${SUP[@]}" sleep 30
		assert_output "exited 143"
	done
}

@test "signals: TSTP, TTIN and TTOU never stop the init; the child gets them" {
	local mode s
	for mode in sub pid1; do
		rm -f "$T/got" "$T/ready" "$T/stop"
		start_init "$mode" bash -c "$trap_child" child "$T" TSTP TTIN TTOU
		wait_until 10 test -e "$T/ready" || fail "child not ready"
		for s in TSTP TTIN TTOU; do
			kill -s "$s" "$INIT_PID"
			wait_until 10 file_has "$T/got" "$s" || fail "$mode: SIG$s not forwarded"
			assert_equal "$mode:$s:$(proc_state "$INIT_PID")" "$mode:$s:S"
		done
		touch "$T/stop"
		finish 10
		assert_equal "$STATUS" 0
	done
}

# --- the child's signal state ------------------------------------------------

sigstate() { grep -E '^Sig(Blk|Ign):' /proc/self/status; }

@test "child state: the launcher's ignored signals exactly, everything else default, empty blocked mask" {
	local ign=HUP,INT,QUIT,USR2,PIPE,TSTP,TTOU,CHLD,RTMIN+2
	local blk=TERM,USR1,RTMIN,WINCH
	# Expected: what the same launcher gives a program it starts directly.
	local expected
	expected=$(env --ignore-signal="$ign" --block-signal="$blk" grep '^SigIgn:' /proc/self/status)
	[ "$expected" != "SigIgn:	0000000000000000" ] || fail "env --ignore-signal did not ignore anything"
	run timeout -k 5 30 env --ignore-signal="$ign" --block-signal="$blk" "${SUP[@]}" grep -E '^Sig(Blk|Ign):' /proc/self/status
	assert_success
	assert_line "$expected"
	assert_line "SigBlk:	0000000000000000"
	# The same as PID 1 (unshare and sh keep ignored signals across exec).
	expected=$(env --ignore-signal="$ign" --block-signal="$blk" unshare --pid --fork --mount-proc \
		grep '^SigIgn:' /proc/self/status)
	run timeout -k 5 30 env --ignore-signal="$ign" --block-signal="$blk" \
		unshare --pid --fork --mount-proc "${SUP[@]}" grep -E '^Sig(Blk|Ign):' /proc/self/status
	assert_success
	assert_line "$expected"
	assert_line "SigBlk:	0000000000000000"
}

@test "child state: nothing ignored by the launcher means nothing ignored in the child" {
	# env --default-signal cannot reset the C library's reserved real-time
	# signals (glibc keeps 32 and 33), so a launcher that ignored those passes
	# them on: the baseline is what a direct child of the same env gets.
	local baseline
	baseline=$(env --default-signal grep '^SigIgn:' /proc/self/status)
	run timeout -k 5 30 env --default-signal "${SUP[@]}" grep -E '^Sig(Blk|Ign):' /proc/self/status
	assert_success
	assert_line "$baseline"
	assert_line "SigBlk:	0000000000000000"
}

@test "child state: SIGCHLD ignored by the launcher does not lose the child's exit status" {
	# SIG_IGN on SIGCHLD makes the kernel reap children itself; the init
	# must undo that for itself and still hand the ignore to the child.
	run timeout -k 5 30 env --ignore-signal=CHLD "${SUP[@]}" sh -c 'exit 5'
	assert_equal "$status" 5
	run timeout -k 5 30 env --ignore-signal=CHLD unshare --pid --fork --mount-proc \
		"${SUP[@]}" sh -c 'exit 6'
	assert_equal "$status" 6
}

# --- reaping -----------------------------------------------------------------

# Starts 5 orphans (sleep 0.3, their parent subshell exits at once), checks
# that they were reparented to the init (PPid == the init, which is $PPID of
# this child), waits until they are gone, and prints how many remained,
# plus the zombies in the PID namespace when it is ours.
reap_child='
dir=$1; init=$PPID; : >"$dir/orphans"
for i in 1 2 3 4 5; do ( sleep 0.3 & echo $! >>"$dir/orphans" ); done
bad=0
for p in $(cat "$dir/orphans"); do
  pp=$(awk "/^PPid:/ {print \$2}" /proc/$p/status 2>/dev/null)
  [ -z "$pp" ] || [ "$pp" = "$init" ] || bad=$((bad+1))
done
echo "foreign-parent=$bad"
for i in $(seq 250); do
  left=0; for p in $(cat "$dir/orphans"); do [ -e /proc/$p ] && left=$((left+1)); done
  [ $left -eq 0 ] && break; sleep 0.02
done
echo "left=$left"
if [ "$2" = pid1 ]; then
  z=0; for s in /proc/[0-9]*/stat; do st=$(cat $s 2>/dev/null) || continue; st=${st##*) }; [ "${st%% *}" = Z ] && z=$((z+1)); done
  echo "zombies=$z"
fi'

@test "reaping: orphans are reparented to the subreaper init and reaped" {
	run run_init sub bash -c "$reap_child" child "$T" sub
	assert_success
	assert_line "foreign-parent=0"
	assert_line "left=0"
}

@test "reaping: as PID 1, orphans are reaped and no zombie stays in the namespace while the child runs" {
	run run_init pid1 bash -c "$reap_child" child "$T" pid1
	assert_success
	assert_line "foreign-parent=0"
	assert_line "left=0"
	assert_line "zombies=0"
}

@test "reaping: the main child and orphans exiting together never hang the init (20x each mode)" {
	local mode i
	for mode in sub pid1; do
		for i in $(seq 20); do
			run run_init "$mode" "$SUP_BIN/together" 8 4
			assert_equal "$mode:$i:$status" "$mode:$i:4"
		done
	done
}

@test "reaping: as subreaper, the init exits at once when the main child exits, a grandchild lives on" {
	local start=$SECONDS
	run run_init sub sh -c 'sleep 60 >/dev/null 2>&1 & echo $! >"$1/kill-after"; exit 0' child "$T"
	assert_success
	[ $((SECONDS - start)) -lt 10 ] || fail "took $((SECONDS - start)) s"
	local gc
	gc=$(cat "$T/kill-after")
	[ "$(proc_state "$gc")" = S ] || fail "the grandchild $gc should still run (state $(proc_state "$gc"))"
}

@test "reaping: as PID 1, leftovers get SIGTERM and time to clean up; the init exits when they are gone" {
	local gc='trap "echo cleaned >\"$1/cleaned\"; exit 0" TERM; : >"$1/gc-ready"; while :; do sleep 0.02; done'
	run run_init pid1 bash -c '
		bash -c "$2" gc "$1" &
		for i in $(seq 250); do [ -e "$1/gc-ready" ] && break; sleep 0.02; done
		exit 5' child "$T" "$gc"
	assert_equal "$status" 5
	assert_equal "$(cat "$T/cleaned")" cleaned
	# The full 2 s grace would show in the log: the init did not wait for it.
	refute_output --partial "still running"
}

@test "reaping: as PID 1, a leftover that ignores SIGTERM delays the exit by the grace period only" {
	local t0 t1
	t0=$(date +%s%N)
	# The leftover says when it ignores TERM; the main child exits only then
	# (under load the TERM could otherwise land before the trap is set).
	run --separate-stderr run_init pid1 sh -c \
		'(trap "" TERM; : >"$1"; exec sleep 60) &
		while [ ! -e "$1" ]; do sleep 0.01; done; exit 7' sh "$BATS_TEST_TMPDIR/leftover-ready"
	t1=$(date +%s%N)
	assert_equal "$status" 7
	local ms=$(((t1 - t0) / 1000000))
	# SUPERVISE_GRACE_MS is 2000: the init waited for it, and not much longer.
	[ "$ms" -ge 1800 ] && [ "$ms" -lt 8000 ] || fail "exit after $ms ms (grace 2000 ms)"
	[[ "$stderr" == *"still running"* ]] || fail "stderr: $stderr"
}

@test "reaping: as PID 1, a second SIGTERM during the grace period ends the wait at once" {
	start_init pid1 sh -c '(trap "" TERM; : >"$1/leftover-ready"; exec sleep 60) &
		while [ ! -e "$1/leftover-ready" ]; do sleep 0.01; done; exit 7' sh "$T"
	wait_until 10 file_has "$T/err" '.*sent SIGTERM to the remaining processes.*' ||
		fail "no drain: $(cat "$T/err")"
	local t0 t1
	t0=$(date +%s%N)
	kill -TERM "$INIT_PID"
	finish 10
	t1=$(date +%s%N)
	assert_equal "$STATUS" 7
	grep -q 'signal 15 during shutdown; exiting now' "$T/err" || fail "stderr: $(cat "$T/err")"
	run grep -c 'still running' "$T/err"
	assert_output 0
	# Well inside the 2 s grace period (under load too).
	[ $(((t1 - t0) / 1000000)) -lt 1500 ] || fail "took $(((t1 - t0) / 1000000)) ms"
}

# --- terminal ------------------------------------------------------------------

tty_child='
trap "echo GOT-HUP" HUP
read -r -a me </proc/$$/stat
read -r -a parent </proc/$PPID/stat
echo "pid=${me[0]} pgrp=${me[4]} tpgid=${me[7]} parent-pgrp=${parent[4]}"
sleep 0.2
exit 0'

check_tty_output() {
	local line
	line=$(printf '%s\n' "$output" | tr -d '\r' | grep '^pid=') || fail "no report: $output"
	[[ "$line" =~ ^pid=([0-9]+)\ pgrp=([0-9]+)\ tpgid=([0-9]+)\ parent-pgrp=([0-9]+)$ ]] || fail "report: $line"
	local pid=${BASH_REMATCH[1]} pgrp=${BASH_REMATCH[2]} tpgid=${BASH_REMATCH[3]} ppgrp=${BASH_REMATCH[4]}
	assert_equal "own group: $pgrp" "own group: $pid"
	assert_equal "foreground: $tpgid" "foreground: $pgrp"
	[ "$ppgrp" != "$pgrp" ] || fail "the init shares the child's process group"
	refute_output --partial GOT-HUP
}

@test "tty: the child leads its own process group and is the terminal's foreground group (no SIGHUP)" {
	run timeout -k 5 30 "$SUP_BIN/on-pty" "${SUP[@]}" bash -c "$tty_child"
	assert_success
	check_tty_output
}

@test "tty: the same when the init is PID 1" {
	run timeout -k 5 30 "$SUP_BIN/on-pty" unshare --pid --fork --mount-proc "${SUP[@]}" bash -c "$tty_child"
	assert_success
	check_tty_output
}

@test "tty: no terminal (stdin /dev/null or closed) is not an error" {
	run --separate-stderr run_init sub sh -c 'echo ran' </dev/null
	assert_success
	assert_output ran
	[[ "$stderr" != *terminal* ]] || fail "stderr: $stderr"
	run --separate-stderr run_init sub sh -c 'echo ran' <&-
	assert_success
	assert_output ran
	[[ "$stderr" != *terminal* ]] || fail "stderr: $stderr"
}

# --- hygiene -----------------------------------------------------------------

# Runs the rest of the line with only fds 0-2 and 5 open.
with_fds_0_2_5() {
	local fd
	for fd in $(ls "/proc/$BASHPID/fd"); do
		[ "$fd" -gt 2 ] && [ "$fd" -ne 5 ] && eval "exec $fd>&-"
	done
	"$@"
}

@test "hygiene: the child inherits the launcher's descriptors and none of the init's" {
	local mode
	for mode in sub pid1; do
		run --separate-stderr bash -c "$(declare -f with_fds_0_2_5 run_init); SUP=($(printf '%q ' "${SUP[@]}")); \
			with_fds_0_2_5 run_init $mode \"\$1\"" _ "$SUP_BIN/fds" 5</dev/null
		assert_success
		assert_equal "$mode: $output" "$mode: 0 1 2 5"
	done
}

@test "hygiene: logs go to stderr only, the child's cwd is the launcher's" {
	mkdir "$T/work dir"
	cd "$T/work dir"
	K3S_INIT_LOG=debug run --separate-stderr run_init sub sh -c 'pwd; echo to-stderr >&2'
	assert_success
	assert_output "$T/work dir"
	[[ "$stderr" == *"k3s-init: "* ]] || fail "no debug log on stderr: $stderr"
	local line
	while IFS= read -r line; do
		[[ "$line" == "k3s-init: "* || "$line" == to-stderr ]] || fail "unexpected stderr line: $line"
	done <<<"$stderr"
	K3S_INIT_LOG=debug run --separate-stderr run_init pid1 sh -c 'pwd'
	assert_success
	assert_output "$T/work dir"
}

# --- cgroup v2 evacuation ------------------------------------------------------

# cg_run NAME PARK INNER-CHILD-SCRIPT: runs the init as PID 1 of new PID,
# mount and cgroup namespaces whose cgroup root is $CG_TEST/NAME, with cgroup2
# mounted at /sys/fs/cgroup. With PARK=park, unshare's own process (outside
# the PID namespace, so the init cannot move it) is moved to $CG_TEST/park
# first, as a container runtime's process is never in the container's cgroup.
cg_run() {
	local name=$1 park=$2 script=$3
	mkdir "$CG_TEST/$name"
	# shellcheck disable=SC2016 # expanded by the inner shells
	bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG_TEST/$name" \
		unshare --cgroup --pid --fork --kill-child --mount-proc sh -c '
			mount -t cgroup2 none /sys/fs/cgroup || exit 90
			if [ "$1" = park ]; then
				i=0
				while grep -qx 0 /sys/fs/cgroup/cgroup.procs; do
					i=$((i + 1)); [ $i -lt 500 ] || exit 91; sleep 0.01
				done
			fi
			shift; exec "$@"' sh "$park" "${SUP[@]}" sh -c "$script" >"$T/out" 2>"$T/err" </dev/null 3>&- &
	BG_PID=$!
	BG_PIDS+=("$BG_PID")
	if [ "$park" = park ]; then
		# After the fork: the namespace's first process must stay behind.
		wait_until 10 first_child "$BG_PID" >/dev/null || fail "unshare did not fork"
		echo "$BG_PID" >"$CG_TEST/park/cgroup.procs"
	fi
	finish 20
}

cg_report='
echo "self $(grep ^0:: /proc/self/cgroup)"
echo "init $(grep ^0:: /proc/1/cgroup)"
echo "root-procs $(cat /sys/fs/cgroup/cgroup.procs | tr "\n" " ")"
echo "enabled $(cat /sys/fs/cgroup/cgroup.subtree_control)"
echo "available $(cat /sys/fs/cgroup/cgroup.controllers)"
exit 7'

@test "cgroup v2: as PID 1 on a cgroup2 /sys/fs/cgroup, the init moves into <cg>/init and enables the controllers" {
	cg_run evac park "$cg_report"
	assert_equal "$STATUS" 7
	run cat "$T/out"
	assert_line "self 0::/init"
	assert_line "init 0::/init"
	assert_line "root-procs "
	local enabled available
	enabled=$(sed -n 's/^enabled //p' "$T/out")
	available=$(sed -n 's/^available //p' "$T/out")
	assert_equal "enabled: $enabled" "enabled: $available"
	# This host is hybrid: most controllers belong to v1 and cgroup2 offers
	# only what no v1 hierarchy took (hugetlb here), which setup_file
	# delegates to the test cgroup. On a host whose cgroup2 offers nothing
	# at all, only the move can be checked, and then this says so.
	if [ -n "$(cat "$CG_TEST/cgroup.controllers")" ]; then
		[ -n "$available" ] || fail "controllers were delegated to the test cgroup but none reached the namespace"
	else
		echo "# note: this host's cgroup2 offers no controller; only the move was checked" >&3
	fi
	grep -q "k3s-init: cgroup v2: moved" "$T/err" || fail "no log line: $(cat "$T/err")"
}

@test "cgroup v2: a process the init cannot move is a warning, the child still runs" {
	# unshare's process stays in the namespace's root cgroup, invisible to
	# the init: subtree_control then refuses controllers (EBUSY).
	[ -n "$(cat "$CG_TEST/cgroup.controllers")" ] || fail "needs a cgroup2 controller on this host to provoke EBUSY (cgroup.controllers of $CG_TEST is empty)"
	cg_run busy nopark "$cg_report"
	assert_equal "$STATUS" 7
	run cat "$T/out"
	assert_line "self 0::/init"
	assert_line "enabled "
	grep -q "k3s-init: warning: cgroup v2: cannot enable controller" "$T/err" || fail "no warning: $(cat "$T/err")"
}

@test "cgroup v2: not PID 1 (subreaper) leaves the cgroup alone" {
	mkdir "$CG_TEST/sub"
	# shellcheck disable=SC2016
	run timeout -k 5 30 bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG_TEST/sub" \
		unshare --cgroup --mount sh -c 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"' sh \
		"${SUP[@]}" sh -c 'grep ^0:: /proc/self/cgroup; ls /sys/fs/cgroup/init 2>&1 >/dev/null || echo no-init'
	assert_success
	assert_line "0::/"
	assert_line no-init
}

@test "cgroup v2: in a user namespace the init leaves the cgroup alone, as k3s does" {
	mkdir "$CG_TEST/userns"
	# shellcheck disable=SC2016
	run timeout -k 5 30 bash -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' _ "$CG_TEST/userns" \
		unshare --user --map-root-user --cgroup --mount --pid --fork --mount-proc \
		sh -c 'mount -t cgroup2 none /sys/fs/cgroup || exit 90; exec "$@"' sh \
		"${SUP[@]}" sh -c 'grep ^0:: /proc/self/cgroup; ls /sys/fs/cgroup/init 2>&1 >/dev/null || echo no-init'
	assert_success
	assert_line "0::/"
	assert_line no-init
	[ ! -d "$CG_TEST/userns/init" ] || fail "an init cgroup was created"
}

@test "cgroup v2: on a v1 or hybrid /sys/fs/cgroup the init as PID 1 changes nothing" {
	# /sys/fs/cgroup is a tmpfs here (as on this hybrid host, where v1
	# hierarchies live under it); the unified hierarchy is elsewhere.
	run --separate-stderr run_init pid1 sh -c 'ls -A /sys/fs/cgroup; echo listed'
	assert_success
	assert_output "listed"
	[[ "$stderr" != *"cgroup v2: moved"* ]] || fail "stderr: $stderr"
}
