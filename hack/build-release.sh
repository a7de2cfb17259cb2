#!/usr/bin/env bash
# Builds the operator of a past release for the upgrade test (tests/e2e/upgrade.rs): the commit
# CHANGELOG.md names for VERSION (default: the newest release), taken from this clone's git
# history, built with this checkout's toolchain into target/releases/<version>/ (a second run
# returns at once). Prints the directory holding its `cutover` on stdout, progress on stderr;
# prints nothing, and says why, when that commit is not in the history (a shallow clone).
#   hack/build-release.sh [VERSION]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
. "$here/versions.sh"
build_lock release

changelog="$root/CHANGELOG.md"
version="${1:-$(sed -n 's/^## \([0-9][0-9.]*\) — .*/\1/p' "$changelog" | head -n 1)}"
[ -n "$version" ] || { echo "build-release: CHANGELOG.md names no release" >&2; exit 0; }
commit=$(sed -n "s/^## ${version//./\\.} — [0-9-]* — \([0-9a-f]\{40\}\)\$/\1/p" "$changelog")
[ -n "$commit" ] || { echo "build-release: CHANGELOG.md names no commit for $version" >&2; exit 1; }
out="$root/target/releases/$version"
if [ -x "$out/bin/cutover" ]; then echo "$out/bin"; exit 0; fi
if ! git -C "$root" cat-file -e "$commit^{commit}" 2>/dev/null; then
  echo "build-release: $version's commit $commit is not in this clone (git fetch --unshallow)" >&2
  exit 0
fi
start=$(date +%s)
echo "[release] building $version ($commit)" >&2
rm -rf "$out"; mkdir -p "$out/src" "$out/bin"
git -C "$root" archive "$commit" | tar -x -C "$out/src"
# Its own target directory: sharing ours would put its binaries where the tests expect this
# build's. Dependencies without debug info, as this checkout builds them.
CARGO_TARGET_DIR="$root/target/releases/target" cargo build --locked --bins \
  --manifest-path "$out/src/Cargo.toml" --config 'profile.dev.package."*".debug=false' >&2
cp "$root/target/releases/target/debug/cutover" "$root/target/releases/target/debug/kubectl-dc" "$out/bin/"
echo "[release] built in $(( $(date +%s) - start ))s" >&2
echo "$out/bin"
