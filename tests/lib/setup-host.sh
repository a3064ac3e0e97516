#!/bin/bash
# Prepare a Debian bookworm machine (as root) for the test suites: packages,
# the tools Debian lacks (tests/lib/build-tools.sh: a current gVisor runsc,
# helm, Compose v2, actionlint, a static libmnl, arm64 static libraries for
# the init's cross build, whose compiler and qemu-user come from Debian),
# Docker (VFS storage, gVisor runtimes), Podman (VFS). Idempotent: a second run installs nothing, builds nothing that is
# cached and starts nothing that already runs.
set -eu

packages=(
	build-essential musl-tools libmnl-dev libjansson-dev clang libclang-rt-14-dev
	bats bats-support bats-assert bats-file shellcheck jq
	docker.io containerd iptables runsc docker-compose podman podman-compose
	debootstrap busybox-static containernetworking-plugins util-linux iproute2 strace
	cppcheck file python3-yaml git procps ca-certificates
	hyperfine uidmap
	gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static
)

missing=()
for package in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'ok installed' || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
	echo "setup-host: installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Built or fetched once per version, then taken from the cache; a failed
# step stops the setup with its name.
"$(dirname "$0")/build-tools.sh"

# Docker: VFS works on every filesystem the engines meet here; runsc with
# --network=none because gVisor's netstack refuses the root network namespace
# ("cannot run with network enabled in root network namespace"); runsc-host
# (--network=host: the container's own netns, set up by Docker) lets a gVisor
# container reach others on a compose network. (gVisor's host networking has
# no iptables at all, legacy or nft, with or without --net-raw: the gVisor
# worker test names that as the one check that fails.)
# runsc-current and runsc-current-netraw are the current gVisor that
# build-tools.sh builds, with its own network stack (netstack, what cloud IDEs
# run; it works on this kernel), and with raw sockets (--net-raw), which
# netstack's iptables needs. Debian's runsc and runsc-host stay as they are.
# Where this host's own capability bounding set has gaps (some CI sandboxes
# drop CAP_SYS_RESOURCE), runc cannot grant a --privileged container every
# capability; runc-bounded drops the ones the host lacks and runs runc.
default_runtime=runc
capability_gap=no
all_capabilities=$((16#1ffffffffff)) # CAP_CHOWN (0) .. CAP_CHECKPOINT_RESTORE (40)
bounding=$((16#$(awk '/^CapBnd:/ {print $2}' /proc/self/status)))
if [ $((bounding & all_capabilities)) -ne "$all_capabilities" ]; then
	capability_gap=yes
	install -D -m 0755 "$(dirname "$0")/runc-bounded" /usr/local/lib/k3s-sandbox/runc-bounded
	default_runtime=runc-bounded
	echo "setup-host: this host's capability bounding set has gaps: engines use runc-bounded"
fi

mkdir -p /etc/docker
runsc_current=/usr/local/lib/k3s-sandbox/runsc-current
daemon_json='{"storage-driver":"vfs","default-runtime":"'"$default_runtime"'","runtimes":{"runsc":{"path":"/usr/bin/runsc","runtimeArgs":["--network=none"]},"runsc-host":{"path":"/usr/bin/runsc","runtimeArgs":["--network=host"]}'
daemon_json="$daemon_json"',"runsc-current":{"path":"'"$runsc_current"'","runtimeArgs":["--network=sandbox"]}'
daemon_json="$daemon_json"',"runsc-current-netraw":{"path":"'"$runsc_current"'","runtimeArgs":["--network=sandbox","--net-raw"]}'
if [ "$capability_gap" = yes ]; then
	daemon_json="$daemon_json"',"runc-bounded":{"path":"/usr/local/lib/k3s-sandbox/runc-bounded"}'
fi
daemon_json="$daemon_json}}"
if [ "$(cat /etc/docker/daemon.json 2>/dev/null)" != "$daemon_json" ]; then
	printf '%s\n' "$daemon_json" >/etc/docker/daemon.json
	# Restart rather than SIGHUP: dockerd 20.10's config reload has been
	# seen to panic here, taking every running container with it. Wait for
	# the very process that was told to stop: waiting for "no dockerd at
	# all" never ends when another setup starts one meanwhile.
	for pid in $(pgrep -x dockerd || true); do
		kill "$pid" 2>/dev/null || continue
		while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
	done
fi

log_dir=/var/log/k3s-sandbox-tests
mkdir -p "$log_dir"
if ! pgrep -x containerd >/dev/null; then
	echo "setup-host: starting containerd"
	setsid containerd >"$log_dir/containerd.log" 2>&1 </dev/null &
	for _ in $(seq 1 100); do
		[ -S /run/containerd/containerd.sock ] && break
		sleep 0.1
	done
fi
if ! pgrep -x dockerd >/dev/null; then
	echo "setup-host: starting dockerd"
	setsid dockerd --containerd=/run/containerd/containerd.sock >"$log_dir/dockerd.log" 2>&1 </dev/null &
fi
for _ in $(seq 1 300); do
	docker info >/dev/null 2>&1 && break
	sleep 0.2
done
if ! docker info >/dev/null 2>&1; then
	echo "setup-host: dockerd did not answer; see $log_dir/dockerd.log" >&2
	tail -n 20 "$log_dir/dockerd.log" >&2 || true
	exit 1
fi
driver=$(docker info --format '{{.Driver}}')
if [ "$driver" != vfs ]; then
	echo "setup-host: dockerd runs with storage driver '$driver', not vfs" >&2
	exit 1
fi

# Podman: VFS storage, and rlimits within this machine's hard limits (runc
# fails with "error setting rlimit" otherwise).
mkdir -p /etc/containers
if [ ! -f /etc/containers/storage.conf ] || ! grep -q '^driver = "vfs"' /etc/containers/storage.conf; then
	cat >/etc/containers/storage.conf <<'CONF'
[storage]
driver = "vfs"
runroot = "/run/containers/storage"
graphroot = "/var/lib/containers/storage"
CONF
fi
# crun refuses cgroup v1/hybrid hosts ("cgroups in hybrid mode not
# supported"), so Podman runs runc (or runc-bounded, as Docker does).
nofile=$(ulimit -Hn)
nproc=$(ulimit -Hu)
[ "$nofile" = unlimited ] && nofile=1048576
# runc refuses an nproc limit above what the engine itself may raise to; the
# value machine.md records as working here is 20000.
if [ "$nproc" = unlimited ] || [ "$nproc" -gt 20000 ]; then nproc=20000; fi
if [ "$nofile" -gt 1048576 ]; then nofile=1048576; fi
containers_conf="[containers]
default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]

[engine]
runtime = \"$default_runtime\"

[engine.runtimes]
runc-bounded = [\"/usr/local/lib/k3s-sandbox/runc-bounded\"]"
if [ "$(cat /etc/containers/containers.conf 2>/dev/null)" != "$containers_conf" ]; then
	printf '%s\n' "$containers_conf" >/etc/containers/containers.conf
fi
echo "setup-host: ready (docker $(docker version --format '{{.Server.Version}}'), $(runsc --version | head -n 1)," \
	"runsc-current $("$runsc_current" --version | head -n 1 | awk '{print $3}'), podman $(podman --version | awk '{print $3}')," \
	"$(docker compose version 2>/dev/null | head -n 1), docker-compose $(docker-compose version --short)," \
	"podman-compose $(podman-compose version 2>/dev/null | awk '/podman-compose/ {print $NF; exit}'), helm $(helm version --short))"
