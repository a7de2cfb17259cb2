#!/usr/bin/env bash
# Builds what the local cluster's real node runs, into a cache keyed by version ($NODE_BIN, see
# versions.sh), and prints that directory on stdout (progress goes to stderr):
#   kubelet                     k8s.io/kubernetes/cmd/kubelet at K8S_VERSION (the control plane's)
#   containerd, containerd-shim-runc-v2, ctr   github.com/containerd/containerd/v2 at CONTAINERD_VERSION
#   crictl                      sigs.k8s.io/cri-tools at CRI_TOOLS_VERSION: stops and removes the
#                               node's pods at `hack/cluster.sh down` (and helps debugging)
#   pause                       the pod sandbox's process (a few lines of Go, below)
#   runc, cni/                  Debian's runc and containernetworking-plugins (built from their Go
#                               modules where apt-get cannot install them)
#   busybox                     Debian's busybox-static: the base of the node's images
# A second run finds the stamp and returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock node

start=$(date +%s)
log() { printf '[node %4ss] %s\n' "$(( $(date +%s) - start ))" "$*" >&2; }

# --- Debian packages: runc, the CNI plugins, busybox-static, iptables (the pods' path to the API
# server). Installed when missing, even with the build cached (a cache restored onto a fresh
# machine); linked into the bin dir so that one directory holds the whole node.
want=()
command -v runc >/dev/null || [ -x /usr/sbin/runc ] || want+=(runc)
[ -x /usr/lib/cni/bridge ] || want+=(containernetworking-plugins)
[ -x /bin/busybox ] || want+=(busybox-static)
command -v iptables >/dev/null || want+=(iptables)
if [ ${#want[@]} -gt 0 ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "apt-get install ${want[*]}"
  { apt-get install -y -qq --no-install-recommends "${want[@]}" || { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${want[@]}"; }; } >&2 \
    || log "apt-get could not install ${want[*]}; building what is missing"
fi

stamp="$NODE_BIN/.complete"
if [ -f "$stamp" ] && [ -x "$NODE_BIN/runc" ] && [ -x "$NODE_BIN/cni/bridge" ]; then echo "$NODE_BIN"; exit 0; fi
command -v go >/dev/null || { echo "build-node: Go >= 1.26 is required (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$NODE_BIN"
work="$NODE_ROOT/src"
mkdir -p "$work"

runc_path=$(command -v runc || true)
[ -n "$runc_path" ] || { [ -x /usr/sbin/runc ] && runc_path=/usr/sbin/runc; }
if [ -z "$runc_path" ]; then
  # runc needs cgo (its nsenter is C); gcc is on the machine.
  log "building runc from its Go module"
  CGO_ENABLED=1 GOBIN="$NODE_BIN" go install -trimpath github.com/opencontainers/runc@v1.5.3 >&2
  runc_path="$NODE_BIN/runc"
else
  ln -sfn "$runc_path" "$NODE_BIN/runc"
fi
if [ -x /usr/lib/cni/bridge ]; then
  ln -sfn /usr/lib/cni "$NODE_BIN/cni"
elif [ ! -x "$NODE_BIN/cni/bridge" ]; then
  log "building the CNI plugins (bridge, host-local, loopback) from their Go module"
  mkdir -p "$NODE_BIN/cni"
  GOBIN="$NODE_BIN/cni" go install -trimpath github.com/containernetworking/plugins/plugins/main/bridge@v1.10.0 \
    github.com/containernetworking/plugins/plugins/ipam/host-local@v1.10.0 \
    github.com/containernetworking/plugins/plugins/main/loopback@v1.10.0 >&2
fi
[ -x /bin/busybox ] || { echo "build-node: no /bin/busybox (Debian's busybox-static)" >&2; exit 1; }
ln -sfn /bin/busybox "$NODE_BIN/busybox"

# --- containerd: no replace directives in its go.mod, so `go install` works; btrfs (cgo) is left
# out by CGO_ENABLED=0, which is what this node uses (overlayfs).
if [ ! -x "$NODE_BIN/containerd" ] || [ ! -x "$NODE_BIN/containerd-shim-runc-v2" ] || [ ! -x "$NODE_BIN/ctr" ]; then
  log "building containerd $CONTAINERD_VERSION (containerd, containerd-shim-runc-v2, ctr)"
  GOBIN="$NODE_BIN" go install -trimpath -tags no_btrfs,no_devmapper,no_zfs \
    -ldflags "-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD_VERSION" \
    "github.com/containerd/containerd/v2/cmd/ctr@$CONTAINERD_VERSION" >&2
fi

# --- crictl: the CRI's own client; no replace directives either.
if [ ! -x "$NODE_BIN/crictl" ]; then
  log "building crictl $CRI_TOOLS_VERSION"
  GOBIN="$NODE_BIN" go install -trimpath -ldflags "-s -w -X sigs.k8s.io/cri-tools/pkg/version.Version=$CRI_TOOLS_VERSION" \
    "sigs.k8s.io/cri-tools/cmd/crictl@$CRI_TOOLS_VERSION" >&2
fi

# --- pause: holds a pod's namespaces; as PID 1 of the pod it reaps orphans, and it exits on
# SIGINT or SIGTERM. Static, so the image needs nothing else.
if [ ! -x "$NODE_BIN/pause" ]; then
  log "building pause"
  pdir="$work/pause"; rm -rf "$pdir"; mkdir -p "$pdir"
  cat >"$pdir/go.mod" <<'MOD'
module local.invalid/pause

go 1.26.0
MOD
  cat >"$pdir/main.go" <<'GO'
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	for s := range sig {
		if s != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			var status syscall.WaitStatus
			if pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil); pid <= 0 || err != nil {
				break
			}
		}
	}
}
GO
  (cd "$pdir" && go build -trimpath -ldflags "-s -w" -o "$NODE_BIN/pause" .) >&2
fi

# --- kubelet: k8s.io/kubernetes as a dependency of a throw-away builder module, exactly as
# build-control-plane.sh builds the control plane (the staging modules replaced by their tags).
if [ ! -x "$NODE_BIN/kubelet" ]; then
  log "resolving k8s.io/kubernetes $K8S_VERSION for the kubelet"
  kdir="$work/kubelet"; rm -rf "$kdir"; mkdir -p "$kdir"
  cat >"$kdir/go.mod" <<MOD
module local.invalid/kubeletbin

go 1.26.0

tool k8s.io/kubernetes/cmd/kubelet
MOD
  staging="v0.${K8S_VERSION#v1.}"
  gomod=$(cd "$(mktemp -d)" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" \
          | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "could not download k8s.io/kubernetes@$K8S_VERSION" >&2; exit 1; }
  (
    cd "$kdir"
    for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[^ ]*\) => ./staging/.*#\1#p' "$gomod"); do
      go mod edit -replace="$m=$m@$staging"
    done
    go mod edit -require="k8s.io/kubernetes@$K8S_VERSION"
    go mod tidy
    minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    ldf="-s -w"; d=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      ldf+=" -X $p.gitTreeState=clean -X $p.buildDate=$d"
    done
    log "compiling kubelet"
    go build -trimpath -ldflags "$ldf" -o "$NODE_BIN/kubelet" k8s.io/kubernetes/cmd/kubelet
  ) >&2
fi

"$NODE_BIN/kubelet" --version >&2
"$NODE_BIN/containerd" --version >&2
"$NODE_BIN/runc" --version 2>&1 | head -1 >&2
touch "$stamp"
log "done"
echo "$NODE_BIN"
