#!/bin/bash
# Build the release images (`make release-images`); with PUSH=1 also publish
# them, as .github/workflows/release.yml does on a version tag:
#   PREFIX/control-plane and PREFIX/worker, where PREFIX is
#   REGISTRY/<REPOSITORY in lower case> (ghcr.io/owner/repo), each tagged
#   with the project version (file VERSION), the k3s version (ARG
#   K3S_VERSION) and latest; labels org.opencontainers.image.source
#   (https://github.com/REPOSITORY), .version (VERSION), .revision (the
#   commit) and .created (the commit's time, UTC).
# The k3s version, the bases and the platforms (ARG IMAGE_PLATFORMS) are the
# Dockerfiles' ARG defaults, read here and nowhere repeated; the script stops
# when the two Dockerfiles or compose.yaml disagree about them.
#   PUSH=0 (default): one platform (PLATFORMS, default the engine's own),
#     loaded into the local engine; nothing is pushed, no attestations.
#     LOCAL_BASES=1 builds on the local test bases instead of the real ones
#     (k3s-sandbox-test/k3s:local and toolchain:local from
#     tests/lib/build-base-images.sh, init built with `make build`), offline;
#     K3S_IMAGE, TOOLCHAIN_IMAGE and INIT_MAKE_TARGET name others.
#   PUSH=1: docker buildx, every platform of IMAGE_PLATFORMS (or PLATFORMS),
#     SBOM and provenance attestations, pushed (log in first); each pushed
#     image is printed as PREFIX/VARIANT@sha256:... and, when DIGESTS_FILE
#     is set, appended to that file, one a line (what cosign signs).
#   DRY_RUN=1: check everything, print the build commands, run none.
# Other settings: REPOSITORY (owner/name; default $GITHUB_REPOSITORY),
# REGISTRY (ghcr.io), RELEASE_TAG (default: the pushed tag in Actions; must
# be v<VERSION>), REVISION (default $GITHUB_SHA, else git HEAD), CONTEXT
# (the repository).
# Exit status: 0 built; 1 a build or push failed; 64 bad setting; 65 the
# repository disagrees with itself or with RELEASE_TAG (pins that differ,
# a malformed VERSION, a tag other than v<VERSION>, PUSH=1 from a modified
# work tree); 69 a tool is missing (git, jq, docker buildx for PUSH=1).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# shellcheck source=tests/lib/dockerfile-args.bash
. "$here/dockerfile-args.bash"

die() {
	echo "release-images: $1" >&2
	exit "${2:-1}"
}
say() { echo "release-images: $*"; }

push=${PUSH:-0}
dry_run=${DRY_RUN:-0}
local_bases=${LOCAL_BASES:-0}
registry=${REGISTRY:-ghcr.io}
repository=${REPOSITORY:-${GITHUB_REPOSITORY:-}}
context=${CONTEXT:-$top}
release_tag=${RELEASE_TAG:-}
if [ -z "$release_tag" ] && [ "${GITHUB_REF_TYPE:-}" = tag ]; then
	release_tag=${GITHUB_REF_NAME:-}
fi
variants="control-plane worker"

# --- settings
for setting in PUSH:"$push" DRY_RUN:"$dry_run" LOCAL_BASES:"$local_bases"; do
	case "${setting#*:}" in 0 | 1) ;; *) die "${setting%%:*} must be 0 or 1, not '${setting#*:}'" 64 ;; esac
done
[ -n "$repository" ] || die "REPOSITORY (owner/name) is not set (in Actions it is GITHUB_REPOSITORY)" 64
[[ "$repository" =~ ^[A-Za-z0-9][A-Za-z0-9-]*/[A-Za-z0-9._-]+$ ]] ||
	die "REPOSITORY must be owner/name, not '$repository'" 64
[[ "$registry" =~ ^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]+)?(/[a-z0-9._-]+)*$ ]] ||
	die "REGISTRY must be a lower-case registry host (and path), not '$registry'" 64
if [ "$push" = 1 ] && [ "$local_bases" = 1 ]; then
	die "PUSH=1 publishes only images built on the real bases: LOCAL_BASES=1 is for local builds" 64
fi
[ -f "$context/Dockerfile.control-plane" ] || die "CONTEXT '$context' holds no Dockerfile.control-plane" 64
[ -f "$context/compose.yaml" ] || die "CONTEXT '$context' holds no compose.yaml" 64
command -v git >/dev/null || die "git not found" 69

# --- the pins, from the Dockerfiles; the other files must agree
pin() { # name
	local cp worker
	cp=$(dockerfile_arg "$context/Dockerfile.control-plane" "$1") || exit 65
	worker=$(dockerfile_arg "$context/Dockerfile.worker" "$1") || exit 65
	[ "$cp" = "$worker" ] ||
		die "ARG $1 differs: Dockerfile.control-plane '$cp', Dockerfile.worker '$worker'" 65
	printf '%s\n' "$cp"
}
k3s_version=$(pin K3S_VERSION)
k3s_image=$(pin K3S_IMAGE)
toolchain_image=$(pin TOOLCHAIN_IMAGE)
image_platforms=$(pin IMAGE_PLATFORMS)
for name in K3S_IMAGE TOOLCHAIN_IMAGE; do
	want=$k3s_image
	[ "$name" = TOOLCHAIN_IMAGE ] && want=$toolchain_image
	have=$(sed -n "s/^ *$name: \${$name:-\(.*\)}\$/\1/p" "$context/compose.yaml")
	[ "$have" = "$want" ] ||
		die "compose.yaml builds with $name '${have:-(none)}', the Dockerfiles with '$want'" 65
done
[[ "$k3s_version" =~ ^v[0-9]+\.[0-9]+\.[0-9]+-k3s[0-9]+$ ]] ||
	die "ARG K3S_VERSION '$k3s_version' is not a rancher/k3s tag (vX.Y.Z-k3sN)" 65

version=$(cat "$context/VERSION" 2>/dev/null) || die "no VERSION file in '$context'" 65
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$ ]] ||
	die "VERSION '$version' is not a version (X.Y.Z or X.Y.Z-PRE)" 65
if [ -n "$release_tag" ] && [ "$release_tag" != "v$version" ]; then
	die "tag '$release_tag' does not match VERSION $version (the tag must be v$version)" 65
fi

revision=${REVISION:-${GITHUB_SHA:-}}
[ -n "$revision" ] || revision=$(git -C "$top" rev-parse HEAD) || die "cannot read the commit (git rev-parse HEAD)" 65
[[ "$revision" =~ ^[0-9a-f]{40}$ ]] || die "REVISION must be a full commit hash, not '$revision'" 64
epoch=$(git -C "$top" log -1 --format=%ct "$revision" 2>/dev/null) ||
	die "REVISION $revision is not a commit of this repository" 64
created=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%SZ)
if [ "$push" = 1 ] && [ "$dry_run" = 0 ] && [ -n "$(git -C "$top" status --porcelain)" ]; then
	die "PUSH=1 from a modified work tree: the images would not be commit $revision" 65
fi

# --- platforms
docker_cli=/usr/bin/docker
[ -x "$docker_cli" ] || docker_cli=docker
platforms=${PLATFORMS:-}
if [ -z "$platforms" ]; then
	if [ "$push" = 1 ]; then
		platforms=$image_platforms
	else
		platforms=$("$docker_cli" version --format '{{.Server.Os}}/{{.Server.Arch}}') ||
			die "cannot ask the engine for its platform (docker version)" 69
	fi
fi
IFS=, read -r -a wanted <<<"$platforms"
[ "${#wanted[@]}" -gt 0 ] || die "PLATFORMS is empty" 64
for platform in "${wanted[@]}"; do
	case ",$image_platforms," in *",$platform,"*) ;; *)
		die "platform '$platform' is not one the images are made for (ARG IMAGE_PLATFORMS=$image_platforms)" 64
		;;
	esac
done
if [ "$push" = 0 ] && [ "${#wanted[@]}" -ne 1 ]; then
	die "PUSH=0 loads one platform into the engine, not '$platforms' (several need PUSH=1)" 64
fi

if [ "$dry_run" = 0 ]; then
	if [ "$push" = 1 ]; then
		docker buildx version >/dev/null 2>&1 || die "PUSH=1 needs docker buildx (not found)" 69
		command -v jq >/dev/null || die "jq not found (it reads the pushed digests)" 69
	fi
fi

# --- what every build gets
prefix="$registry/$(printf '%s' "$repository" | tr '[:upper:]' '[:lower:]')"
source_url="${GITHUB_SERVER_URL:-https://github.com}/$repository"
args=(--build-arg "IMAGE_SOURCE=$source_url")
if [ "$local_bases" = 1 ]; then
	args+=(--build-arg "K3S_IMAGE=${K3S_IMAGE:-k3s-sandbox-test/k3s:local}"
		--build-arg "TOOLCHAIN_IMAGE=${TOOLCHAIN_IMAGE:-k3s-sandbox-test/toolchain:local}"
		--build-arg "INIT_MAKE_TARGET=${INIT_MAKE_TARGET:-build}")
fi
# The project's version replaces the Dockerfiles' (the k3s version): these
# are k3s-sandbox's releases, and the k3s version is a tag of its own.
args+=(--label "org.opencontainers.image.version=$version"
	--label "org.opencontainers.image.revision=$revision"
	--label "org.opencontainers.image.created=$created")
if [ "$push" = 1 ]; then
	# The same facts on the multi-platform index, where registries look.
	for kv in "source=$source_url" "version=$version" "revision=$revision" "created=$created"; do
		args+=(--annotation "index:org.opencontainers.image.$kv")
	done
	args+=(--sbom=true --provenance=mode=max)
fi
export SOURCE_DATE_EPOCH=$epoch

say "$prefix/{${variants// /,}}:{$version,$k3s_version,latest} for $platforms (k3s $k3s_version, revision $revision$([ "$local_bases" = 1 ] && echo ", local bases"))"
metadata=$(mktemp -d)
trap 'rm -rf "$metadata"' EXIT
for variant in $variants; do
	tags=()
	for tag in "$version" "$k3s_version" latest; do
		tags+=(--tag "$prefix/$variant:$tag")
	done
	if [ "$push" = 1 ]; then
		cmd=(docker buildx build --file "$context/Dockerfile.$variant" --platform "$platforms" "${args[@]}"
			"${tags[@]}" --metadata-file "$metadata/$variant.json" --push "$context")
	else
		cmd=("$docker_cli" build --quiet --file "$context/Dockerfile.$variant" --platform "$platforms" "${args[@]}"
			"${tags[@]}" "$context")
	fi
	if [ "$dry_run" = 1 ]; then
		printf '%q ' "${cmd[@]}"
		echo
		continue
	fi
	start=$SECONDS
	DOCKER_BUILDKIT=1 "${cmd[@]}" >/dev/null || die "building $prefix/$variant failed"
	if [ "$push" = 1 ]; then
		digest=$(jq -r '."containerimage.digest" // empty' "$metadata/$variant.json")
		[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || die "$prefix/$variant: buildx reported no digest"
		say "pushed $prefix/$variant@$digest in $((SECONDS - start)) s"
		if [ -n "${DIGESTS_FILE:-}" ]; then
			echo "$prefix/$variant@$digest" >>"$DIGESTS_FILE"
		fi
	else
		say "built $prefix/$variant for $platforms in $((SECONDS - start)) s"
	fi
done
