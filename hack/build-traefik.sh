#!/usr/bin/env bash
# Builds Traefik (a Gateway API implementation) from the Go module proxy into the control-plane
# cache, for the e2e tests that send real traffic through Routes. Returns at once when cached.
# Prints the binary's path on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock traefik

bin="$CP_BIN/traefik-$TRAEFIK_VERSION"
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
mkdir -p "$CP_BIN"
dir="$CACHE_ROOT/$CP_KEY/src/traefik"
rm -rf "$dir"; mkdir -p "$dir"
# Traefik's ACME client (lego) links some 150 DNS-01 providers and their cloud SDKs: over a third
# of the build. The tests and the demo never ask for a certificate, so the builder replaces lego
# with the very same module minus those providers; the one function Traefik calls there, the
# lookup by name, answers that none is built in.
lego_version=$(sed -n 's#^[[:space:]]*github.com/go-acme/lego/v4 \(v[^ ]*\).*#\1#p' \
  "$(cd "$(mktemp -d)" && go mod download -json "github.com/traefik/traefik/v3@$TRAEFIK_VERSION" \
     | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')")
[ -n "$lego_version" ] || { echo "build-traefik: no lego version in traefik's go.mod" >&2; exit 1; }
lego_src=$(cd "$(mktemp -d)" && go mod download -json "github.com/go-acme/lego/v4@$lego_version" \
  | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
cp -r "$lego_src" "$dir/lego" && chmod -R u+w "$dir/lego"
rm -rf "$dir"/lego/providers/dns/*/ "$dir"/lego/providers/dns/*.go
cat >"$dir/lego/providers/dns/providers.go" <<'GO'
// Package dns: this build of lego carries no DNS-01 providers (see hack/build-traefik.sh).
package dns

import (
	"fmt"

	"github.com/go-acme/lego/v4/challenge"
)

// NewDNSChallengeProviderByName refuses every name.
func NewDNSChallengeProviderByName(name string) (challenge.Provider, error) {
	return nil, fmt.Errorf("DNS-01 provider %q is not built into this Traefik", name)
}
GO
# Traefik's own go.mod replaces three modules with forks and excludes one version; a builder
# module must repeat those (a dependency's replace and exclude directives do not apply).
cat >"$dir/go.mod" <<MOD
module local.invalid/traefikbin

go 1.26.0

tool github.com/traefik/traefik/v3/cmd/traefik

require github.com/traefik/traefik/v3 $TRAEFIK_VERSION

replace (
	github.com/go-acme/lego/v4 => ./lego
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
