#!/usr/bin/env bats
# CI replays the fuzzing seed corpus (no new fuzzing): builds the libFuzzer
# harnesses with ASan + UBSan and runs every seed once. `make fuzz
# FUZZ_SECONDS=N` fuzzes for real.

load helpers

@test "fuzz harnesses build and replay the seed corpus cleanly" {
	command -v clang >/dev/null || fail "clang is required to build the fuzz harnesses (apt-get install clang)"
	local top
	top=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
	run env FUZZ_BUILD_DIR="$BATS_TEST_TMPDIR/fuzz" "$top/tests/fuzz/run" --replay
	assert_success
	assert_output --partial '== replay fuzz_cni_config'
	assert_output --partial '== replay fuzz_cni_prev_result'
	assert_output --partial '== replay fuzz_xt_rule'
	[ -x "$BATS_TEST_TMPDIR/fuzz/fuzz_cni_config" ] || fail "harness not built"
	grep -q 'Executed .*config/k3s-flannel.json' "$BATS_TEST_TMPDIR/fuzz/fuzz_cni_config.log" ||
		fail "seeds were not executed: $(cat "$BATS_TEST_TMPDIR/fuzz/fuzz_cni_config.log")"
}
