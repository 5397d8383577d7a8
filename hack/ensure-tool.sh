#!/usr/bin/env bash
# ensure-tool.sh NAME — print the path of a cached binary built from the Go wrapper module in
# hack/tools/NAME (or hack/NAME when it is a module, like hack/lab), building it first when missing.
#
# The cache key is a hash of the module's go.mod, go.sum and Go sources plus the Go version and
# build flags, so a binary is rebuilt exactly when its pinned versions or sources change, and never
# otherwise. Binaries live outside the repository, in $VMDR_CACHE_DIR (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/vmdr). Concurrent callers serialise on a lock per tool.
set -euo pipefail

name=${1:?usage: ensure-tool.sh NAME}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -f "$root/hack/tools/$name/go.mod" ]]; then
  src="$root/hack/tools/$name"
elif [[ -f "$root/hack/$name/go.mod" ]]; then
  src="$root/hack/$name"
else
  echo "ensure-tool: no Go module for '$name' under hack/tools/ or hack/" >&2
  exit 2
fi

cache=${VMDR_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/vmdr}
mkdir -p "$cache/bin"

ldflags="-s -w"
version_file="$src/VERSION_LDFLAGS"
if [[ -f "$version_file" ]]; then ldflags="$ldflags $(tr '\n' ' ' < "$version_file")"; fi

key=$(
  {
    go env GOVERSION GOOS GOARCH
    echo "$ldflags"
    (cd "$src" && find . -type f ! -name '*_test.go' \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' -o -name '*.vmx' -o -name PACKAGE \) -print0 \
      | LC_ALL=C sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-16
)
out="$cache/bin/$name-$key"

if [[ ! -x "$out" ]]; then
  exec 9>"$cache/bin/.$name.lock"
  flock 9
  if [[ ! -x "$out" ]]; then
    start=$(date +%s)
    echo "ensure-tool: building $name (first build on a machine can take minutes)..." >&2
    pkg=.
    # A wrapper module may name a main package of one of its dependencies to build instead.
    [[ -f "$src/PACKAGE" ]] && pkg=$(tr -d '[:space:]' < "$src/PACKAGE")
    (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg")
    mv "$out.tmp" "$out"
    echo "ensure-tool: built $name in $(( $(date +%s) - start ))s -> $out" >&2
    # Old builds of the same tool are dead weight once the pin moves; but another checkout (a git
    # worktree, a branch) may still use one, so only builds unused for a week go.
    find "$cache/bin" -maxdepth 1 -type f -name "$name-*" ! -name "$(basename "$out")" -mtime +7 -delete
  fi
fi
touch "$out" # in use: keeps it from the cleanup above
echo "$out"
