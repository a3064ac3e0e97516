#!/usr/bin/env bats
# tests/lib/release-images.sh as `make release-images` runs it: the amd64
# images built offline on the local bases, not pushed, with the tags and OCI
# labels the release publishes; the publishing command (PUSH=1) as a dry run;
# bad settings and a repository that disagrees with itself. Everything it
# makes is named k3s-sandbox-test-release-<pid>/... and removed afterwards.

load helpers

setup_file() {
	require_tools git jq
	export REL_REGISTRY="k3s-sandbox-test-release-$$"
	export REL_REPOSITORY=Example-Org/K3s-Sandbox
	export REL_PREFIX="$REL_REGISTRY/example-org/k3s-sandbox"
	ENGINES=docker "$TOP/tests/lib/build-base-images.sh" >&3 2>&1 || fail_loudly "tests/lib/build-base-images.sh failed"
	LOCAL_BASES=1 REGISTRY=$REL_REGISTRY REPOSITORY=$REL_REPOSITORY GITHUB_REPOSITORY= GITHUB_SHA= \
		PLATFORMS=linux/amd64 "$TOP/tests/lib/release-images.sh" >"$BATS_FILE_TMPDIR/build.log" 2>&1 ||
		{ cat "$BATS_FILE_TMPDIR/build.log" >&2; fail_loudly "release-images.sh failed"; }
}

teardown_file() {
	local refs
	mapfile -t refs < <("$DOCKER" images --format '{{.Repository}}:{{.Tag}}' | grep "^$REL_REGISTRY/")
	[ "${#refs[@]}" -eq 0 ] || "$DOCKER" rmi "${refs[@]}" >/dev/null
}

setup() {
	load_libs
	VERSION=$(cat "$TOP/VERSION")
	PIN=$(sed -n 's/^ARG K3S_VERSION=//p' "$TOP/Dockerfile.control-plane")
}

release() { # settings... : the script with a clean environment of the test's own
	env -u GITHUB_REPOSITORY -u GITHUB_SHA -u GITHUB_REF_TYPE -u GITHUB_REF_NAME -u GITHUB_SERVER_URL \
		REPOSITORY=$REL_REPOSITORY "$@" "$TOP/tests/lib/release-images.sh"
}

label() { # image key
	"$DOCKER" image inspect -f "{{index .Config.Labels \"org.opencontainers.image.$2\"}}" "$1"
}

@test "tags: REGISTRY/<repository in lower case>/VARIANT:{VERSION,k3s version,latest}, no other" {
	run "$DOCKER" images --format '{{.Repository}}:{{.Tag}}'
	local mine
	mine=$(grep "^$REL_REGISTRY/" <<<"$output" | sort)
	assert_equal "$mine" "$(printf '%s\n' \
		"$REL_PREFIX/control-plane:$PIN" "$REL_PREFIX/control-plane:$VERSION" "$REL_PREFIX/control-plane:latest" \
		"$REL_PREFIX/worker:$PIN" "$REL_PREFIX/worker:$VERSION" "$REL_PREFIX/worker:latest" | sort)"
	# The three tags of a variant are one image.
	local variant ids
	for variant in control-plane worker; do
		ids=$(for tag in "$VERSION" "$PIN" latest; do "$DOCKER" image inspect -f '{{.Id}}' "$REL_PREFIX/$variant:$tag"; done | sort -u | wc -l)
		assert_equal "$variant: $ids" "$variant: 1"
	done
}

@test "OCI labels: source, version, revision, created; the Dockerfiles' own labels kept" {
	local revision created image variant
	revision=$(git -C "$TOP" rev-parse HEAD)
	created=$(date -u -d "@$(git -C "$TOP" log -1 --format=%ct HEAD)" +%Y-%m-%dT%H:%M:%SZ)
	for variant in control-plane worker; do
		image="$REL_PREFIX/$variant:$VERSION"
		assert_equal "$(label "$image" source)" "https://github.com/$REL_REPOSITORY"
		assert_equal "$(label "$image" version)" "$VERSION"
		assert_equal "$(label "$image" revision)" "$revision"
		assert_equal "$(label "$image" created)" "$created"
		assert_equal "$(label "$image" title)" "k3s-sandbox $variant"
		assert_equal "$(label "$image" base.name)" "$BASE_IMAGE"
		assert_equal "$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}' "$image")" linux/amd64
	done
	run "$DOCKER" image inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$REL_PREFIX/control-plane:latest"
	assert_line "K3S_INIT_K3S_VERSION=$PIN"
	assert_line "K3S_INIT_ROLE=control-plane"
}

@test "the build said what it made and pushed nothing" {
	run cat "$BATS_FILE_TMPDIR/build.log"
	assert_line --partial "release-images: built $REL_PREFIX/control-plane for linux/amd64 in"
	assert_line --partial "release-images: built $REL_PREFIX/worker for linux/amd64 in"
	refute_output --partial pushed
}

@test "PUSH=1 (dry run): buildx for every platform of ARG IMAGE_PLATFORMS, attestations, ghcr.io path, push" {
	local platforms
	platforms=$(sed -n 's/^ARG IMAGE_PLATFORMS=//p' "$TOP/Dockerfile.control-plane")
	run release PUSH=1 DRY_RUN=1 GITHUB_REF_TYPE=tag GITHUB_REF_NAME="v$VERSION"
	assert_success
	assert_equal "$(grep -c '^docker buildx build ' <<<"$output")" 2
	local line variant
	for variant in control-plane worker; do
		line=$(grep "^docker buildx build --file [^ ]*/Dockerfile.$variant " <<<"$output")
		# printf %q escapes the comma of the platform list.
		[[ "$line" == *" --platform ${platforms//,/\\,} "* ]] || fail "platforms: $line"
		for word in --sbom=true --provenance=mode=max --push \
			"--tag ghcr.io/example-org/k3s-sandbox/$variant:$VERSION" \
			"--tag ghcr.io/example-org/k3s-sandbox/$variant:$PIN" \
			"--tag ghcr.io/example-org/k3s-sandbox/$variant:latest" \
			"--build-arg IMAGE_SOURCE=https://github.com/$REL_REPOSITORY" \
			"--label org.opencontainers.image.version=$VERSION" \
			"--annotation index:org.opencontainers.image.source=https://github.com/$REL_REPOSITORY"; do
			[[ "$line" == *" $word "* ]] || fail "missing '$word' in: $line"
		done
		[[ "$line" != *K3S_IMAGE=* ]] || fail "a release must build on the Dockerfiles' bases: $line"
	done
}

@test "bad settings stop with 64 and a message naming them" {
	run release PUSH=yes
	assert_equal "$status" 64
	assert_output --partial "PUSH must be 0 or 1, not 'yes'"
	run env -u GITHUB_REPOSITORY "$TOP/tests/lib/release-images.sh"
	assert_equal "$status" 64
	assert_output --partial "REPOSITORY (owner/name) is not set"
	run release REPOSITORY=not-a-repository
	assert_equal "$status" 64
	assert_output --partial "REPOSITORY must be owner/name"
	run release DRY_RUN=1 PLATFORMS=linux/s390x
	assert_equal "$status" 64
	assert_output --partial "platform 'linux/s390x' is not one the images are made for"
	run release DRY_RUN=1 PLATFORMS=linux/amd64,linux/arm64
	assert_equal "$status" 64
	assert_output --partial "PUSH=0 loads one platform"
	run release PUSH=1 LOCAL_BASES=1 DRY_RUN=1
	assert_equal "$status" 64
	assert_output --partial "LOCAL_BASES=1 is for local builds"
}

@test "a tag that is not v<VERSION> stops the release with 65" {
	run release PUSH=1 DRY_RUN=1 GITHUB_REF_TYPE=tag GITHUB_REF_NAME=v0.0.0-not-this
	assert_equal "$status" 65
	assert_output --partial "tag 'v0.0.0-not-this' does not match VERSION $VERSION (the tag must be v$VERSION)"
	refute_output --partial "docker buildx"
}

@test "Dockerfiles or compose.yaml that disagree about a pin stop the release with 65" {
	local ctx="$BATS_TEST_TMPDIR/context"
	mkdir -p "$ctx"
	cp "$TOP/Dockerfile.control-plane" "$TOP/Dockerfile.worker" "$TOP/compose.yaml" "$TOP/VERSION" "$ctx/"
	sed -i 's/^ARG K3S_VERSION=.*/ARG K3S_VERSION=v1.0.0-k3s1/' "$ctx/Dockerfile.worker"
	run release DRY_RUN=1 CONTEXT="$ctx"
	assert_equal "$status" 65
	assert_output --partial "ARG K3S_VERSION differs: Dockerfile.control-plane '$PIN', Dockerfile.worker 'v1.0.0-k3s1'"
	cp "$TOP/Dockerfile.worker" "$ctx/"
	sed -i 's/TOOLCHAIN_IMAGE:-[^}]*}/TOOLCHAIN_IMAGE:-alpine:0.0}/' "$ctx/compose.yaml"
	run release DRY_RUN=1 CONTEXT="$ctx"
	assert_equal "$status" 65
	assert_output --partial "compose.yaml builds with TOOLCHAIN_IMAGE 'alpine:0.0'"
	cp "$TOP/compose.yaml" "$ctx/"
	echo 1.2 >"$ctx/VERSION"
	run release DRY_RUN=1 CONTEXT="$ctx"
	assert_equal "$status" 65
	assert_output --partial "VERSION '1.2' is not a version"
}
