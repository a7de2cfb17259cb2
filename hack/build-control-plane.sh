#!/usr/bin/env bash
# Builds etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok from
# pinned upstream versions through the Go module proxy, into a cache keyed by version.
# A second run with the same versions finds the binaries and returns at once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"

export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock control-plane

stamp="$CP_BIN/.complete"
if [ -f "$stamp" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "build-control-plane: Go >= 1.26 is required (https://go.dev/dl)" >&2; exit 1; }
mkdir -p "$CP_BIN"
work="$CACHE_ROOT/$CP_KEY/src"
mkdir -p "$work"
start=$(date +%s)
log() { printf '[control-plane %4ss] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# --- Kubernetes: k8s.io/kubernetes as a dependency of a throw-away builder module. Its staging
# modules are required at v0.0.0 and replaced by ./staging paths upstream; a consumer must
# replace each with the matching v0.<minor>.<patch> tag. The list is read from the real go.mod.
if [ ! -x "$CP_BIN/kube-apiserver" ] || [ ! -x "$CP_BIN/kubectl" ]; then
  log "resolving k8s.io/kubernetes $K8S_VERSION"
  kdir="$work/k8s"; rm -rf "$kdir"; mkdir -p "$kdir"
  cat >"$kdir/go.mod" <<MOD
module local.invalid/k8sbins

go 1.26.0

tool (
	k8s.io/kubernetes/cmd/kube-apiserver
	k8s.io/kubernetes/cmd/kube-controller-manager
	k8s.io/kubernetes/cmd/kube-scheduler
	k8s.io/kubernetes/cmd/kubectl
)
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
    log "go mod tidy (downloads ~300 modules)"
    go mod tidy
    minor="${K8S_VERSION#v1.}"; minor="${minor%%.*}"
    ldf="-s -w"; d=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
      ldf+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
      ldf+=" -X $p.gitTreeState=clean -X $p.buildDate=$d"
    done
    log "compiling kube-apiserver, kube-controller-manager, kube-scheduler, kubectl"
    go build -trimpath -ldflags "$ldf" -o "$CP_BIN/" \
      k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
      k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl
  )
fi

# --- etcd: its server module is a main package with replace directives, so it too is built
# as a dependency of a builder module (which ignores the dependency's replaces).
if [ ! -x "$CP_BIN/etcd" ]; then
  log "building etcd $ETCD_VERSION"
  edir="$work/etcd"; rm -rf "$edir"; mkdir -p "$edir"
  cat >"$edir/go.mod" <<MOD
module local.invalid/etcdbin

go 1.26.0

tool go.etcd.io/etcd/server/v3

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
MOD
  (cd "$edir" && go mod tidy && go build -trimpath -ldflags "-s -w" -o "$CP_BIN/etcd" go.etcd.io/etcd/server/v3)
fi

# --- kwok: a plain `go install` works (no replace directives in its go.mod).
if [ ! -x "$CP_BIN/kwok" ]; then
  log "building kwok $KWOK_VERSION"
  GOBIN="$CP_BIN" go install -trimpath -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"
fi

# Stage definitions and Gateway API CRDs come from the module sources, not the network.
(cd "$(mktemp -d)" && go mod download "sigs.k8s.io/kwok@$KWOK_VERSION" "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")

"$CP_BIN/kube-apiserver" --version
"$CP_BIN/etcd" --version | head -1
"$CP_BIN/kwok" --version 2>/dev/null | head -1 || true
touch "$stamp"
log "done"
