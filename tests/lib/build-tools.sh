#!/bin/bash
# Build (or fetch) the tools the tests use, cache them by version outside the
# repository, and install them. Run by tests/lib/setup-host.sh; as root.
#   runsc    gVisor's runsc, built from the Go module gvisor.dev/gvisor, for
#            the Docker runtimes runsc-current and runsc-current-netraw:
#            /usr/local/lib/k3s-sandbox/runsc-current
#   helm     helm v3, built from the Go module helm.sh/helm/v3: /usr/local/bin/helm
#   compose  Compose v2, the docker CLI plugin (`docker compose`):
#            /usr/local/lib/docker/cli-plugins/docker-compose
#   actionlint  the GitHub workflow linter the lint suite runs, built from the
#            Go module github.com/rhysd/actionlint: /usr/local/bin/actionlint
#   libmnl   a static libmnl.a (Debian sid's libmnl-dev; bookworm ships only
#            the shared library), so that the tests' build of the init is
#            static like the product: /usr/local/lib/k3s-sandbox/static-libs/
#   arm64-libs  static libmnl.a and libjansson.a with their headers, built by
#            Debian for arm64, for the init's arm64 cross build
#            (tests/lib/build-init-arm64.sh): /usr/local/lib/k3s-sandbox/arm64-libs/
#   kubernetes  kubelet, kube-proxy, kube-apiserver, kube-controller-manager,
#            kube-scheduler and kubectl from the Go module k8s.io/kubernetes
#            at the Kubernetes version of the k3s pin (Dockerfile.worker's
#            K3S_VERSION), for the real-parts tests (tests/fixtures/real-parts):
#            /usr/local/lib/k3s-sandbox/real-parts/
#   containerd  containerd, containerd-shim-runc-v2 and ctr from the Go module
#            github.com/containerd/containerd/v2, the release k3s bundles: same place
#   etcd     the API's datastore, from the Go module go.etcd.io/etcd/server/v3:
#            same place
# Cache: $K3S_SANDBOX_CACHE/tools/<name>-<version>/ (K3S_SANDBOX_CACHE defaults
# to /var/cache/k3s-sandbox); a later run takes the tool from there in
# seconds, with no network. Go's own module and build caches (GOMODCACHE,
# GOCACHE) only make a build faster; empty ones work too.
# Settings: TOOLS (default: every tool above, as known_tools lists them), FORCE=1 (rebuild what is
# cached), GO (the go command; default: go on PATH, else /usr/local/go/bin/go),
# TOOLS_DESTDIR (a directory the install paths are placed under; default
# none). Compose's package comes from the machine's Debian mirror
# (DEBIAN_MIRROR overrides it, tests/lib/debian-mirror.bash).
# Prints each step's duration. Exit status: 0 done, 1 a download, build or
# check failed (the message names the step and its log), 64 bad setting.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
cache=${K3S_SANDBOX_CACHE:-/var/cache/k3s-sandbox}
tools_dir="$cache/tools"
force=${FORCE:-0}
# Every tool this script knows, in the order it builds them: the default of
# TOOLS, and what a TOOLS entry is checked against.
known_tools="runsc helm compose actionlint libmnl arm64-libs kubernetes containerd etcd"
tools=${TOOLS:-$known_tools}
destdir=${TOOLS_DESTDIR:-}

# gVisor: the module's synthetic `go` branch (Go sources only, for the plain
# Go toolchain). This pseudo-version is the go branch's commit 160fafc42237 of
# 2026-09-05: gVisor master of early September 2026, later than
# release-20260817.0 (it has master's changes of 2026-08-21). It is what the
# module proxy resolves @latest to; the proxy refuses a query for the branch
# itself. Why this one: it is current (netstack works on this kernel only in
# runsc from 2024-08 on; cgroup v2, cgroup namespaces and the iptables `mark`
# match came in 2026-07), and although upstream has called runsc builds from
# the go branch unsupported since 2026-07 (runsc now wants sidecar binaries
# next to it), this commit still carries the embedded fallbacks
# (runsc/gvisorbinaries/embed), so the one binary runs containers, with
# netstack under Docker here: tests/images/gvisor-current.bats.
GVISOR_VERSION=v0.0.0-20260905035102-160fafc42237
# helm v3: a release the module proxy serves; its go.mod has no replace or
# exclude directives, so `go install module@version` builds it. v3.21.4:
# v3.22.0, also served, is not cleared for use.
HELM_VERSION=v3.21.4
# actionlint: its go.mod has no replace directives either, so `go install
# module@version` builds it (it asks for Go 1.25).
ACTIONLINT_VERSION=v1.7.12
# Compose v2: Debian trixie's docker-compose package (upstream 2.26.1), not a
# build of github.com/docker/compose/v2. Both work with this machine's dockerd
# 20.10 (v2.40.3 was built and tried: its go.mod has exclude directives, so
# it builds only inside its own module, like runsc here). But the package is
# one 13 MB download, about 15 s with the apt lists, where the build compiles
# some 200 modules, each of which the module proxy must keep serving: 6 CPU
# minutes, 22 minutes on these 2 shared cores. Any Debian revision of 2.26.1
# will do (the mirror may replace -4 with a later one); the one taken is
# recorded in the cache as debian-version.
COMPOSE_VERSION=2.26.1
COMPOSE_SUITE=trixie
# libmnl: only sid carries the static archive (libmnl-dev 1.0.5); it is built
# for glibc and asks nothing of it that bookworm's 2.36 lacks (nm: socket,
# sendto, recvmsg, malloc, __fprintf_chk ...), and 1.0.5 only adds functions
# to the 1.0.4 headers bookworm installs. A static test build takes no time
# loading shared libraries: under gVisor that was 6-8 ms of every start.
LIBMNL_VERSION=1.0.5
LIBMNL_SUITE=sid
# The arm64 cross build links the same libmnl (sid's arm64 build) and
# bookworm's jansson: sid's libjansson.a (2.15) calls __isoc23_strtoll, which
# only glibc 2.38 and later have, and the cross C library
# (libc6-dev-arm64-cross) is bookworm's 2.36.
JANSSON_ARM64_VERSION=2.14
JANSSON_ARM64_SUITE=bookworm
ARM64_LIBS_VERSION=$LIBMNL_VERSION-$JANSSON_ARM64_VERSION
# The parts of a k3s node, for the tests that run real ones. k3s itself is not
# among them: the module proxy answers 403 "This module version is not
# available" for every version of github.com/k3s-io/k3s. k3s embeds kubelet
# and kube-apiserver from Kubernetes at its own version (v1.34.3-k3s3 is
# Kubernetes v1.34.3), so these are built from k8s.io/kubernetes at the pin's
# version; containerd is the release k3s v1.34.3 bundles (2.1.5, as its
# k3s-io fork 2.1.5-k3s1). The datastore is etcd (k3s's embedded one for HA
# servers), at the version k8s.io/kubernetes v1.34.3 requires. Not kine, k3s's
# default: v0.17.5, the one release the proxy serves whose dependencies it
# serves too, loses writes under kube-apiserver 1.34 here (its /readyz stays
# at "autoregister-completion failed: missing APIService").
# shellcheck source=tests/lib/dockerfile-args.bash
. "$here/dockerfile-args.bash"
k3s_pin=$(dockerfile_arg "$here/../../Dockerfile.worker" K3S_VERSION) || exit 1
KUBERNETES_VERSION=${k3s_pin%%-k3s*}
KUBERNETES_COMMANDS=(kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler kubectl)
CONTAINERD_VERSION=v2.1.5
ETCD_VERSION=v3.6.4

say() { echo "build-tools: $*"; }
die() {
	echo "build-tools: $1" >&2
	exit "${2:-1}"
}

case "$force" in 0 | 1) ;; *) die "FORCE must be 0 or 1, not '$force'" 64 ;; esac
[ -n "$tools" ] || die "TOOLS is empty (choose from: $known_tools)" 64
for tool in $tools; do
	case " $known_tools " in
	*" $tool "*) ;;
	*) die "TOOLS: unknown tool '$tool' (${known_tools// /, })" 64 ;;
	esac
done
case "$destdir" in "" | /*) ;; *) die "TOOLS_DESTDIR must be an absolute path, not '$destdir'" 64 ;; esac
[ "$(id -u)" -eq 0 ] || [ -n "$destdir" ] || die "must run as root to install the tools (or set TOOLS_DESTDIR)" 64

mkdir -p "$tools_dir" || die "cannot create the cache $tools_dir"
# One run at a time per cache: concurrent test setups wait for each other.
exec 9>"$tools_dir/.lock"
flock 9

go_cmd() {
	local go=${GO:-}
	if [ -z "$go" ]; then
		go=$(command -v go 2>/dev/null || true)
		[ -n "$go" ] || go=/usr/local/go/bin/go
	fi
	[ -x "$go" ] || die "$1: the go command is needed to build it and was not found (install Go 1.26+ or set GO=/path/to/go)"
	echo "$go"
}

# run_step TOOL STEP LOG COMMAND...: run COMMAND with its output in LOG; on
# failure print LOG's tail and stop, naming the tool and the step.
run_step() {
	local tool=$1 step=$2 log=$3 start=$SECONDS
	shift 3
	if ! "$@" >>"$log" 2>&1; then
		tail -n 30 "$log" >&2
		die "$tool: $step failed after $((SECONDS - start)) s (full log: $log)"
	fi
	say "$tool: $step: $((SECONDS - start)) s"
}

# fresh_work TOOL: a new work directory inside the cache, so that the final
# rename into place stays on one filesystem. A failed earlier attempt's
# directory (kept for its log) goes first.
fresh_work() {
	rm -rf "$tools_dir/.$1".*
	mktemp -d "$tools_dir/.$1.XXXXXX"
}

# finish TOOL VERSION WORK: WORK/out becomes the cached directory; the build
# log is kept beside it.
finish() {
	local tool=$1 version=$2 work=$3 final="$tools_dir/$1-$2"
	rm -rf "$final"
	mv "$work/out" "$final"
	mkdir -p "$tools_dir/logs"
	mv "$work/build.log" "$tools_dir/logs/$tool-$version.log"
	rm -rf "$work"
}

cached() { # tool version file
	[ "$force" = 0 ] && [ -x "$tools_dir/$1-$2/$3" ]
}

# begin_build TOOL VERSION WHAT FILE...: when every FILE of TOOL-VERSION is
# in the cache, say so and leave the caller's work empty; else set the
# caller's go (the go command) and work (a fresh work directory with out/, the
# helpers below use both) and say what is built.
begin_build() {
	local tool=$1 version=$2 what=$3 file all=1
	shift 3
	for file; do
		cached "$tool" "$version" "$file" || all=0
	done
	if [ "$all" = 1 ]; then
		say "$tool $version: cached in $tools_dir/$tool-$version"
		work=
		return 0
	fi
	go=$(go_cmd "$tool")
	work=$(fresh_work "$tool")
	mkdir -p "$work/out"
	say "$tool $version: building $what (log: $work/build.log)"
}

# end_build TOOL VERSION START: the caller's work becomes the cached entry.
end_build() {
	finish "$1" "$2" "$work"
	say "$1 $2: built in $((SECONDS - $3)) s"
}

# Go builds: no toolchain download (GOTOOLCHAIN=local: a too old go fails
# with a message saying which version the module needs), static binaries,
# reproducible paths, and none of the caller's GOFLAGS or workspace.
go_env() {
	env GOTOOLCHAIN=local GOWORK=off CGO_ENABLED=0 GOFLAGS=-buildvcs=false "$@"
}

build_runsc() {
	local version=$GVISOR_VERSION work go start=$SECONDS
	begin_build runsc "$version" "from gvisor.dev/gvisor" runsc
	[ -n "$work" ] || return 0
	module_download runsc "gvisor.dev/gvisor@$version"
	# Built inside the downloaded module, as its main module: its own go.mod
	# and go.sum decide every dependency (it has no replace directives).
	# The label is what `runsc --version` prints and what its sidecar release
	# check compares.
	run_step runsc "go build ./runsc" "$work/build.log" \
		go_env "$go" -C "$module_src" build -trimpath \
		-ldflags "-s -w -X gvisor.dev/gvisor/runsc/version.version=go-${version#v0.0.0-}" \
		-o "$work/out/runsc" ./runsc
	run_step runsc "check: runsc --version" "$work/build.log" "$work/out/runsc" --version
	"$work/out/runsc" --version | grep -qx "runsc version go-${version#v0.0.0-}" ||
		die "runsc: the built runsc reports '$("$work/out/runsc" --version | head -n 1)'"
	end_build runsc "$version" "$start"
}

build_helm() {
	local version=$HELM_VERSION work go gomod minor start=$SECONDS
	begin_build helm "$version" "from helm.sh/helm/v3" helm
	[ -n "$work" ] || return 0
	run_step helm "go mod download helm.sh/helm/v3@$version" "$work/build.log" \
		go_env "$go" mod download -json "helm.sh/helm/v3@$version"
	# helm reports the Kubernetes version it was built against as the
	# default .Capabilities.KubeVersion: its client-go's minor (v0.N -> 1.N).
	gomod=$(go_env "$go" mod download -json "helm.sh/helm/v3@$version" | sed -n 's/^\t"GoMod": "\(.*\)",$/\1/p')
	minor=$(sed -n 's/^\tk8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$gomod")
	[ -n "$minor" ] || die "helm: no k8s.io/client-go version in $gomod"
	run_step helm "go install helm.sh/helm/v3/cmd/helm@$version" "$work/build.log" \
		go_env GOBIN="$work/out" "$go" install -trimpath -ldflags "-s -w \
			-X helm.sh/helm/v3/internal/version.version=$version \
			-X helm.sh/helm/v3/internal/version.gitTreeState=clean \
			-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1 \
			-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=$minor \
			-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1 \
			-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=$minor" \
		"helm.sh/helm/v3/cmd/helm@$version"
	run_step helm "check: helm version" "$work/build.log" "$work/out/helm" version --short
	[ "$("$work/out/helm" version --short)" = "$version" ] ||
		die "helm: the built helm reports '$("$work/out/helm" version --short)', not $version"
	end_build helm "$version" "$start"
}

build_actionlint() {
	local version=$ACTIONLINT_VERSION work go start=$SECONDS
	begin_build actionlint "$version" "from github.com/rhysd/actionlint" actionlint
	[ -n "$work" ] || return 0
	run_step actionlint "go install github.com/rhysd/actionlint/cmd/actionlint@$version" "$work/build.log" \
		go_env GOBIN="$work/out" "$go" install -trimpath -ldflags "-s -w" \
		"github.com/rhysd/actionlint/cmd/actionlint@$version"
	run_step actionlint "check: actionlint -version" "$work/build.log" "$work/out/actionlint" -version
	"$work/out/actionlint" -version | grep -qx "$version" ||
		die "actionlint: the built actionlint reports '$("$work/out/actionlint" -version | head -n 1)', not $version"
	end_build actionlint "$version" "$start"
}

# module_download TOOL MODULE@VERSION: download the module; module_src is
# then its source directory in the module cache (read-only).
module_download() {
	local tool=$1 module=$2
	run_step "$tool" "go mod download $module" "$work/build.log" go_env "$go" mod download -json "$module"
	module_src=$(go_env "$go" mod download -json "$module" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
	[ -d "$module_src" ] || die "$tool: go mod download gave no source directory (log: $work/build.log)"
}

# module_copy TOOL MODULE@VERSION: a writable copy of the module's source in
# WORK/src, for a module that only builds as the main module (replace
# directives, a vendor tree): `go install` refuses such modules.
module_copy() {
	module_download "$1" "$2"
	cp -r "$module_src" "$work/src"
	chmod -R u+w "$work/src"
}

# pin_local_replaces PATH_PREFIX VERSION [UNSERVED_GLOB]: the modules WORK/src's
# go.mod replaces with a path starting PATH_PREFIX, which the module zip leaves
# out, are required at VERSION from the proxy instead; those matching
# UNSERVED_GLOB, which the proxy does not serve, are dropped.
pin_local_replaces() {
	local prefix=$1 version=$2 unserved=${3:-} module
	while read -r module; do
		# shellcheck disable=SC2254 # UNSERVED_GLOB is a pattern
		case "$module" in
		$unserved) go_env "$go" -C "$work/src" mod edit -dropreplace="$module" -droprequire="$module" ;;
		*) go_env "$go" -C "$work/src" mod edit -dropreplace="$module" -require="$module@$version" ;;
		esac
	done < <(awk -v prefix="$prefix" '$2 == "=>" && index($3, prefix) == 1 {print $1}' "$work/src/go.mod")
}

# kubelet, kube-proxy, kube-apiserver and kubectl. Kubernetes' go.mod points its staging modules
# (k8s.io/api, client-go, ...) at ./staging, which the module zip leaves out
# (nested modules): they are required at their published versions instead,
# v0.N.P for v1.N.P, and the sample-* ones, which no command imports and the
# proxy does not serve, are dropped. The version ldflags are what `kubelet
# --version` prints and what the node reports as kubeletVersion.
build_kubernetes() {
	local version=$KUBERNETES_VERSION work go minor start=$SECONDS
	begin_build kubernetes "$version" "kubelet, kube-proxy, the control plane and kubectl from k8s.io/kubernetes" \
		"${KUBERNETES_COMMANDS[@]}"
	[ -n "$work" ] || return 0
	module_copy kubernetes "k8s.io/kubernetes@$version"
	rm -f "$work/src/go.work" "$work/src/go.work.sum"
	pin_local_replaces ./staging/ "v0.${version#v1.}" 'k8s.io/sample-*'
	minor=${version#v1.}
	minor=${minor%%.*}
	local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version \
		-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
		-X k8s.io/component-base/version.gitTreeState=clean"
	for cmd in "${KUBERNETES_COMMANDS[@]}"; do
		run_step kubernetes "go build ./cmd/$cmd" "$work/build.log" \
			go_env GOFLAGS="-buildvcs=false -mod=mod" "$go" -C "$work/src" build -tags providerless -trimpath \
			-ldflags "$ldflags" -o "$work/out/$cmd" "./cmd/$cmd"
	done
	local reported
	for cmd in kubelet kube-proxy kube-apiserver kube-controller-manager kube-scheduler; do
		reported=$("$work/out/$cmd" --version)
		[ "$reported" = "Kubernetes $version" ] ||
			die "kubernetes: the built $cmd reports '$reported', not Kubernetes $version"
	done
	reported=$("$work/out/kubectl" version --client | head -n 1)
	[ "$reported" = "Client Version: $version" ] ||
		die "kubernetes: the built kubectl reports '$reported', not $version"
	end_build kubernetes "$version" "$start"
}

# containerd's module zip carries vendor/modules.txt without the vendored
# sources, so the build resolves modules itself (-mod=mod). No cgo: the btrfs,
# devmapper and zfs snapshotters need C headers and k3s's agent uses
# overlayfs, native or fuse-overlayfs.
build_containerd() {
	local version=$CONTAINERD_VERSION work go start=$SECONDS
	begin_build containerd "$version" "from github.com/containerd/containerd/v2" \
		containerd containerd-shim-runc-v2 ctr
	[ -n "$work" ] || return 0
	module_copy containerd "github.com/containerd/containerd/v2@$version"
	for cmd in containerd containerd-shim-runc-v2 ctr; do
		run_step containerd "go build ./cmd/$cmd" "$work/build.log" \
			go_env GOFLAGS="-buildvcs=false -mod=mod" "$go" -C "$work/src" build \
			-tags "no_btrfs no_devmapper no_zfs" -trimpath \
			-ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$version" \
			-o "$work/out/$cmd" "./cmd/$cmd"
	done
	"$work/out/containerd" --version | grep -q " $version\b" ||
		die "containerd: the built containerd reports '$("$work/out/containerd" --version)', not $version"
	end_build containerd "$version" "$start"
}

# etcd's server module points its sibling modules (api, client, pkg) at ../,
# outside its zip: they are required at the same published version instead.
build_etcd() {
	local version=$ETCD_VERSION work go reported start=$SECONDS
	begin_build etcd "$version" "from go.etcd.io/etcd/server/v3" etcd
	[ -n "$work" ] || return 0
	module_copy etcd "go.etcd.io/etcd/server/v3@$version"
	pin_local_replaces ../ "$version"
	run_step etcd "go build go.etcd.io/etcd/server/v3" "$work/build.log" \
		go_env GOFLAGS="-buildvcs=false -mod=mod" "$go" -C "$work/src" build -trimpath -ldflags "-s -w" \
		-o "$work/out/etcd" .
	reported=$("$work/out/etcd" --version | head -n 1)
	[ "$reported" = "etcd Version: ${version#v}" ] || die "etcd: the built etcd reports '$reported', not $version"
	end_build etcd "$version" "$start"
}

# apt with a private configuration: only the $COMPOSE_SUITE suite of the
# machine's own Debian mirror, lists and caches in WORK, so the host's package
# state stays as it is. The host's apt.conf.d (proxies, keyrings) still apply.
private_apt() { # work command [args...]
	local work=$1 cmd=$2
	shift 2
	"$cmd" -q -o "Dir::Etc::sourcelist=$work/apt/sources.list" -o Dir::Etc::sourceparts=- \
		-o "Dir::State::Lists=$work/apt/lists" -o "Dir::Cache=$work/apt/cache" \
		-o Acquire::Languages=none -o Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false \
		-o Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false "$@"
}

download_deb() ( # work package=version [apt options...]: into WORK/deb
	work=$1 package=$2
	shift 2
	cd "$work/deb" && private_apt "$work" apt-get "$@" download "$package"
)

# fetch_debian_package TOOL WORK SUITE PACKAGE VERSION [ARCH]: the .deb of
# PACKAGE VERSION-* for ARCH (default: this machine's) from Debian SUITE on
# the machine's own mirror, with private apt lists, unpacked into
# WORK/deb/root; the Debian version taken is appended to
# WORK/out/debian-version. Any Debian revision of VERSION will do (the mirror
# may replace one with a later one).
fetch_debian_package() {
	local tool=$1 work=$2 suite=$3 package=$4 version=$5 arch=${6:-} mirror deb_version deb
	command -v apt-get >/dev/null || die "$tool: apt-get not found ($package comes from Debian $suite)"
	# shellcheck source=tests/lib/debian-mirror.bash
	. "$here/debian-mirror.bash"
	mirror=$(debian_mirror) || die "$tool: no package mirror to fetch $package from (see above)" 64
	[ -n "$arch" ] || arch=$(dpkg --print-architecture)
	# apt knows packages of its own architecture only, unless told.
	local arch_opts=(-o "APT::Architecture=$arch" -o "APT::Architectures=$arch")
	mkdir -p "$work/out" "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/deb"
	# apt drops to the _apt user for downloads: let it write there.
	chmod 0755 "$work" "$work/apt" "$work/apt/lists" "$work/apt/cache" "$work/apt/cache/archives"
	if id _apt >/dev/null 2>&1; then
		chown _apt "$work/apt/lists/partial" "$work/apt/cache/archives/partial" "$work/deb"
	fi
	printf 'deb [arch=%s signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n' \
		"$arch" "$mirror" "$suite" >"$work/apt/sources.list"
	say "$tool $version: fetching $package from Debian $suite ($mirror; log: $work/build.log)"
	run_step "$tool" "apt-get update ($suite only, private lists)" "$work/build.log" \
		private_apt "$work" apt-get "${arch_opts[@]}" update --error-on=any
	deb_version=$(private_apt "$work" apt-cache "${arch_opts[@]}" madison "$package" |
		awk -v v="$version" -v s="$suite" '$3 ~ ("^" v "-") && $0 ~ (" " s "/") {print $3; exit}')
	[ -n "$deb_version" ] || die "$tool: Debian $suite at $mirror has no $package $version-* (log: $work/build.log)"
	run_step "$tool" "apt-get download $package=$deb_version" "$work/build.log" \
		download_deb "$work" "$package:$arch=$deb_version" "${arch_opts[@]}"
	deb=$(find "$work/deb" -name "${package}_*_${arch}.deb" | head -n 1)
	[ -n "$deb" ] || die "$tool: apt-get download left no .deb (log: $work/build.log)"
	run_step "$tool" "dpkg-deb -x $(basename "$deb")" "$work/build.log" dpkg-deb -x "$deb" "$work/deb/root"
	echo "$package $deb_version $arch" >>"$work/out/debian-version"
}

build_compose() {
	local version=$COMPOSE_VERSION work plugin start=$SECONDS
	if cached compose "$version" docker-compose; then
		say "compose $version: cached in $tools_dir/compose-$version ($(cat "$tools_dir/compose-$version/debian-version" 2>/dev/null))"
		return 0
	fi
	work=$(fresh_work compose)
	fetch_debian_package compose "$work" "$COMPOSE_SUITE" docker-compose "$version"
	plugin="$work/deb/root/usr/libexec/docker/cli-plugins/docker-compose"
	[ -x "$plugin" ] || die "compose: the docker-compose package holds no usr/libexec/docker/cli-plugins/docker-compose"
	mv "$plugin" "$work/out/docker-compose"
	run_step compose "check: docker-compose version" "$work/build.log" "$work/out/docker-compose" version
	case "$("$work/out/docker-compose" version --short)" in
	"$version" | "$version"-* | v"$version" | v"$version"-*) ;;
	*) die "compose: the plugin reports '$("$work/out/docker-compose" version --short)', not $version" ;;
	esac
	rm -rf "$work/deb" "$work/apt"
	finish compose "$version" "$work"
	say "compose $version: fetched in $((SECONDS - start)) s"
}

build_libmnl() {
	local version=$LIBMNL_VERSION work archive start=$SECONDS
	if [ "$force" = 0 ] && [ -f "$tools_dir/libmnl-$version/libmnl.a" ]; then
		say "libmnl $version: cached in $tools_dir/libmnl-$version ($(cat "$tools_dir/libmnl-$version/debian-version" 2>/dev/null))"
		return 0
	fi
	work=$(fresh_work libmnl)
	fetch_debian_package libmnl "$work" "$LIBMNL_SUITE" libmnl-dev "$version"
	archive=$(find "$work/deb/root" -name libmnl.a | head -n 1)
	[ -n "$archive" ] || die "libmnl: the libmnl-dev package holds no libmnl.a"
	mv "$archive" "$work/out/libmnl.a"
	# It must link with this machine's C library: a program calling it, static.
	printf '#include <libmnl/libmnl.h>\nint main(void) { return mnl_socket_open(0) != 0; }\n' >"$work/probe.c"
	run_step libmnl "check: a static program links with it" "$work/build.log" \
		cc -static -o "$work/probe" "$work/probe.c" -L"$work/out" -lmnl
	rm -rf "$work/deb" "$work/apt" "$work/probe" "$work/probe.c"
	finish libmnl "$version" "$work"
	say "libmnl $version: fetched in $((SECONDS - start)) s"
}

# arm64-libs: the two static archives and their headers, as Debian builds
# them for arm64; a cross compiler links them into the init's arm64 build.
build_arm64_libs() {
	local version=$ARM64_LIBS_VERSION work lib start=$SECONDS
	local dir="$tools_dir/arm64-libs-$version"
	if [ "$force" = 0 ] && [ -f "$dir/lib/libmnl.a" ] && [ -f "$dir/lib/libjansson.a" ]; then
		say "arm64-libs $version: cached in $dir"
		return 0
	fi
	work=$(fresh_work arm64-libs)
	fetch_debian_package arm64-libs "$work" "$LIBMNL_SUITE" libmnl-dev "$LIBMNL_VERSION" arm64
	fetch_debian_package arm64-libs "$work" "$JANSSON_ARM64_SUITE" libjansson-dev "$JANSSON_ARM64_VERSION" arm64
	mkdir -p "$work/out/lib" "$work/out/include"
	for lib in libmnl.a libjansson.a; do
		[ -f "$work/deb/root/usr/lib/aarch64-linux-gnu/$lib" ] ||
			die "arm64-libs: the packages hold no usr/lib/aarch64-linux-gnu/$lib"
		mv "$work/deb/root/usr/lib/aarch64-linux-gnu/$lib" "$work/out/lib/"
	done
	mv "$work/deb/root/usr/include/libmnl" "$work/deb/root/usr/include/jansson.h" \
		"$work/deb/root/usr/include/jansson_config.h" "$work/out/include/" ||
		die "arm64-libs: the packages lack the libmnl or jansson headers"
	rm -rf "$work/deb" "$work/apt"
	finish arm64-libs "$version" "$work"
	say "arm64-libs $version: fetched in $((SECONDS - start)) s"
}

# install_tree SOURCE TARGET: a copy of the directory SOURCE at TARGET when
# they differ, made beside TARGET and renamed into its place.
install_tree() {
	local source=$1 target=$destdir$2
	if [ -d "$target" ] && diff -r "$source" "$target" >/dev/null 2>&1; then
		return 0
	fi
	mkdir -p "$(dirname "$target")"
	rm -rf "$target.new.$$"
	cp -R "$source" "$target.new.$$"
	rm -rf "$target"
	mv "$target.new.$$" "$target"
	say "installed $target"
}

# install_tool SOURCE TARGET: copy (not link: the cache may be on another
# filesystem, or cleared) when it differs; a rename, so that a running copy
# is never overwritten in place.
install_tool() {
	local source=$1 target="$destdir$2"
	if cmp -s "$source" "$target"; then
		return 0
	fi
	mkdir -p "$(dirname "$target")"
	install -m 0755 "$source" "$target.new.$$"
	mv -f "$target.new.$$" "$target"
	say "installed $target"
}

start=$SECONDS
for tool in $tools; do
	case "$tool" in
	runsc)
		build_runsc
		install_tool "$tools_dir/runsc-$GVISOR_VERSION/runsc" /usr/local/lib/k3s-sandbox/runsc-current
		;;
	helm)
		build_helm
		install_tool "$tools_dir/helm-$HELM_VERSION/helm" /usr/local/bin/helm
		;;
	compose)
		build_compose
		install_tool "$tools_dir/compose-$COMPOSE_VERSION/docker-compose" /usr/local/lib/docker/cli-plugins/docker-compose
		;;
	actionlint)
		build_actionlint
		install_tool "$tools_dir/actionlint-$ACTIONLINT_VERSION/actionlint" /usr/local/bin/actionlint
		;;
	libmnl)
		build_libmnl
		install_tool "$tools_dir/libmnl-$LIBMNL_VERSION/libmnl.a" /usr/local/lib/k3s-sandbox/static-libs/libmnl.a
		;;
	arm64-libs)
		build_arm64_libs
		install_tree "$tools_dir/arm64-libs-$ARM64_LIBS_VERSION" /usr/local/lib/k3s-sandbox/arm64-libs
		;;
	kubernetes)
		build_kubernetes
		for cmd in "${KUBERNETES_COMMANDS[@]}"; do
			install_tool "$tools_dir/kubernetes-$KUBERNETES_VERSION/$cmd" "/usr/local/lib/k3s-sandbox/real-parts/$cmd"
		done
		;;
	containerd)
		build_containerd
		for cmd in containerd containerd-shim-runc-v2 ctr; do
			install_tool "$tools_dir/containerd-$CONTAINERD_VERSION/$cmd" "/usr/local/lib/k3s-sandbox/real-parts/$cmd"
		done
		;;
	etcd)
		build_etcd
		install_tool "$tools_dir/etcd-$ETCD_VERSION/etcd" /usr/local/lib/k3s-sandbox/real-parts/etcd
		;;
	esac
done
say "ready ($tools) in $((SECONDS - start)) s"
