#!/usr/bin/env bash
# The real node's images, built here without a Docker daemon (examples/node-image.rs tars each
# directory into one OCI layer) and pushed to the node's registry:
#   REGISTRY/cutover/pause:1          the pod sandbox (hack/build-node.sh's pause binary)
#   REGISTRY/cutover/busybox:1.35     Debian's busybox-static with its applets: a shell for hooks
#   REGISTRY/cutover/testapp:v1, :v2  busybox + hack/testapp/serve: answers HTTP with its version
#   hack/node-images.sh REGISTRY NODE_BIN WORKDIR   (REGISTRY: 127.0.0.1:PORT, TLS from .cluster/pki)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
[ $# -eq 3 ] || { echo "usage: $0 REGISTRY NODE_BIN WORKDIR" >&2; exit 2; }
registry=$1 bin=$2 work=$3
rm -rf "$work"
mkdir -p "$work"

# pause: the binary alone.
mkdir -p "$work/pause"
cp "$bin/pause" "$work/pause/pause"

# busybox: the static binary, a link per applet in /bin, and the few files a shell expects.
b="$work/busybox"
mkdir -p "$b/bin" "$b/usr/bin" "$b/etc" "$b/root" "$b/tmp" "$b/dev" "$b/proc" "$b/sys"
chmod 1777 "$b/tmp"
chmod 700 "$b/root"
cp "$(readlink -f "$bin/busybox")" "$b/bin/busybox"
for applet in $("$b/bin/busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$b/bin/$applet"
done
ln -s /bin/env "$b/usr/bin/env"
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$b/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$b/etc/group"

# testapp: one layer over busybox's, /app/serve and /app/version.
for v in v1 v2; do
  a="$work/testapp-$v"
  mkdir -p "$a/app"
  echo "$v" >"$a/app/version"
  cp "$here/testapp/serve" "$a/app/serve"
  chmod 755 "$a/app/serve"
done

# One build of the tool, then a push per image.
cargo build -q --manifest-path "$root/Cargo.toml" --example node-image
tool="$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/examples/node-image"
push() { REGISTRY_CA="$root/.cluster/pki/ca.crt" "$tool" "$@" >/dev/null; }
push "$registry/cutover/pause:1" --layer "$work/pause" --entrypoint /pause
push "$registry/cutover/busybox:1.35" --layer "$b" --cmd /bin/sh
for v in v1 v2; do
  push "$registry/cutover/testapp:$v" --layer "$b" --layer "$work/testapp-$v" --entrypoint /app/serve
done
echo "pushed $registry/cutover/{pause:1,busybox:1.35,testapp:v1,testapp:v2}"
