#!/usr/bin/env bash
# Builds the Prometheus server from the Go module proxy into the control-plane cache, for tests
# that need a real scraper and PromQL engine. Returns at once when cached. Prints the binary's
# path on stdout (progress goes to stderr). Only the HTTP API is served: without the
# builtinassets tag the web UI is not embedded.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock prometheus

bin="$CP_BIN/prometheus-$PROMETHEUS_VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CP_BIN"
dir="$CACHE_ROOT/$CP_KEY/src/prometheus"
rm -rf "$dir"; mkdir -p "$dir"
# Prometheus's go.mod has no replace or exclude directives, so the builder needs none.
cat >"$dir/go.mod" <<MOD
module local.invalid/prometheusbin

go 1.26.0

tool github.com/prometheus/prometheus/cmd/prometheus

require github.com/prometheus/prometheus $PROMETHEUS_VERSION
MOD
# The module says v0.3XX.Y for release 3.XX.Y; the binary reports the release number.
rel="${PROMETHEUS_VERSION#v0.}"; minor="${rel%%.*}"
rel="$((10#$minor / 100)).$((10#$minor % 100)).${rel#*.}"
start=$(date +%s)
echo "[prometheus] building $PROMETHEUS_VERSION ($rel; several minutes the first time)" >&2
# remove_all_sd drops every service-discovery plugin but file and http (Kubernetes, Consul,
# the clouds' SD...), a third of the packages; the AWS, Azure and Google SDKs stay, for remote
# write's auth. -mod=mod instead of `go mod tidy`: tidy looks at all build tags and would
# download the dropped plugins' modules too.
(cd "$dir" && go build -mod=mod -trimpath -tags remove_all_sd \
  -ldflags "-s -w -X github.com/prometheus/common/version.Version=$rel" \
  -o "$bin.tmp" github.com/prometheus/prometheus/cmd/prometheus >&2)
mv "$bin.tmp" "$bin"
echo "[prometheus] built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
