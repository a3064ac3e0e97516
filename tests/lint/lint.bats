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

@test "Dockerfiles: the toolchain stage is the same in both, so the second build takes it from the cache" {
	toolchain_stage() { sed -n '/^FROM .* AS toolchain$/,/^FROM /p' "$1"; }
	local cp worker
	cp=$(toolchain_stage Dockerfile.control-plane)
	worker=$(toolchain_stage Dockerfile.worker)
	[ -n "$cp" ] || fail "Dockerfile.control-plane has no stage named toolchain"
	assert_equal "$worker" "$cp"
}

# The workflows: actionlint (built by tests/lib/build-tools.sh), with shellcheck
# for every run: step, and the rules the project keeps for them.
workflow_files() {
	mapfile -t files < <(ls .github/workflows/*.yml)
	[ "${#files[@]}" -ge 2 ] || fail "expected ci.yml and release.yml, found: ${files[*]}"
}

@test "actionlint (with shellcheck for run: steps) passes on the workflows" {
	local actionlint=/usr/local/bin/actionlint
	[ -x "$actionlint" ] || fail "$actionlint is missing (tests/lib/build-tools.sh builds it)"
	command -v shellcheck || fail "shellcheck is not installed"
	workflow_files
	"$actionlint" -version
	run "$actionlint" -shellcheck "$(command -v shellcheck)" "${files[@]}"
	[ "$status" -eq 0 ] || fail "actionlint: $output"
}

@test "workflows: actions pinned by commit with a version comment, images by digest" {
	local bad files
	workflow_files
	bad=$(grep -nE '^\s*(-\s+)?uses:' "${files[@]}" | grep -vE 'uses: \./' |
		grep -vE 'uses: [A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40} # v[0-9]+\.[0-9]+\.[0-9]+$') || true
	[ -z "$bad" ] || fail "not pinned by full commit SHA with '# vX.Y.Z':
$bad"
	bad=$(grep -nE '^\s*image: ' "${files[@]}" | grep -vE '@sha256:[0-9a-f]{64}$') || true
	[ -z "$bad" ] || fail "image not pinned by digest:
$bad"
}

@test "workflows: least privilege, no secrets where pull requests run, no pin repeated" {
	local files name value
	workflow_files
	run /usr/bin/python3 - "${files[@]}" <<'PY'
import sys, yaml
bad = []
for path in sys.argv[1:]:
    doc = yaml.safe_load(open(path))
    on = doc.get("on", doc.get(True))  # YAML 1.1 reads the key 'on' as true
    triggers = set(on) if isinstance(on, (dict, list)) else {on}
    if doc.get("permissions") not in ({}, {"contents": "read"}):
        bad.append(f"{path}: top-level permissions must be {{}} or contents: read, not {doc.get('permissions')!r}")
    for name, job in doc["jobs"].items():
        if "permissions" not in job:
            bad.append(f"{path}: job {name} declares no permissions")
        if job.get("secrets") == "inherit":
            bad.append(f"{path}: job {name} hands every secret on (secrets: inherit)")
    text = open(path).read()
    if "pull_request_target" in triggers:
        bad.append(f"{path}: pull_request_target runs untrusted code with secrets")
    if "pull_request" in triggers and "secrets." in text:
        bad.append(f"{path}: runs on pull requests and names secrets")
print("\n".join(bad))
sys.exit(1 if bad else 0)
PY
	[ "$status" -eq 0 ] || fail "$output"
	# The k3s version, the bases and the platforms live in the Dockerfiles' ARGs.
	for name in K3S_VERSION TOOLCHAIN_IMAGE IMAGE_PLATFORMS; do
		value=$(sed -n "s/^ARG $name=//p" Dockerfile.control-plane)
		[ -n "$value" ] || fail "Dockerfile.control-plane has no ARG $name default"
		for value in ${value//,/ }; do
			! grep -nF -- "$value" "${files[@]}" || fail "the workflows repeat $name's '$value': read it from the Dockerfiles"
		done
	done
}
