# Around the whole images suite (bats runs this file once, before the first
# test file and after the last): a run leaves nothing behind.
# setup_suite takes a snapshot of each engine's containers, networks, volumes
# and dangling images; teardown_suite fails (as the TAP line
# "not ok N teardown_suite") listing every object that the run created and
# left behind: containers named k3s-sandbox-test* or made from a
# k3s-sandbox-test* image, k3s-sandbox-test* networks and volumes, and
# anonymous volumes (64 hex digits) that no container uses any more.
# What existed before the run is never blamed. The images the suite builds
# (k3s-sandbox-test*:local and the base images) are kept on purpose.
# shellcheck shell=bash

leftover_prefix=k3s-sandbox-test

leftover_engines() {
	echo docker
	if command -v podman >/dev/null; then
		echo podman
	fi
}

leftover_cli() { # engine -> command words
	case "$1" in
	docker)
		if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else echo docker; fi
		;;
	podman) echo "podman --storage-driver vfs" ;;
	esac
}

# One line per object: "KIND NAME [IMAGE]"; sorted, for comm.
leftover_inventory() { # engine
	local cli
	read -ra cli <<<"$(leftover_cli "$1")"
	{
		"${cli[@]}" ps -a --format '{{.Names}} {{.Image}}' | sed 's/^/container /'
		"${cli[@]}" network ls --format '{{.Name}}' | sed 's/^/network /'
		"${cli[@]}" volume ls -q | sed 's/^/volume /'
		"${cli[@]}" volume ls -q --filter dangling=true | sed 's/^/dangling-volume /'
	} | LC_ALL=C sort -u
}

setup_suite() {
	local engine dir="$BATS_RUN_TMPDIR/leftovers"
	mkdir -p "$dir"
	for engine in $(leftover_engines); do
		leftover_inventory "$engine" >"$dir/$engine.before" || {
			echo "setup_suite: cannot list $engine's objects" >&2
			return 1
		}
	done
}

teardown_suite() {
	local engine dir="$BATS_RUN_TMPDIR/leftovers" left="" kind name image
	for engine in $(leftover_engines); do
		[ -f "$dir/$engine.before" ] || continue
		leftover_inventory "$engine" >"$dir/$engine.after"
		while read -r kind name image; do
			case "$kind" in
			container)
				case "$name $image" in "$leftover_prefix"* | *" $leftover_prefix"* | *" localhost/$leftover_prefix"*) ;; *) continue ;; esac
				;;
			network | volume)
				case "$name" in "$leftover_prefix"*) ;; *) continue ;; esac
				;;
			dangling-volume)
				[[ "$name" =~ ^[0-9a-f]{64}$ ]] || continue
				# Only volumes that did not exist before the run.
				grep -qxF "volume $name" "$dir/$engine.before" && continue
				;;
			esac
			left="$left$engine $kind $name${image:+ (image $image)}"$'\n'
		done < <(LC_ALL=C comm -13 "$dir/$engine.before" "$dir/$engine.after")
	done
	if [ -n "$left" ]; then
		printf 'the images suite left behind what it created:\n%s' "$left" >&2
		return 1
	fi
}
