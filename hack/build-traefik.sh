#!/usr/bin/env bash
# Builds Traefik (a Gateway API implementation) from the Go module proxy into the control-plane
# cache, for the e2e tests that send real traffic through Routes. Returns at once when cached.
# Prints the binary's path on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS

bin="$CP_BIN/traefik-$TRAEFIK_VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CP_BIN"
dir="$CACHE_ROOT/$CP_KEY/src/traefik"
rm -rf "$dir"; mkdir -p "$dir"
# Traefik's own go.mod replaces three modules with forks and excludes one version; a builder
# module must repeat those (a dependency's replace and exclude directives do not apply).
cat >"$dir/go.mod" <<MOD
module local.invalid/traefikbin

go 1.26.0

tool github.com/traefik/traefik/v3/cmd/traefik

require github.com/traefik/traefik/v3 $TRAEFIK_VERSION

replace (
	github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e
	github.com/gorilla/mux => github.com/containous/mux v0.0.0-20250523120546-41b6ec3aed59
	github.com/mailgun/minheap => github.com/containous/minheap v0.0.0-20190809180810-6e71eb837595
)

exclude github.com/tencentcloud/tencentcloud-sdk-go v3.0.83+incompatible
MOD
start=$(date +%s)
echo "[traefik] building $TRAEFIK_VERSION (several minutes the first time)" >&2
(cd "$dir" && go mod tidy >&2 && go build -trimpath \
  -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
  -o "$bin.tmp" github.com/traefik/traefik/v3/cmd/traefik >&2)
mv "$bin.tmp" "$bin"
echo "[traefik] built in $(( $(date +%s) - start ))s" >&2
echo "$bin"
