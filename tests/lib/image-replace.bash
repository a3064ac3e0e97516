# Sourced by the image build scripts: a rebuilt tag leaves the image it
# pointed at before untagged, and with the VFS storage driver every such
# image is a full copy on disk (hundreds of MB for the toolchain base), so
# runs after runs would fill the disk.
#   image_id CLI... NAME          the image ID NAME points at, or nothing
#   drop_replaced OLD-ID CLI... NAME
#                                 after a build of NAME: remove OLD-ID when NAME
#                                 no longer points at it (an image still used
#                                 by a container or another tag stays)
#   drop_build_leftovers CLI...   after a script's builds: BuildKit's cache
#                                 (docker) or the dangling stage images of
#                                 --layers builds (podman). With VFS each of
#                                 them is a full copy too: a few test runs
#                                 left 41 GB of BuildKit cache and 13 GB of
#                                 Podman stage images here, and the real
#                                 kubelet of the tests then evicted its pods
#                                 for disk pressure.
# CLI is the engine's command words (docker, or podman --storage-driver vfs).
# shellcheck shell=bash

image_id() { # cli... name
	"${@:1:$#-1}" image inspect --format '{{.Id}}' "${*: -1}" 2>/dev/null || true
}

drop_replaced() { # old-id cli... name
	local old=$1
	shift
	[ -n "$old" ] || return 0
	[ "$(image_id "$@")" != "$old" ] || return 0
	"${@:1:$#-1}" rmi "$old" >/dev/null 2>&1 || true
}

drop_build_leftovers() { # cli...
	case "$*" in
	*podman*) "$@" image prune -f >/dev/null 2>&1 || true ;;
	*) DOCKER_BUILDKIT=1 "$@" builder prune -af >/dev/null 2>&1 || true ;;
	esac
}
