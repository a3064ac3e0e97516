#!/usr/bin/env bats
# Static checks that keep the project honest: shell, C, Dockerfiles, CI entry.

load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

setup() {
	cd "$BATS_TEST_DIRNAME/../.."
}

shell_scripts() {
	# Every tracked or new file with a shell shebang, plus *.sh and *.bash.
	git ls-files --cached --others --exclude-standard |
		while IFS= read -r f; do
			[ -f "$f" ] || continue
			case "$f" in
			*.bats) continue ;;
			*.sh | *.bash) echo "$f" ;;
			*)
				head -n 1 "$f" 2>/dev/null | grep -qE '^#!.*(ba)?sh' && echo "$f"
				;;
			esac
		done
}

@test "shellcheck passes on every shell script" {
	command -v shellcheck || { echo "shellcheck is not installed" >&2; return 1; }
	mapfile -t scripts < <(shell_scripts)
	[ "${#scripts[@]}" -gt 3 ]
	shellcheck -x "${scripts[@]}"
}

@test "shell scripts start with set -eu" {
	local missing=""
	while IFS= read -r f; do
		grep -qE '^set -e?u|^set -eu|^set -euo' "$f" || missing="$missing $f"
	done < <(shell_scripts | grep -v '\.bash$')
	[ -z "$missing" ] || { echo "no 'set -eu' in:$missing" >&2; return 1; }
}

@test "cppcheck finds no error in the init" {
	command -v cppcheck || { echo "cppcheck is not installed" >&2; return 1; }
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,portability \
		--inline-suppr -D_GNU_SOURCE -I init init/
}

@test "every init source compiles with musl (glibc-only code fails the build)" {
	run make --no-print-directory musl-check
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"every init source compiles with musl"* ]]
}

@test "make static: a static binary, or a clear message when the libraries cannot be linked statically" {
	# musl-gcc too: it must not take glibc's libjansson.a in /usr/lib for
	# its own and then fail in the linker.
	local compiler
	for compiler in cc musl-gcc; do
		run make --no-print-directory static CC="$compiler"
		if [ "$status" -eq 0 ]; then
			file build/k3s-init | grep -q 'statically linked' || fail "$compiler: $(file build/k3s-init)"
		else
			assert_equal "$compiler: $status" "$compiler: 2"
			assert_output --partial "make static: $compiler cannot link libmnl and jansson statically"
			refute_output --partial "undefined reference"
		fi
	done
}

@test ".ci/run calls the README's test command" {
	grep -q '^make test ' README.md
	grep -qx 'exec make test' .ci/run
}

@test "Dockerfiles declare every base as a global ARG and carry OCI labels" {
	for dockerfile in Dockerfile.control-plane Dockerfile.worker; do
		[ -f "$dockerfile" ] || { echo "$dockerfile is missing" >&2; return 1; }
		# Global ARGs come before the first FROM; every FROM names an ARG or a stage.
		first_from=$(grep -n '^FROM ' "$dockerfile" | head -n 1 | cut -d: -f1)
		head -n "$first_from" "$dockerfile" | grep -q '^ARG K3S_IMAGE'
		while read -r _ base _; do
			case "$base" in
			\$\{*\} | scratch) ;;
			*) grep -qE "^FROM .* AS $base\$" "$dockerfile" || { echo "$dockerfile: unpinned base $base" >&2; return 1; } ;;
			esac
		done < <(grep '^FROM ' "$dockerfile")
		grep -q 'org.opencontainers.image.source' "$dockerfile"
		grep -q '^HEALTHCHECK' "$dockerfile"
		grep -q '^STOPSIGNAL' "$dockerfile"
	done
}
