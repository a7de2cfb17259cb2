#!/usr/bin/env bash
# Builds the CNCF distribution registry from the Go module proxy into the control-plane cache,
# with a small bcrypt htpasswd writer from the same module graph (the registry's htpasswd auth
# reads bcrypt only; neither openssl nor a stock Debian has a bcrypt writer). For the image
# e2e tests and the image demo. Returns at once when cached; prints the directory holding
# `registry` and `htpasswd` on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/versions.sh"
export GOTOOLCHAIN=local CGO_ENABLED=0
unset GOFLAGS
build_lock registry

out="$CP_BIN/registry-$REGISTRY_VERSION"
if [ -x "$out/registry" ] && [ -x "$out/htpasswd" ]; then echo "$out"; exit 0; fi
dir="$CACHE_ROOT/$CP_KEY/src/registry"
rm -rf "$dir"; mkdir -p "$dir/htpasswd" "$out"
cat >"$dir/go.mod" <<MOD
module local.invalid/registrybin

go 1.26.0

require github.com/distribution/distribution/v3 $REGISTRY_VERSION
MOD
cat >"$dir/htpasswd/main.go" <<'GO'
// htpasswd USER: reads a password on stdin, prints "USER:<bcrypt hash>".
package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: htpasswd USER < password")
		os.Exit(2)
	}
	password, err := bufio.NewReader(os.Stdin).ReadString('\n')
	if err != nil && password == "" {
		fmt.Fprintln(os.Stderr, "htpasswd: no password on stdin")
		os.Exit(1)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(strings.TrimRight(password, "\r\n")), bcrypt.DefaultCost)
	if err != nil {
		fmt.Fprintln(os.Stderr, "htpasswd:", err)
		os.Exit(1)
	}
	fmt.Printf("%s:%s\n", os.Args[1], hash)
}
GO
cat >"$dir/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/distribution/distribution/v3/cmd/registry"
GO
start=$(date +%s)
echo "[registry] building distribution $REGISTRY_VERSION (a few minutes the first time)" >&2
(cd "$dir" && go get "github.com/distribution/distribution/v3/cmd/registry@$REGISTRY_VERSION" golang.org/x/crypto/bcrypt >&2 \
  && go mod tidy >&2 \
  && go build -trimpath -ldflags "-s -w" -o "$out/registry.tmp" github.com/distribution/distribution/v3/cmd/registry >&2 \
  && go build -trimpath -ldflags "-s -w" -o "$out/htpasswd.tmp" ./htpasswd >&2)
mv "$out/registry.tmp" "$out/registry"
mv "$out/htpasswd.tmp" "$out/htpasswd"
echo "[registry] built in $(( $(date +%s) - start ))s" >&2
echo "$out"
