#!/usr/bin/env bash
# Builds the tools named, one after another, each into its cache (hack/build-<tool>.sh; a cached
# tool returns at once): the Go servers, and `release`, the previous release's operator:
#   hack/build-tools.sh control-plane node registry helm traefik prometheus release
# `make test` and `make demo` run this as a second job beside the Rust build: on two cores the
# two builds fill each other's idle time (module downloads, links). Whoever needs a tool first
# waits for it (build_lock in versions.sh), so nothing is built twice. This job only speeds
# things up: a tool that fails here is built again, and its error shown, where it is used.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
logs="$here/../target/tool-builds"
mkdir -p "$logs"
for tool in "$@"; do
  start=$SECONDS
  if "$here/build-$tool.sh" >"$logs/$tool.log" 2>&1; then
    echo "[tools] $tool ready ($((SECONDS - start)) s)"
  else
    echo "[tools] $tool did not build here ($((SECONDS - start)) s, target/tool-builds/$tool.log); its user builds it again"
  fi
done
