#!/usr/bin/env bash
# The operator's image, built from this checkout's binaries without a Docker daemon and pushed to
# the real node's registry; deploy/Dockerfile's layout: busybox (a shell for deployer scripts),
# /usr/local/bin/{cutover,kubectl-dc}, openshift-deploy -> cutover, the CA bundle, user 65532,
# `cutover run`.
# The binaries are the glibc ones cargo built here, so the glibc they load goes in beside them
# (the Dockerfile links statically against musl instead; the behaviour is the same program's).
# Writes the pushed image's digest reference to .cluster/operator-image and prints it.
#   hack/operator-image.sh [BIN_DIR]   (default: target/debug; a cluster without a real node: skipped)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
state="$root/.cluster"
bin="${1:-$root/target/debug}"
if [ ! -f "$state/real-node" ]; then
  echo "operator-image: no real node in the local cluster; skipped" >&2
  exit 0
fi
registry=$(sed -n 's/^registry=//p' "$state/real-node")
busybox="$state/node/images/busybox"
[ -d "$busybox" ] || { echo "operator-image: $busybox missing (hack/node-images.sh makes it)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
layer="$work/operator"
mkdir -p "$layer/usr/local/bin"
# Without their debug info: 57 MB instead of 470 MB.
for b in cutover kubectl-dc; do strip -o "$layer/usr/local/bin/$b" "$bin/$b"; done
ln -s cutover "$layer/usr/local/bin/openshift-deploy"
# The CA bundle registries are verified with (image imports from public registries).
if [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  mkdir -p "$layer/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$layer/etc/ssl/certs/"
fi
# The shared libraries the binaries load, at the paths their loader looks for them.
for lib in $(ldd "$bin/cutover" "$bin/kubectl-dc" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' | sort -u); do
  mkdir -p "$layer$(dirname "$lib")"
  cp -L "$lib" "$layer$lib"
done

cargo build -q --manifest-path "$root/Cargo.toml" --example node-image
tool="$(cargo metadata -q --format-version 1 --no-deps --manifest-path "$root/Cargo.toml" |
  sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/debug/examples/node-image"
digest=$(REGISTRY_CA="$state/pki/ca.crt" "$tool" "$registry/cutover/cutover:dev" \
  --layer "$busybox" --layer "$layer" --user 65532:65532 \
  --entrypoint /usr/local/bin/cutover --cmd run)
echo "$registry/cutover/cutover@$digest" | tee "$state/operator-image"
