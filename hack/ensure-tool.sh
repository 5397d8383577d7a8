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

# How long a first build takes on 2 cores with an empty Go cache (measured; later builds of other
# tools reuse the modules and packages they share), so a first run says what it is waiting for.
expected() {
  case "$1" in
    kube-apiserver) echo "about 4-5 min" ;;
    promtool) echo "about 3-4 min" ;;
    etcd) echo "about 1 min" ;;
    kubectl) echo "about 1 min after kube-apiserver, 3 min alone" ;;
    lab) echo "under 1 min" ;;
    *) echo "a few minutes at most" ;;
  esac
}

if [[ ! -x "$out" ]]; then
  exec 9>"$cache/bin/.$name.lock"
  if ! flock -n 9; then
    echo "ensure-tool: waiting for another build of $name to finish..." >&2
    flock 9
  fi
  if [[ ! -x "$out" ]]; then
    start=$(date +%s)
    # One line per tool: what is built and how long it should take, then how long it took. The Go
    # toolchain's module downloads and compiler output go to a log, shown only if the build fails.
    printf 'ensure-tool: building %s from Go modules, first use only (%s)... ' "$name" "$(expected "$name")" >&2
    log="$cache/bin/.$name.build.log"
    pkg=.
    # A wrapper module may name a main package of one of its dependencies to build instead.
    [[ -f "$src/PACKAGE" ]] && pkg=$(tr -d '[:space:]' < "$src/PACKAGE")
    if ! (cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$out.tmp" "$pkg") >"$log" 2>&1; then
      echo "failed. The last lines of $log:" >&2
      tail -n 40 "$log" >&2
      exit 1
    fi
    mv "$out.tmp" "$out"
    echo "done in $(( $(date +%s) - start ))s" >&2
    # Old builds of the same tool are dead weight once the pin moves, but the cache is shared: other
    # checkouts (branches, worktrees) may be running tests with theirs right now. Keep the three
    # newest builds of each tool; delete the rest.
    ls -1t "$cache/bin/$name"-* 2>/dev/null | grep -v '\.tmp$' | tail -n +4 | xargs -r rm -f || true
  fi
fi
touch "$out" # in use: keeps it from the cleanup above
echo "$out"
