#!/usr/bin/env bash
# Builds Helm from the Go module proxy into the control-plane cache, for the chart test
# (`helm template` of deploy/helm/cutover). Returns at once when cached.
# Prints the binary's path on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock helm

bin="$CP_BIN/helm-$HELM_VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CP_BIN"
dir="$CACHE_ROOT/$CP_KEY/src/helm"
rm -rf "$dir"; mkdir -p "$dir"
cat >"$dir/go.mod" <<MOD
module local.invalid/helmbin

go 1.26.0

tool helm.sh/helm/v3/cmd/helm

require helm.sh/helm/v3 $HELM_VERSION
MOD
start=$(date +%s)
echo "[helm] building $HELM_VERSION (a few minutes the first time)" >&2
(cd "$dir" && go mod tidy >&2 && go build -trimpath -ldflags "-s -w" -o "$bin.tmp" helm.sh/helm/v3/cmd/helm >&2)
mv "$bin.tmp" "$bin"
echo "[helm] built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
